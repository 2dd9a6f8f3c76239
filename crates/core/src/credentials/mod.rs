//! Credential use cases: create, test, validate, read, list, change and delete. Handlers call
//! these and render what they return; the request and response types are in [`types`].

mod checks;
mod health;
mod listing;
mod logins;
mod row;
mod types;

use checks::{checked_connection, settings_of_another_connector};
pub use health::{CredentialHealthView, HealthChangeView, RECENT_CHANGES, credential_health};
pub use listing::{CREDENTIAL_CURSOR_PATTERN, NAME_QUERY_PATTERN};
pub(crate) use logins::{Actor, measure};
use logins::{record, rejected, test_login};
pub(crate) use row::{NewRow, new_row};
pub use types::*;

use latch_connector::{
    Connector, FieldError, SecretFields, ValidationOutcome, ValidationStatus, rebound_fields,
};
use latch_store::{
    Credential, CredentialChanges, CredentialStatus, HealthCause, HealthReset, NewAuditEvent,
    StoreError, now,
};
use latch_vault::RecordContext;
use serde_json::{Value, json};
use uuid::Uuid;
use validator::Validate;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::catalogue::made_by_consent;
use crate::error::{CoreError, OutcomeView, UsedBy};
use crate::health::{Finding, Observation, observe};
use crate::input::{field_errors, one_more};
use crate::latch::Latch;
use crate::secrets::{open_with, seal_secrets};

/// A credential as the API shows it, with how many sources and destinations use it.
pub async fn view(state: &Latch, credential: Credential) -> Result<CredentialView, CoreError> {
    let mut usage = state
        .store
        .credential_usage(credential.org_id, &[credential.id])
        .await?;
    let used_by = usage.remove(&credential.id).unwrap_or_default();
    Ok(CredentialView::new(credential, used_by))
}

/// The caller's credential `id`, or 404.
async fn stored(state: &Latch, caller: &Caller, id: Uuid) -> Result<Credential, CoreError> {
    state
        .store
        .get_credential(caller.org_id, id)
        .await?
        .ok_or_else(credential_not_found)
}

fn credential_not_found() -> CoreError {
    CoreError::no_such("credential")
}

fn name_taken(name: &str) -> CoreError {
    CoreError::name_taken("a credential", name)
}

fn audit(caller: &Caller, action: AuditAction, id: Uuid, detail: Value) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(caller.org_id),
        actor_key_id: Some(caller.key_id),
        action: action.into(),
        target_type: "credential".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail,
    }
}

/// How a test login of new settings leaves a credential's health.
fn reset_by(outcome: &ValidationOutcome) -> HealthReset {
    HealthReset {
        status: match outcome.status {
            ValidationStatus::Valid => CredentialStatus::Valid,
            // Only a passing test login lets new settings be saved with `validate`.
            _ => CredentialStatus::Unverified,
        },
        status_detail: Some(outcome.detail.clone()),
        identity: outcome.identity.clone(),
        validated_at: Some(now()),
    }
}

fn outcome_detail(outcome: &ValidationOutcome, during: &str) -> Value {
    json!({"during": during, "status": outcome.status.as_str(), "detail": outcome.detail})
}

/// Saves a credential, after a test login unless `validate` is false. A credential the
/// upstream does not accept is refused and nothing is stored.
pub async fn create_credential(
    state: &Latch,
    caller: &Caller,
    request: CreateCredentialRequest,
    validate: bool,
) -> Result<Credential, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let mut errors = field_errors(request.validate());
    let checked = checked_connection(
        state,
        request.connector.as_deref(),
        request.auth_method.as_deref(),
        request.config.as_ref(),
        request.secrets.as_ref(),
        &mut errors,
    );
    let (Some(name), Some((connector, config, secrets)), true) =
        (request.name, checked, errors.is_empty())
    else {
        return Err(CoreError::Validation(errors));
    };

    let id = Uuid::now_v7();
    let mut verdict = CredentialChanges {
        name: name.clone(),
        description: request.description.filter(|text| !text.is_empty()),
        config: Value::Object(config),
        secret_ct: Vec::new(),
        secret_nonce: Vec::new(),
        health: None,
    };
    let mut created_detail = json!({"name": name, "connector": connector.id()});
    if validate {
        let config = verdict.config.as_object().cloned().unwrap_or_default();
        let outcome =
            test_login(state, Actor::of(caller), connector, &config, &secrets, None).await;
        if outcome.status != ValidationStatus::Valid {
            return Err(rejected(state, caller, None, &outcome, "create", &name).await);
        }
        verdict.health = Some(reset_by(&outcome));
        created_detail["validation"] = outcome_detail(&outcome, "create");
    }

    let row = NewRow {
        id,
        org_id: caller.org_id,
        connector: connector.id(),
        fields: verdict,
        oauth_app_id: None,
        auth_method: connector
            .typed_method()
            .ok_or_else(|| CoreError::internal("a connector without a typed method"))?,
    };
    let (new, _) = new_row(state, row, &secrets)?;
    let event = audit(caller, AuditAction::CredentialCreated, id, created_detail);
    match state.store.insert_credential(&new, &event).await {
        Err(StoreError::Conflict) => Err(name_taken(&name)),
        other => Ok(other?),
    }
}

