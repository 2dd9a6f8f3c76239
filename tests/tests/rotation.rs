//! Master key rotation as an operator does it, with real processes: start the servers with the
//! new key and the old one as a previous key, run `latch rewrap` while they serve, then drop
//! the old key.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use latch_tests::{Replica, WithMock, on_both_backends};
use latch_vault::{ExposeSecret, MasterKey};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    WithMock:
        a_rotation_while_serving_fails_no_request_and_then_the_old_key_can_go,
        a_server_lacking_a_kek_that_still_wraps_data_keys_refuses_to_start_naming_it,
);

const LATCH: &str = env!("CARGO_BIN_EXE_latch-server");

/// Runs a `latch` command on the fixture's database with `envs`, as an operator would.
fn latch(fixture: &WithMock, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(LATCH)
        .args(args)
        .env_remove("LATCH_MASTER_KEY")
        .env_remove("LATCH_PREVIOUS_MASTER_KEYS")
        .env("LATCH_DATABASE_URL", &fixture.app.db.url)
        .env("LATCH_LOG", "warn")
        .envs(envs.iter().copied())
        .output()
        .expect("latch runs")
}

/// The fixture server's master key and a new one, as base64.
fn keys(fixture: &WithMock) -> (String, String) {
    let new_key = MasterKey::generate().unwrap().to_base64();
    (
        fixture.app.master_key.expose_secret().to_string(),
        new_key.expose_secret().to_string(),
    )
}

