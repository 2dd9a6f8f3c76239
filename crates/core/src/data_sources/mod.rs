//! Data sources and destinations: created by selecting a saved credential; their jobs get the
//! credential's tokens through job keys bound to them. The request and response types are in
//! [`types`].

mod types;

pub use types::*;

use latch_connector::FieldError;
use latch_store::{
    Credential, CredentialStatus, DataSource, DataSourceChanges, DataSourceFilter, DataSourceKind,
    NewAuditEvent, NewDataSource, StoreError,
};
use serde_json::{Value, json};
use uuid::Uuid;
use validator::Validate;

use crate::api_keys::{ApiKeyView, CreatedApiKey, issue_api_key};
use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::input::{field_errors, one_more, paginate};
use crate::latch::Latch;
use crate::tokens::{TokenRequest, TokenResponse, issue_token};

fn noun(kind: DataSourceKind) -> &'static str {
    match kind {
        DataSourceKind::Source => "data source",
        DataSourceKind::Destination => "data destination",
    }
}

/// The caller's data source `id` of `kind`, or 404.
async fn stored(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
) -> Result<DataSource, CoreError> {
    state
        .store
        .get_data_source(caller.org_id, kind, id)
        .await?
        .ok_or_else(|| not_found(kind))
}

fn not_found(kind: DataSourceKind) -> CoreError {
    CoreError::no_such(noun(kind))
}

fn name_taken(kind: DataSourceKind, name: &str) -> CoreError {
    CoreError::name_taken(&format!("a {}", noun(kind)), name)
}

fn audit(
    caller: &Caller,
    action: AuditAction,
    kind: DataSourceKind,
    id: Uuid,
    detail: Value,
) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(caller.org_id),
        actor_key_id: Some(caller.key_id),
        action: action.into(),
        target_type: format!("data_{}", kind.as_str()),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail,
    }
}

/// What happened to a source or a destination.
#[derive(Clone, Copy)]
enum Change {
    Created,
    Updated,
    Deleted,
}

fn action(kind: DataSourceKind, change: Change) -> AuditAction {
    match (kind, change) {
        (DataSourceKind::Source, Change::Created) => AuditAction::DataSourceCreated,
        (DataSourceKind::Source, Change::Updated) => AuditAction::DataSourceUpdated,
        (DataSourceKind::Source, Change::Deleted) => AuditAction::DataSourceDeleted,
        (DataSourceKind::Destination, Change::Created) => AuditAction::DataDestinationCreated,
        (DataSourceKind::Destination, Change::Updated) => AuditAction::DataDestinationUpdated,
        (DataSourceKind::Destination, Change::Deleted) => AuditAction::DataDestinationDeleted,
    }
}

/// The credential a source selects, checked: in the caller's org (another org's is as
/// missing), of the source's connector. An invalid one is accepted with a warning.
async fn selected_credential(
    state: &Latch,
    caller: &Caller,
    credential_id: Uuid,
    connector: &str,
    errors: &mut Vec<FieldError>,
    warnings: &mut Vec<String>,
) -> Result<Option<Credential>, CoreError> {
    let Some(credential) = state
        .store
        .get_credential(caller.org_id, credential_id)
        .await?
    else {
        errors.push(FieldError::new(
            "credential_id",
            "no credential with this id in your organization",
        ));
        return Ok(None);
    };
    // The request would do for another credential: it conflicts with this one's state.
    if credential.connector != connector {
        return Err(CoreError::Conflict(format!(
            "`credential_id` is a `{}` credential; this one must be a `{connector}` credential",
            credential.connector
        )));
    }
    if credential.status == CredentialStatus::Invalid {
        warnings.push(format!(
            "the selected credential is marked invalid ({}): jobs will get no token until it \
             is rotated or validated again",
            credential
                .status_detail
                .as_deref()
                .unwrap_or("the upstream refused it")
        ));
    }
    Ok(Some(credential))
}

