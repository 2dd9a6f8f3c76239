//! OAuth apps: the client app an admin of one organization registers at an upstream, with a
//! redirect URI that names it (`{LATCH_PUBLIC_URL}/v1/oauth/callback/{id}`). The upstream
//! redirects a consent only to the URI registered for its client, so a consent through the app
//! can only come back to this app, and so only land in this organization. Connect sessions
//! and credentials made by consent name their app; the settings that decide where codes and
//! tokens go belong to the app, which only an admin writes. The request and response types are
//! in [`types`].

mod types;

pub use types::*;

use latch_connector::oauth::OAuthFlow;
use latch_connector::{Connector, FieldError, Fields, SecretFields, check_section, rebound_fields};
use latch_store::{NewAuditEvent, NewOAuthApp, OAuthApp, OAuthAppChanges, StoreError};
use serde_json::{Value, json};
use uuid::Uuid;
use validator::Validate;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::input::{field_errors, one_more, paginate};
use crate::latch::Latch;
use crate::oauth_settings::app_redirect_uri;

fn not_found() -> CoreError {
    CoreError::no_such("OAuth app")
}

fn name_taken(name: &str) -> CoreError {
    CoreError::name_taken("an OAuth app", name)
}

fn audit(caller: &Caller, action: AuditAction, id: Uuid, detail: Value) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(caller.org_id),
        actor_key_id: Some(caller.key_id),
        action: action.into(),
        target_type: "oauth_app".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail,
    }
}

/// The redirect URI the upstream's admin registers for `app`.
pub fn redirect_uri(state: &Latch, app: &OAuthApp) -> String {
    app_redirect_uri(&state.oauth.redirect_uri, app)
}

fn view(state: &Latch, app: OAuthApp) -> OAuthAppView {
    OAuthAppView {
        redirect_uri: redirect_uri(state, &app),
        id: app.id,
        name: app.name,
        description: app.description,
        connector: app.connector,
        config: app.config,
        shared_redirect_uri: app.shared_redirect,
        created_at: app.created_at,
        updated_at: app.updated_at,
        version: app.version,
    }
}

/// The OAuth side of a connector, or a field error saying it has none.
pub(crate) fn flow_of<'a>(
    connector: &'a dyn Connector,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a dyn OAuthFlow> {
    let flow = connector.oauth();
    if flow.is_none() {
        errors.push(FieldError::new(
            field,
            format!("the {} connector offers no OAuth consent", connector.id()),
        ));
    }
    flow
}

/// An app's settings, checked and normalised as the connector's OAuth method defines them.
pub(crate) fn checked_settings(
    state: &Latch,
    flow: &dyn OAuthFlow,
    config: &Value,
    errors: &mut Vec<FieldError>,
) -> Option<Fields> {
    check_section("config", flow.config_fields(), config, state.policy)
        .and_then(|fields| flow.normalize_config(fields))
        .map_err(|mut problems| errors.append(&mut problems))
        .ok()
}

/// An app's secrets, checked as the connector's OAuth method defines them. A connector whose
/// apps have no secret (a public client, such as Looker's) takes only an empty object or
/// nothing.
pub(crate) fn checked_secrets(
    state: &Latch,
    connector: &dyn Connector,
    flow: &dyn OAuthFlow,
    secrets: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<SecretFields> {
    let fields = flow.secret_fields();
    if fields.is_empty() {
        match secrets {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) if given.is_empty() => {}
            Some(Value::Object(given)) => {
                for name in given.keys() {
                    errors.push(FieldError::new(
                        format!("secrets.{name}"),
                        format!(
                            "is not a secret of a {} OAuth app: its apps have no client secret",
                            connector.id()
                        ),
                    ));
                }
            }
            Some(_) => errors.push(FieldError::new("secrets", "must be a JSON object")),
        }
        return None;
    }
    let Some(secrets) = secrets.filter(|value| !value.is_null()) else {
        errors.push(FieldError::new(
            "secrets",
            format!(
                "is required: a {} OAuth app has a client secret",
                connector.id()
            ),
        ));
        return None;
    };
    check_section("secrets", fields, secrets, state.policy)
        .map(SecretFields::new)
        .map_err(|mut problems| errors.append(&mut problems))
        .ok()
}

