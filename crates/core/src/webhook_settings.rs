//! How webhooks are delivered: the retry schedule, the horizon after which an endpoint is
//! turned off, and how the delivery loop takes its work.

use std::time::Duration;

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The wait before the first retry (`LATCH_WEBHOOK_RETRY_FIRST_SECONDS`); each retry
    /// waits twice as long as the one before, with up to a fifth of jitter either way.
    pub retry_first: Duration,
    /// The longest wait between two attempts (`LATCH_WEBHOOK_RETRY_MAX_SECONDS`), also the
    /// most a `Retry-After` is honoured for (the egress client reads none past a day).
    pub retry_max: Duration,
    /// How long a delivery is retried, and how long an endpoint may fail every attempt
    /// before it is turned off (`LATCH_WEBHOOK_RETRY_HORIZON_SECONDS`, 3 days).
    pub horizon: Duration,
    /// How long an attempt may take (`LATCH_WEBHOOK_TIMEOUT_SECONDS`).
    pub timeout: Duration,
    /// How long the secret before a rotation keeps signing beside the new one.
    pub secret_overlap: Duration,
    /// How often an idle delivery loop looks for due deliveries (`LATCH_WEBHOOK_POLL_MS`).
    pub poll: Duration,
    /// Deliveries in flight at once in one replica.
    pub concurrency: usize,
    /// How long finished deliveries are kept (`LATCH_WEBHOOK_DELIVERY_RETENTION_DAYS`, 30).
    pub delivery_retention: Duration,
}

impl WebhookConfig {
    /// How long a replica holds a delivery it took: longer than an attempt can take, so no
    /// other replica sends the same attempt meanwhile.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            retry_first: Duration::from_secs(5),
            retry_max: Duration::from_secs(10 * 3600),
            horizon: Duration::from_secs(3 * 24 * 3600),
            timeout: Duration::from_secs(10),
            secret_overlap: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
            concurrency: 32,
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}
