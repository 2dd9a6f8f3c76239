//! Handing tokens to jobs: the request, the answer, and what is recorded.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::audit_tally::IssuanceRecord;
use crate::broker::{TokenWish, token_digest};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::input::whole_number;
use crate::latch::Latch;
use crate::metrics::Issuance;

pub const DEFAULT_MIN_TTL: u64 = 300;
pub const MAX_MIN_TTL: u64 = 3000;

/// The longest `rejected_token` accepted.
const MAX_REJECTED_TOKEN_LEN: usize = 4096;

/// What a job asks for. The body may be empty: every field has a default.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"min_ttl_seconds": 600}))]
pub struct TokenRequest {
    /// The token returned has at least this many seconds left (0 to 3000, default 300).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 3000, default = 300)]
    pub min_ttl_seconds: Option<i64>,
    /// The upstream refused the job's token (401): do not hand that one out again. With
    /// `rejected_token`, a current token that is another one is handed out with no login, and
    /// only the rejected one is replaced (its upstream session is then logged out). Without
    /// it, a token obtained in the last 10 seconds counts as fresh: at most one forced login
    /// per credential per 10 seconds.
    #[schema(default = false)]
    pub force_refresh: Option<bool>,
    /// The token the upstream refused, as this API handed it out. Implies `force_refresh`.
    #[schema(min_length = 1, max_length = 4096, write_only)]
    pub rejected_token: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("min_ttl_seconds", &self.min_ttl_seconds)
            .field("force_refresh", &self.force_refresh)
            .field(
                "rejected_token",
                &self.rejected_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// An access token for the upstream. Use it as `Authorization: {token_type} {access_token}`
/// (`Bearer` for most upstreams).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "7hDqJ9sVbR2kWmXyZ4nP",
    "token_type": "Bearer",
    "expires_at": "2026-11-23T10:30:00Z",
    "expires_in": 3299,
    "metadata": {}
}))]
pub struct TokenResponse {
    pub access_token: String,
    /// The scheme the upstream named for the token, as it named it.
    #[schema(example = "Bearer")]
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    /// Seconds left, as of this answer.
    pub expires_in: i64,
    /// What jobs need besides the token, as the upstream gave it with the token (such as the
    /// instance URL every call must go to); never a secret. Empty when the connector keeps
    /// nothing.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
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
    state: &Latch,
    caller: &Caller,
    credential_id: Uuid,
    request: TokenRequest,
) -> Result<TokenResponse, CoreError> {
    caller.require(Scope::TokensIssue)?;
    let min_ttl = match request.min_ttl_seconds {
        None => DEFAULT_MIN_TTL,
        Some(seconds) => u64::try_from(seconds)
            .ok()
            .filter(|seconds| *seconds <= MAX_MIN_TTL)
            .ok_or_else(|| {
                CoreError::invalid_field(
                    "min_ttl_seconds",
                    format!("must be a whole number from 0 to {MAX_MIN_TTL}"),
                )
            })?,
    };
    let rejected = match request.rejected_token.map(Zeroizing::new) {
        Some(token) if token.is_empty() || token.len() > MAX_REJECTED_TOKEN_LEN => {
            return Err(CoreError::invalid_field(
                "rejected_token",
                format!("must be 1 to {MAX_REJECTED_TOKEN_LEN} characters"),
            ));
        }
        Some(token) => Some(token_digest(&token)),
        None => None,
    };
    let wish = TokenWish {
        min_ttl: Duration::from_secs(min_ttl),
        force_refresh: request.force_refresh.unwrap_or(false) || rejected.is_some(),
        rejected,
    };
    let result = state.broker.token(caller.org_id, credential_id, wish).await;
    let outcome = match &result {
        Ok(issued) => Some(issued.source),
        Err(CoreError::CredentialInvalid(_) | CoreError::ReconnectRequired(_)) => {
            Some(Issuance::Invalid)
        }
        Err(CoreError::Unavailable { .. }) => Some(Issuance::Unavailable),
        Err(CoreError::TokenTooShort(_)) => Some(Issuance::TooShort),
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
        token_type: issued.details.token_type.clone(),
        metadata: issued.details.metadata.clone(),
        expires_at: issued.expires_at,
        expires_in: (issued.expires_at - Utc::now()).num_seconds().max(0),
    })
}
