//! The store conformance suite: the same behaviour from both backends (tokens, keys and the
//! change feed in [`keys_and_tokens`]).

mod keys_and_tokens;

use latch_store::{
    CredentialFilter, CredentialStatus, KeyringEntry, NewApiKey, NewAuditEvent, NewCredential,
    Page, Store, StoreError, now,
};
use latch_tests::{TestDatabase, on_both_backends};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(TestDatabase:
    an_organization_is_created_once_and_found_by_name,
    a_credential_round_trips_every_column_and_writes_its_audit_event,
    a_duplicate_name_in_one_org_conflicts_and_writes_no_audit_event,
    the_same_name_in_two_orgs_is_allowed,
    an_update_at_a_stale_version_is_refused_with_the_current_version,
    an_update_to_a_taken_name_conflicts_and_changes_nothing,
    a_delete_removes_the_row_and_only_at_the_expected_version,
    listing_pages_through_credentials_in_creation_order_and_filters,
    every_credential_query_is_scoped_to_its_organization,
    api_keys_are_found_by_prefix_and_revoked_once,
    keyring_entries_round_trip_and_a_duplicate_id_conflicts,
    audit_events_are_listed_per_organization_in_order,
);

async fn open(db: &TestDatabase) -> std::sync::Arc<dyn Store> {
    latch_store::connect(&db.url).await.unwrap()
}

fn event(org_id: Uuid, action: &str) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(org_id),
        actor_key_id: None,
        action: action.into(),
        target_type: "credential".into(),
        target_id: None,
        outcome: "success".into(),
        detail: json!({"note": action}),
    }
}

fn credential(org_id: Uuid, name: &str) -> NewCredential {
    NewCredential {
        id: Uuid::now_v7(),
        org_id,
        connector: "looker".into(),
        name: name.into(),
        description: Some("described".into()),
        config: json!({"api_host_url": "https://acme.cloud.looker.com", "client_id": "id"}),
        secret_ct: vec![1, 2, 3],
        secret_nonce: vec![4; 24],
        wrapped_dek: vec![5; 72],
        kek_id: "kek-1".into(),
        status: CredentialStatus::Unverified,
        status_detail: None,
        identity: None,
        validated_at: None,
        oauth_app_id: None,
        auth_method: "client_credentials".into(),
    }
}

async fn events(store: &dyn Store, org_id: Uuid) -> Vec<String> {
    store
        .list_audit_events(
            org_id,
            &latch_store::AuditFilter::default(),
            Page::first(100),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect()
}

async fn an_organization_is_created_once_and_found_by_name(db: TestDatabase) {
    let store = open(&db).await;
    let first = store.ensure_organization("acme").await.unwrap();
    let again = store.ensure_organization("acme").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(store.find_organization("acme").await.unwrap(), Some(first));
    assert_eq!(store.find_organization("other").await.unwrap(), None);
}

async fn a_credential_round_trips_every_column_and_writes_its_audit_event(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let mut new = credential(org.id, "Looker prod");
    new.status = CredentialStatus::Valid;
    new.status_detail = Some("logged in".into());
    new.identity = Some(json!({"id": "42", "display_name": "API user"}));
    new.validated_at = Some(now());
    let stored = store
        .insert_credential(&new, &event(org.id, "credential.created"))
        .await
        .unwrap();
    let read = store.get_credential(org.id, new.id).await.unwrap().unwrap();
    for row in [&stored, &read] {
        assert_eq!(row.id, new.id);
        assert_eq!(row.name, new.name);
        assert_eq!(row.description, new.description);
        assert_eq!(row.config, new.config);
        assert_eq!(row.secret_ct, new.secret_ct);
        assert_eq!(row.secret_nonce, new.secret_nonce);
        assert_eq!(row.wrapped_dek, new.wrapped_dek);
        assert_eq!(row.kek_id, new.kek_id);
        assert_eq!(row.status, CredentialStatus::Valid);
        assert_eq!(row.status_detail, new.status_detail);
        assert_eq!(row.identity, new.identity);
        assert_eq!(row.validated_at, new.validated_at);
        assert_eq!(row.version, 1);
    }
    assert_eq!(stored.created_at, read.created_at);
    assert_eq!(events(store.as_ref(), org.id).await, ["credential.created"]);
}

async fn a_duplicate_name_in_one_org_conflicts_and_writes_no_audit_event(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    store
        .insert_credential(&credential(org.id, "same"), &event(org.id, "first"))
        .await
        .unwrap();
    let second = store
        .insert_credential(&credential(org.id, "same"), &event(org.id, "second"))
        .await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
    assert_eq!(events(store.as_ref(), org.id).await, ["first"]);
}

async fn the_same_name_in_two_orgs_is_allowed(db: TestDatabase) {
    let store = open(&db).await;
    for org in ["acme", "globex"] {
        let org = store.ensure_organization(org).await.unwrap();
        store
            .insert_credential(&credential(org.id, "same"), &event(org.id, "created"))
            .await
            .unwrap();
    }
}

async fn an_update_at_a_stale_version_is_refused_with_the_current_version(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let stored = store
        .insert_credential(&credential(org.id, "a"), &event(org.id, "created"))
        .await
        .unwrap();
    let mut changes = stored.changes();
    changes.name = "b".into();
    let updated = store
        .update_credential(org.id, stored.id, 1, &changes, &event(org.id, "updated"))
        .await
        .unwrap();
    assert_eq!((updated.name.as_str(), updated.version), ("b", 2));
    assert!(updated.updated_at >= stored.updated_at);

    changes.name = "c".into();
    let stale = store
        .update_credential(org.id, stored.id, 1, &changes, &event(org.id, "stale"))
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 2 })),
        "{stale:?}"
    );
    let missing = store
        .update_credential(
            org.id,
            Uuid::now_v7(),
            1,
            &changes,
            &event(org.id, "missing"),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(events(store.as_ref(), org.id).await, ["created", "updated"]);
}

