//! The job keys of one data source or destination: listed and revoked under its own path by
//! keys that may change it, never another's.

use latch_core::callers::Scope;
use latch_tests::{WithMock, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    WithMock:
        a_sources_job_keys_are_listed_and_one_is_revoked_under_its_path,
        a_key_of_another_source_kind_or_organization_is_not_found,
        only_keys_that_may_change_a_source_see_or_revoke_its_job_keys,
);

/// A source (`kind`: data-sources or data-destinations) on a fresh credential, and the ids
/// and keys of `keys` job keys made for it.
async fn with_keys(
    fixture: &WithMock,
    kind: &str,
    name: &str,
    keys: usize,
) -> (String, Vec<(String, String)>) {
    let credential = fixture.saved_credential(name, true).await;
    let id = fixture.data_source(kind, name, &credential).await;
    let mut made = Vec::new();
    for index in 0..keys {
        let (status, key) = fixture
            .app
            .send(
                Method::POST,
                &format!("/v1/{kind}/{id}/job-keys"),
                Some(&json!({"name": format!("runner {index}")})),
            )
            .await;
        assert_eq!(status, 201, "{key}");
        made.push((
            key["id"].as_str().unwrap().to_string(),
            key["key"].as_str().unwrap().to_string(),
        ));
    }
    (id, made)
}

async fn token(fixture: &WithMock, kind: &str, id: &str, key: &str) -> u16 {
    fixture
        .app
        .send_as(key, Method::POST, &format!("/v1/{kind}/{id}/token"), None)
        .await
        .0
}

async fn a_sources_job_keys_are_listed_and_one_is_revoked_under_its_path(fixture: WithMock) {
    for kind in ["data-sources", "data-destinations"] {
        let (id, keys) = with_keys(&fixture, kind, &format!("{kind} one"), 3).await;
        let (other, _) = with_keys(&fixture, kind, &format!("{kind} two"), 1).await;
        let path = format!("/v1/{kind}/{id}/job-keys");
        let (status, page) = fixture
            .app
            .send(Method::GET, &format!("{path}?limit=2"), None)
            .await;
        assert_eq!(status, 200, "{page}");
        let first: Vec<Value> = page["items"].as_array().unwrap().clone();
        assert_eq!(first.len(), 2);
        let cursor = page["next_cursor"].as_str().unwrap();
        let (_, rest) = fixture
            .app
            .send(
                Method::GET,
                &format!("{path}?limit=2&cursor={cursor}"),
                None,
            )
            .await;
        let listed: Vec<String> = first
            .iter()
            .chain(rest["items"].as_array().unwrap())
            .map(|key| key["id"].as_str().unwrap().to_string())
            .collect();
        let made: Vec<String> = keys.iter().map(|(key_id, _)| key_id.clone()).collect();
        assert_eq!(
            listed, made,
            "its keys, oldest first, and no other source's"
        );
        for key in first.iter().chain(rest["items"].as_array().unwrap()) {
            assert_eq!(key["data_source_id"], id.as_str());
            assert_eq!(key["scopes"], json!(["tokens:issue"]));
            assert!(key.get("key").is_none(), "never the key itself: {key}");
        }

        let (revoked_id, revoked_key) = &keys[0];
        assert_eq!(token(&fixture, kind, &id, revoked_key).await, 200);
        let revoke = format!("{path}/{revoked_id}");
        assert_eq!(fixture.app.send(Method::DELETE, &revoke, None).await.0, 204);
        assert_eq!(
            token(&fixture, kind, &id, revoked_key).await,
            401,
            "refused at once"
        );
        assert_eq!(
            token(&fixture, kind, &id, &keys[1].1).await,
            200,
            "the others still work"
        );
        let (status, again) = fixture.app.send(Method::DELETE, &revoke, None).await;
        assert_eq!(status, 404, "revoked already: {again}");
        let (_, page) = fixture.app.send(Method::GET, &path, None).await;
        let shown = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["id"] == revoked_id.as_str())
            .unwrap();
        assert!(
            shown["revoked_at"].is_string(),
            "a revoked key is listed as revoked: {shown}"
        );
        let (_, audit) = fixture
            .app
            .send(
                Method::GET,
                &format!("/v1/audit-events?action=api_key.revoked&target_id={revoked_id}"),
                None,
            )
            .await;
        assert_eq!(audit["items"][0]["detail"]["data_source_id"], id.as_str());
        let (_, empty) = fixture
            .app
            .send(Method::GET, &format!("/v1/{kind}/{other}/job-keys"), None)
            .await;
        assert_eq!(empty["items"].as_array().unwrap().len(), 1);
    }
}

