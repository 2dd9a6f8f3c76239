//! Credential health as the store keeps it: the health columns of a credential, written
//! without an edit (no `version` bump, no change-feed entry), and the history of its status.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Credential, CredentialStatus, NewAuditEvent};

/// What measured a credential's health, kept with each change of its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCause {
    /// It was saved (its first status).
    Created,
    /// Its settings were edited: what was known about the old ones no longer holds.
    Edited,
    /// A person consented again.
    Reconnected,
    /// Someone asked for a test login (`POST /v1/credentials/{id}/validate`).
    Validated,
    /// The background worker's scheduled check.
    Checked,
    /// A login for a token (a job's request, or a refresh ahead of expiry).
    Token,
}

impl HealthCause {
    pub const ALL: [HealthCause; 6] = [
        HealthCause::Created,
        HealthCause::Edited,
        HealthCause::Reconnected,
        HealthCause::Validated,
        HealthCause::Checked,
        HealthCause::Token,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthCause::Created => "created",
            HealthCause::Edited => "edited",
            HealthCause::Reconnected => "reconnected",
            HealthCause::Validated => "validated",
            HealthCause::Checked => "checked",
            HealthCause::Token => "token",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|cause| cause.as_str() == text)
    }
}

/// The health columns of a credential, written whole.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthState {
    pub status: CredentialStatus,
    pub status_detail: Option<String>,
    pub status_since: DateTime<Utc>,
    pub consecutive_failures: i64,
    pub last_failure: Option<String>,
    pub identity: Option<Value>,
    pub validated_at: Option<DateTime<Utc>>,
    pub last_token_at: Option<DateTime<Utc>>,
}

impl HealthState {
    /// The health a credential has now.
    pub fn of(credential: &Credential) -> Self {
        Self {
            status: credential.status,
            status_detail: credential.status_detail.clone(),
            status_since: credential.status_since,
            consecutive_failures: credential.consecutive_failures,
            last_failure: credential.last_failure.clone(),
            identity: credential.identity.clone(),
            validated_at: credential.validated_at,
            last_token_at: credential.last_token_at,
        }
    }
}

/// A health write: the new columns, and what to record beside them in the same transaction.
#[derive(Debug, Clone)]
pub struct HealthStep {
    pub state: HealthState,
    /// Why the status changed, when it did (`from` and `to` are taken from the row).
    pub change: Option<HealthNote>,
    pub audit: Option<NewAuditEvent>,
}

/// Why a status changed, and what measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthNote {
    pub cause: HealthCause,
    pub detail: Option<String>,
}

/// How an edit leaves a credential's health: what a test login of its new settings found,
/// or nothing known (`unverified`). Failures are forgotten with the old settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReset {
    pub status: CredentialStatus,
    pub status_detail: Option<String>,
    pub identity: Option<Value>,
    pub validated_at: Option<DateTime<Utc>>,
}

/// One change of a credential's status.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct HealthChange {
    pub id: Uuid,
    pub org_id: Uuid,
    pub credential_id: Uuid,
    /// `None` for the status it was saved with.
    pub from_status: Option<String>,
    pub to_status: String,
    pub detail: Option<String>,
    /// [`HealthCause::as_str`].
    pub cause: String,
    pub at: DateTime<Utc>,
}

/// A task lease a health write depends on: the write is refused once `owner` no longer holds
/// `task` (see `HealthStore::observe_health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFence {
    pub task: String,
    pub owner: String,
}

/// A background task as its lease row has it.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct TaskLease {
    pub task: String,
    pub owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
}

/// How many credentials of one connector have one status.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct CensusRow {
    pub connector: String,
    pub status: String,
    pub count: i64,
}
