//! The page a person opens to approve a connect session (`connect_url`), and cancelling a
//! session: the link names who asks for what and leads to the consent screen while the session
//! is pending; a cancelled session's link and callback are refused.

use latch_tests::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::connect_sessions::Consent;

on_both_backends!(
    Consent:
        the_connect_page_names_who_asks_for_what_and_leads_to_the_consent_screen,
        a_cancelled_session_refuses_its_link_and_its_callback,
);

async fn the_connect_page_names_who_asks_for_what_and_leads_to_the_consent_screen(
    consent: Consent,
) {
    let session = consent.start(&consent.body("Payroll Looker")).await;
    let connect_url = session["connect_url"].as_str().unwrap();
    assert!(connect_url.starts_with(&consent.app().url("/v1/connect?state=")));
    // No API key: the link is the capability.
    let page = consent.browser.get(connect_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    for said in [
        "acme",
        "Payroll Looker",
        "Looker",
        consent.fixture.mock.url.as_str(),
    ] {
        assert!(html.contains(said), "the page names {said}: {html}");
    }
    // Continue goes to the very consent screen the session's authorization URL names.
    let href = html
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert_eq!(href, session["authorization_url"].as_str().unwrap());
    let page = consent.consent(&href).await;
    assert_eq!(page.status(), StatusCode::OK);
    // Once used, the link says so; a link naming nothing is not one Latch issued.
    let used = consent.browser.get(connect_url).send().await.unwrap();
    assert_eq!(used.status(), StatusCode::BAD_REQUEST);
    assert!(used.text().await.unwrap().contains("already used"));
    let forged = consent
        .browser
        .get(
            consent
                .app()
                .url(&format!("/v1/connect?state={}", "x".repeat(43))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let bare = consent
        .browser
        .get(consent.app().url("/v1/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
    // The link is a capability: no log line carries it.
    let state = connect_url.split("state=").nth(1).unwrap();
    assert!(
        !latch_tests::captured_logs().contains(state),
        "the state reached a log line"
    );

    let expiring = consent.start(&consent.body("too late")).await;
    consent.app().expire_connect_sessions().await;
    let late = consent
        .browser
        .get(expiring["connect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert!(late.text().await.unwrap().contains("expired"));
}

async fn a_cancelled_session_refuses_its_link_and_its_callback(consent: Consent) {
    let session = consent.start(&consent.body("changed my mind")).await;
    let back = consent.screen(&session).await;
    let cancel = format!(
        "/v1/connect-sessions/{}/cancel",
        session["id"].as_str().unwrap()
    );
    let (_, reader) = consent
        .app()
        .org_with_key("acme", &[latch_core::callers::Scope::CredentialsRead])
        .await;
    let refused = consent
        .app()
        .with_key(&reader, Method::POST, &cancel)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let (status, cancelled) = consent.app().send(Method::POST, &cancel, None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "failed");
    assert_eq!(cancelled["error"], "the connection was cancelled");
    let (status, again) = consent.app().send(Method::POST, &cancel, None).await;
    assert_eq!(status, 409, "{again}");

    let link = consent
        .browser
        .get(session["connect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), StatusCode::BAD_REQUEST);
    let said = link.text().await.unwrap();
    assert!(said.contains("the connection was cancelled"), "{said}");
    let callback = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        consent.fixture.mock.stats().oauth_exchanges,
        0,
        "no code traded"
    );
    let (_, list) = consent
        .app()
        .send(Method::GET, "/v1/credentials", None)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (status, _) = consent
        .app()
        .send(
            Method::POST,
            "/v1/connect-sessions/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20/cancel",
            Some(&json!(null)),
        )
        .await;
    assert_eq!(status, 404);
}
