//! The background worker through real processes: scheduled checks taken under a lease by one
//! of two workers at a time (an in-process server and a `latch worker` process), a stale
//! holder's write refused, and tokens refreshed ahead of the jobs that use them.

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use latch_core::worker::WorkerConfig;
use latch_store::{HealthCause, HealthNote, HealthState, HealthStep, StoreError, TaskFence};
use latch_tests::replica::WorkerProcess;
use latch_tests::{Backend, TestApp, TestOptions, WithMock, eventually, on_both_backends};
use reqwest::Method;
use serde_json::json;

const LATCH: &str = env!("CARGO_BIN_EXE_latch-server");

/// A server whose worker looks for work five times a second, checks credentials every minute
/// and refreshes tokens ahead of jobs; and a mock Looker.
pub struct Busy(WithMock);

impl Busy {
    pub async fn create(backend: Backend) -> Option<Self> {
        let options = TestOptions {
            worker: fast_worker(),
            ..TestOptions::mock_reachable()
        };
        Some(Self(WithMock::create_with(backend, options).await?))
    }
}

/// A server that runs no worker of its own, and a mock Looker.
pub struct Quiet(WithMock);

impl Quiet {
    pub async fn create(backend: Backend) -> Option<Self> {
        let options = TestOptions {
            worker: WorkerConfig {
                enabled: false,
                refresh_ahead_window: Duration::ZERO,
                ..fast_worker()
            },
            ..TestOptions::mock_reachable()
        };
        Some(Self(WithMock::create_with(backend, options).await?))
    }
}

/// A server that keeps house five times a second and keeps its audit trail and status changes
/// two seconds.
pub struct Forgetful(TestApp);

impl Forgetful {
    pub async fn create(backend: Backend) -> Option<Self> {
        let options = TestOptions {
            worker: WorkerConfig {
                housekeeping_every: Duration::from_millis(200),
                audit_retention: Some(Duration::from_secs(2)),
                health_history_retention: Duration::from_secs(2),
                ..fast_worker()
            },
            ..TestOptions::default()
        };
        Some(Self(TestApp::create_with(backend, options).await?))
    }
}

fn fast_worker() -> WorkerConfig {
    WorkerConfig {
        tick: Duration::from_millis(200),
        lease: Duration::from_secs(5),
        check_interval: Duration::from_secs(60),
        refresh_ahead_tick: Duration::from_millis(200),
        refresh_ahead_window: Duration::from_secs(60),
        ..WorkerConfig::default()
    }
}

on_both_backends!(
    Busy:
        due_credentials_are_checked_once_each_by_one_of_two_workers,
        a_token_jobs_use_is_refreshed_before_it_gets_too_short_for_them;
    Forgetful:
        housekeeping_deletes_audit_events_and_status_changes_past_their_retention;
    Quiet:
        latch_worker_checks_what_is_due_while_the_servers_run_no_worker,
        a_check_written_after_its_lease_passed_to_another_replica_is_refused,
);

/// A `latch worker` process on the fixture's database.
fn worker_process(app: &TestApp) -> WorkerProcess {
    use latch_vault::ExposeSecret;
    WorkerProcess::start(
        std::path::Path::new(LATCH),
        &app.db.url,
        app.master_key.expose_secret(),
    )
}

