//! Frequent audit events, summed off the request path: token issuances, failed
//! authentications and denied authorizations.
//!
//! Recording puts a small record on a bounded queue (no lock, no I/O). A background task
//! drains the queue every 100 ms, sums equal records and writes one audit event per sum every
//! second, in one transaction, so a flood of requests is a handful of rows. When the queue is
//! full the record is not lost silently: it is counted per organisation, and the count is
//! written as its own event (`token.issuance_dropped`, ...) with the next batch. The queue is
//! flushed on shutdown.
//!
//! The task polls on a timer instead of waiting on the queue, so that senders never have a
//! waker to wake: a wake-up per token handed out would cost more than the hand-out itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use latch_store::{NewAuditEvent, Store, now};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::metrics::{Issuance, Metrics};

const QUEUE: usize = 65_536;
const DRAIN_EVERY: Duration = Duration::from_millis(100);
const WRITE_EVERY: u32 = 10;

/// A record that is summed with its equals before it reaches the audit trail.
pub trait Tallied: Hash + Eq + Send + 'static {
    /// The action of the event that says how many records were dropped.
    const DROPPED_ACTION: AuditAction;

    fn org_id(&self) -> Option<Uuid>;

    /// The audit event for `count` equal records seen from `from` until `until`.
    fn event(&self, count: u64, from: DateTime<Utc>, until: DateTime<Utc>) -> NewAuditEvent;
}

/// One token hand-out (or refusal) of a credential to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuanceRecord {
    pub org_id: Uuid,
    pub key_id: Uuid,
    pub credential_id: Uuid,
    pub outcome: Issuance,
}

impl Tallied for IssuanceRecord {
    const DROPPED_ACTION: AuditAction = AuditAction::TokenIssuanceDropped;

    fn org_id(&self) -> Option<Uuid> {
        Some(self.org_id)
    }

    fn event(&self, count: u64, from: DateTime<Utc>, until: DateTime<Utc>) -> NewAuditEvent {
        NewAuditEvent {
            org_id: Some(self.org_id),
            actor_key_id: Some(self.key_id),
            action: AuditAction::TokenIssued.into(),
            target_type: "credential".into(),
            target_id: Some(self.credential_id.to_string()),
            outcome: AuditOutcome::of(self.outcome.issued()).into(),
            detail: json!({
                "source": self.outcome.label(),
                "count": count,
                "from": from,
                "until": until,
            }),
        }
    }
}

/// A refused request: a failed authentication or a denied authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefusalRecord {
    /// `authentication.failed` or `authorization.denied`.
    pub action: AuditAction,
    /// The organisation that should hear of it, when one can be told.
    pub org_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
    /// The public prefix of the key presented, when it had one.
    pub key_prefix: Option<String>,
    /// The caller's address, when known.
    pub client: Option<IpAddr>,
    pub reason: &'static str,
    /// What was asked for: the route pattern and the target's kind and id, where they apply.
    pub route: Option<String>,
    pub target_type: &'static str,
    pub target_id: Option<String>,
}

impl Tallied for RefusalRecord {
    const DROPPED_ACTION: AuditAction = AuditAction::RefusalsDropped;

    fn org_id(&self) -> Option<Uuid> {
        self.org_id
    }

    fn event(&self, count: u64, from: DateTime<Utc>, until: DateTime<Utc>) -> NewAuditEvent {
        let mut detail = json!({
            "reason": self.reason,
            "key_prefix": self.key_prefix,
            "client_address": self.client.map(|ip| ip.to_string()),
            "count": count,
            "from": from,
            "until": until,
        });
        if let Some(route) = &self.route {
            detail["route"] = Value::String(route.clone());
        }
        NewAuditEvent {
            org_id: self.org_id,
            actor_key_id: self.key_id,
            action: self.action.into(),
            target_type: self.target_type.into(),
            target_id: self.target_id.clone(),
            outcome: AuditOutcome::Failure.into(),
            detail,
        }
    }
}

/// Records per organisation that found the queue full.
type Dropped = Mutex<HashMap<Option<Uuid>, u64>>;

/// The sending side of a tally; cheap to clone.
pub struct AuditTally<R: Tallied> {
    queue: mpsc::Sender<R>,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
    dropped: Arc<Dropped>,
    metrics: Arc<Metrics>,
}

