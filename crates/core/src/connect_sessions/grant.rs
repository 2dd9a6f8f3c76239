//! Saving what a consent gave: a new credential with its first tokens, or an existing
//! credential's new grant, each in one transaction with the session's completion.

use std::time::Duration;

use latch_connector::oauth::OAuthGrant;
use latch_connector::{AuthMethod, Fields, SecretFields};
use latch_store::{
    ConnectSession, Credential, CredentialChanges, CredentialStatus, HealthReset, NewAuditEvent,
    NewCredential, NewGrantTokens, StoreError, now,
};
use latch_vault::{DataKey, Purpose, RecordContext};
use serde_json::{Value, json};
use uuid::Uuid;

use super::failure::CallbackError;
use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::credentials::{NewRow, new_row};
use crate::error::CoreError;
use crate::latch::Latch;
use crate::secrets::seal_text;

/// A consent's grant, and how long its access token lives.
pub(super) struct Granted {
    pub grant: OAuthGrant,
    pub lifetime: Duration,
}

/// Saves the session's new credential (no secrets to seal: the grant's tokens are Latch's
/// to keep) and its first tokens.
pub(super) async fn save(
    state: &Latch,
    session: &ConnectSession,
    grant: &Granted,
    detail: &str,
    identity: Option<Value>,
) -> Result<Credential, CallbackError> {
    let id = Uuid::now_v7();
    let row = NewRow {
        id,
        org_id: session.org_id,
        connector: &session.connector,
        fields: CredentialChanges {
            name: session.name.clone(),
            description: session.description.clone(),
            config: session.config.clone(),
            secret_ct: Vec::new(),
            secret_nonce: Vec::new(),
            health: Some(HealthReset {
                status: CredentialStatus::Valid,
                status_detail: Some(detail.to_string()),
                identity,
                validated_at: Some(now()),
            }),
        },
        oauth_app_id: session.oauth_app_id,
        auth_method: AuthMethod::OauthAuthorizationCode,
    };
    let (credential, tokens) = sealed_row(state, row, grant).map_err(|error| {
        tracing::error!(%error, "could not seal a new OAuth credential");
        CallbackError::Unsealed
    })?;
    let event = NewAuditEvent {
        org_id: Some(session.org_id),
        actor_key_id: None,
        action: AuditAction::CredentialCreated.into(),
        target_type: "credential".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({
            "name": session.name,
            "connector": session.connector,
            "auth_method": AuthMethod::OauthAuthorizationCode,
            "connect_session": session.id,
        }),
    };
    match state
        .store
        .complete_connect_session(
            session.id,
            &credential,
            AuthMethod::OauthAuthorizationCode.as_str(),
            &tokens,
            &event,
        )
        .await
    {
        Ok(credential) => Ok(credential),
        Err(StoreError::Conflict) => Err(CallbackError::NameTaken(session.name.clone())),
        Err(StoreError::NotFound) => Err(CallbackError::SessionUsed),
        Err(error) => {
            tracing::error!(%error, "could not save an OAuth credential");
            Err(CallbackError::Unsaved)
        }
    }
}

/// The new credential's row (no secrets) and its grant, sealed under its new data key.
fn sealed_row(
    state: &Latch,
    row: NewRow<'_>,
    grant: &Granted,
) -> Result<(NewCredential, NewGrantTokens), CoreError> {
    let context = RecordContext::new(row.org_id, row.id);
    let (credential, data_key) = new_row(state, row, &SecretFields::new(Fields::new()))?;
    Ok((credential, sealed_grant(&data_key, &context, grant)?))
}

/// Seals a grant's tokens under a credential's data key.
fn sealed_grant(
    data_key: &DataKey,
    context: &RecordContext,
    granted: &Granted,
) -> Result<NewGrantTokens, CoreError> {
    let grant = &granted.grant;
    let token = seal_text(data_key, context, Purpose::Token, &grant.access.token)?;
    let refresh = grant
        .refresh_token
        .as_ref()
        .map(|refresh| seal_text(data_key, context, Purpose::RefreshToken, refresh))
        .transpose()?;
    Ok(NewGrantTokens {
        token_ct: token.ciphertext,
        nonce: token.nonce,
        token_type: grant.access.token_type.clone(),
        expires_at: now() + chrono::Duration::from_std(granted.lifetime).unwrap_or_default(),
        refresh_ct: refresh.as_ref().map(|sealed| sealed.ciphertext.clone()),
        refresh_nonce: refresh.map(|sealed| sealed.nonce),
        metadata: Value::Object(grant.access.metadata.clone()),
    })
}

/// Gives an existing OAuth credential the new grant (and the session's config).
pub(super) async fn save_reconnect(
    state: &Latch,
    session: &ConnectSession,
    credential_id: Uuid,
    grant: &Granted,
    detail: &str,
    identity: Option<Value>,
) -> Result<Credential, CallbackError> {
    let credential = match state
        .store
        .get_credential(session.org_id, credential_id)
        .await
    {
        Ok(Some(credential)) => credential,
        Ok(None) => return Err(CallbackError::CredentialGone),
        Err(error) => {
            tracing::error!(%error, "could not read a credential to reconnect");
            return Err(CallbackError::Unreadable);
        }
    };
    let context = RecordContext::new(credential.org_id, credential.id);
    let tokens = state
        .secrets
        .data_key_of(&credential)
        .and_then(|data_key| sealed_grant(&data_key, &context, grant))
        .map_err(|error| {
            tracing::error!(%error, "could not seal a reconnected grant");
            CallbackError::TokensUnsealed
        })?;
    let event = NewAuditEvent {
        org_id: Some(session.org_id),
        actor_key_id: None,
        action: AuditAction::CredentialUpdated.into(),
        target_type: "credential".into(),
        target_id: Some(credential.id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({"reconnected": true, "connect_session": session.id}),
    };
    match state
        .store
        .complete_reconnect(
            session.id,
            session.org_id,
            credential.id,
            session.oauth_app_id,
            &session.config,
            detail,
            identity.as_ref(),
            &tokens,
            &event,
        )
        .await
    {
        Ok(updated) => {
            // This replica's cached token belongs to the old grant.
            state.broker.forget(credential.id);
            Ok(updated)
        }
        Err(StoreError::NotFound) => Err(CallbackError::SessionUsedOrCredentialGone),
        Err(error) => {
            tracing::error!(%error, "could not save a reconnected grant");
            Err(CallbackError::Unsaved)
        }
    }
}
