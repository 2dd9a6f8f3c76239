//! Webhooks through a real server and a real receiver on 127.0.0.1: endpoints managed by
//! admins, every event of a credential's life delivered and verified by the Standard Webhooks
//! reference library, retries that back off and honour `Retry-After`, an endpoint failing past
//! the horizon turned off, rotated secrets signing twice, and deliveries held to the egress
//! policy.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use latch_core::callers::Scope;
use latch_core::webhook_settings::WebhookConfig;
use latch_core::worker::WorkerConfig;
use latch_tests::webhook_receiver::{Answer, Receiver, Verifier};
use latch_tests::{
    Backend, TestOptions, WithMock, contains_bytes, on_both_backends, problem_fields,
};
use reqwest::Method;
use serde_json::{Value, json};

/// A server that sends webhooks within 50 ms, retries after 300 ms doubling up to 1 s, and
/// resolves `internal.example` to a private address; a mock Looker; a receiver; and the
/// verifier.
pub struct Hooked {
    fixture: WithMock,
    receiver: Receiver,
    verifier: Verifier,
}

pub fn fast_webhooks() -> WebhookConfig {
    WebhookConfig {
        retry_first: Duration::from_millis(300),
        retry_max: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        poll: Duration::from_millis(50),
        ..WebhookConfig::default()
    }
}

impl Hooked {
    async fn with(backend: Backend, webhooks: WebhookConfig) -> Option<Self> {
        let worker = WorkerConfig {
            webhooks,
            ..WorkerConfig::default()
        };
        Self::with_worker(backend, worker).await
    }

    async fn with_worker(backend: Backend, worker: WorkerConfig) -> Option<Self> {
        let verifier = Verifier::available()?;
        let mut options = TestOptions::mock_reachable();
        options.egress.fixed_hosts = Some(Arc::new(HashMap::from([(
            "internal.example".to_string(),
            vec!["10.1.2.3".parse().unwrap()],
        )])));
        options.worker = worker;
        let fixture = WithMock::create_with(backend, options).await?;
        Some(Self {
            fixture,
            receiver: Receiver::start().await,
            verifier,
        })
    }

    pub async fn create(backend: Backend) -> Option<Self> {
        Self::with(backend, fast_webhooks()).await
    }

