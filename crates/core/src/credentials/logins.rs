//! Test logins: a credential's settings tried against its upstream, by whoever asks (a
//! person through the API, or the background worker's scheduled check).

use latch_connector::{Connector, Fields, SecretFields, ValidationOutcome, ValidationStatus};
use latch_store::{Credential, NewAuditEvent};
use latch_vault::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use super::outcome_detail;
use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::broker::{Asker, TokenWish, token_digest};
use crate::callers::Caller;
use crate::catalogue::made_by_consent;
use crate::error::CoreError;
use crate::latch::Latch;

/// Who a test login is for: the organization, and the API key that asked (none for the
/// background worker).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actor {
    pub org_id: Uuid,
    pub key_id: Option<Uuid>,
}

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        Self {
            org_id: caller.org_id,
            key_id: Some(caller.key_id),
        }
    }
}

/// What a test login of a saved credential finds now: its settings tried (an API key), or a
/// token through the broker and who it acts for (a consent).
pub(crate) async fn measure(
    state: &Latch,
    credential: &Credential,
    actor: Actor,
) -> Result<ValidationOutcome, CoreError> {
    let connector = state.secrets.connector_of(credential)?;
    let config = credential.config.as_object().cloned().unwrap_or_default();
    Ok(if made_by_consent(credential) {
        oauth_check(state, connector, credential, &config).await
    } else {
        let secrets = state.secrets.open(credential)?;
        test_login(
            state,
            actor,
            connector,
            &config,
            &secrets,
            Some(credential.id),
        )
        .await
    })
}

/// Records an event outside any other write; a failure to record is logged, not fatal.
pub(super) async fn record(state: &Latch, event: NewAuditEvent) {
    if let Err(error) = state.store.record_audit_event(&event).await {
        tracing::error!(%error, action = %event.action, "could not record an audit event");
    }
}

/// A test login through the egress client. A call the egress policy refused is logged and
/// recorded on its own, whatever the caller does with the outcome.
pub(super) async fn test_login(
    state: &Latch,
    actor: Actor,
    connector: &dyn Connector,
    config: &Fields,
    secrets: &SecretFields,
    target: Option<Uuid>,
) -> ValidationOutcome {
    let egress = state.egress.for_ports(connector.ports());
    let outcome = connector.test_login(&egress, config, secrets).await;
    if outcome.blocked {
        let host = connector
            .host_field()
            .and_then(|field| config.get(field))
            .cloned()
            .unwrap_or(Value::Null);
        tracing::warn!(%host, detail = %outcome.detail, "egress refused");
        record(
            state,
            NewAuditEvent {
                org_id: Some(actor.org_id),
                actor_key_id: actor.key_id,
                action: AuditAction::EgressBlocked.into(),
                target_type: "credential".into(),
                target_id: target.map(|id| id.to_string()),
                outcome: AuditOutcome::Failure.into(),
                detail: json!({"host": host, "detail": outcome.detail}),
            },
        )
        .await;
    }
    outcome
}

/// Records a test login that was refused and turns it into the 422 the caller gets.
pub(super) async fn rejected(
    state: &Latch,
    caller: &Caller,
    target: Option<Uuid>,
    outcome: &ValidationOutcome,
    during: &str,
    name: &str,
) -> CoreError {
    let mut detail = outcome_detail(outcome, during);
    detail["name"] = json!(name);
    record(
        state,
        NewAuditEvent {
            org_id: Some(caller.org_id),
            actor_key_id: Some(caller.key_id),
            action: AuditAction::CredentialValidated.into(),
            target_type: "credential".into(),
            target_id: target.map(|id| id.to_string()),
            outcome: AuditOutcome::Failure.into(),
            detail,
        },
    )
    .await;
    CoreError::CredentialRejected(outcome.into())
}

/// An OAuth credential's test: a token through the broker (refreshed when needed, under the
/// same rules as for jobs), then who it acts for.
async fn oauth_check(
    state: &Latch,
    connector: &dyn Connector,
    credential: &Credential,
    config: &Fields,
) -> ValidationOutcome {
    let failed = |status, detail: String| ValidationOutcome {
        status,
        detail,
        identity: None,
        retry_after: None,
        blocked: false,
    };
    let Some(flow) = connector.oauth() else {
        return failed(
            ValidationStatus::Error,
            "the connector no longer offers OAuth".into(),
        );
    };
    let unanswered = |error: CoreError| match error {
        CoreError::CredentialInvalid(detail) | CoreError::ReconnectRequired(detail) => {
            failed(ValidationStatus::Invalid, detail)
        }
        CoreError::Unavailable { detail, .. } => failed(ValidationStatus::Unreachable, detail),
        other => failed(ValidationStatus::Error, other.to_string()),
    };
    // Latch's own use: not a job's demand, so nothing is refreshed ahead for it.
    let (org_id, id) = (credential.org_id, credential.id);
    let any = TokenWish {
        min_ttl: std::time::Duration::ZERO,
        force_refresh: false,
        rejected: None,
    };
    let issued = match state
        .broker
        .token_for_latch(org_id, id, any, Asker::Check)
        .await
    {
        Ok(issued) => issued,
        Err(error) => return unanswered(error),
    };
    let egress = state.egress.for_ports(connector.ports());
    let outcome = flow.identify(&egress, config, &issued.token).await;
    if matches!(
        outcome.status,
        ValidationStatus::Valid | ValidationStatus::Unreachable
    ) {
        return outcome;
    }
    // The upstream turned this access token down (revoked, logged out, expired early): only a
    // refresh says whether the grant itself still holds.
    let another = TokenWish {
        min_ttl: std::time::Duration::ZERO,
        force_refresh: true,
        rejected: Some(token_digest(issued.token.expose_secret())),
    };
    match state
        .broker
        .token_for_latch(org_id, id, another, Asker::Check)
        .await
    {
        Ok(fresh) => flow.identify(&egress, config, &fresh.token).await,
        Err(error) => unanswered(error),
    }
}
