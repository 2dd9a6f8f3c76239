//! What two replicas ask of one PostgreSQL while jobs take cached tokens.

use super::*;

/// What two replicas on one PostgreSQL ask of it while jobs take cached tokens of
/// `ACTIVE_CREDENTIALS` credentials, each asked for about every 20 ms.
pub(super) struct StoreLoad {
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

pub(super) async fn store_load(
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

pub(super) fn store_load_report(seconds: u64, result: Option<&StoreLoad>) {
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
