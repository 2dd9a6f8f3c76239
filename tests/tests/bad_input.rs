//! Bad input: a clear problem+json naming the field, never a 500, and nothing written.

use latch_tests::{TestApp, TestOptions, looker_credential, on_both_backends, problem_fields};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(TestApp:
    malformed_json_is_400,
    a_wrong_or_missing_content_type_is_415,
    a_body_over_64_kib_is_413,
    an_empty_body_is_400,
    a_body_that_is_not_a_json_object_is_400_naming_body,
    an_unknown_field_is_400_naming_it,
    an_unknown_config_field_is_422_naming_it,
    a_value_of_the_wrong_type_is_400_naming_the_field_without_echoing_it,
    a_missing_or_blank_name_is_422,
    a_name_over_128_characters_is_422,
    a_description_over_1000_characters_is_422,
    an_unknown_connector_is_422_listing_the_known_ones,
    missing_config_and_secrets_are_422,
    an_api_host_url_that_is_not_an_absolute_https_url_is_422,
    a_client_id_empty_or_over_256_characters_is_422,
    a_client_secret_empty_or_over_1024_characters_is_422,
    every_bad_field_is_reported_at_once,
    a_duplicate_name_in_the_same_org_is_409,
    a_bad_uuid_in_a_path_is_404,
    bad_query_parameters_are_400_naming_them,
    a_bad_if_match_is_400,
    an_unknown_route_and_a_wrong_method_are_problems,
    a_bad_patch_is_422_and_changes_nothing,
);

/// Posts a raw body and checks the answer is a problem with `status`, and that nothing was
/// written. Returns the problem.
async fn refused(app: &TestApp, content_type: Option<&str>, body: Vec<u8>, status: u16) -> Value {
    let before = app.row_counts().await;
    // Untested saves: a body that passed every check must not reach for a real host.
    let mut request = app
        .admin(Method::POST, "/v1/credentials?validate=false")
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status);
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:latch:problem:")
    );
    assert_eq!(
        app.row_counts().await,
        before,
        "a refused request wrote something"
    );
    problem
}

async fn refused_json(app: &TestApp, body: Value, status: u16) -> Value {
    refused(
        app,
        Some("application/json"),
        body.to_string().into_bytes(),
        status,
    )
    .await
}

fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body.pointer_mut(pointer).unwrap() = value;
    body
}

fn without(mut body: Value, key: &str) -> Value {
    body.as_object_mut().unwrap().remove(key);
    body
}

fn valid() -> Value {
    looker_credential("Looker prod", "s3cr3t")
}

