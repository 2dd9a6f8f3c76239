//! The console in a real browser (headless Chromium), against a real `latch serve` process
//! and mock-looker, driven by the labels a person reads; every result is checked through the
//! REST API too.

use latch_tests::browser::Browser;
use latch_tests::{Replica, TestApp, WithMock, on_both_backends};
use reqwest::Method;

on_both_backends!(
    WithMock:
        a_person_signs_in_adds_a_credential_on_the_authenticate_screen_and_creates_a_data_source,
        a_person_connects_looker_by_consent_in_a_popup_from_the_add_credential_overlay,
        a_blocked_popup_is_said_so_and_cancel_ends_the_session,
        an_admin_registers_an_oauth_app_on_its_screen_and_a_reader_sees_its_redirect_uri,
        an_admin_registers_a_generic_oauth_app_picking_how_its_client_authenticates,
        salesforce_offers_each_way_to_sign_in_with_its_own_fields,
        a_broken_credential_comes_first_and_its_history_says_what_happened,
        an_admin_adds_a_webhook_tests_it_sees_its_deliveries_rotates_its_secret_and_deletes_it;
    TestApp:
        the_console_is_served_under_a_strict_policy_with_assets_cached_by_content,
        the_api_reference_renders_in_a_browser_under_its_policy,
);

const SERVER: &str = env!("CARGO_BIN_EXE_latch-server");

/// A browser, and a `latch serve` process on the fixture's database; `None` (the suite says
/// it skipped) without Chromium.
async fn console_of(app: &TestApp) -> Option<(Browser, Replica)> {
    let browser = Browser::start().await?;
    let server = Replica::spawn(
        std::path::Path::new(SERVER),
        &app.db.url,
        latch_vault::ExposeSecret::expose_secret(&app.master_key),
    )
    .await;
    Some((browser, server))
}

async fn sign_in(browser: &Browser, server: &Replica, key: &str) {
    browser.goto(&format!("{}/", server.address)).await;
    browser.fill("API key", key).await;
    browser.press("Sign in").await;
}

