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
        $crate::sql::data_sources::impl_data_sources!($store, $db);
        $crate::sql::tokens::impl_tokens!($store, $db);
        $crate::sql::audit::impl_audit!($store, $db);
        $crate::sql::changes::impl_changes!($store, $db);
        $crate::sql::connect_sessions::impl_connect_sessions!($store, $db);
        $crate::sql::oauth_apps::impl_oauth_apps!($store, $db);
        $crate::sql::names::impl_names!($store, $db);

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

        // The trait only delegates: each query lives with its table group in `crate::sql`,
        // as an inherent method of the same name (which `Self::name` finds first).
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                Self::backend(self)
            }

            async fn ping(&self) -> Result<(), $crate::StoreError> {
                Self::ping(self).await
            }

            async fn ensure_organization(
                &self,
                name: &str,
            ) -> Result<$crate::Organization, $crate::StoreError> {
                Self::ensure_organization(self, name).await
            }

            async fn organization(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Organization>, $crate::StoreError> {
                Self::organization(self, id).await
            }

            async fn find_organization(
                &self,
                name: &str,
            ) -> Result<Option<$crate::Organization>, $crate::StoreError> {
                Self::find_organization(self, name).await
            }

            async fn keyring_entries(
                &self,
            ) -> Result<Vec<$crate::KeyringEntry>, $crate::StoreError> {
                Self::keyring_entries(self).await
            }

            async fn insert_keyring_entry(
                &self,
                entry: &$crate::KeyringEntry,
            ) -> Result<(), $crate::StoreError> {
                Self::insert_keyring_entry(self, entry).await
            }

            async fn rotate_keyring(
                &self,
                retire: &str,
                new: &$crate::KeyringEntry,
            ) -> Result<bool, $crate::StoreError> {
                Self::rotate_keyring(self, retire, new).await
            }

            async fn kek_usage(&self) -> Result<Vec<(String, i64)>, $crate::StoreError> {
                Self::kek_usage(self).await
            }

            async fn wrapped_keys_not_under(
                &self,
                table: $crate::SealedTable,
                kek_id: &str,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<$crate::WrappedKeyRow>, $crate::StoreError> {
                Self::wrapped_keys_not_under(self, table, kek_id, after, limit).await
            }

            async fn rewrap_keys(
                &self,
                rewrapped: &[$crate::Rewrapped],
            ) -> Result<u64, $crate::StoreError> {
                Self::rewrap_keys(self, rewrapped).await
            }

            async fn insert_api_key(
                &self,
                key: &$crate::NewApiKey,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                Self::insert_api_key(self, key, audit).await
            }

            async fn api_keys_by_prefix(
                &self,
                prefix: &str,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                Self::api_keys_by_prefix(self, prefix).await
            }

            async fn list_api_keys(
                &self,
                org_id: uuid::Uuid,
                page: $crate::Page,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                Self::list_api_keys(self, org_id, page).await
            }

            async fn count_api_keys(&self, org_id: uuid::Uuid) -> Result<i64, $crate::StoreError> {
                Self::count_api_keys(self, org_id).await
            }

            async fn revoke_api_key(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                Self::revoke_api_key(self, org_id, id, audit).await
            }

            async fn insert_credential(
                &self,
                c: &$crate::NewCredential,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                Self::insert_credential(self, c, audit).await
            }

            async fn get_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Credential>, $crate::StoreError> {
                Self::get_credential(self, org_id, id).await
            }

            async fn list_credentials(
                &self,
                org_id: uuid::Uuid,
                filter: &$crate::CredentialFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::Credential>, $crate::StoreError> {
                Self::list_credentials(self, org_id, filter, page).await
            }

            async fn update_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: i64,
                c: &$crate::CredentialChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                Self::update_credential(self, org_id, id, expected_version, c, audit).await
            }

            async fn delete_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                Self::delete_credential(self, org_id, id, expected_version, audit).await
            }

            async fn credential_usage(
                &self,
                org_id: uuid::Uuid,
                ids: &[uuid::Uuid],
            ) -> Result<std::collections::HashMap<uuid::Uuid, $crate::CredentialUsage>, $crate::StoreError> {
                Self::credential_usage(self, org_id, ids).await
            }

            async fn insert_data_source(
                &self,
                d: &$crate::NewDataSource,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::DataSource, $crate::StoreError> {
                Self::insert_data_source(self, d, audit).await
            }

            async fn get_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::DataSource>, $crate::StoreError> {
                Self::get_data_source(self, org_id, kind, id).await
            }

            async fn list_data_sources(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                filter: &$crate::DataSourceFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::DataSource>, $crate::StoreError> {
                Self::list_data_sources(self, org_id, kind, filter, page).await
            }

            async fn data_sources_using(
                &self,
                org_id: uuid::Uuid,
                credential_id: uuid::Uuid,
            ) -> Result<Vec<$crate::DataSource>, $crate::StoreError> {
                Self::data_sources_using(self, org_id, credential_id).await
            }

            async fn update_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
                expected_version: i64,
                c: &$crate::DataSourceChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::DataSource, $crate::StoreError> {
                Self::update_data_source(self, org_id, kind, id, expected_version, c, audit).await
            }

            async fn delete_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<Vec<String>, $crate::StoreError> {
                Self::delete_data_source(self, org_id, kind, id, expected_version, audit).await
            }

            async fn insert_oauth_app(
                &self,
                app: &$crate::NewOAuthApp,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::OAuthApp, $crate::StoreError> {
                Self::insert_oauth_app(self, app, audit).await
            }

            async fn get_oauth_app(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::OAuthApp>, $crate::StoreError> {
                Self::get_oauth_app(self, org_id, id).await
            }

            async fn oauth_app_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::OAuthApp>, $crate::StoreError> {
                Self::oauth_app_by_id(self, id).await
            }

            async fn list_oauth_apps(
                &self,
                org_id: uuid::Uuid,
                connector: Option<&str>,
                page: $crate::Page,
            ) -> Result<Vec<$crate::OAuthApp>, $crate::StoreError> {
                Self::list_oauth_apps(self, org_id, connector, page).await
            }

            async fn oauth_apps_of_connector(
                &self,
                connector: &str,
            ) -> Result<Vec<$crate::OAuthApp>, $crate::StoreError> {
                Self::oauth_apps_of_connector(self, connector).await
            }

            async fn credentials_using_oauth_app(
                &self,
                org_id: uuid::Uuid,
                app_id: uuid::Uuid,
            ) -> Result<Vec<(uuid::Uuid, String)>, $crate::StoreError> {
                Self::credentials_using_oauth_app(self, org_id, app_id).await
            }

            async fn update_oauth_app(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: i64,
                changes: &$crate::OAuthAppChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::OAuthApp, $crate::StoreError> {
                Self::update_oauth_app(self, org_id, id, expected_version, changes, audit).await
            }

            async fn delete_oauth_app(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                Self::delete_oauth_app(self, org_id, id, expected_version, audit).await
            }

            async fn insert_connect_session(
                &self,
                session: &$crate::NewConnectSession,
                max_pending: i64,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ConnectSession, $crate::StoreError> {
                Self::insert_connect_session(self, session, max_pending, audit).await
            }

            async fn prune_connect_sessions(
                &self,
                expired_before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                Self::prune_connect_sessions(self, expired_before).await
            }

            async fn get_connect_session(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::ConnectSession>, $crate::StoreError> {
                Self::get_connect_session(self, org_id, id).await
            }

            async fn connect_session_by_state(
                &self,
                state_hash: &[u8],
            ) -> Result<Option<$crate::ConnectSession>, $crate::StoreError> {
                Self::connect_session_by_state(self, state_hash).await
            }

            async fn claim_connect_session(
                &self,
                id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                Self::claim_connect_session(self, id, at).await
            }

            async fn fail_connect_session(
                &self,
                id: uuid::Uuid,
                error: &str,
                claimed_before: chrono::DateTime<chrono::Utc>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<bool, $crate::StoreError> {
                Self::fail_connect_session(self, id, error, claimed_before, audit).await
            }

            async fn complete_connect_session(
                &self,
                session_id: uuid::Uuid,
                credential: &$crate::NewCredential,
                auth_method: &str,
                tokens: &$crate::NewGrantTokens,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                Self::complete_connect_session(self, session_id, credential, auth_method, tokens, audit)
                    .await
            }

            async fn complete_reconnect(
                &self,
                session_id: uuid::Uuid,
                org_id: uuid::Uuid,
                credential_id: uuid::Uuid,
                oauth_app_id: Option<uuid::Uuid>,
                config: &serde_json::Value,
                status_detail: &str,
                identity: Option<&serde_json::Value>,
                tokens: &$crate::NewGrantTokens,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                Self::complete_reconnect(
                    self, session_id, org_id, credential_id, oauth_app_id, config,
                    status_detail, identity, tokens, audit,
                )
                .await
            }

            async fn credential_token(
                &self,
                credential_id: uuid::Uuid,
            ) -> Result<Option<$crate::StoredToken>, $crate::StoreError> {
                Self::credential_token(self, credential_id).await
            }

            async fn acquire_token_lease(
                &self,
                credential_id: uuid::Uuid,
                credential_version: i64,
                owner: &str,
                until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                Self::acquire_token_lease(self, credential_id, credential_version, owner, until, now).await
            }

            async fn store_token(
                &self,
                credential_id: uuid::Uuid,
                owner: &str,
                token: &$crate::NewToken,
            ) -> Result<bool, $crate::StoreError> {
                Self::store_token(self, credential_id, owner, token).await
            }

            async fn renew_token_lease(
                &self,
                credential_id: uuid::Uuid,
                owner: &str,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                Self::renew_token_lease(self, credential_id, owner, until).await
            }

            async fn release_token_lease(
                &self,
                credential_id: uuid::Uuid,
                owner: &str,
            ) -> Result<(), $crate::StoreError> {
                Self::release_token_lease(self, credential_id, owner).await
            }

            async fn delete_credential_token(
                &self,
                credential_id: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                Self::delete_credential_token(self, credential_id).await
            }

            async fn owner_org(
                &self,
                table: $crate::OwnedTable,
                id: uuid::Uuid,
            ) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                Self::owner_org(self, table, id).await
            }

            async fn latest_change(&self) -> Result<i64, $crate::StoreError> {
                Self::latest_change(self).await
            }

            async fn changes_after(
                &self,
                seq: i64,
                limit: i64,
            ) -> Result<Vec<$crate::Change>, $crate::StoreError> {
                Self::changes_after(self, seq, limit).await
            }

            async fn prune_changes(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                Self::prune_changes(self, before).await
            }

            async fn record_audit_event(
                &self,
                event: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                Self::record_audit_event(self, event).await
            }

            async fn record_audit_events(
                &self,
                events: &[$crate::NewAuditEvent],
            ) -> Result<(), $crate::StoreError> {
                Self::record_audit_events(self, events).await
            }

            async fn list_audit_events(
                &self,
                org_id: uuid::Uuid,
                filter: &$crate::AuditFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::AuditEvent>, $crate::StoreError> {
                Self::list_audit_events(self, org_id, filter, page).await
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
