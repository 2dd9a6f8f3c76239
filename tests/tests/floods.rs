//! Floods and probes: failed authentications and denied authorizations reach the audit trail
//! summed, a flood of bad keys from one address is slowed down with 429, and a valid key is
//! never refused by that.

use std::sync::Arc;

use latch_api::Limits;
use latch_core::callers::Scope;
use latch_tests::{TestApp, TestOptions, counted, looker_credential, on_both_backends};
use reqwest::Method;
use serde_json::Value;

/// A server that answers 429 after five failures a minute from one address.
pub struct Strict(TestApp);

impl Strict {
    pub async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let options = TestOptions {
            limits: Limits {
                auth_failures_per_minute: 5,
                ..Limits::default()
            },
            ..TestOptions::default()
        };
        Some(Self(TestApp::create_with(backend, options).await?))
    }
}

on_both_backends!(
    TestApp:
        three_hundred_bad_keys_with_a_real_prefix_make_a_handful_of_rows_in_its_org,
        a_missing_scope_is_recorded_as_authorization_denied,
        asking_for_another_organizations_id_is_recorded_for_both_organizations;
    Strict:
        failing_attempts_past_the_limit_get_429_and_a_key_that_authenticated_before_gets_through,
        an_address_over_its_limit_is_refused_before_any_store_read,
);

async fn three_hundred_bad_keys_with_a_real_prefix_make_a_handful_of_rows_in_its_org(app: TestApp) {
    let app = Arc::new(app);
    let (_, key) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let before = app.row_counts().await.1;
    let requests: Vec<_> = (0..300)
        .map(|n| {
            let app = app.clone();
            let forged = format!("{}_{:0>32}", &key[..18], n);
            tokio::spawn(async move {
                app.with_key(&forged, Method::GET, "/v1/credentials")
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    assert!(statuses.iter().all(|status| [401, 429].contains(status)));
    assert!(
        statuses.contains(&429),
        "the default limit slowed the flood"
    );

    let events = app
        .audit_events_eventually(app.org_id, "authentication.failed", |found| {
            counted(found) == 300
        })
        .await;
    assert_eq!(counted(&events), 300, "every attempt is counted");
    assert!(events.len() <= 5, "{} rows for 300 attempts", events.len());
    for event in &events {
        // Past the limit, attempts are refused unread and told to the org the prefix named.
        assert!(
            ["wrong secret", "address over its failure limit"]
                .contains(&event.detail["reason"].as_str().unwrap()),
            "{event:?}"
        );
        assert_eq!(event.detail["key_prefix"], &key[..18]);
        assert_eq!(event.detail["client_address"], "127.0.0.1");
    }
    assert!(app.row_counts().await.1 - before <= 5);
}

async fn failing_attempts_past_the_limit_get_429_and_a_key_that_authenticated_before_gets_through(
    strict: Strict,
) {
    let app = &strict.0;
    let (_, earlier) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    for key in [&app.admin_key, &earlier] {
        let response = app
            .with_key(key, Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let bad = format!("latch_{}_{}", "A".repeat(12), "B".repeat(32));
    for _ in 0..5 {
        let response = app
            .with_key(&bad, Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = app
        .with_key(&bad, Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:latch:problem:too_many_requests");

    // The same address with keys that authenticated before gets through.
    for key in [&app.admin_key, &earlier] {
        let response = app
            .with_key(key, Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

async fn an_address_over_its_limit_is_refused_before_any_store_read(strict: Strict) {
    let app = &strict.0;
    let (_, key) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let response = app
        .with_key(&key, Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the key authenticated once");
    let forged = |n: usize| format!("{}_{:0>32}", &key[..18], n);
    for n in 0..6 {
        let response = app
            .with_key(&forged(n), Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), if n < 5 { 401 } else { 429 });
    }
    let (_, unseen) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;

    // With the keys table gone, any read of it would be a 500: none happens.
    app.run_sql("ALTER TABLE api_keys RENAME TO api_keys_away")
        .await;
    for n in 6..56 {
        let response = app
            .with_key(&forged(n), Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429, "attempt {n}");
    }
    // A key this server verified before is answered from memory.
    let response = app
        .with_key(&key, Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A valid key never seen here waits out the minute like a guess, unread.
    let response = app
        .with_key(&unseen, Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    app.run_sql("ALTER TABLE api_keys_away RENAME TO api_keys")
        .await;

    let events = app
        .audit_events_eventually(app.org_id, "authentication.failed", |found| {
            counted(found) == 56
        })
        .await;
    let unread: u64 = events
        .iter()
        .filter(|event| event.detail["reason"] == "address over its failure limit")
        .filter_map(|event| event.detail["count"].as_u64())
        .sum();
    assert_eq!(
        unread, 50,
        "refusals without a read still reach the key's org"
    );
}

async fn a_missing_scope_is_recorded_as_authorization_denied(app: TestApp) {
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    for _ in 0..3 {
        let response = app
            .with_key(&reader, Method::POST, "/v1/credentials?validate=false")
            .json(&looker_credential("not allowed", "s"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
    }
    let events = app
        .audit_events_eventually(app.org_id, "authorization.denied", |found| {
            counted(found) == 3
        })
        .await;
    assert_eq!(counted(&events), 3);
    assert_eq!(events.len(), 1, "summed into one row: {events:?}");
    assert_eq!(events[0].detail["reason"], "missing scope");
    assert_eq!(events[0].detail["route"], "/v1/credentials");
    assert_ne!(events[0].actor_key_id, None);
}

async fn asking_for_another_organizations_id_is_recorded_for_both_organizations(app: TestApp) {
    let victim = app.create_credential("victim's", "s").await;
    let id = victim["id"].as_str().unwrap();
    let (other_org, other_key) = app.org_with_key("globex", &[Scope::Admin]).await;
    for path in [
        format!("/v1/credentials/{id}"),
        format!("/v1/credentials/{id}/token"),
    ] {
        let method = if path.ends_with("token") {
            Method::POST
        } else {
            Method::GET
        };
        let response = app
            .with_key(&other_key, method, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // A miss on an id nobody has is not a probe.
    let response = app
        .with_key(
            &other_key,
            Method::GET,
            "/v1/credentials/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let prober_side = app
        .audit_events_eventually(other_org, "authorization.denied", |found| {
            counted(found) == 2
        })
        .await;
    assert_eq!(counted(&prober_side), 2, "{prober_side:?}");
    assert!(prober_side.iter().all(|event| {
        event.detail["reason"] == "another organization's id"
            && event.target_id.as_deref() == Some(id)
    }));
    let owner_side = app
        .audit_events_eventually(app.org_id, "authorization.denied", |found| {
            counted(found) == 2
        })
        .await;
    assert_eq!(counted(&owner_side), 2, "{owner_side:?}");
    assert!(owner_side.iter().all(|event| {
        event.detail["reason"] == "asked for from another organization"
            && event.actor_key_id.is_none()
            && event.detail["key_prefix"].is_null()
    }));
}
