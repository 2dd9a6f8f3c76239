//! The audit trail: one event per change, and never a secret.

use latch_tests::{TestApp, on_both_backends, unique_secret};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(TestApp:
    create_update_and_delete_each_record_one_event_without_the_secret,
    audit_events_page_with_a_cursor,
    audit_events_are_filtered_by_action_and_target_and_listed_newest_first_when_asked,
    an_unknown_action_or_order_is_refused_naming_the_parameter,
    the_calling_key_can_read_its_own_scopes,
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

async fn audit_events_are_filtered_by_action_and_target_and_listed_newest_first_when_asked(
    app: TestApp,
) {
    let first = app.create_credential("first", &unique_secret()).await;
    let second = app.create_credential("second", &unique_secret()).await;
    let first_id = first["id"].as_str().unwrap();
    let response = app
        .admin(Method::DELETE, &format!("/v1/credentials/{first_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    let created = events(&app, "?action=credential.created").await;
    let actions: Vec<&str> = created["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["credential.created", "credential.created"]);

    let about_first = events(
        &app,
        &format!("?target_type=credential&target_id={first_id}"),
    )
    .await;
    let actions: Vec<&str> = about_first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["credential.created", "credential.deleted"]);

    // Newest first, one at a time: the cursor moves back in time.
    let newest = events(&app, "?action=credential.created&order=newest&limit=1").await;
    assert_eq!(newest["items"][0]["target_id"], second["id"]);
    let cursor = newest["next_cursor"].as_str().unwrap();
    let older = events(
        &app,
        &format!("?action=credential.created&order=newest&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(older["items"][0]["target_id"], first["id"]);
    assert!(older["next_cursor"].is_null());
}

async fn an_unknown_action_or_order_is_refused_naming_the_parameter(app: TestApp) {
    for (query, field) in [
        ("?action=credential.stolen", "action"),
        ("?order=sideways", "order"),
        ("?target_id=", "target_id"),
        (&format!("?target_type={}", "é".repeat(65)), "target_type"),
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/audit-events{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        // Each says what it takes, not only that the value is wrong.
        let said = problem["errors"][0]["message"].as_str().unwrap();
        let expected = match field {
            "action" => "credential.created",
            "order" => "`newest`",
            _ => "characters",
        };
        assert!(said.contains(expected), "{problem}");
    }
    // The limits count characters, as the document's maxLength does, not bytes.
    let response = app
        .admin(
            Method::GET,
            &format!("/v1/audit-events?target_type={}", "é".repeat(64)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn the_calling_key_can_read_its_own_scopes(app: TestApp) {
    let (status, me) = app.send(Method::GET, "/v1/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["scopes"], json!(["admin"]));
    assert_eq!(me["organization_id"], app.org_id.to_string());
    let (status, created) = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&json!({"name": "reader", "scopes": ["credentials:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let response = app
        .with_key(created["key"].as_str().unwrap(), Method::GET, "/v1/me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["scopes"], json!(["credentials:read"]));
    assert_eq!(me["key_id"], created["id"]);
    let anonymous = app.anonymous(Method::GET, "/v1/me").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
