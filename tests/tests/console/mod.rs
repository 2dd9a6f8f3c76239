//! The console in a real browser (headless Chromium), against a real `latch serve` process
//! and mock-looker, driven by the labels a person reads; every result is checked through the
//! REST API too.

use latch_tests::browser::Browser;
use latch_tests::{Replica, TestApp, WithMock, on_both_backends};
use reqwest::Method;
use serde_json::Value;

on_both_backends!(
    TestApp:
        the_console_is_served_under_a_strict_policy_with_assets_cached_by_content,
        the_api_reference_renders_in_a_browser_under_its_policy,
);

mod layout;
mod navigation;
mod oauth;
mod records;
mod webhooks;

/// Runs each `name(fixture, size)` at desktop and at phone size, on both backends: the tests
/// are `desktop::sqlite::name`, `phone::postgres::name` and so on.
macro_rules! at_both_sizes {
    ($($name:ident),+ $(,)?) => {
        mod desktop {
            use latch_tests::WithMock;
            $(
                async fn $name(fixture: WithMock) {
                    super::$name(fixture, crate::console::DESKTOP).await;
                }
            )+
            latch_tests::on_both_backends!(WithMock: $($name),+);
        }
        mod phone {
            use latch_tests::WithMock;
            $(
                async fn $name(fixture: WithMock) {
                    super::$name(fixture, crate::console::PHONE).await;
                }
            )+
            latch_tests::on_both_backends!(WithMock: $($name),+);
        }
    };
}
use at_both_sizes;

at_both_sizes!(
    a_person_signs_in_adds_a_credential_on_the_authenticate_screen_and_creates_a_data_source,
    a_broken_credential_comes_first_and_its_history_says_what_happened,
);

/// The window sizes every day-two flow runs at.
pub(super) const DESKTOP: (u32, u32) = (1440, 900);
pub(super) const PHONE: (u32, u32) = (390, 844);

const SERVER: &str = env!("CARGO_BIN_EXE_latch-server");

/// A browser at desktop size, and a `latch serve` process on the fixture's database; `None`
/// (the suite says it skipped) without Chromium.
pub(super) async fn console_of(app: &TestApp) -> Option<(Browser, Replica)> {
    let browser = Browser::start().await?;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    let server = Replica::spawn(
        std::path::Path::new(SERVER),
        &app.db.url,
        latch_vault::ExposeSecret::expose_secret(&app.master_key),
    )
    .await;
    Some((browser, server))
}

/// A browser at `size` signed in as the admin; `None` without Chromium.
pub(super) async fn signed_in(fixture: &WithMock, size: (u32, u32)) -> Option<(Browser, Replica)> {
    let (browser, server) = console_of(&fixture.app).await?;
    browser.resize(size.0, size.1).await;
    sign_in(&browser, &server, &fixture.app.admin_key).await;
    browser.wait_for_text("Credentials").await;
    Some((browser, server))
}

pub(super) async fn open(browser: &Browser, server: &Replica, path: &str) {
    browser.goto(&format!("{}{path}", server.address)).await;
}

pub(super) async fn status_of(fixture: &WithMock, path: &str) -> (u16, Value) {
    fixture.app.send(Method::GET, path, None).await
}

/// A screenshot for the README, taken at desktop size only (the phone ones are named apart).
pub(super) async fn desktop_screenshot(browser: &Browser, size: (u32, u32), name: &str) {
    if size == DESKTOP {
        browser.screenshot(name).await;
    }
}

pub(super) async fn sign_in(browser: &Browser, server: &Replica, key: &str) {
    browser.goto(&format!("{}/", server.address)).await;
    browser.fill("API key", key).await;
    browser.press("Sign in").await;
}

