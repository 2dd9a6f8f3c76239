use actix_web::http::header::{CACHE_CONTROL, LOCATION, REFERRER_POLICY};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use html_escape::{encode_double_quoted_attribute, encode_text};
use uuid::Uuid;

use crate::auth::{Authenticated, Authorized, CredentialsWrite};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::page_headers::secure_page;
use crate::responses::{BodyRefused, InvalidFields, NotFound, ScopeRefused};
use crate::state::AppState;
use latch_core::connect_sessions::{
    self, CallbackEnd, CallbackPath, CallbackQuery, ConnectSessionCreated, ConnectSessionView,
    ConsentPage, CreateConnectSessionRequest, ReconnectRequest,
};

/// Starts a connection by consent (OAuth authorization code with PKCE).
///
/// The consent goes through one of your organization's OAuth apps (`oauth_app_id`). Send the
/// person's browser to `authorization_url`: they sign in to the upstream (Looker: its web
/// host) and approve Latch; the upstream sends the browser back to the app's `redirect_uri`,
/// where Latch saves the credential in your organization. Follow the session with
/// `GET /v1/connect-sessions/{id}`; it expires after 10 minutes. An organization has at most
/// `LATCH_PENDING_CONNECT_SESSIONS_PER_ORG` sessions pending (429 past it).
#[utoipa::path(post, path = "/v1/connect-sessions", operation_id = "create_connect_session", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    request_body(content = CreateConnectSessionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Started: send the browser to `authorization_url`", body = ConnectSessionCreated,
            headers(("Location" = String, description = "The session's URL"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, description = "`oauth_app_id` names no OAuth app of your organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app still uses the redirect URI shared before apps, and another organization has an app for the same upstream client: an admin moves it to its own (`detail` says how)", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = InvalidFields),
        (status = 429, description = "The organization has as many connect sessions pending as it may; `Retry-After` says when the first expires", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a pending session expires"))),
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
/// the grant), or to connect it through another OAuth app of the same connector
/// (`oauth_app_id`), whose settings take effect only when the new consent completes. Settings
/// are no longer sent here: they belong to the app (`config` is refused with 422). Completing the session replaces the credential's tokens; everything that
/// selects it keeps working.
#[utoipa::path(post, path = "/v1/credentials/{id}/reconnect", operation_id = "reconnect_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(("id" = Uuid, Path, description = "Credential id")),
    request_body(content = Option<ReconnectRequest>, content_type = "application/json",
        description = "Optional: another app to connect through, and where to send the browser back"),
    responses(
        (status = 201, description = "Started: send the browser to `authorization_url`", body = ConnectSessionCreated,
            headers(("Location" = String, description = "The session's URL"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, description = "No such credential, or `oauth_app_id` names no OAuth app of your organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The credential was not made by consent (rotate its secret instead), or its app cannot take consents on the shared redirect URI", body = Problem, content_type = "application/problem+json"),
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

/// Cancels a pending connect session: its `connect_url` and its callback are refused from
/// then on, and it reads `failed` ("the connection was cancelled"). A session that ended, or
/// whose consent came back and is being completed, is 409.
#[utoipa::path(post, path = "/v1/connect-sessions/{id}/cancel", operation_id = "cancel_connect_session", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(("id" = Uuid, Path, description = "Connect session id")),
    responses(
        (status = 200, description = "Cancelled", body = ConnectSessionView),
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "The session is no longer pending", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = connect_sessions::cancel_connect_session(&state, &caller, *id).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The page a person opens to approve a connect session (a session's `connect_url`): it names
/// the organization, the credential, the connector and where the consent screen is, with
/// **Continue** to it. No API key: the link is the capability. A link that names no session is
/// 404; one whose session ended, expired or is being completed, or without a state, is 400;
/// all are pages.
#[utoipa::path(get, path = "/v1/connect", operation_id = "connect_page", tag = "credentials",
    params(ConnectParams),
    responses(
        (status = 200, description = "Who asks for what, and Continue to the consent screen", content_type = "text/html"),
        (status = 400, description = "The session ended, expired or is being completed, or the link is malformed: a page saying so", content_type = "text/html"),
        (status = 404, description = "Not a link Latch issued: a page saying so", content_type = "text/html"),
    ))]
pub async fn connect_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    // In the query, as the callback's: request paths are logged, queries never.
    let Some(sent) = callback_query(&request).and_then(|query| query.state) else {
        let mut response = HttpResponse::BadRequest();
        return page_response(
            &mut response,
            "Not connected",
            "This link is malformed: start the connection again.",
        );
    };
    match connect_sessions::consent_page(&state, &sent).await {
        ConsentPage::Ready {
            organization,
            credential,
            connector,
            upstream,
            authorization_url,
        } => {
            let body = format!(
                "<p>{organization} asks you to connect <strong>{credential}</strong> to \
                 Latch with your {connector} account.</p><p>You will sign in at \
                 <strong>{upstream}</strong> and approve there.</p>\
                 <p><a class=\"button\" rel=\"noreferrer\" href=\"{url}\">Continue to \
                 {connector}</a></p>",
                organization = encode_text(&organization),
                credential = encode_text(&credential),
                connector = encode_text(&connector),
                upstream = encode_text(&upstream),
                url = encode_double_quoted_attribute(authorization_url.as_str()),
            );
            let mut response = HttpResponse::Ok();
            html_response(&mut response, &format!("Connect {connector}"), &body)
        }
        ConsentPage::Ended(message) => {
            let mut response = HttpResponse::BadRequest();
            page_response(&mut response, "Not connected", &message)
        }
        ConsentPage::NotIssued => not_issued_page(),
    }
}

/// What a connect page's link carries.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectParams {
    /// The session's state, as in its `connect_url`: 43 characters of base64url.
    #[param(min_length = 43, max_length = 512, pattern = "^[A-Za-z0-9_-]+$")]
    pub state: String,
}

/// What the browser comes back with; `state` is required (a missing one is a 400 page).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The session's state, as sent in the consent URL: 43 characters of base64url.
    #[param(min_length = 43, max_length = 512, pattern = "^[A-Za-z0-9_-]+$")]
    pub state: String,
    /// The authorization code, on approval.
    pub code: Option<String>,
    /// The upstream's OAuth error, such as `access_denied`.
    pub error: Option<String>,
}

/// Where the upstream sends the browser back after a consent through an app: the app's
/// `redirect_uri`. No API key: the `state` is the capability, good once.
///
/// Completed: a page saying what was connected, or 303 to the session's `return_to` (with
/// `connect_session` and `status` added to its query). The same callback arriving again while
/// the first is still trading the code (a double click, a browser's retry) waits for it and
/// answers the same, or 202 with a page saying the connection is being completed. A state that
/// names no session of this app, or an app that does not exist: 404, a page saying the link is
/// not one Latch issued. A denied consent, a reused or expired state, or a failed code
/// exchange: 400 with a page saying why (or 303 to `return_to` with `status=failed`); nothing
/// is saved.
#[utoipa::path(get, path = "/v1/oauth/callback/{app_id}", operation_id = "oauth_callback", tag = "credentials",
    params(("app_id" = Uuid, Path, description = "The OAuth app the consent went through"), CallbackParams),
    responses(
        (status = 200, description = "Connected: a page saying as whom", content_type = "text/html"),
        (status = 202, description = "Another request with the same state is completing the connection: a page saying so", content_type = "text/html"),
        (status = 303, description = "Back to the session's `return_to`",
            headers(("Location" = String, description = "`return_to` with `connect_session` and `status`"))),
        (status = 400, description = "Not connected: a page saying why", content_type = "text/html"),
        (status = 404, description = "Not a link Latch issued: a page saying so", content_type = "text/html"),
    ))]
