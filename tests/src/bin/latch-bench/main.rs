//! `make bench`: the token hot path against `GET /healthz` of the same server, refresh
//! storms on one and on two replicas, the servers' memory, and a master key rotation of
//! 100 000 credentials on SQLite and PostgreSQL while tokens are handed out. Prints a
//! Markdown report. Tokens and storms are measured for Looker and for a declared provider
//! (the generic `oauth2`'s client credentials) in the same run.
//!
//! Everything runs on this machine: the servers are release `latch-server` processes (the
//! `latch` binary's code), Looker is mock-looker and the declared provider the test crate's
//! authorization server, both on 127.0.0.1 with 100 ms of latency, and the load comes from
//! this program (64 connections, HTTP/1.1 keep-alive).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use latch_tests::mock_looker::{MockLooker, MockLookerConfig};
use latch_tests::mock_oauth::{Auth, MockOAuth, Profile};
use latch_tests::replica::admin_key;
use latch_tests::stored::{StoredCredential, store_credential};
use latch_tests::{Backend, Replica, TestDatabase};
use latch_vault::{ExposeSecret, Kek, Keyring, MasterKey};
use serde_json::{Value, json};

mod refresh_ahead;
mod rewrap;
mod store_load;
mod webhooks;

use refresh_ahead::{refresh_ahead_report, refresh_ahead_run};
use rewrap::{rewrap_report, rewrap_run};
use store_load::{store_load, store_load_report};
use webhooks::{webhook_report, webhook_runs};

const CONNECTIONS: usize = 64;
const STORM: usize = 500;
const ROUNDS: usize = 2;
/// Credentials a rewrap benchmark moves to a new master key.
const REWRAP_CREDENTIALS: usize = 100_000;
/// Credentials jobs ask tokens for in the store-load benchmark.
const ACTIVE_CREDENTIALS: usize = 1000;
/// How long PostgreSQL may keep an idle backend's statistics before it publishes them.
const STATS_DELAY: Duration = Duration::from_secs(11);

struct Load {
    requests: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

type MakeRequest = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// `connections` clients sending back to back for `duration`; every answer must be 200.
async fn load(
    client: &reqwest::Client,
    connections: usize,
    duration: Duration,
    make: MakeRequest,
) -> Load {
    let (latencies, seconds) = load_latencies(client, connections, duration, make).await;
    summarise(latencies, seconds)
}

/// As [`load`], every latency and the seconds it took.
async fn load_latencies(
    client: &reqwest::Client,
    connections: usize,
    duration: Duration,
    make: MakeRequest,
) -> (Vec<Duration>, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::SeqCst);
        })
    };
    let result = latencies_until(client, connections, stop, make).await;
    timer.await.unwrap();
    result
}

/// `connections` clients sending back to back until `stop` is set; every answer must be 200.
async fn load_until(
    client: &reqwest::Client,
    connections: usize,
    stop: Arc<AtomicBool>,
    make: MakeRequest,
) -> Load {
    let (latencies, seconds) = latencies_until(client, connections, stop, make).await;
    summarise(latencies, seconds)
}

/// What [`load_until`] measures: every latency and the seconds it took.
async fn latencies_until(
    client: &reqwest::Client,
    connections: usize,
    stop: Arc<AtomicBool>,
    make: MakeRequest,
) -> (Vec<Duration>, f64) {
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let make = make.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let sent = Instant::now();
                    let response = make(&client).send().await.expect("the server answers");
                    assert_eq!(response.status(), 200, "{:?}", response.text().await);
                    response.bytes().await.unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    (latencies, started.elapsed().as_secs_f64())
}

