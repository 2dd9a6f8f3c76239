//! What the webhook use cases take and answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::input::normalized;

/// The event types, for the document.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum WebhookEventType {
    #[serde(rename = "credential.created")]
    CredentialCreated,
    #[serde(rename = "credential.deleted")]
    CredentialDeleted,
    #[serde(rename = "credential.degraded")]
    CredentialDegraded,
    #[serde(rename = "credential.invalid")]
    CredentialInvalid,
    #[serde(rename = "credential.reauthorization_required")]
    CredentialReauthorizationRequired,
    #[serde(rename = "credential.recovered")]
    CredentialRecovered,
    #[serde(rename = "connect_session.completed")]
    ConnectSessionCompleted,
    #[serde(rename = "connect_session.failed")]
    ConnectSessionFailed,
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
}

/// Deserialises a field that may be sent as `null`: absent is `None`, `null` is
/// `Some(Value::Null)`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.example.com/latch",
    "description": "Pages the data team",
    "events": ["credential.invalid", "credential.reauthorization_required", "credential.recovered"],
}))]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: https, a public address (as for connectors), no redirects.
    /// The pattern is what every deployment takes (https on the default port, a host name
    /// whose last label starts with a letter); an operator may open http and other ports.
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 2000, message = "must be 1 to 2000 characters")
    )]
    #[schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 2000, pattern = "^https://([a-z0-9]+\\.)*[a-z][a-z0-9]*(/[A-Za-z0-9._~/-]*)?$")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// The event types the endpoint hears; left out or `null`: every one.
    #[serde(default)]
    #[schema(value_type = Option<Vec<WebhookEventType>>, min_items = 1)]
    pub events: Option<Value>,
}

/// Only the fields sent change.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": true}))]
pub struct UpdateWebhookRequest {
    #[serde(default, deserialize_with = "normalized")]
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "^https://([a-z0-9]+\\.)*[a-z][a-z0-9]*(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Replaces the event types; `null`: every one.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<WebhookEventType>>, min_items = 1)]
    pub events: Option<Value>,
    /// `true` turns on an endpoint Latch turned off, and sends what waited meanwhile.
    pub enabled: Option<bool>,
}

/// A webhook endpoint. Its signing secret is shown only when made or rotated.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e91",
    "url": "https://hooks.example.com/latch",
    "description": "Pages the data team",
    "events": ["credential.invalid", "credential.reauthorization_required", "credential.recovered"],
    "enabled": true,
    "disabled_reason": null,
    "failing_since": null,
    "previous_secret_expires_at": null,
    "created_at": "2026-12-02T10:00:00Z",
    "updated_at": "2026-12-02T10:00:00Z",
    "version": 1
}))]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// `null`: every event type.
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    /// Why Latch turned the endpoint off.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs beside the new one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A new endpoint, or a rotated secret: the signing secret, shown this once.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "webhook": {
        "id": "019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e91",
        "url": "https://hooks.example.com/latch",
        "description": null,
        "events": null,
        "enabled": true,
        "disabled_reason": null,
        "failing_since": null,
        "previous_secret_expires_at": null,
        "created_at": "2026-12-02T10:00:00Z",
        "updated_at": "2026-12-02T10:00:00Z",
        "version": 1
    },
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
}))]
pub struct WebhookWithSecret {
    pub webhook: WebhookView,
    /// Verifies `webhook-signature` (Standard Webhooks); never shown again.
    pub secret: String,
}

impl std::fmt::Debug for WebhookWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWithSecret")
            .field("webhook", &self.webhook)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptView {
    pub at: DateTime<Utc>,
    /// The endpoint's answer; `null` when it gave none.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// What went wrong, when something did.
    pub error: Option<String>,
    /// When the next attempt is due; `null` after the last.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// One event on its way to the endpoint, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-9b1b-7c2d-8e3f-4a5b6c7d8e92",
    "event_id": "019a8f0e-9b1a-7c2d-8e3f-4a5b6c7d8e93",
    "event_type": "credential.invalid",
    "state": "pending",
    "next_attempt_at": "2026-12-02T10:00:10Z",
    "created_at": "2026-12-02T10:00:00Z",
    "finished_at": null,
    "payload": {"type": "credential.invalid", "timestamp": "2026-12-02T10:00:00.000Z", "data": {}},
    "attempts": [{"at": "2026-12-02T10:00:00Z", "status_code": 503, "latency_ms": 41,
                  "error": "the endpoint answered 503", "next_attempt_at": "2026-12-02T10:00:10Z"}]
}))]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id` header: the same on every attempt.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (retried until the horizon).
    pub state: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The event as sent.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub attempts: Vec<DeliveryAttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_output_of_a_shown_secret_does_not_hold_it() {
        let now = Utc::now();
        let shown = WebhookWithSecret {
            webhook: WebhookView {
                id: Uuid::nil(),
                url: "https://hooks.example.com/".into(),
                description: None,
                events: None,
                enabled: true,
                disabled_reason: None,
                failing_since: None,
                previous_secret_expires_at: None,
                created_at: now,
                updated_at: now,
                version: 1,
            },
            secret: "whsec_c2VjcmV0LWJ5dGVzLXRoYXQtbXVzdC1ub3QtbGVhaw==".into(),
        };
        let debug = format!("{shown:?}");
        assert!(!debug.contains("whsec_"), "{debug}");
        assert!(debug.contains("hooks.example.com"), "{debug}");
    }
}
