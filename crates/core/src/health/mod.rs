//! Credential health: what test logins, checks and token logins find, turned into a status.
//! The rule and the write; `GET /v1/credentials/{id}/health` is `credentials::health`.
//!
//! Health is not an edit. A status change measured by a check or a token login is written
//! beside the credential (`HealthStore::observe_health`) without bumping its `version`: its
//! ETag holds, no change is fed to the replicas, and no cached token is dropped. Only what was
//! measured of the settings the credential still has counts: an observation of an older
//! version is dropped.
//!
//! - A success makes it `valid`, from any status, and forgets the failures.
//! - A refusal (the upstream turned the secret or grant down) makes it `invalid`, or
//!   `reauthorization_required` for a consent, at once.
//! - Transient trouble (unreachable, 5xx, 429, a time-out, an answer Latch cannot read) counts:
//!   after [`HealthPolicy::degraded_after`] in a row a `valid` or `unverified` credential
//!   becomes `degraded`, with the cause as its detail. A refused one stays refused: trouble
//!   reaching the upstream says nothing new about it.

use chrono::{DateTime, Utc};
use latch_connector::{ValidationOutcome, ValidationStatus};
use latch_store::{
    Credential, CredentialStatus, HealthCause, HealthChange, HealthNote, HealthState, HealthStep,
    NewAuditEvent, Store, StoreError, TaskFence,
};
use serde_json::{Value, json};

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::catalogue::made_by_consent;

/// When transient trouble turns into a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Failures in a row (checks and token logins) that make a credential `degraded`.
    pub degraded_after: u32,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self { degraded_after: 3 }
    }
}

/// What one measurement found.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The upstream accepted the credential; `identity` when the measurement named who it is.
    Healthy {
        detail: Option<String>,
        identity: Option<Value>,
    },
    /// The upstream could not be reached or erred: says nothing about the credential itself.
    Transient { detail: String },
    /// The upstream refused the credential's secret or grant.
    Refused { detail: String },
}

impl Finding {
    /// What a test login found.
    pub fn of(outcome: &ValidationOutcome) -> Self {
        match outcome.status {
            ValidationStatus::Valid => Finding::Healthy {
                detail: Some(outcome.detail.clone()),
                identity: outcome.identity.clone(),
            },
            ValidationStatus::Invalid => Finding::Refused {
                detail: outcome.detail.clone(),
            },
            ValidationStatus::Unreachable | ValidationStatus::Error => Finding::Transient {
                detail: outcome.detail.clone(),
            },
        }
    }
}

impl Finding {
    /// The audit event a refusal is recorded with (`credential.invalidated`), found `during`
    /// what; `None` for other findings, which the status history keeps.
    pub fn refusal_event(&self, credential: &Credential, during: &str) -> Option<NewAuditEvent> {
        let Finding::Refused { detail } = self else {
            return None;
        };
        Some(NewAuditEvent {
            org_id: Some(credential.org_id),
            actor_key_id: None,
            action: AuditAction::CredentialInvalidated.into(),
            target_type: "credential".into(),
            target_id: Some(credential.id.to_string()),
            outcome: AuditOutcome::Failure.into(),
            detail: json!({"during": during, "detail": detail}),
        })
    }
}

/// A measurement of a credential at one version, by one cause.
#[derive(Debug, Clone)]
pub struct Observation {
    pub finding: Finding,
    pub cause: HealthCause,
    pub at: DateTime<Utc>,
    /// Recorded with the write, whatever the status does.
    pub audit: Option<NewAuditEvent>,
}

/// The health a credential has after `observation`: the one rule every measurement follows.
pub fn next_state(
    current: &Credential,
    observation: &Observation,
    policy: HealthPolicy,
) -> HealthState {
    let mut state = HealthState::of(current);
    let at = observation.at;
    let measured_by_login = matches!(
        observation.cause,
        HealthCause::Validated | HealthCause::Checked | HealthCause::Token
    );
    match &observation.finding {
        Finding::Healthy { detail, identity } => {
            state.status = CredentialStatus::Valid;
            state.consecutive_failures = 0;
            state.last_failure = None;
            if let Some(detail) = detail {
                state.status_detail = Some(detail.clone());
            } else if current.status != CredentialStatus::Valid {
                state.status_detail = Some("the upstream handed out a token".into());
            }
            if identity.is_some() {
                state.identity = identity.clone();
            }
            if measured_by_login {
                state.validated_at = Some(at);
            }
            if observation.cause == HealthCause::Token {
                state.last_token_at = Some(at);
            }
        }
        Finding::Transient { detail } => {
            state.consecutive_failures = current.consecutive_failures.saturating_add(1);
            state.last_failure = Some(detail.clone());
            let may_degrade = matches!(
                current.status,
                CredentialStatus::Valid | CredentialStatus::Unverified | CredentialStatus::Degraded
            );
            if may_degrade && state.consecutive_failures >= i64::from(policy.degraded_after) {
                state.status = CredentialStatus::Degraded;
                state.status_detail = Some(detail.clone());
            }
        }
        Finding::Refused { detail } => {
            state.status = if made_by_consent(current) {
                CredentialStatus::ReauthorizationRequired
            } else {
                CredentialStatus::Invalid
            };
            state.status_detail = Some(detail.clone());
            state.consecutive_failures = current.consecutive_failures.saturating_add(1);
            state.last_failure = Some(detail.clone());
            state.identity = None;
            if measured_by_login {
                state.validated_at = Some(at);
            }
        }
    }
    if observation.cause == HealthCause::Checked {
        state.checked_at = Some(at);
    }
    if state.status != current.status {
        state.status_since = at;
    }
    state
}

/// Writes what `observation` found of `credential` (at its version), with the status change
/// and audit event, in one transaction. `None` when the credential is gone or was edited since
/// it was measured; `LeaseLost` when `fence` names a task lease no longer held.
pub async fn observe(
    store: &dyn Store,
    policy: HealthPolicy,
    credential: &Credential,
    observation: Observation,
    fence: Option<&TaskFence>,
) -> Result<Option<(Credential, Option<HealthChange>)>, StoreError> {
    let step = |current: &Credential| {
        let state = next_state(current, &observation, policy);
        let change = (state.status != current.status).then(|| HealthNote {
            cause: observation.cause,
            detail: state.status_detail.clone(),
        });
        Some(HealthStep {
            state,
            change,
            audit: observation.audit.clone(),
        })
    };
    let written = store
        .observe_health(
            credential.org_id,
            credential.id,
            credential.version,
            fence,
            &step,
        )
        .await?;
    if let Some((credential, Some(change))) = &written {
        tracing::info!(
            credential_id = %credential.id,
            from = change.from_status.as_deref().unwrap_or("none"),
            to = %change.to_status,
            cause = %change.cause,
            "credential status changed"
        );
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