pub async fn callback(
    state: web::Data<AppState>,
    app_id: web::Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    // An id that is not one answers like an app that does not exist.
    let Ok(app_id) = app_id.parse::<Uuid>() else {
        return not_issued_page();
    };
    answer(&state, CallbackPath::App(app_id), &request).await
}

/// The callback every organization shared before OAuth apps, `{LATCH_PUBLIC_URL}/v1/oauth/callback`:
/// it answers only sessions of apps made from the credentials that predate apps, and only
/// while no other organization has an app for the same upstream client; anything else is 404.
/// Otherwise as `GET /v1/oauth/callback/{app_id}`.
#[utoipa::path(get, path = "/v1/oauth/callback", operation_id = "oauth_shared_callback", tag = "credentials",
    params(CallbackParams),
    responses(
        (status = 200, description = "Connected: a page saying as whom", content_type = "text/html"),
        (status = 202, description = "Another request with the same state is completing the connection: a page saying so", content_type = "text/html"),
        (status = 303, description = "Back to the session's `return_to`",
            headers(("Location" = String, description = "`return_to` with `connect_session` and `status`"))),
        (status = 400, description = "Not connected: a page saying why", content_type = "text/html"),
        (status = 404, description = "Not a link Latch issued: a page saying so", content_type = "text/html"),
    ))]
