//! Token issuances in the audit trail, off the hot path.
//!
//! Handing out a token only puts a small record on a bounded queue (no lock, no I/O; when the
//! queue is full the record is dropped and counted). A background task sums the records per
//! (key, credential, outcome) and writes one audit event per sum every second, in one
//! transaction. The queue is flushed on shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use latch_store::{NewAuditEvent, Store, now};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::metrics::{Issuance, Metrics};

const QUEUE: usize = 16_384;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuanceRecord {
    pub org_id: Uuid,
    pub key_id: Uuid,
    pub credential_id: Uuid,
    pub outcome: Issuance,
}

enum Message {
    Record(IssuanceRecord),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct IssuanceLog {
    queue: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
}

impl IssuanceLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, receiver));
        Self { queue, metrics }
    }

    pub fn record(&self, record: IssuanceRecord) {
        if self.queue.try_send(Message::Record(record)).is_err() {
            self.metrics.audit_dropped();
        }
    }

    /// Writes everything queued so far.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>) {
    let mut sums: HashMap<IssuanceRecord, u64> = HashMap::new();
    let mut since = now();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            message = receiver.recv() => match message {
                Some(Message::Record(record)) => *sums.entry(record).or_default() += 1,
                Some(Message::Flush(done)) => {
                    write(store.as_ref(), &mut sums, &mut since).await;
                    let _ = done.send(());
                }
                None => {
                    write(store.as_ref(), &mut sums, &mut since).await;
                    return;
                }
            },
            _ = tick.tick() => write(store.as_ref(), &mut sums, &mut since).await,
        }
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