async fn an_update_to_a_taken_name_conflicts_and_changes_nothing(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    store
        .insert_credential(&credential(org.id, "taken"), &event(org.id, "created"))
        .await
        .unwrap();
    let other = store
        .insert_credential(&credential(org.id, "other"), &event(org.id, "created"))
        .await
        .unwrap();
    let mut changes = other.changes();
    changes.name = "taken".into();
    let result = store
        .update_credential(org.id, other.id, 1, &changes, &event(org.id, "renamed"))
        .await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    let read = store
        .get_credential(org.id, other.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.name.as_str(), read.version), ("other", 1));
}

async fn a_delete_removes_the_row_and_only_at_the_expected_version(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let stored = store
        .insert_credential(&credential(org.id, "a"), &event(org.id, "created"))
        .await
        .unwrap();
    let stale = store
        .delete_credential(org.id, stored.id, Some(7), &event(org.id, "stale"))
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 1 })),
        "{stale:?}"
    );
    store
        .delete_credential(org.id, stored.id, Some(1), &event(org.id, "deleted"))
        .await
        .unwrap();
    assert!(
        store
            .get_credential(org.id, stored.id)
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .delete_credential(org.id, stored.id, None, &event(org.id, "again"))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    assert_eq!(events(store.as_ref(), org.id).await, ["created", "deleted"]);
}

