//! The store conformance suite, continued: token leases, the keyring and rewrapping, who owns
//! an id, and the change feed.

use chrono::Duration;
use latch_store::{
    Change, ChangeSubject, KeyringEntry, NewApiKey, NewConnectSession, NewOAuthApp, NewToken,
    OAuthAppChanges, OwnedTable, Rewrapped, SealedAppSecrets, SealedTable, Store, StoreError, now,
};
use latch_tests::{TestDatabase, on_both_backends};
use serde_json::json;
use uuid::Uuid;

use super::{credential, event, open};

on_both_backends!(TestDatabase:
    a_keyring_rotates_once_however_many_try,
    rewrapped_keys_are_written_only_where_the_row_still_holds_what_was_read,
    every_table_holding_a_wrapped_data_key_is_one_a_rotation_moves,
    a_connect_sessions_data_key_is_counted_and_rewrapped_like_a_credentials,
    an_apps_sealed_secret_is_counted_rewrapped_and_kept_or_replaced_by_a_change,
    the_owner_of_an_id_is_found_in_any_organization,
    a_token_lease_has_one_holder_until_it_lapses,
    only_the_lease_holder_writes_the_token_and_writing_frees_the_lease,
    a_late_token_is_written_only_while_the_refresh_token_it_spent_is_still_stored,
    a_token_row_goes_with_its_credential,
    changes_are_numbered_in_commit_order_and_pruned_by_age,
);

async fn stored_credential(store: &dyn Store) -> (Uuid, Uuid) {
    let org = store.ensure_organization("acme").await.unwrap();
    let stored = store
        .insert_credential(&credential(org.id, "tokens"), &event(org.id, "created"))
        .await
        .unwrap();
    (org.id, stored.id)
}

fn token(version: i64) -> NewToken {
    NewToken {
        token_ct: vec![1; 40],
        nonce: vec![2; 24],
        token_type: "Bearer".into(),
        expires_at: now() + Duration::seconds(3600),
        obtained_at: now(),
        credential_version: version,
        refresh_ct: None,
        refresh_nonce: None,
        metadata: serde_json::json!({}),
    }
}

async fn a_token_lease_has_one_holder_until_it_lapses(db: TestDatabase) {
    let store = open(&db).await;
    let (_, id) = stored_credential(store.as_ref()).await;
    let start = now();
    let until = start + Duration::seconds(30);
    assert!(
        store
            .acquire_token_lease(id, 1, "a", until, start)
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_token_lease(id, 1, "b", until, start)
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_token_lease(id, 1, "a", until, start)
            .await
            .unwrap(),
        "not reentrant"
    );
    let row = store.credential_token(id).await.unwrap().unwrap();
    assert_eq!(row.lease_owner.as_deref(), Some("a"));
    assert!(row.token_ct.is_none());

    // Its holder renews it; nobody else can.
    let renewed = until + Duration::seconds(30);
    assert!(store.renew_token_lease(id, "a", renewed).await.unwrap());
    assert!(!store.renew_token_lease(id, "b", renewed).await.unwrap());
    let row = store.credential_token(id).await.unwrap().unwrap();
    assert_eq!(row.lease_until, Some(renewed));
    assert!(
        !store
            .acquire_token_lease(id, 1, "b", renewed, until + Duration::seconds(1))
            .await
            .unwrap(),
        "a renewed lease outlives its first end"
    );
    assert!(store.renew_token_lease(id, "a", until).await.unwrap());

    // Once the lease has lapsed, another owner takes it.
    let later = until + Duration::milliseconds(1);
    assert!(
        store
            .acquire_token_lease(id, 1, "b", later + Duration::seconds(30), later)
            .await
            .unwrap()
    );
    // A released lease is free at once.
    store.release_token_lease(id, "b").await.unwrap();
    assert!(
        store
            .acquire_token_lease(id, 1, "c", until, start)
            .await
            .unwrap()
    );
}

