//! The refusals whose meaning is the same on every route, each described once as a reusable
//! OpenAPI response (`components.responses`) and referenced by the routes. What a status
//! means on one route only (which conflict a 409 is, what a 422 tested) stays on the route.

use utoipa::{IntoResponses, ToResponse};

use crate::error::Problem;

/// 400: the request cannot be read.
#[derive(ToResponse)]
#[response(
    description = "The request is malformed: JSON that does not parse, an unknown field, a wrong \
                   type, a query parameter out of its range or a bad `If-Match`; `errors` names \
                   each one",
    content_type = "application/problem+json"
)]
pub struct BadRequest(pub Problem);

/// 401: no key, or one that is not live.
#[derive(ToResponse)]
#[response(
    description = "Missing, unknown or revoked API key",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"latch\"`, with `error=\"invalid_token\"` when a key was sent"))
)]
pub struct Unauthenticated(pub Problem);

/// 403: a live key without the scope the operation needs.
#[derive(ToResponse)]
#[response(
    description = "The key lacks the scope this operation's security requirement names \
                   (`admin` holds every scope)",
    content_type = "application/problem+json"
)]
pub struct Forbidden(pub Problem);

/// 404: nothing the caller's organization can see has this id.
#[derive(ToResponse)]
#[response(
    description = "Nothing with this id in your organization",
    content_type = "application/problem+json"
)]
pub struct NotFound(pub Problem);

/// 412: a conditional change lost to another one.
#[derive(ToResponse)]
#[response(
    description = "`If-Match` names another version than the current one: read it again",
    content_type = "application/problem+json"
)]
pub struct PreconditionFailed(pub Problem);

/// 413: the body limit.
#[derive(ToResponse)]
#[response(
    description = "The body is over 64 KiB",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(pub Problem);

/// 408: the body's deadline.
#[derive(ToResponse)]
#[response(
    description = "The body did not arrive within `LATCH_BODY_TIMEOUT_SECONDS` (default 10); the connection is closed",
    content_type = "application/problem+json"
)]
pub struct RequestTimeout(pub Problem);

/// 415: only JSON is read.
#[derive(ToResponse)]
#[response(
    description = "The body is not `application/json`",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(pub Problem);

/// 422: the request reads, but its fields are not valid.
#[derive(ToResponse)]
#[response(
    description = "Fields are not valid; every one is listed in `errors`",
    content_type = "application/problem+json"
)]
pub struct InvalidFields(pub Problem);

/// 429: the failed-authentication limiter.
#[derive(ToResponse)]
#[response(
    description = "Too many failed authentications from this address this minute (only failing \
                   requests are refused: a valid key still works); see `Retry-After`",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
pub struct TooManyFailures(pub Problem);

/// 503: the upstream cannot be reached and nothing cached can stand in.
#[derive(ToResponse)]
#[response(
    description = "The upstream cannot be reached and no token is left; see `Retry-After`",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
pub struct UpstreamUnavailable(pub Problem);

/// What any operation that takes an API key may answer before it runs.
#[derive(IntoResponses)]
pub enum KeyRefused {
    #[response(status = 401)]
    Unauthenticated(#[ref_response] Unauthenticated),
    #[response(status = 429)]
    TooManyFailures(#[ref_response] TooManyFailures),
}

/// What an operation that needs a scope may answer before it runs.
#[derive(IntoResponses)]
pub enum ScopeRefused {
    #[response(status = 401)]
    Unauthenticated(#[ref_response] Unauthenticated),
    #[response(status = 403)]
    Forbidden(#[ref_response] Forbidden),
    #[response(status = 429)]
    TooManyFailures(#[ref_response] TooManyFailures),
}

/// What an operation that reads a JSON body may answer about the body itself.
#[derive(IntoResponses)]
pub enum BodyRefused {
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 408)]
    RequestTimeout(#[ref_response] RequestTimeout),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
}
