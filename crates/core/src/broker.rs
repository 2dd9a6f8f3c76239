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
//!    fail fast with 503 instead of hammering it, unless a still-valid token can be returned.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use latch_connector::oauth::OAUTH_AUTHORIZATION_CODE;
use latch_connector::{
    AccessToken, Connector, EgressClient, Fields, SecretFields, UpstreamError, ValidationStatus,
};
use latch_store::{
    Credential, CredentialStatus, NewAuditEvent, NewToken, Store, StoreError, StoredToken, now,
};
use latch_vault::{ExposeSecret, Purpose, RecordContext, Sealed, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::change_feed::{ChangeFeed, Watch};
use crate::error::CoreError;
use crate::metrics::{Issuance, Metrics};
use crate::oauth_settings::app_redirect_uri;
use crate::secrets::{Secrets, open_text, seal_text};
use crate::slot_map::SlotMap;

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
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            cool_down: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(10),
            poll: Duration::from_millis(50),
            forced_interval: FORCED_REFRESH_INTERVAL,
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

/// A token for a job.
pub struct IssuedToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub source: Issuance,
}

struct CachedToken {
    org_id: Uuid,
    /// The change feed's position before the credential was read.
    basis: i64,
    token: SecretString,
    expires_at: DateTime<Utc>,
    obtained_at: DateTime<Utc>,
    credential_version: i64,
    confirmed_at: Instant,
}

impl CachedToken {
    fn lives(&self, min_ttl: Duration, now: DateTime<Utc>) -> bool {
        let left = self.expires_at - now;
        left.to_std().is_ok_and(|left| left >= min_ttl)
    }

    fn alive(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// Usable for a request asked at `asked_at` with `wish`, for a credential at `version`.
    fn suits(
        &self,
        version: i64,
        wish: TokenWish,
        asked_at: DateTime<Utc>,
        forced_interval: Duration,
    ) -> bool {
        self.credential_version == version
            && self.lives(wish.min_ttl, asked_at)
            && self.answers_force(wish, asked_at, forced_interval)
    }

    /// Whether handing this token out answers a forced refresh: it is not the rejected one,
    /// or (rejected one unnamed) it was obtained within `forced_interval` of the request.
    fn answers_force(
        &self,
        wish: TokenWish,
        asked_at: DateTime<Utc>,
        forced_interval: Duration,
    ) -> bool {
        if !wish.force_refresh {
            return true;
        }
        match wish.rejected {
            Some(rejected) => !bool::from(
                token_digest(self.token.expose_secret())
                    .as_slice()
                    .ct_eq(&rejected),
            ),
            None => {
                let interval = chrono::Duration::from_std(forced_interval).unwrap_or_default();
                self.obtained_at > asked_at - interval
            }
        }
    }

    fn issue(&self, source: Issuance) -> IssuedToken {
        IssuedToken {
            token: self.token.clone(),
            expires_at: self.expires_at,
            source,
        }
    }
}

/// What a login sends upstream: an API key's secrets, or an OAuth grant's refresh token
/// (`None` when the store holds none).
enum LoginWith {
    Secrets(SecretFields),
    RefreshToken {
        token: Option<SecretString>,
        /// The redirect URI of the credential's OAuth app, which the upstream wants again.
        redirect_uri: String,
    },
}

/// Why the last refresh failed; requests fail fast with it until the cool-down ends.
#[derive(Clone)]
enum Failure {
    /// The upstream refused the credential (409).
    Invalid(String),
    /// The upstream no longer accepts the OAuth grant (409, reconnect).
    Reconnect(String),
    /// The upstream could not be reached or erred (503).
    Unavailable(String),
}

struct CoolDown {
    until: Instant,
    failure: Failure,
}

/// Everything the broker keeps for one credential.
struct Slot {
    token: ArcSwapOption<CachedToken>,
    refresh: tokio::sync::Mutex<()>,
    cool_down: Mutex<Option<CoolDown>>,
    /// Upstream failures in a row, for the backoff; reset by a token.
    failures: std::sync::atomic::AtomicU32,
    watch: Watch,
}

impl Slot {
    fn new(watch: Watch) -> Self {
        Self {
            token: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(()),
            cool_down: Mutex::new(None),
            failures: std::sync::atomic::AtomicU32::new(0),
            watch,
        }
    }