async fn a_key_of_another_source_kind_or_organization_is_not_found(fixture: WithMock) {
    let (source, source_keys) = with_keys(&fixture, "data-sources", "mine", 1).await;
    let (other, other_keys) = with_keys(&fixture, "data-sources", "other", 1).await;
    let (destination, _) = with_keys(&fixture, "data-destinations", "out", 1).await;
    // Another source's key under this source's path: 404, and it still works.
    let (status, problem) = fixture
        .app
        .send(
            Method::DELETE,
            &format!("/v1/data-sources/{source}/job-keys/{}", other_keys[0].0),
            None,
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(
        token(&fixture, "data-sources", &other, &other_keys[0].1).await,
        200
    );
    // A source's id on the destinations' path names nothing.
    for (method, path) in [
        (
            Method::GET,
            format!("/v1/data-destinations/{source}/job-keys"),
        ),
        (
            Method::DELETE,
            format!(
                "/v1/data-destinations/{source}/job-keys/{}",
                source_keys[0].0
            ),
        ),
        (
            Method::GET,
            format!("/v1/data-sources/{destination}/job-keys"),
        ),
    ] {
        assert_eq!(fixture.app.send(method, &path, None).await.0, 404, "{path}");
    }
    // Another organization's admin sees none of it.
    let (_, stranger) = fixture.app.org_with_key("elsewhere", &[Scope::Admin]).await;
    for (method, path) in [
        (Method::GET, format!("/v1/data-sources/{source}/job-keys")),
        (
            Method::DELETE,
            format!("/v1/data-sources/{source}/job-keys/{}", source_keys[0].0),
        ),
    ] {
        assert_eq!(
            fixture.app.send_as(&stranger, method, &path, None).await.0,
            404,
            "{path}"
        );
    }
    assert_eq!(
        token(&fixture, "data-sources", &source, &source_keys[0].1).await,
        200
    );
    // Ids that are not ids.
    let (status, problem) = fixture
        .app
        .send(
            Method::DELETE,
            &format!("/v1/data-sources/{source}/job-keys/not-an-id"),
            None,
        )
        .await;
    assert!(status == 404 || status == 400, "{status} {problem}");
    assert!(problem["detail"].is_string(), "{problem}");
    let (status, problem) = fixture
        .app
        .send(
            Method::GET,
            &format!("/v1/data-sources/{source}/job-keys?limit=0"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "limit");
}

async fn only_keys_that_may_change_a_source_see_or_revoke_its_job_keys(fixture: WithMock) {
    let (source, keys) = with_keys(&fixture, "data-sources", "guarded", 1).await;
    let list = format!("/v1/data-sources/{source}/job-keys");
    let revoke = format!("{list}/{}", keys[0].0);
    let mut made = Vec::new();
    for scopes in [
        json!(["credentials:read"]),
        json!(["tokens:issue"]),
        json!(["credentials:write"]),
    ] {
        let (status, key) = fixture
            .app
            .send(
                Method::POST,
                "/v1/api-keys",
                Some(&json!({"name": format!("{scopes}"), "scopes": scopes})),
            )
            .await;
        assert_eq!(status, 201);
        made.push(key["key"].as_str().unwrap().to_string());
    }
    for refused in [&made[0], &made[1]] {
        assert_eq!(
            fixture
                .app
                .send_as(refused, Method::GET, &list, None)
                .await
                .0,
            403
        );
        assert_eq!(
            fixture
                .app
                .send_as(refused, Method::DELETE, &revoke, None)
                .await
                .0,
            403
        );
    }
    // A job key reaches its own token route and nothing else, not even its own keys.
    let job_key = &keys[0].1;
    assert_eq!(
        fixture
            .app
            .send_as(job_key, Method::GET, &list, None)
            .await
            .0,
        404
    );
    assert_eq!(
        fixture
            .app
            .send_as(job_key, Method::DELETE, &revoke, None)
            .await
            .0,
        404
    );
    let writer = &made[2];
    assert_eq!(
        fixture
            .app
            .send_as(writer, Method::GET, &list, None)
            .await
            .0,
        200
    );
    assert_eq!(
        fixture
            .app
            .send_as(writer, Method::DELETE, &revoke, None)
            .await
            .0,
        204
    );
}
