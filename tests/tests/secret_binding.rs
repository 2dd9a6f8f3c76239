//! A stored secret is sent only to the host it was saved for: pointing a credential at a new
//! host needs the secret again, and without it nothing is changed and nothing is called.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use latch_tests::{WithMock, on_both_backends};
use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;

on_both_backends!(
    WithMock:
        a_new_host_without_the_secret_is_refused_and_the_new_host_hears_nothing,
        a_new_host_with_the_secret_is_accepted_and_called,
        the_same_host_in_another_spelling_does_not_need_the_secret,
);

/// A TCP listener on 127.0.0.1 that counts every connection made to it and answers none.
struct Listener {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A credential mock-looker accepted, and its id.
async fn valid_credential(fixture: &WithMock) -> String {
    let (status, body) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&fixture.good_credential("bound")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "valid");
    body["id"].as_str().unwrap().to_string()
}

async fn a_new_host_without_the_secret_is_refused_and_the_new_host_hears_nothing(
    fixture: WithMock,
) {
    let WithMock { app, mock } = &fixture;
    let id = valid_credential(&fixture).await;
    let listener = Listener::start().await;
    let (_, before) = app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    let logins_before = mock.stats().login_attempts;

    for query in ["", "?validate=false"] {
        let (status, problem) = app
            .send(
                Method::PATCH,
                &format!("/v1/credentials/{id}{query}"),
                Some(&json!({"config": {"api_host_url": listener.url}})),
            )
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["secrets.client_secret"], "{query}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("config.api_host_url"), "{message}");
    }
    assert_eq!(
        mock.stats().login_attempts,
        logins_before,
        "a refused change calls no upstream at all"
    );

    // The credential still points where it was proven, at the same version.
    let (_, after) = app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(after, before);

    // What would use the stored secret next still goes to the proven host only.
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/v1/credentials/{id}/validate"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "valid");
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/v1/credentials/{id}/token"),
            Some(&json!({"force_refresh": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(mock.stats().logins > logins_before);

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(listener.connections(), 0, "the new host heard nothing");
}

async fn a_new_host_with_the_secret_is_accepted_and_called(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let id = valid_credential(&fixture).await;
    let listener = Listener::start().await;
    let secret = mock.config().client_secret;
    let (status, body) = app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}?validate=false"),
            Some(&json!({
                "config": {"api_host_url": listener.url},
                "secrets": {"client_secret": secret},
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["api_host_url"], listener.url);
    assert_eq!(body["status"], "unverified");

    // The listener is real: the secret sent with the new host goes there.
    app.send(
        Method::POST,
        &format!("/v1/credentials/{id}/validate"),
        None,
    )
    .await;
    assert!(listener.connections() >= 1);
}

async fn the_same_host_in_another_spelling_does_not_need_the_secret(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    let id = valid_credential(&fixture).await;
    let spelled_otherwise = format!("{}/api/4.0/", mock.url);
    let (status, body) = app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}?validate=false"),
            Some(&json!({"config": {"api_host_url": spelled_otherwise, "client_id": "other"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["client_id"], "other");
}
