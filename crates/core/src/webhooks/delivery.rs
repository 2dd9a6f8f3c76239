//! One attempt at a delivery: the event POSTed to its endpoint, signed, through the egress
//! policy connectors go through; and what comes next, by the retry schedule.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use latch_store::{AttemptNext, AttemptRecord, ClaimedDelivery};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use url::Url;

use super::open_secrets;
use super::signing::signature_header;
use crate::latch::Latch;
use crate::webhook_settings::WebhookConfig;
use crate::worker::jitter;

/// What an attempt found, before the schedule decides what comes next.
struct Answer {
    status_code: Option<i32>,
    error: Option<String>,
    retry_after: Option<u64>,
}

/// Sends one attempt of `claimed` and says what to write back.
pub async fn attempt(latch: &Latch, claimed: &ClaimedDelivery) -> AttemptRecord {
    let delivery = &claimed.delivery;
    let at = latch_store::now();
    let started = Instant::now();
    let answer = send(latch, claimed, at).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let next = if answer.error.is_none() {
        AttemptNext::Delivered
    } else {
        next_step(
            &latch.worker.webhooks,
            delivery.attempts,
            delivery.retry_since,
            at,
            answer.retry_after,
            jitter(),
        )
    };
    AttemptRecord {
        delivery_id: delivery.id,
        webhook_id: delivery.webhook_id,
        at,
        waiting_since: delivery.retry_since,
        status_code: answer.status_code,
        latency_ms,
        error: answer.error,
        next,
    }
}

async fn send(latch: &Latch, claimed: &ClaimedDelivery, at: DateTime<Utc>) -> Answer {
    let failed = |error: String| Answer {
        status_code: None,
        error: Some(error),
        retry_after: None,
    };
    let (delivery, webhook) = (&claimed.delivery, &claimed.webhook);
    let secrets = match open_secrets(latch, webhook) {
        Ok(secrets) => secrets,
        Err(error) => {
            tracing::error!(webhook_id = %webhook.id, %error, "a webhook's secrets did not open");
            return failed("the endpoint's signing secret could not be opened".into());
        }
    };
    let mut signing = vec![&secrets.current];
    if let Some(previous) = &secrets.previous
        && webhook
            .previous_secret_until
            .is_some_and(|until| until > at)
    {
        signing.push(previous);
    }
    let message_id = delivery.event_id.to_string();
    let timestamp = at.timestamp();
    let signature = match signature_header(
        &signing,
        &message_id,
        timestamp,
        delivery.payload.as_bytes(),
    ) {
        Ok(signature) => signature,
        Err(error) => return failed(error.to_string()),
    };
    let url = match Url::parse(&webhook.url) {
        Ok(url) => url,
        Err(error) => return failed(format!("the endpoint's URL is not a URL: {error}")),
    };
    // The egress client calls the https port and those the operator opened, as for
    // connectors that declare no port of their own.
    let request = match latch.egress.request(Method::POST, url) {
        Ok(request) => request,
        Err(error) => return failed(error.to_string()),
    };
    let request = request
        .timeout(latch.worker.webhooks.timeout)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone());
    // Only the status counts (Standard Webhooks): the endpoint's body is not read.
    match latch.egress.execute_for_status(request).await {
        Ok(response) if response.status.is_success() => Answer {
            status_code: Some(i32::from(response.status.as_u16())),
            error: None,
            retry_after: None,
        },
        Ok(response) => Answer {
            status_code: Some(i32::from(response.status.as_u16())),
            error: Some(format!("the endpoint answered {}", response.status)),
            retry_after: response.retry_after(),
        },
        Err(error) => failed(error.to_string()),
    }
}

/// When to try again after a failed attempt, or to give up: each wait twice the one before
/// from `retry_first`, at most `retry_max`, shifted by up to a fifth either way (`jitter` in
/// 0..1) so that deliveries failing together do not come back together; no sooner than the
/// endpoint's `Retry-After` (up to `retry_max`); and none once `retry_since` is a horizon
/// ago.
pub fn next_step(
    config: &WebhookConfig,
    attempts_before: i64,
    retry_since: DateTime<Utc>,
    at: DateTime<Utc>,
    retry_after: Option<u64>,
    jitter: f64,
) -> AttemptNext {
    let horizon = chrono::Duration::from_std(config.horizon).unwrap_or(chrono::Duration::MAX);
    if at.signed_duration_since(retry_since) >= horizon {
        return AttemptNext::GiveUp;
    }
    let doublings = u32::try_from(attempts_before.clamp(0, 30)).unwrap_or(30);
    let wait = config
        .retry_first
        .saturating_mul(1u32 << doublings)
        .min(config.retry_max)
        .mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    let asked = retry_after
        .map(Duration::from_secs)
        .unwrap_or_default()
        .min(config.retry_max);
    let wait = chrono::Duration::from_std(wait.max(asked)).unwrap_or(chrono::Duration::MAX);
    AttemptNext::RetryAt(at + wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WebhookConfig {
        WebhookConfig {
            retry_first: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            horizon: Duration::from_secs(3 * 24 * 3600),
            ..WebhookConfig::default()
        }
    }

    fn wait(next: AttemptNext, at: DateTime<Utc>) -> i64 {
        match next {
            AttemptNext::RetryAt(when) => (when - at).num_seconds(),
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn each_retry_waits_twice_as_long_as_the_one_before_up_to_the_longest_wait() {
        let at = Utc::now();
        let waits: Vec<i64> = (0..12)
            .map(|attempts| wait(next_step(&config(), attempts, at, at, None, 0.5), at))
            .collect();
        assert_eq!(&waits[..5], &[5, 10, 20, 40, 80]);
        assert_eq!(waits[11], 3600);
    }

    #[test]
    fn jitter_moves_a_wait_by_at_most_a_fifth_either_way() {
        let at = Utc::now();
        assert_eq!(wait(next_step(&config(), 3, at, at, None, 0.0), at), 32);
        assert_eq!(wait(next_step(&config(), 3, at, at, None, 1.0), at), 48);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_longest_wait() {
        let at = Utc::now();
        assert_eq!(
            wait(next_step(&config(), 0, at, at, Some(120), 0.5), at),
            120
        );
        assert_eq!(wait(next_step(&config(), 0, at, at, Some(1), 0.5), at), 5);
        assert_eq!(
            wait(next_step(&config(), 0, at, at, Some(999_999), 0.5), at),
            3600
        );
    }

    #[test]
    fn a_delivery_failing_for_the_whole_horizon_is_given_up() {
        let at = Utc::now();
        let since = at - chrono::Duration::days(3);
        assert_eq!(
            next_step(&config(), 40, since, at, None, 0.5),
            AttemptNext::GiveUp
        );
        let nearly = at - chrono::Duration::days(3) + chrono::Duration::seconds(1);
        assert!(matches!(
            next_step(&config(), 40, nearly, at, None, 0.5),
            AttemptNext::RetryAt(_)
        ));
    }
}
