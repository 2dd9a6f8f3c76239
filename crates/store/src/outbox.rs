//! The events webhooks hear, as the store writes them into the outbox inside the transaction of
//! the change that causes each one. An event says what happened to which record and never
//! carries a secret, a token or a setting: ids, names, statuses and the detail Latch already
//! shows in its own answers.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{ConnectSession, ConnectSessionStatus, Credential, CredentialStatus};

pub const CREDENTIAL_CREATED: &str = "credential.created";
pub const CREDENTIAL_DELETED: &str = "credential.deleted";
pub const CREDENTIAL_DEGRADED: &str = "credential.degraded";
pub const CREDENTIAL_INVALID: &str = "credential.invalid";
pub const CREDENTIAL_REAUTHORIZATION_REQUIRED: &str = "credential.reauthorization_required";
pub const CREDENTIAL_RECOVERED: &str = "credential.recovered";
pub const CONNECT_SESSION_COMPLETED: &str = "connect_session.completed";
pub const CONNECT_SESSION_FAILED: &str = "connect_session.failed";
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
/// Sent by `POST /v1/webhooks/{id}/test` to that endpoint alone, whatever it subscribed to.
pub const WEBHOOK_TEST: &str = "webhook.test";

/// Every event type an endpoint can subscribe to.
pub const EVENT_TYPES: [&str; 9] = [
    CREDENTIAL_CREATED,
    CREDENTIAL_DELETED,
    CREDENTIAL_DEGRADED,
    CREDENTIAL_INVALID,
    CREDENTIAL_REAUTHORIZATION_REQUIRED,
    CREDENTIAL_RECOVERED,
    CONNECT_SESSION_COMPLETED,
    CONNECT_SESSION_FAILED,
    WEBHOOK_DISABLED,
];

/// An event on its way into the outbox: one delivery per endpoint that hears it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub org_id: Uuid,
    pub event_type: &'static str,
    /// The body every endpoint receives, byte for byte (the signature covers these bytes).
    pub payload: String,
}

impl OutboxEvent {
    fn new(org_id: Uuid, event_type: &'static str, at: DateTime<Utc>, data: Value) -> Self {
        let body = json!({
            "type": event_type,
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        });
        Self {
            id: Uuid::now_v7(),
            org_id,
            event_type,
            payload: body.to_string(),
        }
    }
}

/// The event a change of a credential's status is, if any: broken one way or another, or
/// `valid` again after being broken. Becoming `unverified` (an edit) or `valid` from
/// `unverified` is no news.
pub fn health_event_type(
    from: Option<CredentialStatus>,
    to: CredentialStatus,
) -> Option<&'static str> {
    use CredentialStatus::*;
    match (from, to) {
        (None, _) => Some(CREDENTIAL_CREATED),
        (Some(from), to) if from == to => None,
        (_, Degraded) => Some(CREDENTIAL_DEGRADED),
        (_, Invalid) => Some(CREDENTIAL_INVALID),
        (_, ReauthorizationRequired) => Some(CREDENTIAL_REAUTHORIZATION_REQUIRED),
        (Some(Degraded | Invalid | ReauthorizationRequired), Valid) => Some(CREDENTIAL_RECOVERED),
        _ => None,
    }
}

fn credential_data(
    credential: &Credential,
    previous: Option<CredentialStatus>,
    detail: Option<&str>,
) -> Value {
    json!({
        "id": credential.id,
        "name": credential.name,
        "connector": credential.connector,
        "status": credential.status.as_str(),
        "previous_status": previous.map(|status| status.as_str()),
        "detail": detail,
    })
}

/// A credential event: made, deleted, or its status changed from `previous`.
pub fn credential_event(
    event_type: &'static str,
    credential: &Credential,
    previous: Option<CredentialStatus>,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent::new(
        credential.org_id,
        event_type,
        at,
        json!({
            "organization_id": credential.org_id,
            "credential": credential_data(credential, previous, detail),
        }),
    )
}

/// A consent that ended: completed into `credential` (made or renewed), or failed.
pub fn connect_session_event(
    session: &ConnectSession,
    credential: Option<&Credential>,
    at: DateTime<Utc>,
) -> OutboxEvent {
    let event_type = match session.status {
        ConnectSessionStatus::Failed => CONNECT_SESSION_FAILED,
        _ => CONNECT_SESSION_COMPLETED,
    };
    OutboxEvent::new(
        session.org_id,
        event_type,
        at,
        json!({
            "organization_id": session.org_id,
            "connect_session": {
                "id": session.id,
                "connector": session.connector,
                "name": session.name,
                "status": session.status.as_str(),
                "error": session.error,
            },
            "credential": credential.map(|credential| credential_data(
                credential,
                None,
                credential.status_detail.as_deref(),
            )),
        }),
    )
}

/// An endpoint was turned off: `webhook.disabled` (to the organization's other endpoints), or
/// the test event to the endpoint itself.
pub fn webhook_event(
    event_type: &'static str,
    org_id: Uuid,
    webhook_id: Uuid,
    url: &str,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent::new(
        org_id,
        event_type,
        at,
        json!({
            "organization_id": org_id,
            "webhook": {"id": webhook_id, "url": url, "reason": reason},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialStatus::*;

    #[test]
    fn a_status_change_is_an_event_only_when_it_breaks_or_mends_a_credential() {
        assert_eq!(
            health_event_type(None, Unverified),
            Some(CREDENTIAL_CREATED)
        );
        assert_eq!(
            health_event_type(Some(Valid), Degraded),
            Some(CREDENTIAL_DEGRADED)
        );
        assert_eq!(
            health_event_type(Some(Degraded), Invalid),
            Some(CREDENTIAL_INVALID)
        );
        assert_eq!(
            health_event_type(Some(Valid), ReauthorizationRequired),
            Some(CREDENTIAL_REAUTHORIZATION_REQUIRED)
        );
        for broken in [Degraded, Invalid, ReauthorizationRequired] {
            assert_eq!(
                health_event_type(Some(broken), Valid),
                Some(CREDENTIAL_RECOVERED)
            );
        }
        assert_eq!(health_event_type(Some(Unverified), Valid), None);
        assert_eq!(health_event_type(Some(Invalid), Unverified), None);
        assert_eq!(health_event_type(Some(Degraded), Degraded), None);
    }
}
