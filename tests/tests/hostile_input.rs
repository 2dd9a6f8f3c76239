//! Text meant to deceive or to break storage is refused with a 422 naming the field, on both
//! backends, and answers that carry a key or a token are never cached.

use latch_tests::{TestApp, looker_credential, on_both_backends, problem_fields};
use reqwest::Method;
use serde_json::json;

on_both_backends!(TestApp:
    names_and_descriptions_with_control_or_bidi_characters_are_422_naming_the_field,
    a_nul_in_a_credential_config_is_422_not_500,
    a_nul_anywhere_in_a_data_source_config_is_422_naming_its_path,
    answers_that_carry_a_key_or_a_token_are_marked_no_store,
);

const DECEPTIVE: &[&str] = &[
    "Looker\u{0}prod",
    "Looker\u{7}prod",
    "Looker\u{1b}[31mprod",
    "Looker\u{85}prod",
    "Looker\u{9b}prod",
    "Looker \u{202E}dorp",
    "Looker \u{202A}prod",
    "Looker \u{2066}prod",
    "Looker \u{2069}prod",
];

async fn names_and_descriptions_with_control_or_bidi_characters_are_422_naming_the_field(
    app: TestApp,
) {
    let source_credential = app.create_credential("selected", "s").await;
    let credential_id = source_credential["id"].as_str().unwrap();
    let before = app.row_counts().await;
    for text in DECEPTIVE {
        for field in ["name", "description"] {
            let mut body = looker_credential("fine", "s");
            body[field] = json!(text);
            let (status, problem) = app
                .send(Method::POST, "/v1/credentials?validate=false", Some(&body))
                .await;
            assert_eq!(status, 422, "{text:?} in {field}: {problem}");
            assert_eq!(problem_fields(&problem), [field], "{text:?}");
            let message = problem["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("control or bidirectional"), "{message}");

            let (status, problem) = app
                .send(
                    Method::PATCH,
                    &format!("/v1/credentials/{credential_id}?validate=false"),
                    Some(&json!({ field: text })),
                )
                .await;
            assert_eq!(status, 422, "PATCH {text:?} in {field}: {problem}");
            assert_eq!(problem_fields(&problem), [field]);

            let mut source = json!({
                "name": "fine", "connector": "looker",
                "credential_id": credential_id, "config": {},
            });
            source[field] = json!(text);
            let (status, problem) = app
                .send(Method::POST, "/v1/data-sources", Some(&source))
                .await;
            assert_eq!(status, 422, "source {text:?} in {field}: {problem}");
            assert_eq!(problem_fields(&problem), [field]);
        }
        let (status, problem) = app
            .send(
                Method::POST,
                "/v1/api-keys",
                Some(&json!({"name": text, "scopes": ["credentials:read"]})),
            )
            .await;
        assert_eq!(status, 422, "api key {text:?}: {problem}");
        assert_eq!(problem_fields(&problem), ["name"]);
    }
    assert_eq!(app.row_counts().await, before, "nothing was written");

    // Letters of every script, and emoji, are welcome.
    let mut body = looker_credential("Données · 日本語 · 🔑", "s");
    body["description"] = json!("Zugangsdaten für den nächtlichen Export");
    let (status, created) = app
        .send(Method::POST, "/v1/credentials?validate=false", Some(&body))
        .await;
    assert_eq!(status, 201, "{created}");
}

async fn a_nul_in_a_credential_config_is_422_not_500(app: TestApp) {
    let before = app.row_counts().await;
    let mut body = looker_credential("nul", "s");
    body["config"]["client_id"] = json!("Ab\u{0}Cd");
    let (status, problem) = app
        .send(Method::POST, "/v1/credentials?validate=false", Some(&body))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["config.client_id"]);
    assert_eq!(app.row_counts().await, before);

    let created = app.create_credential("clean", "s").await;
    let id = created["id"].as_str().unwrap();
    let (status, problem) = app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}?validate=false"),
            Some(&json!({"config": {"client_id": "x\u{0}"}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["config.client_id"]);
}

async fn a_nul_anywhere_in_a_data_source_config_is_422_naming_its_path(app: TestApp) {
    let credential = app.create_credential("selected", "s").await;
    let before = app.row_counts().await;
    for (config, path) in [
        (json!({"dataset": "a\u{0}b"}), "config.dataset"),
        (
            json!({"nested": {"list": [1, "\u{0}"]}}),
            "config.nested.list[1]",
        ),
        (json!({"key\u{0}": "value"}), "config.key\u{0}"),
    ] {
        let body = json!({
            "name": "nul source", "connector": "looker",
            "credential_id": credential["id"], "config": config,
        });
        let (status, problem) = app
            .send(Method::POST, "/v1/data-sources", Some(&body))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem_fields(&problem), [path]);
    }
    assert_eq!(app.row_counts().await, before);

    let body = json!({
        "name": "clean source", "connector": "looker",
        "credential_id": credential["id"], "config": {"dataset": "usage"},
    });
    let (status, source) = app
        .send(Method::POST, "/v1/data-destinations", Some(&body))
        .await;
    assert_eq!(status, 201, "{source}");
    let (status, problem) = app
        .send(
            Method::PATCH,
            &format!("/v1/data-destinations/{}", source["id"].as_str().unwrap()),
            Some(&json!({"config": {"dataset": "\u{0}"}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["config.dataset"]);
}

async fn answers_that_carry_a_key_or_a_token_are_marked_no_store(app: TestApp) {
    let response = app
        .admin(Method::POST, "/v1/api-keys")
        .json(&json!({"name": "reader", "scopes": ["credentials:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");

    let credential = app.create_credential("selected", "s").await;
    let body = json!({
        "name": "source", "connector": "looker",
        "credential_id": credential["id"], "config": {},
    });
    let (_, source) = app
        .send(Method::POST, "/v1/data-sources", Some(&body))
        .await;
    let response = app
        .admin(
            Method::POST,
            &format!(
                "/v1/data-sources/{}/job-keys",
                source["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
}
