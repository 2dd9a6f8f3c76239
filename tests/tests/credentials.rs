//! The credential lifecycle through the REST API.

use latch_tests::{TestApp, looker_credential, on_both_backends, unique_secret};
use latch_vault::{
    ExposeSecret, Kek, Keyring, MasterKey, Purpose, RecordContext, Sealed, WrappedKey,
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(TestApp:
    creating_a_credential_answers_201_with_location_etag_and_no_secret,
    a_saved_credential_reads_back_with_its_host_normalised,
    listing_filters_by_connector_and_status_and_pages_with_a_cursor,
    renaming_and_describing_bumps_the_version_and_keeps_the_secret,
    rotating_the_secret_stores_a_new_ciphertext_that_opens_to_the_new_secret,
    a_config_change_merges_keys_and_sets_the_status_back_to_unverified,
    a_patch_with_a_stale_if_match_answers_412_and_changes_nothing,
    a_patch_with_the_current_if_match_applies,
    renaming_to_a_name_in_use_answers_409_and_changes_nothing,
    deleting_answers_204_and_the_credential_is_gone,
    deleting_with_a_stale_if_match_answers_412_and_keeps_the_credential,
    an_empty_patch_is_refused_with_422,
);

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.admin(Method::GET, path).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn patch(app: &TestApp, id: &str, body: Value, if_match: Option<&str>) -> (u16, Value) {
    let mut request = app
        .admin(
            Method::PATCH,
            &format!("/v1/credentials/{id}?validate=false"),
        )
        .json(&body);
    if let Some(etag) = if_match {
        request = request.header("If-Match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Opens a stored credential's secret the way the server does, with the server's master key.
async fn stored_secret(app: &TestApp, id: &str) -> Value {
    let id: Uuid = id.parse().unwrap();
    let row = app
        .store
        .get_credential(app.org_id, id)
        .await
        .unwrap()
        .unwrap();
    let keyring = Keyring::new(Kek::new(
        row.kek_id.clone(),
        MasterKey::from_base64(&app.master_key).unwrap(),
    ));
    let context = RecordContext::new(row.org_id, row.id);
    let data_key = keyring
        .unwrap_data_key(
            &context,
            &WrappedKey {
                kek_id: row.kek_id,
                bytes: row.wrapped_dek,
            },
        )
        .unwrap();
    let sealed = Sealed {
        nonce: row.secret_nonce,
        ciphertext: row.secret_ct,
    };
    let plain = data_key.open(&context, Purpose::Secret, &sealed).unwrap();
    serde_json::from_slice(plain.expose_secret()).unwrap()
}

async fn creating_a_credential_answers_201_with_location_etag_and_no_secret(app: TestApp) {
    let secret = unique_secret();
    let response = app
        .admin(Method::POST, "/v1/credentials?validate=false")
        .json(&looker_credential("Looker prod", &secret))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let text = response.text().await.unwrap();
    assert!(!text.contains(&secret));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        location,
        format!("/v1/credentials/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(body["name"], "Looker prod");
    assert_eq!(body["description"], "nightly exports");
    assert_eq!(body["connector"], "looker");
    assert_eq!(body["status"], "unverified");
    assert_eq!(body["version"], 1);
    assert!(body.get("secrets").is_none());
    assert_eq!(
        stored_secret(&app, body["id"].as_str().unwrap()).await,
        json!({"client_secret": secret})
    );
}

async fn a_saved_credential_reads_back_with_its_host_normalised(app: TestApp) {
    let created = app.create_credential("Looker prod", &unique_secret()).await;
    let (status, read) = get(
        &app,
        &format!("/v1/credentials/{}", created["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read, created);
    assert_eq!(
        read["config"],
        json!({"api_host_url": "https://acme.cloud.looker.com", "client_id": "AbCdEfGh12345678"})
    );
}

async fn listing_filters_by_connector_and_status_and_pages_with_a_cursor(app: TestApp) {
    let mut ids = Vec::new();
    for index in 0..5 {
        let created = app.create_credential(&format!("c{index}"), "s").await;
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/credentials?connector=looker&limit=2".to_string();
    loop {
        let (status, page) = get(&app, &path).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/credentials?connector=looker&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let (_, valid) = get(&app, "/v1/credentials?status=valid").await;
    assert_eq!(valid["items"], json!([]));
    let (_, unverified) = get(&app, "/v1/credentials?status=unverified").await;
    assert_eq!(unverified["items"].as_array().unwrap().len(), 5);
}

async fn renaming_and_describing_bumps_the_version_and_keeps_the_secret(app: TestApp) {
    let secret = unique_secret();
    let created = app.create_credential("old", &secret).await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = patch(&app, id, json!({"name": " new ", "description": ""}), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "new");
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["version"], 2);
    assert_eq!(body["config"], created["config"]);
    assert_eq!(
        stored_secret(&app, id).await,
        json!({"client_secret": secret})
    );
}

async fn rotating_the_secret_stores_a_new_ciphertext_that_opens_to_the_new_secret(app: TestApp) {
    let created = app.create_credential("rotate me", &unique_secret()).await;
    let id = created["id"].as_str().unwrap();
    let before = app
        .store
        .get_credential(app.org_id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let rotated = unique_secret();
    let (status, body) = patch(
        &app,
        id,
        json!({"secrets": {"client_secret": rotated}}),
        Some("\"1\""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert!(!body.to_string().contains(&rotated));
    let after = app
        .store
        .get_credential(app.org_id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(after.secret_ct, before.secret_ct);
    assert_ne!(after.secret_nonce, before.secret_nonce);
    assert_eq!(after.wrapped_dek, before.wrapped_dek);
    assert_eq!(
        stored_secret(&app, id).await,
        json!({"client_secret": rotated})
    );
}

async fn a_config_change_merges_keys_and_sets_the_status_back_to_unverified(app: TestApp) {
    let created = app.create_credential("reconfigure", "s").await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = patch(
        &app,
        id,
        json!({"config": {"client_id": "NewClient"}}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["config"],
        json!({"api_host_url": "https://acme.cloud.looker.com", "client_id": "NewClient"})
    );
    assert_eq!(body["status"], "unverified");
}

async fn a_patch_with_a_stale_if_match_answers_412_and_changes_nothing(app: TestApp) {
    let created = app.create_credential("guarded", "s").await;
    let id = created["id"].as_str().unwrap();
    let (status, _) = patch(&app, id, json!({"name": "first"}), Some("\"1\"")).await;
    assert_eq!(status, 200);
    let counts = app.row_counts().await;
    let (status, problem) = patch(&app, id, json!({"name": "second"}), Some("\"1\"")).await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(problem["type"], "urn:latch:problem:precondition_failed");
    assert!(problem["detail"].as_str().unwrap().contains("version 2"));
    let (_, read) = get(&app, &format!("/v1/credentials/{id}")).await;
    assert_eq!(
        (read["name"].as_str(), read["version"].as_i64()),
        (Some("first"), Some(2))
    );
    assert_eq!(app.row_counts().await, counts);
}

async fn a_patch_with_the_current_if_match_applies(app: TestApp) {
    let created = app.create_credential("guarded", "s").await;
    let id = created["id"].as_str().unwrap();
    let response = app
        .admin(Method::GET, &format!("/v1/credentials/{id}"))
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let (status, body) = patch(&app, id, json!({"name": "renamed"}), Some(&etag)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "renamed");
}

async fn renaming_to_a_name_in_use_answers_409_and_changes_nothing(app: TestApp) {
    app.create_credential("taken", "s").await;
    let other = app.create_credential("other", "s").await;
    let id = other["id"].as_str().unwrap();
    let counts = app.row_counts().await;
    let (status, problem) = patch(&app, id, json!({"name": "taken"}), None).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`taken` already exists")
    );
    assert_eq!(app.row_counts().await, counts);
    let (_, read) = get(&app, &format!("/v1/credentials/{id}")).await;
    assert_eq!(read["name"], "other");
}

async fn deleting_answers_204_and_the_credential_is_gone(app: TestApp) {
    let created = app.create_credential("doomed", "s").await;
    let path = format!("/v1/credentials/{}", created["id"].as_str().unwrap());
    let response = app.admin(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(get(&app, &path).await.0, 404);
    let again = app.admin(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(again.status(), 404);
    let (_, list) = get(&app, "/v1/credentials").await;
    assert_eq!(list["items"], json!([]));
}

async fn deleting_with_a_stale_if_match_answers_412_and_keeps_the_credential(app: TestApp) {
    let created = app.create_credential("kept", "s").await;
    let path = format!("/v1/credentials/{}", created["id"].as_str().unwrap());
    let response = app
        .admin(Method::DELETE, &path)
        .header("If-Match", "\"9\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    assert_eq!(get(&app, &path).await.0, 200);
}

async fn an_empty_patch_is_refused_with_422(app: TestApp) {
    let created = app.create_credential("unchanged", "s").await;
    let (status, problem) = patch(&app, created["id"].as_str().unwrap(), json!({}), None).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "body");
}
