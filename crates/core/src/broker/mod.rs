//! The token broker: fresh upstream access tokens for jobs.
//!
//! 1. This process's cache: a token with at least `min_ttl` left, whose credential version
//!    was confirmed in the store within the last second or is vouched for by the change feed
//!    (`change_feed.rs`: no change of it since), is handed out at once: no database
//!    write, no upstream call, and no lock shared with other credentials (the slot map and
//!    each slot's token are read through `ArcSwap`).
//! 2. Otherwise the credential is read (its version drops tokens obtained before a change)
//!    and the store's sealed copy is tried: another replica, or this one before a restart,
//!    may have logged in already.
//! 3. Otherwise one refresh per credential per process (a per-credential async mutex: the
//!    others wait and share its token), and across replicas a fenced lease in
//!    `credential_tokens`: the winner re-checks the store, logs in with no transaction or
//!    connection held, and writes the token only while it still holds the lease; the others
//!    poll the store until the token appears or the lease lapses (30 s).
//! 4. An upstream that refuses the credential marks it `invalid` (409, and later requests fail
//!    fast); one that cannot be reached or errs starts a 30 s cool-down in which requests
//!    fail fast with 503 instead of hammering it, unless a still-valid token can be returned,
//!    and counts towards `degraded` (`crate::health`). Every login's result is written to the
//!    credential's health, which is not an edit: no version bump, no token dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use latch_connector::{
    AccessToken, Connector, EgressClient, Fields, SecretFields, UpstreamError, ValidationStatus,
};
use latch_store::{
    Credential, CredentialStatus, HealthCause, NewToken, Store, StoreError, StoredToken, now,
};
use latch_vault::{ExposeSecret, Purpose, RecordContext, Sealed, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::catalogue::made_by_consent;
use crate::change_feed::{ChangeFeed, Watch};
use crate::error::CoreError;
use crate::health::{Finding, HealthPolicy, Observation, observe};
use crate::metrics::{Issuance, Metrics};
use crate::oauth_settings::app_redirect_uri;
use crate::secrets::{Secrets, open_text, seal_text};
use crate::slot_map::SlotMap;

// The broker's parts: what it keeps per credential (`slot`), the store's copy of a token
// (`stored`), logging in under the lease (`login`) and ending what a change or a deletion
// leaves behind upstream (`retire`). Each sees this module's imports.
mod login;
mod retire;
mod slot;
mod stored;

pub use retire::ObsoleteTokens;
use slot::{CachedToken, Failure, Slot};

/// The broker's timings, all settable (tests shorten nothing: they move a clock instead).
#[derive(Debug, Clone, Copy)]
pub struct BrokerConfig {
    /// How long a replica may log in for a credential before another may take over.
    pub lease: Duration,
    /// How long a refusal of the credential is remembered before the upstream is asked again.
    pub cool_down: Duration,
    /// The longest wait after an upstream failure (429, 5xx, unreachable) beyond the
    /// upstream's own `Retry-After`: waits double from one second up to this, with jitter.
    pub backoff_cap: Duration,
    /// How often a replica waiting for another's login looks at the store.
    pub poll: Duration,
    /// See [`FORCED_REFRESH_INTERVAL`].
    pub forced_interval: Duration,
    /// When failed logins make a credential `degraded`.
    pub health: HealthPolicy,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            cool_down: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(10),
            poll: Duration::from_millis(50),
            forced_interval: FORCED_REFRESH_INTERVAL,
            health: HealthPolicy::default(),
        }
    }
}

/// Time as the broker sees it: the wall clock for expiries and leases (compared across
/// replicas through the store), a monotonic clock for local ages, and waiting.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn instant(&self) -> Instant;
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The real clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// How long a token counts as fresh for a forced refresh that does not name the token it
/// replaces: at most one such forced login per credential per interval.
pub const FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// What a job asks for.
#[derive(Debug, Clone, Copy)]
pub struct TokenWish {
    pub min_ttl: Duration,
    /// The job was told 401 with its token: do not hand that token out again.
    pub force_refresh: bool,
    /// The SHA-256 of the token the upstream refused, when the job named it.
    pub rejected: Option<[u8; 32]>,
}

