//! A Looker 4.0 API stand-in for tests and demos, over real HTTP: `POST /api/4.0/login`
//! (form body), `GET /api/4.0/user`, `DELETE /api/4.0/logout`, answering as Looker does
//! (`../shared/looker-4.0-auth.oas.json`), with fault modes and counters; and Looker's OAuth
//! side ([`oauth`]): `GET /auth`, `POST /api/token`, `DELETE /api/logout`, client apps.
//!
//! Control endpoints: `GET /__mock/stats` (counters), `PUT /__mock/fault` (`{"fault": ...}`)
//! and `PUT /__mock/oauth/approval` (`"ask"`, `"approve"` or `"deny"`).

pub mod oauth;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

const DOCS: &str = "https://cloud.google.com/looker/docs/r/api/support";

/// How the mock misbehaves, for every call until changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "fault", content = "target")]
pub enum Fault {
    /// Behave like Looker.
    #[default]
    None,
    /// 500 on every call.
    ServerError,
    /// 429 with `Retry-After: 30`.
    RateLimited,
    /// 429 with this `Retry-After` value (seconds or an HTTP-date, as RFC 9110 allows).
    RetryAfter(String),
    /// 200 with a body that is not JSON.
    Malformed,
    /// Never answer.
    Hang,
    /// 200 with a 1 MiB body.
    Oversized,
    /// 302 to the given URL.
    Redirect(String),
}

#[derive(Debug, Clone)]
pub struct MockLookerConfig {
    pub client_id: String,
    pub client_secret: String,
    pub expires_in: u64,
    pub latency: Duration,
    /// The API user's `display_name`, as `GET /api/4.0/user` answers it.
    pub display_name: String,
}

impl Default for MockLookerConfig {
    fn default() -> Self {
        Self {
            client_id: "mock-client-id".into(),
            client_secret: "mock-client-secret".into(),
            expires_in: 3600,
            latency: Duration::ZERO,
            display_name: "Latch API User".into(),
        }
    }
}

/// The counters `GET /__mock/stats` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockStats {
    pub login_attempts: u64,
    pub logins: u64,
    pub logouts: u64,
    pub identity_calls: u64,
    /// Logins that carried `client_secret` in the query string.
    pub secrets_in_query: u64,
    pub active_tokens: u64,
    /// Authorization codes traded for tokens.
    #[serde(default)]
    pub oauth_exchanges: u64,
    /// Refresh grants answered with new tokens.
    #[serde(default)]
    pub oauth_refreshes: u64,
    /// Calls of `POST /api/token`, whatever they got.
    #[serde(default)]
    pub token_calls: u64,
}

struct State {
    config: Mutex<MockLookerConfig>,
    fault: Mutex<Fault>,
    tokens: Mutex<HashSet<String>>,
    /// Every client ID and secret logs in (see [`MockLooker::accept_any_api_key`]).
    any_api_key: AtomicBool,
    login_attempts: AtomicU64,
    logins: AtomicU64,
    logouts: AtomicU64,
    identity_calls: AtomicU64,
    secrets_in_query: AtomicU64,
    oauth: Mutex<oauth::OAuthState>,
    oauth_exchanges: AtomicU64,
    oauth_refreshes: AtomicU64,
    token_calls: AtomicU64,
    /// Where requests for paths Looker does not have go (see [`MockLooker::forward_others_to`]).
    others: Mutex<Option<String>>,
}

impl State {
    fn stats(&self) -> MockStats {
        MockStats {
            login_attempts: self.login_attempts.load(Ordering::SeqCst),
            logins: self.logins.load(Ordering::SeqCst),
            logouts: self.logouts.load(Ordering::SeqCst),
            identity_calls: self.identity_calls.load(Ordering::SeqCst),
            secrets_in_query: self.secrets_in_query.load(Ordering::SeqCst),
            active_tokens: self.tokens.lock().unwrap().len() as u64,
            oauth_exchanges: self.oauth_exchanges.load(Ordering::SeqCst),
            oauth_refreshes: self.oauth_refreshes.load(Ordering::SeqCst),
            token_calls: self.token_calls.load(Ordering::SeqCst),
        }
    }

    /// Latency, then the fault's answer if there is one.
    async fn misbehave(&self) -> Option<HttpResponse> {
        let latency = self.config.lock().unwrap().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let fault = self.fault.lock().unwrap().clone();
        match fault {
            Fault::None => None,
            Fault::ServerError => Some(
                HttpResponse::InternalServerError()
                    .json(json!({"message": "Internal server error", "documentation_url": DOCS})),
            ),
            Fault::RateLimited => Some(
                HttpResponse::TooManyRequests()
                    .insert_header((header::RETRY_AFTER, "30"))
                    .json(json!({"message": "Too Many Requests", "documentation_url": DOCS})),
            ),
            Fault::RetryAfter(value) => Some(
                HttpResponse::TooManyRequests()
                    .insert_header((header::RETRY_AFTER, value))
                    .json(json!({"message": "Too Many Requests", "documentation_url": DOCS})),
            ),
            Fault::Malformed => Some(
                HttpResponse::Ok()
                    .content_type("text/html")
                    .body("<html><body>Looker is under maintenance</body></html>"),
            ),
            Fault::Hang => {
                tokio::time::sleep(Duration::from_secs(600)).await;
                None
            }
            Fault::Oversized => Some(
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(format!("{{\"padding\":\"{}\"}}", "x".repeat(1024 * 1024))),
            ),
            Fault::Redirect(target) => Some(
                HttpResponse::Found()
                    .insert_header((header::LOCATION, target))
                    .finish(),
            ),
        }
    }

