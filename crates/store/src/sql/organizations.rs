//! The SQL of organizations, for both backends (see [`crate::sql_store`]).

macro_rules! impl_organizations {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::OrganizationStore for $store {
            async fn ensure_organization(
                &self,
                name: &str,
            ) -> Result<$crate::Organization, $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(name)
                .bind($crate::now())
                .execute(&self.pool)
                .await?;
                <Self as $crate::OrganizationStore>::find_organization(self, name)
                    .await?
                    .ok_or($crate::StoreError::NotFound)
            }
            async fn find_organization(
                &self,
                name: &str,
            ) -> Result<Option<$crate::Organization>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM organizations WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }
            async fn organization(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Organization>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM organizations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::KeyringStore for $store {
            async fn keyring_entries(
                &self,
            ) -> Result<Vec<$crate::KeyringEntry>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM keyring ORDER BY created_at, kek_id")
                        .fetch_all(&self.pool)
                        .await?,
                )
            }
            async fn insert_keyring_entry(
                &self,
                entry: &$crate::KeyringEntry,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                Self::insert_keyring(&mut tx, entry).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn rotate_keyring(
                &self,
                retire: &str,
                new: &$crate::KeyringEntry,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let retired = sqlx::query(
                    "UPDATE keyring SET state = 'retired' WHERE kek_id = $1 AND state = 'active'",
                )
                .bind(retire)
                .execute(&mut *tx)
                .await?;
                if retired.rows_affected() != 1 {
                    return Ok(false);
                }
                match Self::insert_keyring(&mut tx, new).await {
                    Ok(()) => {}
                    Err($crate::StoreError::Conflict) => return Ok(false),
                    Err(error) => return Err(error),
                }
                tx.commit().await?;
                Ok(true)
            }
            async fn kek_usage(&self) -> Result<Vec<(String, i64)>, $crate::StoreError> {
                let every_key = $crate::SealedTable::ALL
                    .map(|table| {
                        format!("SELECT kek_id FROM {} WHERE kek_id IS NOT NULL", table.name())
                    })
                    .join(" UNION ALL ");
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT kek_id, COUNT(*) FROM ({every_key}) AS sealed \
                     GROUP BY kek_id ORDER BY kek_id"
                )))
                .fetch_all(&self.pool)
                .await?)
            }
            async fn wrapped_keys_not_under(
                &self,
                table: $crate::SealedTable,
                kek_id: &str,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<$crate::WrappedKeyRow>, $crate::StoreError> {
                let mut rows: Vec<$crate::WrappedKeyRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT id, org_id, kek_id, wrapped_dek FROM {} \
                         WHERE kek_id <> $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                        table.name()
                    )))
                    .bind(kek_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                for row in &mut rows {
                    row.table = table;
                }
                Ok(rows)
            }
            async fn rewrap_keys(
                &self,
                rewrapped: &[$crate::Rewrapped],
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut written = 0;
                for row in rewrapped {
                    // No version bump: nothing a client sees changes, and cached tokens stay.
                    written += sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {} SET kek_id = $1, wrapped_dek = $2 \
                         WHERE id = $3 AND kek_id = $4 AND wrapped_dek = $5",
                        row.old.table.name()
                    )))
                    .bind(&row.kek_id)
                    .bind(&row.wrapped_dek)
                    .bind(row.old.id)
                    .bind(&row.old.kek_id)
                    .bind(&row.old.wrapped_dek)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(written)
            }
        }

        impl $store {
            pub(crate) fn backend(&self) -> $crate::Backend {
                Self::BACKEND
            }
            pub(crate) async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_organizations;
