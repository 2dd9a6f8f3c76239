//! `make contract`: schemathesis against a fresh `latch serve` on SQLite with mock-looker.
//!
//! Seeds what the operations need real ids for (a credential in use and a spare one, a data
//! source and a destination with spares, an API key to revoke, a pending connect session),
//! hands their ids to schemathesis through the environment that `schemathesis.toml` reads,
//! runs `st run` with that configuration and then reads the server's log: a run passes only
//! when schemathesis reports no failure and the server answered no request with a 500.
//!
//! latch-contract --st PATH_TO_ST
//! (`tests/contract/run` builds the virtual environment and runs this in a network namespace
//! that has only loopback, so no generated host name or address can reach past this machine.)

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use latch_tests::Replica;
use latch_tests::mock_looker::oauth::Approval;
use latch_tests::mock_looker::{MockLooker, MockLookerConfig};
use latch_vault::{ExposeSecret, MasterKey};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Schemathesis against a fresh Latch server with mock-looker")]
struct Args {
    /// The schemathesis command (`st`) of the project's virtual environment.
    #[arg(long)]
    st: PathBuf,
    /// Where `schemathesis.toml` is: the checkout's root.
    #[arg(long, default_value = ".")]
    project: PathBuf,
}

/// The OAuth client app registered in mock-looker for the server's callback.
const OAUTH_CLIENT: &str = "latch-contract";

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    latch_connector::egress::install_crypto_provider();
    let workdir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", workdir.path().join("latch.db").display());
    let log_path = workdir.path().join("server.log");
    let binary = std::env::current_exe()
        .expect("its own path")
        .with_file_name("latch-server");

    let key = admin_key(&binary, &database_url);
    let mock = MockLooker::start(MockLookerConfig::default()).await;
    let master = MasterKey::generate().expect("a master key").to_base64();
    let log = std::fs::File::create(&log_path).expect("the log file");
    let server = Replica::spawn_with_stderr(
        &binary,
        &database_url,
        master.expose_secret(),
        2,
        // A deployment whose console lives where the document's examples say it does, and
        // without the limit on failed authentications per address: schemathesis sends
        // thousands of requests with wrong keys from one address, and each must get the 401
        // it tests for, not the 429 that would slow a guesser down (tested end to end).
        &[
            ("LATCH_LOG", "info"),
            ("LATCH_CONSOLE_ORIGINS", "https://console.example.com"),
            ("LATCH_AUTH_FAILURES_PER_MINUTE", "0"),
        ],
        Stdio::from(log),
    )
    .await;
    mock.register_oauth_app(
        OAUTH_CLIENT,
        &format!("{}/v1/oauth/callback", server.address),
    );

    let seed = Seed::create(&server.address, &key, &mock).await;
    let status = Command::new(&args.st)
        .arg("run")
        .arg(format!("{}/openapi.json", server.address))
        .current_dir(&args.project)
        .envs(seed.environment())
        .status()
        .expect("schemathesis runs");
    server.terminate();
    let mut server = server;
    server.wait_exit(Duration::from_secs(10)).await;

    let log = std::fs::read_to_string(&log_path).expect("the server log");
    let failed_requests = server_errors(&log);
    for line in &failed_requests {
        eprintln!("server error: {line}");
    }
    if !status.success() {
        eprintln!("latch-contract: schemathesis reported failures ({status})");
        return ExitCode::FAILURE;
    }
    if !failed_requests.is_empty() {
        eprintln!(
            "latch-contract: the server answered {} request(s) with a 500 or logged a fault",
            failed_requests.len()
        );
        return ExitCode::FAILURE;
    }
    println!("latch-contract: no failure, no 500 in the server log");
    ExitCode::SUCCESS
}

/// Lines of the server log that tell of a 500 or a fault of Latch's own: a run must hold
/// none. (actix logs a request it could not parse at ERROR: that is the client's fault, and
/// answered 400.)
fn server_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            line.contains("status=500")
                || line.contains("panicked")
                || (line.contains(" ERROR ") && line.contains("latch"))
        })
        .collect()
}

fn admin_key(binary: &Path, database_url: &str) -> String {
    let output = Command::new(binary)
        .args(["api-key", "create", "--org", "contract", "--scope", "admin"])
        .args(["--name", "schemathesis"])
        .env("LATCH_DATABASE_URL", database_url)
        .env("LATCH_LOG", "warn")
        .output()
        .expect("latch api-key create runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a key")
        .trim()
        .to_string()
}

/// The records schemathesis is given the ids of.
struct Seed {
    key: String,
    looker_url: String,
    client_id: String,
    client_secret: String,
    credential: String,
    spare_credential: String,
    source: String,
    spare_source: String,
    destination: String,
    spare_destination: String,
    spare_api_key: String,
    connect_session: String,
    oauth_credential: String,
}

