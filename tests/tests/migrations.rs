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
    changes.health = Some(latch_store::HealthReset {
        status: CredentialStatus::ReauthorizationRequired,
        status_detail: None,
        identity: None,
        validated_at: None,
    });
    let changed = store
        .update_credential(org, credential, 4, &changes, &audit)
        .await
        .unwrap();
    assert_eq!(changed.status, CredentialStatus::ReauthorizationRequired);
}

/// A connection to a test database of either backend, for raw SQL before the store opens it.
enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// Runs one statement (built twice, once per backend type) on a [`Raw`] connection.
macro_rules! run {
    ($raw:expr, $query:expr) => {
        match $raw {
            Raw::Sqlite(connection) => {
                $query.execute(&mut *connection).await.unwrap();
            }
            Raw::Postgres(connection) => {
                $query.execute(&mut *connection).await.unwrap();
            }
        }
    };
}

/// A database of `backend` migrated up to (not including) `version`.
async fn migrated_before(backend: Backend, version: i64) -> Option<(TestDatabase, Raw)> {
    let db = TestDatabase::create(backend).await?;
    let tree = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(tree);
    let mut before = sqlx::migrate::Migrator::new(folder).await.unwrap();
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|migration| migration.version < version)
            .cloned()
            .collect(),
    );
    let raw = match backend {
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
            let mut connection =
                sqlx::SqliteConnection::connect_with(&options.create_if_missing(true))
                    .await
                    .unwrap();
            before.run(&mut connection).await.unwrap();
            Raw::Sqlite(connection)
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
            before.run(&mut connection).await.unwrap();
            Raw::Postgres(connection)
        }
    };
    Some((db, raw))
}

#[tokio::test]
async fn sqlite_oauth_credentials_and_a_pending_session_become_apps_of_their_organizations() {
    oauth_credentials_and_a_pending_session_become_apps_of_their_organizations(Backend::Sqlite)
        .await;
}

#[tokio::test]
async fn postgres_oauth_credentials_and_a_pending_session_become_apps_of_their_organizations() {
    oauth_credentials_and_a_pending_session_become_apps_of_their_organizations(Backend::Postgres)
        .await;
}

