//! The connectors this server offers: the one place that names them. A new connector is
//! its crate, a dependency of this one, and one line here.

use std::sync::Arc;

use latch_core::catalogue::Catalogue;

/// Every connector built into the `latch` binary.
pub fn builtin() -> Catalogue {
    Catalogue::new(vec![Arc::new(latch_connector_looker::Looker)])
}
