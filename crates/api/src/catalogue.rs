//! The connectors this server offers. A new connector is one crate and one line here.

use std::sync::Arc;

use latch_connector::Connector;

#[derive(Clone)]
pub struct Catalogue {
    connectors: Vec<Arc<dyn Connector>>,
}

impl Catalogue {
    pub fn builtin() -> Self {
        Self {
            connectors: vec![Arc::new(latch_connector_looker::Looker)],
        }
    }

    pub fn get(&self, id: &str) -> Option<&dyn Connector> {
        self.connectors
            .iter()
            .find(|connector| connector.id() == id)
            .map(|connector| connector.as_ref())
    }

    /// A connector to move into a background task.
    pub fn shared(&self, id: &str) -> Option<Arc<dyn Connector>> {
        self.connectors
            .iter()
            .find(|connector| connector.id() == id)
            .cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Connector> {
        self.connectors.iter().map(|connector| connector.as_ref())
    }

    /// `looker`, `…`: for messages that say what is accepted.
    pub fn ids(&self) -> String {
        self.all()
            .map(|connector| format!("`{}`", connector.id()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
