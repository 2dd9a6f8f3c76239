//! What every use case shares: the store, the keys, the connectors, the way to the network,
//! the token broker and the caches and tallies of this process.

use std::sync::Arc;

use latch_connector::{EgressClient, ValidationPolicy};
use latch_store::Store;
use latch_vault::Keyring;

use crate::audit_tally::{AuditTally, IssuanceRecord, RefusalRecord};
use crate::auth_limiter::FailureLimiter;
use crate::broker::{BrokerConfig, BrokerDeps, Clock, TokenBroker};
use crate::callers::KeyCache;
use crate::catalogue::Catalogue;
use crate::metrics::Metrics;
use crate::secrets::Secrets;

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
    pub issuances: AuditTally<IssuanceRecord>,
    /// Failed authentications and denied authorizations.
    pub refusals: AuditTally<RefusalRecord>,
    /// Failed authentications per address, for the 429 that slows down guessing.
    pub auth_failures: FailureLimiter,
}

/// How this process behaves, beside what it reaches.
#[derive(Debug, Clone, Copy, Default)]
pub struct LatchConfig {
    pub policy: ValidationPolicy,
    pub broker: BrokerConfig,
    /// Failed authentications an address may make in a minute before 429 (0: no limit).
    pub auth_failures_per_minute: u32,
}

impl Latch {
    /// Everything wired together; starts the audit tallies, so it runs inside a Tokio runtime.
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        catalogue: Catalogue,
        egress: EgressClient,
        config: LatchConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        let secrets = Secrets::new(keyring.clone(), catalogue.clone());
        let deps = BrokerDeps {
            store: store.clone(),
            secrets: secrets.clone(),
            egress: egress.clone(),
        };
        Self {
            issuances: AuditTally::start(store.clone(), metrics.clone()),
            refusals: AuditTally::start(store.clone(), metrics.clone()),
            auth_failures: FailureLimiter::new(config.auth_failures_per_minute),
            broker: TokenBroker::new(deps, metrics, config.broker, clock),
            keys: KeyCache::default(),
            store,
            keyring,
            catalogue,
            secrets,
            policy: config.policy,
            egress,
        }
    }
}
