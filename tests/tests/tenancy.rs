//! Organizations never see each other's objects: another org's object is 404, never 403.

use latch_core::callers::Scope;
use latch_tests::{TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(TestApp:
    another_org_gets_404_on_every_credential_route_and_changes_nothing,
    another_org_cannot_revoke_or_see_keys_or_audit_events,
);

async fn another_org_gets_404_on_every_credential_route_and_changes_nothing(app: TestApp) {
    let created = app.create_credential("acme only", "s").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/credentials/{id}");
    let (_, intruder) = app.org_with_key("globex", &[Scope::Admin]).await;

    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "stolen"}))),
        (
            Method::PATCH,
            Some(json!({"secrets": {"client_secret": "mine now"}})),
        ),
        (Method::DELETE, None),
    ] {
        let mut request = app.with_key(&intruder, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{method}");
        let problem: Value = response.json().await.unwrap();
        assert!(!problem.to_string().contains("acme only"));
    }
    let listed: Value = app
        .with_key(&intruder, Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));

    let read: Value = app
        .admin(Method::GET, &path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, created);
    // globex may use the same name: names are unique per organization only.
    let response = app
        .with_key(&intruder, Method::POST, "/v1/credentials?validate=false")
        .json(&latch_tests::looker_credential("acme only", "s"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn another_org_cannot_revoke_or_see_keys_or_audit_events(app: TestApp) {
    app.create_credential("acme only", "s").await;
    let (_, intruder) = app.org_with_key("globex", &[Scope::Admin]).await;
    let acme_keys: Value = app
        .admin(Method::GET, "/v1/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acme_key_id = acme_keys["items"][0]["id"].as_str().unwrap();

    let response = app
        .with_key(
            &intruder,
            Method::DELETE,
            &format!("/v1/api-keys/{acme_key_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let theirs: Value = app
        .with_key(&intruder, Method::GET, "/v1/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!theirs.to_string().contains(acme_key_id));
    let events: Value = app
        .with_key(&intruder, Method::GET, "/v1/audit-events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!events.to_string().contains("credential.created"));
    // The admin key still works: the revoke did not reach it.
    assert_eq!(
        app.admin(Method::GET, "/v1/credentials")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
