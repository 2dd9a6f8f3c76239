//! The token broker: fresh tokens for jobs, one upstream login however many ask, across
//! replicas, through failures, rotations and restarts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use latch_api::{Application, MasterKeySource, Settings};
use latch_core::callers::Scope;
use latch_tests::mock_looker::Fault;
use latch_tests::{
    Replica, TestOptions, WithMock, captured_logs, contains_bytes, eventually, on_both_backends,
    unique_secret,
};
use latch_vault::ExposeSecret;
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    WithMock:
        two_hundred_concurrent_requests_on_a_cold_cache_make_one_login,
        two_replica_processes_on_one_database_make_one_login,
        min_ttl_seconds_is_honoured_and_a_too_short_upstream_is_said_so,
        a_restart_reuses_the_stored_token_without_logging_in,
        rotating_the_secret_logs_in_with_the_new_one_and_logs_the_old_token_out,
        a_failing_upstream_starts_a_cool_down_in_which_requests_fail_fast,
        a_still_valid_token_is_returned_when_the_upstream_fails,
        a_refused_credential_is_marked_invalid_and_later_requests_fail_fast,
        the_stored_token_is_sealed_and_no_token_reaches_a_log_line,
        deleting_the_credential_drops_its_token_and_logs_it_out,
        token_requests_are_checked_like_any_other,
        issuances_are_counted_in_metrics_and_recorded_in_batches,
        sigterm_finishes_requests_in_flight_and_flushes_the_audit_queue,
        a_forced_refresh_naming_an_old_token_gets_the_current_one_without_a_login,
        a_forced_refresh_naming_the_current_token_replaces_it_and_logs_it_out,
        ten_forced_refreshes_in_a_row_without_a_named_token_cost_at_most_two_logins,
        a_rejected_token_that_is_empty_or_too_long_is_422,
);

const REPLICA: &str = env!("CARGO_BIN_EXE_latch-server");

async fn ask(
    fixture: &WithMock,
    address: &str,
    id: &str,
    body: Value,
) -> (u16, Value, Option<String>) {
    let response = fixture
        .app
        .client
        .post(format!("{address}/v1/credentials/{id}/token"))
        .bearer_auth(&fixture.app.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_string());
    (status, response.json().await.unwrap(), retry_after)
}

