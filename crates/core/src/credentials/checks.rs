//! The checks of a request's connector, config and secrets, before any use case acts on them.

use latch_connector::{Connector, FieldError, Fields, SecretFields};
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

/// The connector, config and secrets of a request, checked; problems go to `errors`.
pub(super) fn checked_connection<'a>(
    state: &'a Latch,
    connector: Option<&str>,
    config: Option<&Value>,
    secrets: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<(&'a dyn Connector, Fields, SecretFields)> {
    let connector = state
        .catalogue
        .named(connector, errors)
        .filter(|connector| {
            let typed = connector.typed_method().is_some();
            if !typed {
                errors.push(FieldError::new(
                    "connector",
                    format!(
                        "the {} connector makes credentials by consent only: start a connect \
                     session through one of its OAuth apps",
                        connector.id()
                    ),
                ));
            }
            typed
        });
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
            "these are settings of a `{other}` credential; this one is a `{}` credential",
            connector.id()
        )));
    }
    Ok(())
}