impl<R: Tallied> Clone for AuditTally<R> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            flushes: self.flushes.clone(),
            dropped: self.dropped.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<R: Tallied> AuditTally<R> {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self::with_queue(store, metrics, QUEUE)
    }

    fn with_queue(store: Arc<dyn Store>, metrics: Arc<Metrics>, capacity: usize) -> Self {
        let (queue, records) = mpsc::channel(capacity);
        let (flushes, flush_requests) = mpsc::channel(4);
        let dropped = Arc::new(Dropped::default());
        tokio::spawn(write_batches(
            store,
            records,
            flush_requests,
            dropped.clone(),
        ));
        Self {
            queue,
            flushes,
            dropped,
            metrics,
        }
    }

    pub fn record(&self, record: R) {
        if let Err(refused) = self.queue.try_send(record) {
            let record = match refused {
                mpsc::error::TrySendError::Full(record)
                | mpsc::error::TrySendError::Closed(record) => record,
            };
            self.metrics.audit_dropped();
            *self
                .dropped
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(record.org_id())
                .or_default() += 1;
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

async fn write_batches<R: Tallied>(
    store: Arc<dyn Store>,
    mut records: mpsc::Receiver<R>,
    mut flush_requests: mpsc::Receiver<oneshot::Sender<()>>,
    dropped: Arc<Dropped>,
) {
    let mut sums: HashMap<R, u64> = HashMap::new();
    let mut since = now();
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                drain(&mut records, &mut sums);
                ticks += 1;
                if ticks.is_multiple_of(WRITE_EVERY) {
                    write(store.as_ref(), &mut sums, &dropped, &mut since).await;
                }
            }
            request = flush_requests.recv() => {
                drain(&mut records, &mut sums);
                write(store.as_ref(), &mut sums, &dropped, &mut since).await;
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

fn drain<R: Tallied>(records: &mut mpsc::Receiver<R>, sums: &mut HashMap<R, u64>) {
    while let Ok(record) = records.try_recv() {
        *sums.entry(record).or_default() += 1;
    }
}

async fn write<R: Tallied>(
    store: &dyn Store,
    sums: &mut HashMap<R, u64>,
    dropped: &Dropped,
    since: &mut DateTime<Utc>,
) {
    let lost: Vec<(Option<Uuid>, u64)> = dropped
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .collect();
    if sums.is_empty() && lost.is_empty() {
        *since = now();
        return;
    }
    let until = now();
    let mut events: Vec<NewAuditEvent> = sums
        .drain()
        .map(|(record, count)| record.event(count, *since, until))
        .collect();
    events.extend(lost.into_iter().map(|(org_id, count)| NewAuditEvent {
        org_id,
        actor_key_id: None,
        action: R::DROPPED_ACTION.into(),
        target_type: "audit".into(),
        target_id: None,
        outcome: AuditOutcome::Failure.into(),
        detail: json!({
            "count": count,
            "from": *since,
            "until": until,
            "detail": "the audit queue was full; these records were counted, not kept one by one",
        }),
    }));
    *since = until;
    if let Err(error) = store.record_audit_events(&events).await {
        tracing::error!(%error, events = events.len(), "could not record audit events");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuance(org_id: Uuid) -> IssuanceRecord {
        IssuanceRecord {
            org_id,
            key_id: Uuid::nil(),
            credential_id: Uuid::nil(),
            outcome: Issuance::Cached,
        }
    }

    #[tokio::test]
    async fn records_that_find_the_queue_full_are_counted_per_organisation_and_written() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/latch.db", dir.path().display());
        let store = latch_store::connect(&url).await.unwrap();
        let org = store.ensure_organization("acme").await.unwrap();
        let metrics = Arc::new(Metrics::default());
        // A queue of one: the writer drains every 100 ms, so the next records find it full.
        let tally = AuditTally::with_queue(store.clone(), metrics.clone(), 1);
        for _ in 0..5 {
            tally.record(issuance(org.id));
        }
        tally.flush().await;
        let events = store
            .list_audit_events(
                org.id,
                &latch_store::AuditFilter::default(),
                latch_store::Page::first(10),
            )
            .await
            .unwrap();
        let count_of = |action: &str| -> u64 {
            events
                .iter()
                .filter(|event| event.action == action)
                .map(|event| event.detail["count"].as_u64().unwrap())
                .sum()
        };
        assert_eq!(
            count_of("token.issued") + count_of("token.issuance_dropped"),
            5
        );
        assert!(count_of("token.issuance_dropped") >= 1, "{events:?}");
        assert!(
            !metrics
                .render()
                .contains("latch_audit_events_dropped_total 0")
        );
    }
}
