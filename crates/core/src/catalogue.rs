//! The connectors this server offers, as the composition root chose them (`latch-api`'s
//! `connectors::builtin`): the core names none.

use std::sync::Arc;

use latch_connector::{AuthMethod, Connector, FieldError, FieldSpec};

use crate::error::CoreError;

/// Whether a stored credential was made by consent (its grant's refresh token logs it in).
pub fn made_by_consent(credential: &latch_store::Credential) -> bool {
    AuthMethod::from_name(&credential.auth_method) == Some(AuthMethod::OauthAuthorizationCode)
}

#[derive(Clone)]
pub struct Catalogue {
    connectors: Vec<Arc<dyn Connector>>,
    /// The further methods a person types of a connector above, each a connector of the same
    /// id whose `typed_method` is that method (Salesforce's JWT bearer beside its client
    /// credentials).
    variants: Vec<Arc<dyn Connector>>,
}

impl Catalogue {
    /// A catalogue of `connectors`. Each must be whole: at least one method, and consent
    /// listed exactly when it gives the OAuth flow. An id appears once per method a person
    /// types, each entry typing another (the first is the connector; the others its
    /// variants); a connector that breaks this is a programming error, found at start-up.
    pub fn new(all: Vec<Arc<dyn Connector>>) -> Self {
        let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
        let mut variants: Vec<Arc<dyn Connector>> = Vec::new();
        for connector in all {
            let id = connector.id();
            let typed = connector.typed_method();
            let same_id = connectors
                .iter()
                .chain(variants.iter())
                .filter(|other| other.id() == id);
            let mut first = true;
            for other in same_id {
                first = false;
                assert!(
                    typed.is_some() && other.typed_method() != typed,
                    "two connectors are called `{id}`"
                );
                assert_eq!(
                    other.auth_methods(),
                    connector.auth_methods(),
                    "the variants of `{id}` offer different methods"
                );
            }
            assert!(
                !connector.auth_methods().is_empty(),
                "connector `{id}` offers no auth method"
            );
            assert!(
                typed.is_none_or(
                    |method| method.is_typed() && connector.auth_methods().contains(&method)
                ),
                "connector `{id}` types a method it does not offer"
            );
            assert_eq!(
                connector
                    .auth_methods()
                    .contains(&AuthMethod::OauthAuthorizationCode),
                connector.oauth().is_some(),
                "connector `{id}` lists `oauth_authorization_code` exactly when it has the flow"
            );
            match first {
                true => connectors.push(connector),
                false => variants.push(connector),
            }
        }
        for connector in &connectors {
            let typed = connector
                .auth_methods()
                .iter()
                .filter(|method| method.is_typed());
            for method in typed {
                assert!(
                    connector.typed_method() == Some(*method)
                        || variants.iter().any(|variant| variant.id() == connector.id()
                            && variant.typed_method() == Some(*method)),
                    "connector `{}` offers `{}` but no entry types it",
                    connector.id(),
                    method.as_str()
                );
            }
        }
        Self {
            connectors,
            variants,
        }
    }

    /// Every entry: the connectors, then their variants.
    fn entries(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.connectors.iter().chain(self.variants.iter())
    }

    pub fn get(&self, id: &str) -> Option<&dyn Connector> {
        self.connectors
            .iter()
            .find(|connector| connector.id() == id)
            .map(|connector| connector.as_ref())
    }

    /// The connector `id` as the method a person types named `method`: its main entry or
    /// one of its variants.
    pub fn typed(&self, id: &str, method: AuthMethod) -> Option<&dyn Connector> {
        self.entries()
            .find(|connector| connector.id() == id && connector.typed_method() == Some(method))
            .map(|connector| connector.as_ref())
    }

    /// The connector that serves a stored credential: the variant of the method it was made
    /// with, or the connector itself (consent, and every connector of one typed method).
    pub fn of_credential(&self, credential: &latch_store::Credential) -> Option<&dyn Connector> {
        self.entry_of(credential)
            .map(|connector| connector.as_ref())
    }

    /// [`Catalogue::of_credential`], to move into a background task.
    pub fn shared_of(&self, credential: &latch_store::Credential) -> Option<Arc<dyn Connector>> {
        self.entry_of(credential).cloned()
    }

    fn entry_of(&self, credential: &latch_store::Credential) -> Option<&Arc<dyn Connector>> {
        let method = AuthMethod::from_name(&credential.auth_method);
        let entries = || {
            self.entries()
                .filter(|connector| connector.id() == credential.connector)
        };
        entries()
            .find(|connector| method.is_some() && connector.typed_method() == method)
            .or_else(|| entries().next())
    }

    /// The entries of connector `id` that a person types, one per method.
    pub fn typed_methods(&self, id: &str) -> Vec<&dyn Connector> {
        self.entries()
            .filter(|connector| connector.id() == id && connector.typed_method().is_some())
            .map(|connector| connector.as_ref())
            .collect()
    }

    /// The connector a request names in its `connector` field; a missing or unknown one is
    /// reported in `errors`.
    pub fn named(&self, id: Option<&str>, errors: &mut Vec<FieldError>) -> Option<&dyn Connector> {
        let Some(id) = id else {
            errors.push(FieldError::new("connector", "is required"));
            return None;
        };
        let found = self.get(id);
        if found.is_none() {
            errors.push(FieldError::new(
                "connector",
                format!("unknown connector; expected one of {}", self.ids()),
            ));
        }
        found
    }

    /// Checks a list's `connector` filter: a name the catalogue does not hold is a 400, not
    /// an empty page that looks like "none yet".
    pub fn check_filter(&self, id: Option<&str>) -> Result<(), CoreError> {
        match id {
            Some(id) if self.get(id).is_none() => Err(CoreError::bad_request(
                "connector",
                format!("is not a known connector; expected one of {}", self.ids()),
            )),
            _ => Ok(()),
        }
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

    /// The other connector (or other typed method of this one) whose section (`fields_of`)
    /// takes `section`, when `this` does not: a request that would do for a record of that
    /// connector conflicts with this record's state (409) rather than being malformed (422).
    /// A section that replaces the stored one `whole` must also hold every field the
    /// connector requires. Named as `` `id` `` or `` `id` by `method` ``.
    pub fn fits_another(
        &self,
        this: &dyn Connector,
        section: &serde_json::Value,
        whole: bool,
        fields_of: impl Fn(&dyn Connector) -> Option<&'static [FieldSpec]>,
    ) -> Option<String> {
        let given = section.as_object()?;
        let takes = |connector: &dyn Connector| {
            fields_of(connector).is_some_and(|fields| {
                given
                    .keys()
                    .all(|key| fields.iter().any(|field| field.name == key.as_str()))
                    && (!whole
                        || fields
                            .iter()
                            .all(|field| field.is_optional() || given.contains_key(field.name)))
            })
        };
        if (given.is_empty() && !whole) || takes(this) {
            return None;
        }
        let others = || {
            self.entries()
                .map(|other| other.as_ref())
                .filter(|other| {
                    other.id() != this.id() || other.typed_method() != this.typed_method()
                })
                .filter(|other| takes(*other))
        };
        // Another method of this connector is the likelier meaning.
        let other = others()
            .find(|other| other.id() == this.id())
            .or_else(|| others().next())?;
        Some(match (other.id() == this.id(), other.typed_method()) {
            (true, Some(method)) => format!("`{}` by `{}`", other.id(), method.as_str()),
            _ => format!("`{}`", other.id()),
        })
    }

    /// `looker`, `…`: for messages that say what is accepted.
    pub fn ids(&self) -> String {
        self.all()
            .map(|connector| format!("`{}`", connector.id()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
