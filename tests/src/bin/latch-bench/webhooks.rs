//! Webhook throughput: 10 000 events (credentials made through the API, each a
//! `credential.created`) delivered to a receiver on 127.0.0.1, against the same number of
//! credentials made with no endpoint to hear them (the baseline: what the outbox costs the
//! write), on one SQLite replica and on two PostgreSQL replicas.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;

use latch_tests::webhook_receiver::Receiver;

use super::*;

/// Events each run delivers.
pub(super) const EVENTS: usize = 10_000;
/// Requests making credentials at once.
const MAKERS: usize = 16;

pub(super) struct WebhookRun {
    /// Credentials made per second with no endpoint, and with one.
    baseline_per_second: f64,
    with_endpoint_per_second: f64,
    /// Distinct events the receiver accepted, and requests beyond one per event.
    delivered: usize,
    repeats: usize,
    /// From the first event made to the last one received.
    all_delivered: Duration,
    /// From an event's timestamp to its receipt.
    lag_p50: Duration,
    lag_p99: Duration,
    lag_max: Duration,
}

/// Makes `count` untested credentials named `{prefix} n` through `MAKERS` connections spread
/// over the replicas; the seconds it took.
async fn make_credentials(
    client: &reqwest::Client,
    server: &Server,
    prefix: &str,
    count: usize,
) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let makers: Vec<_> = (0..MAKERS)
        .map(|maker| {
            let client = client.clone();
            let next = next.clone();
            let prefix = prefix.to_string();
            let url = format!(
                "{}/v1/credentials?validate=false",
                server.replicas[maker % server.replicas.len()].address
            );
            let key = server.key.clone();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= count {
                        return;
                    }
                    let response = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&json!({
                            "name": format!("{prefix} {n}"),
                            "connector": "looker",
                            "config": {"api_host_url": "http://127.0.0.1:9/", "client_id": "bench"},
                            "secrets": {"client_secret": "bench-secret"}
                        }))
                        .send()
                        .await
                        .expect("the server answers");
                    assert_eq!(response.status(), 201, "{:?}", response.text().await);
                }
            })
        })
        .collect();
    for maker in makers {
        maker.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

pub(super) async fn webhook_run(
    client: &reqwest::Client,
    backend: Backend,
    replicas: usize,
) -> Option<WebhookRun> {
    let server = servers(backend, replicas, 2).await?;
    let receiver = Receiver::start().await;

    let baseline = make_credentials(client, &server, "quiet", EVENTS).await;
    let created: Value = client
        .post(format!("{}/v1/webhooks", server.replicas[0].address))
        .bearer_auth(&server.key)
        .json(&json!({"url": receiver.url, "events": ["credential.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["secret"].is_string(), "{created}");
    let first_made = std::time::SystemTime::now();
    let with_endpoint = make_credentials(client, &server, "heard", EVENTS).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while receiver.accepted_ids().len() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment for repeats to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = receiver.accepted();
    let distinct: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    let mut lags: Vec<Duration> = received
        .iter()
        .map(|r| {
            let body = r.json();
            let at =
                chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
            let answered: chrono::DateTime<chrono::Utc> = r.answered_at.into();
            (answered - at.to_utc()).to_std().unwrap_or_default()
        })
        .collect();
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1))];
    let last = received.iter().map(|r| r.answered_at).max()?;
    Some(WebhookRun {
        baseline_per_second: EVENTS as f64 / baseline,
        with_endpoint_per_second: EVENTS as f64 / with_endpoint,
        delivered: distinct.len(),
        repeats: received.len() - distinct.len(),
        all_delivered: last.duration_since(first_made).unwrap_or_default(),
        lag_p50: at(0.5),
        lag_p99: at(0.99),
        lag_max: *lags.last()?,
    })
}

pub(super) fn webhook_report(runs: &[(&str, Option<WebhookRun>)]) {
    println!("\n### Webhook throughput ({EVENTS} events)\n");
    println!(
        "| database | credentials made / s, no endpoint | with an endpoint (ratio) | delivered | repeats | first made → last delivered | lag p50 | lag p99 | lag max |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, run) in runs {
        match run {
            None => println!("| {name} | skipped: no database | | | | | | | |"),
            Some(run) => println!(
                "| {name} | {:.0} | {:.0} ({:.2}) | {} | {} | {:.1} s | {} | {} | {} |",
                run.baseline_per_second,
                run.with_endpoint_per_second,
                run.with_endpoint_per_second / run.baseline_per_second,
                run.delivered,
                run.repeats,
                run.all_delivered.as_secs_f64(),
                ms(run.lag_p50),
                ms(run.lag_p99),
                ms(run.lag_max),
            ),
        }
    }
}

pub(super) async fn webhook_runs(
    client: &reqwest::Client,
) -> Vec<(&'static str, Option<WebhookRun>)> {
    vec![
        (
            "SQLite, 1 replica",
            webhook_run(client, Backend::Sqlite, 1).await,
        ),
        (
            "PostgreSQL, 2 replicas",
            webhook_run(client, Backend::Postgres, 2).await,
        ),
    ]
}
