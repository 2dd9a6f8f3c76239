//! A saved credential's secrets: its data key, opened and sealed in one place, for the
//! credential use cases and the token broker alike.

use std::sync::Arc;

use latch_connector::{Connector, Fields, SecretFields};
use latch_store::{Credential, OAuthApp, SealedAppSecrets};
use latch_vault::{
    DataKey, ExposeSecret, Keyring, Purpose, RecordContext, Sealed, SecretString, WrappedKey,
};
use zeroize::Zeroizing;

use crate::catalogue::Catalogue;
use crate::error::CoreError;

/// The keyring and the connectors: all it takes to open a saved credential's secrets.
#[derive(Clone)]
pub struct Secrets {
    keyring: Arc<Keyring>,
    catalogue: Catalogue,
}

impl Secrets {
    pub fn new(keyring: Arc<Keyring>, catalogue: Catalogue) -> Self {
        Self { keyring, catalogue }
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The connector a saved credential was made for, as the method it was made with.
    pub fn connector_of(&self, credential: &Credential) -> Result<&dyn Connector, CoreError> {
        self.catalogue.of_credential(credential).ok_or_else(|| {
            CoreError::internal(format!(
                "stored connector `{}` is not offered",
                credential.connector
            ))
        })
    }

    /// The credential's own data key, unwrapped by the keyring.
    pub fn data_key_of(&self, credential: &Credential) -> Result<DataKey, CoreError> {
        let context = RecordContext::new(credential.org_id, credential.id);
        self.data_key(&context, &credential.kek_id, &credential.wrapped_dek)
    }

    /// A record's data key (a credential's, a connect session's), unwrapped by the keyring.
    pub fn data_key(
        &self,
        context: &RecordContext,
        kek_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, CoreError> {
        let wrapped = WrappedKey {
            kek_id: kek_id.to_string(),
            bytes: wrapped.to_vec(),
        };
        self.keyring
            .unwrap_data_key(context, &wrapped)
            .map_err(CoreError::internal)
    }

    /// The credential's secrets in clear, for a test login or a token.
    pub fn open(&self, credential: &Credential) -> Result<SecretFields, CoreError> {
        let context = RecordContext::new(credential.org_id, credential.id);
        open_with(&self.data_key_of(credential)?, &context, credential)
    }
}

impl Secrets {
    /// An app's secrets in clear (none for an app without any), for a token call.
    pub fn open_app(&self, app: &OAuthApp) -> Result<SecretFields, CoreError> {
        let Some(sealed) = app.sealed.secrets() else {
            return Ok(SecretFields::new(Fields::new()));
        };
        self.open_record(app.org_id, app.id, &sealed)
    }

    /// What [`Secrets::seal_record`] sealed for a record (an app, a webhook), opened.
    pub fn open_record(
        &self,
        org_id: uuid::Uuid,
        id: uuid::Uuid,
        sealed: &SealedAppSecrets,
    ) -> Result<SecretFields, CoreError> {
        let context = RecordContext::new(org_id, id);
        let data_key = self.data_key(&context, &sealed.kek_id, &sealed.wrapped_dek)?;
        let sealed = Sealed {
            nonce: sealed.secret_nonce.clone(),
            ciphertext: sealed.secret_ct.clone(),
        };
        open_fields(&data_key, &context, &sealed)
    }

    /// Seals a record's secrets (an app's, a webhook's) under a fresh data key of its own,
    /// bound to the record.
    pub fn seal_record(
        &self,
        org_id: uuid::Uuid,
        app_id: uuid::Uuid,
        secrets: &SecretFields,
    ) -> Result<SealedAppSecrets, CoreError> {
        let context = RecordContext::new(org_id, app_id);
        let (data_key, wrapped) = self
            .keyring
            .generate_data_key(&context)
            .map_err(CoreError::internal)?;
        let sealed = seal_secrets(&data_key, &context, secrets)?;
        Ok(SealedAppSecrets {
            kek_id: wrapped.kek_id,
            wrapped_dek: wrapped.bytes,
            secret_nonce: sealed.nonce,
            secret_ct: sealed.ciphertext,
        })
    }
}

pub fn open_with(
    data_key: &DataKey,
    context: &RecordContext,
    credential: &Credential,
) -> Result<SecretFields, CoreError> {
    let sealed = Sealed {
        nonce: credential.secret_nonce.clone(),
        ciphertext: credential.secret_ct.clone(),
    };
    open_fields(data_key, context, &sealed)
}

/// Secret fields sealed by [`seal_secrets`], opened.
fn open_fields(
    data_key: &DataKey,
    context: &RecordContext,
    sealed: &Sealed,
) -> Result<SecretFields, CoreError> {
    let plain = data_key
        .open(context, Purpose::Secret, sealed)
        .map_err(CoreError::internal)?;
    let fields: Fields = serde_json::from_slice(plain.expose_secret())
        .map_err(|_| CoreError::internal("a stored secret is not a JSON object"))?;
    Ok(SecretFields::new(fields))
}

pub fn seal_secrets(
    data_key: &DataKey,
    context: &RecordContext,
    secrets: &SecretFields,
) -> Result<Sealed, CoreError> {
    let plaintext = serde_json::to_vec(secrets.as_fields())
        .map(Zeroizing::new)
        .map_err(CoreError::internal)?;
    data_key
        .seal(context, Purpose::Secret, &plaintext)
        .map_err(CoreError::internal)
}

/// Seals a secret text (a token, a refresh token, a PKCE verifier) for its purpose.
pub fn seal_text(
    data_key: &DataKey,
    context: &RecordContext,
    purpose: Purpose,
    text: &SecretString,
) -> Result<Sealed, CoreError> {
    data_key
        .seal(context, purpose, text.expose_secret().as_bytes())
        .map_err(CoreError::internal)
}

/// Opens what [`seal_text`] sealed.
pub fn open_text(
    data_key: &DataKey,
    context: &RecordContext,
    purpose: Purpose,
    sealed: &Sealed,
) -> Result<SecretString, CoreError> {
    let plain = data_key
        .open(context, purpose, sealed)
        .map_err(CoreError::internal)?;
    let text = std::str::from_utf8(plain.expose_secret())
        .map_err(|_| CoreError::internal("a sealed text is not UTF-8"))?;
    Ok(SecretString::from(text.to_string()))
}
