use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, Problem};
use crate::extract::OptionalJsonBody;
use crate::responses::{BodyRefused, NotFound, ScopeRefused, UpstreamUnavailable};
use crate::state::AppState;
use latch_core::tokens::{self, TokenRequest, TokenResponse};

/// A fresh upstream access token for a job.
///
/// The token has at least `min_ttl_seconds` left. Tokens are cached and refreshed ahead of
/// expiry; however many jobs ask at once, on however many replicas, the upstream sees one
/// login. When the upstream cannot be reached, a token that still lives is returned (with
/// its true `expires_at`) rather than failing the job.
#[utoipa::path(post, path = "/v1/credentials/{id}/token", operation_id = "issue_credential_token", tag = "tokens",
    security(("api_key" = ["tokens:issue"])),
    params(("id" = Uuid, Path, description = "Credential id")),
    request_body(content = Option<TokenRequest>, content_type = "application/json",
        description = "Optional: an empty body asks for the defaults"),
    responses(
        (status = 200, description = "A token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "The upstream refuses the credential (`credential_invalid`): rotate its secret", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`min_ttl_seconds` out of range, or the upstream's tokens live shorter than asked (`token_lifetime_too_short`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = UpstreamUnavailable),
    ))]
pub async fn issue(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
    body: OptionalJsonBody<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = tokens::issue_token(&state, &caller, *id, body.0).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(token))
}
