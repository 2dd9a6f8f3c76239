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
    pub checked_at: Option<DateTime<Utc>>,
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
            checked_at: credential.checked_at,
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

/// The tables housekeeping trims by age: rows keyed by UUIDv7, so their ids follow their time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryTable {
    AuditEvents,
    HealthChanges,
    /// Finished webhook deliveries, with their attempts.
    WebhookDeliveries,
}

impl HistoryTable {
    pub fn name(self) -> &'static str {
        match self {
            HistoryTable::AuditEvents => "audit_events",
            HistoryTable::HealthChanges => "credential_health_changes",
            HistoryTable::WebhookDeliveries => "webhook_deliveries",
        }
    }
}

/// The smallest UUIDv7 of the millisecond `at`: every id made at or after it is greater.
pub fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_of_a_millisecond_sorts_between_the_ids_made_before_and_after_it() {
        let before = Uuid::now_v7();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let bound = first_id_at(Utc::now());
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = Uuid::now_v7();
        assert!(before < bound && bound < after, "{before} {bound} {after}");
        assert_eq!(bound.get_version_num(), 7);
        // As bytes too, which is how SQLite compares the blobs.
        assert!(before.as_bytes() < bound.as_bytes() && bound.as_bytes() < after.as_bytes());
    }
}
