//! What changed on other replicas, learnt with one store query per poll instead of one read
//! per cached record per second.
//!
//! Every change of a credential, an API key or a data source appends a row to `changes` in
//! the changing transaction, numbered without gaps in commit order. Each replica polls for
//! rows after the last it applied and marks the matching cache slots changed. A cached record
//! remembers the sequence number applied before it was read from the store (its *basis*); it
//! may be handed out without another read while
//!
//! - no change of it was applied after its basis (`Watch::changed`), and
//! - the feed is fresh: a poll that started less than [`STALENESS`] ago succeeded, so every change
//!   committed before then has been applied; and its slot was watched from before its basis
//!   (a change applied while no slot existed cannot have been recorded in one).
//!
//! When the feed is not fresh (the store does not answer), records fall back to being read
//! again once [`STALENESS`] has passed since they were confirmed, as without a feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use latch_store::{Change, ChangeSubject, Store};

/// The most a change made through another replica goes unnoticed by this one's caches.
pub const STALENESS: Duration = Duration::from_secs(1);

/// Changes fetched by one query, at most.
const BATCH: i64 = 1000;
/// How long changes are kept for replicas that fall behind.
const RETENTION: Duration = Duration::from_secs(3600);

pub struct ChangeFeed {
    /// The last sequence number applied.
    applied: AtomicI64,
    /// Records read before this sequence number are not trusted through the feed: changes
    /// before it may have been missed (pruned before this replica read them).
    floor: AtomicI64,
    /// When the last successful poll started, in milliseconds since `origin` (0: never).
    synced: AtomicU64,
    origin: Instant,
    staleness: Duration,
}

impl ChangeFeed {
    /// A feed positioned after change `start`, not fresh until its first poll; what it vouches
    /// for is at most `staleness` behind.
    pub fn new(start: i64, staleness: Duration) -> Self {
        Self {
            applied: AtomicI64::new(start),
            floor: AtomicI64::new(start),
            synced: AtomicU64::new(0),
            origin: Instant::now(),
            staleness,
        }
    }

    /// How often to poll: twice within the staleness bound, so that one slow poll does not
    /// send every cached record back to the store.
    pub fn poll_every(&self) -> Duration {
        self.staleness / 2
    }

    /// The basis of a record about to be read from the store.
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Whether a poll that started less than the staleness bound before `at` succeeded.
    fn fresh(&self, at: Instant) -> bool {
        let synced = self.synced.load(Ordering::Acquire);
        synced != 0
            && at
                .checked_duration_since(self.origin + Duration::from_millis(synced - 1))
                .is_some_and(|age| age < self.staleness)
    }

    /// One poll: fetches the changes after the last applied, hands each to `apply`, and
    /// marks the feed fresh as of `started` once all are applied.
    pub async fn poll(
        &self,
        store: &dyn Store,
        started: Instant,
        mut apply: impl FnMut(ChangeSubject, &str, i64),
    ) -> Result<(), latch_store::StoreError> {
        loop {
            let after = self.applied();
            let changes = store.changes_after(after, BATCH).await?;
            if changes.first().is_some_and(|first| first.seq > after + 1) {
                // Pruned before this replica read them: trust nothing read before now.
                let latest = changes.last().map_or(after, |last| last.seq);
                tracing::warn!(
                    missed_from = after + 1,
                    "changes were pruned before this replica read them; re-reading every cached record"
                );
                self.floor.fetch_max(latest, Ordering::AcqRel);
            }
            for Change { seq, subject, key } in &changes {
                if let Some(subject) = ChangeSubject::parse(subject) {
                    apply(subject, key, *seq);
                }
                self.applied.fetch_max(*seq, Ordering::AcqRel);
            }
            if (changes.len() as i64) < BATCH {
                break;
            }
        }
        let millis = started.saturating_duration_since(self.origin).as_millis();
        self.synced.store(
            u64::try_from(millis).unwrap_or(u64::MAX) + 1,
            Ordering::Release,
        );
        Ok(())
    }

    /// A watch for a cache slot created now.
    pub fn watch(&self) -> Watch {
        Watch {
            from: self.applied(),
            changed: AtomicI64::new(i64::MIN),
        }
    }

