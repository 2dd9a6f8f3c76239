//! OAuth 2.0 providers declared as data. Each provider is one TOML file: its endpoints, the
//! settings its URLs take, its scopes, how its token answer and its identity read. The
//! files in the repository's `providers/` folder are embedded in the binary ([`shipped`]);
//! operators add their own from a folder ([`read_folder`]). A file that does not parse or
//! breaks a rule is refused with the file, the field and why ([`ProviderError`]).

mod connector;
mod declaration;
mod rules;
mod specs;
mod template;
#[cfg(test)]
mod tests;

use std::path::Path;

use latch_connector::Connector;

pub use connector::DeclaredConnector;
pub use rules::ProviderError;

/// A declaration's file name and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: String,
    pub text: String,
}

/// The providers that ship with Latch, as `(file name, text)`.
const SHIPPED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// The declarations that ship with Latch.
pub fn shipped() -> Vec<Source> {
    SHIPPED
        .iter()
        .map(|(file, text)| Source {
            file: format!("providers/{file}"),
            text: text.to_string(),
        })
        .collect()
}

/// The `*.toml` files of an operator's folder, by name; other files are left alone.
pub fn read_folder(folder: &Path) -> Result<Vec<Source>, ProviderError> {
    let unreadable = |why: std::io::Error| ProviderError {
        file: folder.display().to_string(),
        field: "(folder)".into(),
        why: format!("cannot be read: {why}"),
    };
    let mut paths: Vec<_> = std::fs::read_dir(folder)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let file = path.display().to_string();
            std::fs::read_to_string(&path)
                .map(|text| Source {
                    file: file.clone(),
                    text,
                })
                .map_err(|why| ProviderError {
                    file,
                    field: "(file)".into(),
                    why: format!("cannot be read as UTF-8 text: {why}"),
                })
        })
        .collect()
}

/// The connectors `sources` declare, or every problem of every file. Two files may not
/// declare the same id. A provider offering two methods a person types (client credentials
/// and JWT bearer) is two connectors of one id, one per method ([`DeclaredConnector::typed`]),
/// the first its main one.
pub fn load(sources: &[Source]) -> Result<Vec<DeclaredConnector>, Vec<ProviderError>> {
    let mut connectors: Vec<(String, DeclaredConnector)> = Vec::new();
    let mut problems = Vec::new();
    for source in sources {
        let declaration = match toml::from_str(&source.text) {
            Ok(declaration) => declaration,
            Err(error) => {
                problems.push(parse_error(source, &error));
                continue;
            }
        };
        match rules::check(&source.file, declaration) {
            Ok(provider) => {
                if let Some((first, _)) = connectors
                    .iter()
                    .find(|(_, other)| Connector::id(other) == provider.id)
                {
                    problems.push(ProviderError {
                        file: source.file.clone(),
                        field: "id".into(),
                        why: format!("`{}` is declared by {first} already", provider.id),
                    });
                } else {
                    for connector in DeclaredConnector::per_method(provider) {
                        connectors.push((source.file.clone(), connector));
                    }
                }
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(connectors
            .into_iter()
            .map(|(_, connector)| connector)
            .collect())
    } else {
        Err(problems)
    }
}

/// A file TOML or the declaration's types refuse: the line, and the parser's reason (which
/// names an unknown or missing key).
fn parse_error(source: &Source, error: &toml::de::Error) -> ProviderError {
    let line = error.span().map(|span| {
        source.text[..span.start.min(source.text.len())]
            .matches('\n')
            .count()
            + 1
    });
    ProviderError {
        file: source.file.clone(),
        field: line.map_or("(file)".into(), |line| format!("line {line}")),
        why: error.message().trim().to_string(),
    }
}
