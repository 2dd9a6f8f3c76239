//! `make bench`: the token hot path against `GET /healthz` of the same server, refresh
//! storms on one and on two replicas, the servers' memory, and a master key rotation of
//! 100 000 credentials on SQLite and PostgreSQL while tokens are handed out. Prints a
//! Markdown report.
//!
//! Everything runs on this machine: the servers are release `latch-server` processes (the
//! `latch` binary's code), Looker is mock-looker on 127.0.0.1 with 100 ms of latency, and the
//! load comes from this program (64 connections, HTTP/1.1 keep-alive).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use latch_tests::mock_looker::{MockLooker, MockLookerConfig};
use latch_tests::replica::admin_key;
use latch_tests::stored::{StoredCredential, store_credential};
use latch_tests::{Backend, Replica, TestDatabase};
use latch_vault::{ExposeSecret, Kek, Keyring, MasterKey};
use serde_json::{Value, json};

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
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::SeqCst);
        })
    };
    let result = load_until(client, connections, stop, make).await;
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
    let seconds = started.elapsed().as_secs_f64();
    summarise(latencies, seconds)
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
    let db = TestDatabase::create(backend).await?;
    let binary = sibling("latch-server");
    let key = admin_key(&binary, &db.url, "bench");
    let master = MasterKey::generate().unwrap().to_base64();
    let master = master.expose_secret().to_string();
    let mut replicas = Vec::new();
    for _ in 0..count {
        replicas.push(Replica::spawn_with_workers(&binary, &db.url, &master, workers).await);
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
    let created: Value = client
        .post(format!("{}/v1/credentials", server.replicas[0].address))
        .bearer_auth(&server.key)
        .json(&json!({
            "name": name,
            "connector": "looker",
            "config": {"api_host_url": mock.url, "client_id": config.client_id},
            "secrets": {"client_secret": config.client_secret}
        }))
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
    mock: &MockLooker,
    id: &str,
) -> (u64, Duration) {
    mock.set_expires_in(3);
    let first = token_request(&server.replicas[0].address, &server.key, id, 1);
    let response = first(client).send().await.unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let before = mock.stats().logins;
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
    mock.set_expires_in(3600);
    (mock.stats().logins - before, result.p99)
}

/// The bench's own rounds of `/healthz` and of tokens, and wrk's ratio and token p99s.
type HotPath = (Vec<Load>, Vec<Load>, Option<(f64, String)>);

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
/// hand-outs in interleaved rounds.
async fn hot_path(
    client: &reqwest::Client,
    mock: &MockLooker,
    workers: usize,
    duration: Duration,
) -> (Server, HotPath) {
    let server = servers(Backend::Sqlite, 1, workers).await.unwrap();
    let address = server.replicas[0].address.clone();
    let id = create_credential(client, &server, mock, "hot path").await;
    let healthz_url = format!("{address}/healthz");
    let healthz: MakeRequest = Arc::new(move |client| client.get(&healthz_url));
    let token = token_request(&address, &server.key, &id, 300);
    // Warm both paths (connections, caches) before measuring.
    let warm = Duration::from_secs(1);
    load(client, CONNECTIONS, warm, healthz.clone()).await;
    load(client, CONNECTIONS, warm, token.clone()).await;
    // Interleaved rounds, so that drift (caches, clocks, other load) hits both alike.
    let mut health = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..ROUNDS {
        health.push(load(client, CONNECTIONS, duration, healthz.clone()).await);
        tokens.push(load(client, CONNECTIONS, duration, token.clone()).await);
    }
    let with_wrk = wrk_ratio(&server, &id, duration);
    (server, (health, tokens, with_wrk))
}