    fn bearer(&self, request: &HttpRequest) -> Option<String> {
        let value = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = value.split_once(' ')?;
        let known = ["bearer", "token"].contains(&scheme.to_ascii_lowercase().as_str());
        (known && self.tokens.lock().unwrap().contains(token)).then(|| token.to_string())
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"message": "Not found", "documentation_url": DOCS}))
}

/// A path Looker does not have: 404, or the answer of the server others go to.
async fn elsewhere(
    state: web::Data<State>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(base) = state.others.lock().unwrap().clone() else {
        return not_found();
    };
    let target = format!(
        "{base}{}",
        request
            .uri()
            .path_and_query()
            .map_or("/", |path| path.as_str())
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let method =
        reqwest::Method::from_bytes(request.method().as_str().as_bytes()).expect("an HTTP method");
    let mut forwarded = client.request(method, target).body(body.to_vec());
    for name in ["authorization", "content-type", "accept"] {
        if let Some(value) = request.headers().get(name).and_then(|v| v.to_str().ok()) {
            forwarded = forwarded.header(name, value);
        }
    }
    let Ok(answer) = forwarded.send().await else {
        return HttpResponse::BadGateway().finish();
    };
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status().as_u16()).expect("a status"),
    );
    for name in ["location", "content-type", "retry-after"] {
        if let Some(value) = answer.headers().get(name).and_then(|v| v.to_str().ok()) {
            response.insert_header((name, value.to_string()));
        }
    }
    response.body(answer.bytes().await.unwrap_or_default())
}

fn requires_authentication() -> HttpResponse {
    HttpResponse::Unauthorized()
        .json(json!({"message": "Requires authentication.", "documentation_url": DOCS}))
}

async fn login(state: web::Data<State>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    state.login_attempts.fetch_add(1, Ordering::SeqCst);
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    if query.contains_key("client_secret") {
        state.secrets_in_query.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(response) = state.misbehave().await {
        return response;
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| form.get(name).or_else(|| query.get(name)).cloned();
    let config = state.config.lock().unwrap().clone();
    let (client_id, client_secret) = (field("client_id"), field("client_secret"));
    let configured = client_id.as_deref() == Some(config.client_id.as_str())
        && client_secret.as_deref() == Some(config.client_secret.as_str());
    let any =
        client_id.is_some() && client_secret.is_some() && state.any_api_key.load(Ordering::SeqCst);
    if !configured && !any {
        return not_found();
    }
    let token = format!("mock-token-{}", Uuid::new_v4().simple());
    state.tokens.lock().unwrap().insert(token.clone());
    state.logins.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": config.expires_in,
        "refresh_token": null,
    }))
}

async fn user(state: web::Data<State>, request: HttpRequest) -> HttpResponse {
    state.identity_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = state.misbehave().await {
        return response;
    }
    if state.bearer(&request).is_none() {
        return requires_authentication();
    }
    let display_name = state.config.lock().unwrap().display_name.clone();
    HttpResponse::Ok().json(json!({
        "id": "42",
        "display_name": display_name,
        "email": "latch-api@example.com",
    }))
}

async fn logout(state: web::Data<State>, request: HttpRequest) -> HttpResponse {
    let Some(token) = state.bearer(&request) else {
        return requires_authentication();
    };
    state.tokens.lock().unwrap().remove(&token);
    state.logouts.fetch_add(1, Ordering::SeqCst);
    HttpResponse::NoContent().finish()
}

async fn stats(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats())
}

async fn set_fault(state: web::Data<State>, fault: web::Json<Fault>) -> HttpResponse {
    *state.fault.lock().unwrap() = fault.into_inner();
    HttpResponse::NoContent().finish()
}

/// A running mock, stopped when dropped.
pub struct MockLooker {
    /// `http://127.0.0.1:PORT`: the API host URL to save in a credential.
    pub url: String,
    state: web::Data<State>,
    handle: ServerHandle,
}

impl MockLooker {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(config: MockLookerConfig) -> Self {
        Self::start_on("127.0.0.1:0", config, Fault::None)
            .await
            .expect("mock-looker binds a free port")
    }

