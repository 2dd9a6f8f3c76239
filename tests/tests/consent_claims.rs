//! A consent's callback claims its session before trading the code: identical callbacks
//! (a double click, a browser's retry) make one exchange and one credential, and a claim
//! whose callback died leaves the session failed.

use std::time::Duration;

use latch_tests::on_both_backends;
use reqwest::{Method, StatusCode};

use crate::connect_sessions::Consent;

on_both_backends!(
    Consent:
        eight_identical_callbacks_save_exactly_one_credential_every_round,
        a_claim_whose_callback_died_leaves_the_session_failed_and_saves_nothing,
);

async fn eight_identical_callbacks_save_exactly_one_credential_every_round(consent: Consent) {
    // A slow token endpoint keeps the first exchange running while the others arrive.
    consent.fixture.mock.set_latency(Duration::from_millis(150));
    for round in 0..10 {
        let name = format!("double click {round}");
        let session = consent.start(&consent.body(&name)).await;
        let back = consent.screen(&session).await;
        let calls_before = consent.fixture.mock.stats().token_calls;

        let callbacks: Vec<_> = (0..8)
            .map(|_| {
                let request = consent.browser.get(&back);
                tokio::spawn(async move {
                    let page = request.send().await.unwrap();
                    (page.status(), page.text().await.unwrap())
                })
            })
            .collect();
        let mut pages = Vec::new();
        for callback in callbacks {
            pages.push(callback.await.unwrap());
        }

        for (status, text) in &pages {
            // Every duplicate waited for the one that traded the code and says the same.
            assert_eq!(*status, StatusCode::OK, "round {round}: {text}");
            assert!(text.contains("is connected as"), "round {round}: {text}");
        }
        assert_eq!(
            consent.fixture.mock.stats().token_calls - calls_before,
            1,
            "round {round}: one code exchange"
        );
        let view = consent.session_now(&session).await;
        assert_eq!(view["status"], "completed", "round {round}: {view}");
        let (_, list) = consent
            .app()
            .send(Method::GET, "/v1/credentials?limit=100", None)
            .await;
        let named = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|credential| credential["name"] == name.as_str())
            .count();
        assert_eq!(named, 1, "round {round}: exactly one credential");
    }
    // Every round's grant is alive: no winner was logged out by a loser's failure.
    assert_eq!(consent.fixture.mock.live_refresh_tokens().len(), 10);
}

async fn a_claim_whose_callback_died_leaves_the_session_failed_and_saves_nothing(consent: Consent) {
    let session = consent.start(&consent.body("stranded")).await;
    let back = consent.screen(&session).await;
    // As if a callback had claimed it and its process had died during the exchange.
    consent.app().strand_connect_session_claims().await;
    let view = consent.session_now(&session).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert!(
        view["error"].as_str().unwrap().contains("interrupted"),
        "{view}"
    );

    let late = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert!(late.text().await.unwrap().contains("interrupted"));
    let again = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("already used"));
    let (_, list) = consent
        .app()
        .send(Method::GET, "/v1/credentials", None)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(
        consent.fixture.mock.stats().token_calls,
        0,
        "no code traded"
    );
}