/// The variables of a server or command in the middle of a rotation.
fn rotating<'a>(old_key: &'a str, new_key: &'a str) -> [(&'static str, &'a str); 2] {
    [
        ("LATCH_MASTER_KEY", new_key),
        ("LATCH_PREVIOUS_MASTER_KEYS", old_key),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A credential mock-looker accepts (logged in once) and `fillers` untested ones; the good one's id.
async fn credentials(fixture: &WithMock, fillers: usize) -> String {
    let app = &fixture.app;
    let response = app
        .admin(Method::POST, "/v1/credentials")
        .json(&fixture.good_credential("rotated"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let good: Value = response.json().await.unwrap();
    for n in 0..fillers {
        app.create_credential(&format!("filler {n}"), "s").await;
    }
    good["id"].as_str().unwrap().to_string()
}

/// Requests that open the credential's data key on `address`: a test login and a forced
/// token. `true` when both succeeded.
async fn use_secret(fixture: &WithMock, address: &str, id: &str) -> bool {
    let client = &fixture.app.client;
    let key = &fixture.app.admin_key;
    let validated = client
        .post(format!("{address}/v1/credentials/{id}/validate"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let token = client
        .post(format!("{address}/v1/credentials/{id}/token"))
        .bearer_auth(key)
        .json(&json!({"min_ttl_seconds": 0}))
        .send()
        .await
        .unwrap();
    let valid =
        validated.status() == 200 && validated.json::<Value>().await.unwrap()["status"] == "valid";
    valid && token.status() == 200
}

async fn a_rotation_while_serving_fails_no_request_and_then_the_old_key_can_go(fixture: WithMock) {
    let fixture = Arc::new(fixture);
    let id = credentials(&fixture, 120).await;
    let (old_key, new_key) = keys(&fixture);
    let rotating = rotating(&old_key, &new_key);

    // The servers restart with the new key and the old one as a previous key.
    let replica = Replica::spawn_with_env(
        Path::new(LATCH),
        &fixture.app.db.url,
        &new_key,
        2,
        &rotating[1..],
    )
    .await;
    let keys = text(&latch(&fixture, &["keys"], &[]).stdout);
    assert!(keys.contains("kek-1") && keys.contains("retired"), "{keys}");
    assert!(keys.contains("kek-2") && keys.contains("active"), "{keys}");

    // Jobs and people keep using secrets while the rewrap runs.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (fixture, stop, served, failed) = (
            fixture.clone(),
            stop.clone(),
            served.clone(),
            failed.clone(),
        );
        let (address, id) = (replica.address.clone(), id.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if use_secret(&fixture, &address, &id).await {
                    served.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let rewrap = tokio::task::spawn_blocking({
        let fixture = fixture.clone();
        let rotating: Vec<(String, String)> = rotating
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move || {
            let envs: Vec<(&str, &str)> = rotating
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            latch(&fixture, &["rewrap", "--batch-size", "10"], &envs)
        }
    })
    .await
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    let stdout = text(&rewrap.stdout);
    assert!(rewrap.status.success(), "{stdout}{}", text(&rewrap.stderr));
    assert!(
        stdout.contains("before:\n  kek-1: 121 data keys\n  kek-2: 0 data keys"),
        "{stdout}"
    );
    assert!(
        stdout.contains("after:\n  kek-1: 0 data keys\n  kek-2: 121 data keys"),
        "{stdout}"
    );
    assert!(served.load(Ordering::SeqCst) > 0);
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request failed during the rewrap"
    );
    assert!(!stdout.contains(&new_key) && !stdout.contains(&old_key));

    // Run again: nothing left to do.
    let again = latch(&fixture, &["rewrap"], &rotating);
    assert!(
        text(&again.stdout).contains("rewrapped: 0"),
        "{}",
        text(&again.stdout)
    );

    // A server given the new key alone starts and opens every secret.
    drop(replica);
    let alone = Replica::spawn(Path::new(LATCH), &fixture.app.db.url, &new_key).await;
    assert!(use_secret(&fixture, &alone.address, &id).await);
    let keys = text(&latch(&fixture, &["keys"], &[]).stdout);
    assert!(
        keys.lines()
            .any(|line| line.starts_with("kek-2") && line.ends_with(" 121")),
        "{keys}"
    );
}

async fn a_server_lacking_a_kek_that_still_wraps_data_keys_refuses_to_start_naming_it(
    fixture: WithMock,
) {
    credentials(&fixture, 5).await;
    let (old_key, new_key) = keys(&fixture);
    let rotating = rotating(&old_key, &new_key);
    let serve_alone = || {
        latch(
            &fixture,
            &["serve"],
            &[
                ("LATCH_MASTER_KEY", &new_key),
                ("LATCH_LISTEN_ADDR", "127.0.0.1:0"),
            ],
        )
    };

    // The rewrap rotates the keyring itself when no server did yet; interrupted after one
    // batch of two, it leaves the rest under the old KEK.
    let partial = latch(
        &fixture,
        &["rewrap", "--batch-size", "2", "--max-batches", "1"],
        &rotating,
    );
    assert!(partial.status.success(), "{}", text(&partial.stderr));
    assert!(text(&partial.stdout).contains("  kek-1: 4 data keys\n  kek-2: 2 data keys"));

    let refused = serve_alone();
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("`kek-1` (4 data keys)"), "{stderr}");
    assert!(stderr.contains("LATCH_PREVIOUS_MASTER_KEYS"), "{stderr}");
    assert!(!stderr.contains(&new_key));

    // The old key alone is retired now: refused, with what to do.
    let retired = latch(
        &fixture,
        &["serve"],
        &[
            ("LATCH_MASTER_KEY", &old_key),
            ("LATCH_LISTEN_ADDR", "127.0.0.1:0"),
        ],
    );
    assert!(text(&retired.stderr).contains("retired when `kek-2` became active"));

    // Picked up where it stopped, with the previous key read from a file this time: one key
    // a line, private to its owner.
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("previous.keys");
    std::fs::write(&file, format!("# retired 2026-11\n{old_key}\n")).unwrap();
    let chmod = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let from_file = [
        ("LATCH_MASTER_KEY", new_key.as_str()),
        ("LATCH_PREVIOUS_MASTER_KEYS_FILE", file.to_str().unwrap()),
    ];
    chmod(0o644);
    let loose = latch(&fixture, &["rewrap"], &from_file);
    assert!(!loose.status.success());
    assert!(
        text(&loose.stderr).contains("chmod 600"),
        "{}",
        text(&loose.stderr)
    );
    chmod(0o600);
    let rest = latch(&fixture, &["rewrap"], &from_file);
    assert!(
        text(&rest.stdout).contains("rewrapped: 4"),
        "{}",
        text(&rest.stdout)
    );
    let replica = Replica::spawn(Path::new(LATCH), &fixture.app.db.url, &new_key).await;
    let response = fixture
        .app
        .client
        .get(format!("{}/readyz", replica.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