    fn floor(&self) -> i64 {
        self.floor.load(Ordering::Acquire)
    }
}

/// What the feed knows about one cached record.
#[derive(Debug)]
pub struct Watch {
    /// The feed's position when the slot was made: changes before it were not recorded here.
    from: i64,
    /// The last change of this record applied.
    changed: AtomicI64,
}

impl Watch {
    pub fn changed(&self, seq: i64) {
        self.changed.fetch_max(seq, Ordering::AcqRel);
    }

    /// Whether a record read at `basis` and confirmed at `confirmed_at` may still be handed
    /// out at `at` without reading it again.
    pub fn trusts(
        &self,
        feed: &ChangeFeed,
        basis: i64,
        confirmed_at: Instant,
        at: Instant,
    ) -> bool {
        if basis < self.changed.load(Ordering::Acquire) {
            return false;
        }
        at.saturating_duration_since(confirmed_at) < feed.staleness
            || (basis >= self.from && basis >= feed.floor() && feed.fresh(at))
    }
}

/// Polls `feed` while `target` lives, handing changes to `apply`; prunes changes older than
/// an hour once a minute.
pub fn follow<T: Send + Sync + 'static>(
    feed: Arc<ChangeFeed>,
    store: Arc<dyn Store>,
    target: std::sync::Weak<T>,
    apply: fn(&T, ChangeSubject, &str, i64),
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(feed.poll_every());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at = Instant::now();
        loop {
            ticks.tick().await;
            let Some(target) = target.upgrade() else {
                return;
            };
            let started = Instant::now();
            let polled = feed
                .poll(store.as_ref(), started, |subject, key, seq| {
                    apply(&target, subject, key, seq)
                })
                .await;
            if let Err(error) = polled {
                tracing::warn!(%error, "could not read the change feed; cached records are read again each second");
            }
            if pruned_at.elapsed() >= Duration::from_secs(60) {
                pruned_at = Instant::now();
                let before = Utc::now() - chrono::Duration::from_std(RETENTION).unwrap_or_default();
                if let Err(error) = store.prune_changes(before).await {
                    tracing::warn!(%error, "could not prune the change feed");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITHIN: Duration = STALENESS;

    fn polled(feed: &ChangeFeed, at: Instant) {
        let millis = at.saturating_duration_since(feed.origin).as_millis() as u64;
        feed.synced.store(millis + 1, Ordering::Release);
    }

    #[test]
    fn a_record_is_trusted_past_its_recheck_only_while_the_feed_is_fresh_and_silent_about_it() {
        let feed = ChangeFeed::new(10, STALENESS);
        let watch = feed.watch();
        let read_at = Instant::now();
        let later = read_at + Duration::from_secs(5);
        assert!(watch.trusts(&feed, 10, read_at, read_at));
        // Never polled: past its recheck, a record is read again.
        assert!(!watch.trusts(&feed, 10, read_at, later));
        polled(&feed, later - Duration::from_millis(400));
        assert!(watch.trusts(&feed, 10, read_at, later));
        // A poll that started more than `within` ago no longer vouches for anything.
        assert!(!watch.trusts(&feed, 10, read_at, later + WITHIN));
        watch.changed(11);
        assert!(!watch.trusts(&feed, 10, read_at, later));
        assert!(!watch.trusts(&feed, 10, read_at, read_at));
        assert!(watch.trusts(&feed, 11, read_at, later));
    }

    #[test]
    fn a_record_read_before_its_slot_was_watched_or_below_the_floor_is_not_trusted_by_the_feed() {
        let feed = ChangeFeed::new(10, STALENESS);
        let watch = feed.watch();
        let read_at = Instant::now();
        let later = read_at + Duration::from_secs(5);
        polled(&feed, later);
        assert!(!watch.trusts(&feed, 9, read_at, later));
        assert!(watch.trusts(&feed, 10, read_at, later));
        feed.floor.store(12, Ordering::Release);
        assert!(!watch.trusts(&feed, 10, read_at, later));
        // Within its recheck a record is trusted as without a feed.
        assert!(watch.trusts(&feed, 10, read_at, read_at));
    }
}
