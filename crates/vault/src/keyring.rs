use std::collections::HashMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::envelope::{DataKey, RecordContext, WrappedKey, open_raw, seal_raw, wrap_aad};
use crate::{KEY_LEN, MasterKey, VaultError};

/// Length in bytes of a key check value.
pub const CHECK_VALUE_LEN: usize = 32;

/// A key-encryption key: it wraps and unwraps data keys, never data itself.
pub struct Kek {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl Kek {
    pub fn new(id: impl Into<String>, master: MasterKey) -> Self {
        Self {
            id: id.into(),
            key: master.0,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A one-way fingerprint of the key, stored beside its id so that start-up can refuse a
    /// wrong master key at once instead of failing on the first credential it opens.
    pub fn check_value(&self) -> [u8; CHECK_VALUE_LEN] {
        let mut hasher = Sha256::new();
        hasher.update(b"latch:v1:check:");
        hasher.update(self.id.as_bytes());
        hasher.update(b":");
        hasher.update(self.key.as_ref());
        hasher.finalize().into()
    }

    /// Compares the stored check value with this key's, in constant time.
    pub fn verify_check_value(&self, stored: &[u8]) -> Result<(), VaultError> {
        if bool::from(self.check_value().as_slice().ct_eq(stored)) {
            Ok(())
        } else {
            Err(VaultError::WrongMasterKey {
                kek_id: self.id.clone(),
            })
        }
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every key-encryption key Latch knows: the active one wraps new data keys, every listed
/// one unwraps, so that keys can be rotated while old rows are still being re-wrapped.
#[derive(Debug)]
pub struct Keyring {
    active: String,
    keks: HashMap<String, Kek>,
}

impl Keyring {
    pub fn new(active: Kek) -> Self {
        let id = active.id.clone();
        Self {
            keks: HashMap::from([(id.clone(), active)]),
            active: id,
        }
    }

    /// Adds a key that can still open data keys it wrapped, but wraps no new ones.
    pub fn add_retired(&mut self, kek: Kek) {
        self.keks.entry(kek.id.clone()).or_insert(kek);
    }

    pub fn active_kek_id(&self) -> &str {
        &self.active
    }

    /// Whether data keys wrapped under `kek_id` can be opened.
    pub fn knows(&self, kek_id: &str) -> bool {
        self.keks.contains_key(kek_id)
    }

    /// Makes a fresh data key for one record and wraps it under the active KEK.
    pub fn generate_data_key(
        &self,
        context: &RecordContext,
    ) -> Result<(DataKey, WrappedKey), VaultError> {
        let data_key = DataKey::generate()?;
        let wrapped = self.wrap(context, &data_key)?;
        Ok((data_key, wrapped))
    }

    /// The same data key, wrapped under the active KEK instead of the one it names: what a
    /// rotation does to every record. The data key, and so every ciphertext under it, stays.
    pub fn rewrap(
        &self,
        context: &RecordContext,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, VaultError> {
        let data_key = self.unwrap_data_key(context, wrapped)?;
        self.wrap(context, &data_key)
    }

    fn wrap(&self, context: &RecordContext, data_key: &DataKey) -> Result<WrappedKey, VaultError> {
        let kek = &self.keks[&self.active];
        let sealed = seal_raw(&kek.key, &wrap_aad(context, &kek.id), data_key.bytes())?;
        Ok(WrappedKey {
            kek_id: kek.id.clone(),
            bytes: [sealed.nonce, sealed.ciphertext].concat(),
        })
    }

    /// Unwraps a record's data key with the KEK it names.
    pub fn unwrap_data_key(
        &self,
        context: &RecordContext,
        wrapped: &WrappedKey,
    ) -> Result<DataKey, VaultError> {
        let kek = self
            .keks
            .get(&wrapped.kek_id)
            .ok_or_else(|| VaultError::UnknownKek(wrapped.kek_id.clone()))?;
        let plain = open_raw(&kek.key, &wrap_aad(context, &kek.id), &wrapped.bytes)?;
        DataKey::from_bytes(&plain)
    }
}
