//! Two replicas on one database: what one changes, the other stops serving from its caches
//! within about a second (the change feed), while what it caches keeps being handed out.

use latch_tests::{TestOptions, WithMock, eventually, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(WithMock:
    a_key_revoked_through_one_replica_is_refused_by_the_other,
    a_secret_rotated_through_one_replica_changes_the_token_the_other_hands_out,
    a_data_source_re_pointed_through_one_replica_gets_the_new_credentials_token_on_the_other,
    a_data_source_deleted_through_one_replica_refuses_its_job_key_on_the_other,
);

async fn post(
    fixture: &WithMock,
    address: &str,
    key: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let response = fixture
        .app
        .client
        .post(format!("{address}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn source_with_job_key(fixture: &WithMock, credential_id: &str) -> (String, String) {
    let (status, source) = fixture
        .app
        .send(
            Method::POST,
            "/v1/data-sources",
            Some(&json!({"name": "orders", "connector": "looker", "credential_id": credential_id})),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let id = source["id"].as_str().unwrap().to_string();
    let (status, key) = fixture
        .app
        .send(
            Method::POST,
            &format!("/v1/data-sources/{id}/job-keys"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{key}");
    (id, key["key"].as_str().unwrap().to_string())
}

async fn a_key_revoked_through_one_replica_is_refused_by_the_other(fixture: WithMock) {
    let other = fixture.app.replica(TestOptions::mock_reachable()).await;
    let (status, created) = fixture
        .app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&json!({"name": "runner", "scopes": ["credentials:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let list = |address: String| {
        let request = fixture
            .app
            .client
            .get(format!("{address}/v1/credentials"))
            .bearer_auth(&key);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(list(other.clone()).await, 200);
    let id = created["id"].as_str().unwrap();
    let (status, _) = fixture
        .app
        .send(Method::DELETE, &format!("/v1/api-keys/{id}"), None)
        .await;
    assert_eq!(status, 204);
    eventually("the other replica refusing the revoked key", || async {
        list(other.clone()).await == 401
    })
    .await;
}

async fn a_secret_rotated_through_one_replica_changes_the_token_the_other_hands_out(
    fixture: WithMock,
) {
    let other = fixture.app.replica(TestOptions::mock_reachable()).await;
    let id = fixture.saved_credential("jobs", true).await;
    let path = format!("/v1/credentials/{id}/token");
    let key = fixture.app.admin_key.clone();
    let (status, first) = post(&fixture, &other, &key, &path, json!({})).await;
    assert_eq!(status, 200, "{first}");
    let first = first["access_token"].as_str().unwrap().to_string();
    // Cached: the same token again, without a login.
    let (_, again) = post(&fixture, &other, &key, &path, json!({})).await;
    assert_eq!(again["access_token"], first.as_str());

    let secrets = json!({"secrets": {"client_secret": fixture.mock.config().client_secret}});
    let (status, body) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}"),
            Some(&secrets),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(
        "the other replica handing out a token of the new version",
        || async {
            let (status, body) = post(&fixture, &other, &key, &path, json!({})).await;
            status == 200 && body["access_token"] != first.as_str()
        },
    )
    .await;
}

async fn a_data_source_re_pointed_through_one_replica_gets_the_new_credentials_token_on_the_other(
    fixture: WithMock,
) {
    let other = fixture.app.replica(TestOptions::mock_reachable()).await;
    let old = fixture.saved_credential("old", true).await;
    let new = fixture.saved_credential("new", true).await;
    let (source, job_key) = source_with_job_key(&fixture, &old).await;
    let admin = fixture.app.admin_key.clone();
    let token_of = |credential: String| {
        let admin = admin.clone();
        let fixture = &fixture;
        async move {
            let path = format!("/v1/credentials/{credential}/token");
            let (status, body) =
                post(fixture, &fixture.app.address, &admin, &path, json!({})).await;
            assert_eq!(status, 200, "{body}");
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let (old_token, new_token) = (token_of(old).await, token_of(new.clone()).await);
    assert_ne!(old_token, new_token);
    let path = format!("/v1/data-sources/{source}/token");
    let (status, body) = post(&fixture, &other, &job_key, &path, json!({})).await;
    assert_eq!(
        (status, body["access_token"].as_str()),
        (200, Some(old_token.as_str()))
    );

    let (status, body) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/data-sources/{source}"),
            Some(&json!({"credential_id": new})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(
        "the other replica handing out the new credential's token",
        || async {
            let (_, body) = post(&fixture, &other, &job_key, &path, json!({})).await;
            body["access_token"] == new_token.as_str()
        },
    )
    .await;
}

async fn a_data_source_deleted_through_one_replica_refuses_its_job_key_on_the_other(
    fixture: WithMock,
) {
    let other = fixture.app.replica(TestOptions::mock_reachable()).await;
    let credential_id = fixture.saved_credential("jobs", true).await;
    let (source, job_key) = source_with_job_key(&fixture, &credential_id).await;
    let path = format!("/v1/data-sources/{source}/token");
    assert_eq!(
        post(&fixture, &other, &job_key, &path, json!({})).await.0,
        200
    );
    let (status, _) = fixture
        .app
        .send(Method::DELETE, &format!("/v1/data-sources/{source}"), None)
        .await;
    assert_eq!(status, 204);
    eventually(
        "the other replica refusing the deleted source's job key",
        || async { post(&fixture, &other, &job_key, &path, json!({})).await.0 == 401 },
    )
    .await;
}