    pub async fn start_on(
        address: &str,
        config: MockLookerConfig,
        fault: Fault,
    ) -> std::io::Result<Self> {
        let state = web::Data::new(State {
            config: Mutex::new(config),
            fault: Mutex::new(fault),
            tokens: Mutex::new(HashSet::new()),
            any_api_key: AtomicBool::new(false),
            login_attempts: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            logouts: AtomicU64::new(0),
            identity_calls: AtomicU64::new(0),
            secrets_in_query: AtomicU64::new(0),
            oauth: Mutex::new(oauth::OAuthState::default()),
            oauth_exchanges: AtomicU64::new(0),
            oauth_refreshes: AtomicU64::new(0),
            token_calls: AtomicU64::new(0),
            others: Mutex::new(None),
        });
        let listener = std::net::TcpListener::bind(address)?;
        let port = listener.local_addr()?.port();
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/api/4.0/login", web::post().to(login))
                .route("/api/4.0/user", web::get().to(user))
                .route("/api/4.0/logout", web::delete().to(logout))
                .route("/__mock/stats", web::get().to(stats))
                .route("/__mock/fault", web::put().to(set_fault))
                .route("/auth", web::get().to(oauth::authorize))
                .route("/auth/decision", web::post().to(oauth::decide))
                .route("/api/token", web::post().to(oauth::token))
                .route("/api/logout", web::delete().to(oauth::logout))
                .route(
                    "/api/4.0/oauth_client_apps/{client_guid}",
                    web::post().to(oauth::register_app),
                )
                .route(
                    "/api/4.0/oauth_client_apps/{client_guid}",
                    web::patch().to(oauth::register_app),
                )
                .route(
                    "/api/4.0/oauth_client_apps/{client_guid}/tokens",
                    web::delete().to(oauth::invalidate_tokens),
                )
                .route("/__mock/oauth/approval", web::put().to(oauth::put_approval))
                .default_service(web::to(elsewhere))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        })
    }

    /// From now on, accept this client secret (rotation upstream).
    pub fn set_client_secret(&self, secret: &str) {
        self.state.config.lock().unwrap().client_secret = secret.to_string();
    }

    /// From now on, log in every client ID and secret: a world in which whatever API key a
    /// request carries is one Looker knows (the contract run, where whether Looker accepts a
    /// key is not what is tested).
    /// From now on, requests for paths Looker does not have are forwarded to the server at
    /// `url` (the contract run's authorization server, for the declared providers' calls that
    /// reach this host).
    pub fn forward_others_to(&self, url: &str) {
        *self.state.others.lock().unwrap() = Some(url.to_string());
    }

    pub fn accept_any_api_key(&self) {
        self.state.any_api_key.store(true, Ordering::SeqCst);
    }

    pub fn set_expires_in(&self, seconds: u64) {
        self.state.config.lock().unwrap().expires_in = seconds;
    }

    /// From now on, the API user is called this (whatever it holds).
    pub fn set_display_name(&self, name: &str) {
        self.state.config.lock().unwrap().display_name = name.to_string();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state.config.lock().unwrap().latency = latency;
    }

    /// Whether a token is live: issued and not logged out.
    pub fn is_active(&self, token: &str) -> bool {
        self.state.tokens.lock().unwrap().contains(token)
    }

    /// Registers an OAuth client app, as an admin would in Looker.
    pub fn register_oauth_app(&self, client_guid: &str, redirect_uri: &str) {
        oauth::register(&self.state, client_guid, redirect_uri);
    }

    /// Revokes every token of an OAuth client app (Looker's `invalidate_tokens`).
    pub fn revoke_oauth_tokens(&self, client_guid: &str) {
        oauth::revoke_all(&self.state, client_guid);
    }

    /// How the consent screen answers from now on.
    /// From now on, the consent screen tries to take over the window that opened it.
    pub fn set_hostile_consent(&self, hostile: bool) {
        oauth::set_hostile(&self.state, hostile);
    }

    pub fn set_approval(&self, approval: oauth::Approval) {
        oauth::set_approval(&self.state, approval);
    }

    /// Every refresh token that would still be accepted.
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        oauth::live_refresh_tokens(&self.state)
    }

    /// Whether a refresh token would still be accepted.
    pub fn refresh_token_is_live(&self, token: &str) -> bool {
        oauth::refresh_token_is_live(&self.state, token)
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
    }

    pub fn stats(&self) -> MockStats {
        self.state.stats()
    }

    pub fn config(&self) -> MockLookerConfig {
        self.state.config.lock().unwrap().clone()
    }

    /// Runs until stopped (the binary).
    pub async fn wait(self) {
        std::future::pending::<()>().await;
    }
}

impl Drop for MockLooker {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stopping needs the runtime; when the test's runtime is gone, so is the server.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

/// A test helper reading the counters over HTTP, as an outsider would.
pub async fn stats_over_http(url: &str) -> MockStats {
    reqwest::get(format!("{url}/__mock/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

impl std::fmt::Debug for MockLooker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLooker")
            .field("url", &self.url)
            .finish()
    }
}
