//! The SQL of api keys, for both backends (see [`crate::sql_store`]).

macro_rules! impl_api_keys {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::ApiKeyStore for $store {
            async fn insert_api_key(
                &self,
                key: &$crate::NewApiKey,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query_as(
                    "INSERT INTO api_keys \
                     (id, org_id, name, prefix, hash, scopes, data_source_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
                )
                .bind(key.id)
                .bind(key.org_id)
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(&key.hash)
                .bind(&key.scopes)
                .bind(key.data_source_id)
                .bind($crate::now())
                .fetch_one(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn api_keys_by_prefix(
                &self,
                prefix: &str,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM api_keys WHERE prefix = $1")
                    .bind(prefix)
                    .fetch_all(&self.pool)
                    .await?)
            }
            async fn list_api_keys(
                &self,
                org_id: uuid::Uuid,
                page: $crate::Page,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM api_keys WHERE org_id = $1 AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(org_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn count_api_keys(&self, org_id: uuid::Uuid) -> Result<i64, $crate::StoreError> {
                let (count,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE org_id = $1")
                        .bind(org_id)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(count)
            }
            async fn list_job_keys(
                &self,
                org_id: uuid::Uuid,
                data_source_id: uuid::Uuid,
                page: $crate::Page,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM api_keys WHERE org_id = $1 AND data_source_id = $2 \
                     AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
                )
                .bind(org_id)
                .bind(data_source_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn revoke_api_key(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                bound_to: Option<uuid::Uuid>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query_as(
                    "UPDATE api_keys SET revoked_at = $3 \
                     WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL \
                     AND ($4 IS NULL OR data_source_id = $4) RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind($crate::now())
                .bind(bound_to)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                let revoked: &$crate::ApiKey = &row;
                Self::record_change(&mut tx, $crate::ChangeSubject::ApiKey, &revoked.prefix)
                    .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
        }
    };
}

pub(crate) use impl_api_keys;
