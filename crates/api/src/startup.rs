//! Building and running the server.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use latch_connector::{EgressClient, ValidationPolicy};
use latch_store::{Store, StoreError};
use secrecy::SecretString;
use tracing::Instrument;

use latch_core::api_keys::issue_api_key;
use latch_core::broker::{BrokerConfig, SystemClock};
use latch_core::callers::Scope;
use latch_core::catalogue::Catalogue;
use latch_core::health::HealthPolicy;
use latch_core::keyring::{KeyringError, open_keyring};
use latch_core::latch::LatchConfig;
use latch_core::oauth_settings::OAuthSettings;

use crate::error::ApiError;
use crate::extract::{BodyTimeout, field_problem};
use crate::key_files::{KeyFileError, materials};
use crate::refusals::note_refusal;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use latch_core::CoreError;

/// The organisation development mode creates.
pub const DEV_ORG: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot open the keyring: {0}")]
    Keyring(#[from] KeyringError),
    #[error("cannot open the keyring: {0}")]
    KeyFile(#[from] KeyFileError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot create the development admin key: {0}")]
    Bootstrap(ApiError),
    #[error("cannot build the egress client: {0}")]
    Egress(latch_connector::EgressError),
    #[error("{0}")]
    Config(String),
}

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// In development mode on first start: the admin key of the `default` organisation.
    pub dev_admin_key: Option<SecretString>,
}

impl Application {
    /// Opens the store, verifies the master key, binds the listener: everything that can
    /// fail does so here, before the first request. Offers the built-in connectors.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, crate::connectors::builtin()).await
    }

    /// As [`Application::build`], offering `catalogue`'s connectors (its API, document and
    /// console all follow it).
    pub async fn build_with(
        settings: Settings,
        catalogue: Catalogue,
    ) -> Result<Self, StartupError> {
        let bind_error = |source| StartupError::Bind {
            addr: settings.listen_addr.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.listen_addr).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let (latch, dev_admin_key) = open(&settings, catalogue, port).await?;
        let state = web::Data::from(latch);
        let shared = state.clone();
        let mut document = crate::openapi::document(&state.catalogue);
        crate::openapi::exact::for_deployment(&mut document, &state.oauth.allowed_origins);
        let document =
            web::Bytes::from(document.to_json().expect("the OpenAPI document serialises"));
        let body_timeout = settings.limits.body_timeout;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(BodyTimeout(body_timeout))
                .app_data(web::PathConfig::default().error_handler(|_, request| {
                    ApiError::Core(CoreError::NotFound(format!(
                        "no resource at {}",
                        request.path()
                    )))
                    .into()
                }))
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|error, _| field_problem("", &error.to_string()).into()),
                )
                .wrap(from_fn(observe))
                .configure(routes::configure)
                .configure(|config| routes::docs::configure(config, document.clone()))
                .configure(crate::console::configure)
                .default_service(web::to(routes::not_found))
        })
        .listen(listener)
        .map_err(bind_error)?
        .shutdown_timeout(30);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        tracing::info!(port, "latch is listening");
        Ok(Self {
            port,
            server: server.run(),
            state,
            dev_admin_key,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight and writes the
    /// token issuances still queued for the audit trail.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.state.issuances.flush().await;
        self.state.refusals.flush().await;
        tracing::info!("latch stopped");
        served
    }
}

/// The store, keyring and everything else a replica runs on, with its caches following the
/// change feed and the background worker started; and the development admin key when one was
/// made. `port` is the one listened on (for the default public URL).
async fn open(
    settings: &Settings,
    catalogue: Catalogue,
    port: u16,
) -> Result<(Arc<AppState>, Option<SecretString>), StartupError> {
    let store = latch_store::connect(&settings.database_url).await?;
    let (current, previous) = materials(&settings.master_key, &settings.previous_master_keys)?;
    let keyring = open_keyring(store.as_ref(), &current, &previous).await?;
    let dev_admin_key = if settings.dev {
        bootstrap_dev(store.as_ref())
            .await
            .map_err(StartupError::Bootstrap)?
    } else {
        None
    };
    let policy = ValidationPolicy {
        allow_http_hosts: settings.egress.allow_http,
    };
    let egress = EgressClient::new(settings.egress.clone()).map_err(StartupError::Egress)?;
    let config = LatchConfig {
        policy,
        broker: BrokerConfig {
            forced_interval: settings.limits.forced_refresh_interval,
            health: HealthPolicy {
                degraded_after: settings.limits.degraded_after,
            },
            ..BrokerConfig::default()
        },
        auth_failures_per_minute: settings.limits.auth_failures_per_minute,
        oauth: OAuthSettings {
            pending_sessions_per_org: settings.limits.pending_connect_sessions,
            session_retention: settings.limits.connect_session_retention,
            ..OAuthSettings::new(
                &public_url(settings.public_url.as_ref(), &settings.listen_addr, port)?,
                &settings.console_origins,
            )
        },
        worker: settings.worker.clone(),
    };
    let latch = AppState::new(
        store,
        Arc::new(keyring),
        catalogue,
        egress,
        config,
        Arc::new(SystemClock),
    )
    .await?;
    let latch = Arc::new(latch);
    latch.follow_changes();
    latch_core::worker::start(&latch);
    Ok((latch, dev_admin_key))
}

