//! The `latch` command as an operator runs it.

use std::process::{Command, Output};

fn latch(args: &[&str], database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .env_remove("LATCH_MASTER_KEY")
        .env_remove("LATCH_MASTER_KEY_FILE")
        .env_remove("LATCH_MASTER_PASSPHRASE")
        .env("LATCH_DATABASE_URL", database_url)
        .env("LATCH_LISTEN_ADDR", "127.0.0.1:0")
        .output()
        .expect("latch runs")
}

fn temp_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/latch.db", dir.path().display());
    (dir, url)
}

#[tokio::test]
async fn api_key_create_prints_the_key_alone_on_stdout_and_stores_only_its_digest() {
    let (_dir, url) = temp_database();
    let output = latch(
        &[
            "api-key",
            "create",
            "--org",
            "acme",
            "--scope",
            "credentials:read",
            "--scope",
            "tokens:issue",
        ],
        &url,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.strip_suffix('\n').expect("one line");
    assert!(!key.contains('\n'), "only the key is printed: {stdout}");
    let parts: Vec<&str> = key.split('_').collect();
    assert_eq!(parts.len(), 3, "{key}");
    assert_eq!(
        (parts[0], parts[1].len(), parts[2].len()),
        ("latch", 12, 32)
    );

    let store = latch_store::connect(&url).await.unwrap();
    let org = store
        .find_organization("acme")
        .await
        .unwrap()
        .expect("the org was created");
    let rows = store.api_keys_by_prefix(&key[..18]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].org_id, org.id);
    assert_eq!(rows[0].scopes, "credentials:read tokens:issue");
    assert!(!String::from_utf8_lossy(&rows[0].hash).contains(parts[2]));
}

#[test]
fn api_key_create_refuses_an_unknown_scope() {
    let (_dir, url) = temp_database();
    let output = latch(
        &["api-key", "create", "--org", "acme", "--scope", "root"],
        &url,
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("credentials:read"));
}

#[test]
fn serve_without_a_master_key_refuses_to_start_and_says_what_to_set() {
    let (_dir, url) = temp_database();
    let output = latch(&["serve"], &url);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in [
        "LATCH_MASTER_KEY",
        "LATCH_MASTER_KEY_FILE",
        "LATCH_MASTER_PASSPHRASE",
        "--dev",
    ] {
        assert!(stderr.contains(name), "{name} not named in: {stderr}");
    }
}

#[test]
fn serve_refuses_a_master_key_file_that_other_users_can_read() {
    let (dir, url) = temp_database();
    let path = dir.path().join("master.key");
    let key = "q6Xz0Jv3tBkO6yWJxS0m8g2p4mYgk1xq1W5h0x9cX2s=";
    std::fs::write(&path, format!("{key}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("serve")
        .env_remove("LATCH_MASTER_KEY")
        .env_remove("LATCH_MASTER_PASSPHRASE")
        .env("LATCH_DATABASE_URL", &url)
        .env("LATCH_LISTEN_ADDR", "127.0.0.1:0")
        .env("LATCH_MASTER_KEY_FILE", &path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(stderr.contains("mode 640"), "{stderr}");
    assert!(!stderr.contains(key));
}

/// A stand-in PostgreSQL server that, like one without TLS, answers `N` to the client's
/// TLS request and then closes.
fn postgres_without_tls() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = [0u8; 8];
            if stream.read_exact(&mut request).is_ok() && request[4..] == [4, 210, 22, 47] {
                let _ = stream.write_all(b"N");
            }
        }
    });
    port
}

#[test]
fn sslmode_require_against_a_server_without_tls_fails_at_start_with_a_clear_message() {
    let port = postgres_without_tls();
    let url = format!("postgres://postgres@127.0.0.1:{port}/latch?sslmode=require");
    let output = Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("serve")
        .env("LATCH_DATABASE_URL", &url)
        .env("LATCH_LISTEN_ADDR", "127.0.0.1:0")
        .env(
            "LATCH_MASTER_KEY",
            "q6Xz0Jv3tBkO6yWJxS0m8g2p4mYgk1xq1W5h0x9cX2s=",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not support TLS"), "{stderr}");
    assert!(stderr.contains("sslmode"), "{stderr}");
}

#[test]
fn serve_with_a_malformed_master_key_refuses_to_start() {
    let (_dir, url) = temp_database();
    let output = Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("serve")
        .env("LATCH_DATABASE_URL", &url)
        .env("LATCH_LISTEN_ADDR", "127.0.0.1:0")
        .env("LATCH_MASTER_KEY", "dG9vIHNob3J0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exactly 32 bytes"), "{stderr}");
    assert!(!stderr.contains("dG9vIHNob3J0"));
}

#[test]
fn the_openapi_command_prints_the_committed_spec() {
    let (_dir, url) = temp_database();
    let output = latch(&["openapi"], &url);
    assert!(output.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/openapi.json"
    ))
    .unwrap();
    assert!(
        String::from_utf8(output.stdout).unwrap() == committed,
        "openapi/openapi.json is out of date: run `make openapi`"
    );
}

