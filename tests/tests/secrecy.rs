//! Secrets and keys never reach the database in clear, a response, or a log line.

use latch_tests::{
    TestApp, WithMock, captured_logs, contains_bytes, on_both_backends, unique_secret,
};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    TestApp: the_database_holds_no_plaintext_secret;
    WithMock: no_response_and_no_log_line_contains_a_secret_a_token_or_an_api_key;
);

async fn the_database_holds_no_plaintext_secret(app: TestApp) {
    let first = unique_secret();
    let rotated = unique_secret();
    let created = app.create_credential("stored safely", &first).await;
    let response = app
        .admin(
            Method::PATCH,
            &format!(
                "/v1/credentials/{}?validate=false",
                created["id"].as_str().unwrap()
            ),
        )
        .json(&json!({"secrets": {"client_secret": rotated}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let stored = app.everything_stored().await;
    // The non-secret fields are there, so the search does look at the right data.
    assert!(contains_bytes(&stored, "AbCdEfGh12345678"));
    assert!(
        !contains_bytes(&stored, &first),
        "the first secret is stored in clear"
    );
    assert!(
        !contains_bytes(&stored, &rotated),
        "the rotated secret is stored in clear"
    );
    assert!(
        !contains_bytes(&stored, &app.admin_key),
        "an API key is stored in clear"
    );
}

async fn no_response_and_no_log_line_contains_a_secret_a_token_or_an_api_key(fixture: WithMock) {
    let WithMock { app, mock } = &fixture;
    // The mock accepts this one: it travels to the upstream in a real login.
    let secret = mock.config().client_secret;
    let rotated = unique_secret();
    let mut seen = Vec::new();
    let record = |response: reqwest::Response| async move {
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        format!("{headers}\n{body}")
    };

    let created = app
        .admin(Method::POST, "/v1/credentials")
        .json(&fixture.good_credential("watched"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let text = record(created).await;
    let id = serde_json::from_str::<Value>(text.split_once('\n').unwrap().1).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    seen.push(text);
    let path = format!("/v1/credentials/{id}");
    let mut misplaced = fixture.credential("misplaced", &secret);
    misplaced["config"]["client_secret"] = json!(secret);
    misplaced["name"] = json!([secret]);
    let requests = [
        (Method::GET, path.clone(), None),
        (Method::GET, "/v1/credentials".to_string(), None),
        (Method::POST, format!("{path}/validate"), None),
        // Refused by the upstream: the 422 carries the outcome, not the secret.
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"secrets": {"client_secret": rotated}})),
        ),
        (
            Method::POST,
            "/v1/credentials".to_string(),
            Some(fixture.credential("wrong", &rotated)),
        ),
        (
            Method::POST,
            "/v1/credentials/test".to_string(),
            Some(fixture.good_credential("dry run")),
        ),
        (
            Method::PATCH,
            format!("{path}?validate=false"),
            Some(json!({"secrets": {"client_secret": rotated}})),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"secrets": {"client_secret": 5, "x": rotated}})),
        ),
        (
            Method::POST,
            "/v1/credentials".to_string(),
            Some(misplaced.clone()),
        ),
        (
            Method::POST,
            "/v1/credentials".to_string(),
            Some(json!({"config": {"client_secret": secret}})),
        ),
        (Method::GET, "/v1/audit-events".to_string(), None),
        (Method::GET, "/v1/api-keys".to_string(), None),
        // Secrets typed into a query string are not echoed either.
        (
            Method::GET,
            format!("/v1/credentials?colour={secret}"),
            None,
        ),
    ];
    for (method, path, body) in requests {
        let mut request = app.admin(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        seen.push(record(request.send().await.unwrap()).await);
    }
    let stats = mock.stats();
    assert!(
        stats.logins >= 3,
        "the upstream was really called: {stats:?}"
    );

    for text in &seen {
        assert!(
            !text.contains(&secret),
            "a response contains the secret: {text}"
        );
        assert!(
            !text.contains(&rotated),
            "a response contains the rotated secret: {text}"
        );
        assert!(
            !text.contains(&app.admin_key),
            "a response contains the API key: {text}"
        );
        assert!(
            !text.contains("mock-token-"),
            "a response contains an upstream token: {text}"
        );
    }
    let logs = captured_logs();
    assert!(logs.contains(&path), "the requests were logged");
    assert!(!logs.contains(&secret), "a log line contains the secret");
    assert!(
        !logs.contains(&rotated),
        "a log line contains the rotated secret"
    );
    assert!(
        !logs.contains(&app.admin_key),
        "a log line contains the API key"
    );
    assert!(
        !logs.contains("mock-token-"),
        "a log line contains an upstream token"
    );
}
