//! What every use case shares: the store, the keys, the connectors, the way to the network,
//! the token broker and the caches and tallies of this process.

use std::sync::Arc;

use latch_connector::{EgressClient, ValidationPolicy};
use latch_store::{ChangeSubject, Store, StoreError};
use latch_vault::Keyring;
use uuid::Uuid;

use crate::audit_tally::{AuditTally, IssuanceRecord, RefusalRecord};
use crate::auth_limiter::FailureLimiter;
use crate::broker::{BrokerConfig, BrokerDeps, Clock, TokenBroker};
use crate::callers::KeyCache;
use crate::catalogue::Catalogue;
use crate::change_feed::{ChangeFeed, STALENESS, follow};
use crate::metrics::Metrics;
use crate::oauth_settings::OAuthSettings;
use crate::secrets::Secrets;
use crate::source_cache::SourceCache;
use crate::worker_settings::WorkerConfig;

pub struct Latch {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub catalogue: Catalogue,
    /// Opens and seals saved secrets (the keyring and the connectors, together).
    pub secrets: Secrets,
    pub policy: ValidationPolicy,
    /// The only way to the network.
    pub egress: EgressClient,
    pub broker: TokenBroker,
    /// API keys verified lately.
    pub keys: KeyCache,
    /// The credentials of data sources whose tokens were asked for lately.
    pub sources: SourceCache,
    /// What other replicas changed.
    pub changes: Arc<ChangeFeed>,
    pub issuances: AuditTally<IssuanceRecord>,
    /// Failed authentications and denied authorizations.
    pub refusals: AuditTally<RefusalRecord>,
    /// Failed authentications per address, for the 429 that slows down guessing.
    pub auth_failures: FailureLimiter,
    /// Where the OAuth consent comes back to, and where browsers may be sent after it.
    pub oauth: OAuthSettings,
    /// What the background worker does (`crate::worker`).
    pub worker: WorkerConfig,
}

/// How this process behaves, beside what it reaches.
#[derive(Debug, Clone)]
pub struct LatchConfig {
    pub policy: ValidationPolicy,
    pub broker: BrokerConfig,
    /// Failed authentications an address may make in a minute before 429 (0: no limit).
    pub auth_failures_per_minute: u32,
    pub oauth: OAuthSettings,
    pub worker: WorkerConfig,
}

impl Latch {
    /// Everything wired together; starts the audit tallies, so it runs inside a Tokio runtime.
    /// [`Latch::follow_changes`] then keeps its caches in step with other replicas.
    pub async fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        catalogue: Catalogue,
        egress: EgressClient,
        config: LatchConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let changes = Arc::new(ChangeFeed::new(store.latest_change().await?, STALENESS));
        let metrics = Arc::new(Metrics::default());
        let secrets = Secrets::new(keyring.clone(), catalogue.clone());
        let deps = BrokerDeps {
            store: store.clone(),
            secrets: secrets.clone(),
            egress: egress.clone(),
            changes: changes.clone(),
            redirect_uri: config.oauth.redirect_uri.clone(),
        };
        Ok(Self {
            issuances: AuditTally::start(store.clone(), metrics.clone()),
            refusals: AuditTally::start(store.clone(), metrics.clone()),
            auth_failures: FailureLimiter::new(config.auth_failures_per_minute),
            broker: TokenBroker::new(deps, metrics, config.broker, clock),
            keys: KeyCache::new(changes.clone()),
            sources: SourceCache::new(changes.clone()),
            changes,
            store,
            keyring,
            catalogue,
            secrets,
            policy: config.policy,
            egress,
            oauth: config.oauth,
            worker: config.worker,
        })
    }

    /// Reads the change feed in the background for as long as this value lives.
    pub fn follow_changes(self: &Arc<Self>) {
        follow(
            self.changes.clone(),
            self.store.clone(),
            Arc::downgrade(self),
            Self::apply_change,
        );
    }

    fn apply_change(&self, subject: ChangeSubject, key: &str, seq: i64) {
        match subject {
            ChangeSubject::ApiKey => self.keys.changed(key, seq),
            ChangeSubject::Credential => {
                if let Ok(id) = key.parse::<Uuid>() {
                    self.broker.changed(id, seq);
                }
            }
            ChangeSubject::DataSource => {
                if let Ok(id) = key.parse::<Uuid>() {
                    self.sources.changed(id, seq);
                }
            }
        }
    }
}
