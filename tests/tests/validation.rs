//! A credential is proven by a real test login against mock-looker over HTTP.

use latch_tests::mock_looker::Fault;
use latch_tests::{TestApp, WithMock, looker_credential, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    WithMock:
        a_credential_looker_accepts_is_stored_valid_with_its_identity,
        a_wrong_secret_is_refused_with_422_invalid_and_nothing_is_stored,
        each_upstream_fault_maps_to_its_status_with_a_useful_detail,
        a_host_that_refuses_connections_is_unreachable_and_not_stored,
        saving_with_validate_false_calls_nobody_and_stores_unverified,
        revalidating_stores_what_it_found_without_an_edit,
        the_test_endpoint_reports_the_outcome_and_stores_nothing,
        rotating_the_secret_revalidates_and_a_refused_secret_changes_nothing,
        every_validation_is_an_audit_event;
    TestApp:
        a_blocked_address_is_unreachable_recorded_and_never_called,
);

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.send(method, path, body.as_ref()).await
}

async fn credential_count(app: &TestApp) -> usize {
    app.row_counts().await.0
}

async fn a_credential_looker_accepts_is_stored_valid_with_its_identity(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let (status, body) = send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential("Looker prod")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "valid");
    assert_eq!(
        body["identity"],
        json!({"id": "42", "display_name": "Latch API User", "email": "latch-api@example.com"})
    );
    assert!(body["validated_at"].is_string());
    assert!(
        body["status_detail"]
            .as_str()
            .unwrap()
            .contains("Latch API User")
    );

    let stats = mock.stats();
    assert_eq!(stats.logins, 1);
    assert_eq!(stats.identity_calls, 1);
    assert_eq!(stats.logouts, 1, "a test login logs out again");
    assert_eq!(stats.active_tokens, 0);
    assert_eq!(
        stats.secrets_in_query, 0,
        "the secret went in a query string"
    );
    let over_http = latch_tests::mock_looker::stats_over_http(&mock.url).await;
    assert_eq!(over_http, stats);
}

async fn a_wrong_secret_is_refused_with_422_invalid_and_nothing_is_stored(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let (status, problem) = send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.credential("Looker prod", "not-the-secret")),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:latch:problem:credential_rejected");
    assert_eq!(problem["outcome"]["status"], "invalid");
    let detail = problem["outcome"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("refused the client ID / secret"),
        "{detail}"
    );
    assert_eq!(credential_count(app).await, 0);
    assert_eq!(mock.stats().login_attempts, 1);
    assert_eq!(mock.stats().secrets_in_query, 0);
}

async fn each_upstream_fault_maps_to_its_status_with_a_useful_detail(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    for (fault, status, says) in [
        (Fault::ServerError, "error", "HTTP 500"),
        (
            Fault::RateLimited,
            "error",
            "rate limiting the login; retry after 30 seconds",
        ),
        (Fault::Malformed, "error", "not a Looker login response"),
        (Fault::Oversized, "error", "unexpectedly large body"),
        (
            Fault::Hang,
            "unreachable",
            "did not answer within 2 seconds",
        ),
    ] {
        mock.set_fault(fault.clone());
        let (code, outcome) = send(
            app,
            Method::POST,
            "/v1/credentials/test",
            Some(fixture.good_credential("faulty")),
        )
        .await;
        assert_eq!(code, 200, "{fault:?}: {outcome}");
        assert_eq!(outcome["status"], status, "{fault:?}: {outcome}");
        let detail = outcome["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{fault:?}: {detail}");
        assert!(
            !detail.contains("<html>"),
            "an upstream body was echoed: {detail}"
        );
        if fault == Fault::RateLimited {
            assert_eq!(outcome["retry_after"], 30);
        }
    }
    // Saving under a fault is refused the same way, and stores nothing.
    mock.set_fault(Fault::ServerError);
    let (code, problem) = send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential("faulty")),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(problem["outcome"]["status"], "error");
    assert_eq!(credential_count(app).await, 0);
}

async fn a_host_that_refuses_connections_is_unreachable_and_not_stored(fixture: WithMock) {
    let app = &fixture.app;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut body = fixture.good_credential("nobody home");
    body["config"]["api_host_url"] = json!(format!("http://127.0.0.1:{port}"));
    let (status, problem) = send(app, Method::POST, "/v1/credentials", Some(body)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["outcome"]["status"], "unreachable");
    let detail = problem["outcome"]["detail"].as_str().unwrap();
    assert!(detail.contains("could not connect"), "{detail}");
    assert_eq!(credential_count(app).await, 0);
}

