//! `GET /v1/credentials/{id}/health`: a credential's health and its latest status changes.

use chrono::{DateTime, Utc};
use latch_store::HealthChange;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CredentialStatusView, stored};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::latch::Latch;

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
    /// When a scheduled check last ran for it, whatever it found.
    pub checked_at: Option<DateTime<Utc>>,
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
    let credential = stored(state, caller, id).await?;
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
        checked_at: credential.checked_at,
        changes: changes.into_iter().map(Into::into).collect(),
    })
}