pub async fn create_data_source(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    request: CreateDataSourceRequest,
) -> Result<DataSourceView, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let mut errors = field_errors(request.validate());
    let mut warnings = Vec::new();
    let connector = state
        .catalogue
        .named(request.connector.as_deref(), &mut errors);
    let config = request.config.unwrap_or_else(|| json!({}));
    if let Some(connector) = connector
        && let Err(problem) = connector.validate_data_source_config(&config)
    {
        errors.push(problem);
    }
    let credential = match (request.credential_id, connector) {
        (None, _) => {
            errors.push(FieldError::new("credential_id", "is required"));
            None
        }
        (Some(id), Some(connector)) => {
            selected_credential(
                state,
                caller,
                id,
                connector.id(),
                &mut errors,
                &mut warnings,
            )
            .await?
        }
        (Some(_), None) => None,
    };
    let (Some(name), Some(connector), Some(credential), true) =
        (request.name, connector, credential, errors.is_empty())
    else {
        return Err(CoreError::Validation(errors));
    };
    let new = NewDataSource {
        id: Uuid::now_v7(),
        org_id: caller.org_id,
        kind,
        name: name.clone(),
        description: request.description.filter(|text| !text.is_empty()),
        connector: connector.id().to_string(),
        credential_id: credential.id,
        config,
    };
    let event = audit(
        caller,
        action(kind, Change::Created),
        kind,
        new.id,
        json!({"name": name, "credential_id": credential.id}),
    );
    match state.store.insert_data_source(&new, &event).await {
        Ok(source) => Ok(DataSourceView::new(source, warnings)),
        Err(StoreError::Conflict) => Err(name_taken(kind, &name)),
        Err(StoreError::NotFound) => Err(CoreError::invalid_field(
            "credential_id",
            "the credential was deleted meanwhile",
        )),
        Err(error) => Err(error.into()),
    }
}

pub async fn get_data_source(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
) -> Result<DataSource, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    stored(state, caller, kind, id).await
}

pub async fn list_data_sources(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    query: ListDataSourcesQuery,
) -> Result<DataSourceList, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    let page = crate::input::page(query.limit.as_deref(), query.cursor.as_deref())?;
    state.catalogue.check_filter(query.connector.as_deref())?;
    let credential_id = query
        .credential_id
        .as_deref()
        .map(|text| {
            text.parse::<Uuid>()
                .map_err(|_| CoreError::bad_request("credential_id", "is not a UUID"))
        })
        .transpose()?;
    let filter = DataSourceFilter {
        connector: query.connector,
        credential_id,
    };
    let rows = state
        .store
        .list_data_sources(caller.org_id, kind, &filter, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |source| source.id);
    Ok(DataSourceList {
        items: rows
            .into_iter()
            .map(|source| DataSourceView::new(source, Vec::new()))
            .collect(),
        next_cursor,
    })
}

pub async fn update_data_source(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
    if_match: Option<i64>,
    request: UpdateDataSourceRequest,
) -> Result<DataSourceView, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let current = stored(state, caller, kind, id).await?;
    CoreError::check_version(noun(kind), current.version, if_match)?;
    let mut errors = field_errors(request.validate());
    let mut warnings = Vec::new();
    let mut changes: DataSourceChanges = current.changes();
    let mut changed = Vec::new();
    if let Some(name) = request.name {
        changes.name = name;
        changed.push("name");
    }
    if let Some(description) = request.description {
        changes.description = Some(description).filter(|text| !text.is_empty());
        changed.push("description");
    }
    if let Some(config) = request.config {
        if let Some(connector) = state.catalogue.get(&current.connector)
            && let Err(problem) = connector.validate_data_source_config(&config)
        {
            errors.push(problem);
        }
        changes.config = config;
        changed.push("config");
    }
    if let Some(credential_id) = request.credential_id {
        let selected = selected_credential(
            state,
            caller,
            credential_id,
            &current.connector,
            &mut errors,
            &mut warnings,
        )
        .await?;
        if let Some(credential) = selected {
            changes.credential_id = credential.id;
            changed.push("credential_id");
        }
    }
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    if changed.is_empty() {
        return Err(CoreError::invalid_field(
            "body",
            "send at least one of `name`, `description`, `credential_id`, `config`",
        ));
    }
    let event = audit(
        caller,
        action(kind, Change::Updated),
        kind,
        id,
        json!({"changed": changed, "from_version": current.version, "credential_id": changes.credential_id}),
    );
    match state
        .store
        .update_data_source(caller.org_id, kind, id, current.version, &changes, &event)
        .await
    {
        Ok(source) => {
            state.sources.forget(id);
            Ok(DataSourceView::new(source, warnings))
        }
        Err(StoreError::Conflict) => Err(name_taken(kind, &changes.name)),
        Err(StoreError::NotFound) => Err(not_found(kind)),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::changed_meanwhile(noun(kind), current, if_match))
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes a data source; the job keys bound to it are revoked in the same transaction.
pub async fn delete_data_source(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<(), CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let event = audit(caller, action(kind, Change::Deleted), kind, id, json!({}));
    match state
        .store
        .delete_data_source(caller.org_id, kind, id, if_match, &event)
        .await
    {
        Ok(revoked) => {
            state.sources.forget(id);
            // Revoked in the store; this process also stops accepting them at once.
            for prefix in revoked {
                state.keys.forget(&prefix);
            }
            Ok(())
        }
        Err(StoreError::NotFound) => Err(not_found(kind)),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::stale_version(noun(kind), current))
        }
        Err(error) => Err(error.into()),
    }
}