async fn a_person_signs_in_adds_a_credential_on_the_authenticate_screen_and_creates_a_data_source(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    browser.resize(size.0, size.1).await;
    let secret = fixture.mock.config().client_secret;

    browser.goto(&format!("{}/", server.address)).await;
    browser.wait_for_text("API key").await;
    desktop_screenshot(&browser, size, "sign-in").await;
    browser.fill("API key", "latch_wrong_key").await;
    browser.press("Sign in").await;
    browser.wait_for_text("API key").await;
    browser.fill("API key", &fixture.app.admin_key).await;
    browser.press("Sign in").await;
    browser.wait_for_text("Credentials").await;
    assert_eq!(
        browser
            .script("return sessionStorage.getItem('latch.api_key');")
            .await,
        fixture.app.admin_key.as_str()
    );
    assert!(
        browser
            .script("return localStorage.length === 0 && document.cookie === '';")
            .await
            .as_bool()
            .unwrap()
    );

    browser.press("Data sources").await;
    browser.press("New data source").await;
    browser.press("Looker").await;
    browser.wait_for_text("Authenticate").await;
    browser.press("Add Credential").await;
    // Saving an empty form: each problem appears next to its field.
    browser.press("Save").await;
    browser
        .find("//label[normalize-space(.)='Credential Name']/following-sibling::p[@class='field-error'][normalize-space(.)='is required']")
        .await;
    browser
        .find("//label[normalize-space(.)='Client Secret']/following-sibling::p[@class='field-error'][normalize-space(.)!='']")
        .await;
    browser.fill("Credential Name", "Looker production").await;
    browser
        .fill("Credential Description", "Nightly exports")
        .await;
    browser.fill("API Host URL", &fixture.mock.url).await;
    browser
        .fill("Client ID", &fixture.mock.config().client_id)
        .await;

    // A refused secret: the overlay says why and nothing is saved.
    browser.fill("Client Secret", "not-the-secret").await;
    browser.press("Save").await;
    browser.wait_for_text("refused").await;
    desktop_screenshot(&browser, size, "add-credential-refused").await;
    let (_, none) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert!(none["items"].as_array().unwrap().is_empty());

    // Test, then Save with the right one.
    browser.fill("Client Secret", &secret).await;
    browser.press("Test").await;
    browser.wait_for_text("valid: logged in").await;
    browser.press("Save").await;
    let tile = browser
        .find("//button[contains(@class,'tile')][.//h3[normalize-space(.)='Looker production']]")
        .await;
    assert_eq!(
        browser.attribute(&tile, "aria-pressed").await.as_deref(),
        Some("true"),
        "the new tile is selected"
    );
    desktop_screenshot(&browser, size, "authenticate").await;
    assert!(
        !browser.html().await.contains(&secret),
        "the secret stays in the page"
    );
    let (_, saved) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(saved["items"][0]["name"], "Looker production");
    assert_eq!(saved["items"][0]["status"], "valid");
    let credential_id = saved["items"][0]["id"].as_str().unwrap().to_string();

    browser.fill("Data source name", "Usage exports").await;
    browser.press("Create").await;
    browser.wait_for_text("Uses Looker production").await;
    let (_, sources) = fixture
        .app
        .send(Method::GET, "/v1/data-sources", None)
        .await;
    assert_eq!(sources["items"][0]["name"], "Usage exports");
    assert_eq!(sources["items"][0]["credential_id"], credential_id.as_str());
    let source_id = sources["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        browser.location().await,
        format!("/console/data-sources/{source_id}?created=1"),
        "the new source's page has its address"
    );

    // A job key for the new source, shown once in a fixed-width font with what it is
    // for, that gets the source's token.
    browser.press("Create job key").await;
    browser.wait_for_text("shown once").await;
    browser.wait_for_text("Authorization: Bearer").await;
    let key = browser
        .script("return document.querySelector(\"output[aria-label='Job key']\").textContent;")
        .await;
    let key = key.as_str().unwrap();
    assert!(key.starts_with("latch_"), "{key}");
    let font = browser
        .script("return getComputedStyle(document.querySelector(\"output[aria-label='Job key']\")).fontFamily;")
        .await;
    assert!(font.as_str().unwrap().contains("monospace"), "{font}");
    browser.grant_clipboard(&server.address).await;
    browser.press("Copy").await;
    browser.wait_for_text("Copied").await;
    assert_eq!(
        browser.clipboard().await,
        key,
        "Copy puts the key on the clipboard"
    );
    let job = fixture
        .app
        .client
        .post(format!(
            "{}/v1/data-sources/{source_id}/token",
            fixture.app.address
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 200, "the job key gets its source's token");

    // The credential's own page: test it again, rotate its secret.
    browser.press("Credentials").await;
    let tile = browser
        .find("//a[contains(@class,'tile')][.//h3[normalize-space(.)='Looker production']]")
        .await;
    browser.click(&tile).await;
    let actions = "//div[@aria-label='Actions for Looker production']";
    let again = browser
        .find(&format!(
            "{actions}/button[normalize-space(.)='Test again']"
        ))
        .await;
    browser.click(&again).await;
    browser.wait_for_text("Tested: valid").await;
    let rotate = browser
        .find(&format!(
            "{actions}/button[normalize-space(.)='Rotate secret']"
        ))
        .await;
    browser.click(&rotate).await;
    browser.fill("Client Secret", &secret).await;
    browser.press("Save").await;
    browser.wait_gone("//dialog").await;
    let (_, tested) = fixture
        .app
        .send(
            Method::GET,
            &format!("/v1/credentials/{credential_id}"),
            None,
        )
        .await;
    assert_eq!(tested["status"], "valid");
    // Testing again is health, not an edit; the rotation is the one edit.
    assert_eq!(tested["version"], 2, "{tested}");
    assert!(!browser.html().await.contains(&secret));

    // A credential in use cannot be deleted; after asking, the console says what uses it,
    // with a link to its page.
    browser.press("Delete credential").await;
    browser
        .find("//dialog[@aria-label='Delete Looker production?']")
        .await;
    browser.answer("Delete").await;
    browser.wait_for_text("Data source Usage exports").await;
    let (_, still) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(still["items"].as_array().unwrap().len(), 1);
    let link = browser
        .find("//p[@role='alert']//a[normalize-space(.)='Data source Usage exports']")
        .await;
    browser.click(&link).await;
    browser.wait_for_text("Job keys").await;
    assert_eq!(
        browser.location().await,
        format!("/console/data-sources/{source_id}")
    );

    // The audit trail in words, newest first, filtered by what happened.
    browser.press("Audit").await;
    browser.wait_for_text("Data source created").await;
    browser.choose("What happened", "Credential created").await;
    browser
        .wait_gone("//td[normalize-space(.)='Data source created']")
        .await;
    browser.wait_for_text("Credential created").await;

    browser.press("Sign out").await;
    browser.wait_for_text("Sign in").await;
    assert!(
        browser
            .script("return sessionStorage.getItem('latch.api_key');")
            .await
            .is_null()
    );
    assert!(
        browser
            .script("return document.getElementById('nav').hidden && document.getElementById('sign-out').hidden;")
            .await
            .as_bool()
            .unwrap(),
        "the nav goes with the key"
    );

    // A key that may only read is offered nothing it may not do.
    let (status, reader) = fixture
        .app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&serde_json::json!({"name": "reader", "scopes": ["credentials:read"]})),
        )
        .await;
    assert_eq!(status, 201);
    browser
        .goto(&format!("{}/console/credentials", server.address))
        .await;
    browser
        .fill("API key", reader["key"].as_str().unwrap())
        .await;
    browser.press("Sign in").await;
    browser.wait_for_text("Looker production").await;
    let page = browser.page_text().await;
    for absent in ["Audit", "Delete", "Add Credential", "null"] {
        assert!(
            !page.contains(absent),
            "{absent} offered to a reader: {page}"
        );
    }
    let tile = browser
        .find("//a[contains(@class,'tile')][.//h3[normalize-space(.)='Looker production']]")
        .await;
    browser.click(&tile).await;
    browser.wait_for_text("Used by").await;
    let page = browser.page_text().await;
    for absent in ["Delete", "Rotate secret", "Edit", "null"] {
        assert!(
            !page.contains(absent),
            "{absent} offered to a reader: {page}"
        );
    }
    browser.press("Data sources").await;
    browser.wait_for_text("Usage exports").await;
    let page = browser.page_text().await;
    assert!(
        !page.contains("New data source") && !page.contains("null"),
        "{page}"
    );
    browser.quit().await;
}

