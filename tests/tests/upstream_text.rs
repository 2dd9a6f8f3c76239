//! What an upstream says about its user is cleaned before Latch stores or shows it: a
//! display name with a right-to-left override, 60 000 characters long, becomes a short name
//! that reads as it is, through an API key's test login and through a consent.

use latch_tests::{WithMock, on_both_backends};
use reqwest::Method;
use serde_json::Value;

use crate::connect_sessions::Consent;

on_both_backends!(
    WithMock:
        a_hostile_display_name_from_a_test_login_is_stored_clean_and_short;
    Consent:
        a_hostile_display_name_from_a_consent_is_stored_clean_and_short,
);

fn hostile_name() -> String {
    format!("\u{202E}nimda\u{202C}\u{200B}{}", "A".repeat(60_000))
}

/// The identity's display name and the answer's size, checked.
fn assert_clean(credential: &Value, answer_bytes: usize) {
    let name = credential["identity"]["display_name"].as_str().unwrap();
    assert!(name.starts_with("nimdaAAA"), "{name:.40}");
    assert!(
        name.chars().count() <= 256,
        "{} characters",
        name.chars().count()
    );
    assert!(!name.contains(['\u{202E}', '\u{202C}', '\u{200B}']));
    let detail = credential["status_detail"].as_str().unwrap();
    assert!(!detail.contains('\u{202E}'));
    assert!(detail.chars().count() <= 1000, "{detail:.80}");
    assert!(
        answer_bytes < 8 * 1024,
        "the answer is {answer_bytes} bytes"
    );
}

async fn read(app: &latch_tests::TestApp, id: &str) -> (Value, usize) {
    let response = app
        .admin(Method::GET, &format!("/v1/credentials/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    (serde_json::from_slice(&bytes).unwrap(), bytes.len())
}

async fn a_hostile_display_name_from_a_test_login_is_stored_clean_and_short(fixture: WithMock) {
    fixture.mock.set_display_name(&hostile_name());
    let (status, created) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&fixture.good_credential("hostile upstream")),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (credential, bytes) = read(&fixture.app, created["id"].as_str().unwrap()).await;
    assert_clean(&credential, bytes);
}

async fn a_hostile_display_name_from_a_consent_is_stored_clean_and_short(consent: Consent) {
    consent.fixture.mock.set_display_name(&hostile_name());
    let id = consent.connected("hostile consent").await;
    let (credential, bytes) = read(consent.app(), &id).await;
    assert_clean(&credential, bytes);
}
