//! Finding one's way in the console on day two, in a real browser at desktop and phone
//! sizes: every screen has an address, empty lists offer their first action, the audit reads
//! as words, a refused key signs out cleanly, forms say what they need, and the main flow
//! works from the keyboard alone.

use latch_tests::WithMock;
use latch_tests::browser::ENTER;
use reqwest::Method;
use serde_json::json;

use super::{DESKTOP, PHONE, at_both_sizes, console_of, open, sign_in, signed_in, status_of};

at_both_sizes!(
    every_screen_has_an_address_that_reload_back_and_links_restore,
    empty_lists_offer_their_first_action,
    the_audit_names_each_record_and_who_acted_in_words,
    a_key_refused_mid_form_returns_to_sign_in_with_nothing_left_open,
    forms_mark_required_fields_submit_on_enter_and_focus_the_first_problem,
    a_keyboard_alone_signs_in_adds_a_credential_creates_a_source_and_gets_a_job_key,
);

async fn every_screen_has_an_address_that_reload_back_and_links_restore(
    fixture: WithMock,
    size: (u32, u32),
) {
    let credential = fixture.saved_credential("shared", true).await;
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    // A half-made source: its connector and credential are in the address.
    browser.press("Data sources").await;
    browser.press("New data source").await;
    browser.press("Looker").await;
    let tile = browser
        .find("//button[contains(@class,'tile')][.//h3[normalize-space(.)='shared']]")
        .await;
    browser.click(&tile).await;
    browser.wait_for_text("Using shared").await;
    assert_eq!(
        browser.location().await,
        format!("/console/data-sources/new?connector=looker&credential={credential}")
    );
    browser.reload().await;
    browser.wait_for_text("Using shared").await;
    browser.labelled("Data source name").await;

    // Back walks the screens, and leaves the console only from its first.
    browser.back().await;
    browser.wait_for_text("Choose the connector").await;
    browser.back().await;
    browser.wait_for_text("No data sources yet").await;
    assert_eq!(browser.location().await, "/console/data-sources");

    // A shared link to a record lands on it, even in a fresh tab.
    open(
        &browser,
        &server,
        &format!("/console/credentials/{credential}"),
    )
    .await;
    browser.find("//h1[normalize-space(.)='shared']").await;
    assert_eq!(
        browser
            .script("return document.querySelector(\"nav a[aria-current='page']\").textContent;")
            .await,
        "Credentials"
    );
    open(&browser, &server, "/console/nowhere").await;
    browser.wait_for_text("No such page").await;

    // The server answers every console address with the page, and only assets by name.
    for path in [
        "/console",
        "/console/credentials",
        &format!("/console/data-destinations/{credential}"),
        "/console/audit?action=credential.created",
    ] {
        let answer = fixture
            .app
            .anonymous(Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        assert!(
            answer.text().await.unwrap().contains("<main id=\"main\">"),
            "{path}"
        );
    }
    let missing = fixture
        .app
        .anonymous(Method::GET, "/console/missing.js")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    browser.quit().await;
}

async fn empty_lists_offer_their_first_action(fixture: WithMock, size: (u32, u32)) {
    let Some((browser, _server)) = signed_in(&fixture, size).await else {
        return;
    };
    browser.wait_for_text("No credentials yet.").await;
    browser.press("Add credential").await;
    browser
        .find("//dialog[@aria-label='Add a credential']")
        .await;
    browser.press("Cancel").await;
    for (section, empty, action) in [
        ("Data sources", "No data sources yet.", "New data source"),
        (
            "Data destinations",
            "No data destinations yet.",
            "New data destination",
        ),
        ("OAuth apps", "No OAuth apps yet.", "Register OAuth app"),
        ("Webhooks", "No webhooks yet", "Add a webhook"),
    ] {
        browser.press(section).await;
        browser.wait_for_text(empty).await;
        browser
            .find(&format!(
                "//div[@class='empty']//button[normalize-space(.)='{action}']"
            ))
            .await;
        assert_eq!(browser.overflow_x().await, 0, "{section}");
    }
    browser.quit().await;
}

async fn the_audit_names_each_record_and_who_acted_in_words(fixture: WithMock, size: (u32, u32)) {
    let credential = fixture.saved_credential("ledger", true).await;
    let (status, _) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{credential}"),
            Some(&json!({"description": "books"})),
        )
        .await;
    assert_eq!(status, 200);
    fixture
        .data_source("data-sources", "ledger exports", &credential)
        .await;
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    browser.press("Audit").await;
    browser.wait_for_text("Credential changed").await;
    let row = "//tr[td[normalize-space(.)='Credential created']]";
    browser
        .find(&format!("{row}//a[normalize-space(.)='ledger']"))
        .await;
    let (_, keys) = status_of(&fixture, "/v1/api-keys").await;
    let admin = &keys["items"][0];
    let who = format!(
        "{} ({}…)",
        admin["name"].as_str().unwrap(),
        admin["prefix"].as_str().unwrap()
    );
    browser
        .find(&format!("{row}/td[normalize-space(.)='{who}']"))
        .await;
    browser
        .find("//tr[td[normalize-space(.)='Credential changed']]/td[contains(., 'changed:')]")
        .await;
    if size == DESKTOP {
        browser.screenshot("audit").await;
    }

    // One record's events, from its page.
    open(
        &browser,
        &server,
        &format!("/console/credentials/{credential}"),
    )
    .await;
    browser.press("Audit events").await;
    browser.wait_for_text("About ledger").await;
    assert_eq!(
        browser.location().await,
        format!("/console/audit?target_id={credential}")
    );
    browser.back().await;
    browser.wait_for_text("Used by").await;
    browser.press("Audit").await;
    browser.wait_for_text("Credential changed").await;

    // And from its row.
    let its = browser
        .find(&format!("{row}//a[normalize-space(.)='(its events)']"))
        .await;
    browser.click(&its).await;
    browser.wait_for_text("About ledger").await;
    browser
        .wait_gone("//td[normalize-space(.)='Data source created']")
        .await;
    assert_eq!(
        browser.location().await,
        format!("/console/audit?target_id={credential}")
    );
    browser.press("Any record").await;
    browser.wait_gone("//p[@class='chip']").await;
    browser.wait_for_text("Data source created").await;
    browser.choose("What happened", "Data source created").await;
    browser
        .wait_gone("//td[normalize-space(.)='Credential created']")
        .await;
    assert_eq!(
        browser.location().await,
        "/console/audit?action=data_source.created"
    );
    browser.quit().await;
}