async fn a_late_token_is_written_only_while_the_refresh_token_it_spent_is_still_stored(
    db: TestDatabase,
) {
    let store = open(&db).await;
    let (_, id) = stored_credential(store.as_ref()).await;
    let start = now();
    let lease = start + Duration::seconds(30);
    let with_refresh = |refresh: u8| NewToken {
        refresh_ct: Some(vec![refresh; 48]),
        refresh_nonce: Some(vec![refresh; 24]),
        ..token(1)
    };
    // The grant's first refresh token, written by its holder.
    assert!(
        store
            .acquire_token_lease(id, 1, "first", lease, start)
            .await
            .unwrap()
    );
    assert!(
        store
            .store_token(id, "first", &with_refresh(7))
            .await
            .unwrap()
    );
    // A successor holds the lease now; a late login that spent refresh token 7 and got 8.
    assert!(
        store
            .acquire_token_lease(id, 1, "successor", lease, start)
            .await
            .unwrap()
    );
    assert!(
        !store
            .store_token(id, "late", &with_refresh(8))
            .await
            .unwrap()
    );
    assert!(
        !store
            .store_rotated_token(id, &[9; 48], &with_refresh(8))
            .await
            .unwrap(),
        "not while another refresh token is stored"
    );
    assert!(
        store
            .store_rotated_token(id, &[7; 48], &with_refresh(8))
            .await
            .unwrap()
    );
    let row = store.credential_token(id).await.unwrap().unwrap();
    assert_eq!(row.refresh_ct, Some(vec![8; 48]));
    assert_eq!(row.refresh_nonce, Some(vec![8; 24]));
    assert_eq!(row.token_ct, Some(vec![1; 40]));
    assert_eq!(
        row.lease_owner.as_deref(),
        Some("successor"),
        "the lease stays with its holder"
    );
    // Once written, the spent one no longer matches: a second late write changes nothing.
    assert!(
        !store
            .store_rotated_token(id, &[7; 48], &with_refresh(9))
            .await
            .unwrap()
    );
    let row = store.credential_token(id).await.unwrap().unwrap();
    assert_eq!(row.refresh_ct, Some(vec![8; 48]));
}

async fn only_the_lease_holder_writes_the_token_and_writing_frees_the_lease(db: TestDatabase) {
    let store = open(&db).await;
    let (_, id) = stored_credential(store.as_ref()).await;
    let start = now();
    assert!(
        store
            .acquire_token_lease(id, 1, "holder", start + Duration::seconds(30), start)
            .await
            .unwrap()
    );
    assert!(!store.store_token(id, "intruder", &token(1)).await.unwrap());
    assert!(
        store
            .credential_token(id)
            .await
            .unwrap()
            .unwrap()
            .token_ct
            .is_none()
    );

    let written = token(2);
    assert!(store.store_token(id, "holder", &written).await.unwrap());
    let row = store.credential_token(id).await.unwrap().unwrap();
    assert_eq!(row.token_ct, Some(written.token_ct.clone()));
    assert_eq!(row.nonce, Some(written.nonce.clone()));
    assert_eq!(row.token_type.as_deref(), Some("Bearer"));
    assert_eq!(row.expires_at, Some(written.expires_at));
    assert_eq!(row.credential_version, 2);
    assert_eq!(row.lease_owner, None);
    // The holder cannot write twice with a lease it no longer holds.
    assert!(!store.store_token(id, "holder", &token(3)).await.unwrap());
}

async fn a_token_row_goes_with_its_credential(db: TestDatabase) {
    let store = open(&db).await;
    let (org_id, id) = stored_credential(store.as_ref()).await;
    let start = now();
    store
        .acquire_token_lease(id, 1, "a", start + Duration::seconds(30), start)
        .await
        .unwrap();
    store
        .delete_credential(org_id, id, None, &event(org_id, "deleted"))
        .await
        .unwrap();
    assert!(store.credential_token(id).await.unwrap().is_none());
    let gone = store
        .acquire_token_lease(id, 1, "a", start + Duration::seconds(30), start)
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    store.delete_credential_token(id).await.unwrap();
}

