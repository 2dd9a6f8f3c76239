//! Work nobody asks for in a request, done by every replica once a minute while it serves:
//! deleting connect sessions that expired longer ago than the retention (the audit trail keeps
//! their history). Deleting is idempotent, so replicas need no coordination for it.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::latch::Latch;

const EVERY: Duration = Duration::from_secs(60);

/// Starts housekeeping for as long as `latch` lives; the first round runs at once.
pub fn start(latch: &Arc<Latch>) {
    let latch: Weak<Latch> = Arc::downgrade(latch);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(latch) = latch.upgrade() else {
                return;
            };
            prune_connect_sessions(&latch).await;
        }
    });
}

async fn prune_connect_sessions(latch: &Latch) {
    let retention =
        chrono::Duration::from_std(latch.oauth.session_retention).unwrap_or(chrono::Duration::MAX);
    let Some(before) = latch_store::now().checked_sub_signed(retention) else {
        return;
    };
    match latch.store.prune_connect_sessions(before).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "deleted connect sessions past their retention"),
        Err(error) => tracing::warn!(%error, "could not delete old connect sessions"),
    }
}
