//! Start-up: the master key must match the keyring; development mode bootstraps itself.

use latch_api::{Application, MasterKeySource, Settings};
use latch_tests::{Backend, TestApp, TestDatabase, on_both_backends};
use latch_vault::{ExposeSecret, MasterKey, SecretString};
use reqwest::Method;
use serde_json::json;

on_both_backends!(TestApp:
    a_wrong_master_key_is_refused_at_start_with_a_clear_message,
    the_same_master_key_reopens_the_keyring_and_saved_secrets_still_open,
);

fn settings(url: &str, master_key: MasterKeySource, dev: bool) -> Settings {
    Settings {
        database_url: url.to_string(),
        listen_addr: "127.0.0.1:0".into(),
        master_key,
        egress: Default::default(),
        workers: Some(1),
        dev,
        limits: Default::default(),
    }
}

fn key(secret: &SecretString) -> MasterKeySource {
    MasterKeySource::Key(secret.expose_secret().to_string().into())
}

async fn a_wrong_master_key_is_refused_at_start_with_a_clear_message(app: TestApp) {
    let wrong = MasterKey::generate().unwrap().to_base64();
    let error = Application::build(settings(&app.db.url, key(&wrong), false))
        .await
        .err()
        .expect("a wrong master key is refused");
    let message = error.to_string();
    assert!(message.contains("does not match"), "{message}");
    assert!(message.contains("LATCH_MASTER_KEY"), "{message}");
    assert!(!message.contains(wrong.expose_secret()));
    assert!(!message.contains(app.master_key.expose_secret()));
}

async fn the_same_master_key_reopens_the_keyring_and_saved_secrets_still_open(app: TestApp) {
    let created = app.create_credential("before restart", "s").await;
    let restarted = Application::build(settings(&app.db.url, key(&app.master_key), false))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", restarted.port());
    tokio::spawn(restarted.run_until_stopped());
    // Rotating the secret unwraps the credential's data key with the reopened keyring.
    let response = app
        .client
        .patch(format!(
            "{address}/v1/credentials/{}?validate=false",
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&app.admin_key)
        .json(&json!({"secrets": {"client_secret": "after restart"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_passphrase_keyring_survives_a_restart_and_a_wrong_passphrase_is_refused() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let passphrase = |text: &str| MasterKeySource::Passphrase(text.to_string().into());
    Application::build(settings(&db.url, passphrase("correct horse"), false))
        .await
        .unwrap();
    Application::build(settings(&db.url, passphrase("correct horse"), false))
        .await
        .expect("the same passphrase opens the keyring again");
    let wrong = Application::build(settings(&db.url, passphrase("wrong horse"), false))
        .await
        .err()
        .unwrap();
    assert!(wrong.to_string().contains("does not match"), "{wrong}");
    let raw = MasterKey::generate().unwrap().to_base64();
    let kind = Application::build(settings(&db.url, key(&raw), false))
        .await
        .err()
        .unwrap();
    assert!(
        kind.to_string().contains("created from a passphrase"),
        "{kind}"
    );
}

#[tokio::test]
async fn development_mode_makes_a_private_key_file_and_prints_an_admin_key_only_once() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let key_file = db.dir.as_ref().unwrap().path().join("dev/master.key");
    let dev = || MasterKeySource::DevFile(key_file.clone());

    let first = Application::build(settings(&db.url, dev(), true))
        .await
        .unwrap();
    let admin_key = first
        .dev_admin_key
        .as_ref()
        .expect("an admin key on first start");
    let admin_key = admin_key.expose_secret().to_string();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let address = format!("http://127.0.0.1:{}", first.port());
    tokio::spawn(first.run_until_stopped());
    let response = reqwest::Client::new()
        .request(Method::GET, format!("{address}/v1/api-keys"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let second = Application::build(settings(&db.url, dev(), true))
        .await
        .unwrap();
    assert!(
        second.dev_admin_key.is_none(),
        "the admin key is shown only on first start"
    );
}

#[tokio::test]
async fn a_master_key_file_opens_the_keyring_and_a_file_with_another_key_is_refused() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let folder = db.dir.as_ref().unwrap().path();
    let write = |name: &str, key: &SecretString| {
        use std::os::unix::fs::PermissionsExt;
        let path = folder.join(name);
        std::fs::write(&path, format!("{}\n", key.expose_secret())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let right = write("master.key", &MasterKey::generate().unwrap().to_base64());
    let wrong = write("other.key", &MasterKey::generate().unwrap().to_base64());
    Application::build(settings(
        &db.url,
        MasterKeySource::File(right.clone()),
        false,
    ))
    .await
    .unwrap();
    Application::build(settings(&db.url, MasterKeySource::File(right), false))
        .await
        .expect("the same file opens the keyring again");
    let refused = Application::build(settings(&db.url, MasterKeySource::File(wrong), false))
        .await
        .err()
        .unwrap();
    assert!(refused.to_string().contains("does not match"), "{refused}");
    let missing = Application::build(settings(
        &db.url,
        MasterKeySource::File(folder.join("nope.key")),
        false,
    ))
    .await
    .err()
    .unwrap();
    assert!(
        missing
            .to_string()
            .contains("cannot read the master key file"),
        "{missing}"
    );
}

#[tokio::test]
async fn postgres_is_reached_over_tls_when_the_url_says_sslmode_require() {
    use sqlx::Connection;
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let mut plain = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl")
        .fetch_one(&mut plain)
        .await
        .unwrap();
    if ssl != "on" {
        // The failing side (a server without TLS) is the CLI suite's; this side needs TLS.
        eprintln!(
            "!!!!! SKIPPED postgres TLS: the server at LATCH_TEST_POSTGRES_URL has ssl off !!!!!"
        );
        return;
    }
    let url = format!("{}?sslmode=require", db.url);
    let store = latch_store::PostgresStore::connect(&url).await.unwrap();
    let (encrypted,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(encrypted, "the connection is encrypted");
    let (unencrypted,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(
                &mut sqlx::PgConnection::connect(&format!("{}?sslmode=disable", db.url))
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
    assert!(!unencrypted, "sslmode=disable is honoured too");
}