/// The background worker without the HTTP server (`latch worker`).
pub struct WorkerProcess {
    state: Arc<AppState>,
}

impl WorkerProcess {
    /// Opens what a replica opens, listening on nothing; the worker starts at once. The
    /// default public URL (for the redirect URI consents refresh with) takes the port of
    /// `listen_addr`, as the serving replicas do: set `LATCH_PUBLIC_URL` alike for both.
    pub async fn start(settings: Settings, catalogue: Catalogue) -> Result<Self, StartupError> {
        let port = settings
            .listen_addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(8080);
        let (state, _) = open(&settings, catalogue, port).await?;
        tracing::info!("latch worker is running");
        Ok(Self { state })
    }

    /// Runs until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        stopped().await?;
        self.state.issuances.flush().await;
        self.state.refusals.flush().await;
        tracing::info!("latch worker stopped");
        Ok(())
    }
}

/// Waits for SIGINT or SIGTERM.
async fn stopped() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
    }
}

/// The configured public URL, or `http://` and the listening address with its real port.
fn public_url(
    configured: Option<&url::Url>,
    listen_addr: &str,
    port: u16,
) -> Result<url::Url, StartupError> {
    if let Some(url) = configured {
        return Ok(url.clone());
    }
    let host = listen_addr
        .rsplit_once(':')
        .map_or(listen_addr, |(host, _)| host);
    url::Url::parse(&format!("http://{host}:{port}")).map_err(|error| {
        StartupError::Config(format!(
            "LATCH_PUBLIC_URL is not set and http://{host}:{port} is not a URL ({error}); set it"
        ))
    })
}

/// Creates the `default` organisation and, when it has no key yet, an admin key.
async fn bootstrap_dev(store: &dyn Store) -> Result<Option<SecretString>, ApiError> {
    let org = store.ensure_organization(DEV_ORG).await?;
    if store.count_api_keys(org.id).await? > 0 {
        return Ok(None);
    }
    let issued = issue_api_key(
        store,
        org.id,
        "development admin",
        &[Scope::Admin],
        None,
        None,
    )
    .await?;
    Ok(Some(issued.key))
}

/// What every request leaves behind: an `X-Request-Id` on the answer (the caller's own, when
/// it sent a usable one), a span carrying that id around everything logged while handling it,
/// one log line (method, path, never the query string, status, time) when info logs are on,
/// and denied authorizations in the audit tally. One middleware for all of it, since each
/// layer costs on the token hot path.
async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|value| usable_request_id(value.as_bytes()))
        .cloned()
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id.to_str().unwrap_or_default()
    );
    let logged = tracing::enabled!(tracing::Level::INFO).then(|| {
        (
            Instant::now(),
            request.method().clone(),
            request.path().to_string(),
        )
    });
    let mut response = next.call(request).instrument(span.clone()).await?;
    let status = response.status();
    note_refusal(response.request(), status);
    if let Some((started, method, path)) = logged {
        span.in_scope(|| {
            tracing::info!(
                %method,
                %path,
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request"
            )
        });
    }
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    Ok(response)
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether a request id a caller sent is 1 to 128 letters, digits, `-`, `_` or `.`: anything
/// else could forge log lines or carry data, so it is replaced.
fn usable_request_id(sent: &[u8]) -> bool {
    (1..=128).contains(&sent.len())
        && sent
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

/// A new request id: this process's random prefix and a counter, unique across replicas
/// without a random draw per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        // Without randomness ids are still unique in this process; the clock keeps them
        // apart from other processes'.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = (latch_store::now().timestamp_micros() as u64).to_be_bytes();
        }
        u64::from_be_bytes(bytes)
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = format!(
        "{:016x}-{:x}",
        *PREFIX,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // Hex digits and a dash are always a valid header value; the String is moved, not copied.
    HeaderValue::try_from(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_request_id_is_kept_only_when_it_is_short_and_plain() {
        assert!(usable_request_id(b"job-42.retry_1"));
        for sent in [&b""[..], b"a b", b"x\ny", b"<script>", &[b'a'; 129]] {
            assert!(!usable_request_id(sent), "{sent:?}");
        }
    }

    #[test]
    fn new_request_ids_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert!(usable_request_id(a.as_bytes()));
    }
}
