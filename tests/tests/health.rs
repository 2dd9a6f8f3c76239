//! Credential health through real HTTP against mock-looker: what test logins and token logins
//! find becomes the credential's status without an edit, with its history.

use std::time::Duration;

use latch_api::Limits;
use latch_core::callers::Scope;
use latch_tests::mock_looker::Fault;
use latch_tests::{Backend, TestOptions, WithMock, on_both_backends, unique_secret};
use reqwest::Method;
use serde_json::{Value, json};

/// A server whose credentials turn `degraded` at the second failure in a row, and a mock
/// Looker.
pub struct Degrading(WithMock);

impl Degrading {
    pub async fn create(backend: Backend) -> Option<Self> {
        let options = TestOptions {
            limits: Limits {
                degraded_after: 2,
                ..Limits::default()
            },
            ..TestOptions::mock_reachable()
        };
        Some(Self(WithMock::create_with(backend, options).await?))
    }
}

on_both_backends!(
    Degrading:
        failed_token_logins_make_a_credential_degraded_and_the_next_token_recovers_it;
    WithMock:
        a_test_login_is_health_not_an_edit_and_keeps_the_token_jobs_are_handed,
        a_refused_token_login_is_recorded_and_a_rotated_secret_starts_afresh,
        failures_measured_at_once_are_each_counted_and_change_the_status_once,
        health_is_read_with_credentials_read_and_only_in_the_credentials_organization,
);

