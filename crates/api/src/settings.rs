//! What `Application::build` is given.

use std::time::Duration;

use latch_connector::EgressPolicy;

pub use crate::key_files::{MasterKeySource, PreviousMasterKey};

/// Everything `Application::build` needs.
pub struct Settings {
    pub database_url: String,
    /// `host:port`; port 0 picks a free one (tests).
    pub listen_addr: String,
    pub master_key: MasterKeySource,
    /// Earlier master keys whose KEKs still wrap data keys (during a rotation).
    pub previous_master_keys: Vec<PreviousMasterKey>,
    /// What connectors may call; `allow_http` also lets credentials name `http://` hosts.
    pub egress: EgressPolicy,
    /// HTTP worker threads; the number of cores when `None`.
    pub workers: Option<usize>,
    /// Development mode: make the `default` organisation and print an admin key on first start.
    pub dev: bool,
    pub limits: Limits,
    /// The address browsers reach Latch at (`LATCH_PUBLIC_URL`): the OAuth redirect URI is
    /// `{public_url}/v1/oauth/callback`. `None`: `http://` and the listening address.
    pub public_url: Option<url::Url>,
    /// Origins besides the public URL's that a connect session may send the browser back
    /// to (`LATCH_CONSOLE_ORIGINS`).
    pub console_origins: Vec<url::Url>,
    /// The background worker: scheduled checks, housekeeping, refreshing ahead.
    pub worker: latch_core::worker::WorkerConfig,
}

/// Bounds on abuse; each has a safe default.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Failed authentications a minute from one address (IPv6: one /64) before further
    /// failing attempts are answered 429; 0 turns the limit off.
    pub auth_failures_per_minute: u32,
    /// A forced refresh that does not name the rejected token logs in at most once per
    /// credential in this interval.
    pub forced_refresh_interval: Duration,
    /// How long a client has to send a request's whole body.
    pub body_timeout: Duration,
    /// Pending connect sessions an organization may have at once; past it, 429.
    pub pending_connect_sessions: u32,
    /// How long a connect session is kept after it expired.
    pub connect_session_retention: Duration,
    /// Failed checks and token logins in a row that make a credential `degraded`.
    pub degraded_after: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            auth_failures_per_minute: 30,
            forced_refresh_interval: latch_core::broker::FORCED_REFRESH_INTERVAL,
            body_timeout: crate::extract::BODY_TIMEOUT,
            pending_connect_sessions: latch_core::oauth_settings::PENDING_SESSIONS_PER_ORG,
            connect_session_retention: latch_core::oauth_settings::SESSION_RETENTION,
            degraded_after: latch_core::health::HealthPolicy::default().degraded_after,
        }
    }
}
