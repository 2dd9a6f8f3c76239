//! The queries, written once for both backends.
//!
//! SQLite and PostgreSQL accept the same SQL for everything Latch does (`$N` placeholders,
//! `RETURNING`, `ON CONFLICT`), and sqlx maps the same Rust types on both. What differs is
//! the pool type, so the implementation is one macro body instantiated per backend rather
//! than two copies that could drift apart. Connection set-up stays in each backend's module.

macro_rules! impl_store {
    ($store:ident, $db:ty) => {
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

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                Self::BACKEND
            }

            async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

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
                self.find_organization(name)
                    .await?
                    .ok_or($crate::StoreError::NotFound)
            }

            async fn find_organization(
                &self,
                name: &str,
            ) -> Result<Option<$crate::Organization>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM organizations WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn keyring_entries(
                &self,
            ) -> Result<Vec<$crate::KeyringEntry>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM keyring ORDER BY created_at, kek_id")
                    .fetch_all(&self.pool)
                    .await?)
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
                Ok(sqlx::query_as(
                    "SELECT kek_id, COUNT(*) FROM credentials GROUP BY kek_id ORDER BY kek_id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn wrapped_keys_not_under(
                &self,
                kek_id: &str,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<$crate::WrappedKeyRow>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, org_id, kek_id, wrapped_dek FROM credentials \
                     WHERE kek_id <> $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                )
                .bind(kek_id)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn rewrap_keys(
                &self,
                rewrapped: &[$crate::Rewrapped],
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut written = 0;
                for row in rewrapped {
                    // No version bump: nothing a client sees changes, and cached tokens stay.
                    written += sqlx::query(
                        "UPDATE credentials SET kek_id = $1, wrapped_dek = $2 \
                         WHERE id = $3 AND kek_id = $4 AND wrapped_dek = $5",
                    )
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

            async fn revoke_api_key(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query_as(
                    "UPDATE api_keys SET revoked_at = $3 \
                     WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind($crate::now())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn insert_credential(
                &self,
                c: &$crate::NewCredential,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                let now = $crate::now();
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query_as(
                    "INSERT INTO credentials \
                     (id, org_id, connector, name, description, config, secret_ct, secret_nonce, \
                      wrapped_dek, kek_id, status, status_detail, identity, validated_at, \
                      version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                             1, $15, $15) \
                     RETURNING *",
                )
                .bind(c.id)
                .bind(c.org_id)
                .bind(&c.connector)
                .bind(&c.name)
                .bind(&c.description)
                .bind(sqlx::types::Json(&c.config))
                .bind(&c.secret_ct)
                .bind(&c.secret_nonce)
                .bind(&c.wrapped_dek)
                .bind(&c.kek_id)
                .bind(c.status.as_str())
                .bind(&c.status_detail)
                .bind(c.identity.as_ref().map(sqlx::types::Json))
                .bind(c.validated_at)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn get_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Credential>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM credentials WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn list_credentials(
                &self,
                org_id: uuid::Uuid,
                filter: &$crate::CredentialFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::Credential>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM credentials WHERE org_id = $1 \
                     AND ($2 IS NULL OR connector = $2) \
                     AND ($3 IS NULL OR status = $3) \
                     AND ($4 IS NULL OR id > $4) \
                     ORDER BY id LIMIT $5",
                )
                .bind(org_id)
                .bind(&filter.connector)
                .bind(filter.status.map(|status| status.as_str()))
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn update_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: i64,
                c: &$crate::CredentialChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let updated: Option<$crate::Credential> = sqlx::query_as(
                    "UPDATE credentials SET name = $4, description = $5, config = $6, \
                     secret_ct = $7, secret_nonce = $8, status = $9, status_detail = $10, \
                     identity = $11, validated_at = $12, updated_at = $13, version = version + 1 \
                     WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .bind(&c.name)
                .bind(&c.description)
                .bind(sqlx::types::Json(&c.config))
                .bind(&c.secret_ct)
                .bind(&c.secret_nonce)
                .bind(c.status.as_str())
                .bind(&c.status_detail)
                .bind(c.identity.as_ref().map(sqlx::types::Json))
                .bind(c.validated_at)
                .bind($crate::now())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(updated) = updated else {
                    drop(tx);
                    return Err(self.missing_or_moved_on("credentials", org_id, id).await);
                };
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(
                    "DELETE FROM credentials \
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
                    return Err(self.missing_or_moved_on("credentials", org_id, id).await);
                }
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn credential_usage(
                &self,
                org_id: uuid::Uuid,
                ids: &[uuid::Uuid],
            ) -> Result<std::collections::HashMap<uuid::Uuid, $crate::CredentialUsage>, $crate::StoreError>
            {
                let counts: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
                    "SELECT credential_id, kind, COUNT(*) FROM data_sources WHERE org_id = $1 \
                     GROUP BY credential_id, kind",
                )
                .bind(org_id)
                .fetch_all(&self.pool)
                .await?;
                let mut usage = std::collections::HashMap::new();
                for (credential_id, kind, count) in counts {
                    if !ids.contains(&credential_id) {
                        continue;
                    }
                    let entry: &mut $crate::CredentialUsage = usage.entry(credential_id).or_default();
                    if kind == "source" {
                        entry.sources = count;
                    } else {
                        entry.destinations = count;
                    }
                }
                Ok(usage)
            }

            async fn insert_data_source(
                &self,
                d: &$crate::NewDataSource,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::DataSource, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query_as(
                    "INSERT INTO data_sources \
                     (id, org_id, kind, name, description, connector, credential_id, config, \
                      version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING *",
                )
                .bind(d.id)
                .bind(d.org_id)
                .bind(d.kind.as_str())
                .bind(&d.name)
                .bind(&d.description)
                .bind(&d.connector)
                .bind(d.credential_id)
                .bind(sqlx::types::Json(&d.config))
                .bind($crate::now())
                .fetch_one(&mut *tx)
                .await
                .map_err(|error| match $crate::StoreError::from(error) {
                    // The credential it names is gone.
                    $crate::StoreError::InUse => $crate::StoreError::NotFound,
                    other => other,
                })?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn get_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::DataSource>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM data_sources WHERE org_id = $1 AND kind = $2 AND id = $3",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list_data_sources(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                filter: &$crate::DataSourceFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::DataSource>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM data_sources WHERE org_id = $1 AND kind = $2 \
                     AND ($3 IS NULL OR connector = $3) \
                     AND ($4 IS NULL OR credential_id = $4) \
                     AND ($5 IS NULL OR id > $5) \
                     ORDER BY id LIMIT $6",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(&filter.connector)
                .bind(filter.credential_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn data_sources_using(
                &self,
                org_id: uuid::Uuid,
                credential_id: uuid::Uuid,
            ) -> Result<Vec<$crate::DataSource>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM data_sources WHERE org_id = $1 AND credential_id = $2 \
                     ORDER BY kind, id",
                )
                .bind(org_id)
                .bind(credential_id)
                .fetch_all(&self.pool)
                .await?)
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
                let mut tx = self.pool.begin().await?;
                let updated: Option<$crate::DataSource> = sqlx::query_as(
                    "UPDATE data_sources SET name = $5, description = $6, credential_id = $7, \
                     config = $8, updated_at = $9, version = version + 1 \
                     WHERE org_id = $1 AND kind = $2 AND id = $3 AND version = $4 RETURNING *",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(id)
                .bind(expected_version)
                .bind(&c.name)
                .bind(&c.description)
                .bind(c.credential_id)
                .bind(sqlx::types::Json(&c.config))
                .bind($crate::now())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(updated) = updated else {
                    drop(tx);
                    return Err(self.missing_or_moved_on("data_sources", org_id, id).await);
                };
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<Vec<String>, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(
                    "DELETE FROM data_sources WHERE org_id = $1 AND kind = $2 AND id = $3 \
                     AND ($4 IS NULL OR version = $4)",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    drop(tx);
                    return Err(self.missing_or_moved_on("data_sources", org_id, id).await);
                }
                let revoked: Vec<(String,)> = sqlx::query_as(
                    "UPDATE api_keys SET revoked_at = $3 \
                     WHERE org_id = $1 AND data_source_id = $2 AND revoked_at IS NULL \
                     RETURNING prefix",
                )
                .bind(org_id)
                .bind(id)
                .bind($crate::now())
                .fetch_all(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(revoked.into_iter().map(|(prefix,)| prefix).collect())
            }

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
                let written = sqlx::query(
                    "UPDATE credential_tokens SET token_ct = $3, nonce = $4, token_type = $5, \
                     expires_at = $6, obtained_at = $7, credential_version = $8, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE credential_id = $1 AND lease_owner = $2",
                )
                .bind(credential_id)
                .bind(owner)
                .bind(&token.token_ct)
                .bind(&token.nonce)
                .bind(&token.token_type)
                .bind(token.expires_at)
                .bind(token.obtained_at)
                .bind(token.credential_version)
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

            async fn owner_org(
                &self,
                table: $crate::OwnedTable,
                id: uuid::Uuid,
            ) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                // The table name comes from a closed enum, never from input.
                let row: Option<(uuid::Uuid,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT org_id FROM {} WHERE id = $1",
                    table.table()
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(org_id,)| org_id))
            }

            async fn record_audit_event(
                &self,
                event: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                self.record_audit_events(std::slice::from_ref(event)).await
            }

            async fn record_audit_events(
                &self,
                events: &[$crate::NewAuditEvent],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                for event in events {
                    Self::insert_audit(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_audit_events(
                &self,
                org_id: uuid::Uuid,
                page: $crate::Page,
            ) -> Result<Vec<$crate::AuditEvent>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM audit_events WHERE org_id = $1 AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(org_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }

        impl $store {
            /// Why a conditional write touched no row: the row is gone, or at another version.
            async fn missing_or_moved_on(
                &self,
                table: &'static str,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::StoreError {
                let current: Result<Option<(i64,)>, sqlx::Error> = sqlx::query_as(
                    sqlx::AssertSqlSafe(format!(
                        "SELECT version FROM {table} WHERE org_id = $1 AND id = $2"
                    )),
                )
                .bind(org_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await;
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