impl Seed {
    async fn create(address: &str, key: &str, mock: &MockLooker) -> Self {
        let client = Client {
            http: reqwest::Client::new(),
            address: address.to_string(),
            key: key.to_string(),
        };
        let config = mock.config();
        let credential_body = |name: &str| {
            json!({
                "name": name,
                "connector": "looker",
                "config": {"api_host_url": mock.url, "client_id": config.client_id},
                "secrets": {"client_secret": config.client_secret},
            })
        };
        let credential = client
            .create("/v1/credentials", credential_body("contract credential"))
            .await;
        let spare_credential = client
            .create(
                "/v1/credentials",
                credential_body("contract spare credential"),
            )
            .await;
        let data_source = |name: &str| {
            json!({
                "name": name,
                "connector": "looker",
                "credential_id": credential,
                "config": {},
            })
        };
        let source = client
            .create("/v1/data-sources", data_source("contract source"))
            .await;
        let spare_source = client
            .create("/v1/data-sources", data_source("contract spare source"))
            .await;
        let destination = client
            .create("/v1/data-destinations", data_source("contract destination"))
            .await;
        let spare_destination = client
            .create(
                "/v1/data-destinations",
                data_source("contract spare destination"),
            )
            .await;
        let spare_api_key = client
            .create(
                "/v1/api-keys",
                json!({"name": "contract spare key", "scopes": ["credentials:read"]}),
            )
            .await;
        let connect_session = client
            .create(
                "/v1/connect-sessions",
                json!({
                    "name": "contract oauth credential",
                    "connector": "looker",
                    "auth_method": "oauth_authorization_code",
                    "config": {
                        "api_host_url": mock.url,
                        "ui_host_url": mock.url,
                        "client_id": OAUTH_CLIENT,
                    },
                }),
            )
            .await;
        mock.set_approval(Approval::Approve);
        let oauth_credential = client.connected(&mock.url).await;
        Self {
            key: key.to_string(),
            looker_url: mock.url.clone(),
            client_id: config.client_id,
            client_secret: config.client_secret,
            credential,
            spare_credential,
            source,
            spare_source,
            destination,
            spare_destination,
            spare_api_key,
            connect_session,
            oauth_credential,
        }
    }

    /// The variables `schemathesis.toml` names.
    fn environment(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("LATCH_CONTRACT_KEY", &self.key),
            ("LATCH_CONTRACT_LOOKER_URL", &self.looker_url),
            ("LATCH_CONTRACT_CLIENT_ID", &self.client_id),
            ("LATCH_CONTRACT_CLIENT_SECRET", &self.client_secret),
            ("LATCH_CONTRACT_OAUTH_CLIENT", OAUTH_CLIENT),
            ("LATCH_CONTRACT_CREDENTIAL", &self.credential),
            ("LATCH_CONTRACT_SPARE_CREDENTIAL", &self.spare_credential),
            ("LATCH_CONTRACT_SOURCE", &self.source),
            ("LATCH_CONTRACT_SPARE_SOURCE", &self.spare_source),
            ("LATCH_CONTRACT_DESTINATION", &self.destination),
            ("LATCH_CONTRACT_SPARE_DESTINATION", &self.spare_destination),
            ("LATCH_CONTRACT_SPARE_API_KEY", &self.spare_api_key),
            ("LATCH_CONTRACT_CONNECT_SESSION", &self.connect_session),
            ("LATCH_CONTRACT_OAUTH_CREDENTIAL", &self.oauth_credential),
        ]
    }
}

struct Client {
    http: reqwest::Client,
    address: String,
    key: String,
}

impl Client {
    /// An OAuth credential made as a person makes one: a connect session, mock-looker's
    /// consent screen (which approves), and the callback it sends the browser back to.
    async fn connected(&self, looker_url: &str) -> String {
        let started = self
            .post(
                "/v1/connect-sessions",
                json!({
                    "name": "contract connected credential",
                    "connector": "looker",
                    "auth_method": "oauth_authorization_code",
                    "config": {
                        "api_host_url": looker_url,
                        "ui_host_url": looker_url,
                        "client_id": OAUTH_CLIENT,
                    },
                }),
            )
            .await;
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let authorization_url = started["authorization_url"].as_str().expect("a URL");
        let screen = browser
            .get(authorization_url)
            .send()
            .await
            .expect("the consent screen answers");
        let back = screen
            .headers()
            .get("location")
            .and_then(|location| location.to_str().ok())
            .expect("the consent sends the browser back")
            .to_string();
        let page = browser
            .get(back)
            .send()
            .await
            .expect("the callback answers");
        assert_eq!(page.status(), 200, "the consent completes");
        let id = started["id"].as_str().expect("an id");
        let session: Value = self
            .http
            .get(format!("{}/v1/connect-sessions/{id}", self.address))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("a JSON answer");
        session["credential_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no credential from the consent: {session}"))
            .to_string()
    }

    /// POSTs `body` and returns the created record; anything but 201 stops the run.
    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        let created: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, 201, "seeding {path}: {created}");
        created
    }

    /// POSTs `body` and returns the new record's id.
    async fn create(&self, path: &str, body: Value) -> String {
        let created = self.post(path, body).await;
        created["id"]
            .as_str()
            .or_else(|| created["key_id"].as_str())
            .unwrap_or_else(|| panic!("seeding {path}: no id in {created}"))
            .to_string()
    }
}
