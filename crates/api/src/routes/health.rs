use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every check passes.
    #[schema(example = "ready")]
    pub status: &'static str,
    #[schema(example = "ok")]
    pub store: &'static str,
    #[schema(example = "ok")]
    pub keyring: &'static str,
    /// The background worker as this replica runs it, and its leased tasks as the store has
    /// them (whichever replica ran them).
    pub worker: WorkerReadiness,
}

#[derive(Serialize, ToSchema)]
pub struct WorkerReadiness {
    /// Whether this replica runs the leased tasks (`LATCH_WORKER`).
    pub enabled: bool,
    /// Whether this replica refreshes tokens ahead of its jobs.
    pub refresh_ahead: bool,
    pub tasks: Vec<TaskReadiness>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskReadiness {
    /// `checks` or `housekeeping`.
    #[schema(example = "checks")]
    pub task: String,
    /// A replica holds it now.
    pub running: bool,
    pub last_run_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Metrics in the OpenMetrics text format, which Prometheus scrapes: token requests by
/// outcome, cache hits and misses, upstream logins and their latency, refresh failures,
/// audit records counted when their queue was full, the background worker's runs, scheduled
/// checks by outcome and tokens refreshed ahead; and, counted from the store, credentials by
/// connector and status and the time since each last got a token.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text exposition 1.0.0",
        body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // The census needs the store; without it, the process's own metrics still answer.
    let census = latch_core::census::census_text(&*state.store, latch_store::now())
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "metrics: could not count the credentials");
            String::new()
        });
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(census + &state.broker.metrics.render())
}

/// Readiness: the store answers and the keyring is loaded.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "The store does not answer", body = Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = match state.store.ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "readiness: the store does not answer");
            false
        }
    };
    // The keyring is loaded and verified before the server starts listening.
    let keyring_ok = !state.keyring.active_kek_id().is_empty();
    let now = latch_store::now();
    let tasks = match state.store.task_leases().await {
        Ok(leases) => leases
            .into_iter()
            .map(|lease| TaskReadiness {
                running: lease.owner.is_some()
                    && lease.lease_until.is_some_and(|until| until > now),
                task: lease.task,
                last_run_at: lease.last_run_at,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let readiness = Readiness {
        status: if store_ok && keyring_ok {
            "ready"
        } else {
            "not_ready"
        },
        store: if store_ok { "ok" } else { "unavailable" },
        keyring: if keyring_ok { "ok" } else { "missing" },
        worker: WorkerReadiness {
            enabled: state.worker.enabled,
            refresh_ahead: !state.worker.refresh_ahead_window.is_zero(),
            tasks,
        },
    };
    if store_ok && keyring_ok {
        HttpResponse::Ok().json(readiness)
    } else {
        HttpResponse::ServiceUnavailable().json(readiness)
    }
}