async fn due_credentials_are_checked_once_each_by_one_of_two_workers(Busy(fixture): Busy) {
    let mut other = worker_process(&fixture.app);
    let app = &fixture.app;
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        ids.push(fixture.saved_credential(name, true).await);
    }
    // Saved untested with a secret Looker turns down.
    let (status, refused) = app
        .send(
            Method::POST,
            "/v1/credentials?validate=false",
            Some(&fixture.credential("refused", "wrong")),
        )
        .await;
    assert_eq!(status, 201, "{refused}");
    // And one whose host answers nothing (nothing listens on port 9).
    let mut far = fixture.credential("far", "wrong");
    far["config"]["api_host_url"] = json!("http://127.0.0.1:9");
    let (status, far) = app
        .send(Method::POST, "/v1/credentials?validate=false", Some(&far))
        .await;
    assert_eq!(status, 201, "{far}");
    let attempts = fixture.mock.stats().login_attempts;
    // Tested (or made) long ago: due now.
    app.run_sql(
        "UPDATE credentials SET validated_at = '2020-01-01T00:00:00+00:00' \
         WHERE validated_at IS NOT NULL",
    )
    .await;
    app.run_sql("UPDATE credentials SET created_at = '2020-01-01T00:00:00+00:00'")
        .await;

    eventually("every due credential was checked", || async {
        let (_, listed) = app.send(Method::GET, "/v1/credentials", None).await;
        let items = listed["items"].as_array().unwrap();
        items.len() == 5
            && items.iter().all(|credential| {
                credential["validated_at"].as_str() > Some("2021")
                    || credential["consecutive_failures"] == 1
            })
    })
    .await;
    // Another second of ticks on both workers: nothing is due again for a minute.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fixture.mock.stats().login_attempts,
        attempts + 4,
        "each credential was checked once, by one worker"
    );
    for id in &ids {
        let (_, health) = app
            .send(Method::GET, &format!("/v1/credentials/{id}/health"), None)
            .await;
        assert_eq!(health["status"], "valid", "{health}");
    }
    let path = format!("/v1/credentials/{}/health", refused["id"].as_str().unwrap());
    let (_, health) = app.send(Method::GET, &path, None).await;
    assert_eq!(health["status"], "invalid", "{health}");
    assert_eq!(health["changes"][0]["cause"], "checked");
    assert_eq!(health["changes"][0]["from"], "unverified");
    // Trouble reaching the upstream proves nothing, and is not retried before the interval.
    let path = format!("/v1/credentials/{}/health", far["id"].as_str().unwrap());
    let (_, health) = app.send(Method::GET, &path, None).await;
    assert_eq!(health["status"], "unverified", "{health}");
    assert_eq!(health["consecutive_failures"], 1, "checked once: {health}");
    assert_eq!(health["validated_at"], serde_json::Value::Null);
    assert!(health["checked_at"].is_string(), "{health}");

    assert!(other.running(), "latch worker runs beside the server");
    let (_, ready) = app.send(Method::GET, "/readyz", None).await;
    assert_eq!(ready["worker"]["enabled"], true);
    let tasks = ready["worker"]["tasks"].as_array().unwrap();
    assert!(
        tasks
            .iter()
            .any(|task| task["task"] == "checks" && task["last_run_at"].is_string()),
        "{ready}"
    );
}

