use std::sync::Arc;

use latch_connector::{EgressClient, ValidationPolicy};
use latch_store::Store;
use latch_vault::Keyring;

use crate::auth::KeyCache;
use crate::broker::TokenBroker;
use crate::catalogue::Catalogue;
use crate::issuance_log::IssuanceLog;

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
    pub issuances: IssuanceLog,
}
