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
    let mut served = served_spec(&app).await;
    // The one thing a server adds: the origins its `return_to` may name.
    let own_origin = app.url("").trim_end_matches('/').to_string();
    let mut deployment_patterns = 0;
    for schema in served["components"]["schemas"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        if let Some(return_to) = schema.pointer_mut("/properties/return_to") {
            let pattern = return_to
                .as_object_mut()
                .unwrap()
                .remove("pattern")
                .unwrap();
            assert!(
                pattern
                    .as_str()
                    .unwrap()
                    .contains(&own_origin.replace('.', "\\.")),
                "{pattern} names {own_origin}"
            );
            deployment_patterns += 1;
        }
    }
    assert_eq!(
        deployment_patterns, 2,
        "a new connect session and a reconnect"
    );
    assert!(
        served == committed,
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_at_docs() {
    let app = app().await;
    let page = app.anonymous(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.url().path().ends_with("/docs/"));
    // The console's origin keeps its key in sessionStorage: the reference gets a policy too.
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("script-src 'self' 'unsafe"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
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
    assert!(
        initializer.contains(r#""validatorUrl": "none""#),
        "no badge from elsewhere: {initializer}"
    );
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
            if let Some(security) = operation.get("security") {
                for status in ["401", "429"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lists no {status}"
                    );
                }
                let scopes = security[0]["api_key"].as_array().unwrap();
                assert_eq!(
                    responses.contains_key("403"),
                    !scopes.is_empty(),
                    "{method} {path}: a 403 goes with a named scope"
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
    assert_eq!(
        operations,
        DOCUMENTED.len(),
        "the document's operations are not the served ones"
    );
    let view = &spec["components"]["schemas"]["CredentialView"]["properties"];
    assert!(
        view.get("secrets").is_none(),
        "a response schema carries secrets"
    );
    assert!(view.get("config").is_some());
}

/// Every operation the server has, as `METHOD path`.
const DOCUMENTED: &[&str] = &[
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /v1/connectors",
    "GET /v1/connectors/{id}",
    "POST /v1/credentials",
    "GET /v1/credentials",
    "POST /v1/credentials/test",
    "GET /v1/credentials/{id}",
    "PATCH /v1/credentials/{id}",
    "DELETE /v1/credentials/{id}",
    "POST /v1/credentials/{id}/validate",
    "GET /v1/credentials/{id}/health",
    "POST /v1/credentials/{id}/token",
    "POST /v1/connect-sessions",
    "POST /v1/credentials/{id}/reconnect",
    "GET /v1/connect-sessions/{id}",
    "POST /v1/connect-sessions/{id}/cancel",
    "GET /v1/connect",
    "GET /v1/oauth/callback",
    "GET /v1/oauth/callback/{app_id}",
    "POST /v1/oauth-apps",
    "GET /v1/oauth-apps",
    "GET /v1/oauth-apps/{id}",
    "PATCH /v1/oauth-apps/{id}",
    "DELETE /v1/oauth-apps/{id}",
    "POST /v1/webhooks",
    "GET /v1/webhooks",
    "GET /v1/webhooks/{id}",
    "PATCH /v1/webhooks/{id}",
    "DELETE /v1/webhooks/{id}",
    "POST /v1/webhooks/{id}/rotate-secret",
    "POST /v1/webhooks/{id}/test",
    "GET /v1/webhooks/{id}/deliveries",
    "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    "POST /v1/api-keys",
    "GET /v1/api-keys",
    "DELETE /v1/api-keys/{id}",
    "GET /v1/me",
    "GET /v1/audit-events",
    "POST /v1/data-sources",
    "GET /v1/data-sources",
    "GET /v1/data-sources/{id}",
    "PATCH /v1/data-sources/{id}",
    "DELETE /v1/data-sources/{id}",
    "POST /v1/data-sources/{id}/job-keys",
    "GET /v1/data-sources/{id}/job-keys",
    "DELETE /v1/data-sources/{id}/job-keys/{key_id}",
    "POST /v1/data-sources/{id}/token",
    "POST /v1/data-destinations",
    "GET /v1/data-destinations",
    "GET /v1/data-destinations/{id}",
    "PATCH /v1/data-destinations/{id}",
    "DELETE /v1/data-destinations/{id}",
    "POST /v1/data-destinations/{id}/job-keys",
    "GET /v1/data-destinations/{id}/job-keys",
    "DELETE /v1/data-destinations/{id}/job-keys/{key_id}",
    "POST /v1/data-destinations/{id}/token",
];

#[tokio::test]
async fn every_405_lists_the_methods_the_document_gives_its_path() {
    let app = app().await;
    let spec = served_spec(&app).await;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|method| method.to_uppercase())
            .collect();
        documented.sort();
        let concrete = path
            .replace("{id}", "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20")
            .replace(
                "/v1/connectors/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
                "/v1/connectors/looker",
            );
        for method in ["TRACE", "PUT"] {
            let response = app
                .admin(Method::from_bytes(method.as_bytes()).unwrap(), &concrete)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
            let allow = response
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
                .to_str()
                .unwrap()
                .to_string();
            let mut allowed: Vec<String> = allow.split(", ").map(str::to_string).collect();
            allowed.sort();
            assert_eq!(allowed, documented, "{method} {path}");
            let problem: serde_json::Value = response.json().await.unwrap();
            assert_eq!(problem["type"], "urn:latch:problem:method_not_allowed");
        }
    }
}

#[tokio::test]
async fn shared_refusals_are_described_once_and_every_reference_resolves() {
    let app = app().await;
    let spec = served_spec(&app).await;
    let mut references = Vec::new();
    collect_references(&spec, &mut references);
    assert!(
        references.len() > 100,
        "only {} references",
        references.len()
    );
    for reference in &references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(
            spec.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
    // A problem response is either one of the shared ones or says what it means on its route:
    // never a copy of a shared one's description.
    let shared: Vec<&str> = spec["components"]["responses"]
        .as_object()
        .unwrap()
        .values()
        .map(|response| response["description"].as_str().unwrap())
        .collect();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if let Some(description) = response.get("description") {
                    assert!(
                        !shared.contains(&description.as_str().unwrap()),
                        "{method} {path} {status} copies a shared response"
                    );
                }
            }
        }
    }
}

