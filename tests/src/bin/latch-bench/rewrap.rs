//! A master key rotation of many credentials (`latch rewrap`) while tokens are handed out.

use super::*;

/// What a rewrap of many credentials cost, and what it did to token hand-outs meanwhile.
pub(super) struct RewrapRun {
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
pub(super) async fn rewrap_run(
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

pub(super) fn rewrap_report(runs: &[(&str, Option<RewrapRun>)]) {
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