/// Migration 0009 turns the settings of every OAuth credential (and pending session) into an
/// app of its organization, one per distinct settings, on the shared redirect URI, and makes
/// them name it; tokens and sessions keep what they held.
async fn oauth_credentials_and_a_pending_session_become_apps_of_their_organizations(
    backend: Backend,
) {
    let Some((db, mut raw)) = migrated_before(backend, 9).await else {
        return;
    };
    let at = chrono::Utc::now();
    let (acme, globex) = (Uuid::now_v7(), Uuid::now_v7());
    for (org, name) in [(acme, "acme"), (globex, "globex")] {
        run!(
            &mut raw,
            sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(org)
                .bind(name)
                .bind(at)
        );
    }
    let settings = |host: &str, client: &str| json!({"api_host_url": host, "ui_host_url": host, "client_id": client});
    let first = settings("https://acme.cloud.looker.com", "latch-production");
    let second = settings("https://acme.cloud.looker.com", "latch-staging");
    let credentials = [
        (
            Uuid::now_v7(),
            acme,
            "one",
            &first,
            "oauth_authorization_code",
        ),
        (
            Uuid::now_v7(),
            acme,
            "two",
            &first,
            "oauth_authorization_code",
        ),
        (
            Uuid::now_v7(),
            acme,
            "three",
            &second,
            "oauth_authorization_code",
        ),
        (
            Uuid::now_v7(),
            globex,
            "theirs",
            &first,
            "oauth_authorization_code",
        ),
        (
            Uuid::now_v7(),
            acme,
            "api key",
            &first,
            "client_credentials",
        ),
    ];
    for (id, org, name, config, method) in &credentials {
        run!(
            &mut raw,
            sqlx::query(
                "INSERT INTO credentials (id, org_id, connector, name, description, config, \
                 secret_ct, secret_nonce, wrapped_dek, kek_id, status, version, created_at, \
                 updated_at, auth_method) VALUES ($1, $2, 'looker', $3, NULL, $4, $5, $6, $7, \
                 'kek-1', 'valid', 1, $8, $8, $9)",
            )
            .bind(*id)
            .bind(*org)
            .bind(*name)
            .bind(sqlx::types::Json(*config))
            .bind(vec![1u8, 2])
            .bind(vec![3u8; 24])
            .bind(vec![4u8; 72])
            .bind(at)
            .bind(*method)
        );
    }
    run!(
        &mut raw,
        sqlx::query(
            "INSERT INTO credential_tokens (credential_id, token_ct, nonce, token_type, \
             expires_at, obtained_at, credential_version, refresh_ct, refresh_nonce) \
             VALUES ($1, $2, $3, 'Bearer', $4, $4, 1, $5, $6)",
        )
        .bind(credentials[0].0)
        .bind(vec![7u8])
        .bind(vec![8u8; 24])
        .bind(at)
        .bind(vec![9u8])
        .bind(vec![10u8; 24])
    );
    let third = settings("https://other.cloud.looker.com", "latch-new");
    let (pending, failed) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, config, status, hash) in [
        (pending, &third, "pending", 1u8),
        (failed, &second, "failed", 2u8),
    ] {
        run!(
            &mut raw,
            sqlx::query(
                "INSERT INTO connect_sessions (id, org_id, connector, auth_method, name, config, \
                 state_hash, verifier_ct, verifier_nonce, wrapped_dek, kek_id, status, \
                 created_at, expires_at) VALUES ($1, $2, 'looker', 'oauth_authorization_code', \
                 'waiting', $3, $4, $5, $6, $7, 'kek-1', $8, $9, $10)",
            )
            .bind(id)
            .bind(acme)
            .bind(sqlx::types::Json(config))
            .bind(vec![hash; 32])
            .bind(vec![1u8])
            .bind(vec![2u8; 24])
            .bind(vec![3u8; 72])
            .bind(status)
            .bind(at)
            .bind(at + chrono::Duration::minutes(10))
        );
    }
    match raw {
        Raw::Sqlite(connection) => connection.close().await.unwrap(),
        Raw::Postgres(connection) => connection.close().await.unwrap(),
    }

    // The store migrates the rest on opening.
    let store = latch_store::connect(&db.url).await.unwrap();
    let page = latch_store::Page::first(50);
    let apps_of_acme = store.list_oauth_apps(acme, None, page).await.unwrap();
    let apps_of_globex = store.list_oauth_apps(globex, None, page).await.unwrap();
    assert_eq!(apps_of_acme.len(), 3, "{apps_of_acme:?}");
    assert_eq!(apps_of_globex.len(), 1, "{apps_of_globex:?}");
    assert!(
        apps_of_acme
            .iter()
            .chain(&apps_of_globex)
            .all(|app| app.shared_redirect)
    );
    let app_with = |apps: &[latch_store::OAuthApp], config: &serde_json::Value| {
        apps.iter()
            .find(|app| &app.config == config)
            .map(|app| app.id)
    };
    let mut names: Vec<&str> = apps_of_acme.iter().map(|app| app.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "latch-new at https://other.cloud.looker.com",
            "latch-production at https://acme.cloud.looker.com",
            "latch-staging at https://acme.cloud.looker.com",
        ]
    );
    for (id, org, _, config, method) in &credentials {
        let credential = store.get_credential(*org, *id).await.unwrap().unwrap();
        let apps = if *org == acme {
            &apps_of_acme
        } else {
            &apps_of_globex
        };
        let expected = (*method == "oauth_authorization_code")
            .then(|| app_with(apps, config))
            .flatten();
        assert_eq!(credential.oauth_app_id, expected, "{}", credential.name);
        assert_eq!(credential.config, **config);
    }
    let token = store
        .credential_token(credentials[0].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (token.token_ct, token.refresh_ct),
        (Some(vec![7]), Some(vec![9]))
    );
    let session = store
        .get_connect_session(acme, pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.oauth_app_id, app_with(&apps_of_acme, &third));
    let ended = store
        .get_connect_session(acme, failed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.oauth_app_id, None, "an ended session keeps no app");

    // The references are enforced: an app credentials were made through cannot go.
    let audit = NewAuditEvent {
        org_id: Some(acme),
        actor_key_id: None,
        action: "oauth_app.deleted".into(),
        target_type: "oauth_app".into(),
        target_id: None,
        outcome: "success".into(),
        detail: json!({}),
    };
    let in_use = app_with(&apps_of_acme, &first).unwrap();
    let refused = store
        .delete_oauth_app(acme, in_use, None, &audit)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::InUse), "{refused:?}");
}

#[tokio::test]
async fn sqlite_unreachable_and_error_become_degraded_and_every_row_and_reference_is_kept() {
    unreachable_and_error_become_degraded_and_every_row_and_reference_is_kept(Backend::Sqlite)
        .await;
}