    /// Adds an endpoint for `url` hearing `events`; its id and secret.
    async fn endpoint(&self, url: &str, events: Value) -> (String, String) {
        let (status, body) = self
            .fixture
            .app
            .send(
                Method::POST,
                "/v1/webhooks",
                Some(&json!({"url": url, "events": events})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["webhook"]["id"].as_str().unwrap().to_string(),
            body["secret"].as_str().unwrap().to_string(),
        )
    }
}

/// A server whose deliveries give up, and whose endpoints are turned off, after 2 seconds of
/// failures.
pub struct ShortHorizon(Hooked);

impl ShortHorizon {
    pub async fn create(backend: Backend) -> Option<Self> {
        let webhooks = WebhookConfig {
            horizon: Duration::from_secs(2),
            ..fast_webhooks()
        };
        Some(Self(Hooked::with(backend, webhooks).await?))
    }
}

/// A server that keeps house five times a second and keeps finished deliveries two seconds.
pub struct Brief(Hooked);

impl Brief {
    pub async fn create(backend: Backend) -> Option<Self> {
        let worker = WorkerConfig {
            tick: Duration::from_millis(200),
            housekeeping_every: Duration::from_millis(200),
            webhooks: WebhookConfig {
                delivery_retention: Duration::from_secs(2),
                ..fast_webhooks()
            },
            ..WorkerConfig::default()
        };
        Some(Self(Hooked::with_worker(backend, worker).await?))
    }
}

on_both_backends!(
    Hooked:
        an_admin_adds_an_endpoint_sees_its_secret_once_and_manages_it,
        bad_endpoints_are_refused_naming_the_field,
        every_event_of_a_credentials_life_arrives_signed_as_standard_webhooks_says,
        a_failing_receiver_gets_every_event_once_it_recovers_and_each_attempt_is_shown,
        a_rotated_secret_signs_beside_the_new_one,
        deliveries_go_through_the_egress_policy;
    ShortHorizon:
        an_endpoint_failing_past_the_horizon_is_turned_off_with_an_event_and_an_audit_record;
    Brief:
        housekeeping_deletes_finished_deliveries_past_their_retention_and_keeps_pending_ones,
);

async fn housekeeping_deletes_finished_deliveries_past_their_retention_and_keeps_pending_ones(
    Brief(hooked): Brief,
) {
    let app = &hooked.fixture.app;
    let (answered, _) = hooked.endpoint(&hooked.receiver.url, Value::Null).await;
    let failing = Receiver::start().await;
    failing.answer(Answer::Fail(500, None));
    let (refused, _) = hooked.endpoint(&failing.url, Value::Null).await;
    for id in [&answered, &refused] {
        app.send(Method::POST, &format!("/v1/webhooks/{id}/test"), None)
            .await;
    }
    let deliveries = |id: String| async move {
        let (_, listed) = app
            .send(Method::GET, &format!("/v1/webhooks/{id}/deliveries"), None)
            .await;
        listed["items"].as_array().unwrap().clone()
    };
    hooked
        .receiver
        .wait_until("the test event", Duration::from_secs(10), |received| {
            !received.is_empty()
        })
        .await;
    assert_eq!(deliveries(answered.clone()).await.len(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !deliveries(answered.clone()).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the delivered event was kept"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pending = deliveries(refused.clone()).await;
    assert_eq!(pending.len(), 1, "what is still being retried stays");
    assert_eq!(pending[0]["state"], "pending");
    assert!(!pending[0]["attempts"].as_array().unwrap().is_empty());
}

async fn an_admin_adds_an_endpoint_sees_its_secret_once_and_manages_it(hooked: Hooked) {
    let app = &hooked.fixture.app;
    let (status, created) = app
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(&json!({"url": hooked.receiver.url, "description": "pager"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    let id = created["webhook"]["id"].as_str().unwrap();
    assert_eq!(created["webhook"]["events"], Value::Null, "every event");
    assert_eq!(created["webhook"]["enabled"], true);

    let (status, read) = app
        .send(Method::GET, &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert!(!read.to_string().contains(secret), "{read}");
    let (_, listed) = app.send(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(listed["items"][0]["id"], id);
    assert!(!listed.to_string().contains(secret));
    assert!(
        !contains_bytes(&app.everything_stored().await, secret),
        "the secret is sealed at rest"
    );

    // Only admins manage endpoints.
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let (status, _) = app
        .send_as(&reader, Method::GET, "/v1/webhooks", None)
        .await;
    assert_eq!(status, 403);

    let path = format!("/v1/webhooks/{id}");
    let (status, changed) = app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"events": ["credential.invalid"], "enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["events"], json!(["credential.invalid"]));
    assert_eq!(changed["enabled"], false);
    let (status, changed) = app
        .send(Method::PATCH, &path, Some(&json!({"events": null})))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["events"],
        Value::Null,
        "null hears every event again"
    );
    let (status, problem) = app.send(Method::PATCH, &path, Some(&json!({}))).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["body"]);

    let (status, _) = app.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = app.send(Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = app.send(Method::POST, &format!("{path}/test"), None).await;
    assert_eq!(status, 404);
    let (_, audit) = app
        .send(Method::GET, "/v1/audit-events?target_type=webhook", None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    for action in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
}

async fn bad_endpoints_are_refused_naming_the_field(hooked: Hooked) {
    let app = &hooked.fixture.app;
    let (before, _) = app.row_counts().await;
    for (body, field, says) in [
        (json!({}), "url", "is required"),
        (json!({"url": "not a url"}), "url", "is not a URL"),
        (json!({"url": "ftp://hooks.example.com/x"}), "url", "ftp://"),
        (json!({"url": "https://10.0.0.7/hook"}), "url", "10.0.0.7"),
        (
            json!({"url": "https://user:pw@hooks.example.com/"}),
            "url",
            "password",
        ),
        (
            json!({"url": hooked.receiver.url, "events": []}),
            "events",
            "at least one",
        ),
        (
            json!({"url": hooked.receiver.url, "events": "all"}),
            "events",
            "list",
        ),
        (
            json!({"url": hooked.receiver.url, "events": ["credential.created", "credential.exploded"]}),
            "events[1]",
            "credential.recovered",
        ),
    ] {
        let (status, problem) = app.send(Method::POST, "/v1/webhooks", Some(&body)).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem_fields(&problem), [field], "{problem}");
        assert!(problem.to_string().contains(says), "{body}: {problem}");
    }
    let (status, problem) = app
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(&json!({"url": hooked.receiver.url, "secret": "mine"})),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused: {problem}");
    let (_, listed) = app.send(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(listed["items"], json!([]), "nothing was written");
    assert_eq!(app.row_counts().await.0, before);
    let (status, problem) = app.send(Method::GET, "/v1/webhooks?limit=0", None).await;
    assert_eq!(status, 400, "{problem}");
}

/// The bodies the receiver accepted of `event_type`.
fn of_type(received: &[latch_tests::webhook_receiver::Received], event_type: &str) -> Vec<Value> {
    received
        .iter()
        .filter(|r| r.answered < 300)
        .map(|r| r.json())
        .filter(|body| body["type"] == event_type)
        .collect()
}

async fn every_event_of_a_credentials_life_arrives_signed_as_standard_webhooks_says(
    hooked: Hooked,
) {
    let fixture = &hooked.fixture;
    let app = &fixture.app;
    let (_, secret) = hooked.endpoint(&hooked.receiver.url, Value::Null).await;
    let only_deletes = Receiver::start().await;
    let (_, deletes_secret) = hooked
        .endpoint(&only_deletes.url, json!(["credential.deleted"]))
        .await;

    // Made and valid; made with a secret Looker refuses, then tested; mended by an edit.
    let good = fixture.saved_credential("good", true).await;
    let (status, bad) = app
        .send(
            Method::POST,
            "/v1/credentials?validate=false",
            Some(&fixture.credential("bad", "wrong")),
        )
        .await;
    assert_eq!(status, 201, "{bad}");
    let bad = bad["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/v1/credentials/{bad}/validate"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let right = fixture.mock.config().client_secret.clone();
    let (status, mended) = app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{bad}"),
            Some(&json!({"secrets": {"client_secret": right}})),
        )
        .await;
    assert_eq!(status, 200, "{mended}");
    // Unreachable three times in a row: degraded.
    let mut far = fixture.credential("far", "wrong");
    far["config"]["api_host_url"] = json!("http://127.0.0.1:9");
    let (_, far) = app
        .send(Method::POST, "/v1/credentials?validate=false", Some(&far))
        .await;
    let far = far["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        app.send(
            Method::POST,
            &format!("/v1/credentials/{far}/validate"),
            None,
        )
        .await;
    }
    let (status, _) = app
        .send(Method::DELETE, &format!("/v1/credentials/{good}"), None)
        .await;
    assert_eq!(status, 204);

    let received = hooked
        .receiver
        .wait_until("every event", Duration::from_secs(20), |received| {
            of_type(received, "credential.deleted").len() == 1
                && of_type(received, "credential.degraded").len() == 1
                && of_type(received, "credential.recovered").len() == 1
        })
        .await;
    assert_eq!(of_type(&received, "credential.created").len(), 3);
    let invalid = &of_type(&received, "credential.invalid")[0];
    assert_eq!(invalid["data"]["organization_id"], app.org_id.to_string());
    let credential = &invalid["data"]["credential"];
    assert_eq!(credential["id"], bad);
    assert_eq!(credential["name"], "bad");
    assert_eq!(credential["connector"], "looker");
    assert_eq!(credential["status"], "invalid");
    assert_eq!(credential["previous_status"], "unverified");
    assert!(credential["detail"].is_string(), "{invalid}");
    let recovered = &of_type(&received, "credential.recovered")[0];
    assert_eq!(
        recovered["data"]["credential"]["previous_status"],
        "invalid"
    );
    assert_eq!(recovered["data"]["credential"]["status"], "valid");
    let degraded = &of_type(&received, "credential.degraded")[0];
    assert_eq!(degraded["data"]["credential"]["id"], far);
    assert!(
        degraded["timestamp"].as_str().unwrap().ends_with('Z'),
        "{degraded}"
    );
    let deleted = &of_type(&received, "credential.deleted")[0];
    assert_eq!(deleted["data"]["credential"]["id"], good);

    // Every delivery verifies with the endpoint's secret, by the reference library; none
    // carries a secret.
    hooked.verifier.assert_all_signed(&received, &secret);
    for delivery in &received {
        assert!(!delivery.body.contains(&right), "{}", delivery.body);
        assert!(!delivery.body.contains("wrong"), "{}", delivery.body);
    }
    let wrong_secret = Verifier::available()
        .unwrap()
        .verify(&received[..1], &[&deletes_secret]);
    assert_eq!(
        wrong_secret,
        vec![vec![false]],
        "another endpoint's secret does not verify"
    );

    // The endpoint that chose only deletions heard only the deletion.
    let only = only_deletes
        .wait_until("the deletion", Duration::from_secs(10), |received| {
            !received.is_empty()
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let types: Vec<Value> = only_deletes
        .received()
        .iter()
        .map(|r| r.json()["type"].clone())
        .collect();
    assert_eq!(types, vec![json!("credential.deleted")]);
    hooked.verifier.assert_all_signed(&only, &deletes_secret);
}

async fn a_failing_receiver_gets_every_event_once_it_recovers_and_each_attempt_is_shown(
    hooked: Hooked,
) {
    let fixture = &hooked.fixture;
    let app = &fixture.app;
    hooked.receiver.answer(Answer::Fail(503, Some(1)));
    let (id, secret) = hooked.endpoint(&hooked.receiver.url, Value::Null).await;
    for name in ["one", "two", "three"] {
        fixture.saved_credential(name, false).await;
    }
    hooked
        .receiver
        .wait_until(
            "three refused rounds",
            Duration::from_secs(20),
            |received| received.len() >= 9,
        )
        .await;
    let path = format!("/v1/webhooks/{id}/deliveries");
    let (status, deliveries) = app.send(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{deliveries}");
    let items = deliveries["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for delivery in items {
        assert_eq!(delivery["state"], "pending", "{delivery}");
        assert_eq!(delivery["event_type"], "credential.created");
        let attempts = delivery["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 2, "{delivery}");
        for attempt in attempts {
            assert_eq!(attempt["status_code"], 503, "{attempt}");
            assert!(attempt["latency_ms"].is_i64());
            assert_eq!(
                attempt["error"],
                "the endpoint answered 503 Service Unavailable"
            );
            // Retry-After: 1 outweighs the first waits of 300 and 600 ms.
            let at = chrono::DateTime::parse_from_rfc3339(attempt["at"].as_str().unwrap()).unwrap();
            let next =
                chrono::DateTime::parse_from_rfc3339(attempt["next_attempt_at"].as_str().unwrap())
                    .unwrap();
            assert!(next - at >= chrono::Duration::seconds(1), "{attempt}");
        }
    }
    let webhook = app
        .send(Method::GET, &format!("/v1/webhooks/{id}"), None)
        .await
        .1;
    assert!(webhook["failing_since"].is_string(), "{webhook}");

    hooked.receiver.answer(Answer::Accept);
    let received = hooked
        .receiver
        .wait_until("every event", Duration::from_secs(20), |received| {
            received.iter().filter(|r| r.answered == 204).count() == 3
        })
        .await;
    let accepted: Vec<_> = received.into_iter().filter(|r| r.answered == 204).collect();
    hooked.verifier.assert_all_signed(&accepted, &secret);
    let ids: std::collections::HashSet<&str> = accepted.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        3,
        "one event each, the same webhook-id on every attempt"
    );
    for refused in hooked
        .receiver
        .received()
        .iter()
        .filter(|r| r.answered == 503)
    {
        assert!(
            ids.contains(refused.id.as_str()),
            "a retry keeps its webhook-id"
        );
    }
    let (_, deliveries) = app.send(Method::GET, &path, None).await;
    for delivery in deliveries["items"].as_array().unwrap() {
        assert_eq!(delivery["state"], "delivered", "{delivery}");
        assert_eq!(delivery["next_attempt_at"], Value::Null);
        let last = delivery["attempts"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["status_code"], 204);
        assert_eq!(last["error"], Value::Null);
    }
    let (_, webhook) = app
        .send(Method::GET, &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(webhook["failing_since"], Value::Null, "{webhook}");

    // Sent again by hand: the same event, signed anew.
    let delivery_id = deliveries["items"][0]["id"].as_str().unwrap();
    let (status, retried) = app
        .send(Method::POST, &format!("{path}/{delivery_id}/retry"), None)
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["state"], "pending");
    hooked
        .receiver
        .wait_until("the retry", Duration::from_secs(10), |received| {
            received.iter().filter(|r| r.answered == 204).count() == 4
        })
        .await;
    let (status, _) = app
        .send(
            Method::POST,
            &format!("{path}/{}/retry", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert!(
        app.metrics()
            .await
            .contains("latch_webhook_attempts_total{result=\"retry\"}")
    );
}

async fn an_endpoint_failing_past_the_horizon_is_turned_off_with_an_event_and_an_audit_record(
    ShortHorizon(hooked): ShortHorizon,
) {
    let fixture = &hooked.fixture;
    let app = &fixture.app;
    hooked.receiver.answer(Answer::Fail(500, None));
    let (failing, _) = hooked.endpoint(&hooked.receiver.url, Value::Null).await;
    let watcher = Receiver::start().await;
    let (_, watcher_secret) = hooked
        .endpoint(&watcher.url, json!(["webhook.disabled"]))
        .await;
    fixture.saved_credential("one", false).await;

    let received = watcher
        .wait_until("webhook.disabled", Duration::from_secs(20), |received| {
            !received.is_empty()
        })
        .await;
    let event = received[0].json();
    assert_eq!(event["type"], "webhook.disabled");
    assert_eq!(event["data"]["webhook"]["id"], failing);
    hooked
        .verifier
        .assert_all_signed(&received, &watcher_secret);
    let path = format!("/v1/webhooks/{failing}");
    let (_, webhook) = app.send(Method::GET, &path, None).await;
    assert_eq!(webhook["enabled"], false, "{webhook}");
    assert!(
        webhook["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("horizon")
    );
    let (_, deliveries) = app
        .send(Method::GET, &format!("{path}/deliveries"), None)
        .await;
    assert_eq!(deliveries["items"][0]["state"], "failed", "{deliveries}");
    let disabled = app
        .audit_events_eventually(app.org_id, "webhook.disabled", |found| !found.is_empty())
        .await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].target_id.as_deref(), Some(failing.as_str()));
    assert_eq!(disabled[0].actor_key_id, None, "Latch did it, not a key");

    // Off, it hears nothing new; turned on again and retried by hand, it gets the event.
    let attempts = hooked.receiver.arrived();
    fixture.saved_credential("two", false).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hooked.receiver.arrived(),
        attempts,
        "nothing goes to an endpoint that is off"
    );
    hooked.receiver.answer(Answer::Accept);
    let (status, _) = app
        .send(Method::PATCH, &path, Some(&json!({"enabled": true})))
        .await;
    assert_eq!(status, 200);
    let delivery = deliveries["items"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .send(
            Method::POST,
            &format!("{path}/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    hooked
        .receiver
        .wait_until("the retried event", Duration::from_secs(10), |received| {
            received.iter().any(|r| r.answered == 204)
        })
        .await;
}

async fn a_rotated_secret_signs_beside_the_new_one(hooked: Hooked) {
    let app = &hooked.fixture.app;
    let (id, old) = hooked.endpoint(&hooked.receiver.url, Value::Null).await;
    let (status, rotated) = app
        .send(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap();
    assert!(new.starts_with("whsec_") && new != old);
    let expires = chrono::DateTime::parse_from_rfc3339(
        rotated["webhook"]["previous_secret_expires_at"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let in_a_day = chrono::Utc::now() + chrono::Duration::hours(24);
    assert!(
        (expires.to_utc() - in_a_day).num_seconds().abs() < 60,
        "{rotated}"
    );

    let (status, queued) = app
        .send(Method::POST, &format!("/v1/webhooks/{id}/test"), None)
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["event_type"], "webhook.test");
    let received = hooked
        .receiver
        .wait_until("the test event", Duration::from_secs(10), |received| {
            !received.is_empty()
        })
        .await;
    assert_eq!(received[0].json()["type"], "webhook.test");
    assert_eq!(
        received[0].signature.split(' ').count(),
        2,
        "two signatures"
    );
    let results = hooked.verifier.verify(&received, &[&old, new]);
    assert_eq!(results, vec![vec![true, true]], "either secret verifies it");
    let (_, audit) = app
        .send(Method::GET, "/v1/audit-events?target_type=webhook", None)
        .await;
    assert!(!audit.to_string().contains(new), "{audit}");
    assert!(!audit.to_string().contains(&old), "{audit}");
}

async fn deliveries_go_through_the_egress_policy(hooked: Hooked) {
    let app = &hooked.fixture.app;
    // A name that resolves to a private address: refused at the resolver, never connected.
    let (private, _) = hooked
        .endpoint("https://internal.example/hook", Value::Null)
        .await;
    // A receiver that redirects: not followed.
    hooked.receiver.answer(Answer::Fail(307, None));
    let (redirecting, _) = hooked.endpoint(&hooked.receiver.url, Value::Null).await;
    for id in [&private, &redirecting] {
        app.send(Method::POST, &format!("/v1/webhooks/{id}/test"), None)
            .await;
    }
    for (id, says) in [(&private, "10.1.2.3"), (&redirecting, "redirect")] {
        let path = format!("/v1/webhooks/{id}/deliveries");
        latch_tests::eventually("an attempt", || async {
            let (_, deliveries) = app.send(Method::GET, &path, None).await;
            deliveries["items"][0]["attempts"]
                .as_array()
                .is_some_and(|attempts| !attempts.is_empty())
        })
        .await;
        let (_, deliveries) = app.send(Method::GET, &path, None).await;
        let attempt = &deliveries["items"][0]["attempts"][0];
        assert!(
            attempt["error"].as_str().unwrap().contains(says),
            "{attempt}"
        );
        assert_eq!(deliveries["items"][0]["state"], "pending", "retried later");
    }
}