async fn the_console_is_served_under_a_strict_policy_with_assets_cached_by_content(app: TestApp) {
    let page = app.anonymous(Method::GET, "/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "default-src 'none'",
    ] {
        assert!(policy.contains(part), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(
        script.starts_with("/console/app.") && script.ends_with(".js"),
        "{script}"
    );

    let asset = app.anonymous(Method::GET, &script).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(asset.headers().contains_key("content-security-policy"));
    let stale = app
        .anonymous(Method::GET, "/console/app.000000000000.js")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);
    // The API reference stays where it was.
    let docs = app.anonymous(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(docs.status(), 200);
}

async fn the_api_reference_renders_in_a_browser_under_its_policy(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&app.url("/docs/")).await;
    // Swagger UI's script ran, fetched the document and drew its operations.
    browser
        .find("//*[contains(@class,'opblock-summary-path')][@data-path='/v1/credentials']")
        .await;
    let styled = browser
        .script(
            "return getComputedStyle(document.querySelector('.swagger-ui .opblock')).borderStyle;",
        )
        .await;
    assert_eq!(styled, "solid", "Swagger UI's stylesheet applied");
    browser.screenshot("api-reference").await;
    browser.quit().await;
}

async fn a_broken_credential_comes_first_and_its_history_says_what_happened(
    fixture: WithMock,
    size: (u32, u32),
) {
    let app = &fixture.app;
    fixture.saved_credential("alpha", true).await;
    let beta = fixture.saved_credential("beta", true).await;
    // Three failed test logins in a row: degraded.
    fixture
        .mock
        .set_fault(latch_tests::mock_looker::Fault::ServerError);
    for _ in 0..3 {
        let (status, _) = app
            .send(
                Method::POST,
                &format!("/v1/credentials/{beta}/validate"),
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
    let Some((browser, server)) = console_of(app).await else {
        return;
    };
    browser.resize(size.0, size.1).await;
    sign_in(&browser, &server, &app.admin_key).await;
    let first = browser
        .find("(//ul[@aria-label='Credentials']//h3)[1]")
        .await;
    let text = browser
        .script("return document.querySelector(\"ul[aria-label='Credentials'] h3\").textContent")
        .await;
    assert_eq!(text, "beta", "the degraded one comes first ({first})");
    browser.wait_for_text("degraded since").await;
    let tile = browser
        .find("//a[contains(@class,'tile')][.//h3[normalize-space(.)='beta']]")
        .await;
    browser.click(&tile).await;

    let history = browser
        .find("//div[@aria-label='Actions for beta']/button[normalize-space(.)='History']")
        .await;
    browser.click(&history).await;
    let dialog = browser.find("//dialog[@aria-label='Health of beta']").await;
    let said = browser
        .script("return document.querySelector(\"dialog[aria-label='Health of beta']\").innerText")
        .await;
    let said = said.as_str().unwrap_or_default();
    for expected in [
        "degraded since",
        "failures in a row: 3",
        "validated",
        "HTTP 500",
        "(saved)",
    ] {
        assert!(
            said.contains(expected),
            "{expected:?} missing from {said:?} ({dialog})"
        );
    }
    desktop_screenshot(&browser, size, "credential-health").await;
    browser.press("Close").await;
    browser.wait_gone("//dialog").await;
    browser.quit().await;
}
