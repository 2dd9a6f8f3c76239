//! API keys and scopes.

use latch_core::callers::Scope;
use latch_tests::{TestApp, looker_credential, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(TestApp:
    a_request_without_a_key_is_401_with_a_bearer_challenge,
    an_unknown_or_malformed_key_is_401_with_an_invalid_token_challenge,
    a_revoked_key_is_refused_at_once_and_the_attempt_is_audited,
    a_wrong_secret_for_a_real_prefix_is_audited_for_that_org,
    a_key_without_the_needed_scope_is_403,
    an_admin_creates_lists_and_revokes_keys_and_the_key_is_shown_once,
    creating_a_key_with_bad_scopes_is_refused,
    health_and_readiness_need_no_key,
    the_connector_catalogue_describes_the_looker_form_first_and_lists_the_shipped_providers,
);

async fn status_with(app: &TestApp, key: Option<&str>, method: Method, path: &str) -> u16 {
    let mut request = app.anonymous(method, path);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn a_request_without_a_key_is_401_with_a_bearer_challenge(app: TestApp) {
    let response = app
        .anonymous(Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="latch""#
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .anonymous(Method::GET, "/v1/credentials")
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn an_unknown_or_malformed_key_is_401_with_an_invalid_token_challenge(app: TestApp) {
    for key in [
        "latch_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        "not-a-latch-key",
        "latch_",
    ] {
        let response = app
            .with_key(key, Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{key}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="latch", error="invalid_token""#
        );
    }
}

async fn a_revoked_key_is_refused_at_once_and_the_attempt_is_audited(app: TestApp) {
    let (_, key) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    assert_eq!(
        status_with(&app, Some(&key), Method::GET, "/v1/credentials").await,
        200
    );
    let listed: Value = app
        .admin(Method::GET, "/v1/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let prefix = &key[..18];
    let id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["prefix"] == prefix)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoke = app
        .admin(Method::DELETE, &format!("/v1/api-keys/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_eq!(
        status_with(&app, Some(&key), Method::GET, "/v1/credentials").await,
        401
    );

    let events = app
        .audit_events_eventually(app.org_id, "authentication.failed", |found| {
            !found.is_empty()
        })
        .await;
    let failed = events
        .first()
        .expect("the refused attempt is in the audit trail");
    assert_eq!(failed.detail["reason"], "revoked key");
    assert_eq!(failed.target_id.as_deref(), Some(id.as_str()));
    assert!(!format!("{events:?}").contains(&key));
}

async fn a_wrong_secret_for_a_real_prefix_is_audited_for_that_org(app: TestApp) {
    let (_, key) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let forged = format!("{}_{}", &key[..18], "Z".repeat(32));
    assert_eq!(
        status_with(&app, Some(&forged), Method::GET, "/v1/credentials").await,
        401
    );
    let events = app
        .audit_events_eventually(app.org_id, "authentication.failed", |found| {
            !found.is_empty()
        })
        .await;
    assert!(
        events
            .iter()
            .any(|event| event.detail["reason"] == "wrong secret"),
        "{events:?}"
    );
}

async fn a_key_without_the_needed_scope_is_403(app: TestApp) {
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let (_, tokens) = app.org_with_key("acme", &[Scope::TokensIssue]).await;
    let (_, writer) = app.org_with_key("acme", &[Scope::CredentialsWrite]).await;

    let post = |key: &str| {
        app.with_key(key, Method::POST, "/v1/credentials?validate=false")
            .json(&looker_credential("scoped", "s"))
    };
    assert_eq!(post(&reader).send().await.unwrap().status(), 403);
    let response = post(&tokens).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("credentials:write")
    );
    assert_eq!(
        status_with(&app, Some(&tokens), Method::GET, "/v1/credentials").await,
        403
    );
    assert_eq!(
        status_with(&app, Some(&reader), Method::GET, "/v1/credentials").await,
        200
    );
    assert_eq!(post(&writer).send().await.unwrap().status(), 201);
    for path in ["/v1/audit-events", "/v1/api-keys"] {
        assert_eq!(
            status_with(&app, Some(&reader), Method::GET, path).await,
            403,
            "{path}"
        );
    }
    let response = app
        .with_key(&writer, Method::POST, "/v1/api-keys")
        .json(&json!({"name": "escalate", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

async fn an_admin_creates_lists_and_revokes_keys_and_the_key_is_shown_once(app: TestApp) {
    let response = app
        .admin(Method::POST, "/v1/api-keys")
        .json(&json!({"name": "etl runner", "scopes": ["credentials:read", "tokens:issue"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(
        created["scopes"],
        json!(["credentials:read", "tokens:issue"])
    );
    assert_eq!(
        status_with(&app, Some(&key), Method::GET, "/v1/credentials").await,
        200
    );

    let listed: Value = app
        .admin(Method::GET, "/v1/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains(&key), "a listing shows a key");
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item.get("key").is_none())
    );
    let stored = app
        .store
        .api_keys_by_prefix(created["prefix"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!String::from_utf8_lossy(&stored[0].hash).contains(&key));
}

async fn creating_a_key_with_bad_scopes_is_refused(app: TestApp) {
    for (body, status, field) in [
        (json!({"name": "x", "scopes": ["root"]}), 400, "scopes[0]"),
        (json!({"name": "x", "scopes": []}), 422, "scopes"),
        (json!({"name": "x"}), 422, "scopes"),
        (json!({"scopes": ["admin"]}), 422, "name"),
    ] {
        let response = app
            .admin(Method::POST, "/v1/api-keys")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
}

async fn health_and_readiness_need_no_key(app: TestApp) {
    let health: Value = app
        .anonymous(Method::GET, "/healthz")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    let ready: Value = app
        .anonymous(Method::GET, "/readyz")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&ready["status"], &ready["store"], &ready["keyring"]),
        (&json!("ready"), &json!("ok"), &json!("ok")),
        "{ready}"
    );
    assert_eq!(ready["worker"]["enabled"], true, "{ready}");
    assert!(ready["worker"]["tasks"].is_array(), "{ready}");
}

async fn the_connector_catalogue_describes_the_looker_form_first_and_lists_the_shipped_providers(
    app: TestApp,
) {
    let list: Value = app
        .admin(Method::GET, "/v1/connectors")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    // Looker first, then the shipped providers' declarations.
    assert_eq!(ids[0], "looker", "{ids:?}");
    assert!(ids.contains(&"oauth2"), "{ids:?}");
    let looker: Value = app
        .admin(Method::GET, "/v1/connectors/looker")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(looker, list["items"][0]);
    assert_eq!(
        looker["config_schema"]["required"],
        json!(["api_host_url", "client_id"])
    );
    for field in ["api_host_url", "client_id"] {
        let property = &looker["config_schema"]["properties"][field];
        assert!(
            property["title"].is_string() && property["description"].is_string(),
            "{field}"
        );
    }
    let secret = &looker["secrets_schema"]["properties"]["client_secret"];
    assert_eq!(secret["writeOnly"], true);
    assert!(secret["title"].is_string() && secret["description"].is_string());
    let missing = app
        .admin(Method::GET, "/v1/connectors/tableau")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        app.anonymous(Method::GET, "/v1/connectors")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}
