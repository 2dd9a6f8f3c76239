//! Refreshing ahead: 200 credentials whose tokens live a minute, under steady job load on two
//! replicas of one database, with and without refreshing ahead, through several expiries.

use super::*;

/// Credentials jobs take tokens of.
const CREDENTIALS: usize = 200;
/// How long the upstream's tokens live, and the `min_ttl_seconds` jobs ask for.
const LIFETIME: u64 = 60;
const MIN_TTL: u64 = 10;

pub(super) struct RefreshAhead {
    /// Token requests, their p99, p99.99 and worst, and how many waited as long as an
    /// upstream login takes (100 ms) or longer.
    requests: usize,
    p99: Duration,
    p9999: Duration,
    worst: Duration,
    slow: usize,
    /// Upstream logins during the run, and how many tokens the run's length asks of each
    /// credential at the least (one per `LIFETIME - MIN_TTL` seconds of use).
    logins: u64,
    needed: f64,
}

/// Two replicas (refreshing ahead or not, per `ahead`) on a fresh database, `CREDENTIALS`
/// credentials at a mock Looker of their own, and jobs asking for their tokens round-robin over
/// `CONNECTIONS` connections for `duration`.
pub(super) async fn refresh_ahead_run(
    client: &reqwest::Client,
    backend: Backend,
    ahead: bool,
    duration: Duration,
) -> Option<RefreshAhead> {
    let mock = MockLooker::start(MockLookerConfig {
        latency: Duration::from_millis(100),
        expires_in: LIFETIME,
        ..MockLookerConfig::default()
    })
    .await;
    let db = TestDatabase::create(backend).await?;
    let binary = sibling("latch-server");
    let key = admin_key(&binary, &db.url, "bench");
    let master = MasterKey::generate().unwrap().to_base64();
    let master = master.expose_secret().to_string();
    let window = if ahead { "900" } else { "0" };
    let env = [
        ("LATCH_REFRESH_AHEAD_WINDOW_SECONDS", window),
        // Refreshing ahead looks every second.
        ("LATCH_WORKER_TICK_MS", "6000"),
        ("LATCH_CHECKS_PER_HOST", "8"),
    ];
    let mut replicas = Vec::new();
    for _ in 0..2 {
        replicas.push(Replica::spawn_with_env(&binary, &db.url, &master, 2, &env).await);
    }
    let server = Server {
        replicas,
        key,
        master,
        db,
    };
    let mut ids = Vec::with_capacity(CREDENTIALS);
    for n in 0..CREDENTIALS {
        ids.push(create_credential(client, &server, &mock, &format!("ahead {n}")).await);
    }
    let urls: Arc<Vec<String>> = Arc::new(
        (0..CREDENTIALS * 2)
            .map(|n| {
                let replica = &server.replicas[n % 2];
                format!("{}/v1/credentials/{}/token", replica.address, ids[n / 2])
            })
            .collect(),
    );
    // Every credential gets its first token (and its demand is seen) before the clock starts.
    for url in urls.iter() {
        let response = client
            .post(url)
            .bearer_auth(&server.key)
            .json(&json!({"min_ttl_seconds": MIN_TTL}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let before = mock.stats().logins;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let key = server.key.clone();
    let make: MakeRequest = Arc::new(move |client| {
        let n = next.fetch_add(1, Ordering::Relaxed) % urls.len();
        client
            .post(&urls[n])
            .bearer_auth(&key)
            .json(&json!({"min_ttl_seconds": MIN_TTL}))
    });
    let (latencies, seconds) = load_latencies(client, CONNECTIONS, duration, make).await;
    let logins = mock.stats().logins - before;
    let worst = latencies.iter().max().copied().unwrap_or_default();
    let slow = latencies
        .iter()
        .filter(|latency| **latency >= Duration::from_millis(100))
        .count();
    let mut sorted = latencies.clone();
    sorted.sort();
    let p9999 = sorted[((sorted.len() as f64 * 0.9999) as usize).min(sorted.len() - 1)];
    let run = summarise(latencies, seconds);
    let needed = CREDENTIALS as f64 * seconds / (LIFETIME - MIN_TTL) as f64;
    drop(server);
    Some(RefreshAhead {
        requests: run.requests,
        p99: run.p99,
        p9999,
        worst,
        slow,
        logins,
        needed,
    })
}

pub(super) fn refresh_ahead_report(seconds: u64, runs: &[(&str, Option<RefreshAhead>)]) {
    println!(
        "### Refreshing ahead\n\n{CREDENTIALS} Looker credentials whose tokens live {LIFETIME} s \
         (upstream latency 100 ms), two replicas on one database, jobs asking for \
         `min_ttl_seconds: {MIN_TTL}` round-robin over {CONNECTIONS} connections for {seconds} s. \
         \"Logins per token needed\" divides the upstream logins by what the run asks at the \
         least: one token per credential per {} s of use.\n",
        LIFETIME - MIN_TTL
    );
    println!(
        "| run | token requests | p99 | p99.99 | worst | requests of 100 ms or more | upstream logins | logins per token needed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let baseline = runs.iter().find_map(|(_, run)| run.as_ref());
    for (name, run) in runs {
        match run {
            Some(run) => println!(
                "| {name} | {} | {} | {} | {} | {} | {} | {:.2} |",
                run.requests,
                ms(run.p99),
                ms(run.p9999),
                ms(run.worst),
                run.slow,
                run.logins,
                run.logins as f64 / run.needed
            ),
            None => println!("| {name} | SKIPPED: no database | | | | | | |"),
        }
    }
    if let (Some(baseline), Some((_, Some(ahead)))) = (baseline, runs.last()) {
        println!(
            "\nToken p99 with refreshing ahead / without: **{:.3}**; p99.99: **{:.3}**\n",
            ahead.p99.as_secs_f64() / baseline.p99.as_secs_f64(),
            ahead.p9999.as_secs_f64() / baseline.p9999.as_secs_f64()
        );
    }
}