fn summarise(mut latencies: Vec<Duration>, seconds: f64) -> Load {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Load {
        requests: latencies.len(),
        seconds,
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe().unwrap().with_file_name(name)
}

struct Server {
    replicas: Vec<Replica>,
    key: String,
    master: String,
    db: TestDatabase,
}

/// `count` replicas with `workers` HTTP workers each on a fresh database of `backend`, with
/// an admin key.
async fn servers(backend: Backend, count: usize, workers: usize) -> Option<Server> {
    servers_with(backend, count, workers, &[]).await
}

/// As [`servers`], the replicas started with the environment variables `extra`.
async fn servers_with(
    backend: Backend,
    count: usize,
    workers: usize,
    extra: &[(&str, &str)],
) -> Option<Server> {
    let db = TestDatabase::create(backend).await?;
    let binary = sibling("latch-server");
    let key = admin_key(&binary, &db.url, "bench");
    let master = MasterKey::generate().unwrap().to_base64();
    let master = master.expose_secret().to_string();
    let mut replicas = Vec::new();
    for _ in 0..count {
        replicas.push(Replica::spawn_with_env(&binary, &db.url, &master, workers, extra).await);
    }
    Some(Server {
        replicas,
        key,
        master,
        db,
    })
}

async fn create_credential(
    client: &reqwest::Client,
    server: &Server,
    mock: &MockLooker,
    name: &str,
) -> String {
    let config = mock.config();
    saved(
        client,
        server,
        json!({
            "name": name,
            "connector": "looker",
            "config": {"api_host_url": mock.url, "client_id": config.client_id},
            "secrets": {"client_secret": config.client_secret}
        }),
    )
    .await
}

/// The declared provider's client, as its authorization server knows it.
const OAUTH_CLIENT: &str = "bench-client";
const OAUTH_SECRET: &str = "bench-secret";

/// The upstream a storm's credential logs in at.
#[derive(Clone, Copy)]
enum Upstream<'a> {
    Looker(&'a MockLooker),
    Declared(&'a MockOAuth),
}

impl Upstream<'_> {
    /// From now on, tokens live `seconds`.
    fn tokens_live(&self, seconds: u64) {
        match self {
            Upstream::Looker(mock) => mock.set_expires_in(seconds),
            Upstream::Declared(server) => server.set_profile(declared_profile(seconds)),
        }
    }

    /// Logins (token grants) so far.
    fn logins(&self) -> u64 {
        match self {
            Upstream::Looker(mock) => mock.stats().logins,
            Upstream::Declared(server) => server.grants(),
        }
    }

    /// A valid credential logging in there; its id.
    async fn credential(&self, client: &reqwest::Client, server: &Server, name: &str) -> String {
        match self {
            Upstream::Looker(mock) => create_credential(client, server, mock, name).await,
            Upstream::Declared(upstream) => {
                saved(
                    client,
                    server,
                    json!({
                        "name": name,
                        "connector": "oauth2",
                        "config": {"token_url": upstream.token_url(), "client_id": OAUTH_CLIENT},
                        "secrets": {"client_secret": OAUTH_SECRET}
                    }),
                )
                .await
            }
        }
    }
}

fn declared_profile(expires_in: u64) -> Profile {
    Profile {
        expires_in: Some(expires_in),
        latency: Duration::from_millis(100),
        ..Profile::default()
    }
}

/// Saves a credential (tested by a real login first); its id.
async fn saved(client: &reqwest::Client, server: &Server, body: Value) -> String {
    let created: Value = client
        .post(format!("{}/v1/credentials", server.replicas[0].address))
        .bearer_auth(&server.key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["status"], "valid", "{created}");
    created["id"].as_str().unwrap().to_string()
}

fn token_request(address: &str, key: &str, id: &str, min_ttl: u64) -> MakeRequest {
    let url = format!("{address}/v1/credentials/{id}/token");
    let key = key.to_string();
    Arc::new(move |client| {
        client
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({"min_ttl_seconds": min_ttl}))
    })
}