async fn credential(fixture: &WithMock, id: &str) -> (Value, String) {
    let response = fixture
        .app
        .admin(Method::GET, &format!("/v1/credentials/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    (response.json().await.unwrap(), etag)
}

async fn health(fixture: &WithMock, id: &str) -> Value {
    let (status, body) = fixture
        .app
        .send(Method::GET, &format!("/v1/credentials/{id}/health"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The `(from, to, cause)` of each status change, newest first.
fn changes(health: &Value) -> Vec<(Value, String, String)> {
    health["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["from"].clone(),
                change["to"].as_str().unwrap().to_string(),
                change["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn change(from: Option<&str>, to: &str, cause: &str) -> (Value, String, String) {
    (json!(from), to.to_string(), cause.to_string())
}

async fn failed_token_logins_make_a_credential_degraded_and_the_next_token_recovers_it(
    Degrading(fixture): Degrading,
) {
    let id = fixture.saved_credential("nightly", true).await;
    let (_, etag) = credential(&fixture, &id).await;
    fixture.mock.set_fault(Fault::ServerError);

    let (status, problem, wait) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 503, "{problem}");
    let (after_one, _) = credential(&fixture, &id).await;
    assert_eq!(
        after_one["status"], "valid",
        "one failure is not yet believed"
    );
    assert_eq!(after_one["consecutive_failures"], 1);

    tokio::time::sleep(Duration::from_secs(wait.unwrap())).await;
    let (status, _, wait) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 503);
    let (degraded, degraded_etag) = credential(&fixture, &id).await;
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    assert!(
        degraded["status_detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{degraded}"
    );
    assert_eq!(degraded["version"], 1, "health is not an edit");
    assert_eq!(degraded_etag, etag);
    let listed = fixture
        .app
        .send(Method::GET, "/v1/credentials?status=degraded", None)
        .await
        .1;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let scraped = fixture.app.metrics().await;
    assert!(
        scraped.contains("latch_credentials{connector=\"looker\",status=\"degraded\"} 1"),
        "{scraped}"
    );

    fixture.mock.set_fault(Fault::None);
    tokio::time::sleep(Duration::from_secs(wait.unwrap())).await;
    let (status, token, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 200, "{token}");
    let now = health(&fixture, &id).await;
    assert_eq!(now["status"], "valid");
    assert_eq!(now["consecutive_failures"], 0);
    assert_eq!(now["last_failure"], Value::Null);
    assert!(now["last_token_at"].is_string());
    assert_eq!(
        now["since"], now["last_token_at"],
        "it recovered by that token"
    );
    assert_eq!(
        changes(&now),
        [
            change(Some("degraded"), "valid", "token"),
            change(Some("valid"), "degraded", "token"),
            change(None, "valid", "created"),
        ]
    );
    assert!(
        now["changes"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 500")
    );
    let scraped = fixture.app.metrics().await;
    assert!(scraped.contains("latch_credentials{connector=\"looker\",status=\"valid\"} 1"));
    assert!(scraped.contains("latch_credential_seconds_since_last_token_count 1"));
    assert_eq!(scraped.matches("# EOF").count(), 1, "one exposition");
    assert!(scraped.ends_with("# EOF\n"));
    let logs = latch_tests::captured_logs();
    assert!(logs.contains("credential status changed"));
    assert!(!logs.contains(token["access_token"].as_str().unwrap()));
}

async fn a_test_login_is_health_not_an_edit_and_keeps_the_token_jobs_are_handed(fixture: WithMock) {
    let id = fixture.saved_credential("nightly", true).await;
    let (status, first, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 200, "{first}");
    let (before, etag) = credential(&fixture, &id).await;
    let logins = fixture.mock.stats().logins;

    let response = fixture
        .app
        .admin(Method::POST, &format!("/v1/credentials/{id}/validate"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
    let validated: Value = response.json().await.unwrap();
    assert_eq!(validated["version"], before["version"]);
    assert!(validated["validated_at"].as_str() > before["validated_at"].as_str());

    let (status, again, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["access_token"], first["access_token"],
        "the token stays"
    );
    assert_eq!(
        fixture.mock.stats().logins,
        logins + 1,
        "the test login was the only one"
    );
    // A client holding the ETag from before the test may still edit.
    let renamed = fixture
        .app
        .admin(Method::PATCH, &format!("/v1/credentials/{id}"))
        .header("If-Match", &etag)
        .json(&json!({"name": "nightly exports"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    // Valid before and after: no change of status to record.
    assert_eq!(
        changes(&health(&fixture, &id).await),
        [change(None, "valid", "created")]
    );
}

async fn a_refused_token_login_is_recorded_and_a_rotated_secret_starts_afresh(fixture: WithMock) {
    let id = fixture.saved_credential("nightly", false).await;
    let secret = unique_secret();
    fixture.mock.set_client_secret(&secret);
    let (status, problem, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 409, "{problem}");
    let refused = health(&fixture, &id).await;
    assert_eq!(refused["status"], "invalid");
    assert_eq!(refused["consecutive_failures"], 1);
    assert!(
        refused["validated_at"].is_string(),
        "a refusal is a finding"
    );
    assert_eq!(
        changes(&refused),
        [
            change(Some("unverified"), "invalid", "token"),
            change(None, "unverified", "created"),
        ]
    );

    let (status, rotated) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}"),
            Some(&json!({"secrets": {"client_secret": secret}})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["status"], "valid");
    assert_eq!(rotated["version"], 2, "the rotation is the edit");
    let now = health(&fixture, &id).await;
    assert_eq!(now["consecutive_failures"], 0);
    assert_eq!(changes(&now)[0], change(Some("invalid"), "valid", "edited"));
    let (status, _, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 200);
}

async fn failures_measured_at_once_are_each_counted_and_change_the_status_once(fixture: WithMock) {
    let id = fixture.saved_credential("nightly", true).await;
    fixture.mock.set_fault(Fault::ServerError);
    let path = format!("/v1/credentials/{id}/validate");
    let validations: Vec<_> = (0..6)
        .map(|_| tokio::spawn(fixture.app.admin(Method::POST, &path).send()))
        .collect();
    for validation in validations {
        assert_eq!(validation.await.unwrap().unwrap().status(), 200);
    }
    let now = health(&fixture, &id).await;
    assert_eq!(now["consecutive_failures"], 6, "{now}");
    assert_eq!(now["status"], "degraded");
    assert_eq!(
        changes(&now),
        [
            change(Some("valid"), "degraded", "validated"),
            change(None, "valid", "created"),
        ]
    );
}

async fn health_is_read_with_credentials_read_and_only_in_the_credentials_organization(
    fixture: WithMock,
) {
    let app = &fixture.app;
    let id = fixture.saved_credential("nightly", true).await;
    let path = format!("/v1/credentials/{id}/health");
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let (status, body) = app.send_as(&reader, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["credential_id"], id.as_str());

    let (_, job) = app.org_with_key("acme", &[Scope::TokensIssue]).await;
    let (status, problem) = app.send_as(&job, Method::GET, &path, None).await;
    assert_eq!(status, 403, "{problem}");

    let (_, stranger) = app.org_with_key("globex", &[Scope::Admin]).await;
    let (status, problem) = app.send_as(&stranger, Method::GET, &path, None).await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["type"], "urn:latch:problem:not_found");

    let (status, problem) = app
        .send(Method::GET, "/v1/credentials/not-an-id/health", None)
        .await;
    assert_eq!(status, 404, "{problem}");
    assert!(problem["detail"].is_string(), "{problem}");
}