/// One of the caller's apps, or `None`.
pub(crate) async fn app_of(
    state: &Latch,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<OAuthApp>, CoreError> {
    Ok(state.store.get_oauth_app(org_id, id).await?)
}

/// Whether an app still on the shared redirect URI may take consents: only while no other
/// organization has an app for the same upstream client, since the shared URI cannot tell
/// organizations apart.
pub(crate) async fn shared_redirect_is_unambiguous(
    state: &Latch,
    app: &OAuthApp,
    flow: &dyn OAuthFlow,
) -> Result<bool, CoreError> {
    let client =
        |config: &Value| flow.upstream_client(&config.as_object().cloned().unwrap_or_default());
    let ours = client(&app.config);
    let others = state.store.oauth_apps_of_connector(&app.connector).await?;
    Ok(!others
        .iter()
        .any(|other| other.org_id != app.org_id && client(&other.config) == ours))
}

pub async fn create_oauth_app(
    state: &Latch,
    caller: &Caller,
    request: CreateOAuthAppRequest,
) -> Result<OAuthAppView, CoreError> {
    caller.require(Scope::Admin)?;
    let mut errors = field_errors(request.validate());
    let connector = state
        .catalogue
        .named(request.connector.as_deref(), &mut errors);
    let flow = connector.and_then(|connector| flow_of(connector, "connector", &mut errors));
    let config = match (flow, &request.config) {
        (_, None) => {
            errors.push(FieldError::new("config", "is required"));
            None
        }
        (None, Some(_)) => None,
        (Some(flow), Some(config)) => checked_settings(state, flow, config, &mut errors),
    };
    let secrets = match (connector, flow) {
        (Some(connector), Some(flow)) => checked_secrets(
            state,
            connector,
            flow,
            request.secrets.as_ref(),
            &mut errors,
        ),
        _ => None,
    };
    let (Some(name), Some(connector), Some(config), true) =
        (request.name, connector, config, errors.is_empty())
    else {
        return Err(CoreError::Validation(errors));
    };
    let id = Uuid::now_v7();
    let new = NewOAuthApp {
        id,
        org_id: caller.org_id,
        connector: connector.id().to_string(),
        name: name.clone(),
        description: request.description.filter(|text| !text.is_empty()),
        config: Value::Object(config),
        secrets: secrets
            .map(|secrets| state.secrets.seal_record(caller.org_id, id, &secrets))
            .transpose()?,
    };
    let event = audit(
        caller,
        AuditAction::OAuthAppCreated,
        new.id,
        json!({"name": name, "connector": new.connector, "config": new.config}),
    );
    match state.store.insert_oauth_app(&new, &event).await {
        Ok(app) => Ok(view(state, app)),
        Err(StoreError::Conflict) => Err(name_taken(&name)),
        Err(error) => Err(error.into()),
    }
}

pub async fn get_oauth_app(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<OAuthAppView, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    let app = app_of(state, caller.org_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(view(state, app))
}

pub async fn list_oauth_apps(
    state: &Latch,
    caller: &Caller,
    query: ListOAuthAppsQuery,
) -> Result<OAuthAppList, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    let page = crate::input::page(query.limit.as_deref(), query.cursor.as_deref())?;
    state.catalogue.check_filter(query.connector.as_deref())?;
    let rows = state
        .store
        .list_oauth_apps(caller.org_id, query.connector.as_deref(), one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |app| app.id);
    Ok(OAuthAppList {
        items: rows.into_iter().map(|app| view(state, app)).collect(),
        next_cursor,
    })
}

/// The credentials made through an app, as a refusal names them.
async fn users_of(state: &Latch, caller: &Caller, id: Uuid) -> Result<String, CoreError> {
    let users = state
        .store
        .credentials_using_oauth_app(caller.org_id, id)
        .await?;
    Ok(users
        .iter()
        .map(|(id, name)| format!("`{name}` ({id})"))
        .collect::<Vec<_>>()
        .join(", "))
}

pub async fn update_oauth_app(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
    request: UpdateOAuthAppRequest,
) -> Result<OAuthAppView, CoreError> {
    caller.require(Scope::Admin)?;
    let current = app_of(state, caller.org_id, id)
        .await?
        .ok_or_else(not_found)?;
    CoreError::check_version("OAuth app", current.version, if_match)?;
    let mut errors = field_errors(request.validate());
    let mut changes = OAuthAppChanges {
        name: current.name.clone(),
        description: current.description.clone(),
        config: current.config.clone(),
        shared_redirect: current.shared_redirect,
        secrets: None,
    };
    let mut changed = Vec::new();
    if let Some(name) = request.name {
        changes.name = name;
        changed.push("name");
    }
    if let Some(description) = request.description {
        changes.description = Some(description).filter(|text| !text.is_empty());
        changed.push("description");
    }
    let connector = state.catalogue.get(&current.connector);
    if let Some(connector) = connector {
        let config_elsewhere = request.config.as_ref().and_then(|config| {
            state
                .catalogue
                .fits_another(connector, config, true, |connector| {
                    connector.oauth().map(|flow| flow.config_fields())
                })
        });
        let secrets_elsewhere = request.secrets.as_ref().and_then(|secrets| {
            state
                .catalogue
                .fits_another(connector, secrets, true, |connector| {
                    connector.oauth().map(|flow| flow.secret_fields())
                })
        });
        if let Some(other) = config_elsewhere.or(secrets_elsewhere) {
            return Err(CoreError::Conflict(format!(
                "these are settings of a {other} OAuth app; this one is a `{}` app",
                connector.id()
            )));
        }
    }
    if let Some(config) = &request.config {
        let flow = connector.and_then(|connector| flow_of(connector, "config", &mut errors));
        if let Some(fields) =
            flow.and_then(|flow| checked_settings(state, flow, config, &mut errors))
        {
            changes.config = Value::Object(fields);
            changed.push("config");
        }
    }
    if request.secrets.is_some() {
        let flow = connector.and_then(|connector| flow_of(connector, "secrets", &mut errors));
        if let (Some(connector), Some(flow)) = (connector, flow)
            && let Some(secrets) = checked_secrets(
                state,
                connector,
                flow,
                request.secrets.as_ref(),
                &mut errors,
            )
        {
            changes.secrets = Some(state.secrets.seal_record(caller.org_id, id, &secrets)?);
        }
        changed.push("secrets");
    }
    // A stored secret is only sent where it was given for: a change of a setting that
    // decides where it goes brings the secret again.
    if let Some(flow) = connector.and_then(|connector| connector.oauth())
        && !flow.secret_fields().is_empty()
        && request.secrets.is_none()
    {
        let stored = current.config.as_object().cloned().unwrap_or_default();
        let new = changes.config.as_object().cloned().unwrap_or_default();
        let rebound = rebound_fields(flow.config_fields(), &stored, &new);
        if !rebound.is_empty() {
            errors.push(FieldError::new(
                "secrets",
                format!(
                    "must be sent again when {} changes: a stored secret is only sent where \
                     it was given for",
                    rebound
                        .iter()
                        .map(|name| format!("`config.{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    match request.shared_redirect_uri {
        Some(false) => {
            changes.shared_redirect = false;
            changed.push("shared_redirect_uri");
        }
        Some(true) if !current.shared_redirect => errors.push(FieldError::new(
            "shared_redirect_uri",
            "only apps made from credentials that predate apps use the shared redirect URI; \
             an app never moves back to it",
        )),
        Some(true) => changed.push("shared_redirect_uri"),
        None => {}
    }
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    if changed.is_empty() {
        return Err(CoreError::invalid_field(
            "body",
            "send at least one of `name`, `description`, `config`, `secrets`, `shared_redirect_uri`",
        ));
    }
    if changes.config != current.config {
        let users = users_of(state, caller, id).await?;
        if !users.is_empty() {
            return Err(CoreError::Conflict(format!(
                "the settings decide where codes and tokens go and cannot change while \
                 credentials were made through the app: {users}; register a new app instead"
            )));
        }
    }
    let event = audit(
        caller,
        AuditAction::OAuthAppUpdated,
        id,
        json!({"changed": changed, "from_version": current.version, "config": changes.config}),
    );
    match state
        .store
        .update_oauth_app(caller.org_id, id, current.version, &changes, &event)
        .await
    {
        Ok(app) => Ok(view(state, app)),
        Err(StoreError::Conflict) => Err(name_taken(&changes.name)),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::changed_meanwhile("OAuth app", current, if_match))
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes an app no credential was made through (409 naming them otherwise); its pending
/// connect sessions go with it.
pub async fn delete_oauth_app(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<(), CoreError> {
    caller.require(Scope::Admin)?;
    let event = audit(caller, AuditAction::OAuthAppDeleted, id, json!({}));
    match state
        .store
        .delete_oauth_app(caller.org_id, id, if_match, &event)
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(StoreError::InUse) => Err(CoreError::Conflict(format!(
            "credentials were made through this OAuth app: {}; delete them or reconnect them \
             through another app first",
            users_of(state, caller, id).await?
        ))),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::stale_version("OAuth app", current))
        }
        Err(error) => Err(error.into()),
    }
}
