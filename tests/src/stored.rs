//! Records written straight into the store, sealed and wrapped as the server does it: for
//! fixtures that need many records fast (the benchmarks) or a record with an id of their
//! choosing (the contract run, whose document examples name ids).

use latch_store::{CredentialStatus, NewAuditEvent, NewCredential, Store};
use latch_vault::{Keyring, Purpose, RecordContext};
use serde_json::{Value, json};
use uuid::Uuid;

/// A client-credentials credential to store.
pub struct StoredCredential<'a> {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// The connector's `config`.
    pub config: Value,
    /// The connector's `secrets`, as the JSON the server seals.
    pub secrets: &'a Value,
}

/// Stores `credential` as `unverified` (no test login), with its `credential.created` audit
/// event, as `POST /v1/credentials?validate=false` would.
pub async fn store_credential(
    store: &dyn Store,
    keyring: &Keyring,
    credential: StoredCredential<'_>,
) {
    let context = RecordContext::new(credential.org_id, credential.id);
    let (data_key, wrapped) = keyring.generate_data_key(&context).expect("a data key");
    let sealed = data_key
        .seal(
            &context,
            Purpose::Secret,
            credential.secrets.to_string().as_bytes(),
        )
        .expect("the secrets seal");
    let new = NewCredential {
        id: credential.id,
        org_id: credential.org_id,
        connector: "looker".into(),
        name: credential.name,
        description: None,
        config: credential.config,
        secret_ct: sealed.ciphertext,
        secret_nonce: sealed.nonce,
        wrapped_dek: wrapped.bytes,
        kek_id: wrapped.kek_id,
        status: CredentialStatus::Unverified,
        status_detail: None,
        identity: None,
        validated_at: None,
        oauth_app_id: None,
        auth_method: "client_credentials".into(),
    };
    let event = NewAuditEvent {
        org_id: Some(credential.org_id),
        actor_key_id: None,
        action: "credential.created".into(),
        target_type: "credential".into(),
        target_id: Some(credential.id.to_string()),
        outcome: "success".into(),
        detail: json!({}),
    };
    store
        .insert_credential(&new, &event)
        .await
        .expect("the credential is stored");
}