    /// How long to leave the upstream alone after one more failure in a row: doubling from
    /// one second up to `cap`, drawn between half and all of that (so replicas and
    /// credentials do not retry in step), and never less than the upstream's `Retry-After`.
    fn backoff(&self, retry_after: Option<u64>, cap: Duration) -> Duration {
        let failures = self
            .failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .min(16);
        let full = Duration::from_secs(1u64 << failures).min(cap);
        let mut random = [0u8; 4];
        let fraction = match getrandom::fill(&mut random) {
            Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        let jittered = full.mul_f64(0.5 + fraction / 2.0);
        jittered.max(Duration::from_secs(retry_after.unwrap_or(0)))
    }

    fn cooling(&self, at: Instant) -> Option<(u64, Failure)> {
        let guard = self.cool_down.lock().unwrap_or_else(|p| p.into_inner());
        let cool = guard.as_ref()?;
        let left = cool
            .until
            .checked_duration_since(at)
            .filter(|left| !left.is_zero())?;
        let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some((seconds.max(1), cool.failure.clone()))
    }

    fn cool_down(&self, at: Instant, seconds: u64, failure: Failure) {
        self.cool_down_for(at, Duration::from_secs(seconds), failure);
    }

    fn cool_down_for(&self, at: Instant, wait: Duration, failure: Failure) {
        *self.cool_down.lock().unwrap_or_else(|p| p.into_inner()) = Some(CoolDown {
            until: at + wait,
            failure,
        });
    }
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

    /// The tokens this process and the store hold for a credential, in clear: what to log out
    /// upstream once a change or a deletion makes them obsolete.
    pub async fn tokens_of(&self, credential: &Credential) -> Vec<SecretString> {
        let mut tokens = Vec::new();
        if let Some(cached) = self
            .slots
            .get(&credential.id)
            .and_then(|slot| slot.token.load_full())
        {
            tokens.push(cached.token.clone());
        }
        if let Ok(Some(stored)) = self.open_stored(credential, self.changes.applied()).await
            && tokens
                .iter()
                .all(|known| known.expose_secret() != stored.token.expose_secret())
        {
            tokens.push(stored.token.clone());
        }
        tokens
    }

    /// Drops a changed or deleted credential's tokens everywhere: this process at once, the
    /// store's copy (other replicas also drop theirs, by version, within a second), and the
    /// upstream sessions, logged out in the background, best effort.
    pub fn retire(&self, credential: &Credential, tokens: Vec<SecretString>) {
        self.forget(credential.id);
        let store = self.store.clone();
        let egress = self.egress.clone();
        let connector = self.secrets.catalogue().shared(&credential.connector);
        let config = credential.config.as_object().cloned().unwrap_or_default();
        let credential_id = credential.id;
        let oauth = credential.auth_method == OAUTH_AUTHORIZATION_CODE;
        tokio::spawn(async move {
            if let Err(error) = store.delete_credential_token(credential_id).await {
                tracing::warn!(%error, "could not drop a stored token");
            }
            let Some(connector) = connector else {
                return;
            };
            for token in &tokens {
                // An OAuth grant ends with its logout, refresh token included.
                match (oauth, connector.oauth()) {
                    (true, Some(flow)) => flow.logout(&egress, &config, token).await,
                    _ => connector.revoke(&egress, &config, token).await,
                }
            }
        });
    }

    /// A token with at least `wish.min_ttl` left for the caller's credential.
    pub async fn token(
        &self,
        org_id: Uuid,
        credential_id: Uuid,
        wish: TokenWish,
    ) -> Result<IssuedToken, CoreError> {
        let asked_at = self.clock.now();
        if !wish.force_refresh
            && let Some(slot) = self.slots.get(&credential_id)
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
        self.refresh(&slot, &credential, basis, wish, asked_at)
            .await
    }

    /// The cached token, if it belongs to this version of the credential: marked confirmed.
    fn confirm_cached(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
    ) -> Option<Arc<CachedToken>> {
        let cached = slot.token.load_full()?;
        if cached.org_id != credential.org_id || cached.credential_version != credential.version {
            slot.token.store(None);
            return None;
        }
        let confirmed = Arc::new(CachedToken {
            token: cached.token.clone(),
            confirmed_at: self.clock.instant(),
            basis,
            ..*cached
        });
        slot.token.store(Some(confirmed.clone()));
        Some(confirmed)
    }

    /// The store's copy of the token, opened and cached, when it is for this version.
    async fn stored(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
    ) -> Result<Option<Arc<CachedToken>>, CoreError> {
        let stored = self.open_stored(credential, basis).await?;
        Ok(self.remember_stored(slot, stored))
    }

    /// A token read from the store, cached in the slot when it is newer than the slot's.
    fn remember_stored(
        &self,
        slot: &Slot,
        stored: Option<CachedToken>,
    ) -> Option<Arc<CachedToken>> {
        let stored = Arc::new(stored?);
        let newer_than_cache = slot
            .token
            .load()
            .as_ref()
            .is_none_or(|current| current.obtained_at < stored.obtained_at);
        if newer_than_cache {
            slot.token.store(Some(stored.clone()));
        }
        Some(stored)
    }

    /// Logs in for a new token, once across replicas. A replica that loses the lease waits
    /// with reads only (the store's copy, and whether the lease lapsed), and tries the lease
    /// again only once it lapsed.
    async fn refresh(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
        wish: TokenWish,
        asked_at: DateTime<Utc>,
    ) -> Result<IssuedToken, CoreError> {
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let give_up = self.clock.instant() + self.config.lease + Duration::from_secs(5);
        loop {
            let owner = Uuid::now_v7().to_string();
            let at = self.clock.now();
            let won = match self
                .store
                .acquire_token_lease(credential.id, credential.version, &owner, at + lease, at)
                .await
            {
                Err(StoreError::NotFound) => return Err(not_found()),
                other => other?,
            };
            if won {
                return self
                    .login_under_lease(slot, credential, basis, &owner, wish, asked_at)
                    .await;
            }
            // Another replica is logging in: wait for its token, or for its lease to lapse,
            // with one read of the token row a poll.
            loop {
                self.clock.sleep(self.config.poll).await;
                let Some(row) = self.store.credential_token(credential.id).await? else {
                    break;
                };
                let lapsed = row
                    .lease_until
                    .is_none_or(|until| until <= self.clock.now());
                if row.obtained_at.is_some_and(|at| at > asked_at) {
                    let opened = self.open_row(credential, basis, row)?;
                    if let Some(stored) = self.remember_stored(slot, opened)
                        && stored.answers_force(wish, asked_at, self.config.forced_interval)
                    {
                        return fresh_enough(&stored, wish, self.clock.now(), Issuance::Stored);
                    }
                }
                if self.clock.instant() > give_up {
                    return Err(unavailable(
                        5,
                        "another replica is logging in for this credential; retry shortly".into(),
                    ));
                }
                if lapsed {
                    break;
                }
            }
        }
    }

    async fn login_under_lease(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
        owner: &str,
        wish: TokenWish,
        asked_at: DateTime<Utc>,
    ) -> Result<IssuedToken, CoreError> {
        // Another replica may have written a token between our read and our win.
        if let Some(stored) = self.stored(slot, credential, basis).await?
            && stored.suits(
                credential.version,
                wish,
                asked_at,
                self.config.forced_interval,
            )
        {
            self.release(credential.id, owner).await;
            return Ok(stored.issue(Issuance::Stored));
        }
        // What the login needs is read here, before the call: a fault in opening it is
        // Latch's (500, logged), not the upstream's. An OAuth refresh token is read under the
        // lease, so it is the one the last holder wrote, never an older copy.
        let connector = self.secrets.connector_of(credential)?;
        let config = credential.config.as_object().cloned().unwrap_or_default();
        let with = self.login_with(credential).await?;
        let started = self.clock.instant();
        let fetched = {
            let login = self.fetch(connector, &config, &with);
            tokio::pin!(login);
            tokio::select! {
                fetched = &mut login => fetched,
                () = self.keep_lease(credential.id, owner) => login.await,
            }
        };
        self.metrics.upstream_login(
            self.clock.instant().duration_since(started),
            fetched.is_ok(),
        );

        let (access, rotated) = match fetched {
            Ok(fetched) => fetched,
            Err(failure) => {
                self.release(credential.id, owner).await;
                if failure.status == ValidationStatus::Invalid {
                    slot.token.store(None);
                    let now = self.clock.instant();
                    let cool_down = self.config.cool_down.as_secs();
                    if credential.auth_method == OAUTH_AUTHORIZATION_CODE {
                        let status = CredentialStatus::ReauthorizationRequired;
                        self.mark_invalid(credential, status, &failure.detail).await;
                        let detail = format!(
                            "{} The credential now needs a new consent: connect it again \
                             (POST /v1/credentials/{}/reconnect).",
                            failure.detail, credential.id
                        );
                        slot.cool_down(now, cool_down, Failure::Reconnect(detail.clone()));
                        return Err(CoreError::ReconnectRequired(detail));
                    }
                    let status = CredentialStatus::Invalid;
                    self.mark_invalid(credential, status, &failure.detail).await;
                    let detail = format!(
                        "{} The credential is now marked invalid: rotate its secret or \
                         validate it again once fixed.",
                        failure.detail
                    );
                    slot.cool_down(now, cool_down, Failure::Invalid(detail.clone()));
                    return Err(CoreError::CredentialInvalid(detail));
                }
                self.metrics.refresh_failure();
                let wait = slot.backoff(failure.retry_after, self.config.backoff_cap);
                slot.cool_down_for(
                    self.clock.instant(),
                    wait,
                    Failure::Unavailable(failure.detail.clone()),
                );
                // Whole seconds, rounded up: a client that waits as told finds the way open.
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                tracing::warn!(credential_id = %credential.id, detail = %failure.detail, "token refresh failed");
                return self.stale_or(slot, credential, unavailable(retry_after, failure.detail));
            }
        };

        let obtained_at = self.clock.now();
        let lifetime = Duration::from_secs(access.expires_in);
        let expires_at = obtained_at + chrono::Duration::from_std(lifetime).unwrap_or_default();
        let context = RecordContext::new(credential.org_id, credential.id);
        // One data key for both: the token and, for an OAuth grant, its rotated refresh token.
        let data_key = self.secrets.data_key_of(credential)?;
        let sealed = seal_text(&data_key, &context, Purpose::Token, &access.token)?;
        let rotated = rotated
            .map(|refresh| seal_text(&data_key, &context, Purpose::RefreshToken, &refresh))
            .transpose()?;
        let row = NewToken {
            token_ct: sealed.ciphertext,
            nonce: sealed.nonce,
            token_type: access.token_type.clone(),
            expires_at,
            obtained_at,
            credential_version: credential.version,
            refresh_ct: rotated.as_ref().map(|sealed| sealed.ciphertext.clone()),
            refresh_nonce: rotated.map(|sealed| sealed.nonce),
        };
        match self.store.store_token(credential.id, owner, &row).await {
            Ok(true) => {}
            Ok(false) => {
                // The lease lapsed during the login and another replica took over: its token
                // is the credential's now. This session would be one more left open upstream.
                tracing::warn!(
                    credential_id = %credential.id,
                    "the refresh lease lapsed during the login; logging that session out"
                );
                self.retire_session(credential, access.token);
                if let Some(stored) = self.stored(slot, credential, basis).await?
                    && stored.obtained_at > asked_at
                {
                    return fresh_enough(&stored, wish, self.clock.now(), Issuance::Stored);
                }
                return Err(unavailable(
                    5,
                    "another replica took over the login for this credential; retry shortly".into(),
                ));
            }
            Err(error) => tracing::error!(%error, "could not store a token"),
        }
        let cached = Arc::new(CachedToken {
            org_id: credential.org_id,
            basis,
            token: access.token,
            expires_at,
            obtained_at,
            credential_version: credential.version,
            confirmed_at: self.clock.instant(),
        });
        let replaced = slot.token.swap(Some(cached.clone()));
        if wish.force_refresh
            && let Some(replaced) = replaced
            && replaced.token.expose_secret() != cached.token.expose_secret()
        {
            // The job says the upstream refused it; whatever session is left behind it, end it.
            self.retire_session(credential, replaced.token.clone());
        }
        *slot.cool_down.lock().unwrap_or_else(|p| p.into_inner()) = None;
        slot.failures.store(0, std::sync::atomic::Ordering::Relaxed);
        fresh_enough(&cached, wish, obtained_at, Issuance::Refreshed)
    }

    /// What a login of this credential sends upstream.
    async fn login_with(&self, credential: &Credential) -> Result<LoginWith, CoreError> {
        if credential.auth_method == OAUTH_AUTHORIZATION_CODE {
            Ok(LoginWith::RefreshToken {
                token: self.refresh_token_of(credential).await?,
                redirect_uri: self.redirect_uri_of(credential).await?,
            })
        } else {
            Ok(LoginWith::Secrets(self.secrets.open(credential)?))
        }
    }

    /// A new access token from the upstream, and a rotated refresh token when the login is an
    /// OAuth refresh and the answer carries one.
    async fn fetch(
        &self,
        connector: &dyn Connector,
        config: &Fields,
        with: &LoginWith,
    ) -> Result<(AccessToken, Option<SecretString>), UpstreamError> {
        match with {
            LoginWith::Secrets(secrets) => {
                let access = connector.fetch_token(&self.egress, config, secrets).await?;
                Ok((access, None))
            }
            LoginWith::RefreshToken { token: None, .. } => Err(UpstreamError::invalid(
                "the credential holds no refresh token",
            )),
            LoginWith::RefreshToken {
                token: Some(refresh_token),
                redirect_uri,
            } => {
                let flow = connector
                    .oauth()
                    .ok_or_else(|| UpstreamError::error("the connector no longer offers OAuth"))?;
                let grant = flow
                    .refresh(&self.egress, config, refresh_token, redirect_uri)
                    .await?;
                Ok((grant.access, grant.refresh_token))
            }
        }
    }

    /// The redirect URI the credential's grant was made with: its OAuth app's own, or the
    /// shared one for an app still on it (and for a credential without an app).
    async fn redirect_uri_of(&self, credential: &Credential) -> Result<String, CoreError> {
        let app = match credential.oauth_app_id {
            Some(app_id) => self.store.get_oauth_app(credential.org_id, app_id).await?,
            None => None,
        };
        Ok(match app {
            Some(app) => app_redirect_uri(&self.redirect_uri, &app),
            None => self.redirect_uri.clone(),
        })
    }

    /// The stored refresh token of an OAuth credential, opened.
    async fn refresh_token_of(
        &self,
        credential: &Credential,
    ) -> Result<Option<SecretString>, CoreError> {
        let Some(row) = self.store.credential_token(credential.id).await? else {
            return Ok(None);
        };
        let (Some(ciphertext), Some(nonce)) = (row.refresh_ct, row.refresh_nonce) else {
            return Ok(None);
        };
        let context = RecordContext::new(credential.org_id, credential.id);
        let data_key = self.secrets.data_key_of(credential)?;
        let sealed = Sealed { nonce, ciphertext };
        open_text(&data_key, &context, Purpose::RefreshToken, &sealed).map(Some)
    }

    /// Renews `owner`'s lease every third of its length, for as long as the login under it
    /// runs; returns (and stops renewing) once the lease is lost, and then the login's late
    /// write will be refused.
    async fn keep_lease(&self, credential_id: Uuid, owner: &str) {
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        loop {
            self.clock.sleep(self.config.lease / 3).await;
            let until = self.clock.now() + lease;
            match self
                .store
                .renew_token_lease(credential_id, owner, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                // A store that cannot be reached now may answer at the next turn.
                Err(error) => tracing::warn!(%error, "could not renew a token lease"),
            }
        }
    }

    /// Logs a replaced token's session out upstream, in the background, best effort.
    fn retire_session(&self, credential: &Credential, token: SecretString) {
        // An OAuth logout ends the grant's refresh token too: an old access token is left to
        // expire instead, and the grant ends only when the credential is deleted.
        if credential.auth_method == OAUTH_AUTHORIZATION_CODE {
            return;
        }
        let Some(connector) = self.secrets.catalogue().shared(&credential.connector) else {
            return;
        };
        let egress = self.egress.clone();
        let config = credential.config.as_object().cloned().unwrap_or_default();
        tokio::spawn(async move {
            connector.revoke(&egress, &config, &token).await;
        });
    }

    async fn release(&self, credential_id: Uuid, owner: &str) {
        if let Err(error) = self.store.release_token_lease(credential_id, owner).await {
            tracing::warn!(%error, "could not release a token lease; it lapses by itself");
        }
    }

    /// A token that still lives (below `min_ttl`, but better than failing the job), or `error`.
    fn stale_or(
        &self,
        slot: &Slot,
        credential: &Credential,
        error: CoreError,
    ) -> Result<IssuedToken, CoreError> {
        match slot.token.load_full() {
            Some(cached)
                if cached.credential_version == credential.version
                    && cached.alive(self.clock.now()) =>
            {
                Ok(cached.issue(Issuance::Stale))
            }
            _ => Err(error),
        }
    }

    async fn mark_invalid(&self, credential: &Credential, status: CredentialStatus, detail: &str) {
        let mut changes = credential.changes();
        changes.status = status;
        changes.status_detail = Some(detail.to_string());
        changes.identity = None;
        changes.validated_at = Some(self.clock.now());
        let event = NewAuditEvent {
            org_id: Some(credential.org_id),
            actor_key_id: None,
            action: AuditAction::CredentialInvalidated.into(),
            target_type: "credential".into(),
            target_id: Some(credential.id.to_string()),
            outcome: AuditOutcome::Failure.into(),
            detail: json!({"during": "token refresh", "detail": detail}),
        };
        match self
            .store
            .update_credential(
                credential.org_id,
                credential.id,
                credential.version,
                &changes,
                &event,
            )
            .await
        {
            // Someone changed the credential meanwhile: their change decides.
            Ok(_) | Err(StoreError::VersionMismatch { .. }) | Err(StoreError::NotFound) => {}
            Err(error) => tracing::error!(%error, "could not mark a credential invalid"),
        }
    }

    /// The store's copy of a credential's token, opened, when it is for this version and lives.
    async fn open_stored(
        &self,
        credential: &Credential,
        basis: i64,
    ) -> Result<Option<CachedToken>, CoreError> {
        match self.store.credential_token(credential.id).await? {
            Some(row) => self.open_row(credential, basis, row),
            None => Ok(None),
        }
    }

    /// A token row opened, when it is for this version of the credential and lives.
    fn open_row(
        &self,
        credential: &Credential,
        basis: i64,
        row: StoredToken,
    ) -> Result<Option<CachedToken>, CoreError> {
        let (Some(ciphertext), Some(nonce), Some(expires_at), Some(obtained_at)) =
            (row.token_ct, row.nonce, row.expires_at, row.obtained_at)
        else {
            return Ok(None);
        };
        if row.credential_version != credential.version || expires_at <= self.clock.now() {
            return Ok(None);
        }
        let context = RecordContext::new(credential.org_id, credential.id);
        let data_key = self.secrets.data_key_of(credential)?;
        let sealed = Sealed { nonce, ciphertext };
        let token = open_text(&data_key, &context, Purpose::Token, &sealed)?;
        Ok(Some(CachedToken {
            org_id: credential.org_id,
            basis,
            token,
            expires_at,
            obtained_at,
            credential_version: credential.version,
            confirmed_at: self.clock.instant(),
        }))
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
    CoreError::NotFound("no credential with this id in your organization".into())
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
