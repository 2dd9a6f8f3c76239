//! Records in the console on day two, in a real browser at desktop and phone sizes:
//! destructive actions ask first, data sources and destinations have pages with their job
//! keys, work in progress shows and cannot be started twice, and many credentials are
//! searched, filtered and paged with Add first.

use latch_tests::browser::{Browser, ENTER};
use latch_tests::{WithMock, on_both_backends};
use reqwest::Method;

use super::{DESKTOP, PHONE, at_both_sizes, open, signed_in, status_of};

on_both_backends!(
    WithMock:
        a_data_source_page_renames_repoints_manages_job_keys_and_deletes_on_a_desktop,
        a_data_destination_page_renames_repoints_manages_job_keys_and_deletes_on_a_phone,
);

at_both_sizes!(
    deleting_asks_first_naming_the_record_and_enter_keeps_it,
    save_create_and_test_again_show_progress_and_a_second_press_does_nothing,
    sixty_credentials_are_searched_filtered_and_paged_with_add_first,
);

async fn deleting_asks_first_naming_the_record_and_enter_keeps_it(
    fixture: WithMock,
    size: (u32, u32),
) {
    let spare = fixture.saved_credential("spare", false).await;
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    open(&browser, &server, &format!("/console/credentials/{spare}")).await;
    browser.press("Delete credential").await;
    browser.find("//dialog[@aria-label='Delete spare?']").await;
    assert!(browser.page_text().await.contains("The credential spare"));
    assert_eq!(
        browser.focused().await,
        "Cancel",
        "a stray Enter answers no"
    );
    browser.keys(ENTER).await;
    browser.wait_gone("//dialog").await;
    assert_eq!(
        status_of(&fixture, &format!("/v1/credentials/{spare}"))
            .await
            .0,
        200
    );

    browser.press("Delete credential").await;
    browser.answer("Delete").await;
    browser.wait_for_text("Search").await;
    assert_eq!(browser.location().await, "/console/credentials");
    assert_eq!(
        status_of(&fixture, &format!("/v1/credentials/{spare}"))
            .await
            .0,
        404
    );
    browser.quit().await;
}

async fn a_data_source_page_renames_repoints_manages_job_keys_and_deletes_on_a_desktop(
    fixture: WithMock,
) {
    source_page(fixture, "data-sources", DESKTOP).await;
}

async fn a_data_destination_page_renames_repoints_manages_job_keys_and_deletes_on_a_phone(
    fixture: WithMock,
) {
    source_page(fixture, "data-destinations", PHONE).await;
}