fn keyring_entry(kek_id: &str, state: &str) -> KeyringEntry {
    KeyringEntry {
        kek_id: kek_id.into(),
        created_at: now(),
        state: state.into(),
        check_value: vec![7; 32],
        kdf_salt: None,
        kdf_params: None,
    }
}

async fn a_keyring_rotates_once_however_many_try(db: TestDatabase) {
    let store = open(&db).await;
    store
        .insert_keyring_entry(&keyring_entry("kek-1", "active"))
        .await
        .unwrap();
    assert!(
        store
            .rotate_keyring("kek-1", &keyring_entry("kek-2", "active"))
            .await
            .unwrap()
    );
    // A replica that read the keyring before: kek-1 is no longer active, nothing changes.
    assert!(
        !store
            .rotate_keyring("kek-1", &keyring_entry("kek-3", "active"))
            .await
            .unwrap()
    );
    // A replica that raced for the same id: the id is taken, nothing changes.
    assert!(
        !store
            .rotate_keyring("kek-2", &keyring_entry("kek-1", "active"))
            .await
            .unwrap()
    );
    let states: Vec<(String, String)> = store
        .keyring_entries()
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.kek_id, entry.state))
        .collect();
    assert_eq!(
        states,
        [
            ("kek-1".to_string(), "retired".to_string()),
            ("kek-2".to_string(), "active".to_string())
        ]
    );
}

async fn rewrapped_keys_are_written_only_where_the_row_still_holds_what_was_read(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        let new = credential(org.id, &format!("c{n}"));
        ids.push(new.id);
        store
            .insert_credential(&new, &event(org.id, "credential.created"))
            .await
            .unwrap();
    }
    let usage = store.kek_usage().await.unwrap();
    assert_eq!(usage, [("kek-1".to_string(), 5)]);

    let first = store
        .wrapped_keys_not_under(SealedTable::Credentials, "kek-2", None, 3)
        .await
        .unwrap();
    assert_eq!(first.iter().map(|row| row.id).collect::<Vec<_>>(), ids[..3]);
    let rest = store
        .wrapped_keys_not_under(SealedTable::Credentials, "kek-2", Some(ids[2]), 3)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);

    let mut batch: Vec<Rewrapped> = first
        .into_iter()
        .map(|row| Rewrapped {
            old: row,
            kek_id: "kek-2".into(),
            wrapped_dek: vec![9; 72],
        })
        .collect();
    // One row changed since it was read: it is left alone.
    batch[1].old.wrapped_dek = vec![0; 72];
    assert_eq!(store.rewrap_keys(&batch).await.unwrap(), 2);
    assert_eq!(
        store.kek_usage().await.unwrap(),
        [("kek-1".to_string(), 3), ("kek-2".to_string(), 2)]
    );
    let moved = store.get_credential(org.id, ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (moved.kek_id.as_str(), moved.wrapped_dek),
        ("kek-2", vec![9; 72])
    );
    assert_eq!(moved.version, 1, "a rewrap is no change a client sees");
    assert_eq!(
        store
            .wrapped_keys_not_under(SealedTable::Credentials, "kek-2", None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn every_table_holding_a_wrapped_data_key_is_one_a_rotation_moves(db: TestDatabase) {
    let _migrated = open(&db).await;
    let in_schema = db.tables_with_column("wrapped_dek").await;
    let rotated: std::collections::BTreeSet<String> = SealedTable::ALL
        .iter()
        .map(|table| table.name().to_string())
        .collect();
    assert_eq!(
        in_schema, rotated,
        "a new sealed table joins SealedTable::ALL"
    );
}

async fn a_connect_sessions_data_key_is_counted_and_rewrapped_like_a_credentials(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    store
        .insert_credential(
            &credential(org.id, "c"),
            &event(org.id, "credential.created"),
        )
        .await
        .unwrap();
    let app = store
        .insert_oauth_app(
            &NewOAuthApp {
                id: Uuid::now_v7(),
                org_id: org.id,
                connector: "looker".into(),
                name: "app".into(),
                description: None,
                config: json!({}),
                secrets: None,
            },
            &event(org.id, "oauth_app.created"),
        )
        .await
        .unwrap();
    let session = NewConnectSession {
        id: Uuid::now_v7(),
        org_id: org.id,
        connector: "looker".into(),
        auth_method: "oauth_authorization_code".into(),
        name: "pending consent".into(),
        description: None,
        config: json!({}),
        return_to: None,
        state_hash: vec![7; 32],
        verifier_ct: vec![1, 2, 3],
        verifier_nonce: vec![4; 24],
        wrapped_dek: vec![5; 72],
        kek_id: "kek-1".into(),
        credential_id: None,
        oauth_app_id: app.id,
        expires_at: now() + Duration::minutes(10),
    };
    store
        .insert_connect_session(&session, 100, &event(org.id, "connect_session.created"))
        .await
        .unwrap();
    assert_eq!(store.kek_usage().await.unwrap(), [("kek-1".to_string(), 2)]);

    let rows = store
        .wrapped_keys_not_under(SealedTable::ConnectSessions, "kek-2", None, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id, rows[0].table),
        (session.id, SealedTable::ConnectSessions)
    );
    let batch: Vec<Rewrapped> = rows
        .into_iter()
        .map(|row| Rewrapped {
            old: row,
            kek_id: "kek-2".into(),
            wrapped_dek: vec![9; 72],
        })
        .collect();
    assert_eq!(store.rewrap_keys(&batch).await.unwrap(), 1);
    assert_eq!(
        store.kek_usage().await.unwrap(),
        [("kek-1".to_string(), 1), ("kek-2".to_string(), 1)]
    );
    let moved = store
        .get_connect_session(org.id, session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.kek_id.as_str(), moved.wrapped_dek),
        ("kek-2", vec![9; 72])
    );
}