/// The digest a rejected token is compared by, so the broker keeps no copy of it.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Who asks the broker for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// A job: its demand is noted for refreshing ahead.
    Job,
    /// Latch refreshing ahead.
    Latch,
    /// A check, which records what it found itself.
    Check,
}

/// A credential jobs asked for lately (see [`TokenBroker::demand`]).
#[derive(Debug, Clone, Copy)]
pub struct Demanded {
    pub org_id: Uuid,
    pub credential_id: Uuid,
    /// The largest `min_ttl` jobs asked for.
    pub min_ttl: Duration,
    /// How long its cached token still lives.
    pub left: Duration,
    /// How long its cached token lived when it was obtained.
    pub lifetime: Duration,
}

/// A token for a job.
pub struct IssuedToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub details: Arc<TokenDetails>,
    pub source: Issuance,
}

/// What comes with a token besides its value and lifetime: neither is a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenDetails {
    /// The scheme the upstream named for it (`Bearer` mostly).
    pub token_type: String,
    /// What the connector kept from the upstream's answer for jobs.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The scheme of a stored token whose row names none (written before rows kept it).
const BEARER: &str = "Bearer";

/// The longest a token is kept, whatever the upstream says: a year. A token said to live
/// longer is logged in again after a year; its expiry stays a date every clock can name
/// (`expires_in` of 10^13 seconds once overflowed the date and broke the request).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long a fresh token lives: what the upstream answered, else what its connector
/// declares, at most [`MAX_TOKEN_LIFETIME`]; an upstream that says nothing for a connector
/// that declares nothing is an error, not a guess.
pub(crate) fn lifetime_of(
    connector: &dyn Connector,
    access: &AccessToken,
) -> Result<Duration, UpstreamError> {
    let lifetime = match (access.expires_in, connector.default_token_lifetime()) {
        (Some(seconds), _) => Duration::from_secs(seconds),
        (None, Some(lifetime)) => lifetime,
        (None, None) => {
            return Err(UpstreamError::error(format!(
                "{} answered a token without saying how long it lives (no expires_in)",
                connector.name()
            )));
        }
    };
    Ok(lifetime.min(MAX_TOKEN_LIFETIME))
}

/// What the broker reaches: the store, the saved secrets, the network and the change feed.
#[derive(Clone)]
pub struct BrokerDeps {
    pub store: Arc<dyn Store>,
    pub secrets: Secrets,
    pub egress: EgressClient,
    pub changes: Arc<ChangeFeed>,
    /// The shared OAuth redirect URI, `{public}/v1/oauth/callback`; an app's own is it and
    /// `/{app id}`. The upstream wants the grant's redirect URI again with every refresh.
    pub redirect_uri: String,
}

pub struct TokenBroker {
    slots: SlotMap<Uuid, Slot>,
    pub metrics: Arc<Metrics>,
    config: BrokerConfig,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    secrets: Secrets,
    egress: EgressClient,
    changes: Arc<ChangeFeed>,
    redirect_uri: String,
}

