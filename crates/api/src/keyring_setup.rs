//! Start-up of the keyring: load the master key, create the keyring entry on first start,
//! and refuse a master key that does not match the one the database was sealed with.

use std::io::Write;
use std::path::Path;

use latch_store::{KeyringEntry, Store, StoreError, now};
use latch_vault::{ExposeSecret, Kek, Keyring, MasterKey, SecretString, VaultError, random_salt};

use crate::settings::MasterKeySource;

const FIRST_KEK_ID: &str = "kek-1";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("cannot read the master key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(
        "the keyring was created from a {created_with}, but the server was started with a {given}; \
         start it with the same kind of master key"
    )]
    KindMismatch {
        created_with: &'static str,
        given: &'static str,
    },
    #[error("the keyring in the database has no active key-encryption key")]
    NoActiveKek,
    #[error("keyring storage failed: {0}")]
    Store(#[from] StoreError),
}

/// Opens the keyring for this database, creating its first entry when there is none.
pub async fn open_keyring(
    store: &dyn Store,
    source: &MasterKeySource,
) -> Result<Keyring, KeyringError> {
    let entries = store.keyring_entries().await?;
    if entries.is_empty() {
        let salt = match source {
            MasterKeySource::Passphrase(_) => Some(random_salt()?.to_vec()),
            _ => None,
        };
        let kek = Kek::new(FIRST_KEK_ID, load_master_key(source, salt.as_deref())?);
        let entry = KeyringEntry {
            kek_id: kek.id().to_string(),
            created_at: now(),
            state: "active".into(),
            check_value: kek.check_value().to_vec(),
            kdf_salt: salt,
        };
        match store.insert_keyring_entry(&entry).await {
            Ok(()) => {
                tracing::info!(kek_id = kek.id(), "created the keyring");
                return Ok(Keyring::new(kek));
            }
            // Another replica created it first: fall through and verify against theirs.
            Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let entries = store.keyring_entries().await?;
    let active = entries
        .iter()
        .find(|entry| entry.state == "active")
        .ok_or(KeyringError::NoActiveKek)?;
    match (active.kdf_salt.is_some(), is_passphrase(source)) {
        (true, false) => {
            return Err(KeyringError::KindMismatch {
                created_with: "passphrase",
                given: "raw master key",
            });
        }
        (false, true) => {
            return Err(KeyringError::KindMismatch {
                created_with: "raw master key",
                given: "passphrase",
            });
        }
        _ => {}
    }
    let kek = Kek::new(
        active.kek_id.clone(),
        load_master_key(source, active.kdf_salt.as_deref())?,
    );
    kek.verify_check_value(&active.check_value)?;
    Ok(Keyring::new(kek))
}

fn is_passphrase(source: &MasterKeySource) -> bool {
    matches!(source, MasterKeySource::Passphrase(_))
}

fn load_master_key(
    source: &MasterKeySource,
    salt: Option<&[u8]>,
) -> Result<MasterKey, KeyringError> {
    match source {
        MasterKeySource::Key(encoded) => Ok(MasterKey::from_base64(encoded)?),
        MasterKeySource::File(path) => read_key_file(path),
        MasterKeySource::Passphrase(passphrase) => Ok(MasterKey::from_passphrase(
            passphrase,
            salt.unwrap_or_default(),
        )?),
        MasterKeySource::DevFile(path) => {
            if !path.exists() {
                write_dev_key_file(path)?;
            }
            read_key_file(path)
        }
    }
}

fn read_key_file(path: &Path) -> Result<MasterKey, KeyringError> {
    let key_file_error = |reason: String| KeyringError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    refuse_if_readable_by_others(path).map_err(key_file_error)?;
    let contents =
        std::fs::read_to_string(path).map_err(|error| key_file_error(error.to_string()))?;
    MasterKey::from_base64(&SecretString::from(contents))
        .map_err(|error| key_file_error(error.to_string()))
}

/// A key file others can read is a key others may have copied: refuse it.
#[cfg(unix)]
fn refuse_if_readable_by_others(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|error| error.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "it is readable or writable by other users (mode {:o}); run `chmod 600 {}`",
            mode & 0o777,
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_readable_by_others(_: &Path) -> Result<(), String> {
    Ok(())
}

fn write_dev_key_file(path: &Path) -> Result<(), KeyringError> {
    let key_file_error = |reason: String| KeyringError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|error| key_file_error(error.to_string()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|error| key_file_error(error.to_string()))?;
    let key = MasterKey::generate()?;
    writeln!(file, "{}", key.to_base64().expose_secret())
        .map_err(|error| key_file_error(error.to_string()))?;
    tracing::warn!(
        path = %path.display(),
        "DEVELOPMENT MODE: generated a master key file. Anyone who can read it can decrypt \
         every credential in this database. Never use --dev in production."
    );
    Ok(())
}
