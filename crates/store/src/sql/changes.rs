//! The SQL of the change sequence, for both backends (see [`crate::sql_store`]).

macro_rules! impl_changes {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::ChangeStore for $store {
            async fn latest_change(&self) -> Result<i64, $crate::StoreError> {
                let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM change_sequence WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(seq)
            }
            async fn changes_after(
                &self,
                seq: i64,
                limit: i64,
            ) -> Result<Vec<$crate::Change>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT seq, subject, key FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn prune_changes(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                Ok(sqlx::query("DELETE FROM changes WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }

        impl $store {
            /// Records that a cached record changed, inside the changing transaction: the
            /// counter's row lock orders changes by commit.
            pub(crate) async fn record_change(
                tx: &mut sqlx::Transaction<'_, $db>,
                subject: $crate::ChangeSubject,
                key: &str,
            ) -> Result<(), $crate::StoreError> {
                let (seq,): (i64,) = sqlx::query_as(
                    "UPDATE change_sequence SET seq = seq + 1 WHERE id = 1 RETURNING seq",
                )
                .fetch_one(&mut **tx)
                .await?;
                sqlx::query("INSERT INTO changes (seq, at, subject, key) VALUES ($1, $2, $3, $4)")
                    .bind(seq)
                    .bind($crate::now())
                    .bind(subject.as_str())
                    .bind(key)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_changes;