async fn source_page(fixture: WithMock, kind: &str, size: (u32, u32)) {
    let first = fixture.saved_credential("first", true).await;
    let second = fixture.saved_credential("second", true).await;
    let id = fixture.data_source(kind, "nightly", &first).await;
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    let title = if kind == "data-sources" {
        "Data sources"
    } else {
        "Data destinations"
    };
    browser.press(title).await;
    browser.press("nightly").await;
    browser.wait_for_text("Job keys").await;
    assert_eq!(browser.location().await, format!("/console/{kind}/{id}"));

    // Rename it.
    browser.fill("Name", "hourly").await;
    browser.press("Save settings").await;
    browser.find("//h1[normalize-space(.)='hourly']").await;
    let (_, saved) = status_of(&fixture, &format!("/v1/{kind}/{id}")).await;
    assert_eq!(saved["name"], "hourly");

    // Point it at the other credential.
    browser.choose("Use credential", "second (valid)").await;
    browser.press("Change credential").await;
    browser
        .find("//form[@aria-label='Credential']//a[normalize-space(.)='second']")
        .await;
    let (_, saved) = status_of(&fixture, &format!("/v1/{kind}/{id}")).await;
    assert_eq!(saved["credential_id"], second.as_str());

    // Two job keys; the first is revoked after asking, the second still works.
    let mut keys = Vec::new();
    for _ in 0..2 {
        browser.press("Create job key").await;
        // The key shown: a new one each time.
        let mut waited = 0;
        let key = loop {
            waited += 1;
            assert!(waited < 100, "no new job key was shown");
            let shown = browser
                .script("const o = document.querySelector(\"output[aria-label='Job key']\"); return o && o.textContent;")
                .await;
            if let Some(key) = shown
                .as_str()
                .filter(|key| !keys.iter().any(|old: &String| old == key))
            {
                break serde_json::json!(key);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let key = key.as_str().unwrap().to_string();
        assert!(!keys.contains(&key));
        keys.push(key);
        let [left, _, right, _] = browser.rect("output[aria-label='Job key']").await;
        let (width, _) = browser.viewport().await;
        assert!(
            left >= 0.0 && right <= width,
            "the key fits the window: {left}..{right} of {width}"
        );
    }
    browser
        .screenshot(if size == PHONE {
            "data-source-phone"
        } else {
            "data-source"
        })
        .await;
    let (_, listed) = status_of(&fixture, &format!("/v1/{kind}/{id}/job-keys")).await;
    let listed = listed["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    let first_prefix = listed[0]["prefix"].as_str().unwrap();
    let revoke = browser
        .find(&format!("//button[starts-with(@aria-label, 'Revoke') and contains(@aria-label, '{first_prefix}')]"))
        .await;
    browser.click(&revoke).await;
    browser
        .find("//dialog[starts-with(@aria-label, 'Revoke')]")
        .await;
    browser.answer("Revoke").await;
    browser.wait_for_text("revoked").await;
    let token = |key: String| {
        let client = fixture.app.client.clone();
        // Asked of the replica that revoked: it refuses at once (others within a poll).
        let url = format!("{}/v1/{kind}/{id}/token", server.address);
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let revoked_key = keys
        .iter()
        .find(|key| key.starts_with(first_prefix))
        .unwrap()
        .clone();
    let live_key = keys
        .iter()
        .find(|key| !key.starts_with(first_prefix))
        .unwrap()
        .clone();
    assert_eq!(token(revoked_key).await, 401);
    assert_eq!(token(live_key.clone()).await, 200);

    // Delete it after asking: its last key goes with it.
    browser
        .press(if kind == "data-sources" {
            "Delete data source"
        } else {
            "Delete data destination"
        })
        .await;
    browser.find("//dialog[@aria-label='Delete hourly?']").await;
    browser.answer("Delete").await;
    browser
        .wait_gone("//h2[normalize-space(.)='Job keys']")
        .await;
    assert_eq!(browser.location().await, format!("/console/{kind}"));
    assert_eq!(
        status_of(&fixture, &format!("/v1/{kind}/{id}")).await.0,
        404
    );
    assert_eq!(token(live_key).await, 401);
    assert_eq!(browser.overflow_x().await, 0);
    browser.quit().await;
}

async fn save_create_and_test_again_show_progress_and_a_second_press_does_nothing(
    fixture: WithMock,
    size: (u32, u32),
) {
    let Some((browser, server)) = signed_in(&fixture, size).await else {
        return;
    };
    fixture
        .mock
        .set_latency(std::time::Duration::from_millis(1500));
    open(
        &browser,
        &server,
        "/console/data-sources/new?connector=looker",
    )
    .await;
    browser.press("Add Credential").await;
    browser.fill("Credential Name", "slow").await;
    browser.fill("API Host URL", &fixture.mock.url).await;
    browser
        .fill("Client ID", &fixture.mock.config().client_id)
        .await;
    browser
        .fill("Client Secret", &fixture.mock.config().client_secret)
        .await;
    let before = fixture.mock.stats().login_attempts;
    // Three presses in a row, as an impatient person makes them.
    assert!(
        pressed_three_times(&browser, "Save").await,
        "Save is off while it runs"
    );
    browser.wait_for_text("tests the login").await;
    browser.wait_gone("//dialog").await;
    browser.wait_for_text("Using slow").await;
    assert_eq!(fixture.mock.stats().login_attempts - before, 1, "one login");
    let (_, listed) = status_of(&fixture, "/v1/credentials").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Create, pressed three times: one data source.
    browser.fill("Data source name", "slow exports").await;
    assert!(
        pressed_three_times(&browser, "Create").await,
        "Create is off while it runs"
    );
    browser.wait_for_text("Job keys").await;
    let (_, sources) = status_of(&fixture, "/v1/data-sources").await;
    assert_eq!(sources["items"].as_array().unwrap().len(), 1, "{sources}");

    // Test again, pressed three times: it says what runs, and one login is made.
    let credential = listed["items"][0]["id"].as_str().unwrap();
    open(
        &browser,
        &server,
        &format!("/console/credentials/{credential}"),
    )
    .await;
    let before = fixture.mock.stats().login_attempts;
    browser.wait_for_text("Test again").await;
    assert!(
        pressed_three_times(&browser, "Test again").await,
        "Test again is off while it runs"
    );
    browser.wait_for_text("Testing the login").await;
    browser.wait_for_text("Tested: valid").await;
    assert_eq!(fixture.mock.stats().login_attempts - before, 1, "one login");
    browser.quit().await;
}

/// Presses the button labelled `text` (in the open dialog, if one is) three times in a row,
/// as an impatient person does; whether the button is off right after.
async fn pressed_three_times(browser: &Browser, text: &str) -> bool {
    browser
        .script(&format!(
            "const button = [...(document.querySelector('dialog[open]') || document).querySelectorAll('button')] \
               .find((b) => b.textContent === {text:?}); \
             button.click(); button.click(); button.click(); return button.disabled;"
        ))
        .await
        .as_bool()
        .unwrap()
}

async fn tiles(browser: &Browser) -> usize {
    browser
        .script("return document.querySelectorAll(\"ul[aria-label='Credentials'] a.tile\").length;")
        .await
        .as_u64()
        .unwrap() as usize
}

async fn wait_for_tiles(browser: &Browser, count: usize) {
    let started = std::time::Instant::now();
    while tiles(browser).await != count {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{} tiles, not {count}",
            tiles(browser).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn sixty_credentials_are_searched_filtered_and_paged_with_add_first(
    fixture: WithMock,
    size: (u32, u32),
) {
    for index in 0..59 {
        fixture
            .saved_credential(&format!("warehouse {index:02}"), false)
            .await;
    }
    let broken = fixture.saved_credential("payroll", true).await;
    fixture.mock.set_client_secret("rotated-upstream");
    let (status, _) = fixture
        .app
        .send(
            Method::POST,
            &format!("/v1/credentials/{broken}/validate"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let Some((browser, _server)) = signed_in(&fixture, size).await else {
        return;
    };
    wait_for_tiles(&browser, 24).await;
    let [_, _, _, bottom] = browser.rect("button.tile.add").await;
    let (_, height) = browser.viewport().await;
    assert!(
        bottom <= height,
        "Add Credential is on the first screen: {bottom} of {height}"
    );
    let first = browser
        .script("return document.querySelector(\"ul[aria-label='Credentials'] a.tile h3\").textContent;")
        .await;
    assert_eq!(first, "payroll", "the broken one comes first");
    assert_eq!(browser.overflow_x().await, 0);
    browser
        .screenshot(if size == PHONE {
            "credentials-phone"
        } else {
            "credentials"
        })
        .await;

    browser.press("Show more").await;
    wait_for_tiles(&browser, 48).await;
    browser.wait_for_text("48 shown; more follow.").await;
    browser.press("Show more").await;
    wait_for_tiles(&browser, 60).await;
    assert!(
        browser
            .script("return document.querySelector('button.more').hidden;")
            .await
            .as_bool()
            .unwrap(),
        "nothing more to show"
    );

    // Search: the address keeps it, so a reload shows the same.
    browser.fill("Search", "WAREHOUSE 1").await;
    browser.keys(ENTER).await;
    wait_for_tiles(&browser, 10).await;
    assert_eq!(
        browser.location().await,
        "/console/credentials?q=WAREHOUSE+1"
    );
    browser.reload().await;
    wait_for_tiles(&browser, 10).await;
    let kept = browser.labelled("Search").await;
    assert_eq!(browser.value_of(&kept).await, "WAREHOUSE 1");

    // Filters: status, then the order by name.
    browser.fill("Search", "").await;
    browser.choose("Status", "Needs attention").await;
    wait_for_tiles(&browser, 1).await;
    browser.wait_for_text("payroll").await;
    browser.choose("Status", "unverified").await;
    browser.choose("Sort", "Name").await;
    wait_for_tiles(&browser, 24).await;
    let first = browser
        .script("return document.querySelector(\"ul[aria-label='Credentials'] a.tile h3\").textContent;")
        .await;
    assert_eq!(first, "warehouse 00");
    browser.choose("Status", "invalid").await;
    browser.fill("Search", "warehouse").await;
    browser.keys(ENTER).await;
    browser
        .wait_for_text("No credential matches these filters.")
        .await;
    browser.press("Clear filters").await;
    wait_for_tiles(&browser, 24).await;
    assert_eq!(browser.overflow_x().await, 0);
    browser.quit().await;
}
