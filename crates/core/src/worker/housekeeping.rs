//! Housekeeping, a leased task of the worker: deleting connect sessions that expired longer ago
//! than the retention (the audit trail keeps their history).

use crate::error::CoreError;
use crate::latch::Latch;

pub async fn run(latch: &Latch) -> Result<(), CoreError> {
    let retention =
        chrono::Duration::from_std(latch.oauth.session_retention).unwrap_or(chrono::Duration::MAX);
    let Some(before) = latch_store::now().checked_sub_signed(retention) else {
        return Ok(());
    };
    let deleted = latch.store.prune_connect_sessions(before).await?;
    if deleted > 0 {
        tracing::info!(deleted, "deleted connect sessions past their retention");
    }
    Ok(())
}
