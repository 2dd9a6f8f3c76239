//! The SQL of OAuth apps, for both backends (see [`crate::sql_store`]).

macro_rules! impl_oauth_apps {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::OAuthAppStore for $store {
            async fn insert_oauth_app(
                &self,
                app: &$crate::NewOAuthApp,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::OAuthApp, $crate::StoreError> {
                let now = $crate::now();
                let sealed = $crate::SealedAppColumns::from(app.secrets.as_ref());
                let mut tx = self.pool.begin().await?;
                let name_key = Self::claim_name(
                    &mut tx,
                    $crate::names::NameScope::OAUTH_APPS,
                    app.org_id,
                    None,
                    &app.name,
                )
                .await?;
                let row = sqlx::query_as(
                    "INSERT INTO oauth_apps \
                     (id, org_id, connector, name, description, config, shared_redirect, \
                      version, created_at, updated_at, name_key, kek_id, wrapped_dek, \
                      secret_nonce, secret_ct) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, $9, $10, $11, $12, $13) \
                     RETURNING *",
                )
                .bind(app.id)
                .bind(app.org_id)
                .bind(&app.connector)
                .bind(&app.name)
                .bind(&app.description)
                .bind(sqlx::types::Json(&app.config))
                .bind(false)
                .bind(now)
                .bind(name_key)
                .bind(sealed.kek_id)
                .bind(sealed.wrapped_dek)
                .bind(sealed.secret_nonce)
                .bind(sealed.secret_ct)
                .fetch_one(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn get_oauth_app(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::OAuthApp>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM oauth_apps WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }
            /// For the callback, which knows the app only by the id in its path.
            async fn oauth_app_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::OAuthApp>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM oauth_apps WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }
            async fn list_oauth_apps(
                &self,
                org_id: uuid::Uuid,
                connector: Option<&str>,
                page: $crate::Page,
            ) -> Result<Vec<$crate::OAuthApp>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM oauth_apps WHERE org_id = $1 \
                     AND ($2 IS NULL OR connector = $2) AND ($3 IS NULL OR id > $3) \
                     ORDER BY id LIMIT $4",
                )
                .bind(org_id)
                .bind(connector)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
            /// The apps of every organization with `connector`; the use cases compare their
            /// settings.
            async fn oauth_apps_of_connector(
                &self,
                connector: &str,
            ) -> Result<Vec<$crate::OAuthApp>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM oauth_apps WHERE connector = $1 ORDER BY id")
                        .bind(connector)
                        .fetch_all(&self.pool)
                        .await?,
                )
            }
            async fn credentials_using_oauth_app(
                &self,
                org_id: uuid::Uuid,
                app_id: uuid::Uuid,
            ) -> Result<Vec<(uuid::Uuid, String)>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, name FROM credentials WHERE org_id = $1 AND oauth_app_id = $2 \
                     ORDER BY id",
                )
                .bind(org_id)
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn update_oauth_app(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: i64,
                changes: &$crate::OAuthAppChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::OAuthApp, $crate::StoreError> {
                let sealed = $crate::SealedAppColumns::from(changes.secrets.as_ref());
                let mut tx = self.pool.begin().await?;
                let name_key = Self::claim_name(
                    &mut tx,
                    $crate::names::NameScope::OAUTH_APPS,
                    org_id,
                    Some(id),
                    &changes.name,
                )
                .await?;
                let updated: Option<$crate::OAuthApp> = sqlx::query_as(
                    "UPDATE oauth_apps SET name = $4, description = $5, config = $6, \
                     shared_redirect = $7, updated_at = $8, name_key = $9, \
                     kek_id = CASE WHEN $10 THEN $11 ELSE kek_id END, \
                     wrapped_dek = CASE WHEN $10 THEN $12 ELSE wrapped_dek END, \
                     secret_nonce = CASE WHEN $10 THEN $13 ELSE secret_nonce END, \
                     secret_ct = CASE WHEN $10 THEN $14 ELSE secret_ct END, \
                     version = version + 1 \
                     WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .bind(&changes.name)
                .bind(&changes.description)
                .bind(sqlx::types::Json(&changes.config))
                .bind(changes.shared_redirect)
                .bind($crate::now())
                .bind(name_key)
                .bind(changes.secrets.is_some())
                .bind(sealed.kek_id)
                .bind(sealed.wrapped_dek)
                .bind(sealed.secret_nonce)
                .bind(sealed.secret_ct)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(updated) = updated else {
                    drop(tx);
                    return Err(self
                        .missing_or_moved_on("oauth_apps", org_id, id, None)
                        .await);
                };
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }
            /// `InUse` while a credential names the app.
            async fn delete_oauth_app(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(
                    "DELETE FROM oauth_apps \
                     WHERE org_id = $1 AND id = $2 AND ($3 IS NULL OR version = $3)",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    drop(tx);
                    return Err(self
                        .missing_or_moved_on("oauth_apps", org_id, id, None)
                        .await);
                }
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_oauth_apps;