fn report(workers: usize, (health, tokens, with_wrk): &HotPath) {
    println!("### Server with {workers} HTTP worker(s)\n");
    println!("| round | run | requests/s | p50 | p99 |");
    println!("|---|---|---|---|---|");
    for (round, (health, tokens)) in health.iter().zip(tokens).enumerate() {
        for (name, run) in [
            ("`GET /healthz` (baseline)", health),
            ("`POST /v1/credentials/{id}/token`, cached", tokens),
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
    let worst_p99 = tokens.iter().map(|run| run.p99).max().unwrap_or_default();
    println!(
        "\nCached token hand-out / healthz throughput, all rounds: **{:.2}**; worst token p99: **{}**\n",
        rate(tokens) / rate(health),
        ms(worst_p99)
    );
    match with_wrk {
        Some((ratio, p99s)) => println!(
            "The same with `wrk -t1 -c{CONNECTIONS} --latency`, {ROUNDS} interleaved rounds: ratio **{ratio:.2}**; token p99 per round: {p99s}\n"
        ),
        None => println!("(wrk is not installed: no wrk figures)\n"),
    }
}

/// What a rewrap of many credentials cost, and what it did to token hand-outs meanwhile.
struct RewrapRun {
    credentials: usize,
    seconds: f64,
    before: Load,
    during: Load,
}

/// `count` credentials stored straight into the database, sealed and wrapped as the server
/// does it, by `writers` concurrent writers.
async fn fill(server: &Server, count: usize, writers: usize) {
    let store = latch_store::connect(&server.db.url).await.unwrap();
    let org = store.find_organization("bench").await.unwrap().unwrap();
    let master = MasterKey::from_base64(&server.master.clone().into()).unwrap();
    let keyring = Arc::new(Keyring::new(Kek::new("kek-1", master)));
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let (store, keyring) = (store.clone(), keyring.clone());
            tokio::spawn(async move {
                for n in (writer..count).step_by(writers) {
                    let credential = StoredCredential {
                        id: uuid::Uuid::now_v7(),
                        org_id: org.id,
                        name: format!("filler {n}"),
                        config: json!({"api_host_url": "https://acme.cloud.looker.com", "client_id": "x"}),
                        secrets: &json!({"client_secret": "s"}),
                    };
                    store_credential(store.as_ref(), &keyring, credential).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// `count` credentials under the old master key; the server restarted with a new one (the old
/// as a previous key); cached token hand-outs measured for `duration`, then again while
/// `latch rewrap` runs, which is timed.
async fn rewrap_run(
    client: &reqwest::Client,
    mock: &MockLooker,
    backend: Backend,
    count: usize,
    duration: Duration,
) -> Option<RewrapRun> {
    let mut server = servers(backend, 1, 2).await?;
    let writers = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 16,
    };
    fill(&server, count, writers).await;
    let binary = sibling("latch-server");
    let new_master = MasterKey::generate().unwrap().to_base64();
    let new_master = new_master.expose_secret().to_string();
    server.replicas.clear();
    let previous = [("LATCH_PREVIOUS_MASTER_KEYS", server.master.as_str())];
    server
        .replicas
        .push(Replica::spawn_with_env(&binary, &server.db.url, &new_master, 2, &previous).await);
    // Made after the rotation, so already under the new KEK: the one the load asks for.
    let id = create_credential(client, &server, mock, "rotated").await;
    let token = token_request(&server.replicas[0].address, &server.key, &id, 300);
    load(client, CONNECTIONS, Duration::from_secs(1), token.clone()).await;
    let before = load(client, CONNECTIONS, duration, token.clone()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let rewrap = {
        let stop = stop.clone();
        let (binary, url, old) = (binary.clone(), server.db.url.clone(), server.master.clone());
        let new_master = new_master.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let output = Command::new(binary)
                .arg("rewrap")
                .env("LATCH_DATABASE_URL", url)
                .env("LATCH_MASTER_KEY", new_master)
                .env("LATCH_PREVIOUS_MASTER_KEYS", old)
                .env("LATCH_LOG", "warn")
                .output()
                .unwrap();
            let seconds = started.elapsed().as_secs_f64();
            stop.store(true, Ordering::SeqCst);
            (output, seconds)
        })
    };
    let during = load_until(client, CONNECTIONS, stop, token).await;
    let (output, seconds) = rewrap.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("rewrapped: {count}")),
        "every data key was rewrapped: {stdout}"
    );
    Some(RewrapRun {
        credentials: count,
        seconds,
        before,
        during,
    })
}

fn rewrap_report(runs: &[(&str, Option<RewrapRun>)]) {
    println!(
        "| master key rotation: `latch rewrap` while one server hands out cached tokens \
         ({CONNECTIONS} connections) | data keys | rewrap time | data keys/s | tokens/s before | \
         tokens/s during | during / before |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, run) in runs {
        match run {
            Some(run) => println!(
                "| {name} | {} | {:.1} s | {:.0} | {:.0} | {:.0} | {:.2} |",
                run.credentials,
                run.seconds,
                run.credentials as f64 / run.seconds,
                run.before.per_second(),
                run.during.per_second(),
                run.during.per_second() / run.before.per_second()
            ),
            None => println!("| {name} | SKIPPED postgres: no LATCH_TEST_POSTGRES_URL | | | | | |"),
        }
    }
    println!(
        "\nEvery token request during the rewraps answered 200 (the load asserts it), and \
         every data key was rewrapped.\n"
    );
}

// One thread drives all connections: the servers get the rest of the two cores.
/// What two replicas on one PostgreSQL ask of it while jobs take cached tokens of
/// `ACTIVE_CREDENTIALS` credentials, each asked for about every 20 ms.
struct StoreLoad {
    tokens_per_second: f64,
    transactions_per_second: f64,
    idle_transactions_per_second: f64,
}

/// Committed transactions of the database so far: every store query outside an explicit
/// transaction is one.
async fn transactions(stats: &mut sqlx::PgConnection, name: &str) -> i64 {
    sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
        .bind(name)
        .fetch_one(stats)
        .await
        .unwrap()
}

async fn store_load(
    client: &reqwest::Client,
    mock: &MockLooker,
    duration: Duration,
) -> Option<StoreLoad> {
    use sqlx::Connection;
    let server = servers(Backend::Postgres, 2, 2).await?;
    let config = mock.config();
    let mut ids = Vec::with_capacity(ACTIVE_CREDENTIALS);
    for batch in (0..ACTIVE_CREDENTIALS).collect::<Vec<_>>().chunks(32) {
        let mut created = tokio::task::JoinSet::new();
        for n in batch {
            let request = client
                .post(format!(
                    "{}/v1/credentials?validate=false",
                    server.replicas[0].address
                ))
                .bearer_auth(&server.key)
                .json(&json!({
                    "name": format!("active {n}"),
                    "connector": "looker",
                    "config": {"api_host_url": mock.url, "client_id": config.client_id},
                    "secrets": {"client_secret": config.client_secret}
                }));
            created.spawn(async move { request.send().await.unwrap().json::<Value>().await });
        }
        for created in created.join_all().await {
            ids.push(created.unwrap()["id"].as_str().unwrap().to_string());
        }
    }
    let addresses: Vec<String> = server
        .replicas
        .iter()
        .map(|replica| replica.address.clone())
        .collect();
    let url = move |n: usize| {
        format!(
            "{}/v1/credentials/{}/token",
            addresses[n % addresses.len()],
            ids[(n / addresses.len()) % ids.len()]
        )
    };
    // Every credential's token, on both replicas: what follows is cached hand-outs only.
    let url = Arc::new(url);
    for batch in (0..ACTIVE_CREDENTIALS * server.replicas.len())
        .collect::<Vec<_>>()
        .chunks(64)
    {
        let mut warmed = tokio::task::JoinSet::new();
        for n in batch {
            let request = client.post(url(*n)).bearer_auth(&server.key);
            warmed.spawn(async move { request.send().await.unwrap().status() });
        }
        for status in warmed.join_all().await {
            assert_eq!(status, 200);
        }
    }
    let name = server.db.postgres_name().unwrap().to_string();
    let mut stats = sqlx::PgConnection::connect(&server.db.url).await.unwrap();
    tokio::time::sleep(STATS_DELAY).await;
    let before = transactions(&mut stats, &name).await;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let key = server.key.clone();
    let load = load(
        client,
        CONNECTIONS,
        duration,
        Arc::new(move |client| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            client.post(url(n)).bearer_auth(&key)
        }),
    )
    .await;
    tokio::time::sleep(STATS_DELAY).await;
    let after_load = transactions(&mut stats, &name).await;
    tokio::time::sleep(STATS_DELAY).await;
    let after_idle = transactions(&mut stats, &name).await;
    let idle = (after_idle - after_load) as f64 / STATS_DELAY.as_secs_f64();
    let during = (after_load - before) as f64 - idle * STATS_DELAY.as_secs_f64();
    Some(StoreLoad {
        tokens_per_second: load.per_second(),
        transactions_per_second: during / load.seconds,
        idle_transactions_per_second: idle,
    })
}

fn store_load_report(seconds: u64, result: Option<&StoreLoad>) {
    println!(
        "| store load: two replicas, one PostgreSQL, {ACTIVE_CREDENTIALS} credentials with cached tokens, {CONNECTIONS} connections, {seconds} s | value |"
    );
    println!("|---|---|");
    match result {
        Some(load) => {
            println!(
                "| tokens handed out per second | {:.0} |",
                load.tokens_per_second
            );
            println!(
                "| store transactions per second under that load | {:.1} |",
                load.transactions_per_second
            );
            println!(
                "| store transactions per second, idle | {:.1} |",
                load.idle_transactions_per_second
            );
        }
        None => println!("| SKIPPED postgres: no LATCH_TEST_POSTGRES_URL | |"),
    }
    println!();
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

    let duration = Duration::from_secs(seconds);
    if std::env::var("LATCH_BENCH_ONLY").as_deref() == Ok("store-load") {
        let result = store_load(&client, &mock, duration).await;
        store_load_report(seconds, result.as_ref());
        return;
    }
    let (one, two_workers) = hot_path(&client, &mock, 2, duration).await;
    let (_, one_worker) = hot_path(&client, &mock, 1, duration).await;
    if std::env::var("LATCH_BENCH_ONLY").as_deref() == Ok("hot-path") {
        for (workers, hot) in [(2, &two_workers), (1, &one_worker)] {
            report(workers, hot);
        }
        return;
    }

    let storm_id = create_credential(&client, &one, &mock, "storm").await;
    let (one_logins, one_p99) = storm(&client, &one, &mock, &storm_id).await;
    let one_rss = one.replicas[0].rss_kib();

    let two = servers(Backend::Postgres, 2, 2).await;
    let two_result = match &two {
        Some(two) => {
            let id = create_credential(&client, two, &mock, "storm").await;
            let (logins, p99) = storm(&client, two, &mock, &id).await;
            let rss: Vec<String> = two
                .replicas
                .iter()
                .map(|replica| format!("{} MiB", replica.rss_kib().unwrap_or(0) / 1024))
                .collect();
            Some((logins, p99, rss.join(" / ")))
        }
        None => None,
    };

    let store = store_load(&client, &mock, duration).await;

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
    println!("| one process, SQLite | {one_logins} | {} |", ms(one_p99));
    match &two_result {
        Some((logins, p99, _)) => println!(
            "| two processes, one PostgreSQL | {logins} | {} |",
            ms(*p99)
        ),
        None => println!(
            "| two processes, one PostgreSQL | SKIPPED postgres: no LATCH_TEST_POSTGRES_URL | |"
        ),
    }
    println!(
        "\nServer RSS after the runs: SQLite server {} MiB; PostgreSQL replicas {}.",
        one_rss.unwrap_or(0) / 1024,
        two_result
            .as_ref()
            .map(|r| r.2.clone())
            .unwrap_or_else(|| "not run".into())
    );
    println!();
    store_load_report(seconds, store.as_ref());
    rewrap_report(&rewraps);
    drop(one.db);
}
