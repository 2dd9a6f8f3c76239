//! The delivery loop: sends the outbox's due webhook deliveries, in every replica that runs the
//! worker. Each delivery is taken under a lease of its own in the store, longer than an
//! attempt can take, so two replicas never send the same attempt at once; an attempt's
//! outcome is written only while its lease is held. A replica killed mid-attempt leaves its
//! deliveries leased; once the leases lapse, any replica sends them again (at least once: a
//! receiver drops repeats by `webhook-id`).

use std::sync::{Arc, Weak};

use latch_store::{AttemptEffect, AttemptNext, ClaimedDelivery, NewAuditEvent, StoreError};
use serde_json::json;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::latch::Latch;
use crate::webhooks::delivery::attempt;

/// Sends due deliveries for as long as `latch` lives, at most `concurrency` at once: takes as
/// many as there are free slots, and looks again when a slot frees up or, when nothing was
/// due, after the poll interval.
pub async fn follow(latch: Weak<Latch>) {
    let owner = Uuid::now_v7().to_string();
    let Some(strong) = latch.upgrade() else {
        return;
    };
    let slots = Arc::new(Semaphore::new(strong.worker.webhooks.concurrency.max(1)));
    drop(strong);
    loop {
        let Some(strong) = latch.upgrade() else {
            return;
        };
        // Wait for a free slot before looking for work.
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let free = slots.available_permits() + 1;
        let claimed = match claim(&strong, &owner, free).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not take webhook deliveries");
                Vec::new()
            }
        };
        let busy = claimed.len() == free;
        let mut first = Some(first);
        for delivery in claimed {
            let slot = match first.take() {
                Some(slot) => slot,
                None => match slots.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    Err(_) => return,
                },
            };
            let latch = strong.clone();
            let owner = owner.clone();
            tokio::spawn(async move {
                deliver(&latch, &owner, &delivery).await;
                drop(slot);
            });
        }
        drop(first);
        let poll = strong.worker.webhooks.poll;
        drop(strong);
        if !busy {
            tokio::time::sleep(poll).await;
        }
    }
}

async fn claim(
    latch: &Latch,
    owner: &str,
    limit: usize,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let now = latch_store::now();
    let lease = chrono::Duration::from_std(latch.worker.webhooks.lease()).unwrap_or_default();
    latch
        .store
        .claim_deliveries(owner, now, now + lease, i64::try_from(limit).unwrap_or(1))
        .await
}

/// One attempt, written back under the delivery's lease.
pub async fn deliver(latch: &Latch, owner: &str, claimed: &ClaimedDelivery) {
    let record = attempt(latch, claimed).await;
    let horizon = chrono::Duration::from_std(latch.worker.webhooks.horizon).unwrap_or_default();
    let on_disable = NewAuditEvent {
        org_id: Some(claimed.webhook.org_id),
        actor_key_id: None,
        action: AuditAction::WebhookDisabled.into(),
        target_type: "webhook".into(),
        target_id: Some(claimed.webhook.id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({"url": claimed.webhook.url, "last_error": record.error}),
    };
    let result = match record.next {
        AttemptNext::Delivered => "delivered",
        AttemptNext::RetryAt(_) => "retry",
        AttemptNext::GiveUp => "given_up",
    };
    match latch
        .store
        .finish_attempt(owner, &record, record.at - horizon, &on_disable)
        .await
    {
        Ok(effect) => {
            latch.broker.metrics.webhook_attempt(result);
            if effect == AttemptEffect::Disabled {
                tracing::warn!(webhook_id = %claimed.webhook.id, "a webhook endpoint failed for the whole retry horizon and was turned off");
            }
        }
        Err(StoreError::LeaseLost) => {
            latch.broker.metrics.webhook_attempt("lease_lost");
            tracing::warn!(delivery_id = %claimed.delivery.id, "a webhook delivery's lease lapsed during its attempt; another replica sends it");
        }
        Err(error) => {
            tracing::warn!(delivery_id = %claimed.delivery.id, %error, "could not record a webhook attempt");
        }
    }
}
