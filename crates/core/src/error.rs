//! What a use case can answer besides success. Every variant has a stable code that programs
//! match on (the HTTP layer puts it in the problem document's `type`), and no variant carries
//! a secret: messages are composed details, and an internal cause is logged, never shown.

use latch_connector::{FieldError, ValidationOutcome};
use latch_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A parameter that could not be read at all (a query parameter, a cursor).
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Fields that were read but are not valid, every one listed.
    #[error("{} field(s) are not valid", .0.len())]
    Validation(Vec<FieldError>),
    /// The caller presented no key this server knows, or a revoked one.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failed authentications from the caller's address.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// The caller's key lacks a scope.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing with this id in the caller's organisation.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Still used by what `used_by` lists.
    #[error("{detail}")]
    InUse {
        detail: String,
        used_by: Vec<UsedBy>,
    },
    /// The resource is no longer at the version the caller read.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The test login did not succeed; nothing was stored.
    #[error("the test login failed ({}): {}", .0.status, .0.detail)]
    CredentialRejected(OutcomeView),
    /// The upstream refuses the credential.
    #[error("{0}")]
    CredentialInvalid(String),
    /// The upstream no longer accepts the OAuth grant: a person must consent again.
    #[error("{0}")]
    ReconnectRequired(String),
    /// The upstream's tokens live shorter than the job asked for.
    #[error("{0}")]
    TokenTooShort(String),
    /// The upstream (or another replica's login) cannot answer now.
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after: Option<u64>,
    },
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl CoreError {
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        CoreError::BadRequest {
            detail: format!("`{field}` {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    }

    /// A name another `noun` of the organization has, under the folded form names are
    /// compared by ([`latch_store::folded_name`]).
    pub fn name_taken(noun: &str, name: &str) -> Self {
        CoreError::Conflict(format!(
            "{noun} named `{name}` already exists in your organization, or one whose name \
             differs from it only in case or white space"
        ))
    }

    /// No `noun` (`credential`, `OAuth app`, ...) with the id asked for in the caller's
    /// organization: one answer whether it never existed or is another organization's.
    pub fn no_such(noun: &str) -> Self {
        CoreError::NotFound(format!("no {noun} with this id in your organization"))
    }

    /// A write whose `noun` moved to version `current` before it landed: 412 when the caller
    /// named the version it expected (`If-Match`), 409 (retry) when it did not.
    pub fn changed_meanwhile(noun: &str, current: i64, if_match: Option<i64>) -> Self {
        match if_match {
            Some(_) => CoreError::PreconditionFailed(format!(
                "the {noun} changed meanwhile and is now at version {current}"
            )),
            None => CoreError::Conflict(format!(
                "the {noun} changed while this request was applied (now version {current}); retry"
            )),
        }
    }

    /// `Ok` unless the caller named (`If-Match`) a version of `noun` other than `current`.
    pub fn check_version(noun: &str, current: i64, if_match: Option<i64>) -> Result<(), Self> {
        match if_match {
            Some(expected) if expected != current => Err(CoreError::PreconditionFailed(format!(
                "the {noun} is at version {current}, not {expected}; read it again and retry"
            ))),
            _ => Ok(()),
        }
    }

    /// A deletion that named a version `noun` is no longer at.
    pub fn stale_version(noun: &str, current: i64) -> Self {
        CoreError::PreconditionFailed(format!(
            "the {noun} is at version {current}; read it again and retry"
        ))
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        CoreError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        CoreError::Internal(cause.to_string())
    }

    /// The stable code of this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::BadRequest { .. } => "bad_request",
            CoreError::Validation(_) => "validation_failed",
            CoreError::Unauthorized(_) => "unauthorized",
            CoreError::TooManyRequests { .. } => "too_many_requests",
            CoreError::Forbidden(_) => "forbidden",
            CoreError::NotFound(_) => "not_found",
            CoreError::Conflict(_) => "conflict",
            CoreError::InUse { .. } => "in_use",
            CoreError::PreconditionFailed(_) => "precondition_failed",
            CoreError::CredentialRejected(_) => "credential_rejected",
            CoreError::CredentialInvalid(_) => "credential_invalid",
            CoreError::ReconnectRequired(_) => "reconnect_required",
            CoreError::TokenTooShort(_) => "token_lifetime_too_short",
            CoreError::Unavailable { .. } => "unavailable",
            CoreError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => CoreError::NotFound("no such resource".into()),
            StoreError::Conflict => CoreError::Conflict("the resource already exists".into()),
            StoreError::InUse => {
                CoreError::Conflict("the resource is still in use; retry once it is not".into())
            }
            StoreError::VersionMismatch { current } => CoreError::PreconditionFailed(format!(
                "the resource is at version {current}; read it again and retry"
            )),
            StoreError::UnstorableText => CoreError::invalid_field(
                "body",
                "a text value holds a character that cannot be stored (such as NUL)",
            ),
            other => CoreError::internal(other),
        }
    }
}

/// A data source or destination that uses a credential.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsedBy {
    pub id: uuid::Uuid,
    /// `source` or `destination`.
    #[schema(example = "source")]
    pub kind: &'static str,
    pub name: String,
}

impl From<&latch_store::DataSource> for UsedBy {
    fn from(source: &latch_store::DataSource) -> Self {
        Self {
            id: source.id,
            kind: source.kind.as_str(),
            name: source.name.clone(),
        }
    }
}

/// The outcome of a test login.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "status": "invalid",
    "detail": "Looker refused the client ID / secret; check the API key (Admin > Users > Edit Keys) and that it is enabled"
}))]
pub struct OutcomeView {
    /// `valid`, `invalid` (refused), `unreachable` (DNS, connect, TLS, timeout, blocked address)
    /// or `error` (the upstream answered with an error or nonsense).
    #[schema(example = "invalid")]
    pub status: &'static str,
    /// What happened and what to fix, for people.
    pub detail: String,
    /// The upstream user the credential logs in as (valid only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub identity: Option<serde_json::Value>,
    /// Seconds the upstream asked to wait before trying again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl From<&ValidationOutcome> for OutcomeView {
    fn from(outcome: &ValidationOutcome) -> Self {
        Self {
            status: outcome.status.as_str(),
            detail: outcome.detail.clone(),
            identity: outcome.identity.clone(),
            retry_after: outcome.retry_after,
        }
    }
}
