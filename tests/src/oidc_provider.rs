//! panva's `oidc-provider` (npm, OpenID Certified) as a real authorization server for the
//! suites: `tests/oidc-provider/server.mjs` on the machine's Node.js, on 127.0.0.1 and a port
//! of the system's choosing. `make test` installs the pinned package beside the script
//! (`tests/oidc-provider/install`); without Node or the package the suite is skipped loudly,
//! and with `LATCH_REQUIRE_OIDC_PROVIDER=1` (CI) that is a failure instead.
//!
//! Clients are registered through the server's own Dynamic Client Registration (RFC 7591) and
//! updated through its Registration Management (RFC 7592). A consent is walked as a browser
//! walks it, one redirect at a time, with the server's cookies kept by hand (the suites'
//! HTTP client has no cookie store).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::skips;

/// The oldest Node.js `oidc-provider` 8.8.1 runs on: its start-up check asks for the v18 LTS
/// ("Hydrogen") or a later one.
pub const OLDEST_NODE: u32 = 18;

/// A running server; stopped when dropped.
pub struct OidcProvider {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server names itself.
    pub issuer: String,
    output: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

/// A client the server registered: what an admin copies into Latch.
#[derive(Clone)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret: String,
    metadata: Value,
}

impl OidcProvider {
    /// The running server, or `None` (said loudly once) when it cannot run here and is not
    /// required.
    pub async fn start() -> Option<Self> {
        let script = folder().join("server.mjs");
        if let Err(why) = runnable() {
            if std::env::var("LATCH_REQUIRE_OIDC_PROVIDER").as_deref() == Ok("1") {
                panic!("LATCH_REQUIRE_OIDC_PROVIDER=1 but oidc-provider cannot run: {why}");
            }
            skips::oidc_provider(&why);
            return None;
        }
        let mut child = Command::new("node")
            .arg(&script)
            .current_dir(folder())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (issuer_tx, issuer_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        let lines = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(first) = serde_json::from_str::<Value>(&line)
                    && let Some(issuer) = first["issuer"].as_str()
                {
                    let _ = issuer_tx.send(issuer.to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let stderr = child.stderr.take().expect("piped");
        let lines = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let issuer =
            tokio::task::spawn_blocking(move || issuer_rx.recv_timeout(Duration::from_secs(30)))
                .await
                .unwrap()
                .unwrap_or_else(|_| {
                    panic!(
                        "oidc-provider did not start: {:?}",
                        output.lock().unwrap().join("\n")
                    )
                });
        latch_connector::egress::install_crypto_provider();
        Some(Self {
            child,
            issuer,
            output,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        })
    }

    pub fn authorization_url(&self) -> String {
        format!("{}/auth", self.issuer)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    pub fn userinfo_url(&self) -> String {
        format!("{}/me", self.issuer)
    }

    pub fn revocation_url(&self) -> String {
        format!("{}/token/revocation", self.issuer)
    }

    /// Registers a client (RFC 7591) with these metadata.
    pub async fn register(&self, metadata: Value) -> RegisteredClient {
        let response = self
            .http
            .post(format!("{}/reg", self.issuer))
            .json(&metadata)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let registered: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{registered}");
        RegisteredClient {
            client_id: registered["client_id"].as_str().unwrap().to_string(),
            client_secret: registered["client_secret"].as_str().unwrap().to_string(),
            metadata: registered,
        }
    }

    /// Replaces a registered client's redirect URIs (RFC 7592 §2.2: the whole metadata, sent
    /// back with the change).
    pub async fn set_redirect_uris(&self, client: &RegisteredClient, uris: &[&str]) {
        let mut metadata = client.metadata.clone();
        let object = metadata.as_object_mut().unwrap();
        for issued in [
            "registration_access_token",
            "registration_client_uri",
            "client_secret_expires_at",
            "client_id_issued_at",
        ] {
            object.remove(issued);
        }
        object.insert("redirect_uris".into(), json!(uris));
        let response = self
            .http
            .put(client.metadata["registration_client_uri"].as_str().unwrap())
            .bearer_auth(
                client.metadata["registration_access_token"]
                    .as_str()
                    .unwrap(),
            )
            .json(&metadata)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
    }

    /// Whether the server holds `token` active (RFC 7662), asked as `client`.
    pub async fn is_active(&self, client: &RegisteredClient, token: &str) -> bool {
        let response = self
            .http
            .post(format!("{}/token/introspection", self.issuer))
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        answer["active"] == true
    }

    /// How many times the server emitted `event` (`grant.revoked`, `refresh_token.consumed`).
    pub fn events(&self, event: &str) -> usize {
        self.output
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["event"] == event)
            .count()
    }

    /// Everything the server printed, for a failing assertion's message.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// Walks a consent from the authorization URL Latch hands out, as a browser would: each
    /// redirect followed, the server's cookies kept, its interaction approved for its one
    /// person. Returns Latch's answer to the redirect back (the callback page).
    pub async fn consent(&self, authorization_url: &str, latch_address: &str) -> reqwest::Response {
        let mut cookies = CookieJar::default();
        let mut next = authorization_url.to_string();
        for _ in 0..10 {
            let ours = next.starts_with(&self.issuer);
            let mut request = self.http.get(&next);
            if ours && let Some(header) = cookies.header() {
                request = request.header("cookie", header);
            }
            let response = request.send().await.unwrap();
            if next.starts_with(latch_address) && !response.status().is_redirection() {
                return response;
            }
            if ours {
                cookies.keep(&response);
            }
            assert!(
                response.status().is_redirection(),
                "{next} answered {}: {}\n{}",
                response.status(),
                response.text().await.unwrap_or_default(),
                self.output()
            );
            let location = response.headers()["location"].to_str().unwrap();
            next = match location.starts_with('/') {
                true => format!("{}{location}", origin_of(&next)),
                false => location.to_string(),
            };
        }
        panic!("the consent did not come back to Latch: {next}");
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cookies one server set, by name (its own paths are all under one host and port here).
#[derive(Default)]
struct CookieJar(HashMap<String, String>);

impl CookieJar {
    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap_or_default();
            let pair = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = set
                .to_ascii_lowercase()
                .contains("expires=thu, 01 jan 1970");
            if value.is_empty() || expired {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

fn origin_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    parsed.origin().ascii_serialization()
}

/// `tests/oidc-provider`: the script, its pinned package and (once installed) `node_modules`.
fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// Why the server cannot run here, if it cannot.
fn runnable() -> Result<(), String> {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|_| "`node` is not on PATH".to_string())?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0);
    if major < OLDEST_NODE {
        return Err(format!(
            "node {version} is older than v{OLDEST_NODE}, the oldest oidc-provider 8.8.1 runs on"
        ));
    }
    if !folder().join("node_modules/oidc-provider").is_dir() {
        return Err(
            "tests/oidc-provider/node_modules is missing (`tests/oidc-provider/install` puts it there; `make test` runs it)"
                .into(),
        );
    }
    Ok(())
}
