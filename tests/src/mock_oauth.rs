//! A strict OAuth 2.0 authorization server for tests, over real HTTP on 127.0.0.1: its token
//! endpoint (`POST /token`) and revocation endpoint (`POST /revoke`, RFC 7009) authenticate
//! each registered client the one way it is registered for (RFC 6749 §2.3.1, RFC 7591's
//! `token_endpoint_auth_method`) and refuse a request that authenticates two ways or none;
//! the token endpoint answers the client credentials and refresh token grants as its profile
//! says (a lifetime or none, extra fields, rotating refresh tokens, rate limiting).

use std::collections::{HashMap, HashSet};
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
    /// A refresh grant answers a new refresh token and the one used dies (rotation).
    pub rotate_refresh_tokens: bool,
    /// The longest a JWT bearer assertion may live, `iat` to `exp`, in seconds (0: an hour).
    pub max_assertion_lifetime: u64,
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
    revocations: AtomicU64,
    /// Live refresh tokens, and the client each belongs to.
    refresh_tokens: Mutex<HashMap<String, String>>,
    /// Live access tokens.
    access_tokens: Mutex<HashSet<String>>,
    /// Service accounts: issuer, and the RSA public key (PKCS#1 DER) their assertions verify with.
    service_accounts: Mutex<HashMap<String, Vec<u8>>>,
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
            revocations: AtomicU64::new(0),
            refresh_tokens: Mutex::new(HashMap::new()),
            access_tokens: Mutex::new(HashSet::new()),
            service_accounts: Mutex::new(HashMap::new()),
        });
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/token", web::post().to(token))
                .route("/revoke", web::post().to(revoke))
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

    /// Revocations that ended a live token.
    pub fn revocations(&self) -> u64 {
        self.state.revocations.load(Ordering::SeqCst)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn revocation_url(&self) -> String {
        format!("{}/revoke", self.url)
    }

    /// A service account whose assertions are signed with the PKCS#8 RSA key `private_key_pem`
    /// (the server keeps only its public half).
    pub fn register_service_account(&self, issuer: &str, private_key_pem: &str) {
        use ring::signature::KeyPair;
        let body: String = private_key_pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body).expect("a PEM key");
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key");
        self.state
            .service_accounts
            .lock()
            .unwrap()
            .insert(issuer.to_string(), key.public_key().as_ref().to_vec());
    }

    /// A refresh token of `client_id`, as a consent would have given it.
    pub fn issue_refresh_token(&self, client_id: &str) -> String {
        let token = format!("mock-refresh-{}", uuid::Uuid::new_v4().simple());
        self.state
            .refresh_tokens
            .lock()
            .unwrap()
            .insert(token.clone(), client_id.to_string());
        token
    }

    /// Whether an access or refresh token is live.
    pub fn is_active(&self, token: &str) -> bool {
        self.state.access_tokens.lock().unwrap().contains(token)
            || self
                .state
                .refresh_tokens
                .lock()
                .unwrap()
                .contains_key(token)
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

/// The client a request authenticates as, exactly one way and the way it is registered for;
/// or the refusal's status and error code.
fn authenticate(
    request: &HttpRequest,
    state: &State,
    form: &HashMap<String, String>,
) -> Result<String, (u16, &'static str)> {
    let in_header = basic(request);
    let in_body = form.get("client_secret");
    // Exactly one way of authenticating (RFC 6749 §2.3: "MUST NOT use more than one").
    let (client_id, secret, used) = match (in_header, in_body) {
        (Some(_), Some(_)) => return Err((400, "invalid_request")),
        (Some((id, secret)), None) => (id, secret, Auth::Basic),
        (None, Some(secret)) => match form.get("client_id") {
            Some(id) => (id.clone(), secret.clone(), Auth::Post),
            None => return Err((400, "invalid_request")),
        },
        (None, None) => return Err((401, "invalid_client")),
    };
    let clients = state.clients.lock().unwrap();
    match clients.get(&client_id) {
        Some(client) if client.auth == used && client.secret == secret => Ok(client_id),
        _ => Err((401, "invalid_client")),
    }
}

async fn token(
    request: HttpRequest,
    state: web::Data<State>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let form = form.into_inner();
    let profile = state.profile.lock().unwrap().clone();
    if form.get("grant_type").map(String::as_str) == Some(JWT_BEARER) {
        let audience = format!("http://{}/token", request.connection_info().host());
        return match verified_issuer(&state, &form, &audience, &profile) {
            Some(_) => tokens(&state, &profile, None, ""),
            None => refused(&state, 400, "invalid_grant"),
        };
    }
    let client_id = match authenticate(&request, &state, &form) {
        Ok(client_id) => client_id,
        Err((status, code)) => return refused(&state, status, code),
    };
    if let Some(seconds) = profile.rate_limited {
        state.refusals.fetch_add(1, Ordering::SeqCst);
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, seconds.to_string()))
            .json(json!({"error": "slow_down"}));
    }
    let asked = form.get("scope").cloned().unwrap_or_default();
    let allowed = {
        let clients = state.clients.lock().unwrap();
        let scopes = &clients[&client_id].scopes;
        asked
            .split_whitespace()
            .all(|scope| scopes.iter().any(|allowed| allowed == scope))
    };
    if !allowed {
        return refused(&state, 400, "invalid_scope");
    }
    let rotated = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => None,
        Some("refresh_token") => {
            let mut live = state.refresh_tokens.lock().unwrap();
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            if live.get(&presented) != Some(&client_id) {
                drop(live);
                return refused(&state, 400, "invalid_grant");
            }
            if profile.rotate_refresh_tokens {
                live.remove(&presented);
                let next = format!("mock-refresh-{}", uuid::Uuid::new_v4().simple());
                live.insert(next.clone(), client_id.clone());
                Some(next)
            } else {
                None
            }
        }
        _ => return refused(&state, 400, "unsupported_grant_type"),
    };
    tokens(&state, &profile, rotated, &asked)
}