impl TokenBroker {
    pub fn new(
        deps: BrokerDeps,
        metrics: Arc<Metrics>,
        config: BrokerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            slots: SlotMap::default(),
            metrics,
            config,
            clock,
            store: deps.store,
            secrets: deps.secrets,
            egress: deps.egress,
            changes: deps.changes,
            redirect_uri: deps.redirect_uri,
        }
    }

    /// A change of the credential was committed (on any replica) as number `seq`.
    pub fn changed(&self, credential_id: Uuid, seq: i64) {
        if let Some(slot) = self.slots.get(&credential_id) {
            slot.watch.changed(seq);
        }
    }

    /// Forgets what this process holds for a credential (changed or deleted).
    pub fn forget(&self, credential_id: Uuid) {
        if let Some(slot) = self.slots.get(&credential_id) {
            slot.token.store(None);
            *slot.cool_down.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// The credential was just proven valid: a refusal this process remembers is over. Its
    /// cached token stays (health is not an edit).
    pub fn recovered(&self, credential_id: Uuid) {
        if let Some(slot) = self.slots.get(&credential_id) {
            *slot.cool_down.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// When failed logins make a credential `degraded`.
    pub fn health_policy(&self) -> HealthPolicy {
        self.config.health
    }

    /// A token with at least `wish.min_ttl` left for the caller's credential.
    pub async fn token(
        &self,
        org_id: Uuid,
        credential_id: Uuid,
        wish: TokenWish,
    ) -> Result<IssuedToken, CoreError> {
        self.serve(org_id, credential_id, wish, Asker::Job).await
    }

    /// The credentials jobs asked for within `window` that have a cached token, with the
    /// largest `min_ttl` they asked for and how long that token still lives.
    pub fn demand(&self, window: Duration) -> Vec<Demanded> {
        let now = self.clock.now();
        let since = now.timestamp() - i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        self.slots
            .entries()
            .into_iter()
            .filter_map(|(credential_id, slot)| {
                let (asked_at, min_ttl) = slot.demand.read();
                if asked_at < since {
                    return None;
                }
                let cached = slot.token.load_full()?;
                Some(Demanded {
                    org_id: cached.org_id,
                    credential_id,
                    min_ttl,
                    left: (cached.expires_at - now).to_std().unwrap_or_default(),
                    lifetime: (cached.expires_at - cached.obtained_at)
                        .to_std()
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// A token for Latch's own use, under the same rules as for jobs (one login across
    /// replicas), not counted as a job's demand: refreshing ahead (`Asker::Latch`: a login's
    /// result is written to the credential's health, as for jobs) or a check (`Asker::Check`:
    /// the check writes what it found itself, once).
    pub async fn token_for_latch(
        &self,
        org_id: Uuid,
        credential_id: Uuid,
        wish: TokenWish,
        asker: Asker,
    ) -> Result<IssuedToken, CoreError> {
        self.serve(org_id, credential_id, wish, asker).await
    }

    async fn serve(
        &self,
        org_id: Uuid,
        credential_id: Uuid,
        wish: TokenWish,
        asker: Asker,
    ) -> Result<IssuedToken, CoreError> {
        let asked_by_job = asker == Asker::Job;
        let asked_at = self.clock.now();
        let slot = self.slots.get(&credential_id);
        // Noted once: here for a credential already seen, below for one seen first now.
        let noted = asked_by_job && slot.is_some();
        if noted && let Some(slot) = &slot {
            slot.demand.note(asked_at, wish.min_ttl);
        }
        if !wish.force_refresh
            && let Some(slot) = slot
            && let Some(cached) = slot.token.load().as_ref()
            && cached.org_id == org_id
            && slot.watch.trusts(
                &self.changes,
                cached.basis,
                cached.confirmed_at,
                self.clock.instant(),
            )
            && cached.lives(wish.min_ttl, asked_at)
        {
            self.metrics.cache_hit();
            return Ok(cached.issue(Issuance::Cached));
        }
        self.metrics.cache_miss();

        let basis = self.changes.applied();
        let credential = self
            .store
            .get_credential(org_id, credential_id)
            .await?
            .ok_or_else(not_found)?;
        if credential.status == CredentialStatus::Invalid {
            return Err(invalid(&credential));
        }
        if credential.status == CredentialStatus::ReauthorizationRequired {
            return Err(reconnect(&credential));
        }
        // Only credentials that exist get a slot: ids that answer 404 cannot grow the map.
        let slot = self
            .slots
            .get_or_add(&credential_id, || Slot::new(self.changes.watch()));
        if asked_by_job && !noted {
            slot.demand.note(asked_at, wish.min_ttl);
        }
        let forced_interval = self.config.forced_interval;
        if let Some(cached) = self.confirm_cached(&slot, &credential, basis)
            && cached.suits(credential.version, wish, asked_at, forced_interval)
        {
            return Ok(cached.issue(Issuance::Cached));
        }
        if let Some(stored) = self.stored(&slot, &credential, basis).await?
            && stored.suits(credential.version, wish, asked_at, forced_interval)
        {
            return Ok(stored.issue(Issuance::Stored));
        }

        let _flight = slot.refresh.lock().await;
        // Whoever held the flight before may have brought what this request needs.
        if let Some(cached) = slot.token.load_full()
            && cached.credential_version == credential.version
            && cached.obtained_at > asked_at
            && cached.answers_force(wish, asked_at, forced_interval)
        {
            return fresh_enough(&cached, wish, self.clock.now(), Issuance::Refreshed);
        }
        // Requests queued behind a refresh that failed share its failure instead of trying
        // the upstream again, one after the other.
        match slot.cooling(self.clock.instant()) {
            Some((_, Failure::Invalid(detail))) => {
                return Err(CoreError::CredentialInvalid(detail));
            }
            Some((_, Failure::Reconnect(detail))) => {
                return Err(CoreError::ReconnectRequired(detail));
            }
            Some((retry_after, Failure::Unavailable(detail))) => {
                return self.stale_or(&slot, &credential, unavailable(retry_after, detail));
            }
            None => {}
        }
        // A token obtained moments ago shows how long the upstream's tokens live: asking for
        // more would log in again for nothing.
        let recently =
            asked_at - chrono::Duration::from_std(self.config.cool_down).unwrap_or_default();
        let wanted = chrono::Duration::from_std(wish.min_ttl).unwrap_or_default();
        if let Some(cached) = slot.token.load_full()
            && cached.credential_version == credential.version
            && cached.obtained_at > recently
            && cached.expires_at - cached.obtained_at < wanted
        {
            return fresh_enough(&cached, wish, self.clock.now(), Issuance::Refreshed);
        }
        let asked = login::Asked {
            wish,
            at: asked_at,
            asker,
        };
        self.refresh(&slot, &credential, basis, asked).await
    }
}

/// A freshly obtained token, unless the upstream's tokens live shorter than asked.
fn fresh_enough(
    token: &CachedToken,
    wish: TokenWish,
    at: DateTime<Utc>,
    source: Issuance,
) -> Result<IssuedToken, CoreError> {
    if token.lives(wish.min_ttl, at) {
        return Ok(token.issue(source));
    }
    let lifetime = (token.expires_at - token.obtained_at).num_seconds();
    Err(CoreError::TokenTooShort(format!(
        "the upstream hands out tokens that live {lifetime} seconds, less than the \
         {} seconds asked for; ask for a smaller min_ttl_seconds",
        wish.min_ttl.as_secs()
    )))
}

fn not_found() -> CoreError {
    CoreError::no_such("credential")
}

fn invalid(credential: &Credential) -> CoreError {
    CoreError::CredentialInvalid(format!(
        "the credential is marked invalid ({}); rotate its secret or validate it again",
        credential
            .status_detail
            .as_deref()
            .unwrap_or("the upstream refused it")
    ))
}

fn reconnect(credential: &Credential) -> CoreError {
    CoreError::ReconnectRequired(format!(
        "the upstream no longer accepts this credential's consent ({}); connect it again \
         (POST /v1/credentials/{}/reconnect)",
        credential
            .status_detail
            .as_deref()
            .unwrap_or("the grant was revoked"),
        credential.id
    ))
}

fn unavailable(retry_after: u64, detail: String) -> CoreError {
    CoreError::Unavailable {
        detail: format!("no token: {detail}"),
        retry_after: Some(retry_after),
    }
}

#[cfg(test)]
mod tests;
