//! A strict OAuth 2.0 authorization server for tests, over real HTTP on 127.0.0.1: its token
//! endpoint (`POST /token`) authenticates each registered client the one way it is
//! registered for (RFC 6749 §2.3.1, RFC 7591's `token_endpoint_auth_method`), refuses a
//! request that authenticates two ways or none, and answers the client credentials grant as
//! its profile says (a lifetime or none, extra fields, rate limiting).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// How a registered client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Basic,
    Post,
}

/// How the server answers.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// `expires_in` of each token; `None`: the answer says nothing of it.
    pub expires_in: Option<u64>,
    /// Fields added to every token answer (`instance_url`).
    pub extra: Map<String, Value>,
    /// Answer 429 with this `Retry-After` instead of tokens.
    pub rate_limited: Option<u64>,
}

struct Client {
    secret: String,
    auth: Auth,
    /// Scopes it may ask for.
    scopes: Vec<String>,
}

struct State {
    clients: Mutex<HashMap<String, Client>>,
    profile: Mutex<Profile>,
    grants: AtomicU64,
    refusals: AtomicU64,
}

pub struct MockOAuth {
    pub url: String,
    state: web::Data<State>,
    handle: ServerHandle,
}

impl MockOAuth {
    pub async fn start(profile: Profile) -> Self {
        let state = web::Data::new(State {
            clients: Mutex::new(HashMap::new()),
            profile: Mutex::new(profile),
            grants: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        });
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/token", web::post().to(token))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("the mock binds");
        let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, state, handle }
    }

    /// Registers a client for the client credentials grant.
    pub fn register(&self, client_id: &str, secret: &str, auth: Auth, scopes: &[&str]) {
        self.state.clients.lock().unwrap().insert(
            client_id.to_string(),
            Client {
                secret: secret.to_string(),
                auth,
                scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
            },
        );
    }

    pub fn set_profile(&self, profile: Profile) {
        *self.state.profile.lock().unwrap() = profile;
    }

    /// Tokens granted so far.
    pub fn grants(&self) -> u64 {
        self.state.grants.load(Ordering::SeqCst)
    }

    /// Token requests refused so far.
    pub fn refusals(&self) -> u64 {
        self.state.refusals.load(Ordering::SeqCst)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }
}

impl Drop for MockOAuth {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

fn refused(state: &State, status: u16, code: &str) -> HttpResponse {
    state.refusals.fetch_add(1, Ordering::SeqCst);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": code}))
}

/// `Authorization: Basic`, decoded as RFC 6749 §2.3.1 has it: both parts form-decoded.
fn basic(request: &HttpRequest) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |part: &str| -> Option<String> {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

async fn token(
    request: HttpRequest,
    state: web::Data<State>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let form = form.into_inner();
    let in_header = basic(&request);
    let in_body = form.get("client_secret");
    // Exactly one way of authenticating (RFC 6749 §2.3: "MUST NOT use more than one").
    let (client_id, secret, used) = match (in_header, in_body) {
        (Some(_), Some(_)) => return refused(&state, 400, "invalid_request"),
        (Some((id, secret)), None) => (id, secret, Auth::Basic),
        (None, Some(secret)) => match form.get("client_id") {
            Some(id) => (id.clone(), secret.clone(), Auth::Post),
            None => return refused(&state, 400, "invalid_request"),
        },
        (None, None) => return refused(&state, 401, "invalid_client"),
    };
    let scope = {
        let clients = state.clients.lock().unwrap();
        let Some(client) = clients.get(&client_id) else {
            return refused(&state, 401, "invalid_client");
        };
        if client.auth != used || client.secret != secret {
            return refused(&state, 401, "invalid_client");
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return refused(&state, 400, "unsupported_grant_type");
        }
        let asked = form.get("scope").cloned().unwrap_or_default();
        if asked
            .split_whitespace()
            .any(|scope| !client.scopes.iter().any(|allowed| allowed == scope))
        {
            return refused(&state, 400, "invalid_scope");
        }
        asked
    };
    let profile = state.profile.lock().unwrap().clone();
    if let Some(seconds) = profile.rate_limited {
        state.refusals.fetch_add(1, Ordering::SeqCst);
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, seconds.to_string()))
            .json(json!({"error": "slow_down"}));
    }
    let n = state.grants.fetch_add(1, Ordering::SeqCst) + 1;
    let mut answer = json!({
        "access_token": format!("mock-oauth-token-{n}-{}", uuid::Uuid::new_v4().simple()),
        "token_type": "Bearer",
    });
    if let Some(seconds) = profile.expires_in {
        answer["expires_in"] = json!(seconds);
    }
    if !scope.is_empty() {
        answer["scope"] = json!(scope);
    }
    for (field, value) in profile.extra {
        answer[field] = value;
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer)
}