#[tokio::test]
async fn postgres_unreachable_and_error_become_degraded_and_every_row_and_reference_is_kept() {
    unreachable_and_error_become_degraded_and_every_row_and_reference_is_kept(Backend::Postgres)
        .await;
}

/// Migration 0013 turns the stored transient statuses into `degraded` (SQLite rebuilds
/// `credentials` for it), dates each status from the credential's last test login, and keeps
/// versions, tokens and the sources that select a credential.
async fn unreachable_and_error_become_degraded_and_every_row_and_reference_is_kept(
    backend: Backend,
) {
    let Some((db, mut raw)) = migrated_before(backend, 13).await else {
        return;
    };
    let org = Uuid::now_v7();
    let tested = chrono::Utc::now() - chrono::Duration::hours(3);
    let edited = tested - chrono::Duration::days(2);
    run!(
        &mut raw,
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, 'acme', $2)")
            .bind(org)
            .bind(edited)
    );
    let rows = [
        (Uuid::now_v7(), "far", "unreachable", Some(tested)),
        (Uuid::now_v7(), "broken", "error", Some(tested)),
        (Uuid::now_v7(), "refused", "invalid", Some(tested)),
        (Uuid::now_v7(), "untested", "unverified", None),
    ];
    for (id, name, status, validated_at) in rows {
        run!(
            &mut raw,
            sqlx::query(
                "INSERT INTO credentials (id, org_id, connector, name, description, config, \
                 secret_ct, secret_nonce, wrapped_dek, kek_id, status, status_detail, identity, \
                 validated_at, version, created_at, updated_at, auth_method, name_key) \
                 VALUES ($1, $2, 'looker', $3, NULL, '{}', $4, $4, $4, 'kek-1', $5, 'as found', \
                 NULL, $6, 3, $7, $7, 'client_credentials', $3)",
            )
            .bind(id)
            .bind(org)
            .bind(name)
            .bind(vec![1u8, 2])
            .bind(status)
            .bind(validated_at)
            .bind(edited)
        );
    }
    let (broken, source) = (rows[1].0, Uuid::now_v7());
    run!(
        &mut raw,
        sqlx::query(
            "INSERT INTO credential_tokens (credential_id, token_ct, nonce, token_type, \
             expires_at, obtained_at, credential_version) VALUES ($1, $2, $2, 'Bearer', $3, $3, 3)",
        )
        .bind(broken)
        .bind(vec![7u8])
        .bind(tested)
    );
    run!(
        &mut raw,
        sqlx::query(
            "INSERT INTO data_sources (id, org_id, kind, name, connector, credential_id, config, \
             version, created_at, updated_at) VALUES ($1, $2, 'source', 'nightly', 'looker', $3, \
             '{}', 1, $4, $4)",
        )
        .bind(source)
        .bind(org)
        .bind(broken)
        .bind(edited)
    );
    drop(raw);

    let store = latch_store::connect(&db.url).await.unwrap();
    let expected = [
        CredentialStatus::Degraded,
        CredentialStatus::Degraded,
        CredentialStatus::Invalid,
        CredentialStatus::Unverified,
    ];
    for ((id, name, _, validated_at), status) in rows.into_iter().zip(expected) {
        let kept = store.get_credential(org, id).await.unwrap().unwrap();
        assert_eq!((kept.name.as_str(), kept.status), (name, status));
        assert_eq!(kept.status_detail.as_deref(), Some("as found"));
        assert_eq!(kept.version, 3, "{name}: the migration is not an edit");
        let since = validated_at.unwrap_or(edited);
        assert_eq!(
            kept.status_since.timestamp_micros(),
            since.timestamp_micros(),
            "{name}"
        );
        assert_eq!((kept.consecutive_failures, kept.last_token_at), (0, None));
        assert!(store.health_changes(org, id, 10).await.unwrap().is_empty());
    }
    let token = store.credential_token(broken).await.unwrap().unwrap();
    assert_eq!(token.token_ct, Some(vec![7]));
    let selected = store
        .get_data_source(org, DataSourceKind::Source, source)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(selected.credential_id, broken);
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
        .delete_credential(org, broken, None, &audit)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::InUse), "{refused:?}");
    // The old statuses are refused from now on.
    let old = "UPDATE credentials SET status = 'unreachable' WHERE id = $1";
    let refused = match backend {
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
            let mut connection = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::query(old)
                .bind(broken)
                .execute(&mut connection)
                .await
                .err()
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(old)
                .bind(broken)
                .execute(&mut connection)
                .await
                .err()
        }
    };
    assert!(
        refused.is_some(),
        "the check constraint refuses `unreachable`"
    );
}
