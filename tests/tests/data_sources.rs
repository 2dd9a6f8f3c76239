//! Data sources and destinations select saved credentials; their jobs get tokens with keys
//! bound to them.

use latch_core::callers::Scope;
use latch_tests::{TestApp, WithMock, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    TestApp:
        a_source_and_a_destination_select_a_credential_and_the_tile_counts_them,
        names_are_unique_per_organization_and_kind,
        a_credential_of_another_connector_org_or_none_is_refused_naming_credential_id,
        an_invalid_credential_is_accepted_with_a_warning,
        a_credential_of_another_connector_is_refused_on_create_and_re_point,
        deleting_a_credential_in_use_is_409_listing_its_users,
        the_database_refuses_to_delete_a_credential_in_use,
        sources_are_listed_by_connector_and_credential_and_paged,
        source_config_must_be_a_small_json_object,
        every_change_of_a_source_is_audited,
        another_org_gets_404_on_every_source_route,
        a_sources_id_names_nothing_on_the_destinations_routes;
    WithMock:
        a_job_key_gets_its_sources_token_and_nothing_else,
        revoking_a_job_key_or_deleting_its_source_takes_effect_at_once,
        re_pointing_a_source_changes_the_token_its_jobs_get,
);

async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.send_as(key, method, path, body.as_ref()).await
}

async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.send(method, path, body.as_ref()).await
}

fn source(name: &str, credential_id: &Value) -> Value {
    json!({
        "name": name,
        "description": "usage exports",
        "connector": "looker",
        "credential_id": credential_id,
        "config": {"look_ids": [12, 31]}
    })
}

