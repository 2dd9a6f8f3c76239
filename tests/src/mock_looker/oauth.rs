//! Looker's OAuth side: client apps registered by an admin, the consent screen (`/auth`), the
//! token endpoint for both grants with real PKCE checks and rotating refresh tokens, the OAuth
//! logout, and revocation of every token of an app. It refuses what Looker refuses: an
//! unknown app or a redirect URI other than the registered one gets no redirect at all; a
//! wrong verifier, a reused code or a dead refresh token gets `invalid_grant`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use latch_connector::pkce::challenge_of;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::{State, requires_authentication};

/// What the consent screen does when a browser arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Show a page with **Allow** and **Deny** buttons (browser tests).
    #[default]
    Ask,
    /// Redirect back with a code at once, as if the person clicked Allow (scripted tests).
    Approve,
    /// Redirect back with `error=access_denied` at once.
    Deny,
}

#[derive(Default)]
pub(super) struct OAuthState {
    approval: Approval,
    /// The consent screen also runs a script that tries to take over the page that opened it
    /// (`window.opener.location`), as a hostile web host could.
    hostile: bool,
    /// client_guid → registered redirect URI.
    apps: HashMap<String, String>,
    /// Consent screens shown and not yet answered.
    pending: HashMap<String, AuthRequest>,
    codes: HashMap<String, IssuedCode>,
    /// Live refresh tokens → the app they belong to.
    refresh_tokens: HashMap<String, String>,
    /// Live OAuth access tokens → (app, the refresh token issued with it).
    access_tokens: HashMap<String, (String, String)>,
}

#[derive(Clone)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
}

struct IssuedCode {
    request: AuthRequest,
    used: bool,
}

impl State {
    fn oauth(&self) -> std::sync::MutexGuard<'_, OAuthState> {
        self.oauth.lock().unwrap()
    }
}

pub(super) fn set_approval(state: &State, approval: Approval) {
    state.oauth().approval = approval;
}

pub(super) fn set_hostile(state: &State, hostile: bool) {
    state.oauth().hostile = hostile;
}

pub(super) fn register(state: &State, client_guid: &str, redirect_uri: &str) {
    state
        .oauth()
        .apps
        .insert(client_guid.to_string(), redirect_uri.to_string());
}

/// Ends every access and refresh token of an app, as Looker's `invalidate_tokens` does.
pub(super) fn revoke_all(state: &State, client_guid: &str) {
    let mut oauth = state.oauth();
    oauth.refresh_tokens.retain(|_, app| app != client_guid);
    let gone: Vec<String> = oauth
        .access_tokens
        .iter()
        .filter(|(_, (app, _))| app == client_guid)
        .map(|(token, _)| token.clone())
        .collect();
    let mut live = state.tokens.lock().unwrap();
    for token in gone {
        oauth.access_tokens.remove(&token);
        live.remove(&token);
    }
}

/// Every refresh token that would still be accepted.
pub(super) fn live_refresh_tokens(state: &State) -> Vec<String> {
    state.oauth().refresh_tokens.keys().cloned().collect()
}

/// Whether a refresh token would still be accepted.
pub(super) fn refresh_token_is_live(state: &State, token: &str) -> bool {
    state.oauth().refresh_tokens.contains_key(token)
}

fn page(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
        ))
}

