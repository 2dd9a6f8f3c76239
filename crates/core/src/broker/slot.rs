//! What the broker keeps for one credential: its cached token, the flight that refreshes
//! it, and the cool-down and back-off after an upstream failure.

use super::*;

pub(super) struct CachedToken {
    pub(super) org_id: Uuid,
    /// The change feed's position before the credential was read.
    pub(super) basis: i64,
    pub(super) token: SecretString,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) obtained_at: DateTime<Utc>,
    pub(super) credential_version: i64,
    pub(super) confirmed_at: Instant,
    pub(super) details: Arc<TokenDetails>,
}

impl CachedToken {
    pub(super) fn lives(&self, min_ttl: Duration, now: DateTime<Utc>) -> bool {
        let left = self.expires_at - now;
        left.to_std().is_ok_and(|left| left >= min_ttl)
    }

    pub(super) fn alive(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// Usable for a request asked at `asked_at` with `wish`, for a credential at `version`.
    pub(super) fn suits(
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
    pub(super) fn answers_force(
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

    pub(super) fn issue(&self, source: Issuance) -> IssuedToken {
        IssuedToken {
            token: self.token.clone(),
            expires_at: self.expires_at,
            details: self.details.clone(),
            source,
        }
    }
}

/// Why the last refresh failed; requests fail fast with it until the cool-down ends.
#[derive(Clone)]
pub(super) enum Failure {
    /// The upstream refused the credential (409).
    Invalid(String),
    /// The upstream no longer accepts the OAuth grant (409, reconnect).
    Reconnect(String),
    /// The upstream could not be reached or erred (503).
    Unavailable(String),
}

pub(super) struct CoolDown {
    pub(super) until: Instant,
    pub(super) failure: Failure,
}

/// What jobs asked of a credential lately, for refreshing its token ahead of them. Both are
/// written only when they change (at most once a second for the time), so the hot path mostly
/// reads them.
#[derive(Default)]
pub(super) struct Demand {
    /// When a job last asked, in Unix seconds.
    asked_at: std::sync::atomic::AtomicI64,
    /// The largest `min_ttl` jobs asked for, in seconds.
    min_ttl: std::sync::atomic::AtomicU64,
}

impl Demand {
    pub(super) fn note(&self, at: DateTime<Utc>, min_ttl: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let second = at.timestamp();
        if self.asked_at.load(Relaxed) < second {
            self.asked_at.store(second, Relaxed);
        }
        let seconds = min_ttl.as_secs();
        if self.min_ttl.load(Relaxed) < seconds {
            self.min_ttl.fetch_max(seconds, Relaxed);
        }
    }

    /// When a job last asked, and the largest `min_ttl` asked for.
    pub(super) fn read(&self) -> (i64, Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.asked_at.load(Relaxed),
            Duration::from_secs(self.min_ttl.load(Relaxed)),
        )
    }
}

/// Everything the broker keeps for one credential.
pub(super) struct Slot {
    pub(super) demand: Demand,
    pub(super) token: ArcSwapOption<CachedToken>,
    pub(super) refresh: tokio::sync::Mutex<()>,
    pub(super) cool_down: Mutex<Option<CoolDown>>,
    /// Upstream failures in a row, for the backoff; reset by a token.
    pub(super) failures: std::sync::atomic::AtomicU32,
    pub(super) watch: Watch,
}

impl Slot {
    pub(super) fn new(watch: Watch) -> Self {
        Self {
            demand: Demand::default(),
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
    pub(super) fn backoff(&self, retry_after: Option<u64>, cap: Duration) -> Duration {
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

    pub(super) fn cooling(&self, at: Instant) -> Option<(u64, Failure)> {
        let guard = self.cool_down.lock().unwrap_or_else(|p| p.into_inner());
        let cool = guard.as_ref()?;
        let left = cool
            .until
            .checked_duration_since(at)
            .filter(|left| !left.is_zero())?;
        let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some((seconds.max(1), cool.failure.clone()))
    }

    pub(super) fn cool_down(&self, at: Instant, seconds: u64, failure: Failure) {
        self.cool_down_for(at, Duration::from_secs(seconds), failure);
    }

    pub(super) fn cool_down_for(&self, at: Instant, wait: Duration, failure: Failure) {
        *self.cool_down.lock().unwrap_or_else(|p| p.into_inner()) = Some(CoolDown {
            until: at + wait,
            failure,
        });
    }
}