async fn saving_with_validate_false_calls_nobody_and_stores_unverified(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let (status, body) = send(
        app,
        Method::POST,
        "/v1/credentials?validate=false",
        Some(fixture.credential("later", "wrong")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "unverified");
    assert_eq!(mock.stats().login_attempts, 0);
}

async fn revalidating_stores_what_it_found_without_an_edit(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let (_, created) = send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential("watched")),
    )
    .await;
    let validate = format!(
        "/v1/credentials/{}/validate",
        created["id"].as_str().unwrap()
    );

    // One failure is counted, not yet believed: the status holds, and nothing is edited.
    mock.set_fault(Fault::ServerError);
    let (status, body) = send(app, Method::POST, &validate, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "valid");
    assert_eq!(body["consecutive_failures"], 1);
    assert_eq!(body["identity"]["id"], "42");
    assert_eq!(body["version"], 1);
    // The third in a row makes it degraded, with the cause.
    send(app, Method::POST, &validate, None).await;
    let (_, body) = send(app, Method::POST, &validate, None).await;
    assert_eq!(body["status"], "degraded");
    assert!(body["status_detail"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(body["consecutive_failures"], 3);
    assert_eq!(body["version"], 1);

    mock.set_fault(Fault::None);
    let (_, body) = send(app, Method::POST, &validate, None).await;
    assert_eq!(body["status"], "valid");
    assert_eq!(body["consecutive_failures"], 0);
    assert_eq!(body["identity"]["id"], "42");
    assert!(body["validated_at"].as_str() > created["validated_at"].as_str());

    // A credential saved untested with a wrong secret is found invalid.
    let (_, wrong) = send(
        app,
        Method::POST,
        "/v1/credentials?validate=false",
        Some(fixture.credential("wrong", "nope")),
    )
    .await;
    let (_, body) = send(
        app,
        Method::POST,
        &format!("/v1/credentials/{}/validate", wrong["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(body["status"], "invalid");
    let (status, _) = send(
        app,
        Method::POST,
        &format!("/v1/credentials/{}/validate", uuid::Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

async fn the_test_endpoint_reports_the_outcome_and_stores_nothing(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let (status, outcome) = send(
        app,
        Method::POST,
        "/v1/credentials/test",
        Some(fixture.good_credential("dry run")),
    )
    .await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["status"], "valid");
    assert_eq!(outcome["identity"]["display_name"], "Latch API User");
    let (_, outcome) = send(
        app,
        Method::POST,
        "/v1/credentials/test",
        Some(fixture.credential("dry run", "wrong")),
    )
    .await;
    assert_eq!(outcome["status"], "invalid");
    assert_eq!(credential_count(app).await, 0);
    assert_eq!(mock.stats().logouts, 1);
    // The form's checks apply to a dry run too.
    let (status, problem) = send(
        app,
        Method::POST,
        "/v1/credentials/test",
        Some(json!({"connector": "looker", "config": {}, "secrets": {}})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3);
}

async fn rotating_the_secret_revalidates_and_a_refused_secret_changes_nothing(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let (_, created) = send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential("rotating")),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/credentials/{id}");
    let before = app
        .store
        .get_credential(app.org_id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();

    let (status, problem) = send(
        app,
        Method::PATCH,
        &path,
        Some(json!({"secrets": {"client_secret": "a-wrong-rotation"}})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["outcome"]["status"], "invalid");
    let after = app
        .store
        .get_credential(app.org_id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.secret_ct, before.secret_ct,
        "a refused rotation changed the secret"
    );
    assert_eq!(after.version, 1);

    let good = mock.config().client_secret;
    let (status, body) = send(
        app,
        Method::PATCH,
        &path,
        Some(json!({"secrets": {"client_secret": good}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "valid");
    assert_eq!(body["version"], 2);
    // A config change is tested with the stored secret.
    let (status, problem) = send(
        app,
        Method::PATCH,
        &path,
        Some(json!({"config": {"client_id": "someone-else"}})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(mock.stats().logins, 2);
}

async fn every_validation_is_an_audit_event(fixture: WithMock) {
    let app = &fixture.app;
    let (_, created) = send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential("audited")),
    )
    .await;
    send(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.credential("bad", "x")),
    )
    .await;
    send(
        app,
        Method::POST,
        &format!(
            "/v1/credentials/{}/validate",
            created["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    send(
        app,
        Method::POST,
        "/v1/credentials/test",
        Some(fixture.good_credential("t")),
    )
    .await;

    let (_, trail) = send(app, Method::GET, "/v1/audit-events", None).await;
    let events: Vec<(String, String, Value)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["target_type"] == "credential")
        .map(|event| {
            (
                event["action"].as_str().unwrap().to_string(),
                event["outcome"].as_str().unwrap().to_string(),
                event["detail"].clone(),
            )
        })
        .collect();
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|(a, o, _)| (a.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("credential.created", "success"),
            ("credential.validated", "failure"),
            ("credential.validated", "success"),
            ("credential.tested", "success"),
        ]
    );
    assert_eq!(events[0].2["validation"]["status"], "valid");
    assert_eq!(events[1].2["status"], "invalid");
    assert_eq!(events[1].2["name"], "bad");
}

async fn a_blocked_address_is_unreachable_recorded_and_never_called(app: TestApp) {
    let mut body = looker_credential("metadata", "s3cr3t");
    body["config"]["api_host_url"] = json!("https://169.254.169.254");
    let (status, outcome) = send(
        &app,
        Method::POST,
        "/v1/credentials/test",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(outcome["status"], "unreachable");
    assert!(outcome["detail"].as_str().unwrap().contains("not allowed"));
    let (status, problem) = send(&app, Method::POST, "/v1/credentials", Some(body)).await;
    assert_eq!(status, 422);
    assert_eq!(problem["outcome"]["status"], "unreachable");

    let (_, trail) = send(&app, Method::GET, "/v1/audit-events", None).await;
    let blocked: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "egress.blocked")
        .collect();
    assert_eq!(blocked.len(), 2, "{trail}");
    assert_eq!(blocked[0]["detail"]["host"], "https://169.254.169.254");
    assert!(latch_tests::captured_logs().contains("egress refused"));
}
