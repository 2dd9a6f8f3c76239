//! The SQL of tokens, for both backends (see [`crate::sql_store`]).

/// Binds a [`crate::NewToken`]'s columns as `$3` to `$11`, in the order both token writes
/// name them.
macro_rules! bind_new_token {
    ($query:expr, $token:expr) => {
        $query
            .bind(&$token.token_ct)
            .bind(&$token.nonce)
            .bind(&$token.token_type)
            .bind($token.expires_at)
            .bind($token.obtained_at)
            .bind($token.credential_version)
            .bind(&$token.refresh_ct)
            .bind(&$token.refresh_nonce)
            .bind(sqlx::types::Json(&$token.metadata))
    };
}
pub(crate) use bind_new_token;

macro_rules! impl_tokens {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::TokenStore for $store {
            async fn credential_token(
                &self,
                credential_id: uuid::Uuid,
            ) -> Result<Option<$crate::StoredToken>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM credential_tokens WHERE credential_id = $1")
                        .bind(credential_id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }
            async fn acquire_token_lease(
                &self,
                credential_id: uuid::Uuid,
                credential_version: i64,
                owner: &str,
                until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO credential_tokens (credential_id, credential_version) \
                     VALUES ($1, $2) ON CONFLICT (credential_id) DO NOTHING",
                )
                .bind(credential_id)
                .bind(credential_version)
                .execute(&self.pool)
                .await
                .map_err(|error| match &error {
                    // The credential is gone.
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        $crate::StoreError::NotFound
                    }
                    _ => error.into(),
                })?;
                let taken = sqlx::query(
                    "UPDATE credential_tokens SET lease_owner = $2, lease_until = $3 \
                     WHERE credential_id = $1 AND (lease_owner IS NULL OR lease_until < $4)",
                )
                .bind(credential_id)
                .bind(owner)
                .bind(until)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(taken == 1)
            }
            async fn store_token(
                &self,
                credential_id: uuid::Uuid,
                owner: &str,
                token: &$crate::NewToken,
            ) -> Result<bool, $crate::StoreError> {
                let query = sqlx::query(
                    "UPDATE credential_tokens SET token_ct = $3, nonce = $4, token_type = $5, \
                     expires_at = $6, obtained_at = $7, credential_version = $8, \
                     refresh_ct = COALESCE($9, refresh_ct), \
                     refresh_nonce = COALESCE($10, refresh_nonce), metadata = $11, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE credential_id = $1 AND lease_owner = $2",
                )
                .bind(credential_id)
                .bind(owner);
                let written = $crate::sql::tokens::bind_new_token!(query, token)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(written == 1)
            }
            async fn store_rotated_token(
                &self,
                credential_id: uuid::Uuid,
                spent_refresh_ct: &[u8],
                token: &$crate::NewToken,
            ) -> Result<bool, $crate::StoreError> {
                let query = sqlx::query(
                    "UPDATE credential_tokens SET token_ct = $3, nonce = $4, token_type = $5, \
                     expires_at = $6, obtained_at = $7, credential_version = $8, \
                     refresh_ct = $9, refresh_nonce = $10, metadata = $11 \
                     WHERE credential_id = $1 AND refresh_ct = $2",
                )
                .bind(credential_id)
                .bind(spent_refresh_ct);
                let written = $crate::sql::tokens::bind_new_token!(query, token)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(written == 1)
            }
            async fn renew_token_lease(
                &self,
                credential_id: uuid::Uuid,
                owner: &str,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let renewed = sqlx::query(
                    "UPDATE credential_tokens SET lease_until = $3 \
                     WHERE credential_id = $1 AND lease_owner = $2",
                )
                .bind(credential_id)
                .bind(owner)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(renewed.rows_affected() == 1)
            }
            async fn release_token_lease(
                &self,
                credential_id: uuid::Uuid,
                owner: &str,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "UPDATE credential_tokens SET lease_owner = NULL, lease_until = NULL \
                     WHERE credential_id = $1 AND lease_owner = $2",
                )
                .bind(credential_id)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn delete_credential_token(
                &self,
                credential_id: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM credential_tokens WHERE credential_id = $1")
                    .bind(credential_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_tokens;
