//! A connector the core has never heard of, written here as a second crate's would be: it
//! declares its methods, its port, its token lifetime and the metadata jobs need, and the
//! server (catalogue, egress, broker, document) follows the declarations with no line of
//! shared code naming it. Its upstream is a small token API over real HTTP on 127.0.0.1 that
//! answers no `expires_in`, a lower-case `bearer` and an `instance_url`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use async_trait::async_trait;
use latch_connector::{
    AccessToken, AuthMethod, Connector, EgressClient, FieldKind, FieldSpec, Fields, SecretFields,
    UpstreamError, ValidationOutcome,
};
use latch_core::catalogue::Catalogue;
use latch_tests::{Backend, TestApp, TestOptions};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

/// The instance every call of a Ledger job must go to, as the token answer names it.
const INSTANCE_URL: &str = "https://eu7.ledger.example";

const CONFIG: &[FieldSpec] = &[FieldSpec {
    name: "base_url",
    title: "Ledger URL",
    help: "Where the Ledger API answers.",
    kind: FieldKind::HostUrl,
    max_len: 2048,
    example: "https://api.ledger.example",
    binds_secret: true,
    pattern: None,
    choices: &[],
    default: None,
    optional: false,
}];

const SECRETS: &[FieldSpec] = &[FieldSpec {
    name: "api_token",
    title: "API token",
    help: "A Ledger API token.",
    kind: FieldKind::Secret,
    max_len: 256,
    example: "",
    binds_secret: false,
    pattern: None,
    choices: &[],
    default: None,
    optional: false,
}];

/// A second connector: client credentials only, on its upstream's own port.
struct Ledger {
    port: &'static [u16],
    lifetime: Option<Duration>,
}

impl Ledger {
    async fn token(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        let base = config["base_url"].as_str().unwrap_or_default();
        let url = url::Url::parse(&format!("{}/token", base.trim_end_matches('/')))
            .map_err(|_| UpstreamError::error("no valid base URL"))?;
        let request = egress
            .request(Method::POST, url)
            .map_err(|error| UpstreamError::from_egress(base, error))?
            .form(&[("api_token", secrets.get("api_token").unwrap_or_default())]);
        let answer = egress
            .execute(request)
            .await
            .map_err(|error| UpstreamError::from_egress(base, error))?;
        if answer.status != 200 {
            return Err(UpstreamError::invalid("Ledger refused the API token"));
        }
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| UpstreamError::error("Ledger answered something that is not JSON"))?;
        let mut token = AccessToken::new(
            SecretString::from(
                body["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
            body["token_type"].as_str().unwrap_or("Bearer"),
            body["expires_in"].as_u64(),
        );
        token
            .metadata
            .insert("instance_url".into(), body["instance_url"].clone());
        Ok(token)
    }
}

#[async_trait]
impl Connector for Ledger {
    fn id(&self) -> &'static str {
        "ledger"
    }
    fn name(&self) -> &'static str {
        "Ledger"
    }
    fn description(&self) -> &'static str {
        "A bookkeeping API, for the tests."
    }
    fn docs_url(&self) -> &'static str {
        "https://ledger.example/docs"
    }
    fn config_fields(&self) -> &'static [FieldSpec] {
        CONFIG
    }
    fn secret_fields(&self) -> &'static [FieldSpec] {
        SECRETS
    }
    fn auth_methods(&self) -> &'static [AuthMethod] {
        &[AuthMethod::ClientCredentials]
    }
    fn ports(&self) -> &'static [u16] {
        self.port
    }
    fn default_token_lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
    async fn fetch_token(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        self.token(egress, config, secrets).await
    }
    async fn test_login(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> ValidationOutcome {
        match self.token(egress, config, secrets).await {
            Ok(_) => ValidationOutcome::valid("logged in to Ledger", json!({"id": "acct-1"})),
            Err(error) => error.into_outcome(),
        }
    }
    async fn revoke(&self, _: &EgressClient, _: &Fields, _: &SecretFields, _: &SecretString) {}
}

