//! A strict OAuth 2.0 authorization server for tests, over real HTTP on 127.0.0.1: its token
//! endpoint (`POST /token`) and revocation endpoint (`POST /revoke`, RFC 7009) authenticate
//! each registered client the one way it is registered for (RFC 6749 §2.3.1, RFC 7591's
//! `token_endpoint_auth_method`) and refuse a request that authenticates two ways or none;
//! the token endpoint answers the authorization code, client credentials and refresh token
//! grants as its profile says (a lifetime or none, extra fields, rotating refresh tokens, rate
//! limiting). Its authorization endpoint (`GET /authorize`) approves at once for the user
//! Ada Lovelace, but only for a redirect URI registered for the client, and binds the code to
//! it and to the PKCE challenge; `GET /userinfo` says who a token acts for. The same answer
//! at any other path, told by what is sent, serve a provider's own paths.

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
    /// A public client: `client_id` in the body and no secret; its codes must be bound to a
    /// PKCE challenge.
    Public,
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
    /// The `aud` an assertion must name; `None`: this server's token URL.
    pub assertion_audience: Option<String>,
    /// An assertion without a `sub` (the user a service acts as) is refused.
    pub require_subject: bool,
    /// A consent without an S256 code challenge is refused.
    pub require_pkce: bool,
    /// Any client with any secret, scope and redirect URI (the contract run's world, where
    /// whatever a schema-valid request names must work); codes stay bound to their client,
    /// redirect URI and challenge.
    pub accept_any_client: bool,
    /// What an identity request answers for a live token (a provider's own shape: Xero's
    /// list of connections); `{"sub", "name"}` when `None`.
    pub identity: Option<Value>,
    /// Waited before each token answer (the benchmark's upstream latency).
    pub latency: std::time::Duration,
}

/// The person every consent is approved for, as `/userinfo` names them.
pub const USER_NAME: &str = "Ada Lovelace";

struct Client {
    secret: String,
    auth: Auth,
    /// Scopes it may ask for.
    scopes: Vec<String>,
    /// Where its consents may send the browser back to.
    redirect_uris: Vec<String>,
}

/// An authorization code, until its one exchange.
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
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
    codes: Mutex<HashMap<String, Code>>,
}

pub struct MockOAuth {
    pub url: String,
    state: web::Data<State>,
    handle: ServerHandle,
}

impl MockOAuth {
    pub async fn start(profile: Profile) -> Self {
        Self::start_on("127.0.0.1:0", profile)
            .await
            .expect("the mock binds a free port")
    }