#[test]
fn migrate_creates_the_database_and_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/folder/latch.db");
    let output = latch(&["migrate"], &format!("sqlite://{}", file.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(file.exists());
}

#[test]
fn an_unsupported_database_url_is_refused_without_echoing_it() {
    let output = latch(&["migrate"], "mysql://root:hunter2@localhost/latch");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unsupported database URL scheme `mysql`"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
}

/// Counts the connections a listener on 127.0.0.1 accepts (and closes at once).
fn counting_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops the server when the test ends, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_proxy_set_in_the_environment_is_never_used_for_upstream_calls() {
    let (_dir, url) = temp_database();
    let created = latch(
        &["api-key", "create", "--org", "acme", "--scope", "admin"],
        &url,
    );
    assert!(created.status.success());
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();

    let (proxy_port, proxy_hits) = counting_listener();
    let (target_port, target_hits) = counting_listener();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let port = free_port();
    let _server = Running(
        Command::new(env!("CARGO_BIN_EXE_latch"))
            .arg("serve")
            .env("LATCH_DATABASE_URL", &url)
            .env("LATCH_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "LATCH_MASTER_KEY",
                "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=",
            )
            .env("LATCH_ALLOW_HTTP_HOSTS", "true")
            .env("LATCH_EGRESS_ALLOW_CIDRS", "127.0.0.0/8")
            .env("LATCH_WORKERS", "1")
            .env("HTTP_PROXY", &proxy)
            .env("HTTPS_PROXY", &proxy)
            .env("ALL_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env("https_proxy", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    latch_connector::egress::install_crypto_provider();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            ready = response.status() == 200;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "latch serve did not start");

    let outcome: serde_json::Value = client
        .post(format!("{base}/v1/credentials/test"))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "connector": "looker",
            "config": {"api_host_url": format!("http://127.0.0.1:{target_port}"), "client_id": "id"},
            "secrets": {"client_secret": "s3cr3t"}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["status"], "unreachable", "{outcome}");
    let ordering = std::sync::atomic::Ordering::SeqCst;
    assert!(
        target_hits.load(ordering) >= 1,
        "the host itself was not called"
    );
    assert_eq!(
        proxy_hits.load(ordering),
        0,
        "the environment's proxy was used"
    );
}

#[test]
fn json_logs_are_one_object_a_line_and_an_unknown_format_is_refused() {
    let (_dir, url) = temp_database();
    // A first rewrap creates the keyring, which is logged.
    let output = Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("rewrap")
        .env("LATCH_DATABASE_URL", &url)
        .env(
            "LATCH_MASTER_KEY",
            "q6Xz0Jv3tBkO6yWJxS0m8g2p4mYgk1xq1W5h0x9cX2s=",
        )
        .env("LATCH_LOG", "info")
        .env("LATCH_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let logged: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("a JSON object"))
        .collect();
    assert!(
        logged
            .iter()
            .any(|line| line["fields"]["message"] == "created the keyring"),
        "{stderr}"
    );
    assert!(
        logged.iter().all(|line| line["level"].is_string()),
        "{stderr}"
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("migrate")
        .env("LATCH_DATABASE_URL", &url)
        .env("LATCH_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("`text` or `json`"));
}

/// `latch serve` with `LATCH_PROVIDERS_DIR` holding `file_name` with `text`: its output.
fn serve_with_provider(file_name: &str, text: &str) -> Output {
    let (dir, url) = temp_database();
    let folder = dir.path().join("providers");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join(file_name), text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("serve")
        .env("LATCH_DATABASE_URL", &url)
        .env("LATCH_LISTEN_ADDR", "127.0.0.1:0")
        .env(
            "LATCH_MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("LATCH_PROVIDERS_DIR", &folder)
        .output()
        .unwrap()
}

#[test]
fn serve_refuses_a_provider_file_that_breaks_a_rule_naming_the_file_the_field_and_why() {
    let output = serve_with_provider(
        "acme.toml",
        r#"
id = "acme"
name = "Acme"
description = "Acme's API."
docs_url = "https://docs.acme.example/oauth"
auth_methods = ["oauth_client_credentials"]

[oauth]
token_url = "http://acme.example/oauth/token"
client_auth = "client_secret_post"
"#,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("acme.toml: oauth.token_url: must start with `https://`"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_provider_file_that_is_not_toml_or_takes_a_shipped_id() {
    let output = serve_with_provider("broken.toml", "id = \"acme\"\nname = \n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.toml: line 2:"), "{stderr}");

    let shipped = include_str!("../../../providers/oauth2.toml");
    let output = serve_with_provider("mine.toml", shipped);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mine.toml: id: `oauth2` is a connector Latch ships already"),
        "{stderr}"
    );
}
