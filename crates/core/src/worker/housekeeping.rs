//! Housekeeping, a leased task of the worker: what would otherwise grow without bound, trimmed.
//! Connect sessions that expired longer ago than their retention (the audit trail keeps their
//! history), status changes of credentials past theirs, and audit events when a retention is
//! set (by default the audit trail is kept). Tokens, leases and the change feed bound
//! themselves elsewhere.

use std::time::Duration;

use latch_store::HistoryTable;

use crate::error::CoreError;
use crate::latch::Latch;

/// Rows deleted per statement, so no one delete holds the table long.
const BATCH: i64 = 5000;

pub async fn run(latch: &Latch) -> Result<(), CoreError> {
    let config = &latch.worker;
    if let Some(before) = before(latch.oauth.session_retention) {
        let deleted = latch.store.prune_connect_sessions(before).await?;
        if deleted > 0 {
            tracing::info!(deleted, "deleted connect sessions past their retention");
        }
    }
    prune(
        latch,
        HistoryTable::HealthChanges,
        Some(config.health_history_retention),
    )
    .await?;
    prune(latch, HistoryTable::AuditEvents, config.audit_retention).await?;
    prune(
        latch,
        HistoryTable::WebhookDeliveries,
        Some(config.webhooks.delivery_retention),
    )
    .await?;
    Ok(())
}

/// The moment `retention` ago; `None` when that is before time began.
fn before(retention: Duration) -> Option<chrono::DateTime<chrono::Utc>> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    latch_store::now().checked_sub_signed(retention)
}

/// Deletes `table`'s rows older than `retention`, a batch at a time.
async fn prune(
    latch: &Latch,
    table: HistoryTable,
    retention: Option<Duration>,
) -> Result<(), CoreError> {
    let Some(before) = retention.and_then(before) else {
        return Ok(());
    };
    let mut deleted = 0;
    loop {
        let batch = latch.store.prune_history(table, before, BATCH).await?;
        deleted += batch;
        if batch < BATCH as u64 {
            break;
        }
    }
    if deleted > 0 {
        tracing::info!(
            deleted,
            table = table.name(),
            "deleted rows past their retention"
        );
    }
    Ok(())
}