/// Gets a token that lives 3 s, waits until it has less than 1 s left, then sends `STORM`
/// requests at once (spread over the replicas) asking for at least 1 s. Logins seen and p99.
async fn storm(
    client: &reqwest::Client,
    server: &Server,
    upstream: Upstream<'_>,
    id: &str,
) -> (u64, Duration) {
    upstream.tokens_live(3);
    let first = token_request(&server.replicas[0].address, &server.key, id, 1);
    let response = first(client).send().await.unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let before = upstream.logins();
    let started = Instant::now();
    let requests: Vec<_> = (0..STORM)
        .map(|index| {
            let replica = &server.replicas[index % server.replicas.len()];
            let make = token_request(&replica.address, &server.key, id, 1);
            let client = client.clone();
            tokio::spawn(async move {
                let sent = Instant::now();
                let response = make(&client).send().await.unwrap();
                assert_eq!(response.status(), 200, "{:?}", response.text().await);
                sent.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for request in requests {
        latencies.push(request.await.unwrap());
    }
    let result = summarise(latencies, started.elapsed().as_secs_f64());
    upstream.tokens_live(3600);
    (upstream.logins() - before, result.p99)
}

/// The bench's own rounds of `/healthz`, of Looker's tokens and of a declared provider's, and
/// wrk's ratio and token p99s (Looker's).
struct HotPath {
    health: Vec<Load>,
    tokens: Vec<Load>,
    declared: Vec<Load>,
    with_wrk: Option<(f64, String)>,
}

/// Throughput and p99 of one `wrk -t1 -c64` run, when wrk is installed.
struct WrkRun {
    per_second: f64,
    p99: String,
}

/// Runs wrk against `url` for `duration`; a POST with the key and body when `post` is given.
fn wrk(url: &str, post: Option<(&str, &str)>, duration: Duration) -> Option<WrkRun> {
    let folder = tempfile::tempdir().ok()?;
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        &format!("-c{CONNECTIONS}"),
        &format!("-d{}s", duration.as_secs()),
        "--latency",
    ]);
    if let Some((key, body)) = post {
        let script = folder.path().join("post.lua");
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Authorization\"] = \"Bearer {key}\"\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{body}'\n"
            ),
        )
        .ok()?;
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "wrk saw answers other than 2xx: {text}"
    );
    let per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let p99 = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))?
        .trim()
        .to_string();
    Some(WrkRun { per_second, p99 })
}

