//! The numbers an upstream answers, through a real server and mock-looker: a wait it asks
//! for (`Retry-After`) given as an HTTP-date is waited out like seconds, and one past a day is
//! held to a day; a token said to live for ages is kept for a year. Neither breaks the broker.

use latch_tests::mock_looker::Fault;
use latch_tests::{WithMock, on_both_backends};
use serde_json::json;

on_both_backends!(
    WithMock:
        a_retry_after_given_as_an_http_date_is_waited_out_by_every_job,
        a_retry_after_past_a_day_is_held_to_a_day_and_the_server_keeps_serving,
        a_token_said_to_live_for_ages_is_kept_for_a_year_and_the_server_keeps_serving,
);

async fn a_retry_after_given_as_an_http_date_is_waited_out_by_every_job(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    // Two minutes from now, as an IMF-fixdate (RFC 9110 section 5.6.7).
    let date = (chrono::Utc::now() + chrono::Duration::seconds(120))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    fixture.mock.set_fault(Fault::RetryAfter(date));
    for _ in 0..3 {
        let (status, problem, retry_after) = fixture.app.ask_token(&id, json!({})).await;
        assert_eq!(status, 503, "{problem}");
        let seconds = retry_after.expect("Retry-After");
        assert!((110..=120).contains(&seconds), "told to wait {seconds} s");
    }
    assert_eq!(
        fixture.mock.stats().login_attempts,
        1,
        "nobody asks the upstream again before the date"
    );
}

async fn a_retry_after_past_a_day_is_held_to_a_day_and_the_server_keeps_serving(fixture: WithMock) {
    let id = fixture.saved_credential("jobs", false).await;
    // The largest number of seconds a u64 holds: no clock can add it to now.
    fixture
        .mock
        .set_fault(Fault::RetryAfter(u64::MAX.to_string()));
    let (status, problem, retry_after) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(retry_after, Some(24 * 3600));
    let (status, _, retry_after) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some_and(|seconds| seconds <= 24 * 3600));

    // The server goes on: another credential gets its token once the upstream recovers.
    fixture.mock.set_fault(Fault::None);
    let other = fixture.saved_credential("others", false).await;
    let (status, token, _) = fixture.app.ask_token(&other, json!({})).await;
    assert_eq!(status, 200, "{token}");
}

async fn a_token_said_to_live_for_ages_is_kept_for_a_year_and_the_server_keeps_serving(
    fixture: WithMock,
) {
    let id = fixture.saved_credential("jobs", false).await;
    // About 317 000 years: past the last date a clock can name.
    fixture.mock.set_expires_in(10_000_000_000_000);
    let (status, token, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 200, "{token}");
    let year = 365 * 24 * 3600;
    let lives = token["expires_in"].as_i64().unwrap();
    assert!((year - 60..=year).contains(&lives), "{token}");
    // Handed out again from the cache, without another login.
    let (status, again, _) = fixture.app.ask_token(&id, json!({})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["access_token"], token["access_token"]);
    assert_eq!(fixture.mock.stats().logins, 1);
}