/// A §5.1 answer with a new access token (and the rotated refresh token, when one).
fn tokens(state: &State, profile: &Profile, rotated: Option<String>, asked: &str) -> HttpResponse {
    let n = state.grants.fetch_add(1, Ordering::SeqCst) + 1;
    let access_token = format!("mock-oauth-token-{n}-{}", uuid::Uuid::new_v4().simple());
    state
        .access_tokens
        .lock()
        .unwrap()
        .insert(access_token.clone());
    let mut answer = json!({"access_token": access_token, "token_type": "Bearer"});
    if let Some(seconds) = profile.expires_in {
        answer["expires_in"] = json!(seconds);
    }
    if let Some(next) = rotated {
        answer["refresh_token"] = json!(next);
    }
    if !asked.is_empty() {
        answer["scope"] = json!(asked);
    }
    for (field, value) in &profile.extra {
        answer[field] = value.clone();
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer)
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The issuer of a JWT bearer assertion (RFC 7523 §3) the server accepts: RS256, signed by a
/// registered service account's key, for this token endpoint, live now and no longer-lived
/// than the profile allows.
fn verified_issuer(
    state: &State,
    form: &HashMap<String, String>,
    audience: &str,
    profile: &Profile,
) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let assertion = form.get("assertion")?;
    let mut parts = assertion.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if header["alg"] != "RS256" {
        return None;
    }
    let issuer = claims["iss"].as_str()?.to_string();
    let key = state.service_accounts.lock().unwrap().get(&issuer)?.clone();
    // The signature covers `header.payload`.
    let signed = &assertion[..assertion.rfind('.')?];
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).ok()?)
        .ok()?;
    let now = chrono::Utc::now().timestamp() as u64;
    let (issued, expires) = (claims["iat"].as_u64()?, claims["exp"].as_u64()?);
    let longest = if profile.max_assertion_lifetime == 0 {
        3600
    } else {
        profile.max_assertion_lifetime
    };
    let fits = claims["aud"] == audience
        && issued <= now + 60
        && expires > now
        && expires.saturating_sub(issued) <= longest;
    fits.then_some(issuer)
}

/// RFC 7009: ends a token of the authenticated client; an unknown token is answered 200 too
/// (§2.2), one of another client is refused.
async fn revoke(
    request: HttpRequest,
    state: web::Data<State>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let form = form.into_inner();
    let client_id = match authenticate(&request, &state, &form) {
        Ok(client_id) => client_id,
        Err((status, code)) => return refused(&state, status, code),
    };
    let token = form.get("token").cloned().unwrap_or_default();
    let mut refresh = state.refresh_tokens.lock().unwrap();
    match refresh.get(&token) {
        Some(owner) if *owner != client_id => {
            drop(refresh);
            return refused(&state, 400, "invalid_request");
        }
        Some(_) => {
            refresh.remove(&token);
            state.revocations.fetch_add(1, Ordering::SeqCst);
        }
        None => {
            if state.access_tokens.lock().unwrap().remove(&token) {
                state.revocations.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    HttpResponse::Ok().finish()
}
