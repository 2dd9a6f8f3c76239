use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::{VaultError, fill_random};

/// Length in bytes of every symmetric key Latch uses.
pub const KEY_LEN: usize = 32;
/// Length in bytes of the salt stored for a passphrase-derived master key.
pub const SALT_LEN: usize = 16;

/// The argon2id cost a passphrase is stretched with. It is stored beside the salt, so that
/// the cost of new keys can be raised while keys derived at the old cost still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl Default for KdfParams {
    /// OWASP's minimum for argon2id: 19 MiB of memory, two passes, one lane.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            passes: 2,
            lanes: 1,
        }
    }
}

impl KdfParams {
    /// As stored: `argon2id:m=19456,t=2,p=1`.
    pub fn to_column(self) -> String {
        format!(
            "argon2id:m={},t={},p={}",
            self.memory_kib, self.passes, self.lanes
        )
    }

    pub fn from_column(text: &str) -> Result<Self, VaultError> {
        let invalid =
            || VaultError::InvalidMasterKey("the stored key derivation parameters are not valid");
        let rest = text.strip_prefix("argon2id:").ok_or_else(invalid)?;
        let mut params = [None; 3];
        for part in rest.split(',') {
            let (name, value) = part.split_once('=').ok_or_else(invalid)?;
            let value: u32 = value.parse().map_err(|_| invalid())?;
            let slot = match name {
                "m" => 0,
                "t" => 1,
                "p" => 2,
                _ => return Err(invalid()),
            };
            params[slot] = Some(value);
        }
        match params {
            [Some(memory_kib), Some(passes), Some(lanes)] => Ok(Self {
                memory_kib,
                passes,
                lanes,
            }),
            _ => Err(invalid()),
        }
    }
}

/// The root key material from which a key-encryption key is made.
///
/// It is wiped from memory on drop and has no `Debug` or `Display` that shows it.
pub struct MasterKey(pub(crate) Zeroizing<[u8; KEY_LEN]>);

impl MasterKey {
    /// Makes a fresh random master key (development mode writes one to disk).
    pub fn generate() -> Result<Self, VaultError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(key.as_mut())?;
        Ok(Self(key))
    }

    /// Reads a base64 encoded 32-byte key, as given in `LATCH_MASTER_KEY` or a key file.
    pub fn from_base64(encoded: &SecretString) -> Result<Self, VaultError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded.expose_secret().trim())
                .map_err(|_| VaultError::InvalidMasterKey("it is not valid base64"))?,
        );
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::InvalidMasterKey("it must decode to exactly 32 bytes"))?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Derives a key from a passphrase with argon2id at the default cost.
    pub fn from_passphrase(passphrase: &SecretString, salt: &[u8]) -> Result<Self, VaultError> {
        Self::from_passphrase_with(passphrase, salt, KdfParams::default())
    }

    /// Derives a key from a passphrase with argon2id, with the salt and cost kept in the
    /// keyring table.
    pub fn from_passphrase_with(
        passphrase: &SecretString,
        salt: &[u8],
        cost: KdfParams,
    ) -> Result<Self, VaultError> {
        if passphrase.expose_secret().is_empty() {
            return Err(VaultError::InvalidMasterKey("the passphrase is empty"));
        }
        let params = Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(KEY_LEN))
            .map_err(|_| VaultError::Kdf)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(passphrase.expose_secret().as_bytes(), salt, key.as_mut())
            .map_err(|_| VaultError::Kdf)?;
        Ok(Self(key))
    }

    /// The key as base64, for writing a development key file.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.as_ref()))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// A fresh random salt for a passphrase-derived master key.
pub fn random_salt() -> Result<[u8; SALT_LEN], VaultError> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base64_key_round_trips() {
        let key = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.0.as_ref(), again.0.as_ref());
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        let short = SecretString::from(STANDARD.encode([7u8; 16]));
        assert_eq!(
            MasterKey::from_base64(&short).unwrap_err(),
            VaultError::InvalidMasterKey("it must decode to exactly 32 bytes")
        );
        let garbage = SecretString::from("not base64 at all!".to_string());
        assert!(matches!(
            MasterKey::from_base64(&garbage),
            Err(VaultError::InvalidMasterKey(_))
        ));
    }

    #[test]
    fn a_passphrase_gives_the_same_key_with_the_same_salt_and_another_with_another() {
        let passphrase = SecretString::from("correct horse battery staple".to_string());
        let salt = random_salt().unwrap();
        let a = MasterKey::from_passphrase(&passphrase, &salt).unwrap();
        let b = MasterKey::from_passphrase(&passphrase, &salt).unwrap();
        let c = MasterKey::from_passphrase(&passphrase, &random_salt().unwrap()).unwrap();
        assert_eq!(a.0.as_ref(), b.0.as_ref());
        assert_ne!(a.0.as_ref(), c.0.as_ref());
    }

    #[test]
    fn kdf_parameters_round_trip_through_their_column_and_change_the_key() {
        let raised = KdfParams {
            memory_kib: 32 * 1024,
            passes: 3,
            lanes: 1,
        };
        assert_eq!(KdfParams::default().to_column(), "argon2id:m=19456,t=2,p=1");
        assert_eq!(KdfParams::from_column(&raised.to_column()).unwrap(), raised);
        for bad in ["", "scrypt:m=1", "argon2id:m=1,t=2", "argon2id:m=x,t=2,p=1"] {
            assert!(KdfParams::from_column(bad).is_err(), "{bad}");
        }
        let passphrase = SecretString::from("correct horse battery staple".to_string());
        let salt = random_salt().unwrap();
        let default = MasterKey::from_passphrase(&passphrase, &salt).unwrap();
        let costlier = MasterKey::from_passphrase_with(&passphrase, &salt, raised).unwrap();
        assert_ne!(default.0.as_ref(), costlier.0.as_ref());
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = MasterKey::generate().unwrap();
        let printed = format!("{key:?}");
        assert!(!printed.contains(key.to_base64().expose_secret()));
        assert_eq!(printed, "MasterKey([REDACTED])");
    }
}
