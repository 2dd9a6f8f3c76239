//! Token issuances in the audit trail, off the hot path.
//!
//! Handing out a token only puts a small record on a bounded queue (no lock, no I/O; when the
//! queue is full the record is dropped and counted). A background task drains the queue every
//! 100 ms, sums the records per (key, credential, outcome) and writes one audit event per sum
//! every second, in one transaction. The queue is flushed on shutdown.
//!
//! The task polls on a timer instead of waiting on the queue, so that senders never have a
//! waker to wake: a wake-up per token handed out would cost more than the hand-out itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use latch_store::{NewAuditEvent, Store, now};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::metrics::{Issuance, Metrics};

const QUEUE: usize = 65_536;
const DRAIN_EVERY: Duration = Duration::from_millis(100);
const WRITE_EVERY: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuanceRecord {
    pub org_id: Uuid,
    pub key_id: Uuid,
    pub credential_id: Uuid,
    pub outcome: Issuance,
}

#[derive(Clone)]
pub struct IssuanceLog {
    queue: mpsc::Sender<IssuanceRecord>,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
    metrics: Arc<Metrics>,
}

impl IssuanceLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let (queue, records) = mpsc::channel(QUEUE);
        let (flushes, flush_requests) = mpsc::channel(4);
        tokio::spawn(write_batches(store, records, flush_requests));
        Self {
            queue,
            flushes,
            metrics,
        }
    }

    pub fn record(&self, record: IssuanceRecord) {
        if self.queue.try_send(record).is_err() {
            self.metrics.audit_dropped();
        }
    }

    /// Writes everything queued so far.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut records: mpsc::Receiver<IssuanceRecord>,
    mut flush_requests: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut sums: HashMap<IssuanceRecord, u64> = HashMap::new();
    let mut since = now();
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                drain(&mut records, &mut sums);
                ticks += 1;
                if ticks.is_multiple_of(WRITE_EVERY) {
                    write(store.as_ref(), &mut sums, &mut since).await;
                }
            }
            request = flush_requests.recv() => {
                drain(&mut records, &mut sums);
                write(store.as_ref(), &mut sums, &mut since).await;
                match request {
                    Some(done) => {
                        let _ = done.send(());
                    }
                    None => return,
                }
            }
        }
    }
}

fn drain(records: &mut mpsc::Receiver<IssuanceRecord>, sums: &mut HashMap<IssuanceRecord, u64>) {
    while let Ok(record) = records.try_recv() {
        *sums.entry(record).or_default() += 1;
    }
}

async fn write(
    store: &dyn Store,
    sums: &mut HashMap<IssuanceRecord, u64>,
    since: &mut chrono::DateTime<chrono::Utc>,
) {
    if sums.is_empty() {
        *since = now();
        return;
    }
    let until = now();
    let events: Vec<NewAuditEvent> = sums
        .drain()
        .map(|(record, count)| NewAuditEvent {
            org_id: Some(record.org_id),
            actor_key_id: Some(record.key_id),
            action: "token.issued".into(),
            target_type: "credential".into(),
            target_id: Some(record.credential_id.to_string()),
            outcome: if record.outcome.issued() {
                "success".into()
            } else {
                "failure".into()
            },
            detail: json!({
                "source": record.outcome.label(),
                "count": count,
                "from": *since,
                "until": until,
            }),
        })
        .collect();
    *since = until;
    if let Err(error) = store.record_audit_events(&events).await {
        tracing::error!(%error, events = events.len(), "could not record token issuances");
    }
}
