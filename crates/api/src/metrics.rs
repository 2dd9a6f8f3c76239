//! Counters for `GET /metrics`, in Prometheus text format. Plain atomics: recording one
//! takes no lock, so the token hot path can afford it.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

#[derive(Default)]
pub struct Metrics {
    issuances: [AtomicU64; 7],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    logins_ok: AtomicU64,
    logins_failed: AtomicU64,
    login_buckets: [AtomicU64; LOGIN_BUCKETS.len()],
    login_seconds_micros: AtomicU64,
    refresh_failures: AtomicU64,
    audit_dropped: AtomicU64,
}

impl Metrics {
    pub fn issuance(&self, outcome: Issuance) {
        let index = Issuance::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.issuances[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn upstream_login(&self, took: Duration, ok: bool) {
        let counter = if ok {
            &self.logins_ok
        } else {
            &self.logins_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        for (bound, bucket) in LOGIN_BUCKETS.iter().zip(&self.login_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.login_seconds_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    pub fn refresh_failure(&self) {
        self.refresh_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn audit_dropped(&self) {
        self.audit_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP latch_token_requests_total Token requests by outcome.\n\
             # TYPE latch_token_requests_total counter"
        );
        for (outcome, counter) in Issuance::ALL.iter().zip(&self.issuances) {
            let _ = writeln!(
                out,
                "latch_token_requests_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                load(counter)
            );
        }
        let _ = writeln!(
            out,
            "# HELP latch_token_cache_hits_total Token requests served from this process's cache.\n\
             # TYPE latch_token_cache_hits_total counter\n\
             latch_token_cache_hits_total {}\n\
             # HELP latch_token_cache_misses_total Token requests that needed the store or the upstream.\n\
             # TYPE latch_token_cache_misses_total counter\n\
             latch_token_cache_misses_total {}",
            load(&self.cache_hits),
            load(&self.cache_misses)
        );
        let ok = load(&self.logins_ok);
        let failed = load(&self.logins_failed);
        let _ = writeln!(
            out,
            "# HELP latch_upstream_logins_total Upstream logins for tokens, by result.\n\
             # TYPE latch_upstream_logins_total counter\n\
             latch_upstream_logins_total{{result=\"success\"}} {ok}\n\
             latch_upstream_logins_total{{result=\"failure\"}} {failed}\n\
             # HELP latch_upstream_login_duration_seconds Time an upstream login took.\n\
             # TYPE latch_upstream_login_duration_seconds histogram"
        );
        for (bound, bucket) in LOGIN_BUCKETS.iter().zip(&self.login_buckets) {
            let _ = writeln!(
                out,
                "latch_upstream_login_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let _ = writeln!(
            out,
            "latch_upstream_login_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
             latch_upstream_login_duration_seconds_sum {}\n\
             latch_upstream_login_duration_seconds_count {}\n\
             # HELP latch_token_refresh_failures_total Refreshes that failed (upstream unreachable or erring).\n\
             # TYPE latch_token_refresh_failures_total counter\n\
             latch_token_refresh_failures_total {}\n\
             # HELP latch_audit_events_dropped_total Audit records counted instead of kept one by one because the queue was full.\n\
             # TYPE latch_audit_events_dropped_total counter\n\
             latch_audit_events_dropped_total {}",
            ok + failed,
            load(&self.login_seconds_micros) as f64 / 1e6,
            ok + failed,
            load(&self.refresh_failures),
            load(&self.audit_dropped)
        );
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
        assert!(text.contains("latch_upstream_login_duration_seconds_bucket{le=\"5\"} 2"));
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
