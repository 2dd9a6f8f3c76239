//! A webhook receiver on 127.0.0.1 that keeps every request it gets, answering as a test
//! tells it (accept, fail with a status and a `Retry-After`, or hold the request), and the
//! Standard Webhooks reference library (Python, in `.venv/webhooks`) that verifies what it got.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::skips;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 204.
    Accept,
    /// 200 with a body of this many bytes.
    AcceptWithBody(usize),
    /// This status, with `Retry-After: seconds` when given.
    Fail(u16, Option<u64>),
    /// Keeps the request open this long, then accepts.
    Hold(Duration),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// What the receiver answered (204 for a held request that was then accepted).
    pub answered: u16,
    /// When the receiver answered it.
    pub answered_at: std::time::SystemTime,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a delivery's body is JSON")
    }
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    answer: Mutex<Option<Answer>>,
    /// Requests that arrived, answered or not yet.
    arrived: AtomicUsize,
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    state: Arc<State>,
    handle: ServerHandle,
}

async fn hook(request: HttpRequest, body: String, state: web::Data<Arc<State>>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    state.arrived.fetch_add(1, Ordering::SeqCst);
    let answer = state.answer.lock().unwrap().unwrap_or(Answer::Accept);
    let answered = match answer {
        Answer::Accept | Answer::Hold(_) => 204,
        Answer::AcceptWithBody(_) => 200,
        Answer::Fail(status, _) => status,
    };
    if let Answer::Hold(time) = answer {
        tokio::time::sleep(time).await;
    }
    state.received.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
        answered,
        answered_at: std::time::SystemTime::now(),
    });
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap());
    if let Answer::Fail(_, Some(seconds)) = answer {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    if let Answer::AcceptWithBody(length) = answer {
        return response.body("x".repeat(length));
    }
    response.finish()
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/hook", web::post().to(hook))
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .expect("the receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            handle,
        }
    }

    pub fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = Some(answer);
    }

    /// Requests that arrived so far, answered or still held.
    pub fn arrived(&self) -> usize {
        self.state.arrived.load(Ordering::SeqCst)
    }

    /// Every request so far, in the order they were answered.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|received| received.answered < 300)
            .collect()
    }

    /// The distinct event ids accepted.
    pub fn accepted_ids(&self) -> HashSet<String> {
        self.accepted()
            .into_iter()
            .map(|received| received.id)
            .collect()
    }

    /// Waits (up to `limit`) until `check` holds of what was received; panics otherwise.
    pub async fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let received = self.received();
            if check(&received) {
                return received;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver waited {limit:?} for {what}; it got {} requests: {:?}",
                received.len(),
                received
                    .iter()
                    .map(|r| (r.answered, r.json()["type"].clone()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// The Standard Webhooks reference library, run by Python from `.venv/webhooks`.
pub struct Verifier {
    python: PathBuf,
    script: PathBuf,
}

impl Verifier {
    /// The verifier, or `None` (said loudly once) when it is not installed and not required.
    pub fn available() -> Option<Self> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join(".venv/webhooks/bin/python");
        if !python.exists() {
            if std::env::var("LATCH_REQUIRE_WEBHOOK_VERIFIER").as_deref() == Ok("1") {
                panic!(
                    "LATCH_REQUIRE_WEBHOOK_VERIFIER=1 but {} is missing: run tests/webhook-verifier/install",
                    python.display()
                );
            }
            skips::webhook_verifier();
            return None;
        }
        Some(Self {
            python,
            script: root.join("tests/webhook-verifier/verify.py"),
        })
    }

    /// For each delivery, whether the library accepts it as signed with each of `secrets`.
    pub fn verify(&self, deliveries: &[Received], secrets: &[&str]) -> Vec<Vec<bool>> {
        let request = json!({
            "secrets": secrets,
            "deliveries": deliveries.iter().map(|delivery| json!({
                "headers": {
                    "webhook-id": delivery.id,
                    "webhook-timestamp": delivery.timestamp,
                    "webhook-signature": delivery.signature,
                },
                "body": delivery.body,
            })).collect::<Vec<_>>(),
        });
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "verify.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("verify.py answers JSON")
    }

    /// Asserts that every delivery verifies with `secret`.
    pub fn assert_all_signed(&self, deliveries: &[Received], secret: &str) {
        assert!(!deliveries.is_empty(), "nothing to verify");
        let results = self.verify(deliveries, &[secret]);
        for (delivery, row) in deliveries.iter().zip(&results) {
            assert_eq!(
                row,
                &vec![true],
                "standardwebhooks refused delivery {} ({})",
                delivery.id,
                delivery.body
            );
        }
    }
}
