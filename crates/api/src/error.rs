//! One error type for the whole API, rendered as RFC 9457 problem+json.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use latch_connector::FieldError;
use latch_core::error::CoreError;
pub use latch_core::error::{OutcomeView, UsedBy};
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
    /// With the methods the resource answers, for the `Allow` header.
    #[error("{detail}")]
    MethodNotAllowed { detail: String, allow: &'static str },
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
    /// The body did not arrive in time; the connection is closed.
    #[error("the request body did not arrive within {seconds} seconds")]
    BodyTimeout { seconds: u64 },
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
    /// The upstream no longer accepts the OAuth grant.
    #[error("{0}")]
    ReconnectRequired(String),
    /// The upstream's tokens live shorter than the job asked for.
    #[error("{0}")]
    TokenTooShort(String),
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::InUse { .. } => "in_use",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout { .. } => "request_timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::CredentialRejected(_) => "credential_rejected",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::CredentialInvalid(_) => "credential_invalid",
            ApiError::ReconnectRequired(_) => "reconnect_required",
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
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::InUse { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::CredentialRejected(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::CredentialInvalid(_) | ApiError::ReconnectRequired(_) => StatusCode::CONFLICT,
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
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, *allow));
        }
        if let ApiError::BodyTimeout { .. } = self {
            // The rest of the body may still trickle in: the connection is not reused.
            response.force_close();
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
        CoreError::from(error).into()
    }
}

/// The one place a use case's answer becomes an HTTP one: each core error keeps its code.
impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::BadRequest { detail, errors } => ApiError::BadRequest { detail, errors },
            CoreError::Validation(errors) => ApiError::Validation(errors),
            CoreError::Unauthorized(detail) => ApiError::Unauthorized {
                detail,
                invalid_token: true,
            },
            CoreError::TooManyRequests {
                detail,
                retry_after,
            } => ApiError::TooManyRequests {
                detail,
                retry_after,
            },
            CoreError::Forbidden(detail) => ApiError::Forbidden(detail),
            CoreError::NotFound(detail) => ApiError::NotFound(detail),
            CoreError::Conflict(detail) => ApiError::Conflict(detail),
            CoreError::InUse { detail, used_by } => ApiError::InUse { detail, used_by },
            CoreError::PreconditionFailed(detail) => ApiError::PreconditionFailed(detail),
            CoreError::CredentialRejected(outcome) => ApiError::CredentialRejected(outcome),
            CoreError::CredentialInvalid(detail) => ApiError::CredentialInvalid(detail),
            CoreError::ReconnectRequired(detail) => ApiError::ReconnectRequired(detail),
            CoreError::TokenTooShort(detail) => ApiError::TokenTooShort(detail),
            CoreError::Unavailable {
                detail,
                retry_after,
            } => ApiError::Unavailable {
                detail,
                retry_after,
            },
            CoreError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_keeps_its_code_and_detail_in_the_problem_document() {
        let outcome = OutcomeView {
            status: "invalid",
            detail: "refused".into(),
            identity: None,
            retry_after: None,
        };
        let errors = [
            CoreError::bad_request("limit", "is not a number"),
            CoreError::invalid_field("name", "is required"),
            CoreError::Unauthorized("unknown key".into()),
            CoreError::TooManyRequests {
                detail: "slow down".into(),
                retry_after: 7,
            },
            CoreError::Forbidden("lacks a scope".into()),
            CoreError::NotFound("no such credential".into()),
            CoreError::Conflict("the name is taken".into()),
            CoreError::InUse {
                detail: "still used".into(),
                used_by: Vec::new(),
            },
            CoreError::PreconditionFailed("at version 3".into()),
            CoreError::CredentialRejected(outcome),
            CoreError::CredentialInvalid("refused".into()),
            CoreError::ReconnectRequired("connect it again".into()),
            CoreError::TokenTooShort("too short".into()),
            CoreError::Unavailable {
                detail: "down".into(),
                retry_after: Some(30),
            },
            CoreError::Internal("a cause nobody may read".into()),
        ];
        for error in errors {
            let code = error.code();
            let detail = error.to_string();
            let problem = ApiError::from(error).problem();
            assert_eq!(problem.problem_type, format!("urn:latch:problem:{code}"));
            if code == "internal" {
                assert!(!problem.detail.contains("nobody may read"));
            } else if code != "validation_failed" {
                assert_eq!(problem.detail, detail, "{code}");
            }
        }
    }
}
