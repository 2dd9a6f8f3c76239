//! Metrics for `GET /metrics`, kept and written by `prometheus-client` (OpenMetrics text).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How a token request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Issuance {
    /// From this process's cache.
    Cached,
    /// From the store's copy (another replica, or before a restart, logged in).
    Stored,
    /// After an upstream login.
    Refreshed,
    /// A still-valid token while the upstream could not be reached.
    Stale,
    /// The upstream refuses the credential.
    Invalid,
    /// The upstream could not be reached and no token was left.
    Unavailable,
    /// The upstream's tokens live shorter than the job asked for.
    TooShort,
}

impl Issuance {
    const ALL: [Issuance; 7] = [
        Issuance::Cached,
        Issuance::Stored,
        Issuance::Refreshed,
        Issuance::Stale,
        Issuance::Invalid,
        Issuance::Unavailable,
        Issuance::TooShort,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Issuance::Cached => "cached",
            Issuance::Stored => "stored",
            Issuance::Refreshed => "refreshed",
            Issuance::Stale => "stale",
            Issuance::Invalid => "invalid",
            Issuance::Unavailable => "unavailable",
            Issuance::TooShort => "too_short",
        }
    }

    /// Whether a token was handed out.
    pub fn issued(self) -> bool {
        matches!(
            self,
            Issuance::Cached | Issuance::Stored | Issuance::Refreshed | Issuance::Stale
        )
    }
}

/// Upper bounds of the upstream login latency histogram, in seconds.
const LOGIN_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    task: &'static str,
    result: &'static str,
}

/// The process's metrics, registered once. The series the token hot path touches are looked
/// up at start and kept: recording one is an atomic increment, with no lock and no hashing.
pub struct Metrics {
    registry: Registry,
    issuances: [Counter; Issuance::ALL.len()],
    cache_hits: Counter,
    cache_misses: Counter,
    logins_ok: Counter,
    logins_failed: Counter,
    login_seconds: Histogram,
    refresh_failures: Counter,
    audit_dropped: Counter,
    worker_runs: Family<TaskLabel, Counter>,
    checks: Family<OutcomeLabel, Counter>,
    refreshes_ahead: Family<ResultLabel, Counter>,
    webhook_attempts: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "latch_token_requests",
            "Token requests by outcome",
            requests.clone(),
        );
        let issuances = Issuance::ALL.map(|outcome| {
            requests
                .get_or_create(&OutcomeLabel {
                    outcome: outcome.label(),
                })
                .clone()
        });
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let cache_hits = counter(
            &mut registry,
            "latch_token_cache_hits",
            "Token requests served from this process's cache",
        );
        let cache_misses = counter(
            &mut registry,
            "latch_token_cache_misses",
            "Token requests that needed the store or the upstream",
        );
        let logins = Family::<ResultLabel, Counter>::default();
        registry.register(
            "latch_upstream_logins",
            "Upstream logins for tokens, by result",
            logins.clone(),
        );
        let logins_ok = logins
            .get_or_create(&ResultLabel { result: "success" })
            .clone();
        let logins_failed = logins
            .get_or_create(&ResultLabel { result: "failure" })
            .clone();
        let login_seconds = Histogram::new(LOGIN_BUCKETS);
        registry.register(
            "latch_upstream_login_duration_seconds",
            "Time an upstream login took",
            login_seconds.clone(),
        );
        let refresh_failures = counter(
            &mut registry,
            "latch_token_refresh_failures",
            "Refreshes that failed (upstream unreachable or erring)",
        );
        let audit_dropped = counter(
            &mut registry,
            "latch_audit_events_dropped",
            "Audit records counted instead of kept one by one because the queue was full",
        );
        let worker_runs = Family::<TaskLabel, Counter>::default();
        registry.register(
            "latch_worker_runs",
            "Runs of the background worker's leased tasks on this replica, by task and result",
            worker_runs.clone(),
        );
        let checks = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "latch_credential_checks",
            "Scheduled checks of credentials run on this replica, by the test login's outcome",
            checks.clone(),
        );
        let refreshes_ahead = Family::<ResultLabel, Counter>::default();
        registry.register(
            "latch_token_refreshes_ahead",
            "Tokens this replica refreshed ahead of the jobs that use them, by result",
            refreshes_ahead.clone(),
        );
        let webhook_attempts = Family::<ResultLabel, Counter>::default();
        registry.register(
            "latch_webhook_attempts",
            "Webhook delivery attempts this replica made, by result (delivered, retry, \
             given_up, lease_lost)",
            webhook_attempts.clone(),
        );
        Self {
            webhook_attempts,
            worker_runs,
            checks,
            refreshes_ahead,
            registry,
            issuances,
            cache_hits,
            cache_misses,
            logins_ok,
            logins_failed,
            login_seconds,
            refresh_failures,
            audit_dropped,
        }
    }
}

impl Metrics {
    pub fn issuance(&self, outcome: Issuance) {
        let index = Issuance::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.issuances[index].inc();
    }

    pub fn cache_hit(&self) {
        self.cache_hits.inc();
    }

    pub fn cache_miss(&self) {
        self.cache_misses.inc();
    }

    pub fn upstream_login(&self, took: Duration, ok: bool) {
        if ok {
            self.logins_ok.inc();
        } else {
            self.logins_failed.inc();
        }
        self.login_seconds.observe(took.as_secs_f64());
    }

    pub fn refresh_failure(&self) {
        self.refresh_failures.inc();
    }

    pub fn audit_dropped(&self) {
        self.audit_dropped.inc();
    }

    pub fn worker_run(&self, task: &'static str, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.worker_runs
            .get_or_create(&TaskLabel { task, result })
            .inc();
    }

    /// A scheduled check ended with `outcome` (`valid`, `invalid`, `unreachable`, `error`).
    pub fn credential_check(&self, outcome: &'static str) {
        self.checks.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// A webhook attempt ended: `delivered`, `retry`, `given_up` or `lease_lost`.
    pub fn webhook_attempt(&self, result: &'static str) {
        self.webhook_attempts
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    pub fn refresh_ahead(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.refreshes_ahead
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// The OpenMetrics text exposition, which Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_counts_each_login_in_every_bucket_at_or_above_it() {
        let metrics = Metrics::default();
        metrics.upstream_login(Duration::from_millis(30), true);
        metrics.upstream_login(Duration::from_secs(3), false);
        let text = metrics.render();
        assert!(text.contains("latch_upstream_login_duration_seconds_bucket{le=\"0.025\"} 0"));
        assert!(text.contains("latch_upstream_login_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("latch_upstream_login_duration_seconds_bucket{le=\"5.0\"} 2"));
        assert!(text.contains("latch_upstream_login_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("latch_upstream_logins_total{result=\"failure\"} 1"));
        assert!(text.contains("latch_upstream_login_duration_seconds_count 2"));
    }

    #[test]
    fn every_issuance_outcome_has_its_own_series() {
        let metrics = Metrics::default();
        metrics.issuance(Issuance::Cached);
        metrics.issuance(Issuance::Cached);
        metrics.issuance(Issuance::TooShort);
        let text = metrics.render();
        assert!(text.contains("latch_token_requests_total{outcome=\"cached\"} 2"));
        assert!(text.contains("latch_token_requests_total{outcome=\"too_short\"} 1"));
        assert!(text.contains("latch_token_requests_total{outcome=\"refreshed\"} 0"));
    }
}
