//! What a request leaves behind for whoever runs Latch: a request id on every answer and on
//! every log line written while handling it, and strict preconditions.

use latch_tests::{TestApp, captured_logs, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(TestApp:
    every_answer_carries_a_request_id_and_a_plain_one_sent_is_kept,
    the_log_lines_of_a_request_carry_its_id,
    a_weak_etag_in_if_match_never_matches_and_changes_nothing,
);

async fn every_answer_carries_a_request_id_and_a_plain_one_sent_is_kept(app: TestApp) {
    let mut seen = Vec::new();
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/v1/credentials"),
        (Method::GET, "/v1/nothing-here"),
    ] {
        let response = app.admin(method, path).send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(!id.is_empty(), "{path}");
        seen.push(id);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "each request has its own id: {seen:?}");
    let unauthenticated = app
        .anonymous(Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert!(unauthenticated.headers().contains_key("x-request-id"));

    let kept = app
        .admin(Method::GET, "/v1/credentials")
        .header("X-Request-Id", "job-42.retry_1")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "job-42.retry_1");
    let replaced = app
        .admin(Method::GET, "/v1/credentials")
        .header("X-Request-Id", "forged\" level=error")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(!id.contains("forged"), "{id}");
}

async fn the_log_lines_of_a_request_carry_its_id(app: TestApp) {
    let id = format!("trace-{}", uuid::Uuid::new_v4().simple());
    let response = app
        .admin(Method::GET, "/v1/credentials")
        .header("X-Request-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let logs = captured_logs();
    let lines: Vec<&str> = logs.lines().filter(|line| line.contains(&id)).collect();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("status=200") && line.contains("/v1/credentials")),
        "{lines:?}"
    );
}

async fn a_weak_etag_in_if_match_never_matches_and_changes_nothing(app: TestApp) {
    let created = app.create_credential("etagged", "s").await;
    let path = format!(
        "/v1/credentials/{}?validate=false",
        created["id"].as_str().unwrap()
    );
    let response = app
        .admin(Method::PATCH, &path)
        .header("If-Match", "W/\"1\"")
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    let (_, now) = app
        .send(
            Method::GET,
            &format!("/v1/credentials/{}", created["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(now["name"], "etagged");
    assert_eq!(now["version"], 1);
    let response = app
        .admin(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
