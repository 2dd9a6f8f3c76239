//! OAuth in the console: consent in a popup (and a blocked one), registering OAuth apps, and
//! the sign-in ways of a provider with several.

use latch_tests::browser::Browser;
use latch_tests::{Replica, WithMock};
use reqwest::Method;

use super::{at_both_sizes, desktop_screenshot, signed_in};

at_both_sizes!(
    a_person_connects_looker_by_consent_in_a_popup_from_the_add_credential_overlay,
    a_blocked_popup_is_said_so_and_cancel_ends_the_session,
    an_admin_registers_an_oauth_app_on_its_screen_and_a_reader_sees_its_redirect_uri,
    an_admin_registers_a_generic_oauth_app_picking_how_its_client_authenticates,
    salesforce_offers_each_way_to_sign_in_with_its_own_fields,
);

/// A browser signed in to a `latch serve` process on the fixture's database, at the Add
/// Credential overlay for Looker with the consent way chosen and an OAuth app selected: one the
/// admin registered from that overlay, whose redirect URI, read off the page, Looker's admin
/// registered at mock-looker.
async fn at_the_consent_form(fixture: &WithMock, size: (u32, u32)) -> Option<(Browser, Replica)> {
    let (browser, server) = signed_in(fixture, size).await?;
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
    // People know Looker by the address they open it at: that comes before the API's.
    let labels = browser
        .script(
            "return [...[...document.querySelectorAll('dialog[open]')].pop() \
             .querySelectorAll('label')].map((label) => label.textContent);",
        )
        .await;
    let labels: Vec<String> = serde_json::from_value(labels).unwrap();
    let at = |name: &str| labels.iter().position(|label| label == name).unwrap();
    assert!(at("Web Host URL") < at("API Host URL"), "{labels:?}");
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
    desktop_screenshot(&browser, size, "oauth-app-registered").await;
    fixture
        .mock
        .register_oauth_app("latch-console", shown.as_str().unwrap());
    browser.press("Done").await;

    // Back in the overlay, the new app is the one selected, its redirect URI beside it.
    let select = browser.labelled("OAuth app").await;
    assert_eq!(browser.value_of(&select).await, app_id);
    browser
        .wait_for_text("Registered in Looker as this app's redirect URI")
        .await;
    let beside = browser
        .script("return [...document.querySelectorAll('dialog[open] output')].map((o) => o.textContent);")
        .await;
    assert_eq!(
        beside,
        serde_json::json!([shown.clone()]),
        "the overlay shows it"
    );
    Some((browser, server))
}

async fn a_person_connects_looker_by_consent_in_a_popup_from_the_add_credential_overlay(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, _server)) = at_the_consent_form(&fixture, size).await else {
        return;
    };
    let console = browser.windows().await;
    // The page's own address (its query gains the new credential once it is made).
    let console_url = browser
        .script("return location.origin + location.pathname;")
        .await;
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
    assert_eq!(
        browser
            .script("return location.origin + location.pathname;")
            .await,
        console_url
    );

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

async fn a_blocked_popup_is_said_so_and_cancel_ends_the_session(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, _server)) = at_the_consent_form(&fixture, size).await else {
        return;
    };
    // As a browser that blocks pop-ups answers.
    browser.script("window.open = () => null;").await;
    // The page's own address (its query gains the new credential once it is made).
    let console_url = browser
        .script("return location.origin + location.pathname;")
        .await;
    browser.press("Connect with Looker").await;
    browser.wait_for_text("blocked the window").await;
    assert_eq!(
        browser
            .script("return location.origin + location.pathname;")
            .await,
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
    size: (u32, u32),
) {
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
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
    desktop_screenshot(&browser, size, "oauth-apps").await;
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
    size: (u32, u32),
) {
    let Some((browser, _server)) = signed_in(&fixture, size).await else {
        return;
    };
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

async fn salesforce_offers_each_way_to_sign_in_with_its_own_fields(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, _server)) = signed_in(&fixture, size).await else {
        return;
    };
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
    desktop_screenshot(&browser, size, "add-credential-jwt").await;
    let (_, none) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "{none}");
    browser.quit().await;
}
