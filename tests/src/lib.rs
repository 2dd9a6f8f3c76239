//! Fixtures for Latch's end-to-end suites: a fresh database per test on SQLite or
//! PostgreSQL, the real server on port 0, an HTTP client, and every log line captured.

pub mod browser;
mod database;
pub mod dns_catch_all;
mod logs;
pub mod mock_looker;
pub mod mock_oauth;
pub mod oidc_provider;
pub mod replica;
pub mod skips;
pub mod stored;
pub mod tls_front;
pub mod webhook_receiver;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use latch_api::{Application, Limits, MasterKeySource, Settings};
use latch_connector::EgressPolicy;
use latch_core::callers::Scope;
use latch_store::Store;
use latch_vault::{ExposeSecret, MasterKey, SecretString};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use uuid::Uuid;

pub use database::TestDatabase;
pub use latch_store::Backend;
pub use logs::captured_logs;
use mock_looker::{MockLooker, MockLookerConfig};
pub use replica::Replica;

/// Runs each named `async fn name(fixture)` once per backend, as `sqlite::name` and
/// `postgres::name`. The fixture type has `async fn create(Backend) -> Option<Self>`; `None`
/// skips (PostgreSQL not configured and not required). Groups of tests with different
/// fixtures are separated by `;`.
#[macro_export]
macro_rules! on_both_backends {
    ($($fixture:ident: $($name:ident),+ $(,)?);+ $(;)?) => {
        mod sqlite {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(fixture) = super::$fixture::create($crate::Backend::Sqlite).await {
                        super::$name(fixture).await;
                    }
                }
            )+)+
        }
        mod postgres {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(fixture) = super::$fixture::create($crate::Backend::Postgres).await {
                        super::$name(fixture).await;
                    }
                }
            )+)+
        }
    };
}

/// How to start a test server.
pub struct TestOptions {
    pub egress: EgressPolicy,
    pub limits: Limits,
    /// `LATCH_PUBLIC_URL`; `None`: the server's own address.
    pub public_url: Option<url::Url>,
    /// `LATCH_CONSOLE_ORIGINS`.
    pub console_origins: Vec<url::Url>,
    /// The connectors offered; `None`: the built-in ones, as `latch serve` offers them.
    pub catalogue: Option<latch_core::catalogue::Catalogue>,
    /// The background worker, as `latch serve` runs it unless a test says otherwise.
    pub worker: latch_core::worker::WorkerConfig,
}

impl Default for TestOptions {
    /// No name resolves (the egress policy's test resolver knows none), so no test can reach
    /// a host on the internet, even by mistake.
    fn default() -> Self {
        Self {
            egress: EgressPolicy {
                fixed_hosts: Some(Arc::new(HashMap::new())),
                ..EgressPolicy::default()
            },
            limits: Limits::default(),
            public_url: None,
            console_origins: Vec::new(),
            catalogue: None,
            worker: Default::default(),
        }
    }
}

impl TestOptions {
    /// Connectors may call plain http on 127.0.0.0/8, where mock-looker listens, and give up
    /// after 2 seconds (the `hang` fault).
    pub fn mock_reachable() -> Self {
        Self {
            egress: EgressPolicy {
                allow_http: true,
                allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(2),
                ..Self::default().egress
            },
            ..Self::default()
        }
    }
}

