//! Slow bodies: a body that does not arrive within `LATCH_BODY_TIMEOUT_SECONDS` gets 408 and
//! its connection closed, and a key without a route's scope is refused before its body is
//! waited for. Spoken as raw HTTP/1.1 over TCP, since no client library trickles a body.

use std::time::Duration;

use latch_api::Limits;
use latch_core::callers::Scope;
use latch_tests::{TestApp, TestOptions, on_both_backends};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server that gives a body one second.
pub struct Impatient(TestApp);

impl Impatient {
    pub async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let options = TestOptions {
            limits: Limits {
                body_timeout: Duration::from_secs(1),
                ..Limits::default()
            },
            ..TestOptions::default()
        };
        Some(Self(TestApp::create_with(backend, options).await?))
    }
}

on_both_backends!(
    Impatient:
        a_body_trickled_past_its_deadline_gets_408_and_the_connection_is_closed;
    TestApp:
        a_key_without_the_scope_is_refused_before_its_body_is_waited_for,
);

/// Sends a POST's head announcing `length` bytes of JSON; the open connection.
async fn post_head(app: &TestApp, path: &str, key: &str, length: usize) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(
    stream: &mut (impl AsyncReadExt + Unpin),
    limit: Duration,
) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

async fn a_body_trickled_past_its_deadline_gets_408_and_the_connection_is_closed(
    impatient: Impatient,
) {
    let app = &impatient.0;
    let stream = post_head(app, "/v1/credentials", &app.admin_key, 200).await;
    let (mut reading, mut writing) = stream.into_split();
    // One byte every 300 ms: each arrives in time, the whole body never does.
    let trickle = tokio::spawn(async move {
        for byte in b"{\"name\": \"slow\", \"description\": \"" {
            if writing.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let (answer, closed) = read_until_closed(&mut reading, Duration::from_secs(8)).await;
    trickle.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:latch:problem:request_timeout"),
        "{answer}"
    );
    assert!(closed, "the server closed the connection: {answer}");

    let (_, list) = app.send(Method::GET, "/v1/credentials", None).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

async fn a_key_without_the_scope_is_refused_before_its_body_is_waited_for(app: TestApp) {
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    for path in ["/v1/credentials", "/v1/data-sources", "/v1/api-keys"] {
        // The head promises a body that never comes; the default deadline is 10 s.
        let mut stream = post_head(&app, path, &reader, 500).await;
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        assert!(answer.contains("lacks the"), "{path}: {answer}");
    }
}
