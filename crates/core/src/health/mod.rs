//! Credential health: what test logins, checks and token logins find, turned into a status.
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
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::callers::{Caller, Scope};
use crate::catalogue::made_by_consent;
use crate::credentials::CredentialStatusView;
use crate::error::CoreError;
use crate::latch::Latch;

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

/// How many recent status changes `GET /v1/credentials/{id}/health` shows.
pub const RECENT_CHANGES: i64 = 50;

/// A credential's health: its status, since when, and how it got there.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialHealthView {
    pub credential_id: Uuid,
    pub status: CredentialStatusView,
    pub status_detail: Option<String>,
    /// When it took this status.
    pub since: DateTime<Utc>,
    /// Checks and token logins that failed since the last success.
    pub consecutive_failures: i64,
    /// Why the last of those failed.
    pub last_failure: Option<String>,
    /// When an upstream last handed out a token for it.
    pub last_token_at: Option<DateTime<Utc>>,
    /// When a test login, a check or a token login last proved or refused it.
    pub validated_at: Option<DateTime<Utc>>,
    /// Its latest status changes, newest first (at most 50).
    pub changes: Vec<HealthChangeView>,
}

/// One change of a credential's status.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChangeView {
    /// `null` for the status it was saved with.
    pub from: Option<String>,
    pub to: String,
    /// Why, in the upstream's or Latch's words.
    pub detail: Option<String>,
    /// What measured it: `created`, `edited`, `reconnected`, `validated` (a test login someone
    /// asked for), `checked` (a scheduled check) or `token` (a login for a token).
    #[schema(example = "token")]
    pub cause: String,
    pub at: DateTime<Utc>,
}

impl From<HealthChange> for HealthChangeView {
    fn from(change: HealthChange) -> Self {
        Self {
            from: change.from_status,
            to: change.to_status,
            detail: change.detail,
            cause: change.cause,
            at: change.at,
        }
    }
}

/// `GET /v1/credentials/{id}/health`.
pub async fn credential_health(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<CredentialHealthView, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    let credential = state
        .store
        .get_credential(caller.org_id, id)
        .await?
        .ok_or_else(|| CoreError::no_such("credential"))?;
    let changes = state
        .store
        .health_changes(caller.org_id, id, RECENT_CHANGES)
        .await?;
    Ok(CredentialHealthView {
        credential_id: credential.id,
        status: credential.status.into(),
        status_detail: credential.status_detail,
        since: credential.status_since,
        consecutive_failures: credential.consecutive_failures,
        last_failure: credential.last_failure,
        last_token_at: credential.last_token_at,
        validated_at: credential.validated_at,
        changes: changes.into_iter().map(Into::into).collect(),
    })
}

#[cfg(test)]
mod tests;
