//! The console's layout, measured: long names without spaces and a phone-sized window never
//! make a page scroll sideways, the nav and Sign out stay on screen, and a name cut short on
//! a tile keeps its full text.

use latch_tests::WithMock;
use latch_tests::browser::Browser;
use reqwest::Method;
use serde_json::json;

use super::{PHONE, at_both_sizes, signed_in};

at_both_sizes!(long_names_never_push_a_page_sideways);

/// Checks that the page fits the window's width, and that the header's controls are inside.
async fn fits(browser: &Browser, what: &str) {
    let (width, _) = browser.viewport().await;
    assert_eq!(
        browser.overflow_x().await,
        0,
        "{what} scrolls sideways at {width} px"
    );
    let [left, _, right, _] = browser.rect("#sign-out").await;
    assert!(
        left >= 0.0 && right <= width,
        "Sign out is off screen on {what}: {left}..{right}"
    );
    let outside = browser
        .script(&format!(
            "return [...document.querySelectorAll('#nav a')].filter((a) => {{ \
               const r = a.getBoundingClientRect(); return r.left < 0 || r.right > {width}; }}).length;"
        ))
        .await;
    assert_eq!(outside, 0, "nav links off screen on {what}");
}

async fn long_names_never_push_a_page_sideways(fixture: WithMock, size: (u32, u32)) {
    let long = "x".repeat(128);
    let mut body = fixture.good_credential(&long);
    body["description"] = json!("d".repeat(1000));
    let (status, created) = fixture
        .app
        .send(Method::POST, "/v1/credentials", Some(&body))
        .await;
    assert_eq!(status, 201, "{created}");
    let credential = created["id"].as_str().unwrap().to_string();
    let (status, source) = fixture
        .app
        .send(
            Method::POST,
            "/v1/data-sources",
            Some(&json!({"name": "s".repeat(128), "connector": "looker", "credential_id": credential, "config": {}})),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let source = source["id"].as_str().unwrap().to_string();
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    browser
        .find("//ul[@aria-label='Credentials']//a[contains(@class,'tile')]")
        .await;
    fits(&browser, "Credentials").await;
    // Cut short on the tile, the whole name is its title.
    let title = browser
        .script("return document.querySelector(\"ul[aria-label='Credentials'] a.tile h3\").title;")
        .await;
    assert_eq!(title, long.as_str());

    for (path, ready) in [
        (format!("/console/credentials/{credential}"), "Used by"),
        ("/console/data-sources".to_string(), "Connector"),
        (format!("/console/data-sources/{source}"), "Job keys"),
        (
            "/console/data-sources/new?connector=looker".to_string(),
            "Authenticate",
        ),
        ("/console/oauth-apps".to_string(), "OAuth apps"),
        ("/console/webhooks".to_string(), "Webhooks"),
        ("/console/audit".to_string(), "What happened"),
    ] {
        browser.goto(&format!("{}{path}", server.address)).await;
        browser.wait_for_text(ready).await;
        // Let the lists arrive before measuring.
        browser
            .wait_gone("//main/p[normalize-space(.)='Loading…']")
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        fits(&browser, &path).await;
    }

    // The job key and the Add Credential overlay fit too.
    browser
        .goto(&format!("{}/console/data-sources/{source}", server.address))
        .await;
    browser.press("Create job key").await;
    browser.wait_for_text("shown once").await;
    fits(&browser, "a shown job key").await;
    browser
        .goto(&format!(
            "{}/console/data-sources/new?connector=looker",
            server.address
        ))
        .await;
    browser.press("Add Credential").await;
    let (width, _) = browser.viewport().await;
    let [left, _, right, _] = browser.rect("dialog").await;
    assert!(
        left >= 0.0 && right <= width,
        "the overlay fits: {left}..{right} of {width}"
    );
    browser
        .screenshot(if size == PHONE {
            "add-credential-phone"
        } else {
            "add-credential"
        })
        .await;
    browser.quit().await;
}
