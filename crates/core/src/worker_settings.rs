//! What the background worker does, and how often (`crate::worker` runs it).

use std::time::Duration;

use crate::webhook_settings::WebhookConfig;

/// What the worker does, and how often.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Runs the leased tasks (`LATCH_WORKER`); refreshing ahead has its own switch.
    pub enabled: bool,
    /// How often a replica looks for a leased task to run.
    pub tick: Duration,
    /// How long a task lease lasts; renewed every third of it while the task runs.
    pub lease: Duration,
    /// How often each credential is re-tested (`LATCH_CHECK_INTERVAL_SECONDS`), less a
    /// jitter of up to a tenth, drawn per credential.
    pub check_interval: Duration,
    /// Test logins at once against one upstream host, in checks and in refreshes ahead.
    pub per_host: usize,
    /// The most credentials one check run takes; the rest wait for the next tick.
    pub checks_per_run: i64,
    /// How often housekeeping runs.
    pub housekeeping_every: Duration,
    /// How long audit events are kept (`LATCH_AUDIT_RETENTION_DAYS`); `None`: for ever.
    pub audit_retention: Option<Duration>,
    /// How long a credential's status changes are kept
    /// (`LATCH_HEALTH_HISTORY_RETENTION_DAYS`).
    pub health_history_retention: Duration,
    /// Credentials jobs asked for within this window have their tokens refreshed ahead of
    /// them (`LATCH_REFRESH_AHEAD_WINDOW_SECONDS`); zero turns refreshing ahead off.
    pub refresh_ahead_window: Duration,
    /// How often a replica looks for tokens to refresh ahead.
    pub refresh_ahead_tick: Duration,
    /// How webhooks are delivered (the delivery loop runs where the leased tasks do).
    pub webhooks: WebhookConfig,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tick: Duration::from_secs(30),
            lease: Duration::from_secs(60),
            check_interval: Duration::from_secs(6 * 3600),
            per_host: 2,
            checks_per_run: 200,
            housekeeping_every: Duration::from_secs(60),
            audit_retention: None,
            health_history_retention: Duration::from_secs(90 * 24 * 3600),
            refresh_ahead_window: Duration::from_secs(15 * 60),
            refresh_ahead_tick: Duration::from_secs(5),
            webhooks: WebhookConfig::default(),
        }
    }
}
