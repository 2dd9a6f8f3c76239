//! Slows down key guessing: after a number of failed authentications in a minute from one
//! address, further *failing* attempts from it are answered 429 with `Retry-After`.
//!
//! Only failures are counted. An address over its limit is refused before any store read, so
//! a flood costs no query; only a key this replica has already verified (held in memory) still
//! gets through from it, and a valid key never seen here waits out the minute like a guess.
//! Counting happens in memory, per replica, on the failure path only: nothing on the hot path
//! and no database write. IPv6 callers are counted
//! per /64, the smallest block one subscriber is usually given.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

const WINDOW: Duration = Duration::from_secs(60);
/// Windows kept at the most; past it, lapsed ones are swept, and then the oldest.
const MAX_TRACKED: usize = 100_000;

struct Window {
    started: Instant,
    failures: u32,
}

pub struct FailureLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
    /// Whose key a prefix named when a failure read it from the store, so that failures
    /// refused without a read are still told to that organisation.
    owners: Mutex<HashMap<String, KeyOwner>>,
}

/// The organisation and key a key prefix belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOwner {
    pub org_id: Uuid,
    pub key_id: Uuid,
}

impl FailureLimiter {
    /// `per_minute` failures are answered as usual; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that `prefix` is the prefix of `owner`'s key, as a store read found.
    pub fn note_owner(&self, prefix: &str, owner: KeyOwner) {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if owners.len() >= MAX_TRACKED && !owners.contains_key(prefix) {
            owners.clear();
        }
        owners.insert(prefix.to_string(), owner);
    }

    /// Whose key `prefix` named, when a failure found out before.
    pub fn owner_of(&self, prefix: &str) -> Option<KeyOwner> {
        let owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        owners.get(prefix).copied()
    }

    /// `Some(seconds)` when `client` is over its limit at `at` and should wait that long;
    /// counts nothing.
    pub fn over_limit(&self, client: IpAddr, at: Instant) -> Option<u64> {
        if self.per_minute == 0 {
            return None;
        }
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.get(&block_of(client))?;
        let left = WINDOW.checked_sub(at.duration_since(window.started))?;
        (window.failures > self.per_minute && !left.is_zero()).then(|| left.as_secs().max(1))
    }

    /// Counts a failure from `client` at `at`; `Some(seconds)` when the address is over its
    /// limit and should wait that long.
    pub fn failed(&self, client: IpAddr, at: Instant) -> Option<u64> {
        if self.per_minute == 0 {
            return None;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_TRACKED {
            sweep(&mut windows, at);
        }
        let window = windows.entry(block_of(client)).or_insert(Window {
            started: at,
            failures: 0,
        });
        if at.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: at,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        (window.failures > self.per_minute).then(|| {
            let left = WINDOW.saturating_sub(at.duration_since(window.started));
            left.as_secs().max(1)
        })
    }
}

/// Drops lapsed windows; when every one is live, the oldest half.
fn sweep(windows: &mut HashMap<IpAddr, Window>, at: Instant) {
    windows.retain(|_, window| at.duration_since(window.started) < WINDOW);
    if windows.len() >= MAX_TRACKED {
        let mut starts: Vec<Instant> = windows.values().map(|window| window.started).collect();
        starts.sort_unstable();
        let cut = starts[starts.len() / 2];
        windows.retain(|_, window| window.started > cut);
    }
}

/// The address block failures are counted for: the address itself for IPv4, its /64 for IPv6.
fn block_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn failures_past_the_limit_are_refused_until_the_minute_is_over() {
        let limiter = FailureLimiter::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.failed(ip("192.0.2.7"), start), None);
        }
        assert_eq!(limiter.failed(ip("192.0.2.7"), start), Some(60));
        let later = start + Duration::from_secs(45);
        assert_eq!(limiter.failed(ip("192.0.2.7"), later), Some(15));
        // Another address has its own count.
        assert_eq!(limiter.failed(ip("192.0.2.8"), later), None);
        assert_eq!(limiter.over_limit(ip("192.0.2.7"), later), Some(15));
        assert_eq!(limiter.over_limit(ip("192.0.2.8"), later), None);
        // A new minute starts a new count.
        let next_minute = start + Duration::from_secs(61);
        assert_eq!(limiter.over_limit(ip("192.0.2.7"), next_minute), None);
        assert_eq!(limiter.failed(ip("192.0.2.7"), next_minute), None);
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_count_and_mapped_ipv4_counts_as_ipv4() {
        let limiter = FailureLimiter::new(1);
        let at = Instant::now();
        assert_eq!(limiter.failed(ip("2001:db8:1:2::1"), at), None);
        assert!(limiter.failed(ip("2001:db8:1:2:ffff::9"), at).is_some());
        assert_eq!(limiter.failed(ip("2001:db8:1:3::1"), at), None);
        assert_eq!(limiter.failed(ip("::ffff:192.0.2.1"), at), None);
        assert!(limiter.failed(ip("192.0.2.1"), at).is_some());
    }

    #[test]
    fn an_address_at_its_limit_is_not_yet_over_it() {
        let limiter = FailureLimiter::new(2);
        let at = Instant::now();
        assert_eq!(limiter.over_limit(ip("192.0.2.7"), at), None, "never seen");
        limiter.failed(ip("192.0.2.7"), at);
        limiter.failed(ip("192.0.2.7"), at);
        assert_eq!(
            limiter.over_limit(ip("192.0.2.7"), at),
            None,
            "two are allowed"
        );
        limiter.failed(ip("192.0.2.7"), at);
        assert_eq!(limiter.over_limit(ip("192.0.2.7"), at), Some(60));
    }

    #[test]
    fn a_prefix_keeps_the_owner_a_store_read_found_and_the_table_stays_bounded() {
        let limiter = FailureLimiter::new(5);
        let owner = KeyOwner {
            org_id: Uuid::now_v7(),
            key_id: Uuid::now_v7(),
        };
        assert_eq!(limiter.owner_of("latch_AAAA"), None);
        limiter.note_owner("latch_AAAA", owner);
        assert_eq!(limiter.owner_of("latch_AAAA"), Some(owner));
        for n in 0..MAX_TRACKED + 10 {
            limiter.note_owner(&format!("latch_{n}"), owner);
        }
        assert!(limiter.owners.lock().unwrap().len() <= MAX_TRACKED);
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = FailureLimiter::new(0);
        let at = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limiter.failed(ip("192.0.2.7"), at), None);
        }
    }

    #[test]
    fn the_table_stays_bounded_under_a_spray_of_addresses() {
        let limiter = FailureLimiter::new(5);
        let at = Instant::now();
        for n in 0..(MAX_TRACKED as u32 + 10) {
            limiter.failed(IpAddr::V4(n.into()), at);
        }
        assert!(limiter.windows.lock().unwrap().len() <= MAX_TRACKED);
    }
}
