//! The queries, written once for both backends.
//!
//! SQLite and PostgreSQL accept the same SQL for everything Latch does (`$N` placeholders,
//! `RETURNING`, `ON CONFLICT`), and sqlx maps the same Rust types on both. What differs is
//! the pool type, so the implementation is one macro body instantiated per backend rather
//! than two copies that could drift apart. Connection set-up stays in each backend's module.

macro_rules! impl_store {
    ($store:ident, $db:ty) => {
        $crate::sql::organizations::impl_organizations!($store, $db);
        $crate::sql::api_keys::impl_api_keys!($store, $db);
        $crate::sql::credentials::impl_credentials!($store, $db);
        $crate::sql::health::impl_health!($store, $db);
        $crate::sql::health::impl_worker!($store, $db);
        $crate::sql::data_sources::impl_data_sources!($store, $db);
        $crate::sql::tokens::impl_tokens!($store, $db);
        $crate::sql::audit::impl_audit!($store, $db);
        $crate::sql::changes::impl_changes!($store, $db);
        $crate::sql::connect_sessions::impl_connect_sessions!($store, $db);
        $crate::sql::oauth_apps::impl_oauth_apps!($store, $db);
        $crate::sql::names::impl_names!($store, $db);
        $crate::sql::webhooks::impl_webhooks!($store, $db);

        impl $store {
            async fn insert_keyring(
                tx: &mut sqlx::Transaction<'_, $db>,
                entry: &$crate::KeyringEntry,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO keyring \
                     (kek_id, created_at, state, check_value, kdf_salt, kdf_params) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&entry.kek_id)
                .bind(entry.created_at)
                .bind(&entry.state)
                .bind(&entry.check_value)
                .bind(&entry.kdf_salt)
                .bind(&entry.kdf_params)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn insert_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                event: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO audit_events \
                     (id, org_id, at, actor_key_id, action, target_type, target_id, outcome, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(event.org_id)
                .bind($crate::now())
                .bind(event.actor_key_id)
                .bind(&event.action)
                .bind(&event.target_type)
                .bind(&event.target_id)
                .bind(&event.outcome)
                .bind(sqlx::types::Json(&event.detail))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        // Each table group's trait is implemented by its module in `crate::sql`; the store as
        // a whole adds the database itself.
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                Self::backend(self)
            }

            async fn ping(&self) -> Result<(), $crate::StoreError> {
                Self::ping(self).await
            }
        }

        impl $store {
            /// Why a conditional write touched no row: the row is gone, or at another version.
            async fn missing_or_moved_on(
                &self,
                table: &'static str,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                kind: Option<$crate::DataSourceKind>,
            ) -> $crate::StoreError {
                // A data source's id on the destinations' routes (or the reverse) names
                // nothing there: 404, never the other kind's version.
                let kind_clause = if kind.is_some() { " AND kind = $3" } else { "" };
                let sql = format!(
                    "SELECT version FROM {table} WHERE org_id = $1 AND id = $2{kind_clause}"
                );
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org_id).bind(id);
                if let Some(kind) = kind {
                    query = query.bind(kind.as_str());
                }
                let current: Result<Option<(i64,)>, sqlx::Error> =
                    query.fetch_optional(&self.pool).await;
                match current {
                    Ok(Some((current,))) => $crate::StoreError::VersionMismatch { current },
                    Ok(None) => $crate::StoreError::NotFound,
                    Err(error) => error.into(),
                }
            }
        }
    };
}

pub(crate) use impl_store;
