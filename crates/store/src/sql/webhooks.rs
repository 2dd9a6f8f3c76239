//! The SQL of webhook endpoints and the outbox of their deliveries, for both backends (see
//! [`crate::sql_store`]).

macro_rules! impl_webhooks {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::WebhookStore for $store {
            async fn insert_webhook(
                &self,
                webhook: &$crate::NewWebhook,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Webhook, $crate::StoreError> {
                let now = $crate::now();
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query_as(
                    "INSERT INTO webhooks \
                     (id, org_id, url, description, events, enabled, kek_id, wrapped_dek, \
                      secret_nonce, secret_ct, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING *",
                )
                .bind(webhook.id)
                .bind(webhook.org_id)
                .bind(&webhook.url)
                .bind(&webhook.description)
                .bind(Self::event_list(webhook.events.as_deref()))
                .bind(true)
                .bind(&webhook.secrets.kek_id)
                .bind(&webhook.secrets.wrapped_dek)
                .bind(&webhook.secrets.secret_nonce)
                .bind(&webhook.secrets.secret_ct)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn get_webhook(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Webhook>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM webhooks WHERE org_id = $1 AND id = $2")
                    .bind(org_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }
            async fn list_webhooks(
                &self,
                org_id: uuid::Uuid,
                page: $crate::Page,
            ) -> Result<Vec<$crate::Webhook>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM webhooks WHERE org_id = $1 AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(org_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn update_webhook(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: i64,
                changes: &$crate::WebhookChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Webhook, $crate::StoreError> {
                let now = $crate::now();
                let (sealed, previous_until) = match &changes.secrets {
                    Some((sealed, until)) => (Some(sealed), *until),
                    None => (None, None),
                };
                let mut tx = self.pool.begin().await?;
                // A write that changes nothing, first: on SQLite a transaction that read
                // before it wrote is refused ("database is locked") when another connection
                // wrote meanwhile, which the delivery loop does all the time.
                let before: Option<$crate::Webhook> = sqlx::query_as(
                    "UPDATE webhooks SET version = version \
                     WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .fetch_optional(&mut *tx)
                .await?;
                // `enabled` on the right of SET is the value before: failures are forgotten
                // when the endpoint is turned off, and again when it is turned on.
                let updated: Option<$crate::Webhook> = sqlx::query_as(
                    "UPDATE webhooks SET url = $4, description = $5, events = $6, enabled = $7, \
                     disabled_reason = CASE WHEN $7 THEN NULL ELSE disabled_reason END, \
                     failing_since = CASE WHEN $7 AND enabled THEN failing_since ELSE NULL END, \
                     kek_id = CASE WHEN $8 THEN $9 ELSE kek_id END, \
                     wrapped_dek = CASE WHEN $8 THEN $10 ELSE wrapped_dek END, \
                     secret_nonce = CASE WHEN $8 THEN $11 ELSE secret_nonce END, \
                     secret_ct = CASE WHEN $8 THEN $12 ELSE secret_ct END, \
                     previous_secret_until = CASE WHEN $8 THEN $13 ELSE previous_secret_until END, \
                     updated_at = $14, version = version + 1 \
                     WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .bind(&changes.url)
                .bind(&changes.description)
                .bind(Self::event_list(changes.events.as_deref()))
                .bind(changes.enabled)
                .bind(sealed.is_some())
                .bind(sealed.map(|sealed| &sealed.kek_id))
                .bind(sealed.map(|sealed| &sealed.wrapped_dek))
                .bind(sealed.map(|sealed| &sealed.secret_nonce))
                .bind(sealed.map(|sealed| &sealed.secret_ct))
                .bind(previous_until)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let (Some(before), Some(updated)) = (before, updated) else {
                    drop(tx);
                    return Err(self.missing_or_moved_on("webhooks", org_id, id, None).await);
                };
                if changes.enabled && !before.enabled {
                    // Turned on again: what waited while it was off is due now, and gets the
                    // whole horizon of retries again.
                    sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = $2, retry_since = $2 \
                         WHERE webhook_id = $1 AND state = 'pending'",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }
            async fn delete_webhook(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(
                    "DELETE FROM webhooks \
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
                    return Err(self.missing_or_moved_on("webhooks", org_id, id, None).await);
                }
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn queue_test_event(
                &self,
                webhook: &$crate::Webhook,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Delivery, $crate::StoreError> {
                let now = $crate::now();
                let event = $crate::outbox::webhook_event(
                    $crate::outbox::WEBHOOK_TEST,
                    webhook.org_id,
                    webhook.id,
                    &webhook.url,
                    None,
                    now,
                );
                let mut tx = self.pool.begin().await?;
                let delivery = Self::insert_delivery(&mut tx, webhook.id, &event, now).await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(delivery)
            }
            async fn list_deliveries(
                &self,
                org_id: uuid::Uuid,
                webhook_id: uuid::Uuid,
                page: $crate::Page,
            ) -> Result<Vec<$crate::Delivery>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2 \
                     AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
                )
                .bind(org_id)
                .bind(webhook_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn delivery_attempts(
                &self,
                org_id: uuid::Uuid,
                webhook_id: uuid::Uuid,
                first: uuid::Uuid,
                last: uuid::Uuid,
            ) -> Result<Vec<$crate::DeliveryAttempt>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT a.* FROM webhook_attempts a \
                     JOIN webhook_deliveries d ON d.id = a.delivery_id \
                     WHERE d.org_id = $1 AND d.webhook_id = $2 AND d.id >= $3 AND d.id <= $4 \
                     ORDER BY a.id",
                )
                .bind(org_id)
                .bind(webhook_id)
                .bind(first)
                .bind(last)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn retry_delivery(
                &self,
                org_id: uuid::Uuid,
                webhook_id: uuid::Uuid,
                delivery_id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Delivery, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let retried: Option<$crate::Delivery> = sqlx::query_as(
                    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $4, \
                     retry_since = $4, finished_at = NULL \
                     WHERE org_id = $1 AND webhook_id = $2 AND id = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(webhook_id)
                .bind(delivery_id)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(retried) = retried else {
                    return Err($crate::StoreError::NotFound);
                };
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(retried)
            }
        }

        #[async_trait::async_trait]
        impl $crate::DeliveryStore for $store {
            async fn claim_deliveries(
                &self,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::ClaimedDelivery>, $crate::StoreError> {
                // Looking costs a read; taking costs a write (on SQLite, the database's write
                // lock): take only when something is due.
                let due: Option<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT id FROM webhook_deliveries \
                     WHERE state = 'pending' AND next_attempt_at <= $1 LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                // The outer conditions repeat the inner ones: on PostgreSQL a row another
                // replica took meanwhile is checked again once its lock is released, and
                // skipped, so no two replicas hold one delivery. There, rows another replica
                // is taking right now are passed over (SKIP LOCKED) instead of waited for;
                // SQLite has one writer at a time anyway.
                let sql = match Self::BACKEND {
                    $crate::Backend::Postgres => {
                        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
                         WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                           JOIN webhooks w ON w.id = d.webhook_id \
                           WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
                           AND (d.lease_until IS NULL OR d.lease_until < $3) AND w.enabled \
                           ORDER BY d.next_attempt_at LIMIT $4 FOR UPDATE OF d SKIP LOCKED) \
                         AND state = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
                         RETURNING *"
                    }
                    $crate::Backend::Sqlite => {
                        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
                         WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                           JOIN webhooks w ON w.id = d.webhook_id \
                           WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
                           AND (d.lease_until IS NULL OR d.lease_until < $3) AND w.enabled \
                           ORDER BY d.next_attempt_at LIMIT $4) \
                         AND state = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
                         RETURNING *"
                    }
                };
                let claimed: Vec<$crate::Delivery> = sqlx::query_as(sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut webhooks: std::collections::HashMap<uuid::Uuid, $crate::Webhook> =
                    std::collections::HashMap::new();
                let mut out = Vec::with_capacity(claimed.len());
                for delivery in claimed {
                    if !webhooks.contains_key(&delivery.webhook_id) {
                        let webhook: Option<$crate::Webhook> =
                            sqlx::query_as("SELECT * FROM webhooks WHERE id = $1")
                                .bind(delivery.webhook_id)
                                .fetch_optional(&self.pool)
                                .await?;
                        // Deleted meanwhile: its deliveries went with it.
                        let Some(webhook) = webhook else { continue };
                        webhooks.insert(webhook.id, webhook);
                    }
                    let webhook = webhooks[&delivery.webhook_id].clone();
                    out.push($crate::ClaimedDelivery { delivery, webhook });
                }
                Ok(out)
            }
            async fn finish_attempt(
                &self,
                owner: &str,
                attempt: &$crate::AttemptRecord,
                disable_failing_since_before: chrono::DateTime<chrono::Utc>,
                on_disable: &$crate::NewAuditEvent,
            ) -> Result<$crate::AttemptEffect, $crate::StoreError> {
                let (state, next_at) = match attempt.next {
                    $crate::AttemptNext::Delivered => ($crate::DeliveryState::Delivered, None),
                    $crate::AttemptNext::RetryAt(at) => ($crate::DeliveryState::Pending, Some(at)),
                    $crate::AttemptNext::GiveUp => ($crate::DeliveryState::Failed, None),
                };
                let finished_at = (state != $crate::DeliveryState::Pending).then_some(attempt.at);
                let mut tx = self.pool.begin().await?;
                let written = sqlx::query(
                    "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, \
                     next_attempt_at = $4, lease_owner = NULL, lease_until = NULL, \
                     last_status = $5, last_error = $6, finished_at = $7 \
                     WHERE id = $1 AND lease_owner = $2",
                )
                .bind(attempt.delivery_id)
                .bind(owner)
                .bind(state.as_str())
                .bind(next_at)
                .bind(attempt.status_code)
                .bind(&attempt.error)
                .bind(finished_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if written != 1 {
                    return Err($crate::StoreError::LeaseLost);
                }
                sqlx::query(
                    "INSERT INTO webhook_attempts \
                     (id, delivery_id, at, status_code, latency_ms, error, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(attempt.delivery_id)
                .bind(attempt.at)
                .bind(attempt.status_code)
                .bind(attempt.latency_ms)
                .bind(&attempt.error)
                .bind(next_at)
                .execute(&mut *tx)
                .await?;
                let mut effect = $crate::AttemptEffect::Recorded;
                if state == $crate::DeliveryState::Delivered {
                    sqlx::query(
                        "UPDATE webhooks SET failing_since = NULL \
                         WHERE id = $1 AND failing_since IS NOT NULL",
                    )
                    .bind(attempt.webhook_id)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    let webhook: Option<$crate::Webhook> = sqlx::query_as(
                        "UPDATE webhooks SET failing_since = COALESCE(failing_since, $2) \
                         WHERE id = $1 RETURNING *",
                    )
                    .bind(attempt.webhook_id)
                    .bind(attempt.waiting_since)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(webhook) = webhook
                        && webhook.enabled
                        && webhook
                            .failing_since
                            .is_some_and(|since| since <= disable_failing_since_before)
                    {
                        let reason = "every attempt failed for longer than the retry horizon";
                        sqlx::query(
                            "UPDATE webhooks SET enabled = $2, disabled_reason = $3, \
                             version = version + 1, updated_at = $4 WHERE id = $1",
                        )
                        .bind(webhook.id)
                        .bind(false)
                        .bind(reason)
                        .bind(attempt.at)
                        .execute(&mut *tx)
                        .await?;
                        Self::insert_audit(&mut tx, on_disable).await?;
                        let event = $crate::outbox::webhook_event(
                            $crate::outbox::WEBHOOK_DISABLED,
                            webhook.org_id,
                            webhook.id,
                            &webhook.url,
                            Some(reason),
                            attempt.at,
                        );
                        Self::enqueue_event(&mut tx, &event).await?;
                        effect = $crate::AttemptEffect::Disabled;
                    }
                }
                tx.commit().await?;
                Ok(effect)
            }
        }

        impl $store {
            /// The stored form of an endpoint's event filter.
            fn event_list(events: Option<&[String]>) -> Option<String> {
                events.map(|events| serde_json::Value::from(events.to_vec()).to_string())
            }

            /// Puts `event` in the outbox inside the caller's transaction: one delivery for
            /// each enabled endpoint of its organization that hears it, due at once.
            pub(crate) async fn enqueue_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                event: &$crate::outbox::OutboxEvent,
            ) -> Result<(), $crate::StoreError> {
                let webhooks: Vec<$crate::Webhook> =
                    sqlx::query_as("SELECT * FROM webhooks WHERE org_id = $1 AND enabled")
                        .bind(event.org_id)
                        .fetch_all(&mut **tx)
                        .await?;
                for webhook in webhooks {
                    if webhook.hears(event.event_type) {
                        Self::insert_delivery(tx, webhook.id, event, $crate::now()).await?;
                    }
                }
                Ok(())
            }

            async fn insert_delivery(
                tx: &mut sqlx::Transaction<'_, $db>,
                webhook_id: uuid::Uuid,
                event: &$crate::outbox::OutboxEvent,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::Delivery, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "INSERT INTO webhook_deliveries \
                     (id, org_id, webhook_id, event_id, event_type, payload, state, \
                      next_attempt_at, retry_since, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $7) RETURNING *",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(event.org_id)
                .bind(webhook_id)
                .bind(event.id)
                .bind(event.event_type)
                .bind(&event.payload)
                .bind(now)
                .fetch_one(&mut **tx)
                .await?)
            }
        }
    };
}

pub(crate) use impl_webhooks;