async fn an_apps_sealed_secret_is_counted_rewrapped_and_kept_or_replaced_by_a_change(
    db: TestDatabase,
) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let sealed = |kek: &str, byte: u8| SealedAppSecrets {
        kek_id: kek.into(),
        wrapped_dek: vec![byte; 72],
        secret_nonce: vec![byte; 24],
        secret_ct: vec![byte; 40],
    };
    let app = |name: &str, secrets: Option<SealedAppSecrets>| NewOAuthApp {
        id: Uuid::now_v7(),
        org_id: org.id,
        connector: "oauth2".into(),
        name: name.into(),
        description: None,
        config: json!({}),
        secrets,
    };
    let with_secret = app("confidential", Some(sealed("kek-1", 1)));
    let public = app("public", None);
    for new in [&with_secret, &public] {
        store
            .insert_oauth_app(new, &event(org.id, "oauth_app.created"))
            .await
            .unwrap();
    }
    // Only the app with a secret holds a data key.
    assert_eq!(store.kek_usage().await.unwrap(), [("kek-1".to_string(), 1)]);
    let rows = store
        .wrapped_keys_not_under(SealedTable::OAuthApps, "kek-2", None, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, with_secret.id);
    let batch = vec![Rewrapped {
        old: rows[0].clone(),
        kek_id: "kek-2".into(),
        wrapped_dek: vec![9; 72],
    }];
    assert_eq!(store.rewrap_keys(&batch).await.unwrap(), 1);
    let moved = store
        .get_oauth_app(org.id, with_secret.id)
        .await
        .unwrap()
        .unwrap();
    let moved_secrets = moved.sealed.secrets().unwrap();
    assert_eq!(
        (moved_secrets.kek_id.as_str(), &moved_secrets.wrapped_dek),
        ("kek-2", &vec![9; 72])
    );
    assert_eq!(
        moved_secrets.secret_ct,
        vec![1; 40],
        "the secret itself is untouched"
    );

    // A change without secrets keeps them; one with secrets replaces them whole.
    let mut changes = OAuthAppChanges {
        name: "renamed".into(),
        description: None,
        config: json!({}),
        shared_redirect: false,
        secrets: None,
    };
    let kept = store
        .update_oauth_app(
            org.id,
            with_secret.id,
            moved.version,
            &changes,
            &event(org.id, "oauth_app.updated"),
        )
        .await
        .unwrap();
    assert_eq!(kept.sealed, moved.sealed);
    changes.secrets = Some(sealed("kek-2", 3));
    let replaced = store
        .update_oauth_app(
            org.id,
            with_secret.id,
            kept.version,
            &changes,
            &event(org.id, "oauth_app.updated"),
        )
        .await
        .unwrap();
    assert_eq!(replaced.sealed.secrets(), Some(sealed("kek-2", 3)));
    let public = store
        .get_oauth_app(org.id, public.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(public.sealed.secrets(), None);
}