/// Tries an unsaved credential; stores nothing but the audit event.
pub async fn test_credential(
    state: &Latch,
    caller: &Caller,
    request: TestCredentialRequest,
) -> Result<OutcomeView, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let mut errors = Vec::new();
    let checked = checked_connection(
        state,
        request.connector.as_deref(),
        request.auth_method.as_deref(),
        request.config.as_ref(),
        request.secrets.as_ref(),
        &mut errors,
    );
    let (Some((connector, config, secrets)), true) = (checked, errors.is_empty()) else {
        return Err(CoreError::Validation(errors));
    };
    let outcome = test_login(state, Actor::of(caller), connector, &config, &secrets, None).await;
    record(
        state,
        NewAuditEvent {
            org_id: Some(caller.org_id),
            actor_key_id: Some(caller.key_id),
            action: AuditAction::CredentialTested.into(),
            target_type: "credential".into(),
            target_id: None,
            outcome: AuditOutcome::of(outcome.status == ValidationStatus::Valid).into(),
            detail: outcome_detail(&outcome, "test"),
        },
    )
    .await;
    Ok((&outcome).into())
}

/// Test-logs-in with a saved credential now and stores what it found.
pub async fn validate_credential(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<Credential, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let current = stored(state, caller, id).await?;
    let outcome = measure(state, &current, Actor::of(caller)).await?;
    let mut event = audit(
        caller,
        AuditAction::CredentialValidated,
        id,
        outcome_detail(&outcome, "validate"),
    );
    if outcome.status != ValidationStatus::Valid {
        event.outcome = AuditOutcome::Failure.into();
    }
    // Health, not an edit: the version and ETag hold, and so does the cached token.
    let observation = Observation {
        finding: Finding::of(&outcome),
        cause: HealthCause::Validated,
        at: now(),
        audit: Some(event),
    };
    let policy = state.broker.health_policy();
    match observe(&*state.store, policy, &current, observation, None).await? {
        Some((updated, _)) => {
            if outcome.status == ValidationStatus::Valid {
                // A refusal the broker remembers is over.
                state.broker.recovered(id);
            }
            Ok(updated)
        }
        None => match state.store.get_credential(caller.org_id, id).await? {
            None => Err(credential_not_found()),
            Some(now) => Err(CoreError::Conflict(format!(
                "the credential changed during the test login (now version {}); retry",
                now.version
            ))),
        },
    }
}

pub async fn get_credential(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<Credential, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    stored(state, caller, id).await
}

pub async fn list_credentials(
    state: &Latch,
    caller: &Caller,
    query: ListCredentialsQuery,
) -> Result<CredentialList, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    state.catalogue.check_filter(query.connector.as_deref())?;
    let (filter, page) = listing::filter_and_page(query)?;
    let rows = state
        .store
        .list_credentials(caller.org_id, &filter, one_more(page))
        .await?;
    let (rows, next_cursor) = listing::paginate(rows, page, filter.order);
    let ids: Vec<Uuid> = rows.iter().map(|credential| credential.id).collect();
    let mut usage = state.store.credential_usage(caller.org_id, &ids).await?;
    Ok(CredentialList {
        items: rows
            .into_iter()
            .map(|credential| {
                let used_by = usage.remove(&credential.id).unwrap_or_default();
                CredentialView::new(credential, used_by)
            })
            .collect(),
        next_cursor,
    })
}

