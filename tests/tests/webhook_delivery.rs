//! Webhook delivery across real processes: two replicas deliver each event once between them,
//! and events survive a `kill -9` of the replica delivering them (at least once: they arrive
//! after another replica takes their lapsed leases over); an endpoint's answer counts by its
//! status alone, however long its body.

use std::path::Path;
use std::time::Duration;

use latch_core::worker::WorkerConfig;
use latch_tests::replica::Replica;
use latch_tests::webhook_receiver::{Answer, Receiver, Verifier};
use latch_tests::{Backend, TestOptions, WithMock, on_both_backends};
use latch_vault::ExposeSecret;
use reqwest::Method;
use serde_json::json;

const LATCH: &str = env!("CARGO_BIN_EXE_latch-server");

/// A server that delivers nothing itself (its worker is off): the replicas started by each
/// test deliver; a receiver; the verifier.
pub struct Apart {
    fixture: WithMock,
    receiver: Receiver,
    verifier: Verifier,
}

impl Apart {
    pub async fn create(backend: Backend) -> Option<Self> {
        let verifier = Verifier::available()?;
        let options = TestOptions {
            worker: WorkerConfig {
                enabled: false,
                refresh_ahead_window: Duration::ZERO,
                ..WorkerConfig::default()
            },
            ..TestOptions::mock_reachable()
        };
        Some(Self {
            fixture: WithMock::create_with(backend, options).await?,
            receiver: Receiver::start().await,
            verifier,
        })
    }

    /// A `latch serve` process on the same database whose attempts give up after 2 seconds
    /// (so a delivery it took is another's 9 seconds later).
    async fn delivering_replica(&self) -> Replica {
        let app = &self.fixture.app;
        Replica::spawn_with_env(
            Path::new(LATCH),
            &app.db.url,
            app.master_key.expose_secret(),
            1,
            &[
                ("LATCH_WEBHOOK_TIMEOUT_SECONDS", "2"),
                ("LATCH_WEBHOOK_POLL_MS", "50"),
                ("LATCH_WEBHOOK_RETRY_FIRST_SECONDS", "1"),
            ],
        )
        .await
    }

    /// A webhook for `credential.created` at the receiver: its id and signing secret.
    async fn endpoint(&self) -> (String, String) {
        let (status, body) = self
            .fixture
            .app
            .send(
                Method::POST,
                "/v1/webhooks",
                Some(&json!({"url": self.receiver.url, "events": ["credential.created"]})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["webhook"]["id"].as_str().unwrap().to_string(),
            body["secret"].as_str().unwrap().to_string(),
        )
    }

    /// Makes `count` credentials (untested): `count` events. Their ids.
    async fn events(&self, prefix: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for n in 0..count {
            ids.push(
                self.fixture
                    .saved_credential(&format!("{prefix}-{n}"), false)
                    .await,
            );
        }
        ids
    }
}

on_both_backends!(
    Apart:
        two_replicas_deliver_each_event_once_between_them,
        every_event_arrives_after_the_delivering_replica_is_killed_mid_delivery,
        an_answer_with_a_long_body_is_delivered_by_its_status_alone,
);

/// The credential ids the accepted deliveries name.
fn credentials_named(received: &[latch_tests::webhook_receiver::Received]) -> Vec<String> {
    received
        .iter()
        .filter(|r| r.answered < 300)
        .map(|r| {
            r.json()["data"]["credential"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn two_replicas_deliver_each_event_once_between_them(apart: Apart) {
    let (_, secret) = apart.endpoint().await;
    let _one = apart.delivering_replica().await;
    let _two = apart.delivering_replica().await;
    let ids = apart.events("pair", 60).await;

    apart
        .receiver
        .wait_until("every event", Duration::from_secs(30), |received| {
            received.len() >= ids.len()
        })
        .await;
    // A moment more: a duplicate would arrive now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = apart.receiver.received();
    let mut named = credentials_named(&received);
    named.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(named, expected, "each event once, none twice");
    apart.verifier.assert_all_signed(&received, &secret);
}

async fn every_event_arrives_after_the_delivering_replica_is_killed_mid_delivery(apart: Apart) {
    let (_, secret) = apart.endpoint().await;
    // The receiver holds every request open: the replica is mid-delivery when it dies.
    apart.receiver.answer(Answer::Hold(Duration::from_secs(60)));
    let doomed = apart.delivering_replica().await;
    let ids = apart.events("crash", 20).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while apart.receiver.arrived() == 0 {
        assert!(std::time::Instant::now() < deadline, "no delivery started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // kill -9: no chance to write anything back.
    let status = std::process::Command::new("kill")
        .args(["-KILL", &doomed.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(doomed);
    assert!(
        apart.receiver.accepted().is_empty(),
        "nothing was answered before the kill"
    );

    apart.receiver.answer(Answer::Accept);
    let _heir = apart.delivering_replica().await;
    // Latch's own record says every delivery was answered 2xx (a request the killed replica
    // had sent may still have been answered, to no one: that one is sent again).
    let app = &apart.fixture.app;
    let (_, webhooks) = app.send(Method::GET, "/v1/webhooks", None).await;
    let path = format!(
        "/v1/webhooks/{}/deliveries",
        webhooks["items"][0]["id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let (_, deliveries) = app.send(Method::GET, &path, None).await;
        let items = deliveries["items"].as_array().unwrap();
        if items.len() == ids.len() && items.iter().all(|d| d["state"] == "delivered") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all delivered: {deliveries}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let accepted = apart.receiver.accepted();
    apart.verifier.assert_all_signed(&accepted, &secret);
    let mut named = credentials_named(&accepted);
    named.sort();
    named.dedup();
    let mut expected = ids;
    expected.sort();
    assert_eq!(named, expected, "every event arrived");
}

async fn an_answer_with_a_long_body_is_delivered_by_its_status_alone(apart: Apart) {
    // Longer than any upstream answer Latch reads (64 KiB).
    apart.receiver.answer(Answer::AcceptWithBody(256 * 1024));
    let (id, _) = apart.endpoint().await;
    let _replica = apart.delivering_replica().await;
    apart.events("long", 1).await;
    let path = format!("/v1/webhooks/{id}/deliveries");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let delivery = loop {
        let (status, listed) = apart.fixture.app.send(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{listed}");
        let first = listed["items"][0].clone();
        if first["state"] != "pending" && !first.is_null() {
            break first;
        }
        assert!(std::time::Instant::now() < deadline, "still {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{delivery}");
    assert_eq!(attempts[0]["status_code"], 200);
    assert!(attempts[0]["error"].is_null(), "{delivery}");
    assert_eq!(apart.receiver.arrived(), 1, "no second attempt");
}