async fn the_owner_of_an_id_is_found_in_any_organization(db: TestDatabase) {
    let store = open(&db).await;
    let org = store.ensure_organization("acme").await.unwrap();
    let new = credential(org.id, "owned");
    store
        .insert_credential(&new, &event(org.id, "credential.created"))
        .await
        .unwrap();
    assert_eq!(
        store
            .owner_org(OwnedTable::Credentials, new.id)
            .await
            .unwrap(),
        Some(org.id)
    );
    assert_eq!(
        store
            .owner_org(OwnedTable::DataSources, new.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .owner_org(OwnedTable::ApiKeys, Uuid::now_v7())
            .await
            .unwrap(),
        None
    );
}

async fn changes_are_numbered_in_commit_order_and_pruned_by_age(db: TestDatabase) {
    let store = open(&db).await;
    assert_eq!(store.latest_change().await.unwrap(), 0);
    let org = store.ensure_organization("acme").await.unwrap();
    let stored = store
        .insert_credential(&credential(org.id, "a"), &event(org.id, "created"))
        .await
        .unwrap();
    let mut changes = stored.changes();
    changes.name = "renamed".into();
    store
        .update_credential(org.id, stored.id, 1, &changes, &event(org.id, "renamed"))
        .await
        .unwrap();
    // Refused writes record nothing.
    let stale = store
        .update_credential(org.id, stored.id, 1, &changes, &event(org.id, "stale"))
        .await;
    assert!(stale.is_err());
    store
        .delete_credential(org.id, stored.id, None, &event(org.id, "deleted"))
        .await
        .unwrap();
    let key = NewApiKey {
        id: Uuid::now_v7(),
        org_id: org.id,
        name: "runner".into(),
        prefix: "latch_BBBBBBBBBBBB".into(),
        hash: vec![9; 32],
        scopes: "admin".into(),
        data_source_id: None,
    };
    store
        .insert_api_key(&key, &event(org.id, "api_key.created"))
        .await
        .unwrap();
    store
        .revoke_api_key(org.id, key.id, None, &event(org.id, "api_key.revoked"))
        .await
        .unwrap();

    let change = |seq: i64, subject: ChangeSubject, key: &str| Change {
        seq,
        subject: subject.as_str().into(),
        key: key.into(),
    };
    let id = stored.id.to_string();
    assert_eq!(
        store.changes_after(0, 10).await.unwrap(),
        [
            change(1, ChangeSubject::Credential, &id),
            change(2, ChangeSubject::Credential, &id),
            change(3, ChangeSubject::ApiKey, &key.prefix),
        ]
    );
    assert_eq!(
        store.changes_after(1, 1).await.unwrap(),
        [change(2, ChangeSubject::Credential, &id)]
    );
    assert_eq!(store.latest_change().await.unwrap(), 3);
    assert_eq!(
        store
            .prune_changes(now() - Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .prune_changes(now() + Duration::seconds(1))
            .await
            .unwrap(),
        3
    );
    assert!(store.changes_after(0, 10).await.unwrap().is_empty());
    assert_eq!(store.latest_change().await.unwrap(), 3);
}