/// Starts a server in this process; its address.
async fn serve(database_url: &str, master_key: &SecretString, options: TestOptions) -> String {
    let settings = Settings {
        database_url: database_url.to_string(),
        listen_addr: "127.0.0.1:0".into(),
        master_key: MasterKeySource::Key(master_key.expose_secret().to_string().into()),
        previous_master_keys: Vec::new(),
        egress: options.egress,
        workers: Some(1),
        dev: false,
        limits: options.limits,
        public_url: options.public_url,
        console_origins: options.console_origins,
        worker: options.worker,
    };
    let catalogue = options
        .catalogue
        .unwrap_or_else(latch_api::connectors::builtin);
    let app = Application::build_with(settings, catalogue)
        .await
        .expect("the test server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// A running server on its own fresh database, with an admin key for organisation `acme`.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub org_id: Uuid,
    /// A second connection to the same database, for checks behind the API's back.
    pub store: Arc<dyn Store>,
    /// The master key the server runs with (base64).
    pub master_key: SecretString,
    pub db: TestDatabase,
}

impl TestApp {
    pub async fn create(backend: Backend) -> Option<Self> {
        let db = TestDatabase::create(backend).await?;
        Some(Self::start(db, TestOptions::default()).await)
    }

    pub async fn create_with(backend: Backend, options: TestOptions) -> Option<Self> {
        let db = TestDatabase::create(backend).await?;
        Some(Self::start(db, options).await)
    }

    async fn start(db: TestDatabase, options: TestOptions) -> Self {
        logs::install();
        latch_connector::egress::install_crypto_provider();
        let master_key = MasterKey::generate().unwrap().to_base64();
        let address = serve(&db.url, &master_key, options).await;
        let store = latch_store::connect(&db.url).await.unwrap();
        let mut test_app = Self {
            address,
            client: reqwest::Client::new(),
            admin_key: String::new(),
            org_id: Uuid::nil(),
            store,
            master_key,
            db,
        };
        let (org_id, admin_key) = test_app.org_with_key("acme", &[Scope::Admin]).await;
        test_app.org_id = org_id;
        test_app.admin_key = admin_key;
        test_app
    }

    /// Issues a key for an organisation (created when missing), straight through the store.
    pub async fn org_with_key(&self, org: &str, scopes: &[Scope]) -> (Uuid, String) {
        let org = self.store.ensure_organization(org).await.unwrap();
        let issued = latch_core::api_keys::issue_api_key(
            self.store.as_ref(),
            org.id,
            "test",
            scopes,
            None,
            None,
        )
        .await
        .unwrap();
        (org.id, issued.key.expose_secret().to_string())
    }

    /// Another server on the same database and master key, as a second replica: its address.
    pub async fn replica(&self, options: TestOptions) -> String {
        serve(&self.db.url, &self.master_key, options).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request as the `acme` admin.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.with_key(&self.admin_key, method, path)
    }

    pub fn with_key(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(key)
    }

    /// Sends a request as the `acme` admin, with `body` as JSON when given: the status and
    /// the answer's JSON (`Null` when it has none).
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.send_as(&self.admin_key, method, path, body).await
    }

    /// `POST /v1/credentials/{id}/token` as the admin: the status, the answer, and
    /// `Retry-After` in seconds when the answer has one.
    pub async fn ask_token(&self, id: &str, body: Value) -> (u16, Value, Option<u64>) {
        let response = self
            .admin(Method::POST, &format!("/v1/credentials/{id}/token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().parse().unwrap());
        (status, response.json().await.unwrap(), retry_after)
    }

    /// `/metrics`, as Prometheus scrapes it (no key).
    pub async fn metrics(&self) -> String {
        let response = self.anonymous(Method::GET, "/metrics").send().await;
        response.unwrap().text().await.unwrap()
    }

    /// As [`TestApp::send`], with `key`.
    pub async fn send_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.with_key(key, method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Saves a Looker credential (untested: no upstream is called) as the admin and returns
    /// the response body.
    pub async fn create_credential(&self, name: &str, secret: &str) -> Value {
        let response = self
            .admin(Method::POST, "/v1/credentials?validate=false")
            .json(&looker_credential(name, secret))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "creating {name}");
        response.json().await.unwrap()
    }

    /// The audit events of `org_id` with `action`, once at least one exists or 5 seconds
    /// passed: some events (failed authentications, denials, issuances) are written in
    /// batches, about once a second.
    pub async fn audit_events_eventually(
        &self,
        org_id: Uuid,
        action: &str,
        enough: impl Fn(&[latch_store::AuditEvent]) -> bool,
    ) -> Vec<latch_store::AuditEvent> {
        let mut found = Vec::new();
        for _ in 0..50 {
            found = self
                .store
                .list_audit_events(
                    org_id,
                    &latch_store::AuditFilter::default(),
                    latch_store::Page::first(1000),
                )
                .await
                .unwrap()
                .into_iter()
                .filter(|event| event.action == action)
                .collect();
            if enough(&found) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        found
    }

    /// How many credentials and audit events the `acme` org has: a snapshot to prove a
    /// refused request wrote nothing.
    pub async fn row_counts(&self) -> (usize, usize) {
        let all = latch_store::Page::first(10_000);
        let credentials = self
            .store
            .list_credentials(self.org_id, &Default::default(), all)
            .await
            .unwrap()
            .len();
        let events = self
            .store
            .list_audit_events(self.org_id, &latch_store::AuditFilter::default(), all)
            .await
            .unwrap()
            .len();
        (credentials, events)
    }
}

/// A server that may reach 127.0.0.0/8, and a mock Looker there whose client secret is
/// unique to the test.
pub struct WithMock {
    pub app: TestApp,
    pub mock: MockLooker,
}

impl WithMock {
    pub async fn create(backend: Backend) -> Option<Self> {
        Self::create_with(backend, TestOptions::mock_reachable()).await
    }

    /// As [`WithMock::create`], the server started with `options` (which must let it reach
    /// 127.0.0.0/8, as [`TestOptions::mock_reachable`] does).
    pub async fn create_with(backend: Backend, options: TestOptions) -> Option<Self> {
        let app = TestApp::create_with(backend, options).await?;
        let mock = MockLooker::start(MockLookerConfig {
            client_secret: unique_secret(),
            ..MockLookerConfig::default()
        })
        .await;
        Some(Self { app, mock })
    }

    /// A create-credential body for the mock, with the right client ID and `secret`.
    pub fn credential(&self, name: &str, secret: &str) -> Value {
        let mut body = looker_credential(name, secret);
        body["config"]["api_host_url"] = json!(self.mock.url);
        body["config"]["client_id"] = json!(self.mock.config().client_id);
        body
    }

    /// A body the mock accepts.
    pub fn good_credential(&self, name: &str) -> Value {
        self.credential(name, &self.mock.config().client_secret)
    }

    /// Creates a data source or destination (`collection`: `data-sources` or
    /// `data-destinations`) named `name` on the credential `credential`, as the admin; its id.
    pub async fn data_source(&self, collection: &str, name: &str, credential: &str) -> String {
        let (status, body) = self
            .app
            .send(
                Method::POST,
                &format!("/v1/{collection}"),
                Some(&json!({"name": name, "connector": "looker", "credential_id": credential, "config": {}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Saves a credential the mock accepts, as the admin, and returns its id: tested first
    /// (a login at the mock) when `tested`, else stored untested.
    pub async fn saved_credential(&self, name: &str, tested: bool) -> String {
        let path = if tested {
            "/v1/credentials"
        } else {
            "/v1/credentials?validate=false"
        };
        let (status, body) = self
            .app
            .send(Method::POST, path, Some(&self.good_credential(name)))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }
}

/// `count` concurrent `POST /v1/credentials/{id}/token` requests with `body`, sent to each of
/// `addresses` in turn with the admin key; the distinct tokens they answered, once each was
/// seen to answer 200.
pub async fn token_storm(
    app: &TestApp,
    addresses: &[&str],
    credential_id: &str,
    body: &Value,
    count: usize,
) -> std::collections::HashSet<String> {
    let requests: Vec<_> = (0..count)
        .map(|n| {
            let address = addresses[n % addresses.len()];
            let request = app
                .client
                .post(format!("{address}/v1/credentials/{credential_id}/token"))
                .bearer_auth(&app.admin_key)
                .json(body);
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap();
                (status, answer["access_token"].as_str().map(str::to_string))
            })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for request in requests {
        let (status, token) = request.await.unwrap();
        assert_eq!(status, 200);
        tokens.insert(token.unwrap());
    }
    tokens
}

/// Retries `check` every 50 ms for up to five seconds, for what a server does in the
/// background (a logout, a change the feed carries to another replica); panics naming
/// `what` when it never holds.
pub async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

impl TestApp {
    /// Moves the expiry of every connect session a minute into the past, as if its ten
    /// minutes had gone by.
    pub async fn expire_connect_sessions(&self) {
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        self.set_time("UPDATE connect_sessions SET expires_at = $1", past)
            .await;
    }

    /// Makes every pending session claimed two minutes ago, as if the callback that claimed
    /// it had died while trading the code.
    pub async fn strand_connect_session_claims(&self) {
        let past = chrono::Utc::now() - chrono::Duration::minutes(2);
        self.set_time(
            "UPDATE connect_sessions SET claimed_at = $1 WHERE status = 'pending'",
            past,
        )
        .await;
    }

    /// Runs `sql` behind the server's back.
    pub async fn run_sql(&self, sql: &'static str) {
        use sqlx::Connection;
        match self.db.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.db.url).await.unwrap();
                sqlx::query(sql).execute(&mut connection).await.unwrap();
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
                sqlx::query(sql).execute(&mut connection).await.unwrap();
            }
        }
    }

    /// Runs `sql`, which sets a time to `$1`, behind the server's back.
    async fn set_time(&self, sql: &'static str, at: chrono::DateTime<chrono::Utc>) {
        use sqlx::Connection;
        match self.db.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.db.url).await.unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
        }
    }

    /// Every row of every table as text (PostgreSQL), or every byte of the database files
    /// (SQLite, with its write-ahead log): to search for what must not be stored in clear.
    pub async fn everything_stored(&self) -> Vec<u8> {
        match self.db.backend {
            Backend::Sqlite => {
                let path = self.db.sqlite_path().unwrap();
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    if let Ok(contents) = std::fs::read(format!("{}{suffix}", path.display())) {
                        bytes.extend(contents);
                    }
                }
                assert!(bytes.len() > 4096, "the database files were read");
                bytes
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut connection = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
                let mut text = String::new();
                // Every table there is, so a table added later is scanned too.
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
                )
                .fetch_all(&mut connection)
                .await
                .unwrap();
                assert!(tables.len() >= 7, "{tables:?}");
                for (table,) in tables {
                    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT row_to_json(t)::text FROM {table} t"
                    )))
                    .fetch_all(&mut connection)
                    .await
                    .unwrap();
                    text.extend(rows.into_iter().map(|(row,)| row));
                }
                text.into_bytes()
            }
        }
    }
}

/// The sum of the `count`s of tallied audit events (failed authentications, denials,
/// issuances): how many things happened, however many rows they were written as.
pub fn counted(events: &[latch_store::AuditEvent]) -> u64 {
    events
        .iter()
        .filter_map(|event| event.detail["count"].as_u64())
        .sum()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// A valid create-credential body for Looker.
pub fn looker_credential(name: &str, secret: &str) -> Value {
    json!({
        "name": name,
        "description": "nightly exports",
        "connector": "looker",
        "config": {
            "api_host_url": "https://acme.cloud.looker.com/api/4.0/",
            "client_id": "AbCdEfGh12345678"
        },
        "secrets": {"client_secret": secret}
    })
}

/// The fields a problem document's `errors` name, in its order (none when it has no
/// `errors`).
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| error["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A secret no test shares with another, so searching logs for it is meaningful.
pub fn unique_secret() -> String {
    format!("sekret-{}", Uuid::new_v4().simple())
}
