//! A saved credential's secrets: its data key, opened and sealed in one place, for the
//! credential use cases and the token broker alike.

use latch_connector::{Connector, Fields, SecretFields};
use latch_store::Credential;
use latch_vault::{DataKey, ExposeSecret, Purpose, RecordContext, Sealed, WrappedKey};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::state::AppState;

/// The connector a saved credential was made for.
pub fn connector_of<'a>(
    state: &'a AppState,
    credential: &Credential,
) -> Result<&'a dyn Connector, ApiError> {
    state.catalogue.get(&credential.connector).ok_or_else(|| {
        ApiError::internal(format!(
            "stored connector `{}` is not offered",
            credential.connector
        ))
    })
}

/// The credential's own data key, unwrapped by the keyring.
pub fn data_key_of(state: &AppState, credential: &Credential) -> Result<DataKey, ApiError> {
    let context = RecordContext::new(credential.org_id, credential.id);
    let wrapped = WrappedKey {
        kek_id: credential.kek_id.clone(),
        bytes: credential.wrapped_dek.clone(),
    };
    state
        .keyring
        .unwrap_data_key(&context, &wrapped)
        .map_err(ApiError::internal)
}

/// The credential's secrets in clear, for a test login or a token.
pub fn open_secrets(state: &AppState, credential: &Credential) -> Result<SecretFields, ApiError> {
    let context = RecordContext::new(credential.org_id, credential.id);
    open_with(&data_key_of(state, credential)?, &context, credential)
}

pub fn open_with(
    data_key: &DataKey,
    context: &RecordContext,
    credential: &Credential,
) -> Result<SecretFields, ApiError> {
    let sealed = Sealed {
        nonce: credential.secret_nonce.clone(),
        ciphertext: credential.secret_ct.clone(),
    };
    let plain = data_key
        .open(context, Purpose::Secret, &sealed)
        .map_err(ApiError::internal)?;
    let fields: Fields = serde_json::from_slice(plain.expose_secret())
        .map_err(|_| ApiError::internal("a stored secret is not a JSON object"))?;
    Ok(SecretFields::new(fields))
}

pub fn seal_secrets(
    data_key: &DataKey,
    context: &RecordContext,
    secrets: &SecretFields,
) -> Result<Sealed, ApiError> {
    let plaintext = serde_json::to_vec(secrets.as_fields())
        .map(Zeroizing::new)
        .map_err(ApiError::internal)?;
    data_key
        .seal(context, Purpose::Secret, &plaintext)
        .map_err(ApiError::internal)
}