fn collect_references(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", serde_json::Value::String(target)) => into.push(target.clone()),
                    _ => collect_references(inner, into),
                }
            }
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_references(item, into))
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_exactly_the_operations_the_server_answers() {
    let app = app().await;
    let spec = served_spec(&app).await;
    let mut documented: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<String> = DOCUMENTED.iter().map(|op| op.to_string()).collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Each is served: neither "no route" nor "method not allowed", whatever the ids.
    for operation in DOCUMENTED {
        let (method, path) = operation.split_once(' ').unwrap();
        let path = path.replace("{id}", "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20");
        let path = path.replace(
            "/v1/connectors/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
            "/v1/connectors/looker",
        );
        let response = app
            .admin(Method::from_bytes(method.as_bytes()).unwrap(), &path)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{operation}: {body}");
        assert!(!body.contains("no route"), "{operation}: {body}");
    }
}

#[tokio::test]
async fn operation_ids_are_unique_and_every_link_names_an_operation_and_its_parameters() {
    let app = app().await;
    let spec = served_spec(&app).await;
    let mut parameters_of = std::collections::HashMap::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap().to_string();
            let names: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|parameter| parameter["name"].as_str().unwrap().to_string())
                .collect();
            assert!(
                parameters_of.insert(id.clone(), names).is_none(),
                "operationId {id} is used twice"
            );
        }
    }
    let mut links = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"].as_object().unwrap().values() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    links += 1;
                    let target = link["operationId"].as_str().unwrap();
                    let names = parameters_of
                        .get(target)
                        .unwrap_or_else(|| panic!("{path}: link {name} to unknown {target}"));
                    for parameter in link["parameters"].as_object().unwrap().keys() {
                        assert!(names.contains(parameter), "{path}: {name} sets {parameter}");
                    }
                }
            }
        }
    }
    // Credentials, sources, destinations, API keys and connect sessions: created and listed.
    let created = &spec["paths"]["/v1/data-sources"]["post"]["responses"]["201"]["links"];
    for target in [
        "get_data_source",
        "update_data_source",
        "delete_data_source",
        "create_job_key_for_data_source",
        "list_job_keys_of_data_source",
        "issue_token_for_data_source",
    ] {
        assert_eq!(created[target]["parameters"]["id"], "$response.body#/id");
    }
    // A job key is revoked under its source's path, from the key made or listed.
    let keys = &spec["paths"]["/v1/data-sources/{id}/job-keys"];
    for (method, status, key_at) in [
        ("post", "201", "$response.body#/id"),
        ("get", "200", "$response.body#/items/0/id"),
    ] {
        let link = &keys[method]["responses"][status]["links"]["revoke_job_key_of_data_source"];
        assert_eq!(link["parameters"]["id"], "$request.path.id", "{method}");
        assert_eq!(link["parameters"]["key_id"], key_at, "{method}");
    }
    assert!(
        created["revoke_job_key_of_data_source"].is_null(),
        "{created}"
    );
    // A credential created by POST is one of client ID and secret: it is never reconnected,
    // while one listed may have been made by consent.
    let credentials = &spec["paths"]["/v1/credentials"];
    let created = &credentials["post"]["responses"]["201"]["links"];
    assert!(created["update_credential"].is_object());
    assert!(created["reconnect_credential"].is_null(), "{created}");
    let listed = &credentials["get"]["responses"]["200"]["links"];
    assert!(listed["reconnect_credential"].is_object(), "{listed}");
    assert!(links > 30, "{links} links");
}

