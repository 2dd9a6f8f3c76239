//! Webhooks as the store keeps them: the endpoints, and the outbox of their deliveries with each
//! attempt. Events are written by the store itself, inside the transaction of the change that
//! causes them ([`crate::outbox`]), so a change never lands without its event.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::SealedAppSecrets;

/// A webhook endpoint of an organization.
#[derive(Clone, PartialEq, FromRow)]
pub struct Webhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// A JSON array of event types; `None`: every event.
    pub events: Option<String>,
    pub enabled: bool,
    /// Why Latch turned the endpoint off, when it did.
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last delivered one.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs beside the new one.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub kek_id: String,
    pub wrapped_dek: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub secret_ct: Vec<u8>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sealed secrets are ciphertext, but a log has no use for them.
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The event types the endpoint hears; `None`: every one.
    pub fn event_types(&self) -> Option<Vec<String>> {
        self.events
            .as_deref()
            .and_then(|events| serde_json::from_str(events).ok())
    }

    /// Whether the endpoint hears events of `event_type`.
    pub fn hears(&self, event_type: &str) -> bool {
        self.event_types()
            .is_none_or(|types| types.iter().any(|wanted| wanted == event_type))
    }

    pub fn sealed(&self) -> SealedAppSecrets {
        SealedAppSecrets {
            kek_id: self.kek_id.clone(),
            wrapped_dek: self.wrapped_dek.clone(),
            secret_nonce: self.secret_nonce.clone(),
            secret_ct: self.secret_ct.clone(),
        }
    }
}

/// What a new endpoint stores.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    /// Its signing secret, sealed under a data key of its own.
    pub secrets: SealedAppSecrets,
}

/// The mutable fields of an endpoint, all written at once.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookChanges {
    pub url: String,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    /// `Some` replaces the sealed secrets (a rotation), with the old one's last day.
    pub secrets: Option<(SealedAppSecrets, Option<DateTime<Utc>>)>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or for its endpoint to be turned on again).
    Pending,
    /// An attempt was answered with a 2xx.
    Delivered,
    /// Retried until the horizon without success; `retry` tries again.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub org_id: Uuid,
    pub webhook_id: Uuid,
    /// The same for every endpoint and every attempt: the `webhook-id` header.
    pub event_id: Uuid,
    pub event_type: String,
    /// The body as sent, byte for byte.
    pub payload: String,
    /// [`DeliveryState::as_str`].
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub retry_since: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct DeliveryAttempt {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub at: DateTime<Utc>,
    /// The endpoint's answer; `None` when it gave none (refused, timed out).
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// When the next attempt is due; `None` after the last one.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A delivery taken under a lease, with its endpoint as it was when taken.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub webhook: Webhook,
}

/// What an attempt found, as the delivery loop writes it back.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: Uuid,
    pub webhook_id: Uuid,
    pub at: DateTime<Utc>,
    /// Since when the event has waited for this endpoint (the delivery's `retry_since`): a
    /// failure means the endpoint has failed since then, so a delivery given up at the
    /// horizon always finds its endpoint failing for the horizon too.
    pub waiting_since: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// What happens next to the delivery.
    pub next: AttemptNext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptNext {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Past the horizon: no more attempts.
    GiveUp,
}

/// What finishing an attempt did to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEffect {
    /// Written; the endpoint is as it was (or no longer failing).
    Recorded,
    /// Written, and the endpoint, failing since before the horizon, was turned off.
    Disabled,
}