/// Ledger's token endpoint: `POST /token`, counting the tokens it hands out.
struct LedgerUpstream {
    port: u16,
    logins: Arc<AtomicU64>,
}

impl LedgerUpstream {
    async fn start() -> Self {
        let logins = Arc::new(AtomicU64::new(0));
        let counted = logins.clone();
        let server = HttpServer::new(move || {
            let counted = counted.clone();
            App::new().route(
                "/token",
                web::post().to(move || {
                    let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    async move {
                        HttpResponse::Ok().json(json!({
                            "access_token": format!("ledger-token-{n}"),
                            "token_type": "bearer",
                            "instance_url": INSTANCE_URL,
                        }))
                    }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self { port, logins }
    }

    fn logins(&self) -> u64 {
        self.logins.load(Ordering::SeqCst)
    }

    /// A name for it that only the test's resolver knows: egress judges a name's port by the
    /// calling connector (an address in an opened range would take any port).
    fn url(&self) -> String {
        format!("http://ledger.test:{}", self.port)
    }
}

/// The options of a server offering Looker and a Ledger with `lifetime`, which can reach
/// `ledger.test` (this machine) on the ports the connectors declare.
fn options(upstream: &LedgerUpstream, lifetime: Option<Duration>) -> TestOptions {
    let port: &'static [u16] = Box::leak(Box::new([upstream.port]));
    let mut options = TestOptions::mock_reachable();
    options.egress.fixed_hosts = Some(Arc::new(HashMap::from([(
        "ledger.test".to_string(),
        vec!["127.0.0.1".parse().unwrap()],
    )])));
    options.catalogue = Some(Catalogue::new(vec![
        Arc::new(latch_connector_looker::Looker),
        Arc::new(Ledger { port, lifetime }),
    ]));
    options
}

/// A server offering Looker and a Ledger that declares a 30-minute token lifetime.
pub struct WithLedger {
    app: TestApp,
    upstream: LedgerUpstream,
}

impl WithLedger {
    pub async fn create(backend: Backend) -> Option<Self> {
        Self::declaring(backend, Some(Duration::from_secs(1800))).await
    }

    async fn declaring(backend: Backend, lifetime: Option<Duration>) -> Option<Self> {
        let upstream = LedgerUpstream::start().await;
        let app = TestApp::create_with(backend, options(&upstream, lifetime)).await?;
        Some(Self { app, upstream })
    }
}

/// As [`WithLedger`], with a Ledger that declares no lifetime.
pub struct WithTimelessLedger(WithLedger);

impl WithTimelessLedger {
    pub async fn create(backend: Backend) -> Option<Self> {
        Some(Self(WithLedger::declaring(backend, None).await?))
    }
}

fn ledger_credential(name: &str, upstream: &LedgerUpstream) -> Value {
    json!({
        "name": name,
        "connector": "ledger",
        "config": {"base_url": upstream.url()},
        "secrets": {"api_token": "ledger-api-token"}
    })
}

async fn a_second_connector_is_listed_documented_and_served_by_its_declarations(
    fixture: WithLedger,
) {
    let WithLedger { app, upstream } = fixture;

    let (status, ledger) = app.send(Method::GET, "/v1/connectors/ledger", None).await;
    assert_eq!(status, 200, "{ledger}");
    let methods: Vec<&str> = ledger["auth_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method["id"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["client_credentials"], "only what it declares");
    let (_, looker) = app.send(Method::GET, "/v1/connectors/looker", None).await;
    assert_eq!(looker["auth_methods"].as_array().unwrap().len(), 2);

    let document: Value = app
        .anonymous(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &document["components"]["schemas"];
    assert!(schemas["ledger.config"]["properties"]["base_url"].is_object());
    assert!(schemas["ledger.secrets"]["properties"]["api_token"]["writeOnly"] == true);
    assert!(schemas["ledger.oauth_authorization_code.config"].is_null());

    let (status, credential) = app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&ledger_credential("Books", &upstream)),
        )
        .await;
    assert_eq!(status, 201, "{credential}");
    assert_eq!(credential["status"], "valid", "{credential}");
    let token_path = format!(
        "/v1/credentials/{}/token",
        credential["id"].as_str().unwrap()
    );
    let (status, token) = app.send(Method::POST, &token_path, None).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "bearer", "as the upstream named it");
    assert_eq!(token["metadata"], json!({"instance_url": INSTANCE_URL}));
    let left = token["expires_in"].as_i64().unwrap();
    assert!(
        (1790..=1800).contains(&left),
        "the declared lifetime: {left}"
    );
    let logins = upstream.logins();

    // Another replica reads the same token from the store, with what came with it.
    let replica = app.replica(self::options(&upstream, None)).await;
    let from_store: Value = app
        .client
        .post(format!("{replica}{token_path}"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(from_store["access_token"], token["access_token"]);
    assert_eq!(from_store["token_type"], "bearer");
    assert_eq!(from_store["metadata"], token["metadata"]);
    assert_eq!(upstream.logins(), logins, "no second login");
}

async fn a_consent_is_refused_for_a_connector_that_offers_none(fixture: WithLedger) {
    let app = fixture.app;
    let (status, problem) = app
        .send(
            Method::POST,
            "/v1/oauth-apps",
            Some(&json!({"name": "Ledger app", "connector": "ledger", "config": {}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "connector", "{problem}");
}

async fn a_token_without_a_lifetime_from_a_connector_that_declares_none_is_refused(
    fixture: WithTimelessLedger,
) {
    let WithLedger { app, upstream } = fixture.0;
    let (status, credential) = app
        .send(
            Method::POST,
            "/v1/credentials?validate=false",
            Some(&ledger_credential("Books", &upstream)),
        )
        .await;
    assert_eq!(status, 201, "{credential}");
    let token_path = format!(
        "/v1/credentials/{}/token",
        credential["id"].as_str().unwrap()
    );
    let (status, problem) = app.send(Method::POST, &token_path, None).await;
    assert_eq!(status, 503, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("without saying how long it lives"),
        "{detail}"
    );
    assert!(!detail.contains("ledger-token-"), "no token in the problem");
}

async fn each_connector_calls_only_its_own_ports(fixture: WithLedger) {
    let WithLedger { app, upstream } = fixture;
    // Looker at Ledger's address: the name resolves, but the port is not Looker's.
    let looker = json!({
        "name": "Looker at the wrong port",
        "connector": "looker",
        "config": {"api_host_url": upstream.url(), "client_id": "AbCdEfGh12345678"},
        "secrets": {"client_secret": "s3cr3t"}
    });
    let (status, problem) = app
        .send(Method::POST, "/v1/credentials/test", Some(&looker))
        .await;
    assert_eq!(status, 200, "{problem}");
    assert_eq!(problem["status"], "unreachable", "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("port {} is not allowed", upstream.port)),
        "{detail}"
    );
    assert_eq!(upstream.logins(), 0, "nothing reached the upstream");
    let ledger = ledger_credential("Books", &upstream);
    let (status, outcome) = app
        .send(Method::POST, "/v1/credentials/test", Some(&ledger))
        .await;
    assert_eq!(
        (status, &outcome["status"]),
        (200, &json!("valid")),
        "{outcome}"
    );
    assert_eq!(upstream.logins(), 1);
}

latch_tests::on_both_backends! {
    WithLedger:
        a_second_connector_is_listed_documented_and_served_by_its_declarations,
        a_consent_is_refused_for_a_connector_that_offers_none,
        each_connector_calls_only_its_own_ports;
    WithTimelessLedger:
        a_token_without_a_lifetime_from_a_connector_that_declares_none_is_refused,
}
