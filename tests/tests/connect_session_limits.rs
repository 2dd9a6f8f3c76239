//! Connect sessions do not grow without bound: an organization has at most so many pending at
//! once (429 with `Retry-After` past it, other organizations unaffected), and sessions are
//! deleted a retention period after they expired.

use latch_api::Limits;
use latch_core::callers::Scope;
use latch_tests::{TestApp, TestOptions, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

/// A server that lets an organization have three pending sessions.
pub struct Capped(TestApp);

impl Capped {
    pub async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let options = TestOptions {
            limits: Limits {
                pending_connect_sessions: 3,
                ..Limits::default()
            },
            ..TestOptions::mock_reachable()
        };
        Some(Self(TestApp::create_with(backend, options).await?))
    }
}

on_both_backends!(
    Capped:
        past_its_pending_sessions_an_organization_gets_429_until_one_expires,
        sessions_long_expired_are_deleted_and_their_history_stays_in_the_audit,
);

/// The OAuth app of the organization of the admin `key`, registered on first use; its id. Starting a session
/// calls no upstream, so the app's hosts need not answer.
async fn app_of(app: &TestApp, key: &str) -> String {
    let listed: Value = app
        .with_key(key, Method::GET, "/v1/oauth-apps")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if let Some(id) = listed["items"][0]["id"].as_str() {
        return id.to_string();
    }
    let response = app
        .with_key(key, Method::POST, "/v1/oauth-apps")
        .json(&json!({
            "name": "limits",
            "connector": "looker",
            "config": {
                "api_host_url": "http://127.0.0.1:9",
                "ui_host_url": "http://127.0.0.1:9",
                "client_id": "latch-limits",
            },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_string()
}

async fn start(app: &TestApp, key: &str, name: &str) -> reqwest::Response {
    let oauth_app = app_of(app, key).await;
    app.with_key(key, Method::POST, "/v1/connect-sessions")
        .json(&json!({"name": name, "oauth_app_id": oauth_app}))
        .send()
        .await
        .unwrap()
}

async fn past_its_pending_sessions_an_organization_gets_429_until_one_expires(capped: Capped) {
    let app = &capped.0;
    for n in 0..3 {
        let response = start(app, &app.admin_key, &format!("waiting {n}")).await;
        assert_eq!(response.status(), 201);
    }
    let refused = start(app, &app.admin_key, "one too many").await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:latch:problem:too_many_requests");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("3 connect sessions")
    );

    // Another organization has its own allowance.
    let (_, other) = app.org_with_key("globex", &[Scope::Admin]).await;
    assert_eq!(start(app, &other, "elsewhere").await.status(), 201);

    // Expired sessions no longer count.
    app.expire_connect_sessions().await;
    assert_eq!(start(app, &app.admin_key, "later").await.status(), 201);
}

async fn sessions_long_expired_are_deleted_and_their_history_stays_in_the_audit(capped: Capped) {
    let app = &capped.0;
    let old: Value = start(app, &app.admin_key, "long ago")
        .await
        .json()
        .await
        .unwrap();
    app.run_sql(
        "UPDATE connect_sessions SET created_at = expires_at, expires_at = '2020-01-01T00:00:00Z'",
    )
    .await;
    let recent: Value = start(app, &app.admin_key, "recent")
        .await
        .json()
        .await
        .unwrap();

    // A replica whose worker keeps house five times a second deletes it.
    let busy = TestOptions {
        worker: latch_core::worker::WorkerConfig {
            tick: std::time::Duration::from_millis(200),
            housekeeping_every: std::time::Duration::from_millis(200),
            ..Default::default()
        },
        ..TestOptions::mock_reachable()
    };
    let replica = app.replica(busy).await;
    let gone = format!("/v1/connect-sessions/{}", old["id"].as_str().unwrap());
    let kept = format!("/v1/connect-sessions/{}", recent["id"].as_str().unwrap());
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .client
            .get(format!("{replica}{gone}"))
            .bearer_auth(&app.admin_key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 404, "the long-expired session was deleted");
    let (status, _) = app.send(Method::GET, &kept, None).await;
    assert_eq!(status, 200, "a recent session is kept");

    let events = app
        .audit_events_eventually(app.org_id, "connect_session.created", |found| {
            found.len() == 2
        })
        .await;
    assert!(
        events
            .iter()
            .any(|event| event.target_id.as_deref() == old["id"].as_str())
    );
}
