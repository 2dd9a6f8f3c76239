//! The SQL of connect sessions, for both backends (see [`crate::sql_store`]).

macro_rules! impl_connect_sessions {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::ConnectSessionStore for $store {
            async fn insert_connect_session(
                &self,
                s: &$crate::NewConnectSession,
                max_pending: i64,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::ConnectSession, $crate::StoreError> {
                let now = $crate::now();
                let mut tx = self.pool.begin().await?;
                // Writing the organization's row first makes concurrent starts in one
                // organization take turns (a row lock in PostgreSQL, the write lock in
                // SQLite), so the count below is exact.
                sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                    .bind(s.org_id)
                    .execute(&mut *tx)
                    .await?;
                let (pending, first_expiry): (i64, Option<chrono::DateTime<chrono::Utc>>) =
                    sqlx::query_as(
                        "SELECT COUNT(*), MIN(expires_at) FROM connect_sessions \
                         WHERE org_id = $1 AND status = 'pending' AND expires_at > $2",
                    )
                    .bind(s.org_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                if pending >= max_pending {
                    return Err($crate::StoreError::LimitReached {
                        retry_at: first_expiry.unwrap_or(now),
                    });
                }
                let row = sqlx::query_as(
                    "INSERT INTO connect_sessions \
                     (id, org_id, connector, auth_method, name, description, config, return_to, \
                      state_hash, verifier_ct, verifier_nonce, wrapped_dek, kek_id, \
                      credential_id, status, created_at, expires_at, oauth_app_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                             'pending', $15, $16, $17) \
                     RETURNING *",
                )
                .bind(s.id)
                .bind(s.org_id)
                .bind(&s.connector)
                .bind(&s.auth_method)
                .bind(&s.name)
                .bind(&s.description)
                .bind(sqlx::types::Json(&s.config))
                .bind(&s.return_to)
                .bind(&s.state_hash)
                .bind(&s.verifier_ct)
                .bind(&s.verifier_nonce)
                .bind(&s.wrapped_dek)
                .bind(&s.kek_id)
                .bind(s.credential_id)
                .bind(now)
                .bind(s.expires_at)
                .bind(s.oauth_app_id)
                .fetch_one(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn prune_connect_sessions(
                &self,
                expired_before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                Ok(sqlx::query("DELETE FROM connect_sessions WHERE expires_at < $1")
                    .bind(expired_before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
            async fn get_connect_session(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::ConnectSession>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM connect_sessions WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }
            async fn connect_session_by_state(
                &self,
                state_hash: &[u8],
            ) -> Result<Option<$crate::ConnectSession>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM connect_sessions WHERE state_hash = $1")
                        .bind(state_hash)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }
            async fn claim_connect_session(
                &self,
                id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                Ok(sqlx::query(
                    "UPDATE connect_sessions SET claimed_at = $2 \
                     WHERE id = $1 AND status = 'pending' AND claimed_at IS NULL \
                     AND expires_at > $2",
                )
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }
            async fn fail_connect_session(
                &self,
                id: uuid::Uuid,
                error: &str,
                claimed_before: chrono::DateTime<chrono::Utc>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<bool, $crate::StoreError> {
                let now = $crate::now();
                let mut tx = self.pool.begin().await?;
                let failed: Option<$crate::ConnectSession> = sqlx::query_as(
                    "UPDATE connect_sessions SET status = 'failed', error = $2, finished_at = $3 \
                     WHERE id = $1 AND status = 'pending' \
                     AND (claimed_at IS NULL OR claimed_at <= $4) RETURNING *",
                )
                .bind(id)
                .bind(error)
                .bind(now)
                .bind(claimed_before)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(session) = &failed {
                    Self::insert_audit(&mut tx, audit).await?;
                    let event = $crate::outbox::connect_session_event(session, None, now);
                    Self::enqueue_event(&mut tx, &event).await?;
                }
                tx.commit().await?;
                Ok(failed.is_some())
            }
            async fn complete_connect_session(
                &self,
                session_id: uuid::Uuid,
                c: &$crate::NewCredential,
                auth_method: &str,
                tokens: &$crate::NewGrantTokens,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                let now = $crate::now();
                let mut tx = self.pool.begin().await?;
                // Only a claimed session still pending completes, once: a replayed callback
                // finds it done, and one whose stale claim was failed meanwhile stays failed.
                let claimed: Option<$crate::ConnectSession> = sqlx::query_as(
                    "UPDATE connect_sessions SET status = 'completed', credential_id = $2, \
                     finished_at = $3 WHERE id = $1 AND status = 'pending' \
                     AND claimed_at IS NOT NULL RETURNING *",
                )
                .bind(session_id)
                .bind(c.id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(session) = claimed else {
                    return Err($crate::StoreError::NotFound);
                };
                let row = Self::insert_credential_row(&mut tx, c, auth_method).await?;
                sqlx::query(
                    "INSERT INTO credential_tokens \
                     (credential_id, token_ct, nonce, token_type, expires_at, obtained_at, \
                      credential_version, refresh_ct, refresh_nonce, metadata) \
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)",
                )
                .bind(c.id)
                .bind(&tokens.token_ct)
                .bind(&tokens.nonce)
                .bind(&tokens.token_type)
                .bind(tokens.expires_at)
                .bind(now)
                .bind(&tokens.refresh_ct)
                .bind(&tokens.refresh_nonce)
                .bind(sqlx::types::Json(&tokens.metadata))
                .execute(&mut *tx)
                .await?;
                // The consent handed out its first token.
                let row: $crate::Credential = sqlx::query_as(
                    "UPDATE credentials SET last_token_at = $2 WHERE id = $1 RETURNING *",
                )
                .bind(row.id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let event = $crate::outbox::connect_session_event(&session, Some(&row), now);
                Self::enqueue_event(&mut tx, &event).await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            #[allow(clippy::too_many_arguments)]
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
                let now = $crate::now();
                let mut tx = self.pool.begin().await?;
                let claimed: Option<$crate::ConnectSession> = sqlx::query_as(
                    "UPDATE connect_sessions SET status = 'completed', finished_at = $2 \
                     WHERE id = $1 AND status = 'pending' AND claimed_at IS NOT NULL \
                     RETURNING *",
                )
                .bind(session_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(session) = claimed else {
                    return Err($crate::StoreError::NotFound);
                };
                let updated: Option<$crate::Credential> = sqlx::query_as(
                    "UPDATE credentials SET config = $3, updated_at = $4, version = version + 1, \
                     oauth_app_id = $5 \
                     WHERE org_id = $1 AND id = $2 AND auth_method = 'oauth_authorization_code' \
                     RETURNING *",
                )
                .bind(org_id)
                .bind(credential_id)
                .bind(sqlx::types::Json(config))
                .bind(now)
                .bind(oauth_app_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(updated) = updated else {
                    return Err($crate::StoreError::NotFound);
                };
                // A new consent: the grant works now, whatever the old one's trouble was.
                let state = $crate::HealthState {
                    status: $crate::CredentialStatus::Valid,
                    status_detail: Some(status_detail.to_string()),
                    status_since: if updated.status == $crate::CredentialStatus::Valid {
                        updated.status_since
                    } else {
                        now
                    },
                    consecutive_failures: 0,
                    last_failure: None,
                    identity: identity.cloned(),
                    validated_at: Some(now),
                    last_token_at: Some(now),
                    checked_at: updated.checked_at,
                };
                let note = $crate::HealthNote {
                    cause: $crate::HealthCause::Reconnected,
                    detail: Some(status_detail.to_string()),
                };
                let (updated, _) = Self::write_health(&mut tx, &updated, &state, Some(&note)).await?;
                let event = $crate::outbox::connect_session_event(&session, Some(&updated), now);
                Self::enqueue_event(&mut tx, &event).await?;
                Self::record_change(
                    &mut tx,
                    $crate::ChangeSubject::Credential,
                    &credential_id.to_string(),
                )
                .await?;
                // The new grant replaces the old one whole; a refresh still running under the
                // old grant loses its lease, so its late write is refused.
                sqlx::query(
                    "INSERT INTO credential_tokens \
                     (credential_id, token_ct, nonce, token_type, expires_at, obtained_at, \
                      credential_version, refresh_ct, refresh_nonce, metadata) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (credential_id) DO UPDATE SET token_ct = excluded.token_ct, \
                     nonce = excluded.nonce, token_type = excluded.token_type, \
                     expires_at = excluded.expires_at, obtained_at = excluded.obtained_at, \
                     credential_version = excluded.credential_version, \
                     refresh_ct = excluded.refresh_ct, refresh_nonce = excluded.refresh_nonce, \
                     metadata = excluded.metadata, lease_owner = NULL, lease_until = NULL",
                )
                .bind(credential_id)
                .bind(&tokens.token_ct)
                .bind(&tokens.nonce)
                .bind(&tokens.token_type)
                .bind(tokens.expires_at)
                .bind(now)
                .bind(updated.version)
                .bind(&tokens.refresh_ct)
                .bind(&tokens.refresh_nonce)
                .bind(sqlx::types::Json(&tokens.metadata))
                .execute(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }
        }
    };
}

pub(crate) use impl_connect_sessions;
