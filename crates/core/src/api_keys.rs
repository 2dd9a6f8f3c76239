//! Issuing, listing and revoking API keys.

use chrono::{DateTime, Utc};
use latch_store::{ApiKey, NewApiKey, NewAuditEvent, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope, generate_key, scopes_from_column, scopes_to_column};
use crate::error::CoreError;
use crate::input::{field_errors, normalized};
use crate::latch::Latch;

/// A new key and its record. The key itself exists only here and in the one response.
pub struct IssuedKey {
    pub record: ApiKey,
    pub key: SecretString,
}

/// Issues a key for an organisation. `actor` is the key that asked, when one did; a job key
/// is bound to one data source or destination.
pub async fn issue_api_key(
    store: &dyn Store,
    org_id: Uuid,
    name: &str,
    scopes: &[Scope],
    actor: Option<Uuid>,
    data_source_id: Option<Uuid>,
) -> Result<IssuedKey, CoreError> {
    let generated = generate_key()?;
    let id = Uuid::now_v7();
    let new = NewApiKey {
        id,
        org_id,
        name: name.to_string(),
        prefix: generated.prefix.clone(),
        hash: generated.hash,
        scopes: scopes_to_column(scopes),
        data_source_id,
    };
    let audit = NewAuditEvent {
        org_id: Some(org_id),
        actor_key_id: actor,
        action: AuditAction::ApiKeyCreated.into(),
        target_type: "api_key".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({
            "name": name,
            "prefix": generated.prefix,
            "scopes": new.scopes,
            "data_source_id": data_source_id,
        }),
    };
    let record = store.insert_api_key(&new, &audit).await?;
    Ok(IssuedKey {
        record,
        key: generated.key,
    })
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "etl runner", "scopes": ["credentials:read", "tokens:issue"]}))]
pub struct CreateApiKeyRequest {
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::plain_name")
    )]
    #[schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 128)]
    pub name: Option<String>,
    /// `admin`, `credentials:read`, `credentials:write`, `tokens:issue`.
    #[validate(
        required(message = "is required"),
        length(min = 1, message = "must name at least one scope")
    )]
    #[schema(value_type = Vec<Scope>, required = true, nullable = false, min_items = 1)]
    pub scopes: Option<Vec<Scope>>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The public start of the key, to recognise it.
    #[schema(example = "latch_4fQk2LmPz9Xa")]
    pub prefix: String,
    pub scopes: Vec<Scope>,
    /// For a job key: the data source or destination it is bound to.
    pub data_source_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            scopes: scopes_from_column(&key.scopes),
            data_source_id: key.data_source_id,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A key just created: the one time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The key. Store it now: Latch keeps only a digest and cannot show it again.
    #[schema(example = "latch_4fQk2LmPz9Xa_R2d9kQe7ZbW1xTn5YvHc3MjL8sPa0GfU")]
    pub key: String,
}

pub async fn create_api_key(
    store: &dyn Store,
    caller: &Caller,
    request: CreateApiKeyRequest,
) -> Result<CreatedApiKey, CoreError> {
    caller.require(Scope::Admin)?;
    let errors = field_errors(request.validate());
    let (Some(name), Some(mut scopes), true) = (request.name, request.scopes, errors.is_empty())
    else {
        return Err(CoreError::Validation(errors));
    };
    scopes.dedup();
    let issued = issue_api_key(
        store,
        caller.org_id,
        &name,
        &scopes,
        Some(caller.key_id),
        None,
    )
    .await?;
    Ok(CreatedApiKey {
        key: issued.key.expose_secret().to_string(),
        api_key: issued.record.into(),
    })
}

/// Revokes a key; this process refuses it from the next request on.
pub async fn revoke_api_key(state: &Latch, caller: &Caller, id: Uuid) -> Result<(), CoreError> {
    caller.require(Scope::Admin)?;
    let audit = NewAuditEvent {
        org_id: Some(caller.org_id),
        actor_key_id: Some(caller.key_id),
        action: AuditAction::ApiKeyRevoked.into(),
        target_type: "api_key".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({}),
    };
    match state
        .store
        .revoke_api_key(caller.org_id, id, None, &audit)
        .await
    {
        Ok(revoked) => {
            state.keys.forget(&revoked.prefix);
            Ok(())
        }
        Err(StoreError::NotFound) => Err(CoreError::no_such("live API key")),
        Err(error) => Err(error.into()),
    }
}