#[tokio::test]
async fn each_connectors_sections_are_described_from_its_own_fields() {
    let app = app().await;
    let spec = served_spec(&app).await;
    let looker: Value = app
        .admin(Method::GET, "/v1/connectors/looker")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["looker.config"], looker["config_schema"]);
    assert_eq!(schemas["looker.secrets"], looker["secrets_schema"]);
    let oauth = looker["auth_methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|method| method["id"] == "oauth_authorization_code")
        .unwrap();
    assert_eq!(
        schemas["looker.oauth_authorization_code.config"],
        oauth["config_schema"]
    );
    for request in ["CreateCredentialRequest", "TestCredentialRequest"] {
        let schema = &schemas[request];
        assert_eq!(schema["discriminator"]["propertyName"], "connector");
        let member = format!("#/components/schemas/{request}.looker");
        assert_eq!(schema["discriminator"]["mapping"]["looker"], member);
        let looker_member = &schemas[format!("{request}.looker")];
        assert_eq!(
            looker_member["properties"]["config"]["$ref"],
            "#/components/schemas/looker.config"
        );
        assert_eq!(
            looker_member["properties"]["connector"]["enum"][0],
            "looker"
        );
    }
    // Names and descriptions say what the server refuses; cursors and If-Match their form.
    let name = &schemas["CreateApiKeyRequest"]["properties"]["name"];
    assert!(name["pattern"].as_str().unwrap().starts_with('^'));
    assert_eq!(
        schemas["CreateApiKeyRequest"]["properties"]["scopes"]["minItems"],
        1
    );
    let delete = &spec["paths"]["/v1/credentials/{id}"]["delete"];
    let if_match = delete["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "If-Match")
        .unwrap();
    assert!(if_match["schema"]["pattern"].is_string());
    assert!(delete["responses"]["409"].is_object());
}