async fn token(fixture: &WithMock, id: &str, body: Value) -> Value {
    let (status, answer, _) = ask(fixture, &fixture.app.address, id, body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// `count` token requests sent at once, spread over `addresses` in turn; their answers.
async fn ask_at_once(
    fixture: &Arc<WithMock>,
    addresses: &[String],
    id: &str,
    count: usize,
) -> Vec<(u16, Value, Option<String>)> {
    let requests: Vec<_> = (0..count)
        .map(|index| {
            let fixture = fixture.clone();
            let address = addresses[index % addresses.len()].clone();
            let id = id.to_string();
            tokio::spawn(async move { ask(&fixture, &address, &id, json!({})).await })
        })
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    answers
}

async fn two_hundred_concurrent_requests_on_a_cold_cache_make_one_login(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    fixture.mock.set_latency(Duration::from_millis(300));
    let fixture = Arc::new(fixture);
    let address = fixture.app.address.clone();
    let mut tokens = std::collections::HashSet::new();
    for (status, answer, _) in ask_at_once(&fixture, &[address], &id, 200).await {
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_type"], "Bearer");
        assert!(answer["expires_in"].as_i64().unwrap() > 3500);
        tokens.insert(answer["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(tokens.len(), 1, "every job got the same token");
    assert_eq!(fixture.mock.stats().logins, 1);
}

async fn two_replica_processes_on_one_database_make_one_login(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    fixture.mock.set_latency(Duration::from_millis(300));
    let key = fixture.app.master_key.expose_secret().to_string();
    let replicas = [
        Replica::spawn(Path::new(REPLICA), &fixture.app.db.url, &key).await,
        Replica::spawn(Path::new(REPLICA), &fixture.app.db.url, &key).await,
    ];
    let fixture = Arc::new(fixture);
    let addresses: Vec<String> = replicas.iter().map(|r| r.address.clone()).collect();
    let mut tokens = std::collections::HashSet::new();
    for (status, answer, _) in ask_at_once(&fixture, &addresses, &id, 200).await {
        assert_eq!(status, 200, "{answer}");
        tokens.insert(answer["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(tokens.len(), 1, "both replicas handed out the same token");
    assert_eq!(fixture.mock.stats().logins, 1, "{:?}", fixture.mock.stats());
    // Stop the replicas before their database is dropped with the fixture.
    drop(replicas);
}

async fn min_ttl_seconds_is_honoured_and_a_too_short_upstream_is_said_so(fixture: WithMock) {
    fixture.mock.set_expires_in(6);
    let id = fixture.saved_credential("jobs", false).await;
    let first = token(&fixture, &id, json!({"min_ttl_seconds": 4})).await;
    assert!(first["expires_in"].as_i64().unwrap() >= 4);
    let again = token(&fixture, &id, json!({"min_ttl_seconds": 4})).await;
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(fixture.mock.stats().logins, 1);

    // Once the token has less than min_ttl left, the next request gets a new one.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let refreshed = token(&fixture, &id, json!({"min_ttl_seconds": 4})).await;
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert!(refreshed["expires_in"].as_i64().unwrap() >= 4);
    assert_eq!(fixture.mock.stats().logins, 2);

    // The upstream's tokens live 6 s: asking for 10 is refused, without a login per request.
    for _ in 0..3 {
        let (status, problem, _) = ask(
            &fixture,
            &fixture.app.address,
            &id,
            json!({"min_ttl_seconds": 10}),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(
            problem["type"],
            "urn:latch:problem:token_lifetime_too_short"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("live 6 seconds")
        );
    }
    assert_eq!(fixture.mock.stats().logins, 2);
}

async fn a_restart_reuses_the_stored_token_without_logging_in(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let before = token(&fixture, &id, json!({})).await;
    let restarted = Application::build(Settings {
        database_url: fixture.app.db.url.clone(),
        listen_addr: "127.0.0.1:0".into(),
        master_key: MasterKeySource::Key(fixture.app.master_key.expose_secret().to_string().into()),
        previous_master_keys: Vec::new(),
        egress: TestOptions::mock_reachable().egress,
        workers: Some(1),
        dev: false,
        limits: Default::default(),
        public_url: None,
        console_origins: Vec::new(),
        worker: Default::default(),
    })
    .await
    .unwrap();
    let address = format!("http://127.0.0.1:{}", restarted.port());
    tokio::spawn(restarted.run_until_stopped());
    let (status, after, _) = ask(&fixture, &address, &id, json!({})).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["access_token"], before["access_token"]);
    assert_eq!(fixture.mock.stats().logins, 1);
}

async fn rotating_the_secret_logs_in_with_the_new_one_and_logs_the_old_token_out(
    fixture: WithMock,
) {
    let id = fixture.saved_credential("jobs", false).await;
    let old = token(&fixture, &id, json!({})).await;
    let old_token = old["access_token"].as_str().unwrap().to_string();

    let rotated = unique_secret();
    fixture.mock.set_client_secret(&rotated);
    let response = fixture
        .app
        .admin(Method::PATCH, &format!("/v1/credentials/{id}"))
        .json(&json!({"secrets": {"client_secret": rotated}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("the old token's logout", || {
        std::future::ready(!fixture.mock.is_active(&old_token))
    })
    .await;

    let new = token(&fixture, &id, json!({})).await;
    assert_ne!(new["access_token"], old["access_token"]);
    assert!(
        fixture
            .mock
            .is_active(new["access_token"].as_str().unwrap())
    );
    // One login for the first token, one for the rotation's test login, one for the new token.
    assert_eq!(fixture.mock.stats().logins, 3);
}

async fn a_failing_upstream_starts_a_cool_down_in_which_requests_fail_fast(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    fixture.mock.set_fault(Fault::ServerError);
    for _ in 0..3 {
        let (status, problem, retry_after) =
            ask(&fixture, &fixture.app.address, &id, json!({})).await;
        assert_eq!(status, 503, "{problem}");
        assert_eq!(problem["type"], "urn:latch:problem:unavailable");
        assert!(problem["detail"].as_str().unwrap().contains("HTTP 500"));
        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=30).contains(&seconds), "{seconds}");
    }
    assert_eq!(
        fixture.mock.stats().login_attempts,
        1,
        "the cool-down spares the upstream"
    );
}

async fn a_still_valid_token_is_returned_when_the_upstream_fails(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let first = token(&fixture, &id, json!({})).await;
    fixture.mock.set_fault(Fault::Hang);
    let stale = token(
        &fixture,
        &id,
        json!({"force_refresh": true, "rejected_token": first["access_token"]}),
    )
    .await;
    assert_eq!(stale["access_token"], first["access_token"]);
    assert_eq!(
        stale["expires_at"], first["expires_at"],
        "the true expiry is told"
    );
    let metrics = fixture.app.metrics().await;
    assert!(
        metrics.contains("latch_token_requests_total{outcome=\"stale\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("latch_token_refresh_failures_total 1"),
        "{metrics}"
    );
}

async fn a_refused_credential_is_marked_invalid_and_later_requests_fail_fast(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let original_secret = fixture.mock.config().client_secret;
    fixture
        .mock
        .set_client_secret("rotated-upstream-without-telling-latch");
    fixture.mock.set_latency(Duration::from_millis(200));
    // Twenty jobs at once: the one login is refused, and the others do not try again.
    let fixture = Arc::new(fixture);
    let address = fixture.app.address.clone();
    for (status, problem, _) in ask_at_once(&fixture, &[address], &id, 20).await {
        assert_eq!(status, 409, "{problem}");
        assert_eq!(problem["type"], "urn:latch:problem:credential_invalid");
    }
    let read: Value = fixture
        .app
        .admin(Method::GET, &format!("/v1/credentials/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "invalid");
    let (status, _, _) = ask(&fixture, &fixture.app.address, &id, json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(fixture.mock.stats().login_attempts, 1);

    // Fixed upstream (the secret is accepted again): a validation clears the verdict at once.
    fixture.mock.set_client_secret(&original_secret);
    let validated: Value = fixture
        .app
        .admin(Method::POST, &format!("/v1/credentials/{id}/validate"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(validated["status"], "valid", "{validated}");
    let (status, answer, _) = ask(&fixture, &fixture.app.address, &id, json!({})).await;
    assert_eq!(status, 200, "{answer}");
}

async fn the_stored_token_is_sealed_and_no_token_reaches_a_log_line(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let answer = token(&fixture, &id, json!({})).await;
    let access_token = answer["access_token"].as_str().unwrap();
    let row = fixture
        .app
        .store
        .credential_token(id.parse().unwrap())
        .await
        .unwrap()
        .expect("a stored copy");
    assert!(row.token_ct.is_some());
    let stored = fixture.app.everything_stored().await;
    assert!(
        !contains_bytes(&stored, access_token),
        "the token is stored in clear"
    );
    assert!(
        !captured_logs().contains(access_token),
        "a log line holds the token"
    );
}

async fn deleting_the_credential_drops_its_token_and_logs_it_out(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let answer = token(&fixture, &id, json!({})).await;
    let access_token = answer["access_token"].as_str().unwrap().to_string();
    let response = fixture
        .app
        .admin(Method::DELETE, &format!("/v1/credentials/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    eventually("the token's logout", || {
        std::future::ready(!fixture.mock.is_active(&access_token))
    })
    .await;
    let (status, _, _) = ask(&fixture, &fixture.app.address, &id, json!({})).await;
    assert_eq!(status, 404);
}

async fn token_requests_are_checked_like_any_other(fixture: WithMock) {
    let app = &fixture.app;
    let id = fixture.saved_credential("jobs", false).await;
    let path = format!("/v1/credentials/{id}/token");
    // An empty body asks for the defaults.
    let response = app.admin(Method::POST, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    // So does a JSON `null`, which the document allows for an optional body.
    let response = app
        .admin(Method::POST, &path)
        .json(&Value::Null)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // JSON Schema's `integer` includes `249.0`: it is the whole number it writes.
    let response = app
        .admin(Method::POST, &path)
        .json(&json!({"min_ttl_seconds": 249.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for (body, status, field) in [
        (json!([]), 400, "body"),
        (json!({"min_ttl_seconds": 3001}), 422, "min_ttl_seconds"),
        (json!({"min_ttl_seconds": -1}), 422, "min_ttl_seconds"),
        (json!({"min_ttl_seconds": 1e300}), 422, "min_ttl_seconds"),
        (json!({"min_ttl_seconds": 249.5}), 400, "min_ttl_seconds"),
        (json!({"min_ttl": 5}), 400, "min_ttl"),
    ] {
        let response = app
            .admin(Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let response = app
        .with_key(&reader, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (_, job) = app.org_with_key("acme", &[Scope::TokensIssue]).await;
    let response = app
        .with_key(&job, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, intruder) = app.org_with_key("globex", &[Scope::Admin]).await;
    let response = app
        .with_key(&intruder, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let missing = format!("/v1/credentials/{}/token", uuid::Uuid::now_v7());
    assert_eq!(
        app.admin(Method::POST, &missing)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(fixture.mock.stats().logins, 1);
}

async fn issuances_are_counted_in_metrics_and_recorded_in_batches(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    for _ in 0..5 {
        token(&fixture, &id, json!({})).await;
    }
    let metrics = fixture.app.metrics().await;
    assert!(
        metrics.contains("latch_token_requests_total{outcome=\"refreshed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("latch_token_requests_total{outcome=\"cached\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("latch_upstream_logins_total{result=\"success\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("latch_upstream_login_duration_seconds_count 1"),
        "{metrics}"
    );

    // Written within about a second, summed per key, credential and source.
    let mut counted = 0;
    for _ in 0..60 {
        let trail: Value = fixture
            .app
            .admin(Method::GET, "/v1/audit-events?limit=200")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        counted = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "token.issued")
            .map(|event| event["detail"]["count"].as_u64().unwrap())
            .sum::<u64>();
        if counted == 5 {
            let text = trail.to_string();
            assert!(
                !text.contains("mock-token-"),
                "an audit event holds a token"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{counted} of 5 issuances recorded");
}

async fn sigterm_finishes_requests_in_flight_and_flushes_the_audit_queue(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let key = fixture.app.master_key.expose_secret().to_string();
    let mut replica = Replica::spawn(Path::new(REPLICA), &fixture.app.db.url, &key).await;
    fixture.mock.set_latency(Duration::from_millis(1500));
    let fixture = Arc::new(fixture);
    let in_flight = {
        let fixture = fixture.clone();
        let address = replica.address.clone();
        let id = id.clone();
        tokio::spawn(async move { ask(&fixture, &address, &id, json!({})).await })
    };
    // Let the request reach the server and the upstream login begin.
    eventually("the login to start", || {
        std::future::ready(fixture.mock.stats().login_attempts == 1)
    })
    .await;
    replica.terminate();

    let (status, answer, _) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the request in flight was cut off: {answer}");
    let exit = replica.wait_exit(Duration::from_secs(20)).await;
    assert!(exit.is_some_and(|status| status.success()), "{exit:?}");
    // The issuance was queued less than a second before the stop: the flush wrote it.
    let trail: Value = fixture
        .app
        .admin(Method::GET, "/v1/audit-events?limit=200")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued =
        trail["items"].as_array().unwrap().iter().any(|event| {
            event["action"] == "token.issued" && event["detail"]["source"] == "refreshed"
        });
    assert!(issued, "{trail}");
    // A stopped replica accepts nothing more.
    let refused = fixture
        .app
        .client
        .get(format!("{}/healthz", replica.address))
        .send()
        .await;
    assert!(refused.is_err());
}

async fn a_forced_refresh_naming_an_old_token_gets_the_current_one_without_a_login(
    fixture: WithMock,
) {
    let id = fixture.saved_credential("jobs", false).await;
    let first = token(&fixture, &id, json!({})).await;
    let second = token(
        &fixture,
        &id,
        json!({"force_refresh": true, "rejected_token": first["access_token"]}),
    )
    .await;
    assert_ne!(second["access_token"], first["access_token"]);
    let logins = fixture.mock.stats().logins;
    // Another job still holds the first token and reports it: the current one is its answer.
    for _ in 0..5 {
        let again = token(
            &fixture,
            &id,
            json!({"force_refresh": true, "rejected_token": first["access_token"]}),
        )
        .await;
        assert_eq!(again["access_token"], second["access_token"]);
    }
    // `rejected_token` alone implies the forced refresh.
    let implied = token(
        &fixture,
        &id,
        json!({"rejected_token": first["access_token"]}),
    )
    .await;
    assert_eq!(implied["access_token"], second["access_token"]);
    assert_eq!(
        fixture.mock.stats().logins,
        logins,
        "no login for any of them"
    );
}

async fn a_forced_refresh_naming_the_current_token_replaces_it_and_logs_it_out(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    let first = token(&fixture, &id, json!({})).await;
    let logouts = fixture.mock.stats().logouts;
    let replaced = token(
        &fixture,
        &id,
        json!({"force_refresh": true, "rejected_token": first["access_token"]}),
    )
    .await;
    assert_ne!(replaced["access_token"], first["access_token"]);
    assert_eq!(fixture.mock.stats().logins, 2);
    eventually("the replaced session is logged out", || {
        std::future::ready(fixture.mock.stats().logouts == logouts + 1)
    })
    .await;
    // The new token is what every job gets now.
    let next = token(&fixture, &id, json!({})).await;
    assert_eq!(next["access_token"], replaced["access_token"]);
}

async fn ten_forced_refreshes_in_a_row_without_a_named_token_cost_at_most_two_logins(
    fixture: WithMock,
) {
    let id = fixture.saved_credential("jobs", false).await;
    token(&fixture, &id, json!({})).await;
    for _ in 0..10 {
        token(&fixture, &id, json!({"force_refresh": true})).await;
    }
    let logins = fixture.mock.stats().logins;
    assert!(logins <= 2, "{logins} logins");
}

async fn a_rejected_token_that_is_empty_or_too_long_is_422(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    for rejected in [String::new(), "x".repeat(4097)] {
        let (status, problem, _) = ask(
            &fixture,
            &fixture.app.address,
            &id,
            json!({"force_refresh": true, "rejected_token": rejected}),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "rejected_token");
        assert!(
            !problem.to_string().contains(&"x".repeat(100)),
            "not echoed"
        );
    }
    assert_eq!(fixture.mock.stats().login_attempts, 0);
}