async fn a_key_refused_mid_form_returns_to_sign_in_with_nothing_left_open(
    fixture: WithMock,
    size: (u32, u32),
) {
    let (status, created) = fixture
        .app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&json!({"name": "short-lived", "scopes": ["admin"]})),
        )
        .await;
    assert_eq!(status, 201);
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    browser.resize(size.0, size.1).await;
    sign_in(&browser, &server, created["key"].as_str().unwrap()).await;
    browser.press("Data sources").await;
    browser.press("New data source").await;
    browser.press("Looker").await;
    browser.press("Add Credential").await;
    browser.fill("Credential Name", "half made").await;
    // Revoked through the replica the console talks to, which refuses it at once.
    let revoked = fixture
        .app
        .client
        .delete(format!(
            "{}/v1/api-keys/{}",
            server.address,
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&fixture.app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    browser.press("Save").await;
    browser.wait_for_text("Latch refused the key").await;
    browser.wait_gone("//dialog").await;
    assert!(
        browser
            .script("return document.getElementById('nav').hidden;")
            .await
            .as_bool()
            .unwrap()
    );
    // Signing in again returns to where the person was.
    let place = browser.location().await;
    assert!(place.starts_with("/console/data-sources/new"), "{place}");
    browser.fill("API key", &fixture.app.admin_key).await;
    browser.press("Sign in").await;
    browser.wait_for_text("Authenticate").await;
    assert!(!browser.page_text().await.contains("null"));
    browser.quit().await;
}

async fn forms_mark_required_fields_submit_on_enter_and_focus_the_first_problem(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    open(
        &browser,
        &server,
        "/console/data-sources/new?connector=looker",
    )
    .await;
    browser.press("Add Credential").await;
    let marked = browser
        .script(
            "return [...document.querySelectorAll('dialog label.required')].map((label) => \
             label.textContent + getComputedStyle(label, '::after').content);",
        )
        .await;
    let marked: Vec<String> = serde_json::from_value(marked).unwrap();
    for field in [
        "Credential Name",
        "API Host URL",
        "Client ID",
        "Client Secret",
    ] {
        assert!(
            marked.contains(&format!("{field}\" *\"")),
            "{field} unmarked: {marked:?}"
        );
    }
    assert!(
        !marked
            .iter()
            .any(|label| label.starts_with("Credential Description"))
    );
    let docs = browser
        .find("//dialog//a[contains(., 'documentation')]")
        .await;
    let (_, looker) = status_of(&fixture, "/v1/connectors/looker").await;
    assert_eq!(
        browser.attribute(&docs, "href").await.as_deref(),
        looker["docs_url"].as_str()
    );

    // Enter in the name submits; the first field with a problem gets the focus.
    let name = browser.labelled("Credential Name").await;
    browser.click(&name).await;
    browser.keys(ENTER).await;
    browser.wait_for_text("Check the marked fields.").await;
    assert_eq!(browser.focused().await, "Credential Name");
    assert_eq!(
        browser.attribute(&name, "aria-invalid").await.as_deref(),
        Some("true")
    );
    let error_text = browser.page_text().await;
    assert!(
        !error_text.contains('`'),
        "no API field names in back quotes: {error_text}"
    );

    // A refused test reads differently from an accepted one.
    browser.fill("Credential Name", "checked").await;
    browser.fill("API Host URL", &fixture.mock.url).await;
    browser
        .fill("Client ID", &fixture.mock.config().client_id)
        .await;
    browser.fill("Client Secret", "wrong").await;
    browser.press("Test").await;
    let bad = browser
        .find("//div[contains(@class,'outcome') and contains(@class,'bad')]")
        .await;
    let said = browser
        .script("return document.querySelector('.outcome.bad').textContent;")
        .await;
    assert!(
        said.as_str().unwrap().starts_with("✗ invalid"),
        "{said} ({bad})"
    );
    browser
        .fill("Client Secret", &fixture.mock.config().client_secret)
        .await;
    browser.press("Test").await;
    browser
        .find("//div[contains(@class,'outcome') and contains(@class,'good')]")
        .await;
    let colours = browser
        .script("return getComputedStyle(document.querySelector('.outcome.good')).backgroundColor;")
        .await;

    // Dark mode follows the system's setting.
    let light = browser
        .script("return getComputedStyle(document.documentElement).backgroundColor;")
        .await;
    browser.emulate_dark_mode().await;
    let dark = browser
        .script("return getComputedStyle(document.documentElement).backgroundColor;")
        .await;
    assert_ne!(light, dark, "the page follows a dark system setting");
    assert_ne!(
        colours,
        browser
            .script(
                "return getComputedStyle(document.querySelector('.outcome.good')).backgroundColor;"
            )
            .await
    );
    if size == PHONE {
        browser.screenshot("add-credential-dark-phone").await;
    }
    browser.quit().await;
}

async fn a_keyboard_alone_signs_in_adds_a_credential_creates_a_source_and_gets_a_job_key(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, server)) = console_of(&fixture.app).await else {
        return;
    };
    browser.resize(size.0, size.1).await;
    open(&browser, &server, "/").await;
    browser.wait_for_text("API key").await;
    // Sign-in says where a key comes from.
    browser
        .wait_for_text("An admin of your organization makes API keys")
        .await;
    assert_eq!(browser.focused().await, "API key");
    browser.keys(&fixture.app.admin_key).await;
    browser.keys(ENTER).await;
    browser.wait_for_text("No credentials yet").await;
    browser.tab_to("Data sources").await;
    browser.keys(ENTER).await;
    browser.wait_for_text("No data sources yet").await;
    browser.tab_to("New data source").await;
    browser.keys(ENTER).await;
    browser.tab_to("Looker").await;
    browser.keys(ENTER).await;
    browser.tab_to("Add Credential").await;
    browser.keys(ENTER).await;
    assert_eq!(browser.focused().await, "Credential Name");
    browser.keys("by keyboard").await;
    browser.tab_to("API Host URL").await;
    browser.keys(&fixture.mock.url).await;
    browser.tab_to("Client ID").await;
    browser.keys(&fixture.mock.config().client_id).await;
    browser.tab_to("Client Secret").await;
    browser.keys(&fixture.mock.config().client_secret).await;
    browser.keys(ENTER).await;
    browser.wait_for_text("Using by keyboard").await;
    assert_eq!(browser.focused().await, "Data source name");
    browser.keys("keyboard exports").await;
    browser.keys(ENTER).await;
    browser.wait_for_text("Job keys").await;
    browser.tab_to("Create job key").await;
    browser.keys(ENTER).await;
    browser.wait_for_text("shown once").await;
    let (_, sources) = status_of(&fixture, "/v1/data-sources").await;
    assert_eq!(sources["items"][0]["name"], "keyboard exports");
    let id = sources["items"][0]["id"].as_str().unwrap();
    let (_, keys) = status_of(&fixture, &format!("/v1/data-sources/{id}/job-keys")).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    browser.quit().await;
}
