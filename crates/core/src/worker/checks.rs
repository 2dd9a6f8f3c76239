//! Scheduled checks, a leased task of the worker: every credential re-tested by a real test
//! login (a consent: a token and who it acts for) once per `check_interval`, so `status` and
//! `validated_at` say something true about today. A token obtained since counts as a check
//! (it moves `validated_at`), so a credential in use costs no extra login.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use latch_connector::ValidationStatus;
use latch_store::{Credential, HealthCause, StoreError, TaskFence, now};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::credentials::{Actor, measure};
use crate::error::CoreError;
use crate::health::{Finding, Observation, observe};
use crate::latch::Latch;

/// Checks at once in one run, whatever the hosts.
const AT_ONCE: usize = 16;

/// Checks the credentials that are due, at most `per_host` at once against one upstream host.
pub async fn run(latch: &Latch, fence: &TaskFence) -> Result<(), CoreError> {
    let config = &latch.worker;
    let at = now();
    let interval = chrono::Duration::from_std(config.check_interval).unwrap_or_default();
    // The earliest any credential can be due: its interval less the largest jitter.
    let earliest = at - interval + interval / 10;
    let candidates = latch
        .store
        .credentials_due_for_check(earliest, config.checks_per_run)
        .await?;
    let due: Vec<(String, Credential)> = candidates
        .into_iter()
        .filter(|credential| {
            let proven = credential.validated_at.unwrap_or(credential.created_at);
            let checked = credential.checked_at.unwrap_or(credential.created_at);
            proven.max(checked) + interval - jitter_of(credential.id, interval) <= at
        })
        .map(|credential| (upstream_of(latch, &credential), credential))
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    tracing::info!(count = due.len(), "checking credentials");
    let hosts: HashMap<&str, Semaphore> = due
        .iter()
        .map(|(host, _)| (host.as_str(), Semaphore::new(config.per_host.max(1))))
        .collect();
    let all = Semaphore::new(AT_ONCE);
    let lost = AtomicBool::new(false);
    // One future per credential, polled together in this task; the semaphores bound how many
    // log in at once, in all and per host.
    let checks = due.iter().map(|(host, credential)| {
        let (hosts, all, lost) = (&hosts, &all, &lost);
        async move {
            let _host = hosts[host.as_str()].acquire().await;
            let _slot = all.acquire().await;
            if lost.load(Ordering::Relaxed) {
                return;
            }
            match check(latch, credential, fence).await {
                Ok(()) => {}
                Err(StoreError::LeaseLost) => lost.store(true, Ordering::Relaxed),
                Err(error) => tracing::warn!(%error, credential_id = %credential.id, "a scheduled check failed"),
            }
        }
    });
    futures_util::future::join_all(checks).await;
    if lost.load(Ordering::Relaxed) {
        return Err(CoreError::internal("the checks lease was lost; stopped"));
    }
    Ok(())
}

/// One credential's check, written only while `fence` holds.
async fn check(
    latch: &Latch,
    credential: &Credential,
    fence: &TaskFence,
) -> Result<(), StoreError> {
    let actor = Actor {
        org_id: credential.org_id,
        key_id: None,
    };
    let outcome = match measure(latch, credential, actor).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // Latch's own fault (a secret that does not open): logged, nothing measured.
            tracing::error!(%error, credential_id = %credential.id, "could not check a credential");
            return Ok(());
        }
    };
    latch
        .broker
        .metrics
        .credential_check(outcome.status.as_str());
    let finding = Finding::of(&outcome);
    // A refusal is on the record as the broker's are; other findings are in the history.
    let audit = finding.refusal_event(credential, "scheduled check");
    let observation = Observation {
        finding,
        cause: HealthCause::Checked,
        at: now(),
        audit,
    };
    let policy = latch.broker.health_policy();
    observe(&*latch.store, policy, credential, observation, Some(fence)).await?;
    if outcome.status == ValidationStatus::Valid {
        latch.broker.recovered(credential.id);
    }
    Ok(())
}

/// How much earlier than its interval a credential is checked: up to a tenth of it, fixed per
/// credential (from the random bits of its id), so credentials made together spread out.
fn jitter_of(id: Uuid, interval: chrono::Duration) -> chrono::Duration {
    let bytes = id.as_bytes();
    let random = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default());
    let fraction = random as f64 / u64::MAX as f64;
    let tenth = (interval / 10).to_std().unwrap_or_default();
    chrono::Duration::from_std(tenth.mul_f64(fraction)).unwrap_or_default()
}

/// The upstream host a credential's logins go to (its host field, else its connector, whose
/// host is fixed), which checks and refreshes ahead take turns on.
pub(crate) fn upstream_of(latch: &Latch, credential: &Credential) -> String {
    let host = latch
        .catalogue
        .shared_of(credential)
        .and_then(|connector| connector.host_field())
        .and_then(|field| credential.config.get(field))
        .and_then(|value| value.as_str())
        .and_then(|text| url::Url::parse(text).ok())
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase));
    host.unwrap_or_else(|| credential.connector.clone())
}
