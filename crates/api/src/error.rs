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

/// What a request can answer besides success: whatever a use case answered, as it said it,
/// and the few refusals only HTTP has.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A use case's answer; its code and status come from [`PROBLEMS`].
    #[error(transparent)]
    Core(#[from] CoreError),
    /// No `Authorization` header, or one that is not a bearer token. (A key this server does
    /// not know is a use case's `Unauthorized`.)
    #[error("{0}")]
    MissingKey(String),
    /// With the methods the resource answers, for the `Allow` header.
    #[error("{detail}")]
    MethodNotAllowed { detail: String, allow: &'static str },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive in time; the connection is closed.
    #[error("the request body did not arrive within {seconds} seconds")]
    BodyTimeout { seconds: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
}

/// Every problem's code (the document's `type` is `urn:latch:problem:<code>`) and status;
/// its title is the status's reason phrase. Core codes come from `CoreError::code`.
const PROBLEMS: &[(&str, StatusCode)] = &[
    ("bad_request", StatusCode::BAD_REQUEST),
    ("validation_failed", StatusCode::UNPROCESSABLE_ENTITY),
    ("unauthorized", StatusCode::UNAUTHORIZED),
    ("too_many_requests", StatusCode::TOO_MANY_REQUESTS),
    ("forbidden", StatusCode::FORBIDDEN),
    ("not_found", StatusCode::NOT_FOUND),
    ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
    ("conflict", StatusCode::CONFLICT),
    ("in_use", StatusCode::CONFLICT),
    ("precondition_failed", StatusCode::PRECONDITION_FAILED),
    ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
    ("request_timeout", StatusCode::REQUEST_TIMEOUT),
    ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ("credential_rejected", StatusCode::UNPROCESSABLE_ENTITY),
    ("credential_invalid", StatusCode::CONFLICT),
    ("reconnect_required", StatusCode::CONFLICT),
    ("token_lifetime_too_short", StatusCode::UNPROCESSABLE_ENTITY),
    ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
    ("internal", StatusCode::INTERNAL_SERVER_ERROR),
];

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Core(error) => error.code(),
            ApiError::MissingKey(_) => "unauthorized",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout { .. } => "request_timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let (detail, errors) = match self {
            ApiError::Core(CoreError::BadRequest { detail, errors }) => {
                (detail.clone(), errors.clone())
            }
            ApiError::Core(CoreError::Validation(errors)) => (
                match errors.as_slice() {
                    [only] => format!("`{}` {}", only.field, only.message),
                    _ => format!("{} fields are not valid", errors.len()),
                },
                errors.clone(),
            ),
            ApiError::Core(CoreError::Internal(_)) => (
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
                ApiError::Core(CoreError::CredentialRejected(outcome)) => Some(outcome.clone()),
                _ => None,
            },
            used_by: match self {
                ApiError::Core(CoreError::InUse { used_by, .. }) => Some(used_by.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let code = self.code();
        PROBLEMS
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(_, status)| *status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Core(CoreError::Internal(cause)) = self {
            tracing::error!(%cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let ApiError::Core(
            CoreError::Unavailable {
                retry_after: Some(seconds),
                ..
            }
            | CoreError::TooManyRequests {
                retry_after: seconds,
                ..
            },
        ) = self
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
        let challenge = match self {
            // A key was presented and is not one this server knows.
            ApiError::Core(CoreError::Unauthorized(_)) => {
                Some(r#"Bearer realm="latch", error="invalid_token""#)
            }
            ApiError::MissingKey(_) => Some(r#"Bearer realm="latch""#),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
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
            assert!(
                PROBLEMS.iter().any(|(known, _)| *known == code),
                "{code} has a status in the table"
            );
            if code == "internal" {
                assert!(!problem.detail.contains("nobody may read"));
            } else if code != "validation_failed" {
                assert_eq!(problem.detail, detail, "{code}");
            }
        }
    }
}
