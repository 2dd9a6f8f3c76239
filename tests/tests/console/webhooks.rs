//! The Webhooks screen in a real browser.

use latch_tests::WithMock;
use reqwest::Method;

use super::{at_both_sizes, desktop_screenshot, signed_in};

at_both_sizes!(
    an_admin_adds_a_webhook_tests_it_sees_its_deliveries_rotates_its_secret_and_deletes_it
);

async fn an_admin_adds_a_webhook_tests_it_sees_its_deliveries_rotates_its_secret_and_deletes_it(
    fixture: WithMock,
    size: (u32, u32),
) {
    use latch_tests::webhook_receiver::{Receiver, Verifier};
    let receiver = Receiver::start().await;
    let Some((browser, _server)) = signed_in(&fixture, size).await else {
        return;
    };
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
    desktop_screenshot(&browser, size, "webhook-secret").await;
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
    desktop_screenshot(&browser, size, "webhook-deliveries").await;
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
