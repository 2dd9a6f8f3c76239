//! The SQL of credential health, for both backends (see [`crate::sql_store`]).

macro_rules! impl_health {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::HealthStore for $store {
            async fn observe_health(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                version: i64,
                fence: Option<&$crate::TaskFence>,
                step: $crate::HealthStepFn<'_>,
            ) -> Result<Option<($crate::Credential, Option<$crate::HealthChange>)>, $crate::StoreError>
            {
                let mut tx = self.pool.begin().await?;
                // A write that changes nothing, to hold the row (PostgreSQL's row lock,
                // SQLite's write lock) while the step reads it: two observations of one
                // credential take turns, so neither loses the other's count.
                let locked: Option<$crate::Credential> = sqlx::query_as(
                    "UPDATE credentials SET consecutive_failures = consecutive_failures \
                     WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(current) = locked else {
                    return Ok(None);
                };
                if let Some(fence) = fence {
                    // The same no-op write on the lease row: held until the commit, so a
                    // replica taking the task over waits for this write to land first.
                    let held = sqlx::query(
                        "UPDATE worker_leases SET owner = owner \
                         WHERE task = $1 AND owner = $2 AND lease_until > $3",
                    )
                    .bind(&fence.task)
                    .bind(&fence.owner)
                    .bind($crate::now())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if held != 1 {
                        return Err($crate::StoreError::LeaseLost);
                    }
                }
                let Some(step) = step(&current) else {
                    tx.commit().await?;
                    return Ok(Some((current, None)));
                };
                let written = Self::write_health(
                    &mut tx,
                    &current,
                    &step.state,
                    step.change.as_ref(),
                )
                .await?;
                if let Some(audit) = &step.audit {
                    Self::insert_audit(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(Some(written))
            }
            async fn health_changes(
                &self,
                org_id: uuid::Uuid,
                credential_id: uuid::Uuid,
                limit: i64,
            ) -> Result<Vec<$crate::HealthChange>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM credential_health_changes \
                     WHERE org_id = $1 AND credential_id = $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(org_id)
                .bind(credential_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }

        impl $store {
            /// Writes a credential's health columns inside the caller's transaction, where
            /// `before` is the row as the transaction holds it; records the status change when
            /// the status moved (and `note` says why).
            pub(crate) async fn write_health(
                tx: &mut sqlx::Transaction<'_, $db>,
                before: &$crate::Credential,
                state: &$crate::HealthState,
                note: Option<&$crate::HealthNote>,
            ) -> Result<($crate::Credential, Option<$crate::HealthChange>), $crate::StoreError> {
                let written: $crate::Credential = sqlx::query_as(
                    "UPDATE credentials SET status = $3, status_detail = $4, status_since = $5, \
                     consecutive_failures = $6, last_failure = $7, identity = $8, \
                     validated_at = $9, last_token_at = $10, checked_at = $11 \
                     WHERE org_id = $1 AND id = $2 RETURNING *",
                )
                .bind(before.org_id)
                .bind(before.id)
                .bind(state.status.as_str())
                .bind(&state.status_detail)
                .bind(state.status_since)
                .bind(state.consecutive_failures)
                .bind(&state.last_failure)
                .bind(state.identity.as_ref().map(sqlx::types::Json))
                .bind(state.validated_at)
                .bind(state.last_token_at)
                .bind(state.checked_at)
                .fetch_one(&mut **tx)
                .await?;
                let change = match note {
                    Some(note) if before.status != state.status => Some(
                        Self::record_health_change(
                            tx,
                            &written,
                            Some(before.status),
                            note,
                            state.status_since,
                        )
                        .await?,
                    ),
                    _ => None,
                };
                Ok((written, change))
            }

            /// Adds one line to a credential's status history.
            pub(crate) async fn record_health_change(
                tx: &mut sqlx::Transaction<'_, $db>,
                credential: &$crate::Credential,
                from: Option<$crate::CredentialStatus>,
                note: &$crate::HealthNote,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::HealthChange, $crate::StoreError> {
                // A credential made, broken or mended is news for the organization's webhooks,
                // written in the same transaction as the change itself.
                if let Some(event_type) =
                    $crate::outbox::health_event_type(from, credential.status)
                {
                    let event = $crate::outbox::credential_event(
                        event_type,
                        credential,
                        from,
                        note.detail.as_deref(),
                        at,
                    );
                    Self::enqueue_event(tx, &event).await?;
                }
                Ok(sqlx::query_as(
                    "INSERT INTO credential_health_changes \
                     (id, org_id, credential_id, from_status, to_status, detail, cause, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(credential.org_id)
                .bind(credential.id)
                .bind(from.map(|status| status.as_str()))
                .bind(credential.status.as_str())
                .bind(&note.detail)
                .bind(note.cause.as_str())
                .bind(at)
                .fetch_one(&mut **tx)
                .await?)
            }
        }
    };
}

/// The worker's task leases and what its tasks read.
macro_rules! impl_worker {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::WorkerStore for $store {
            async fn acquire_task_lease(
                &self,
                task: &str,
                owner: &str,
                until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
                due_before: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO worker_leases (task) VALUES ($1) ON CONFLICT (task) DO NOTHING",
                )
                .bind(task)
                .execute(&self.pool)
                .await?;
                let taken = sqlx::query(
                    "UPDATE worker_leases SET owner = $2, lease_until = $3 \
                     WHERE task = $1 AND (owner IS NULL OR lease_until < $4) \
                     AND (last_run_at IS NULL OR last_run_at <= $5)",
                )
                .bind(task)
                .bind(owner)
                .bind(until)
                .bind(now)
                .bind(due_before)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(taken == 1)
            }
            async fn renew_task_lease(
                &self,
                task: &str,
                owner: &str,
                until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let renewed = sqlx::query(
                    "UPDATE worker_leases SET lease_until = $3 \
                     WHERE task = $1 AND owner = $2 AND lease_until > $4",
                )
                .bind(task)
                .bind(owner)
                .bind(until)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(renewed == 1)
            }
            async fn finish_task(
                &self,
                task: &str,
                owner: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let finished = sqlx::query(
                    "UPDATE worker_leases SET owner = NULL, lease_until = NULL, last_run_at = $3 \
                     WHERE task = $1 AND owner = $2",
                )
                .bind(task)
                .bind(owner)
                .bind(at)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(finished == 1)
            }
            async fn task_leases(&self) -> Result<Vec<$crate::TaskLease>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM worker_leases ORDER BY task")
                    .fetch_all(&self.pool)
                    .await?)
            }
            async fn credential_census(
                &self,
            ) -> Result<Vec<$crate::CensusRow>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT connector, status, COUNT(*) AS count FROM credentials \
                     GROUP BY connector, status ORDER BY connector, status",
                )
                .fetch_all(&self.pool)
                .await?)
            }
            async fn last_tokens(
                &self,
            ) -> Result<Vec<chrono::DateTime<chrono::Utc>>, $crate::StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT last_token_at FROM credentials WHERE last_token_at IS NOT NULL",
                )
                .fetch_all(&self.pool)
                .await?)
            }
            async fn prune_history(
                &self,
                table: $crate::HistoryTable,
                before: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<u64, $crate::StoreError> {
                let sql = match table {
                    $crate::HistoryTable::AuditEvents => {
                        "DELETE FROM audit_events WHERE id IN \
                         (SELECT id FROM audit_events WHERE id < $1 ORDER BY id LIMIT $2)"
                    }
                    $crate::HistoryTable::HealthChanges => {
                        "DELETE FROM credential_health_changes WHERE id IN \
                         (SELECT id FROM credential_health_changes WHERE id < $1 \
                          ORDER BY id LIMIT $2)"
                    }
                    $crate::HistoryTable::WebhookDeliveries => {
                        "DELETE FROM webhook_deliveries WHERE id IN \
                         (SELECT id FROM webhook_deliveries WHERE id < $1 \
                          AND state <> 'pending' ORDER BY id LIMIT $2)"
                    }
                };
                Ok(sqlx::query(sql)
                    .bind($crate::first_id_at(before))
                    .bind(limit)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
            async fn credentials_due_for_check(
                &self,
                before: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::Credential>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM credentials \
                     WHERE status <> 'reauthorization_required' \
                     AND COALESCE(checked_at, created_at) < $1 \
                     AND COALESCE(validated_at, created_at) < $1 \
                     ORDER BY COALESCE(checked_at, created_at), id LIMIT $2",
                )
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(crate) use {impl_health, impl_worker};
