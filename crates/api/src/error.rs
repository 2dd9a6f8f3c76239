//! One error type for the whole API, rendered as RFC 9457 problem+json.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use latch_connector::{FieldError, ValidationOutcome};
use latch_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:latch:problem:validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "2 fields are not valid",
    "errors": [
        {"field": "name", "message": "is required"},
        {"field": "config.api_host_url", "message": "must use https (plain http is not allowed on this server)"}
    ]
}))]
pub struct Problem {
    /// A URN naming the kind of problem; stable, for programs to match on.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// One entry per bad field, all at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// What still uses the resource that could not be deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Vec<UsedBy>>,
    /// How the test login ended, when the upstream refused or could not be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeView>,
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

/// A problem with one field, named by its path in the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProblemField {
    #[schema(example = "config.api_host_url")]
    pub field: String,
    #[schema(example = "must not be empty")]
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field,
            message: error.message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{detail}")]
    Unauthorized { detail: String, invalid_token: bool },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// Still used by what `used_by` lists.
    #[error("{detail}")]
    InUse {
        detail: String,
        used_by: Vec<UsedBy>,
    },
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{} field(s) are not valid", .0.len())]
    Validation(Vec<FieldError>),
    /// The test login did not succeed; nothing was stored.
    #[error("the test login failed ({}): {}", .0.status, .0.detail)]
    CredentialRejected(OutcomeView),
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after: Option<u64>,
    },
    /// Too many failed authentications from the caller's address.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// The upstream refuses the credential.
    #[error("{0}")]
    CredentialInvalid(String),
    /// The upstream's tokens live shorter than the job asked for.
    #[error("{0}")]
    TokenTooShort(String),
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest {
            detail: format!("`{field}` {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::InUse { .. } => "in_use",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::CredentialRejected(_) => "credential_rejected",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::CredentialInvalid(_) => "credential_invalid",
            ApiError::TokenTooShort(_) => "token_lifetime_too_short",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let (detail, errors) = match self {
            ApiError::BadRequest { detail, errors } => (detail.clone(), errors.clone()),
            ApiError::Validation(errors) => (
                match errors.as_slice() {
                    [only] => format!("`{}` {}", only.field, only.message),
                    _ => format!("{} fields are not valid", errors.len()),
                },
                errors.clone(),
            ),
            ApiError::Internal(_) => (
                "the server could not complete the request; it has been logged".to_string(),
                Vec::new(),
            ),
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            problem_type: format!("urn:latch:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            errors: errors.into_iter().map(ProblemField::from).collect(),
            outcome: match self {
                ApiError::CredentialRejected(outcome) => Some(outcome.clone()),
                _ => None,
            },
            used_by: match self {
                ApiError::InUse { used_by, .. } => Some(used_by.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::InUse { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::CredentialRejected(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::CredentialInvalid(_) => StatusCode::CONFLICT,
            ApiError::TokenTooShort(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let ApiError::Unavailable {
            retry_after: Some(seconds),
            ..
        }
        | ApiError::TooManyRequests {
            retry_after: seconds,
            ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let ApiError::Unauthorized { invalid_token, .. } = self {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if *invalid_token {
                    r#"Bearer realm="latch", error="invalid_token""#
                } else {
                    r#"Bearer realm="latch""#
                }),
            ));
        }
        response.json(self.problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("no such resource".into()),
            StoreError::Conflict => ApiError::Conflict("the resource already exists".into()),
            StoreError::InUse => {
                ApiError::Conflict("the resource is still in use; retry once it is not".into())
            }
            StoreError::VersionMismatch { current } => ApiError::PreconditionFailed(format!(
                "the resource is at version {current}; read it again and retry"
            )),
            StoreError::UnstorableText => ApiError::invalid_field(
                "body",
                "a text value holds a character that cannot be stored (such as NUL)",
            ),
            other => ApiError::internal(other),
        }
    }
}
