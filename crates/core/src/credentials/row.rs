//! A new credential's row, built one way whether a person typed its secrets or a consent
//! made it: a fresh data key, the secrets sealed under it, and the row's other fields.

use latch_connector::{AuthMethod, SecretFields};
use latch_store::{CredentialChanges, CredentialStatus, HealthReset, NewCredential};
use latch_vault::{DataKey, RecordContext};
use uuid::Uuid;

use crate::error::CoreError;
use crate::latch::Latch;
use crate::secrets::seal_secrets;

/// Who a new credential belongs to and what it is.
pub(crate) struct NewRow<'a> {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: &'a str,
    /// Its fields; the secret ciphertext in them is replaced by `secrets`, sealed. Its
    /// health is `unverified` unless `fields.health` says what a test login found.
    pub fields: CredentialChanges,
    /// For a credential made by consent: the app it was made through.
    pub oauth_app_id: Option<Uuid>,
    pub auth_method: AuthMethod,
}

/// The row, and its data key for whatever else is sealed with it (a consent's tokens).
pub(crate) fn new_row(
    state: &Latch,
    row: NewRow<'_>,
    secrets: &SecretFields,
) -> Result<(NewCredential, DataKey), CoreError> {
    let context = RecordContext::new(row.org_id, row.id);
    let (data_key, wrapped) = state
        .keyring
        .generate_data_key(&context)
        .map_err(CoreError::internal)?;
    let sealed = seal_secrets(&data_key, &context, secrets)?;
    let fields = row.fields;
    let health = fields.health.unwrap_or(HealthReset {
        status: CredentialStatus::Unverified,
        status_detail: None,
        identity: None,
        validated_at: None,
    });
    let new = NewCredential {
        id: row.id,
        org_id: row.org_id,
        connector: row.connector.to_string(),
        name: fields.name,
        description: fields.description,
        config: fields.config,
        secret_ct: sealed.ciphertext,
        secret_nonce: sealed.nonce,
        wrapped_dek: wrapped.bytes,
        kek_id: wrapped.kek_id,
        status: health.status,
        status_detail: health.status_detail,
        identity: health.identity,
        validated_at: health.validated_at,
        oauth_app_id: row.oauth_app_id,
        auth_method: row.auth_method.as_str().into(),
    };
    Ok((new, data_key))
}
