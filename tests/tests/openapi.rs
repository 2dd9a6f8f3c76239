//! The documented contract: the committed spec is what the server serves, and /docs works.

use latch_tests::{Backend, TestApp};
use reqwest::Method;
use serde_json::Value;

const COMMITTED_SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

async fn app() -> TestApp {
    TestApp::create(Backend::Sqlite).await.unwrap()
}

async fn served_spec(app: &TestApp) -> Value {
    let response = app
        .anonymous(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_served_spec_matches_the_committed_file() {
    let app = app().await;
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(COMMITTED_SPEC).unwrap()).unwrap();
    assert!(
        served_spec(&app).await == committed,
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_at_docs() {
    let app = app().await;
    let page = app.anonymous(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.url().path().ends_with("/docs/"));
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let initializer = app
        .anonymous(Method::GET, "/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"));
    let css = app
        .anonymous(Method::GET, "/docs/swagger-ui.css")
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
}

#[tokio::test]
async fn every_operation_documents_its_errors_and_every_body_has_an_example() {
    let app = app().await;
    let spec = served_spec(&app).await;
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let responses = operation["responses"].as_object().unwrap();
            let secured = operation.get("security").is_some();
            if secured {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} lists no 401"
                );
            }
            if let Some(body) = operation.get("requestBody") {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lists no {status}"
                    );
                }
                // A direct reference, or one inside the `oneOf` of an optional body.
                let schema = body["content"]["application/json"]["schema"].to_string();
                let name = schema
                    .split("#/components/schemas/")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_else(|| panic!("{method} {path}: no schema reference"));
                assert!(
                    spec["components"]["schemas"][name].get("example").is_some(),
                    "{name} has no example"
                );
            }
            assert!(
                operation["summary"].is_string(),
                "{method} {path} has no summary"
            );
        }
    }
    assert!(operations >= 13, "only {operations} operations documented");
    let view = &spec["components"]["schemas"]["CredentialView"]["properties"];
    assert!(
        view.get("secrets").is_none(),
        "a response schema carries secrets"
    );
    assert!(view.get("config").is_some());
}
