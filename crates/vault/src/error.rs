use thiserror::Error;

/// Errors of the vault. None of them carries key material or plaintext.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VaultError {
    #[error(
        "the master key does not match key-encryption key `{kek_id}` recorded in the database; \
         check LATCH_MASTER_KEY, LATCH_MASTER_KEY_FILE or LATCH_MASTER_PASSPHRASE"
    )]
    WrongMasterKey { kek_id: String },
    #[error("the master key is not valid: {0}")]
    InvalidMasterKey(&'static str),
    #[error("no key-encryption key `{0}` in the keyring")]
    UnknownKek(String),
    #[error("a ciphertext failed authentication (tampered, moved or opened with the wrong key)")]
    Decrypt,
    #[error("the operating system's random source failed")]
    Random,
    #[error("deriving the master key from the passphrase failed")]
    Kdf,
}
