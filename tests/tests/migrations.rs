//! Migrations applied to a database that already holds data: nothing is lost, and every
//! reference still holds and is still enforced.

use std::borrow::Cow;
use std::path::Path;

use latch_store::{Backend, CredentialStatus, DataSourceKind, NewAuditEvent, StoreError};
use latch_tests::TestDatabase;
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

/// SQLite migration 0007 rebuilds `credentials` (to widen its status check) while a token
/// row and a data source refer to it.
#[tokio::test]
async fn the_sqlite_credentials_rebuild_keeps_every_row_and_every_reference() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let folder = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"));
    let mut before = sqlx::migrate::Migrator::new(folder).await.unwrap();
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|migration| migration.version < 7)
            .cloned()
            .collect(),
    );
    let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
    let mut connection = sqlx::SqliteConnection::connect_with(&options.create_if_missing(true))
        .await
        .unwrap();
    before.run(&mut connection).await.unwrap();

    let (org, credential, source) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let at = "2026-11-20T10:00:00+00:00";
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, 'acme', $2)")
        .bind(org)
        .bind(at)
        .execute(&mut connection)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO credentials (id, org_id, connector, name, description, config, secret_ct, \
         secret_nonce, wrapped_dek, kek_id, status, status_detail, identity, validated_at, \
         version, created_at, updated_at, auth_method) VALUES ($1, $2, 'looker', 'kept', 'old', \
         '{\"client_id\":\"x\"}', x'0102', x'0304', x'0506', 'kek-1', 'valid', 'ok', \
         '{\"display_name\":\"A\"}', $3, 4, $3, $3, 'client_credentials')",
    )
    .bind(credential)
    .bind(org)
    .bind(at)
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO credential_tokens (credential_id, token_ct, nonce, token_type, expires_at, \
         obtained_at, credential_version) VALUES ($1, x'07', x'08', 'Bearer', $2, $2, 4)",
    )
    .bind(credential)
    .bind(at)
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO data_sources (id, org_id, kind, name, connector, credential_id, config, \
         version, created_at, updated_at) VALUES ($1, $2, 'source', 'nightly', 'looker', $3, \
         '{}', 1, $4, $4)",
    )
    .bind(source)
    .bind(org)
    .bind(credential)
    .bind(at)
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();

    // The store migrates the rest on opening.
    let store = latch_store::connect(&db.url).await.unwrap();
    let kept = store
        .get_credential(org, credential)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.name.as_str(), kept.version, kept.status),
        ("kept", 4, CredentialStatus::Valid)
    );
    assert_eq!(kept.secret_ct, vec![1, 2]);
    assert_eq!(kept.identity, Some(json!({"display_name": "A"})));
    assert_eq!(kept.auth_method, "client_credentials");
    let token = store.credential_token(credential).await.unwrap().unwrap();
    assert_eq!(token.token_ct, Some(vec![7]));
    let selected = store
        .get_data_source(org, DataSourceKind::Source, source)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(selected.credential_id, credential);

    // The references are still enforced: a credential in use cannot go.
    let audit = NewAuditEvent {
        org_id: Some(org),
        actor_key_id: None,
        action: "credential.deleted".into(),
        target_type: "credential".into(),
        target_id: None,
        outcome: "success".into(),
        detail: json!({}),
    };
    let refused = store
        .delete_credential(org, credential, None, &audit)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::InUse), "{refused:?}");
    // And the new status is accepted.
    let mut changes = kept.changes();
    changes.status = CredentialStatus::ReauthorizationRequired;
    let changed = store
        .update_credential(org, credential, 4, &changes, &audit)
        .await
        .unwrap();
    assert_eq!(changed.status, CredentialStatus::ReauthorizationRequired);
}
