use actix_web::http::header::{CACHE_CONTROL, LOCATION, REFERRER_POLICY};
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::{Authenticated, Authorized, CredentialsWrite};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::page_headers::secure_page;
use crate::responses::{BodyRefused, InvalidFields, NotFound, ScopeRefused};
use crate::state::AppState;
use latch_core::connect_sessions::{
    self, CallbackEnd, CallbackQuery, ConnectSessionCreated, ConnectSessionView,
    CreateConnectSessionRequest, ReconnectRequest,
};

/// Starts a connection by consent (OAuth authorization code with PKCE).
///
/// Send the person's browser to `authorization_url`: they sign in to the upstream (Looker:
/// its web host) and approve Latch; the upstream sends the browser back to
/// `{LATCH_PUBLIC_URL}/v1/oauth/callback`, where Latch saves the credential. Register that
/// callback as the OAuth client app's redirect URI. Follow the session with
/// `GET /v1/connect-sessions/{id}`; it expires after 10 minutes.
#[utoipa::path(post, path = "/v1/connect-sessions", operation_id = "create_connect_session", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    request_body(content = CreateConnectSessionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Started: send the browser to `authorization_url`", body = ConnectSessionCreated,
            headers(("Location" = String, description = "The session's URL"))),
        BodyRefused,
        ScopeRefused,
        (status = 422, response = InvalidFields),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<CredentialsWrite>,
    body: JsonBody<CreateConnectSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = connect_sessions::create_connect_session(&state, &caller, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/connect-sessions/{}", created.id)))
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(created))
}

/// Connects an OAuth credential again: a new consent for the same credential id.
///
/// Use it when the credential's status is `reauthorization_required` (the upstream revoked
/// the grant), or to change its settings: a `config` sent here takes effect only when the new
/// consent completes. Completing the session replaces the credential's tokens; everything that
/// selects it keeps working.
#[utoipa::path(post, path = "/v1/credentials/{id}/reconnect", operation_id = "reconnect_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(("id" = Uuid, Path, description = "Credential id")),
    request_body(content = Option<ReconnectRequest>, content_type = "application/json",
        description = "Optional: new settings and where to send the browser back"),
    responses(
        (status = 201, description = "Started: send the browser to `authorization_url`", body = ConnectSessionCreated,
            headers(("Location" = String, description = "The session's URL"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "The credential was not made by consent: rotate its secret instead", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = InvalidFields),
    ))]
pub async fn reconnect(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<CredentialsWrite>,
    id: web::Path<Uuid>,
    body: OptionalJsonBody<ReconnectRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = connect_sessions::reconnect_credential(&state, &caller, *id, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/connect-sessions/{}", created.id)))
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(created))
}

/// Where a connect session stands: `pending`, `completed` (with the credential's id),
/// `failed` (with why) or `expired`.
#[utoipa::path(get, path = "/v1/connect-sessions/{id}", operation_id = "get_connect_session", tag = "credentials",
    security(("api_key" = ["credentials:read"])),
    params(("id" = Uuid, Path, description = "Connect session id")),
    responses(
        (status = 200, description = "The session", body = ConnectSessionView),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = connect_sessions::get_connect_session(&state, &caller, *id).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Where the upstream sends the browser back after the consent. No API key: the `state` is
/// the capability, good once.
///
/// Completed: a page saying what was connected, or 303 to the session's `return_to` (with
/// `connect_session` and `status` added to its query). The same callback arriving again while
/// the first is still trading the code (a double click, a browser's retry) waits for it and
/// answers the same, or 202 with a page saying the connection is being completed. A denied consent, an unknown, reused
/// or expired state, or a failed code exchange: 400 with a page saying why (or 303 to
/// `return_to` with `status=failed`); nothing is saved.
#[utoipa::path(get, path = "/v1/oauth/callback", operation_id = "oauth_callback", tag = "credentials",
    params(
        ("state" = Option<String>, Query, description = "The session's state, as sent in the consent URL"),
        ("code" = Option<String>, Query, description = "The authorization code, on approval"),
        ("error" = Option<String>, Query, description = "The upstream's OAuth error, such as `access_denied`"),
    ),
    responses(
        (status = 200, description = "Connected: a page saying as whom", content_type = "text/html"),
        (status = 202, description = "Another request with the same state is completing the connection: a page saying so", content_type = "text/html"),
        (status = 303, description = "Back to the session's `return_to`",
            headers(("Location" = String, description = "`return_to` with `connect_session` and `status`"))),
        (status = 400, description = "Not connected: a page saying why", content_type = "text/html"),
    ))]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let outcome = connect_sessions::complete_callback(&state, query.into_inner()).await;
    if let Some(target) = outcome.return_to {
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, target.to_string()))
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((REFERRER_POLICY, "no-referrer"))
            .finish();
    }
    let (mut response, title) = match outcome.end {
        CallbackEnd::Connected => (HttpResponse::Ok(), "Connected"),
        CallbackEnd::InProgress => (HttpResponse::Accepted(), "Connecting"),
        CallbackEnd::Refused => (HttpResponse::BadRequest(), "Not connected"),
    };
    secure_page(
        &mut response,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )
    .content_type("text/html; charset=utf-8")
    .insert_header((CACHE_CONTROL, "no-store"))
    .body(page(title, &outcome.message))
}

fn page(title: &str, message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latch: {title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}}</style>\
         </head><body><h1>{title}</h1><p>{}</p></body></html>\n",
        escape(message)
    )
}

/// Text made safe to put between HTML tags.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_what_it_is_told() {
        let html = page("Connected", "<script>alert(1)</script> & \"x\"");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
        assert!(!html.contains("<script>"));
    }
}