pub async fn update_credential(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
    request: UpdateCredentialRequest,
    validate: bool,
) -> Result<Credential, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let current = stored(state, caller, id).await?;
    CoreError::check_version("credential", current.version, if_match)?;
    let connector = state.secrets.connector_of(&current)?;
    if made_by_consent(&current) && (request.config.is_some() || request.secrets.is_some()) {
        // Its tokens were granted for the settings it has: new ones need a new consent.
        let field = if request.config.is_some() {
            "config"
        } else {
            "secrets"
        };
        return Err(CoreError::Validation(vec![FieldError::new(
            field,
            "an OAuth credential's settings change only by connecting it again, which asks \
             for a new consent: send them to POST /v1/credentials/{id}/reconnect",
        )]));
    }

    settings_of_another_connector(state, connector, &request)?;
    let mut errors = field_errors(request.validate());
    let mut changes = current.changes();
    let mut changed: Vec<&str> = Vec::new();
    if let Some(name) = request.name {
        changes.name = name;
        changed.push("name");
    }
    if let Some(description) = request.description {
        changes.description = Some(description).filter(|text| !text.is_empty());
        changed.push("description");
    }
    if let Some(partial) = request.config {
        match merged_config(&current.config, partial) {
            Ok(merged) => match connector.validate_config(&merged, state.policy) {
                Ok(config) => {
                    changes.config = Value::Object(config);
                    changed.push("config");
                }
                Err(problems) => errors.extend(problems),
            },
            Err(problem) => errors.push(problem),
        }
    }
    if request.secrets.is_none()
        && let Some(config) = changes.config.as_object()
    {
        let stored = current.config.as_object().cloned().unwrap_or_default();
        let rebound = rebound_fields(connector.config_fields(), &stored, config);
        if !rebound.is_empty() {
            errors.extend(secrets_required_again(connector, &rebound));
        }
    }
    let mut new_secrets = None;
    if let Some(secrets) = request.secrets {
        match connector.validate_secrets(&secrets, state.policy) {
            Ok(secrets) => {
                new_secrets = Some(SecretFields::new(secrets));
                changed.push("secrets");
            }
            Err(problems) => errors.extend(problems),
        }
    }
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    if changed.is_empty() {
        return Err(CoreError::invalid_field(
            "body",
            "send at least one of `name`, `description`, `config`, `secrets`",
        ));
    }
    let mut detail = json!({"changed": changed, "from_version": current.version});
    let settings_changed = changed.contains(&"config") || changed.contains(&"secrets");
    if settings_changed {
        let data_key = state.secrets.data_key_of(&current)?;
        let context = RecordContext::new(current.org_id, current.id);
        let secrets = match new_secrets {
            Some(secrets) => {
                let sealed = seal_secrets(&data_key, &context, &secrets)?;
                changes.secret_ct = sealed.ciphertext;
                changes.secret_nonce = sealed.nonce;
                secrets
            }
            None => open_with(&data_key, &context, &current)?,
        };
        if validate {
            let config = changes.config.as_object().cloned().unwrap_or_default();
            let outcome = test_login(
                state,
                Actor::of(caller),
                connector,
                &config,
                &secrets,
                Some(id),
            )
            .await;
            if outcome.status != ValidationStatus::Valid {
                return Err(
                    rejected(state, caller, Some(id), &outcome, "update", &changes.name).await,
                );
            }
            changes.health = Some(reset_by(&outcome));
            detail["validation"] = outcome_detail(&outcome, "update");
        } else {
            // What was proven about the old settings says nothing about the new ones.
            changes.health = Some(HealthReset {
                status: CredentialStatus::Unverified,
                status_detail: None,
                identity: None,
                validated_at: None,
            });
        }
    }

    let event = audit(caller, AuditAction::CredentialUpdated, id, detail);
    let obsolete = match settings_changed {
        true => Some(state.broker.tokens_of(&current).await),
        false => None,
    };
    match state
        .store
        .update_credential(caller.org_id, id, current.version, &changes, &event)
        .await
    {
        Ok(updated) => {
            if let Some(obsolete) = obsolete {
                state.broker.retire(&current, obsolete);
            }
            Ok(updated)
        }
        Err(StoreError::Conflict) => Err(name_taken(&changes.name)),
        Err(StoreError::NotFound) => Err(credential_not_found()),
        Err(StoreError::VersionMismatch { current }) => Err(CoreError::changed_meanwhile(
            "credential",
            current,
            if_match,
        )),
        Err(error) => Err(error.into()),
    }
}

/// The errors for a change of `rebound` config fields that came without the secrets: a stored
/// secret is only ever sent where it was given for, so a new destination needs it again.
fn secrets_required_again(connector: &dyn Connector, rebound: &[&str]) -> Vec<FieldError> {
    let fields = rebound
        .iter()
        .map(|name| format!("`config.{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    connector
        .secret_fields()
        .iter()
        .map(|spec| {
            FieldError::new(
                format!("secrets.{}", spec.name),
                format!(
                    "must be sent again when {fields} changes: a stored secret is only sent \
                     to the host it was saved for"
                ),
            )
        })
        .collect()
}

/// Stored config with the sent keys replaced.
fn merged_config(stored: &Value, partial: Value) -> Result<Value, FieldError> {
    let Value::Object(partial) = partial else {
        return Err(FieldError::new("config", "must be a JSON object"));
    };
    let mut merged = stored.as_object().cloned().unwrap_or_default();
    merged.extend(partial);
    Ok(Value::Object(merged))
}

pub async fn delete_credential(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<(), CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let current = stored(state, caller, id).await?;
    let users = state.store.data_sources_using(caller.org_id, id).await?;
    if !users.is_empty() {
        return Err(CoreError::InUse {
            detail: format!(
                "the credential is used by {} data source(s) and destination(s); point them \
                 to another credential or delete them first",
                users.len()
            ),
            used_by: users.iter().map(UsedBy::from).collect(),
        });
    }
    // Read before the row (and the data key that opens them) is gone.
    let obsolete = state.broker.tokens_of(&current).await;
    let event = audit(
        caller,
        AuditAction::CredentialDeleted,
        id,
        json!({"name": current.name}),
    );
    match state
        .store
        .delete_credential(caller.org_id, id, if_match, &event)
        .await
    {
        Ok(()) => {
            state.broker.retire(&current, obsolete);
            Ok(())
        }
        Err(StoreError::NotFound) => Err(credential_not_found()),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::stale_version("credential", current))
        }
        // A source selected it between the check and the delete: the database refused.
        Err(StoreError::InUse) => Err(CoreError::InUse {
            detail: "the credential was selected by a data source meanwhile".into(),
            used_by: Vec::new(),
        }),
        Err(error) => Err(error.into()),
    }
}
