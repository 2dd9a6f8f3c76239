//! The audit trail: one event per change, and never a secret.

use latch_tests::{TestApp, on_both_backends, unique_secret};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(TestApp:
    create_update_and_delete_each_record_one_event_without_the_secret,
    audit_events_page_with_a_cursor,
);

async fn events(app: &TestApp, query: &str) -> Value {
    let response = app
        .admin(Method::GET, &format!("/v1/audit-events{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn create_update_and_delete_each_record_one_event_without_the_secret(app: TestApp) {
    let first = unique_secret();
    let second = unique_secret();
    let created = app.create_credential("audited", &first).await;
    let path = format!("/v1/credentials/{}", created["id"].as_str().unwrap());
    let response = app
        .admin(Method::PATCH, &format!("{path}?validate=false"))
        .json(&json!({"secrets": {"client_secret": second}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.admin(Method::DELETE, &path)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    let trail = events(&app, "").await;
    let credential_events: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["target_type"] == "credential")
        .collect();
    let actions: Vec<&str> = credential_events
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "credential.created",
            "credential.updated",
            "credential.deleted"
        ]
    );
    for event in &credential_events {
        assert_eq!(event["target_id"], created["id"]);
        assert_eq!(event["outcome"], "success");
        assert!(event["actor_key_id"].is_string());
    }
    assert_eq!(
        credential_events[1]["detail"]["changed"],
        json!(["secrets"])
    );
    let text = trail.to_string();
    assert!(!text.contains(&first) && !text.contains(&second));
}

async fn audit_events_page_with_a_cursor(app: TestApp) {
    for index in 0..3 {
        app.create_credential(&format!("c{index}"), "s").await;
    }
    let first = events(&app, "?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = events(&app, &format!("?limit=200&cursor={cursor}")).await;
    assert!(rest["next_cursor"].is_null());
    let total = first["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len();
    let everything = events(&app, "?limit=200").await;
    assert_eq!(total, everything["items"].as_array().unwrap().len());
}
