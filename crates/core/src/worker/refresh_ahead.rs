//! Refreshing ahead: a credential whose token jobs asked for within the window gets a new
//! token before the cached one gets shorter than the largest `min_ttl` they asked for, so no
//! job waits on an upstream login for a credential in use.
//!
//! Every serving replica does it for its own jobs' demand, with no task lease: the broker's
//! per-credential token lease already makes it one login across replicas (a replica that
//! finds the other's fresh token in the store adopts it). Logins to one upstream host are
//! bounded by `per_host` at once, so tokens that expire together are not a burst against it.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::checks::upstream_of;
use crate::broker::{Asker, Demanded, TokenWish};
use crate::latch::Latch;

/// The time a login is given to land before the token gets too short, beside two ticks.
const LOGIN_ALLOWANCE: Duration = Duration::from_secs(10);

/// Refreshes ahead every tick for as long as `latch` lives.
pub async fn follow(latch: Weak<Latch>) {
    loop {
        let Some(tick) = latch.upgrade().map(|latch| latch.worker.refresh_ahead_tick) else {
            return;
        };
        tokio::time::sleep(tick).await;
        let Some(latch) = latch.upgrade() else {
            return;
        };
        run(&latch).await;
    }
}

/// When a token should be replaced: the `min_ttl` to ask for, or `None` while it lives long
/// enough. The margin is two ticks and a login, but at most half of what the token lives
/// beyond the `min_ttl` (a token that lives barely longer than asked is replaced at half
/// that, not at every tick); a token that cannot live as long as asked is left to the jobs,
/// which are told so.
pub fn wanted(demanded: &Demanded, tick: Duration) -> Option<Duration> {
    let beyond = demanded.lifetime.checked_sub(demanded.min_ttl)?;
    if beyond.is_zero() {
        return None;
    }
    let margin = (tick * 2 + LOGIN_ALLOWANCE).min(beyond / 2);
    let want = demanded.min_ttl + margin;
    (demanded.left < want).then_some(want)
}

/// One pass: the tokens due, refreshed at most `per_host` at once per upstream host. The
/// number refreshed.
pub async fn run(latch: &Latch) -> usize {
    let config = &latch.worker;
    let mut due = Vec::new();
    for demanded in latch.broker.demand(config.refresh_ahead_window) {
        let Some(want) = wanted(&demanded, config.refresh_ahead_tick) else {
            continue;
        };
        match latch
            .store
            .get_credential(demanded.org_id, demanded.credential_id)
            .await
        {
            Ok(Some(credential)) => due.push((upstream_of(latch, &credential), demanded, want)),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not read a credential to refresh ahead"),
        }
    }
    // The shortest first: with many due on one host, those closest to too short go first.
    due.sort_by_key(|(_, demanded, _)| demanded.left);
    let hosts: HashMap<&str, Semaphore> = due
        .iter()
        .map(|(host, _, _)| (host.as_str(), Semaphore::new(config.per_host.max(1))))
        .collect();
    let refreshes = due.iter().map(|(host, demanded, want)| {
        let hosts = &hosts;
        async move {
            let _turn = hosts[host.as_str()].acquire().await;
            let refreshed = latch
                .broker
                .token_for_latch(
                    demanded.org_id,
                    demanded.credential_id,
                    TokenWish {
                        min_ttl: *want,
                        force_refresh: false,
                        rejected: None,
                    },
                    Asker::Latch,
                )
                .await;
            latch.broker.metrics.refresh_ahead(refreshed.is_ok());
            match refreshed {
                Ok(_) => true,
                Err(error) => {
                    tracing::info!(%error, credential_id = %demanded.credential_id, "could not refresh a token ahead");
                    false
                }
            }
        }
    });
    futures_util::future::join_all(refreshes)
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn demanded(min_ttl: u64, left: u64, lifetime: u64) -> Demanded {
        Demanded {
            org_id: Uuid::nil(),
            credential_id: Uuid::nil(),
            min_ttl: Duration::from_secs(min_ttl),
            left: Duration::from_secs(left),
            lifetime: Duration::from_secs(lifetime),
        }
    }

    const TICK: Duration = Duration::from_secs(5);

    #[test]
    fn a_token_is_replaced_two_ticks_and_a_login_before_it_gets_too_short() {
        // An hour-long token, jobs asking for ten minutes: replaced at 620 s left.
        assert_eq!(wanted(&demanded(600, 621, 3600), TICK), None);
        assert_eq!(
            wanted(&demanded(600, 619, 3600), TICK),
            Some(Duration::from_secs(620))
        );
    }

    #[test]
    fn a_token_that_lives_barely_longer_than_asked_is_replaced_at_half_the_difference() {
        // 40 s tokens, 30 s asked: replaced at 35 s left, not at every tick.
        assert_eq!(wanted(&demanded(30, 36, 40), TICK), None);
        assert_eq!(
            wanted(&demanded(30, 34, 40), TICK),
            Some(Duration::from_secs(35))
        );
    }

    #[test]
    fn a_token_that_cannot_live_as_long_as_asked_is_left_to_the_jobs() {
        assert_eq!(wanted(&demanded(600, 10, 300), TICK), None);
        assert_eq!(wanted(&demanded(300, 10, 300), TICK), None);
    }
}