async fn malformed_json_is_400(app: TestApp) {
    let problem = refused(&app, Some("application/json"), b"{\"name\": ".to_vec(), 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    refused(&app, Some("application/json"), b"[1, 2".to_vec(), 400).await;
}

async fn a_body_that_is_not_a_json_object_is_400_naming_body(app: TestApp) {
    let credential = valid();
    // The fields' values in the order the request type declares them: serde alone would
    // read this array as the object.
    let as_array = json!([
        credential["name"],
        null,
        credential["connector"],
        credential["config"],
        credential["secrets"]
    ]);
    for body in [as_array, json!("Looker prod"), json!(42), json!(true)] {
        let problem = refused_json(&app, body.clone(), 400).await;
        assert_eq!(problem_fields(&problem), ["body"], "{body}: {problem}");
        assert!(
            !problem.to_string().contains("s3cr3t"),
            "the secret is not echoed: {problem}"
        );
    }
}

async fn a_wrong_or_missing_content_type_is_415(app: TestApp) {
    let body = valid().to_string().into_bytes();
    let problem = refused(&app, Some("text/plain"), body.clone(), 415).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
    refused(
        &app,
        Some("application/x-www-form-urlencoded"),
        body.clone(),
        415,
    )
    .await;
    refused(&app, None, body, 415).await;
}

async fn a_body_over_64_kib_is_413(app: TestApp) {
    let huge = with(valid(), "/description", json!("x".repeat(70 * 1024)));
    refused_json(&app, huge, 413).await;
}

async fn an_empty_body_is_400(app: TestApp) {
    refused(&app, Some("application/json"), Vec::new(), 400).await;
}

async fn an_unknown_field_is_400_naming_it(app: TestApp) {
    let mut body = valid();
    body["colour"] = json!("blue");
    let problem = refused_json(&app, body, 400).await;
    assert_eq!(problem_fields(&problem), ["colour"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
}

async fn an_unknown_config_field_is_422_naming_it(app: TestApp) {
    let mut body = valid();
    body["config"]["port"] = json!("19999");
    let problem = refused_json(&app, body, 422).await;
    assert_eq!(problem_fields(&problem), ["config.port"]);
}

async fn a_value_of_the_wrong_type_is_400_naming_the_field_without_echoing_it(app: TestApp) {
    let body = with(valid(), "/name", json!(["hunter2-looks-like-a-secret"]));
    let problem = refused_json(&app, body, 400).await;
    assert_eq!(problem_fields(&problem), ["name"]);
    assert!(!problem.to_string().contains("hunter2"));
    let problem = refused_json(&app, with(valid(), "/config/client_id", json!(12)), 422).await;
    assert_eq!(problem_fields(&problem), ["config.client_id"]);
    assert_eq!(problem["errors"][0]["message"], "must be a string");
}

async fn a_missing_or_blank_name_is_422(app: TestApp) {
    for body in [
        without(valid(), "name"),
        with(valid(), "/name", json!("")),
        with(valid(), "/name", json!("   ")),
    ] {
        let problem = refused_json(&app, body, 422).await;
        assert_eq!(problem_fields(&problem), ["name"]);
    }
}

async fn a_name_over_128_characters_is_422(app: TestApp) {
    let problem = refused_json(&app, with(valid(), "/name", json!("é".repeat(129))), 422).await;
    assert_eq!(problem_fields(&problem), ["name"]);
    // 128 characters (256 bytes) is fine.
    app.create_credential(&"é".repeat(128), "s").await;
}

async fn a_description_over_1000_characters_is_422(app: TestApp) {
    let problem = refused_json(
        &app,
        with(valid(), "/description", json!("d".repeat(1001))),
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["description"]);
}

async fn an_unknown_connector_is_422_listing_the_known_ones(app: TestApp) {
    let problem = refused_json(&app, with(valid(), "/connector", json!("tableau")), 422).await;
    assert_eq!(problem_fields(&problem), ["connector"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`looker`")
    );
    let problem = refused_json(&app, without(valid(), "connector"), 422).await;
    assert_eq!(problem_fields(&problem), ["connector"]);
}

async fn missing_config_and_secrets_are_422(app: TestApp) {
    let problem = refused_json(&app, without(without(valid(), "config"), "secrets"), 422).await;
    assert_eq!(problem_fields(&problem), ["config", "secrets"]);
    let problem = refused_json(&app, with(valid(), "/config", json!("https://x")), 422).await;
    assert_eq!(problem_fields(&problem), ["config"]);
}

async fn an_api_host_url_that_is_not_an_absolute_https_url_is_422(app: TestApp) {
    for (host, says) in [
        ("acme.cloud.looker.com", "absolute URL"),
        ("/api/4.0", "absolute URL"),
        ("http://acme.cloud.looker.com", "must use https"),
        ("ftp://acme.cloud.looker.com", "https URL"),
        (
            "https://user:pass@acme.cloud.looker.com",
            "user name or password",
        ),
        ("https://acme.cloud.looker.com/?client_id=x", "query string"),
        ("https://acme.cloud.looker.com/#login", "fragment"),
        ("", "must not be empty"),
    ] {
        let problem = refused_json(
            &app,
            with(valid(), "/config/api_host_url", json!(host)),
            422,
        )
        .await;
        assert_eq!(problem_fields(&problem), ["config.api_host_url"], "{host}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{host}: {message}");
    }
    // Plain http is for operators who allow it, such as a local mock server.
    let permissive = TestApp::create_with(app.db.backend, TestOptions::mock_reachable())
        .await
        .unwrap();
    let body = with(
        valid(),
        "/config/api_host_url",
        json!("http://127.0.0.1:9999/"),
    );
    let response = permissive
        .admin(Method::POST, "/v1/credentials?validate=false")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["config"]["api_host_url"], "http://127.0.0.1:9999");
}

async fn a_client_id_empty_or_over_256_characters_is_422(app: TestApp) {
    for client_id in [json!(""), json!(" "), json!("c".repeat(257)), Value::Null] {
        let problem = refused_json(&app, with(valid(), "/config/client_id", client_id), 422).await;
        assert_eq!(problem_fields(&problem), ["config.client_id"]);
    }
}

async fn a_client_secret_empty_or_over_1024_characters_is_422(app: TestApp) {
    for secret in [json!(""), json!("s".repeat(1025))] {
        let problem =
            refused_json(&app, with(valid(), "/secrets/client_secret", secret), 422).await;
        assert_eq!(problem_fields(&problem), ["secrets.client_secret"]);
    }
    let problem = refused_json(&app, with(valid(), "/secrets", json!({})), 422).await;
    assert_eq!(problem_fields(&problem), ["secrets.client_secret"]);
}

async fn every_bad_field_is_reported_at_once(app: TestApp) {
    let body = json!({
        "name": "",
        "description": "d".repeat(1001),
        "connector": "looker",
        "config": {"api_host_url": "http://x", "client_id": ""},
        "secrets": {"client_secret": ""}
    });
    let problem = refused_json(&app, body, 422).await;
    assert_eq!(
        problem_fields(&problem),
        [
            "description",
            "name",
            "config.api_host_url",
            "config.client_id",
            "secrets.client_secret"
        ]
    );
    assert_eq!(problem["detail"], "5 fields are not valid");
}

async fn a_duplicate_name_in_the_same_org_is_409(app: TestApp) {
    app.create_credential("Looker prod", "s").await;
    let problem = refused_json(&app, valid(), 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("Looker prod"));
}

async fn a_bad_uuid_in_a_path_is_404(app: TestApp) {
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let response = app
            .admin(method.clone(), "/v1/credentials/not-a-uuid")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:latch:problem:not_found");
    }
    let response = app
        .admin(Method::DELETE, "/v1/api-keys/12345")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

async fn bad_query_parameters_are_400_naming_them(app: TestApp) {
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=bogus", "cursor"),
        ("status=great", "status"),
        ("connector=tableau", "connector"),
        ("colour=blue", "colour"),
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/credentials?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem_fields(&problem), [field], "{query}");
    }
    // The statuses 0013 folded into `degraded` say where they went.
    let (status, problem) = app
        .send(Method::GET, "/v1/credentials?status=unreachable", None)
        .await;
    assert_eq!(status, 400);
    let said = problem["errors"][0]["message"].as_str().unwrap();
    assert!(said.contains("now `degraded`"), "{said}");
}

async fn a_bad_if_match_is_400(app: TestApp) {
    let created = app.create_credential("guarded", "s").await;
    let response = app
        .admin(
            Method::PATCH,
            &format!("/v1/credentials/{}", created["id"].as_str().unwrap()),
        )
        .header("If-Match", "\"one\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem_fields(&problem), ["If-Match"]);
}

async fn an_unknown_route_and_a_wrong_method_are_problems(app: TestApp) {
    let response = app
        .admin(Method::GET, "/v1/nothing-here")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .admin(Method::PUT, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

async fn a_bad_patch_is_422_and_changes_nothing(app: TestApp) {
    let created = app.create_credential("stable", "s").await;
    let path = format!("/v1/credentials/{}", created["id"].as_str().unwrap());
    let before = app.row_counts().await;
    let response = app
        .admin(Method::PATCH, &path)
        .json(&json!({
            "name": "",
            "config": {"api_host_url": "ftp://x", "extra": "1"},
            "secrets": {"client_secret": ""}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem_fields(&problem),
        [
            "name",
            "config.extra",
            "config.api_host_url",
            "secrets.client_secret"
        ]
    );
    assert_eq!(app.row_counts().await, before);
    let read: Value = app
        .admin(Method::GET, &path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, created);
}
