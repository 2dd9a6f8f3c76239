//! The background worker: work nobody asked for in a request, in every `latch serve` (and in
//! `latch worker`, which runs it without the HTTP server).
//!
//! - Leased tasks ([`TASKS`]): scheduled checks and housekeeping. Each is taken under a lease
//!   in the store (`worker_leases`), so one replica works a task at a time; the holder renews
//!   its lease while it works, and another replica takes the task over once the lease lapsed.
//!   A run is due once the last one finished `every` ago, whichever replica ran it. A check
//!   writes what it found only while its lease is held (`TaskFence`): a stale holder's
//!   writes are refused, as the broker's are.
//! - Webhook deliveries ([`deliveries`]): not leased as a task; each delivery is taken under
//!   a lease of its own, so every replica sends its share.
//! - Refresh ahead ([`refresh_ahead`]): not leased. Each serving replica refreshes the tokens
//!   its own jobs asked for; the broker's per-credential token lease makes that one upstream
//!   login across replicas, as for jobs.

pub mod checks;
pub mod deliveries;
pub mod housekeeping;
pub mod refresh_ahead;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use latch_store::{TaskFence, now};
use uuid::Uuid;

use crate::error::CoreError;
use crate::latch::Latch;
pub use crate::worker_settings::WorkerConfig;

/// A leased task: its name (the lease row), how often it is due, and one run of it.
pub struct Task {
    pub name: &'static str,
    pub every: fn(&WorkerConfig) -> Duration,
    pub run: for<'a> fn(&'a Latch, &'a TaskFence) -> TaskRun<'a>,
}

pub type TaskRun<'a> = Pin<Box<dyn Future<Output = Result<(), CoreError>> + Send + 'a>>;

/// Every leased task.
pub const TASKS: [Task; 2] = [
    Task {
        name: "checks",
        every: |config| config.tick,
        run: |latch, fence| Box::pin(checks::run(latch, fence)),
    },
    Task {
        name: "housekeeping",
        every: |config| config.housekeeping_every,
        run: |latch, _| Box::pin(housekeeping::run(latch)),
    },
];

/// Starts the worker for as long as `latch` lives: the leased tasks when enabled, and
/// refreshing ahead when its window is not zero.
pub fn start(latch: &Arc<Latch>) {
    if latch.worker.enabled {
        for task in &TASKS {
            tokio::spawn(run_leased(Arc::downgrade(latch), task));
        }
        tokio::spawn(deliveries::follow(Arc::downgrade(latch)));
    }
    if !latch.worker.refresh_ahead_window.is_zero() {
        tokio::spawn(refresh_ahead::follow(Arc::downgrade(latch)));
    }
}

/// Tries `task` at start and then every tick (with up to a fifth of it added at random, so
/// replicas do not knock in step), and runs it when this replica wins its lease.
async fn run_leased(latch: Weak<Latch>, task: &'static Task) {
    loop {
        let Some(strong) = latch.upgrade() else {
            return;
        };
        if let Err(error) = run_once(&strong, task).await {
            tracing::warn!(%error, task = task.name, "a background task failed");
        }
        let tick = strong.worker.tick;
        drop(strong);
        tokio::time::sleep(tick.mul_f64(1.0 + jitter() / 5.0)).await;
    }
}

/// One attempt at `task`: nothing when another replica holds it or it is not due. Counted in
/// the metrics when it ran (or could not ask for the lease).
pub async fn run_once(latch: &Latch, task: &Task) -> Result<bool, CoreError> {
    let config = &latch.worker;
    let fence = TaskFence {
        task: task.name.into(),
        owner: Uuid::now_v7().to_string(),
    };
    let at = now();
    let lease = chrono::Duration::from_std(config.lease).unwrap_or_default();
    let every = chrono::Duration::from_std((task.every)(config)).unwrap_or_default();
    let won = match latch
        .store
        .acquire_task_lease(task.name, &fence.owner, at + lease, at, at - every)
        .await
    {
        Ok(won) => won,
        Err(error) => {
            latch.broker.metrics.worker_run(task.name, false);
            return Err(error.into());
        }
    };
    if !won {
        return Ok(false);
    }
    let outcome = {
        let work = (task.run)(latch, &fence);
        tokio::pin!(work);
        tokio::select! {
            outcome = &mut work => outcome,
            () = keep_lease(latch, &fence) => Err(CoreError::internal(format!(
                "the lease of task {} was lost while it ran", task.name
            ))),
        }
    };
    let finished = latch
        .store
        .finish_task(task.name, &fence.owner, now())
        .await?;
    latch
        .broker
        .metrics
        .worker_run(task.name, outcome.is_ok() && finished);
    outcome.map(|()| true)
}

/// Renews the lease every third of its length; returns once it is lost.
async fn keep_lease(latch: &Latch, fence: &TaskFence) {
    let lease = chrono::Duration::from_std(latch.worker.lease).unwrap_or_default();
    loop {
        tokio::time::sleep(latch.worker.lease / 3).await;
        let at = now();
        match latch
            .store
            .renew_task_lease(&fence.task, &fence.owner, at + lease, at)
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, task = %fence.task, "could not renew a task lease")
            }
        }
    }
}

/// A number between 0 and 1, for spreading work out.
pub(crate) fn jitter() -> f64 {
    let mut random = [0u8; 4];
    match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}
