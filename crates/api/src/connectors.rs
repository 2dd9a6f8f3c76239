//! The connectors this server offers: the one place that names them. Looker is its own
//! crate (its API key login is no OAuth grant); every other provider is a declaration file,
//! those in the repository's `providers/` folder embedded in the binary and an operator's
//! own read from `LATCH_PROVIDERS_DIR`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use latch_connector::Connector;
use latch_connector_declared::{DeclaredConnector, ProviderError, Source};
use latch_core::catalogue::Catalogue;

/// The shipped providers, read once: their texts and field lists live for the process.
fn shipped() -> &'static [Arc<DeclaredConnector>] {
    static SHIPPED: OnceLock<Vec<Arc<DeclaredConnector>>> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        latch_connector_declared::load(&latch_connector_declared::shipped())
            .unwrap_or_else(|problems| panic!("a shipped provider is broken: {}", lines(&problems)))
            .into_iter()
            .map(Arc::new)
            .collect()
    })
}

/// Every connector built into the `latch` binary: Looker, then the shipped providers.
pub fn builtin() -> Catalogue {
    Catalogue::new(with_shipped(Vec::new()))
}

fn with_shipped(extra: Vec<Arc<dyn Connector>>) -> Vec<Arc<dyn Connector>> {
    let mut connectors: Vec<Arc<dyn Connector>> = vec![Arc::new(latch_connector_looker::Looker)];
    connectors.extend(
        shipped()
            .iter()
            .map(|connector| connector.clone() as Arc<dyn Connector>),
    );
    connectors.extend(extra);
    connectors
}

/// The built-in connectors and the providers declared in `folder`'s `*.toml` files. A file
/// that does not parse, breaks a rule or takes an id already served stops start-up: the
/// error names each file, field and why.
pub fn with_providers_from(folder: &Path) -> Result<Catalogue, String> {
    let sources: Vec<Source> =
        latch_connector_declared::read_folder(folder).map_err(|problem| problem.to_string())?;
    let declared = latch_connector_declared::load(&sources)
        .map_err(|problems| format!("LATCH_PROVIDERS_DIR:{}", lines(&problems)))?;
    let mut problems = Vec::new();
    let builtin = builtin();
    for (source, connector) in sources.iter().zip(&declared) {
        if builtin.get(connector.id()).is_some() {
            problems.push(ProviderError {
                file: source.file.clone(),
                field: "id".into(),
                why: format!("`{}` is a connector Latch ships already", connector.id()),
            });
        }
    }
    if !problems.is_empty() {
        return Err(format!("LATCH_PROVIDERS_DIR:{}", lines(&problems)));
    }
    Ok(Catalogue::new(with_shipped(
        declared
            .into_iter()
            .map(|connector| Arc::new(connector) as Arc<dyn Connector>)
            .collect(),
    )))
}

fn lines(problems: &[ProviderError]) -> String {
    problems
        .iter()
        .map(|problem| format!("\n  {problem}"))
        .collect()
}