async fn create(app: &TestApp, collection: &str, name: &str, credential_id: &Value) -> Value {
    let (status, body) = admin(
        app,
        Method::POST,
        collection,
        Some(source(name, credential_id)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn a_source_and_a_destination_select_a_credential_and_the_tile_counts_them(app: TestApp) {
    let credential = app.create_credential("Looker prod", "s").await;
    let id = &credential["id"];
    let created = create(&app, "/v1/data-sources", "usage", id).await;
    assert_eq!(created["kind"], "source");
    assert_eq!(created["credential_id"], *id);
    assert_eq!(created["config"], json!({"look_ids": [12, 31]}));
    assert!(created.get("warnings").is_none());
    let destination = create(&app, "/v1/data-destinations", "warehouse", id).await;
    assert_eq!(destination["kind"], "destination");

    let (_, read) = admin(
        &app,
        Method::GET,
        &format!("/v1/data-sources/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(read, created);
    // The "Authenticate" screen's tiles.
    let (_, tiles) = admin(&app, Method::GET, "/v1/credentials?connector=looker", None).await;
    let tile = &tiles["items"][0];
    assert_eq!(tile["name"], "Looker prod");
    assert_eq!(tile["status"], "unverified");
    assert_eq!(
        tile["used_by"],
        json!({"data_sources": 1, "data_destinations": 1})
    );
    let (_, single) = admin(
        &app,
        Method::GET,
        &format!("/v1/credentials/{}", id.as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(
        single["used_by"],
        json!({"data_sources": 1, "data_destinations": 1})
    );
}

async fn names_are_unique_per_organization_and_kind(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    create(&app, "/v1/data-sources", "same", &credential["id"]).await;
    let (status, problem) = admin(
        &app,
        Method::POST,
        "/v1/data-sources",
        Some(source("same", &credential["id"])),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    // A destination may share a source's name.
    create(&app, "/v1/data-destinations", "same", &credential["id"]).await;
}

async fn a_credential_of_another_connector_org_or_none_is_refused_naming_credential_id(
    app: TestApp,
) {
    let (_, intruder) = app.org_with_key("globex", &[Scope::Admin]).await;
    let (status, theirs) = send(
        &app,
        &intruder,
        Method::POST,
        "/v1/credentials?validate=false",
        Some(latch_tests::looker_credential("theirs", "s")),
    )
    .await;
    assert_eq!(status, 201);
    let before = app.row_counts().await;
    for credential_id in [theirs["id"].clone(), json!(uuid::Uuid::now_v7())] {
        let (status, problem) = admin(
            &app,
            Method::POST,
            "/v1/data-sources",
            Some(source("x", &credential_id)),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "credential_id");
        assert_eq!(
            problem["errors"][0]["message"],
            "no credential with this id in your organization"
        );
        assert!(!problem.to_string().contains("theirs"));
    }
    let (status, problem) = admin(
        &app,
        Method::POST,
        "/v1/data-sources",
        Some(json!({"name": "x", "connector": "looker"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "credential_id");
    assert_eq!(
        app.row_counts().await,
        before,
        "a refused source wrote something"
    );

    // Re-pointing to another org's credential is refused the same way.
    let ours = app.create_credential("ours", "s").await;
    let created = create(&app, "/v1/data-sources", "mine", &ours["id"]).await;
    let (status, problem) = admin(
        &app,
        Method::PATCH,
        &format!("/v1/data-sources/{}", created["id"].as_str().unwrap()),
        Some(json!({"credential_id": theirs["id"]})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "credential_id");
}

async fn an_invalid_credential_is_accepted_with_a_warning(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    let id: uuid::Uuid = credential["id"].as_str().unwrap().parse().unwrap();
    let row = app
        .store
        .get_credential(app.org_id, id)
        .await
        .unwrap()
        .unwrap();
    let mut changes = row.changes();
    changes.health = Some(latch_store::HealthReset {
        status: latch_store::CredentialStatus::Invalid,
        status_detail: Some("Looker refused the client ID / secret".into()),
        identity: None,
        validated_at: None,
    });
    let event = latch_store::NewAuditEvent {
        org_id: Some(app.org_id),
        actor_key_id: None,
        action: "credential.invalidated".into(),
        target_type: "credential".into(),
        target_id: None,
        outcome: "failure".into(),
        detail: json!({}),
    };
    app.store
        .update_credential(app.org_id, id, row.version, &changes, &event)
        .await
        .unwrap();

    let created = create(
        &app,
        "/v1/data-sources",
        "with a broken credential",
        &credential["id"],
    )
    .await;
    let warning = created["warnings"][0].as_str().unwrap();
    assert!(warning.contains("marked invalid"), "{warning}");
}

async fn deleting_a_credential_in_use_is_409_listing_its_users(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    let path = format!("/v1/credentials/{}", credential["id"].as_str().unwrap());
    let source = create(&app, "/v1/data-sources", "usage", &credential["id"]).await;
    let destination = create(
        &app,
        "/v1/data-destinations",
        "warehouse",
        &credential["id"],
    )
    .await;
    let (status, problem) = admin(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:latch:problem:in_use");
    assert_eq!(
        problem["used_by"],
        json!([
            {"id": destination["id"], "kind": "destination", "name": "warehouse"},
            {"id": source["id"], "kind": "source", "name": "usage"},
        ])
    );
    assert_eq!(admin(&app, Method::GET, &path, None).await.0, 200);

    // Once nothing uses it, it goes.
    for item in [
        format!("/v1/data-sources/{}", source["id"].as_str().unwrap()),
        format!(
            "/v1/data-destinations/{}",
            destination["id"].as_str().unwrap()
        ),
    ] {
        assert_eq!(admin(&app, Method::DELETE, &item, None).await.0, 204);
    }
    assert_eq!(admin(&app, Method::DELETE, &path, None).await.0, 204);
}

async fn the_database_refuses_to_delete_a_credential_in_use(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    create(&app, "/v1/data-sources", "usage", &credential["id"]).await;
    let id: uuid::Uuid = credential["id"].as_str().unwrap().parse().unwrap();
    let event = latch_store::NewAuditEvent {
        org_id: Some(app.org_id),
        actor_key_id: None,
        action: "credential.deleted".into(),
        target_type: "credential".into(),
        target_id: None,
        outcome: "success".into(),
        detail: json!({}),
    };
    // Straight to the store, past the API's check: the foreign key holds on its own.
    let refused = app
        .store
        .delete_credential(app.org_id, id, None, &event)
        .await;
    assert!(
        matches!(refused, Err(latch_store::StoreError::InUse)),
        "{refused:?}"
    );
    assert!(
        app.store
            .get_credential(app.org_id, id)
            .await
            .unwrap()
            .is_some()
    );
}

async fn sources_are_listed_by_connector_and_credential_and_paged(app: TestApp) {
    let first = app.create_credential("first", "s").await;
    let second = app.create_credential("second", "s").await;
    let mut ids = Vec::new();
    for index in 0..3 {
        ids.push(
            create(&app, "/v1/data-sources", &format!("a{index}"), &first["id"]).await["id"]
                .clone(),
        );
    }
    create(&app, "/v1/data-sources", "b", &second["id"]).await;
    let (_, page) = admin(
        &app,
        Method::GET,
        &format!(
            "/v1/data-sources?credential_id={}&limit=2",
            first["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = admin(
        &app,
        Method::GET,
        &format!(
            "/v1/data-sources?credential_id={}&cursor={cursor}",
            first["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    let listed: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|item| item["id"].clone())
        .collect();
    assert_eq!(listed, ids);
    let (_, all) = admin(&app, Method::GET, "/v1/data-sources?connector=looker", None).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let (_, destinations) = admin(&app, Method::GET, "/v1/data-destinations", None).await;
    assert_eq!(destinations["items"], json!([]));
    let (status, problem) = admin(
        &app,
        Method::GET,
        "/v1/data-sources?credential_id=nope",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "credential_id");
    for collection in ["/v1/data-sources", "/v1/data-destinations"] {
        let (status, problem) = admin(
            &app,
            Method::GET,
            &format!("{collection}?connector=tableau"),
            None,
        )
        .await;
        assert_eq!(status, 400, "{collection}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "connector");
    }
}

async fn source_config_must_be_a_small_json_object(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    let mut body = source("configured", &credential["id"]);
    body["config"] = json!(["not", "an", "object"]);
    let (status, problem) = admin(&app, Method::POST, "/v1/data-sources", Some(body.clone())).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "config");
    body["config"] = json!({"padding": "x".repeat(17 * 1024)});
    let (status, problem) = admin(&app, Method::POST, "/v1/data-sources", Some(body.clone())).await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("16384 bytes")
    );
    body.as_object_mut().unwrap().remove("config");
    let created = create(&app, "/v1/data-sources", "no config", &credential["id"]).await;
    assert!(created["config"].is_object());
}

async fn every_change_of_a_source_is_audited(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    let created = create(&app, "/v1/data-sources", "audited", &credential["id"]).await;
    let path = format!("/v1/data-sources/{}", created["id"].as_str().unwrap());
    assert_eq!(
        admin(&app, Method::PATCH, &path, Some(json!({"name": "renamed"})))
            .await
            .0,
        200
    );
    assert_eq!(
        admin(&app, Method::POST, &format!("{path}/job-keys"), None)
            .await
            .0,
        201
    );
    assert_eq!(admin(&app, Method::DELETE, &path, None).await.0, 204);
    let (_, trail) = admin(&app, Method::GET, "/v1/audit-events?limit=200", None).await;
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| {
            event["target_type"] == "data_source"
                || event["detail"]["data_source_id"] == created["id"]
        })
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "data_source.created",
            "data_source.updated",
            "api_key.created",
            "data_source.deleted"
        ]
    );
}

async fn another_org_gets_404_on_every_source_route(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    let created = create(&app, "/v1/data-sources", "acme only", &credential["id"]).await;
    let path = format!("/v1/data-sources/{}", created["id"].as_str().unwrap());
    let (_, intruder) = app.org_with_key("globex", &[Scope::Admin]).await;
    for (method, route, body) in [
        (Method::GET, path.clone(), None),
        (Method::PATCH, path.clone(), Some(json!({"name": "stolen"}))),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/job-keys"), None),
        (Method::POST, format!("{path}/token"), None),
        (
            Method::GET,
            format!("/v1/data-destinations/{}", created["id"].as_str().unwrap()),
            None,
        ),
    ] {
        let (status, problem) = send(&app, &intruder, method.clone(), &route, body).await;
        assert_eq!(status, 404, "{method} {route}: {problem}");
    }
}

async fn a_sources_id_names_nothing_on_the_destinations_routes(app: TestApp) {
    let credential = app.create_credential("c", "s").await;
    let source = create(&app, "/v1/data-sources", "exports", &credential["id"]).await;
    let id = source["id"].as_str().unwrap();
    let on_destinations = format!("/v1/data-destinations/{id}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "moved"}))),
        (Method::DELETE, None),
    ] {
        let (status, problem) = admin(&app, method.clone(), &on_destinations, body).await;
        assert_eq!(status, 404, "{method} {on_destinations}: {problem}");
        assert!(
            !problem.to_string().contains("version"),
            "{method}: the other kind's version is not told: {problem}"
        );
    }
    let (status, still) = admin(&app, Method::GET, &format!("/v1/data-sources/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(still["name"], "exports");
}

/// A credential the mock accepts, a source using it and a job key for that source.
async fn source_with_job_key(fixture: &WithMock, name: &str) -> (Value, String) {
    let app = &fixture.app;
    let (status, credential) = admin(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential(&format!("{name} credential"))),
    )
    .await;
    assert_eq!(status, 201, "{credential}");
    let created = create(app, "/v1/data-sources", name, &credential["id"]).await;
    let (status, key) = admin(
        app,
        Method::POST,
        &format!(
            "/v1/data-sources/{}/job-keys",
            created["id"].as_str().unwrap()
        ),
        Some(json!({"name": "runner"})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["scopes"], json!(["tokens:issue"]));
    assert_eq!(key["data_source_id"], created["id"]);
    (created, key["key"].as_str().unwrap().to_string())
}

async fn a_job_key_gets_its_sources_token_and_nothing_else(fixture: WithMock) {
    let app = &fixture.app;
    let (a, key) = source_with_job_key(&fixture, "a").await;
    let (b, _) = source_with_job_key(&fixture, "b").await;
    let a_id = a["id"].as_str().unwrap();
    let (status, token) = send(
        app,
        &key,
        Method::POST,
        &format!("/v1/data-sources/{a_id}/token"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert!(
        fixture
            .mock
            .is_active(token["access_token"].as_str().unwrap())
    );

    let b_id = b["id"].as_str().unwrap();
    for (method, route) in [
        (Method::POST, format!("/v1/data-sources/{b_id}/token")),
        (Method::POST, format!("/v1/data-destinations/{a_id}/token")),
        (
            Method::POST,
            format!(
                "/v1/credentials/{}/token",
                a["credential_id"].as_str().unwrap()
            ),
        ),
        (Method::GET, format!("/v1/data-sources/{a_id}")),
        (Method::GET, "/v1/credentials".to_string()),
        (Method::GET, "/v1/connectors".to_string()),
        (Method::POST, format!("/v1/data-sources/{a_id}/job-keys")),
    ] {
        let (status, _) = send(app, &key, method.clone(), &route, None).await;
        assert_eq!(status, 404, "{method} {route}");
    }
    // Six of them reach past the source; asking for a destination with the source's own id
    // is a plain miss (no such destination), not a denial.
    let denied = app
        .audit_events_eventually(app.org_id, "authorization.denied", |found| {
            latch_tests::counted(found) == 6
        })
        .await;
    assert!(
        denied
            .iter()
            .all(|event| event.detail["reason"] == "job key outside its data source"),
        "{denied:?}"
    );
    assert_eq!(
        latch_tests::counted(&denied),
        6,
        "each reach past its source is recorded: {denied:?}"
    );
}

async fn revoking_a_job_key_or_deleting_its_source_takes_effect_at_once(fixture: WithMock) {
    let app = &fixture.app;
    let (a, key) = source_with_job_key(&fixture, "a").await;
    let token_path = format!("/v1/data-sources/{}/token", a["id"].as_str().unwrap());
    assert_eq!(
        send(app, &key, Method::POST, &token_path, None).await.0,
        200
    );
    let (_, keys) = admin(app, Method::GET, "/v1/api-keys", None).await;
    let job_key = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["data_source_id"] == a["id"])
        .unwrap();
    assert_eq!(
        admin(
            app,
            Method::DELETE,
            &format!("/v1/api-keys/{}", job_key["id"].as_str().unwrap()),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        send(app, &key, Method::POST, &token_path, None).await.0,
        401
    );

    let (b, key) = source_with_job_key(&fixture, "b").await;
    let token_path = format!("/v1/data-sources/{}/token", b["id"].as_str().unwrap());
    assert_eq!(
        send(app, &key, Method::POST, &token_path, None).await.0,
        200
    );
    assert_eq!(
        admin(
            app,
            Method::DELETE,
            &format!("/v1/data-sources/{}", b["id"].as_str().unwrap()),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        send(app, &key, Method::POST, &token_path, None).await.0,
        401
    );
    let (_, keys) = admin(app, Method::GET, "/v1/api-keys", None).await;
    let revoked = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["data_source_id"] == b["id"])
        .unwrap();
    assert!(revoked["revoked_at"].is_string());
}

async fn re_pointing_a_source_changes_the_token_its_jobs_get(fixture: WithMock) {
    let app = &fixture.app;
    let (source, key) = source_with_job_key(&fixture, "rotating").await;
    let token_path = format!("/v1/data-sources/{}/token", source["id"].as_str().unwrap());
    let (_, before) = send(app, &key, Method::POST, &token_path, None).await;

    let (status, replacement) = admin(
        app,
        Method::POST,
        "/v1/credentials",
        Some(fixture.good_credential("replacement")),
    )
    .await;
    assert_eq!(status, 201);
    let (status, changed) = admin(
        app,
        Method::PATCH,
        &format!("/v1/data-sources/{}", source["id"].as_str().unwrap()),
        Some(json!({"credential_id": replacement["id"]})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["credential_id"], replacement["id"]);

    let (status, after) = send(app, &key, Method::POST, &token_path, None).await;
    assert_eq!(status, 200, "{after}");
    assert_ne!(
        after["access_token"], before["access_token"],
        "the token is the new credential's"
    );
    // The old credential's token still works for anyone else using it: nothing was revoked.
    assert!(
        fixture
            .mock
            .is_active(before["access_token"].as_str().unwrap())
    );
    // And now the old credential can go.
    let old = format!(
        "/v1/credentials/{}",
        source["credential_id"].as_str().unwrap()
    );
    assert_eq!(admin(app, Method::DELETE, &old, None).await.0, 204);
}

async fn a_credential_of_another_connector_is_refused_on_create_and_re_point(app: TestApp) {
    // A credential of the generic OAuth 2.0 provider, saved untested (no upstream is called).
    let (status, other) = admin(
        &app,
        Method::POST,
        "/v1/credentials?validate=false",
        Some(json!({
            "name": "generic",
            "connector": "oauth2",
            "config": {"token_url": "https://idp.example/token", "client_id": "c"},
            "secrets": {"client_secret": "s"},
        })),
    )
    .await;
    assert_eq!(status, 201, "{other}");
    let other_id = other["id"].clone();

    let (status, problem) = admin(
        &app,
        Method::POST,
        "/v1/data-sources",
        Some(source("mixed", &other_id)),
    )
    .await;
    // The request would do for another credential: it conflicts with this one's connector.
    assert_eq!(status, 409, "{problem}");
    let message = problem["detail"].as_str().unwrap();
    assert!(message.contains("`oauth2` credential"), "{message}");

    let looker = app.create_credential("looker", "s").await;
    let created = create(&app, "/v1/data-destinations", "warehouse", &looker["id"]).await;
    let path = format!("/v1/data-destinations/{}", created["id"].as_str().unwrap());
    let (status, problem) = admin(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"credential_id": other_id})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`credential_id`")
    );
    let (_, unchanged) = admin(&app, Method::GET, &path, None).await;
    assert_eq!(unchanged["credential_id"], looker["id"]);
}