/// A key for the jobs of one data source: `tokens:issue`, good for that source's token only.
pub async fn create_job_key(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
    request: CreateJobKeyRequest,
) -> Result<CreatedApiKey, CoreError> {
    caller.require(Scope::Admin)?;
    let errors = field_errors(request.validate());
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    let source = stored(state, caller, kind, id).await?;
    let name = request
        .name
        .unwrap_or_else(|| format!("jobs of {}", source.name));
    let issued = issue_api_key(
        state.store.as_ref(),
        caller.org_id,
        &name,
        &[Scope::TokensIssue],
        Some(caller.key_id),
        Some(source.id),
    )
    .await?;
    Ok(CreatedApiKey {
        key: latch_vault::ExposeSecret::expose_secret(&issued.key).to_string(),
        api_key: ApiKeyView::from(issued.record),
    })
}

/// The job keys of one data source, revoked ones too, for a caller that may change it.
pub async fn list_job_keys(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<(Vec<ApiKeyView>, Option<String>), CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let page = crate::input::page(limit, cursor)?;
    let source = stored(state, caller, kind, id).await?;
    let rows = state
        .store
        .list_job_keys(caller.org_id, source.id, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |key| key.id);
    Ok((
        rows.into_iter().map(ApiKeyView::from).collect(),
        next_cursor,
    ))
}

/// Revokes one job key of a data source; a key of any other is answered 404, as if it did
/// not exist.
pub async fn revoke_job_key(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
    key_id: Uuid,
) -> Result<(), CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let source = stored(state, caller, kind, id).await?;
    let event = NewAuditEvent {
        org_id: Some(caller.org_id),
        actor_key_id: Some(caller.key_id),
        action: AuditAction::ApiKeyRevoked.into(),
        target_type: "api_key".into(),
        target_id: Some(key_id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({"data_source_id": source.id, "kind": kind.as_str()}),
    };
    match state
        .store
        .revoke_api_key(caller.org_id, key_id, Some(source.id), &event)
        .await
    {
        Ok(revoked) => {
            state.keys.forget(&revoked.prefix);
            Ok(())
        }
        Err(StoreError::NotFound) => Err(CoreError::no_such("live job key")),
        Err(error) => Err(error.into()),
    }
}

/// The token of the credential a data source uses now.
pub async fn source_token(
    state: &Latch,
    caller: &Caller,
    kind: DataSourceKind,
    id: Uuid,
    request: TokenRequest,
) -> Result<TokenResponse, CoreError> {
    caller.require(Scope::TokensIssue)?;
    let credential_id = state
        .sources
        .credential_of(state.store.as_ref(), caller.org_id, kind, id)
        .await?
        .ok_or_else(|| not_found(kind))?;
    issue_token(state, caller, credential_id, request).await
}