pub async fn shared_callback(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    answer(&state, CallbackPath::Shared, &request).await
}

/// The callback's query, read by hand: whatever arrives, a person's browser gets a page, never
/// a problem document. A parameter sent twice makes the link malformed.
fn callback_query(request: &HttpRequest) -> Option<CallbackQuery> {
    let mut query = CallbackQuery::default();
    for (name, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
        let slot = match name.as_ref() {
            "state" => &mut query.state,
            "code" => &mut query.code,
            "error" => &mut query.error,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return None;
        }
    }
    Some(query)
}

fn not_issued_page() -> HttpResponse {
    let mut response = HttpResponse::NotFound();
    page_response(
        &mut response,
        "Not a Latch link",
        "This link is not one Latch issued: start the connection again from where you began it.",
    )
}

async fn answer(state: &AppState, path: CallbackPath, request: &HttpRequest) -> HttpResponse {
    let Some(query) = callback_query(request) else {
        let mut response = HttpResponse::BadRequest();
        return page_response(
            &mut response,
            "Not connected",
            "This link is malformed: start the connection again.",
        );
    };
    let outcome = connect_sessions::complete_callback(state, path, query).await;
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
        CallbackEnd::NotIssued => (HttpResponse::NotFound(), "Not a Latch link"),
    };
    page_response(&mut response, title, &outcome.message)
}

fn page_response(response: &mut HttpResponseBuilder, title: &str, message: &str) -> HttpResponse {
    html_response(response, title, &format!("<p>{}</p>", encode_text(message)))
}

/// A page of `body` (HTML the caller escaped), never cached, under the pages' policy.
fn html_response(response: &mut HttpResponseBuilder, title: &str, body: &str) -> HttpResponse {
    secure_page(
        response,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )
    .content_type("text/html; charset=utf-8")
    .insert_header((CACHE_CONTROL, "no-store"))
    .body(page(title, body))
}

/// A whole page: `body` is HTML already escaped by the caller.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latch: {title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}}\
         a.button{{display:inline-block;padding:.5rem 1rem;border-radius:.3rem;background:#1d4ed8;color:#fff;text-decoration:none}}</style>\
         </head><body><h1>{}</h1>{body}</body></html>\n",
        encode_text(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_what_it_is_told() {
        let html = page(
            "Connected",
            &format!(
                "<p>{}</p>",
                encode_text("<script>alert(1)</script> & \"x\"")
            ),
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"x\""));
        assert!(!html.contains("<script>"));
    }
}
