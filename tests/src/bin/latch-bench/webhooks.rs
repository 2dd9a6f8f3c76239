//! Webhook throughput: 10 000 events (credentials made through the API, each a
//! `credential.created`) queued while no replica delivers, then delivered to a receiver on
//! 127.0.0.1 by `latch worker` processes, timed from their start; and what the outbox costs
//! the write: credentials made per second with an endpoint against the same number made with
//! none (the baseline). On one SQLite replica and on two PostgreSQL replicas.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;

use latch_tests::replica::WorkerProcess;
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
    /// From the delivering processes' start to the last event received.
    drained: Duration,
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

/// `replicas` serving replicas with the worker off, on a fresh database.
async fn quiet_servers(backend: Backend, replicas: usize) -> Option<Server> {
    servers_with(backend, replicas, 2, &[("LATCH_WORKER", "off")]).await
}

/// The baseline on a fresh database of its own: credentials made with no endpoint. Then, on
/// another fresh database, the same with an endpoint (the events are queued, since no replica
/// delivers), and `replicas` `latch worker` processes deliver the queue, timed from their start.
pub(super) async fn webhook_run(
    client: &reqwest::Client,
    backend: Backend,
    replicas: usize,
) -> Option<WebhookRun> {
    let baseline = {
        let server = quiet_servers(backend, replicas).await?;
        make_credentials(client, &server, "quiet", EVENTS).await
    };
    let server = quiet_servers(backend, replicas).await?;
    let binary = sibling("latch-server");
    let receiver = Receiver::start().await;
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
    let with_endpoint = make_credentials(client, &server, "heard", EVENTS).await;

    let started = Instant::now();
    let _workers: Vec<WorkerProcess> = (0..replicas)
        .map(|_| WorkerProcess::start(&binary, &server.db.url, &server.master))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    while receiver.accepted_ids().len() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = started.elapsed();
    // A moment for repeats to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = receiver.accepted();
    let distinct: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    Some(WebhookRun {
        baseline_per_second: EVENTS as f64 / baseline,
        with_endpoint_per_second: EVENTS as f64 / with_endpoint,
        delivered: distinct.len(),
        repeats: received.len() - distinct.len(),
        drained,
    })
}

pub(super) fn webhook_report(runs: &[(&str, Option<WebhookRun>)]) {
    println!("\n### Webhook throughput ({EVENTS} events)\n");
    println!(
        "| database | credentials made / s, no endpoint | with an endpoint (ratio) | delivered | repeats | queue drained in | events / s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, run) in runs {
        match run {
            None => println!("| {name} | skipped: no database | | | | | |"),
            Some(run) => println!(
                "| {name} | {:.0} | {:.0} ({:.2}) | {} | {} | {:.1} s | {:.0} |",
                run.baseline_per_second,
                run.with_endpoint_per_second,
                run.with_endpoint_per_second / run.baseline_per_second,
                run.delivered,
                run.repeats,
                run.drained.as_secs_f64(),
                run.delivered as f64 / run.drained.as_secs_f64(),
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
