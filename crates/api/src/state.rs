use std::sync::Arc;

use latch_connector::{EgressClient, ValidationPolicy};
use latch_store::Store;
use latch_vault::Keyring;

use crate::audit_tally::{AuditTally, IssuanceRecord, RefusalRecord};
use crate::auth::KeyCache;
use crate::auth_limiter::FailureLimiter;
use crate::broker::TokenBroker;
use crate::catalogue::Catalogue;

/// What every request handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub catalogue: Catalogue,
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
