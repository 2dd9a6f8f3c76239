//! Handing tokens to jobs: the request, the answer, and what is recorded.

use std::time::Duration;

use chrono::{DateTime, Utc};
use latch_store::now;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Caller, Scope};
use crate::broker::TokenWish;
use crate::error::ApiError;
use crate::issuance_log::IssuanceRecord;
use crate::metrics::Issuance;
use crate::state::AppState;

pub const DEFAULT_MIN_TTL: u64 = 300;
pub const MAX_MIN_TTL: u64 = 3000;

/// What a job asks for. The body may be empty: every field has a default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"min_ttl_seconds": 600}))]
pub struct TokenRequest {
    /// The token returned has at least this many seconds left (0 to 3000, default 300).
    #[schema(minimum = 0, maximum = 3000, default = 300)]
    pub min_ttl_seconds: Option<i64>,
    /// The upstream refused the last token (401): hand out one obtained after this request.
    #[schema(default = false)]
    pub force_refresh: Option<bool>,
}

/// An access token for the upstream. Use it as `Authorization: Bearer {access_token}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "7hDqJ9sVbR2kWmXyZ4nP",
    "token_type": "Bearer",
    "expires_at": "2026-11-23T10:30:00Z",
    "expires_in": 3299
}))]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    /// Seconds left, as of this answer.
    pub expires_in: i64,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A token of the caller's credential `credential_id`, recorded in the metrics and, in
/// batches, in the audit trail.
pub async fn issue_token(
    state: &AppState,
    caller: &Caller,
    credential_id: Uuid,
    request: TokenRequest,
) -> Result<TokenResponse, ApiError> {
    caller.require(Scope::TokensIssue)?;
    let min_ttl = match request.min_ttl_seconds {
        None => DEFAULT_MIN_TTL,
        Some(seconds) => u64::try_from(seconds)
            .ok()
            .filter(|seconds| *seconds <= MAX_MIN_TTL)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "min_ttl_seconds",
                    format!("must be a whole number from 0 to {MAX_MIN_TTL}"),
                )
            })?,
    };
    let wish = TokenWish {
        min_ttl: Duration::from_secs(min_ttl),
        force_refresh: request.force_refresh.unwrap_or(false),
    };
    let result = state
        .broker
        .token(state, caller.org_id, credential_id, wish)
        .await;
    let outcome = match &result {
        Ok(issued) => Some(issued.source),
        Err(ApiError::CredentialInvalid(_)) => Some(Issuance::Invalid),
        Err(ApiError::Unavailable { .. }) => Some(Issuance::Unavailable),
        Err(ApiError::TokenTooShort(_)) => Some(Issuance::TooShort),
        Err(_) => None,
    };
    if let Some(outcome) = outcome {
        state.broker.metrics.issuance(outcome);
        state.issuances.record(IssuanceRecord {
            org_id: caller.org_id,
            key_id: caller.key_id,
            credential_id,
            outcome,
        });
    }
    let issued = result?;
    Ok(TokenResponse {
        access_token: latch_vault::ExposeSecret::expose_secret(&issued.token).to_string(),
        token_type: "Bearer",
        expires_at: issued.expires_at,
        expires_in: (issued.expires_at - now()).num_seconds().max(0),
    })
}