async fn listing_pages_through_credentials_in_creation_order_and_filters(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let mut ids = Vec::new();
    for index in 0..5 {
        let mut new = credential(org.id, &format!("c{index}"));
        if index % 2 == 0 {
            new.status = CredentialStatus::Valid;
        }
        ids.push(new.id);
        store
            .insert_credential(&new, &event(org.id, "created"))
            .await
            .unwrap();
    }
    let all = CredentialFilter::default();
    let first = store
        .list_credentials(org.id, &all, Page::first(2))
        .await
        .unwrap();
    let second = store
        .list_credentials(
            org.id,
            &all,
            Page {
                after: Some(first[1].id),
                limit: 10,
            },
        )
        .await
        .unwrap();
    let listed: Vec<Uuid> = first.iter().chain(&second).map(|c| c.id).collect();
    assert_eq!(listed, ids);

    let valid = CredentialFilter {
        statuses: vec![CredentialStatus::Valid],
        ..Default::default()
    };
    let valid_ids: Vec<Uuid> = store
        .list_credentials(org.id, &valid, Page::first(10))
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(valid_ids, [ids[0], ids[2], ids[4]]);
    let other_connector = CredentialFilter {
        connector: Some("tableau".into()),
        ..Default::default()
    };
    assert!(
        store
            .list_credentials(org.id, &other_connector, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn every_credential_query_is_scoped_to_its_organization(db: TestDatabase) {
    let store = open(&db).await;
    let acme = store.ensure_organization("acme").await.unwrap();
    let globex = store.ensure_organization("globex").await.unwrap();
    let stored = store
        .insert_credential(&credential(acme.id, "a"), &event(acme.id, "created"))
        .await
        .unwrap();
    assert!(
        store
            .get_credential(globex.id, stored.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_credentials(globex.id, &Default::default(), Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    let update = store
        .update_credential(
            globex.id,
            stored.id,
            1,
            &stored.changes(),
            &event(globex.id, "u"),
        )
        .await;
    assert!(matches!(update, Err(StoreError::NotFound)), "{update:?}");
    let delete = store
        .delete_credential(globex.id, stored.id, None, &event(globex.id, "d"))
        .await;
    assert!(matches!(delete, Err(StoreError::NotFound)), "{delete:?}");
    assert!(
        store
            .get_credential(acme.id, stored.id)
            .await
            .unwrap()
            .is_some()
    );
}

async fn api_keys_are_found_by_prefix_and_revoked_once(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let other = store.ensure_organization("globex").await.unwrap();
    let key = NewApiKey {
        id: Uuid::now_v7(),
        org_id: org.id,
        name: "runner".into(),
        prefix: "latch_AAAAAAAAAAAA".into(),
        hash: vec![9; 32],
        scopes: "credentials:read tokens:issue".into(),
        data_source_id: None,
    };
    let stored = store
        .insert_api_key(&key, &event(org.id, "api_key.created"))
        .await
        .unwrap();
    assert_eq!(
        store.api_keys_by_prefix(&key.prefix).await.unwrap(),
        std::slice::from_ref(&stored)
    );
    assert!(
        store
            .api_keys_by_prefix("latch_BBBBBBBBBBBB")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_api_keys(org.id).await.unwrap(), 1);
    assert_eq!(
        store.list_api_keys(org.id, Page::first(10)).await.unwrap(),
        [stored]
    );

    let cross_org = store
        .revoke_api_key(other.id, key.id, None, &event(other.id, "api_key.revoked"))
        .await;
    assert!(
        matches!(cross_org, Err(StoreError::NotFound)),
        "{cross_org:?}"
    );
    let revoked = store
        .revoke_api_key(org.id, key.id, None, &event(org.id, "api_key.revoked"))
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    let twice = store
        .revoke_api_key(org.id, key.id, None, &event(org.id, "api_key.revoked"))
        .await;
    assert!(matches!(twice, Err(StoreError::NotFound)), "{twice:?}");
    assert_eq!(
        events(store.as_ref(), org.id).await,
        ["api_key.created", "api_key.revoked"]
    );
}

async fn keyring_entries_round_trip_and_a_duplicate_id_conflicts(db: TestDatabase) {
    let store = open(&db).await;
    assert!(store.keyring_entries().await.unwrap().is_empty());
    let entry = KeyringEntry {
        kek_id: "kek-1".into(),
        created_at: now(),
        state: "active".into(),
        check_value: vec![7; 32],
        kdf_salt: Some(vec![1; 16]),
        kdf_params: Some("argon2id:m=19456,t=2,p=1".into()),
    };
    store.insert_keyring_entry(&entry).await.unwrap();
    assert_eq!(
        store.keyring_entries().await.unwrap(),
        std::slice::from_ref(&entry)
    );
    let again = store.insert_keyring_entry(&entry).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
}

async fn audit_events_are_listed_per_organization_in_order(db: TestDatabase) {
    let store = open(&db).await;
    let acme = store.ensure_organization("acme").await.unwrap();
    let globex = store.ensure_organization("globex").await.unwrap();
    for action in ["one", "two", "three"] {
        store
            .record_audit_event(&event(acme.id, action))
            .await
            .unwrap();
    }
    store
        .record_audit_event(&event(globex.id, "theirs"))
        .await
        .unwrap();
    let mut anonymous = event(acme.id, "unknown key");
    anonymous.org_id = None;
    store.record_audit_event(&anonymous).await.unwrap();

    let page = store
        .list_audit_events(
            acme.id,
            &latch_store::AuditFilter::default(),
            Page::first(2),
        )
        .await
        .unwrap();
    let rest = store
        .list_audit_events(
            acme.id,
            &latch_store::AuditFilter::default(),
            Page {
                after: Some(page[1].id),
                limit: 10,
            },
        )
        .await
        .unwrap();
    let actions: Vec<&str> = page
        .iter()
        .chain(&rest)
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions, ["one", "two", "three"]);
    assert_eq!(page[0].detail, json!({"note": "one"}));
    assert_eq!(events(store.as_ref(), globex.id).await, ["theirs"]);
}
