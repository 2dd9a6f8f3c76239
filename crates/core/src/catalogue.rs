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
}

impl Catalogue {
    /// A catalogue of `connectors`. Each must be whole: a distinct id, at least one method,
    /// and consent listed exactly when it gives the OAuth flow (a connector that breaks this
    /// is a programming error, found at start-up).
    pub fn new(connectors: Vec<Arc<dyn Connector>>) -> Self {
        for (index, connector) in connectors.iter().enumerate() {
            let id = connector.id();
            assert!(
                connectors[..index].iter().all(|other| other.id() != id),
                "two connectors are called `{id}`"
            );
            assert!(
                !connector.auth_methods().is_empty(),
                "connector `{id}` offers no auth method"
            );
            assert!(
                connector
                    .auth_methods()
                    .iter()
                    .filter(|method| method.is_typed())
                    .count()
                    <= 1,
                "connector `{id}` offers more than one typed method"
            );
            assert_eq!(
                connector
                    .auth_methods()
                    .contains(&AuthMethod::OauthAuthorizationCode),
                connector.oauth().is_some(),
                "connector `{id}` lists `oauth_authorization_code` exactly when it has the flow"
            );
        }
        Self { connectors }
    }

    pub fn get(&self, id: &str) -> Option<&dyn Connector> {
        self.connectors
            .iter()
            .find(|connector| connector.id() == id)
            .map(|connector| connector.as_ref())
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

    /// The other connector whose section (`fields_of`) takes `section`, when `this` does
    /// not: a request that would do for a record of that connector conflicts with this
    /// record's state (409) rather than being malformed (422). A section that replaces the
    /// stored one `whole` must also hold every field the connector requires.
    pub fn fits_another(
        &self,
        this: &dyn Connector,
        section: &serde_json::Value,
        whole: bool,
        fields_of: impl Fn(&dyn Connector) -> Option<&'static [FieldSpec]>,
    ) -> Option<&'static str> {
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
        self.all()
            .find(|other| other.id() != this.id() && takes(*other))
            .map(|other| other.id())
    }

    /// `looker`, `…`: for messages that say what is accepted.
    pub fn ids(&self) -> String {
        self.all()
            .map(|connector| format!("`{}`", connector.id()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
