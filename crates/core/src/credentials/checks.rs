//! The checks of a request's connector, config and secrets, before any use case acts on them.

use latch_connector::{AuthMethod, Connector, FieldError, Fields, SecretFields};
use serde_json::Value;

use crate::error::CoreError;
use crate::latch::Latch;

use super::UpdateCredentialRequest;

fn checked_section(
    connector: Option<&dyn Connector>,
    value: Option<&Value>,
    section: &str,
    check: impl Fn(&dyn Connector, &Value) -> Result<Fields, Vec<FieldError>>,
    errors: &mut Vec<FieldError>,
) -> Option<Fields> {
    match (connector, value) {
        (_, None) => {
            errors.push(FieldError::new(section, "is required"));
            None
        }
        (Some(connector), Some(value)) => check(connector, value)
            .map_err(|problems| errors.extend(problems))
            .ok(),
        (None, Some(_)) => None,
    }
}

/// The connector, as the method a person types that the request names (`auth_method`, the
/// connector's first when left out), config and secrets of a request, checked; problems go
/// to `errors`.
pub(super) fn checked_connection<'a>(
    state: &'a Latch,
    connector: Option<&str>,
    method: Option<&str>,
    config: Option<&Value>,
    secrets: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<(&'a dyn Connector, Fields, SecretFields)> {
    let connector = state
        .catalogue
        .named(connector, errors)
        .and_then(|connector| typed_as(state, connector, method, errors));
    let policy = state.policy;
    let config = checked_section(
        connector,
        config,
        "config",
        |connector, value| connector.validate_config(value, policy),
        errors,
    );
    let secrets = checked_section(
        connector,
        secrets,
        "secrets",
        |connector, value| connector.validate_secrets(value, policy),
        errors,
    )
    .map(SecretFields::new);
    Some((connector?, config?, secrets?))
}

/// The entry of `connector` for the method a person types that `method` names.
fn typed_as<'a>(
    state: &'a Latch,
    connector: &'a dyn Connector,
    method: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<&'a dyn Connector> {
    let typed = state.catalogue.typed_methods(connector.id());
    let consent_only = || {
        format!(
            "the {} connector makes credentials by consent only: start a connect session \
             through one of its OAuth apps",
            connector.id()
        )
    };
    let Some(name) = method else {
        if typed.is_empty() {
            errors.push(FieldError::new("connector", consent_only()));
        }
        return (!typed.is_empty()).then_some(connector);
    };
    let found = AuthMethod::from_name(name)
        .and_then(|method| state.catalogue.typed(connector.id(), method));
    if found.is_none() {
        let why = match (AuthMethod::from_name(name), typed.is_empty()) {
            (_, true) => consent_only(),
            (Some(AuthMethod::OauthAuthorizationCode), false) => format!(
                "is made by consent: start a connect session through one of the {} \
                 connector's OAuth apps",
                connector.id()
            ),
            (_, false) => format!(
                "is not a method of the {} connector that a person types; expected one of {}",
                connector.id(),
                typed
                    .iter()
                    .filter_map(|entry| entry.typed_method())
                    .map(|method| format!("`{}`", method.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        errors.push(FieldError::new("auth_method", why));
    }
    found
}

/// A change whose settings would do for a credential of another connector conflicts with
/// this one's (409), rather than being malformed (422). Secrets are replaced whole.
pub(super) fn settings_of_another_connector(
    state: &Latch,
    connector: &dyn Connector,
    request: &UpdateCredentialRequest,
) -> Result<(), CoreError> {
    let typed = |connector: &dyn Connector| connector.typed_method().is_some();
    let config_elsewhere = request.config.as_ref().and_then(|config| {
        state
            .catalogue
            .fits_another(connector, config, false, |connector| {
                typed(connector).then(|| connector.config_fields())
            })
    });
    let secrets_elsewhere = request.secrets.as_ref().and_then(|secrets| {
        state
            .catalogue
            .fits_another(connector, secrets, true, |connector| {
                typed(connector).then(|| connector.secret_fields())
            })
    });
    if let Some(other) = config_elsewhere.or(secrets_elsewhere) {
        return Err(CoreError::Conflict(format!(
            "these are settings of a {other} credential; this one is a `{}` credential{}",
            connector.id(),
            connector
                .typed_method()
                .map(|method| format!(" by `{}`", method.as_str()))
                .unwrap_or_default()
        )));
    }
    Ok(())
}