/// `/healthz` and cached token hand-outs with wrk, interleaved: the ratio and the worst p99,
/// or `None` when wrk is not installed.
fn wrk_ratio(server: &Server, id: &str, duration: Duration) -> Option<(f64, String)> {
    let address = &server.replicas[0].address;
    let healthz = format!("{address}/healthz");
    let token = format!("{address}/v1/credentials/{id}/token");
    let post = Some((server.key.as_str(), r#"{"min_ttl_seconds": 300}"#));
    let (mut health, mut tokens, mut p99s) = (0.0, 0.0, Vec::new());
    for _ in 0..ROUNDS {
        health += wrk(&healthz, None, duration)?.per_second;
        let run = wrk(&token, post, duration)?;
        tokens += run.per_second;
        p99s.push(run.p99);
    }
    Some((tokens / health, p99s.join(", ")))
}

/// Starts a server with `workers` HTTP workers and measures `GET /healthz` and cached token
/// hand-outs (a Looker credential's, a declared provider's) in interleaved rounds.
async fn hot_path(
    client: &reqwest::Client,
    upstreams: [Upstream<'_>; 2],
    workers: usize,
    duration: Duration,
) -> (Server, HotPath) {
    let server = servers(Backend::Sqlite, 1, workers).await.unwrap();
    let address = server.replicas[0].address.clone();
    let id = upstreams[0].credential(client, &server, "hot path").await;
    let declared_id = upstreams[1]
        .credential(client, &server, "hot path, declared")
        .await;
    let healthz_url = format!("{address}/healthz");
    let healthz: MakeRequest = Arc::new(move |client| client.get(&healthz_url));
    let token = token_request(&address, &server.key, &id, 300);
    let declared_token = token_request(&address, &server.key, &declared_id, 300);
    // Warm every path (connections, caches) before measuring.
    let warm = Duration::from_secs(1);
    for make in [&healthz, &token, &declared_token] {
        load(client, CONNECTIONS, warm, make.clone()).await;
    }
    // Interleaved rounds, so that drift (caches, clocks, other load) hits all alike.
    let mut hot = HotPath {
        health: Vec::new(),
        tokens: Vec::new(),
        declared: Vec::new(),
        with_wrk: None,
    };
    for _ in 0..ROUNDS {
        hot.health
            .push(load(client, CONNECTIONS, duration, healthz.clone()).await);
        hot.tokens
            .push(load(client, CONNECTIONS, duration, token.clone()).await);
        hot.declared
            .push(load(client, CONNECTIONS, duration, declared_token.clone()).await);
    }
    hot.with_wrk = wrk_ratio(&server, &id, duration);
    (server, hot)
}

fn report(workers: usize, hot: &HotPath) {
    println!("### Server with {workers} HTTP worker(s)\n");
    println!("| round | run | requests/s | p50 | p99 |");
    println!("|---|---|---|---|---|");
    for round in 0..hot.health.len() {
        for (name, run) in [
            ("`GET /healthz` (baseline)", &hot.health[round]),
            (
                "`POST /v1/credentials/{id}/token`, cached, Looker",
                &hot.tokens[round],
            ),
            (
                "the same, declared provider (`oauth2`)",
                &hot.declared[round],
            ),
        ] {
            println!(
                "| {} | {name} | {:.0} | {} | {} |",
                round + 1,
                run.per_second(),
                ms(run.p50),
                ms(run.p99)
            );
        }
    }
    let rate = |runs: &[Load]| {
        let requests: usize = runs.iter().map(|run| run.requests).sum();
        requests as f64 / runs.iter().map(|run| run.seconds).sum::<f64>()
    };
    let worst = |runs: &[Load]| runs.iter().map(|run| run.p99).max().unwrap_or_default();
    println!(
        "\nCached token hand-out / healthz throughput, all rounds: Looker **{:.2}**, declared \
         provider **{:.2}**; worst token p99: Looker **{}**, declared provider **{}**\n",
        rate(&hot.tokens) / rate(&hot.health),
        rate(&hot.declared) / rate(&hot.health),
        ms(worst(&hot.tokens)),
        ms(worst(&hot.declared))
    );
    match &hot.with_wrk {
        Some((ratio, p99s)) => println!(
            "The same with `wrk -t1 -c{CONNECTIONS} --latency` (Looker), {ROUNDS} interleaved rounds: ratio **{ratio:.2}**; token p99 per round: {p99s}\n"
        ),
        None => println!("(wrk is not installed: no wrk figures)\n"),
    }
}

/// How long each refresh-ahead run lasts: several expiries of its one-minute tokens.
const REFRESH_AHEAD_SECONDS: u64 = 180;

/// Refreshing ahead off (the baseline) and on, on PostgreSQL (SQLite when it is not there).
async fn refresh_ahead_runs(
    client: &reqwest::Client,
) -> Vec<(&'static str, Option<refresh_ahead::RefreshAhead>)> {
    let backend = if std::env::var("LATCH_TEST_POSTGRES_URL").is_ok() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let duration = Duration::from_secs(REFRESH_AHEAD_SECONDS);
    vec![
        (
            "without refreshing ahead (baseline)",
            refresh_ahead_run(client, backend, false, duration).await,
        ),
        (
            "refreshing ahead",
            refresh_ahead_run(client, backend, true, duration).await,
        ),
    ]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let seconds: u64 = std::env::var("LATCH_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    latch_connector::egress::install_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(STORM)
        .build()
        .unwrap();
    let mock = MockLooker::start(MockLookerConfig {
        latency: Duration::from_millis(100),
        ..MockLookerConfig::default()
    })
    .await;
    let declared = MockOAuth::start(declared_profile(3600)).await;
    declared.register(OAUTH_CLIENT, OAUTH_SECRET, Auth::Basic, &[]);
    let upstreams = [Upstream::Looker(&mock), Upstream::Declared(&declared)];

    let duration = Duration::from_secs(seconds);
    if std::env::var("LATCH_BENCH_ONLY").as_deref() == Ok("refresh-ahead") {
        let runs = refresh_ahead_runs(&client).await;
        refresh_ahead_report(REFRESH_AHEAD_SECONDS, &runs);
        return;
    }
    if std::env::var("LATCH_BENCH_ONLY").as_deref() == Ok("webhooks") {
        webhook_report(&webhook_runs(&client).await);
        return;
    }
    if std::env::var("LATCH_BENCH_ONLY").as_deref() == Ok("store-load") {
        let result = store_load(&client, &mock, duration).await;
        store_load_report(seconds, result.as_ref());
        return;
    }
    let (one, two_workers) = hot_path(&client, upstreams, 2, duration).await;
    let (_, one_worker) = hot_path(&client, upstreams, 1, duration).await;
    if std::env::var("LATCH_BENCH_ONLY").as_deref() == Ok("hot-path") {
        for (workers, hot) in [(2, &two_workers), (1, &one_worker)] {
            report(workers, hot);
        }
        return;
    }

    // Storms: each upstream's credential on one SQLite process, then on two PostgreSQL ones.
    let mut one_storms = Vec::new();
    for (n, upstream) in upstreams.into_iter().enumerate() {
        let id = upstream
            .credential(&client, &one, &format!("storm {n}"))
            .await;
        one_storms.push(storm(&client, &one, upstream, &id).await);
    }
    let one_rss = one.replicas[0].rss_kib();

    let two = servers(Backend::Postgres, 2, 2).await;
    let two_result = match &two {
        Some(two) => {
            let mut storms = Vec::new();
            for (n, upstream) in upstreams.into_iter().enumerate() {
                let id = upstream
                    .credential(&client, two, &format!("storm {n}"))
                    .await;
                storms.push(storm(&client, two, upstream, &id).await);
            }
            let rss: Vec<String> = two
                .replicas
                .iter()
                .map(|replica| format!("{} MiB", replica.rss_kib().unwrap_or(0) / 1024))
                .collect();
            Some((storms, rss.join(" / ")))
        }
        None => None,
    };

    let store = store_load(&client, &mock, duration).await;
    let ahead = refresh_ahead_runs(&client).await;
    let webhooks = webhook_runs(&client).await;

    let rewraps = [
        (
            "SQLite",
            rewrap_run(
                &client,
                &mock,
                Backend::Sqlite,
                REWRAP_CREDENTIALS,
                duration,
            )
            .await,
        ),
        (
            "PostgreSQL",
            rewrap_run(
                &client,
                &mock,
                Backend::Postgres,
                REWRAP_CREDENTIALS,
                duration,
            )
            .await,
        ),
    ];

    println!("## Results\n");
    println!(
        "{CONNECTIONS} connections, {ROUNDS} interleaved rounds of {seconds} s per endpoint, \
         release build, one `latch serve` on SQLite, one load thread on the same machine.\n"
    );
    for (workers, hot) in [(2, &two_workers), (1, &one_worker)] {
        report(workers, hot);
    }
    println!(
        "| refresh storm ({STORM} concurrent requests, token just expired, upstream latency 100 ms) | upstream logins | p99 |"
    );
    println!("|---|---|---|");
    let names = ["Looker", "declared provider (`oauth2`)"];
    for (name, (logins, p99)) in names.iter().zip(&one_storms) {
        println!("| {name}, one process, SQLite | {logins} | {} |", ms(*p99));
    }
    match &two_result {
        Some((storms, _)) => {
            for (name, (logins, p99)) in names.iter().zip(storms) {
                println!(
                    "| {name}, two processes, one PostgreSQL | {logins} | {} |",
                    ms(*p99)
                );
            }
        }
        None => println!(
            "| two processes, one PostgreSQL | SKIPPED postgres: no LATCH_TEST_POSTGRES_URL | |"
        ),
    }
    println!(
        "\nServer RSS after the runs: SQLite server {} MiB; PostgreSQL replicas {}.",
        one_rss.unwrap_or(0) / 1024,
        two_result
            .as_ref()
            .map(|r| r.1.clone())
            .unwrap_or_else(|| "not run".into())
    );
    println!();
    store_load_report(seconds, store.as_ref());
    refresh_ahead_report(REFRESH_AHEAD_SECONDS, &ahead);
    webhook_report(&webhooks);
    rewrap_report(&rewraps);
    drop(one.db);
}
