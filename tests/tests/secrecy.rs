//! Secrets and keys never reach the database in clear, a response, or a log line.

use latch_store::Backend;
use latch_tests::{TestApp, captured_logs, looker_credential, on_both_backends, unique_secret};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

on_both_backends!(TestApp:
    the_database_holds_no_plaintext_secret,
    no_response_and_no_log_line_contains_a_secret_or_an_api_key,
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
            &format!("/v1/credentials/{}", created["id"].as_str().unwrap()),
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

async fn no_response_and_no_log_line_contains_a_secret_or_an_api_key(app: TestApp) {
    let secret = unique_secret();
    let rotated = unique_secret();
    let mut seen = Vec::new();
    let record = |response: reqwest::Response| async move {
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        format!("{headers}\n{body}")
    };

    let created = app
        .admin(Method::POST, "/v1/credentials")
        .json(&looker_credential("watched", &secret))
        .send()
        .await
        .unwrap();
    let text = record(created).await;
    let id = serde_json::from_str::<Value>(text.split_once('\n').unwrap().1).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    seen.push(text);
    let path = format!("/v1/credentials/{id}");
    let mut misplaced = looker_credential("misplaced", &secret);
    misplaced["config"]["client_secret"] = json!(secret);
    misplaced["name"] = json!([secret]);
    let bodies = [
        (Method::GET, path.clone(), None),
        (Method::GET, "/v1/credentials".to_string(), None),
        (
            Method::PATCH,
            path.clone(),
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
    ];
    for (method, path, body) in bodies {
        let mut request = app.admin(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        seen.push(record(request.send().await.unwrap()).await);
    }
    // Secrets typed into a query string or a bad key are not echoed either.
    let response = app
        .admin(Method::GET, &format!("/v1/credentials?colour={secret}"))
        .send()
        .await
        .unwrap();
    seen.push(record(response).await);

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
    }
    let logs = captured_logs();
    assert!(
        logs.contains(&id) || logs.contains("/v1/credentials"),
        "logs were captured"
    );
    assert!(!logs.contains(&secret), "a log line contains the secret");
    assert!(
        !logs.contains(&rotated),
        "a log line contains the rotated secret"
    );
    assert!(
        !logs.contains(&app.admin_key),
        "a log line contains the API key"
    );
}
