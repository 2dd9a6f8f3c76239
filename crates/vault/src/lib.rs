//! Envelope encryption for Latch.
//!
//! Every credential owns a random data key (DEK). Its secrets and cached tokens are sealed
//! with XChaCha20-Poly1305 under that DEK, and the DEK itself is wrapped by a key-encryption
//! key (KEK) from the [`Keyring`]. The additional authenticated data binds every ciphertext
//! to its organisation, its record and its purpose, so a ciphertext copied to another row or
//! field fails to open. This crate does no I/O: callers load and store the bytes.

mod envelope;
mod error;
mod keyring;
mod master_key;

pub use envelope::{DataKey, Purpose, RecordContext, Sealed, WrappedKey};
pub use error::VaultError;
pub use keyring::{CHECK_VALUE_LEN, Kek, Keyring};
pub use master_key::{KEY_LEN, KdfParams, MasterKey, SALT_LEN, random_salt};
pub use secrecy::{ExposeSecret, SecretBox, SecretString};

/// Plaintext bytes that are wiped from memory when dropped and never printed.
pub type SecretBytes = SecretBox<[u8]>;

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), VaultError> {
    getrandom::fill(buf).map_err(|_| VaultError::Random)
}