async fn a_person_signs_in_adds_a_credential_on_the_authenticate_screen_and_creates_a_data_source(
    fixture: WithMock,
) {
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    let secret = fixture.mock.config().client_secret;

    browser.goto(&format!("{}/", server.address)).await;
    browser.wait_for_text("API key").await;
    browser.screenshot("sign-in").await;
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
    browser.screenshot("add-credential-refused").await;
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
    browser.screenshot("authenticate").await;
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
    browser
        .wait_for_text("uses the credential Looker production")
        .await;
    let (_, sources) = fixture
        .app
        .send(Method::GET, "/v1/data-sources", None)
        .await;
    assert_eq!(sources["items"][0]["name"], "Usage exports");
    assert_eq!(sources["items"][0]["credential_id"], credential_id.as_str());

    // A job key for the new source, shown once, that gets the source's token.
    browser.press("Create job key").await;
    browser.wait_for_text("shown once").await;
    let key = browser
        .script("return document.querySelector('output').textContent;")
        .await;
    let key = key.as_str().unwrap();
    assert!(key.starts_with("latch_"), "{key}");
    let job = fixture
        .app
        .client
        .post(format!(
            "{}/v1/data-sources/{}/token",
            fixture.app.address,
            sources["items"][0]["id"].as_str().unwrap()
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 200, "the job key gets its source's token");

    // The credential's own actions: test it again, rotate its secret, rename it.
    browser.press("Credentials").await;
    // Tiles are grouped by connector.
    browser
        .find("//section[@aria-label='Looker']//h3[normalize-space(.)='Looker production']")
        .await;
    let actions = "//div[@aria-label='Actions for Looker production']";
    let again = browser
        .find(&format!(
            "{actions}/button[normalize-space(.)='Test again']"
        ))
        .await;
    browser.click(&again).await;
    browser.wait_stale(&again).await;
    let rotate = browser
        .find(&format!(
            "{actions}/button[normalize-space(.)='Rotate secret']"
        ))
        .await;
    browser.click(&rotate).await;
    browser.fill("Client Secret", &secret).await;
    browser.press("Save").await;
    browser.wait_gone("//dialog").await;
    browser.screenshot("credentials").await;
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

    // A credential in use cannot be deleted; the console says what uses it, with a link.
    let delete = browser
        .find("//div[@aria-label='Actions for Looker production']/button[normalize-space(.)='Delete']")
        .await;
    browser.click(&delete).await;
    browser.wait_for_text("Data source Usage exports").await;
    let (_, still) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(still["items"].as_array().unwrap().len(), 1);
    let link = browser
        .find("//a[normalize-space(.)='Data source Usage exports']")
        .await;
    browser.click(&link).await;
    browser.wait_for_text("New data source").await;

    // The audit trail, newest first, filtered by action.
    browser.press("Audit").await;
    browser.fill("Action", "credential.created").await;
    browser.press("Filter").await;
    browser
        .wait_gone("//td[normalize-space(.)='data_source.created']")
        .await;
    browser.wait_for_text("credential.created").await;

    browser.press("Sign out").await;
    browser.wait_for_text("Sign in").await;
    assert!(
        browser
            .script("return sessionStorage.getItem('latch.api_key');")
            .await
            .is_null()
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
        .fill("API key", reader["key"].as_str().unwrap())
        .await;
    browser.press("Sign in").await;
    browser.wait_for_text("Looker production").await;
    let page = browser.page_text().await;
    for absent in ["Audit", "Delete", "Rotate secret", "Add Credential"] {
        assert!(
            !page.contains(absent),
            "{absent} offered to a reader: {page}"
        );
    }
    browser.press("Data sources").await;
    browser.wait_for_text("Usage exports").await;
    assert!(!browser.page_text().await.contains("New data source"));
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

/// A browser signed in to a `latch serve` process on the fixture's database, at the Add
/// Credential overlay for Looker with the consent way chosen and an OAuth app selected: one the
/// admin registered from that overlay, whose redirect URI, read off the page, Looker's admin
/// registered at mock-looker.
async fn at_the_consent_form(fixture: &WithMock) -> Option<(Browser, Replica)> {
    let (browser, server) = console_of(&fixture.app).await?;
    sign_in(&browser, &server, &fixture.app.admin_key).await;
    browser.press("Data sources").await;
    browser.press("New data source").await;
    browser.press("Looker").await;
    browser.press("Add Credential").await;
    browser.fill("Credential Name", "Looker by consent").await;
    let consent = browser.labelled("Consent in Looker").await;
    browser.click(&consent).await;

    // No app yet: the admin registers one without leaving the overlay.
    browser
        .wait_for_text("No OAuth app for Looker is registered in your organization yet")
        .await;
    let connect = browser
        .find("//button[normalize-space(.)='Connect with Looker']")
        .await;
    assert_eq!(
        browser.attribute(&connect, "disabled").await.as_deref(),
        Some("true"),
        "nothing to connect through yet"
    );
    browser.press("Register an OAuth app").await;
    browser.fill("App Name", "Looker console app").await;
    browser.fill("API Host URL", "http://not a url").await;
    browser.press("Register").await;
    browser
        .find("//label[normalize-space(.)='Client ID']/following-sibling::p[@class='field-error'][normalize-space(.)!='']")
        .await;
    browser.fill("API Host URL", &fixture.mock.url).await;
    browser.fill("Web Host URL", &fixture.mock.url).await;
    browser.fill("Client ID", "latch-console").await;
    browser.press("Register").await;
    browser
        .wait_for_text("Looker console app is registered")
        .await;
    browser.find("//output[@aria-label='Redirect URI']").await;
    let shown = browser
        .script("return document.querySelector('output[aria-label=\"Redirect URI\"]').textContent;")
        .await;
    let (_, apps) = fixture.app.send(Method::GET, "/v1/oauth-apps", None).await;
    let app_id = apps["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        shown.as_str().unwrap(),
        format!("{}/v1/oauth/callback/{app_id}", server.address),
        "the console shows the app's own redirect URI"
    );
    browser.screenshot("oauth-app-registered").await;
    fixture
        .mock
        .register_oauth_app("latch-console", shown.as_str().unwrap());
    browser.press("Done").await;

    // Back in the overlay, the new app is the one selected.
    let select = browser.labelled("OAuth app").await;
    assert_eq!(browser.value_of(&select).await, app_id);
    Some((browser, server))
}

async fn a_person_connects_looker_by_consent_in_a_popup_from_the_add_credential_overlay(
    fixture: WithMock,
) {
    let Some((browser, _server)) = at_the_consent_form(&fixture).await else {
        return;
    };
    let console = browser.windows().await;
    let console_url = browser.script("return location.href;").await;
    // Looker's web host here is hostile: its consent screen tries to take over the console.
    fixture.mock.set_hostile_consent(true);
    browser.press("Connect with Looker").await;
    browser.wait_for_text("Cancel").await;

    // A popup opens Latch's page for the session, which says who asks for what; the person
    // continues to Looker's consent screen and allows.
    let popup = browser.new_window(&console).await;
    browser.switch_to(&popup).await;
    browser
        .wait_for_text("acme asks you to connect Looker by consent")
        .await;
    let continue_link = browser
        .find("//a[normalize-space(.)='Continue to Looker']")
        .await;
    browser.click(&continue_link).await;
    browser.wait_for_text("Allow access to Looker?").await;
    browser.find("//p[@id='opener']").await;
    let seen = browser
        .script("return document.querySelector('#opener').textContent;")
        .await;
    assert_eq!(seen, "no opener", "the consent page reached the console");
    browser.press("Allow").await;
    browser.switch_to(&console[0]).await;
    assert_eq!(browser.script("return location.href;").await, console_url);

    let tile = browser
        .find("//button[contains(@class,'tile')][.//h3[normalize-space(.)='Looker by consent']]")
        .await;
    assert_eq!(
        browser.attribute(&tile, "aria-pressed").await.as_deref(),
        Some("true")
    );
    let (_, saved) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(saved["items"][0]["auth_method"], "oauth_authorization_code");
    assert_eq!(saved["items"][0]["status"], "valid");
    browser.quit().await;
}

async fn a_blocked_popup_is_said_so_and_cancel_ends_the_session(fixture: WithMock) {
    let Some((browser, _server)) = at_the_consent_form(&fixture).await else {
        return;
    };
    // As a browser that blocks pop-ups answers.
    browser.script("window.open = () => null;").await;
    let console_url = browser.script("return location.href;").await;
    browser.press("Connect with Looker").await;
    browser.wait_for_text("blocked the window").await;
    assert_eq!(
        browser.script("return location.href;").await,
        console_url,
        "the console stays where it is"
    );
    browser.press("Try again").await;
    browser.wait_for_text("blocked the window").await;
    browser.press("Cancel").await;
    browser.wait_for_text("the connection was cancelled").await;

    let (_, saved) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert!(saved["items"].as_array().unwrap().is_empty());
    let failed = fixture
        .app
        .audit_events_eventually(fixture.app.org_id, "connect_session.failed", |found| {
            !found.is_empty()
        })
        .await;
    assert_eq!(failed[0].detail["reason"], "cancelled");
    browser.quit().await;
}

async fn an_admin_registers_an_oauth_app_on_its_screen_and_a_reader_sees_its_redirect_uri(
    fixture: WithMock,
) {
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    sign_in(&browser, &server, &fixture.app.admin_key).await;
    browser.press("OAuth apps").await;
    browser.wait_for_text("No OAuth apps yet.").await;
    browser.press("Register OAuth app").await;
    // Looker is one of the connectors with consent: the person picks it.
    browser.press("Looker").await;
    browser.fill("App Name", "Looker production").await;
    browser.fill("API Host URL", &fixture.mock.url).await;
    browser.fill("Web Host URL", &fixture.mock.url).await;
    browser.fill("Client ID", "latch-production").await;
    browser.press("Register").await;
    browser
        .wait_for_text("Looker production is registered")
        .await;
    browser.press("Done").await;
    browser
        .find("//td[normalize-space(.)='latch-production']")
        .await;
    browser.screenshot("oauth-apps").await;
    let (_, apps) = fixture.app.send(Method::GET, "/v1/oauth-apps", None).await;
    assert_eq!(apps["items"][0]["name"], "Looker production");
    assert_eq!(apps["items"][0]["config"]["client_id"], "latch-production");
    let redirect = format!(
        "{}/v1/oauth/callback/{}",
        server.address,
        apps["items"][0]["id"].as_str().unwrap()
    );

    // A reader sees the app and its redirect URI, and no way to register one.
    let (_, reader) = fixture
        .app
        .org_with_key("acme", &[latch_core::callers::Scope::CredentialsRead])
        .await;
    browser.press("Sign out").await;
    browser.fill("API key", &reader).await;
    browser.press("Sign in").await;
    browser.press("OAuth apps").await;
    browser
        .find("//output[@aria-label='Redirect URI of Looker production']")
        .await;
    assert!(browser.page_text().await.contains(&redirect));
    assert!(!browser.page_text().await.contains("Register OAuth app"));
    browser.quit().await;
}

async fn an_admin_registers_a_generic_oauth_app_picking_how_its_client_authenticates(
    fixture: WithMock,
) {
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    sign_in(&browser, &server, &fixture.app.admin_key).await;
    browser.press("OAuth apps").await;
    browser.wait_for_text("No OAuth apps yet.").await;
    browser.press("Register OAuth app").await;
    browser.press("OAuth 2.0").await;
    browser.fill("App Name", "Generic IdP").await;
    browser
        .fill(
            "Authorization URL",
            "https://idp.example.com/oauth2/authorize",
        )
        .await;
    browser
        .fill("Token URL", "https://idp.example.com/oauth2/token")
        .await;
    // The list shows its default, and takes another pick.
    let list = browser.labelled("Client authentication").await;
    assert_eq!(browser.value_of(&list).await, "client_secret_basic");
    browser
        .choose("Client authentication", "client_secret_post")
        .await;
    browser.fill("Client ID", "generic-client").await;
    browser.fill("Client Secret", "generic-s3cr3t").await;
    browser.press("Register").await;
    browser.wait_for_text("Generic IdP is registered").await;
    assert!(!browser.html().await.contains("generic-s3cr3t"));
    browser.press("Done").await;
    let (_, apps) = fixture.app.send(Method::GET, "/v1/oauth-apps", None).await;
    let config = &apps["items"][0]["config"];
    assert_eq!(config["client_auth"], "client_secret_post", "{apps}");
    // The generic provider declares no default scopes: an app saved without them has none.
    assert!(config.get("scopes").is_none(), "{config}");
    browser.quit().await;
}

async fn salesforce_offers_each_way_to_sign_in_with_its_own_fields(fixture: WithMock) {
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    sign_in(&browser, &server, &fixture.app.admin_key).await;
    browser.press("Data sources").await;
    browser.press("New data source").await;
    browser.press("Salesforce").await;
    browser.press("Add Credential").await;
    for way in [
        "Client credentials (client ID and secret)",
        "Signed JWT (a private key, and whom it signs in as)",
        "Consent in Salesforce",
    ] {
        browser.labelled(way).await;
    }
    // The first way's form: a client's ID and secret.
    browser.labelled("Client Secret").await;
    let jwt = browser
        .labelled("Signed JWT (a private key, and whom it signs in as)")
        .await;
    browser.click(&jwt).await;
    browser.fill("Credential Name", "Salesforce by JWT").await;
    browser.fill("Consumer key", "3MVG9-consumer-key").await;
    browser
        .fill(
            "Private key",
            "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----",
        )
        .await;
    assert!(!browser.page_text().await.contains("Client Secret"));
    // Saving without the user to sign in as: the server checks the JWT way's own fields (no
    // login is tried while any is wrong), each problem next to its field.
    browser.press("Save").await;
    browser
        .find("//label[normalize-space(.)='Username']/following-sibling::p[@class='field-error'][normalize-space(.)!='']")
        .await;
    browser
        .find("//label[normalize-space(.)='Private key']/following-sibling::p[@class='field-error'][normalize-space(.)!='']")
        .await;
    browser.screenshot("add-credential-jwt").await;
    let (_, none) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "{none}");
    browser.quit().await;
}

async fn a_broken_credential_comes_first_and_its_history_says_what_happened(fixture: WithMock) {
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
    sign_in(&browser, &server, &app.admin_key).await;
    let first = browser
        .find("(//section[@aria-label='Looker']//h3)[1]")
        .await;
    let text = browser
        .script("return document.querySelector(\"section[aria-label='Looker'] h3\").textContent")
        .await;
    assert_eq!(text, "beta", "the degraded one comes first ({first})");
    browser.wait_for_text("degraded since").await;

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
    browser.screenshot("credential-health").await;
    browser.press("Close").await;
    browser.wait_gone("//dialog").await;
    browser.quit().await;
}

async fn an_admin_adds_a_webhook_tests_it_sees_its_deliveries_rotates_its_secret_and_deletes_it(
    fixture: WithMock,
) {
    use latch_tests::webhook_receiver::{Receiver, Verifier};
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    let receiver = Receiver::start().await;
    sign_in(&browser, &server, &fixture.app.admin_key).await;
    browser.press("Webhooks").await;
    browser.wait_for_text("No webhooks yet").await;
    browser.press("Add webhook").await;
    // A URL Latch may not call is refused beside the field.
    browser.fill("URL", "https://10.0.0.7/hook").await;
    browser.press("Add").await;
    browser.wait_for_text("cannot be called").await;
    browser.fill("URL", &receiver.url).await;
    browser.fill("Description", "pager").await;
    browser.press("Add").await;
    browser.wait_for_text("Keep this signing secret now").await;
    browser.find("//output[@aria-label='Signing secret']").await;
    let secret = browser
        .script("return document.querySelector('dialog output').textContent")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.screenshot("webhook-secret").await;
    browser.press("Done").await;
    browser.wait_for_text("every event").await;

    browser.press("Send test event").await;
    browser.wait_for_text("Deliveries to").await;
    let received = receiver
        .wait_until(
            "the test event",
            std::time::Duration::from_secs(15),
            |received| !received.is_empty(),
        )
        .await;
    assert_eq!(received[0].json()["type"], "webhook.test");
    if let Some(verifier) = Verifier::available() {
        verifier.assert_all_signed(&received, &secret);
    }
    for _ in 0..50 {
        browser.press("Refresh").await;
        if browser.page_text().await.contains("delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        browser.page_text().await.contains("204 in"),
        "the attempt is shown"
    );
    browser.screenshot("webhook-deliveries").await;
    browser.press("Close").await;

    browser.press("Rotate secret").await;
    browser.wait_for_text("New signing secret of").await;
    let rotated = browser
        .script("return document.querySelector('dialog output').textContent")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    browser.press("Done").await;

    browser.press("Delete").await;
    browser.wait_for_text("and its deliveries?").await;
    browser.press("Yes, delete").await;
    browser.wait_for_text("No webhooks yet").await;
    let (_, listed) = fixture.app.send(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(listed["items"], serde_json::json!([]));
    let (_, audit) = fixture
        .app
        .send(Method::GET, "/v1/audit-events?target_type=webhook", None)
        .await;
    for action in [
        "webhook.created",
        "webhook.tested",
        "webhook.secret_rotated",
        "webhook.deleted",
    ] {
        assert!(audit.to_string().contains(action), "{action}: {audit}");
    }
    browser.quit().await;
}
