//! `make contract`: schemathesis against a fresh `latch serve` on SQLite with mock-looker.
//!
//! Seeds what the operations need real ids for (a credential in use, the credential made by
//! consent and a destination over it), hands their ids to schemathesis through the
//! environment that `schemathesis.toml` reads,
//! runs `st run` with that configuration and then reads the server's log: a run passes only
//! when schemathesis reports no failure and the server answered no request with a 500.
//!
//! The document's examples and schemathesis' boundary values are sent as written, so the
//! run's world accepts whatever a schema-valid request names: every host name resolves to
//! this machine ([`DnsCatchAll`]), where a TLS front ([`TlsFront`], whose authority the server
//! trusts through `SSL_CERT_FILE`) answers on the Looker ports as mock-looker, which logs in
//! any API key and hands every other path to an authorization server that grants any client
//! (the declared providers' endpoints); and the credentials whose ids the data source
//! examples select exist.
//! (Whether Looker accepts a key, or a host answers, is Looker's and the network's answer, not
//! the document's: refusals and unreachable hosts are tested end to end.)
//!
//! latch-contract --st PATH_TO_ST
//! (`tests/contract/run` builds the virtual environment and runs this in a network namespace
//! that has only loopback, so no request can reach past this machine, and in a mount
//! namespace whose `/etc/resolv.conf` names the DNS server this starts on 127.0.0.1.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use latch_tests::Replica;
use latch_tests::dns_catch_all::DnsCatchAll;
use latch_tests::mock_looker::oauth::Approval;
use latch_tests::mock_looker::{MockLooker, MockLookerConfig};
use latch_tests::mock_oauth::{MockOAuth, Profile};
use latch_tests::replica::admin_key;
use latch_tests::stored::{StoredCredential, store_credential};
use latch_tests::tls_front::TlsFront;
use latch_vault::{ExposeSecret, Kek, Keyring, MasterKey};
use serde_json::{Value, json};
use uuid::Uuid;

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

/// The OAuth client app registered in mock-looker for the consent organization's app.
const OAUTH_CLIENT: &str = "latch-contract";
/// The client of the apps the document's examples name.
const EXAMPLE_OAUTH_CLIENT: &str = "latch-production";

/// The Looker host and API key of the credentials stored for the document's examples.
const EXAMPLE_LOOKER_URL: &str = "https://acme.cloud.looker.com";
const EXAMPLE_CLIENT_ID: &str = "AbCdEfGh12345678";
const EXAMPLE_CLIENT_SECRET: &str = "s3cr3t-from-looker";

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

    let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let _dns = DnsCatchAll::start(local(53)).await;
    if let Err(problem) = every_name_is_local().await {
        eprintln!(
            "latch-contract: {problem}; run it through tests/contract/run (`make contract`), \
             whose namespace sends name lookups to the DNS server this starts"
        );
        return ExitCode::FAILURE;
    }
    let key = admin_key(&binary, &database_url, "contract");
    // The credential made by consent lives in an organization of its own, which only the
    // reconnect operation's key reaches: the other operations (deletions among them) cannot
    // see it, so it is still there to reconnect when the stateful phase comes.
    let consent_key = admin_key(&binary, &database_url, "contract-consent");
    let mock = MockLooker::start(MockLookerConfig::default()).await;
    mock.accept_any_api_key();
    // The declared providers' endpoints answer on the same hosts: what mock-looker does not
    // have goes to an authorization server that grants any client.
    let authorization_server = MockOAuth::start(Profile {
        expires_in: Some(3600),
        accept_any_client: true,
        ..Profile::default()
    })
    .await;
    mock.forward_others_to(&authorization_server.url);
    let mock_address: SocketAddr = mock
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("mock-looker's address");
    // Every port Looker's connector calls (the egress rules let it call no other).
    let ports: Vec<SocketAddr> = latch_connector::Connector::ports(&latch_connector_looker::Looker)
        .iter()
        .map(|port| local(*port))
        .collect();
    let front = TlsFront::start(&ports, mock_address).await;
    let authority = workdir.path().join("authority.pem");
    std::fs::write(&authority, &front.authority_pem).expect("the authority's certificate");
    let master = MasterKey::generate().expect("a master key").to_base64();
    let example_ids = example_ids(&args.project, "credential_id");
    store_example_credentials(&database_url, master.expose_secret(), &example_ids).await;
    store_example_apps(&database_url, &args.project).await;
    let log = std::fs::File::create(&log_path).expect("the log file");
    let server = Replica::spawn_with_stderr(
        &binary,
        &database_url,
        master.expose_secret(),
        2,
        // A deployment whose console lives where the document's examples say it does, and
        // without the limit on failed authentications per address: schemathesis sends
        // thousands of requests with wrong keys from one address, and each must get the 401
        // it tests for, not the 429 that would slow a guesser down (tested end to end). It
        // trusts the run's own certificate authority, and only that one.
        &[
            ("LATCH_LOG", "info"),
            ("LATCH_CONSOLE_ORIGINS", "https://console.example.com"),
            ("LATCH_AUTH_FAILURES_PER_MINUTE", "0"),
            ("SSL_CERT_FILE", authority.to_str().expect("a UTF-8 path")),
        ],
        Stdio::from(log),
    )
    .await;
    let seed = Seed::create(&server.address, &key, &consent_key, &mock).await;
    let status = Command::new(&args.st)
        .arg("run")
        .arg(format!("{}/openapi.json", server.address))
        .current_dir(&args.project)
        .envs(seed.environment())
        .status()
        .expect("schemathesis runs");
    let failed_requests = server.stop_and_read_faults(&log_path).await;
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