async fn latch_worker_checks_what_is_due_while_the_servers_run_no_worker(Quiet(fixture): Quiet) {
    let app = &fixture.app;
    let id = fixture.saved_credential("nightly", true).await;
    app.run_sql(
        "UPDATE credentials SET validated_at = '2020-01-01T00:00:00+00:00', \
         created_at = '2020-01-01T00:00:00+00:00'",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let path = format!("/v1/credentials/{id}");
    let (_, before) = app.send(Method::GET, &path, None).await;
    assert!(
        before["validated_at"].as_str() < Some("2021"),
        "the server checks nothing itself"
    );
    let (_, ready) = app.send(Method::GET, "/readyz", None).await;
    assert_eq!(ready["worker"]["enabled"], false);

    let mut worker = worker_process(app);
    eventually("latch worker checked the credential", || async {
        let (_, now) = app.send(Method::GET, &path, None).await;
        now["validated_at"].as_str() > Some("2021")
    })
    .await;
    assert!(worker.running());
}

/// How many audit events name a credential, and how many status changes it has.
async fn history(app: &TestApp, credential: &serde_json::Value) -> (usize, usize) {
    let id = credential["id"].as_str().unwrap();
    let (_, audit) = app
        .send(
            Method::GET,
            &format!("/v1/audit-events?target_id={id}"),
            None,
        )
        .await;
    let (_, health) = app
        .send(Method::GET, &format!("/v1/credentials/{id}/health"), None)
        .await;
    (
        audit["items"].as_array().unwrap().len(),
        health["changes"].as_array().unwrap().len(),
    )
}

async fn housekeeping_deletes_audit_events_and_status_changes_past_their_retention(
    Forgetful(app): Forgetful,
) {
    let old = app.create_credential("old", "s").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let new = app.create_credential("new", "s").await;
    eventually("the old credential's history is deleted", || async {
        history(&app, &old).await == (0, 0)
    })
    .await;
    assert_eq!(history(&app, &new).await, (1, 1), "what is younger stays");
    let (status, kept) = app
        .send(
            Method::GET,
            &format!("/v1/credentials/{}", old["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!((status, &kept["status"]), (200, &json!("unverified")));
}

async fn a_token_jobs_use_is_refreshed_before_it_gets_too_short_for_them(Busy(fixture): Busy) {
    fixture.mock.set_expires_in(8);
    let id = fixture.saved_credential("nightly", true).await;
    let ask = || async {
        let (status, token) = fixture
            .app
            .send(
                Method::POST,
                &format!("/v1/credentials/{id}/token"),
                Some(&json!({"min_ttl_seconds": 2})),
            )
            .await;
        assert_eq!(status, 200, "{token}");
        token
    };
    let first = ask().await;
    // 8 s tokens, 2 s asked: replaced with 5 s left, with no job asking. Jobs keep asking
    // meanwhile; each gets a token that lives as long as asked, and none waits for a login.
    eventually("a token replaced ahead of the jobs", || async {
        ask().await["access_token"] != first["access_token"]
    })
    .await;
    let second = ask().await;
    assert!(second["expires_in"].as_i64().unwrap() >= 2, "{second}");
    let metrics = fixture.app.metrics().await;
    assert!(
        metrics.contains("latch_token_refreshes_ahead_total{result=\"success\"}"),
        "{metrics}"
    );
    // Only the first request logged in; every later one was handed a token already there.
    assert!(
        metrics.contains("latch_token_requests_total{outcome=\"refreshed\"} 1\n"),
        "{metrics}"
    );
}

/// The server runs no worker, so the lease is this test's alone.
async fn a_check_written_after_its_lease_passed_to_another_replica_is_refused(
    Quiet(fixture): Quiet,
) {
    let app = &fixture.app;
    let store = &app.store;
    let credential = app.create_credential("watched", "s").await;
    let id: uuid::Uuid = credential["id"].as_str().unwrap().parse().unwrap();
    let now = Utc::now();
    let long_ago = now - chrono::Duration::hours(1);
    assert!(
        store
            .acquire_task_lease(
                "checks",
                "first",
                now + chrono::Duration::milliseconds(200),
                now,
                now
            )
            .await
            .unwrap()
    );
    // Held: nobody else takes it.
    assert!(
        !store
            .acquire_task_lease(
                "checks",
                "second",
                now + chrono::Duration::seconds(5),
                now,
                now
            )
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = Utc::now();
    assert!(
        store
            .acquire_task_lease(
                "checks",
                "second",
                later + chrono::Duration::seconds(5),
                later,
                later
            )
            .await
            .unwrap(),
        "a lapsed lease passes on"
    );

    let step = |current: &latch_store::Credential| {
        let mut state = HealthState::of(current);
        state.status = latch_store::CredentialStatus::Invalid;
        Some(HealthStep {
            state,
            change: Some(HealthNote {
                cause: HealthCause::Checked,
                detail: Some("refused".into()),
            }),
            audit: None,
        })
    };
    let stale = TaskFence {
        task: "checks".into(),
        owner: "first".into(),
    };
    let refused = store
        .observe_health(app.org_id, id, 1, Some(&stale), &step)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::LeaseLost), "{refused:?}");
    let kept = store.get_credential(app.org_id, id).await.unwrap().unwrap();
    assert_eq!(kept.status, latch_store::CredentialStatus::Unverified);
    assert!(!store.finish_task("checks", "first", later).await.unwrap());

    let holder = TaskFence {
        task: "checks".into(),
        owner: "second".into(),
    };
    let (written, change) = store
        .observe_health(app.org_id, id, 1, Some(&holder), &step)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.status, latch_store::CredentialStatus::Invalid);
    assert_eq!(written.version, 1);
    assert_eq!(change.unwrap().cause, "checked");
    assert!(store.finish_task("checks", "second", later).await.unwrap());
    // Finished just now: not due again for whoever asks with an earlier bound.
    let again = Utc::now();
    assert!(
        !store
            .acquire_task_lease(
                "checks",
                "third",
                again + chrono::Duration::seconds(5),
                again,
                long_ago
            )
            .await
            .unwrap()
    );
    let leases = store.task_leases().await.unwrap();
    let checks = leases.iter().find(|lease| lease.task == "checks").unwrap();
    assert_eq!(checks.owner, None);
    assert!(checks.last_run_at.is_some());
}

#[test]
fn worker_settings_out_of_range_stop_start_up_naming_the_variable() {
    for (variable, value, said) in [
        ("LATCH_WORKER", "sometimes", "must be `on` or `off`"),
        ("LATCH_HEALTH_DEGRADED_AFTER", "0", "0 is not in 1..=1000"),
        (
            "LATCH_CHECK_INTERVAL_SECONDS",
            "0",
            "0 is not in 1..=31536000",
        ),
        ("LATCH_WORKER_TICK_MS", "10", "10 is not in 100..=3600000"),
    ] {
        let output = Command::new(LATCH)
            .arg("worker")
            .env("LATCH_DATABASE_URL", "sqlite://never-opened.db")
            .env(variable, value)
            .output()
            .expect("latch runs");
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(error.contains(said), "{variable}: {error}");
        let flag = variable
            .trim_start_matches("LATCH_")
            .to_lowercase()
            .replace('_', "-");
        assert!(error.contains(&flag), "{variable}: {error}");
    }
}