fn back_to(request: &AuthRequest, pairs: &[(&str, &str)]) -> HttpResponse {
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return page(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Bad redirect URI",
            "",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
}

fn approve(state: &State, request: &AuthRequest) -> HttpResponse {
    let code = format!("mock-code-{}", Uuid::new_v4().simple());
    state.oauth().codes.insert(
        code.clone(),
        IssuedCode {
            request: request.clone(),
            used: false,
        },
    );
    back_to(request, &[("code", &code)])
}

/// `GET /auth`: the consent screen.
pub(super) async fn authorize(state: web::Data<State>, request: HttpRequest) -> HttpResponse {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    let registered = state.oauth().apps.get(&client_id).cloned();
    // Never redirect to an address the app did not register: show an error page instead.
    match registered {
        None => {
            return page(
                actix_web::http::StatusCode::BAD_REQUEST,
                "Unknown OAuth client app",
                "<p>No app is registered with this client_id.</p>",
            );
        }
        Some(registered) if registered != redirect_uri => {
            return page(
                actix_web::http::StatusCode::BAD_REQUEST,
                "Redirect URI mismatch",
                "<p>The redirect_uri is not the one registered for this app.</p>",
            );
        }
        Some(_) => {}
    }
    let auth_request = AuthRequest {
        client_id,
        redirect_uri,
        state: query.get("state").cloned(),
        challenge: get("code_challenge"),
    };
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || auth_request.challenge.is_empty()
    {
        return back_to(&auth_request, &[("error", "invalid_request")]);
    }
    let approval = state.oauth().approval;
    match approval {
        Approval::Approve => approve(&state, &auth_request),
        Approval::Deny => back_to(&auth_request, &[("error", "access_denied")]),
        Approval::Ask => {
            let id = Uuid::new_v4().simple().to_string();
            let hostile = {
                let mut oauth = state.oauth();
                oauth.pending.insert(id.clone(), auth_request);
                oauth.hostile
            };
            // What the takeover attempt saw is written into the page for the test to read.
            let takeover = if hostile {
                "<p id=\"opener\"></p><script>\
                 var seen = document.getElementById('opener');\
                 try { if (window.opener) { window.opener.location = 'about:blank#taken-over'; \
                 seen.textContent = 'opener reached'; } else { seen.textContent = 'no opener'; } }\
                 catch (e) { seen.textContent = 'opener refused'; }</script>"
            } else {
                ""
            };
            page(
                actix_web::http::StatusCode::OK,
                "Allow access to Looker?",
                &format!(
                    "<form method=\"post\" action=\"/auth/decision\">\
                     <input type=\"hidden\" name=\"request\" value=\"{id}\">\
                     <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
                     <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
                     </form>{takeover}"
                ),
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Decision {
    request: String,
    decision: String,
}

/// `POST /auth/decision`: the person's click on the consent screen.
pub(super) async fn decide(state: web::Data<State>, form: web::Form<Decision>) -> HttpResponse {
    let Some(request) = state.oauth().pending.remove(&form.request) else {
        return page(
            actix_web::http::StatusCode::BAD_REQUEST,
            "This consent screen has expired",
            "",
        );
    };
    if form.decision == "allow" {
        approve(&state, &request)
    } else {
        back_to(&request, &[("error", "access_denied")])
    }
}

fn oauth_error(code: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": code}))
}

/// `POST /api/token`: both grants, form-encoded.
pub(super) async fn token(state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    state.token_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = state.misbehave().await {
        return response;
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |name: &str| form.get(name).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let mut oauth = state.oauth();
    let Some(registered) = oauth.apps.get(&client_id).cloned() else {
        return oauth_error("invalid_client");
    };
    if get("redirect_uri") != registered {
        return oauth_error("invalid_grant");
    }
    match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(issued) = oauth.codes.get_mut(&get("code")) else {
                return oauth_error("invalid_grant");
            };
            if issued.used
                || issued.request.client_id != client_id
                || challenge_of(&get("code_verifier")) != issued.request.challenge
            {
                return oauth_error("invalid_grant");
            }
            issued.used = true;
            state.oauth_exchanges.fetch_add(1, Ordering::SeqCst);
        }
        "refresh_token" => {
            let presented = get("refresh_token");
            if oauth.refresh_tokens.get(&presented) != Some(&client_id) {
                return oauth_error("invalid_grant");
            }
            // Rotation: the presented refresh token dies with this answer.
            oauth.refresh_tokens.remove(&presented);
            state.oauth_refreshes.fetch_add(1, Ordering::SeqCst);
        }
        _ => return oauth_error("unsupported_grant_type"),
    }
    let access = format!("mock-oauth-token-{}", Uuid::new_v4().simple());
    let refresh = format!("mock-refresh-{}", Uuid::new_v4().simple());
    oauth
        .refresh_tokens
        .insert(refresh.clone(), client_id.clone());
    oauth
        .access_tokens
        .insert(access.clone(), (client_id, refresh.clone()));
    drop(oauth);
    state.tokens.lock().unwrap().insert(access.clone());
    let expires_in = state.config.lock().unwrap().expires_in;
    HttpResponse::Ok().json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": refresh,
    }))
}

/// `DELETE /api/logout`: ends the access token and the refresh token issued with it.
pub(super) async fn logout(state: web::Data<State>, request: HttpRequest) -> HttpResponse {
    let Some(token) = state.bearer(&request) else {
        return requires_authentication();
    };
    state.tokens.lock().unwrap().remove(&token);
    let mut oauth = state.oauth();
    if let Some((_, refresh)) = oauth.access_tokens.remove(&token) {
        oauth.refresh_tokens.remove(&refresh);
    }
    state.logouts.fetch_add(1, Ordering::SeqCst);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
pub(super) struct AppRegistration {
    redirect_uri: String,
}

/// `POST /api/4.0/oauth_client_apps/{client_guid}` (register_oauth_client_app) or `PATCH`
/// (update_oauth_client_app): an admin registers an app's one redirect URI.
pub(super) async fn register_app(
    state: web::Data<State>,
    request: HttpRequest,
    client_guid: web::Path<String>,
    body: web::Json<AppRegistration>,
) -> HttpResponse {
    if state.bearer(&request).is_none() {
        return requires_authentication();
    }
    register(&state, &client_guid, &body.redirect_uri);
    HttpResponse::Ok().json(json!({
        "client_guid": client_guid.as_str(),
        "redirect_uri": body.redirect_uri,
        "enabled": true,
    }))
}

/// `DELETE /api/4.0/oauth_client_apps/{client_guid}/tokens`: an admin revokes every token.
pub(super) async fn invalidate_tokens(
    state: web::Data<State>,
    request: HttpRequest,
    client_guid: web::Path<String>,
) -> HttpResponse {
    if state.bearer(&request).is_none() {
        return requires_authentication();
    }
    revoke_all(&state, &client_guid);
    HttpResponse::NoContent().finish()
}

/// `PUT /__mock/oauth/approval`: how the consent screen answers from now on.
pub(super) async fn put_approval(
    state: web::Data<State>,
    approval: web::Json<Approval>,
) -> HttpResponse {
    set_approval(&state, approval.into_inner());
    HttpResponse::NoContent().finish()
}
