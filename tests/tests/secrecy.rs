//! Secrets and keys never reach the database in clear, a response, or a log line.

use latch_store::Backend;
use latch_tests::{TestApp, WithMock, captured_logs, on_both_backends, unique_secret};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

on_both_backends!(
    TestApp: the_database_holds_no_plaintext_secret;
    WithMock: no_response_and_no_log_line_contains_a_secret_a_token_or_an_api_key;
);

/// Every row of every table as text (PostgreSQL), or every byte of the database files
/// (SQLite, including the write-ahead log).
async fn everything_stored(app: &TestApp) -> Vec<u8> {
    match app.db.backend {
        Backend::Sqlite => {
            let path = app.db.sqlite_path().unwrap();
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{}{suffix}", path.display());
                if let Ok(contents) = std::fs::read(&file) {
                    bytes.extend(contents);
                }
            }
            assert!(bytes.len() > 4096, "the database files were read");
            bytes
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            let mut text = String::new();
            for table in [
                "organizations",
                "api_keys",
                "credentials",
                "audit_events",
                "keyring",
            ] {
                let rows: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT row_to_json(t)::text FROM {table} t"
                )))
                .fetch_all(&mut connection)
                .await
                .unwrap();
                assert!(
                    !rows.is_empty() || table == "organizations",
                    "{table} has rows"
                );
                text.extend(rows.into_iter().map(|(row,)| row));
            }
            text.into_bytes()
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

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

    let stored = everything_stored(&app).await;
    // The non-secret fields are there, so the search does look at the right data.
    assert!(contains(&stored, "AbCdEfGh12345678"));
    assert!(
        !contains(&stored, &first),
        "the first secret is stored in clear"
    );
    assert!(
        !contains(&stored, &rotated),
        "the rotated secret is stored in clear"
    );
    assert!(
        !contains(&stored, &app.admin_key),
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