/// `Err` unless any name resolves to this machine, as in `tests/contract/run`'s namespace:
/// nothing may go anywhere else.
async fn every_name_is_local() -> Result<(), String> {
    for host in ["acme.cloud.looker.com", "a"] {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, 443))
            .await
            .map_err(|error| format!("{host} does not resolve ({error})"))?
            .collect();
        if addresses.is_empty() || addresses.iter().any(|address| !address.ip().is_loopback()) {
            return Err(format!(
                "{host} resolves to {addresses:?}, not to this machine"
            ));
        }
    }
    Ok(())
}

/// The ids the document's request examples name in `field` (`credential_id`, `oauth_app_id`):
/// the examples are accepted only where those records exist.
fn example_ids(project: &Path, field: &str) -> Vec<Uuid> {
    let path = project.join("openapi/openapi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let document: Value = serde_json::from_str(&text).expect("the document is JSON");
    let mut ids: Vec<Uuid> = document["components"]["schemas"]
        .as_object()
        .expect("the document has schemas")
        .values()
        .filter_map(|schema| schema["example"][field].as_str())
        .map(|id| Uuid::parse_str(id).expect("an example id is a UUID"))
        .collect();
    ids.sort();
    ids.dedup();
    assert!(!ids.is_empty(), "the examples name no {field}");
    ids
}

/// The OAuth apps the examples name, stored under those ids (an id cannot be chosen through
/// the API), for the examples' Looker and client: the reconnect's in the consent organization,
/// where the credential it reconnects lives; the others in the admin key's.
async fn store_example_apps(database_url: &str, project: &Path) {
    let store = latch_store::connect(database_url)
        .await
        .expect("the database opens");
    let path = project.join("openapi/openapi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let document: Value = serde_json::from_str(&text).expect("the document is JSON");
    let mut apps: Vec<(&str, Uuid)> = document["components"]["schemas"]
        .as_object()
        .expect("the document has schemas")
        .iter()
        .filter_map(|(schema, body)| Some((schema, body["example"]["oauth_app_id"].as_str()?)))
        .map(|(schema, id)| {
            let org = if schema == "ReconnectRequest" {
                "contract-consent"
            } else {
                "contract"
            };
            (org, Uuid::parse_str(id).expect("an example id is a UUID"))
        })
        .collect();
    assert!(!apps.is_empty(), "the examples name no OAuth app");
    apps.sort();
    apps.dedup();
    for (n, (org, id)) in apps.iter().enumerate() {
        let org = store
            .find_organization(org)
            .await
            .expect("the store answers")
            .expect("the organization of a key");
        let app = latch_store::NewOAuthApp {
            id: *id,
            org_id: org.id,
            connector: "looker".into(),
            name: format!("example app {n}"),
            description: None,
            config: json!({
                "api_host_url": EXAMPLE_LOOKER_URL,
                "ui_host_url": EXAMPLE_LOOKER_URL,
                "client_id": EXAMPLE_OAUTH_CLIENT,
            }),
            secrets: None,
        };
        let event = latch_store::NewAuditEvent {
            org_id: Some(org.id),
            actor_key_id: None,
            action: "oauth_app.created".into(),
            target_type: "oauth_app".into(),
            target_id: Some(id.to_string()),
            outcome: "success".into(),
            detail: json!({}),
        };
        store
            .insert_oauth_app(&app, &event)
            .await
            .expect("an example app is stored");
    }
}

/// The credentials the examples select, stored as the server stores them (an id cannot be
/// chosen through the API).
async fn store_example_credentials(database_url: &str, master_key: &str, ids: &[Uuid]) {
    let store = latch_store::connect(database_url)
        .await
        .expect("the database opens");
    let org = store
        .find_organization("contract")
        .await
        .expect("the store answers")
        .expect("the organization of the admin key");
    let master = MasterKey::from_base64(&master_key.to_string().into()).expect("the master key");
    let keyring = Keyring::new(Kek::new("kek-1", master));
    for (n, id) in ids.iter().enumerate() {
        let credential = StoredCredential {
            id: *id,
            org_id: org.id,
            name: format!("example credential {n}"),
            config: json!({"api_host_url": EXAMPLE_LOOKER_URL, "client_id": EXAMPLE_CLIENT_ID}),
            secrets: &json!({"client_secret": EXAMPLE_CLIENT_SECRET}),
        };
        store_credential(store.as_ref(), &keyring, credential).await;
    }
}

/// What schemathesis is given through the environment: keys, and the ids of records it
/// cannot make itself.
struct Seed {
    key: String,
    consent_key: String,
    credential: String,
    oauth_credential: String,
    consent_destination: String,
    /// The consent organization's app (for reconnects) and one of the main organization's.
    consent_app: String,
    app: String,
}

impl Seed {
    /// A credential with a source and a destination over it, so that every list holds a
    /// record from the first request on; and, in the consent organization, the credential
    /// made by consent and a destination over it.
    async fn create(address: &str, key: &str, consent_key: &str, mock: &MockLooker) -> Self {
        let client = Client {
            http: reqwest::Client::new(),
            address: address.to_string(),
            key: key.to_string(),
        };
        let consent_client = Client {
            key: consent_key.to_string(),
            ..client.clone()
        };
        let config = mock.config();
        let credential = client
            .create(
                "/v1/credentials",
                json!({
                    "name": "contract credential",
                    "connector": "looker",
                    "config": {"api_host_url": EXAMPLE_LOOKER_URL, "client_id": config.client_id},
                    "secrets": {"client_secret": config.client_secret},
                }),
            )
            .await;
        for (collection, name) in [
            ("/v1/data-sources", "contract source"),
            ("/v1/data-destinations", "contract destination"),
        ] {
            let over = json!({"name": name, "connector": "looker", "credential_id": credential});
            client.create(collection, over).await;
        }
        mock.set_approval(Approval::Approve);
        let app = client
            .app("contract app", EXAMPLE_LOOKER_URL, EXAMPLE_OAUTH_CLIENT)
            .await;
        let consent_app = consent_client
            .app("consent app", &mock.url, OAUTH_CLIENT)
            .await;
        mock.register_oauth_app(
            OAUTH_CLIENT,
            consent_app["redirect_uri"]
                .as_str()
                .expect("a redirect URI"),
        );
        let consent_app = consent_app["id"].as_str().expect("an id").to_string();
        let oauth_credential = consent_client.connected(&consent_app).await;
        let consent_destination = consent_client
            .create(
                "/v1/data-destinations",
                json!({
                    "name": "contract consent destination",
                    "connector": "looker",
                    "credential_id": oauth_credential,
                }),
            )
            .await;
        Self {
            key: key.to_string(),
            consent_key: consent_key.to_string(),
            credential,
            oauth_credential,
            consent_destination,
            consent_app,
            app: app["id"].as_str().expect("an id").to_string(),
        }
    }

    /// The variables `schemathesis.toml` names.
    fn environment(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("LATCH_CONTRACT_KEY", &self.key),
            ("LATCH_CONTRACT_CONSENT_KEY", &self.consent_key),
            ("LATCH_CONTRACT_OAUTH_CLIENT", OAUTH_CLIENT),
            ("LATCH_CONTRACT_CREDENTIAL", &self.credential),
            ("LATCH_CONTRACT_OAUTH_CREDENTIAL", &self.oauth_credential),
            (
                "LATCH_CONTRACT_CONSENT_DESTINATION",
                &self.consent_destination,
            ),
            ("LATCH_CONTRACT_OAUTH_APP", &self.app),
            ("LATCH_CONTRACT_CONSENT_APP", &self.consent_app),
        ]
    }
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    address: String,
    key: String,
}

impl Client {
    /// An OAuth credential made as a person makes one: a connect session, mock-looker's
    /// consent screen (which approves), and the callback it sends the browser back to.
    async fn connected(&self, app_id: &str) -> String {
        let started = self
            .post(
                "/v1/connect-sessions",
                json!({"name": "contract connected credential", "oauth_app_id": app_id}),
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

    /// An OAuth app of the key's organization for `client_id` at `looker_url`.
    async fn app(&self, name: &str, looker_url: &str, client_id: &str) -> Value {
        self.post(
            "/v1/oauth-apps",
            json!({
                "name": name,
                "connector": "looker",
                "config": {
                    "api_host_url": looker_url,
                    "ui_host_url": looker_url,
                    "client_id": client_id,
                },
            }),
        )
        .await
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