    /// Starts on `address` (the `mock-oauth` command's).
    pub async fn start_on(address: &str, profile: Profile) -> std::io::Result<Self> {
        let state = web::Data::new(State {
            clients: Mutex::new(HashMap::new()),
            profile: Mutex::new(profile),
            grants: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            revocations: AtomicU64::new(0),
            refresh_tokens: Mutex::new(HashMap::new()),
            access_tokens: Mutex::new(HashSet::new()),
            service_accounts: Mutex::new(HashMap::new()),
            codes: Mutex::new(HashMap::new()),
        });
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(anywhere))
                .route("/token", web::post().to(token))
                .route("/revoke", web::post().to(revoke))
                .route("/authorize", web::get().to(authorize))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .bind(address)?;
        let bound = server.addrs()[0];
        let url = format!("http://{bound}");
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { url, state, handle })
    }

    /// Registers a client for the client credentials grant.
    pub fn register(&self, client_id: &str, secret: &str, auth: Auth, scopes: &[&str]) {
        self.state.clients.lock().unwrap().insert(
            client_id.to_string(),
            Client {
                secret: secret.to_string(),
                auth,
                scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
                redirect_uris: Vec::new(),
            },
        );
    }

    /// Registers a redirect URI for a registered client, as its admin would.
    pub fn register_redirect_uri(&self, client_id: &str, redirect_uri: &str) {
        let mut clients = self.state.clients.lock().unwrap();
        let client = clients.get_mut(client_id).expect("a registered client");
        client.redirect_uris.push(redirect_uri.to_string());
    }

    pub fn authorization_url(&self) -> String {
        format!("{}/authorize", self.url)
    }

    pub fn userinfo_url(&self) -> String {
        format!("{}/userinfo", self.url)
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
        (None, None) => match form.get("client_id") {
            Some(id) => (id.clone(), String::new(), Auth::Public),
            None => return Err((401, "invalid_client")),
        },
    };
    if state.profile.lock().unwrap().accept_any_client {
        return Ok(client_id);
    }
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
    if !profile.latency.is_zero() {
        tokio::time::sleep(profile.latency).await;
    }
    if form.get("grant_type").map(String::as_str) == Some(JWT_BEARER) {
        let audience = profile
            .assertion_audience
            .clone()
            .unwrap_or_else(|| format!("http://{}/token", request.connection_info().host()));
        let verified = (profile.accept_any_client && form.contains_key("assertion"))
            || verified_issuer(&state, &form, &audience, &profile).is_some();
        return match verified {
            true => tokens(&state, &profile, None, ""),
            false => refused(&state, 400, "invalid_grant"),
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
    let allowed = profile.accept_any_client || {
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
        Some("authorization_code") => match redeemed(&state, &form, &client_id) {
            Some(refresh) => Some(refresh),
            None => return refused(&state, 400, "invalid_grant"),
        },
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
    let subject = claims["sub"].as_str().is_some_and(|sub| !sub.is_empty());
    let fits = claims["aud"] == audience
        && (subject || !profile.require_subject)
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

/// `GET /authorize`: a consent approved at once, sent back to the registered redirect URI
/// with a code bound to it (and to the challenge). An unknown client or redirect URI is
/// answered here, never by a redirect (RFC 6749 §4.1.2.1).
async fn authorize(
    state: web::Data<State>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let query = query.into_inner();
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let (client_id, redirect_uri) = (get("client_id"), get("redirect_uri"));
    let allowed = {
        let clients = state.clients.lock().unwrap();
        clients.get(&client_id).map(|client| {
            (
                // A registered URI ending in `/` stands for every URI below it (the
                // `mock-oauth` command's, for any app of a local server).
                client.redirect_uris.iter().any(|registered| {
                    *registered == redirect_uri
                        || (registered.ends_with('/') && redirect_uri.starts_with(registered))
                }),
                get("scope")
                    .split_whitespace()
                    .all(|scope| client.scopes.iter().any(|allowed| allowed == scope)),
            )
        })
    };
    let any = state.profile.lock().unwrap().accept_any_client;
    let scope_ok = match allowed {
        _ if any => true,
        Some((true, scope_ok)) => scope_ok,
        _ => return HttpResponse::BadRequest().body("unknown client or redirect URI"),
    };
    let Ok(mut back) = url::Url::parse(&redirect_uri) else {
        return HttpResponse::BadRequest().body("the redirect URI is no URL");
    };
    let challenge = query.get("code_challenge").cloned();
    let pkce_ok = match (&challenge, query.get("code_challenge_method")) {
        (Some(_), Some(method)) => method == "S256",
        (Some(_), None) => false,
        (None, _) => !state.profile.lock().unwrap().require_pkce,
    };
    let error = match (get("response_type") == "code", pkce_ok, scope_ok) {
        (false, _, _) => Some("unsupported_response_type"),
        (_, false, _) => Some("invalid_request"),
        (_, _, false) => Some("invalid_scope"),
        _ => None,
    };
    match error {
        Some(error) => {
            back.query_pairs_mut().append_pair("error", error);
        }
        None => {
            let code = format!("mock-code-{}", uuid::Uuid::new_v4().simple());
            state.codes.lock().unwrap().insert(
                code.clone(),
                Code {
                    client_id,
                    redirect_uri,
                    challenge,
                },
            );
            back.query_pairs_mut().append_pair("code", &code);
        }
    }
    back.query_pairs_mut().append_pair("state", &get("state"));
    HttpResponse::Found()
        .insert_header((header::LOCATION, back.to_string()))
        .finish()
}

/// Redeems a code once: it must be the client's, come with the redirect URI it was given
/// for and, when it was bound to a challenge, the verifier that hashes to it. A new refresh
/// token.
fn redeemed(state: &State, form: &HashMap<String, String>, client_id: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};
    let code = state.codes.lock().unwrap().remove(form.get("code")?)?;
    let verifier_ok = match (&code.challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *challenge
        }
        (Some(_), None) => false,
        (None, verifier) => verifier.is_none(),
    };
    let public = state
        .clients
        .lock()
        .unwrap()
        .get(client_id)
        .is_some_and(|client| client.auth == Auth::Public);
    let fits = code.client_id == client_id
        && form.get("redirect_uri") == Some(&code.redirect_uri)
        && verifier_ok
        && (!public || code.challenge.is_some());
    fits.then(|| {
        let refresh = format!("mock-refresh-{}", uuid::Uuid::new_v4().simple());
        state
            .refresh_tokens
            .lock()
            .unwrap()
            .insert(refresh.clone(), client_id.to_string());
        refresh
    })
}

/// `GET /userinfo` (OpenID Connect Core §5.3): who a live access token acts for.
async fn userinfo(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if state.access_tokens.lock().unwrap().contains(token) {
        let identity = state.profile.lock().unwrap().identity.clone();
        HttpResponse::Ok().json(identity.unwrap_or(json!({"sub": "user-1", "name": USER_NAME})))
    } else {
        HttpResponse::Unauthorized().json(json!({"error": "invalid_token"}))
    }
}

/// Any other path: a provider's endpoint at its own path (`/oauth/v3/token`,
/// `/{tenant}/oauth2/v2.0/authorize`), told by what is sent.
async fn anywhere(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let post = request.method() == actix_web::http::Method::POST;
    if post && form.contains_key("grant_type") {
        token(request, state, web::Form(form)).await
    } else if post && form.contains_key("token") {
        revoke(request, state, web::Form(form)).await
    } else if query.contains_key("response_type") {
        authorize(state, web::Query(query)).await
    } else {
        userinfo(request, state).await
    }
}
