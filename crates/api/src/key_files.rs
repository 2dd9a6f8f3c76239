//! Where master keys come from: the environment, key files (which must be mode 0600) and,
//! in development mode, a key file generated on first start. The one module that reads
//! key files; the keyring's rules live in `latch_core::keyring`.

use std::io::Write;
use std::path::{Path, PathBuf};

use latch_core::keyring::KeyMaterial;
use latch_vault::{ExposeSecret, MasterKey, SecretString};

/// A key file that could not be used, named by its path; never its contents.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the master key file {path}: {reason}")]
pub struct KeyFileError {
    path: String,
    reason: String,
}

/// Where the master key comes from, first found wins:
/// `LATCH_MASTER_KEY`, `LATCH_MASTER_KEY_FILE`, `LATCH_MASTER_PASSPHRASE`, then (with `--dev`
/// only) a generated key file.
pub enum MasterKeySource {
    /// Base64 of 32 bytes.
    Key(SecretString),
    /// A file holding base64 of 32 bytes.
    File(PathBuf),
    /// A passphrase stretched with argon2id; its salt is kept in the keyring table.
    Passphrase(SecretString),
    /// Development mode: a key file generated (mode 0600) when missing.
    DevFile(PathBuf),
}

impl MasterKeySource {
    /// Reads the source from the environment; `dev_file` is used only when nothing is set.
    pub fn from_env(dev_file: Option<PathBuf>) -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        if let Some(key) = var("LATCH_MASTER_KEY") {
            return Ok(Self::Key(SecretString::from(key)));
        }
        if let Some(path) = var("LATCH_MASTER_KEY_FILE") {
            return Ok(Self::File(PathBuf::from(path)));
        }
        if let Some(passphrase) = var("LATCH_MASTER_PASSPHRASE") {
            return Ok(Self::Passphrase(SecretString::from(passphrase)));
        }
        dev_file.map(Self::DevFile).ok_or_else(|| {
            "no master key: set LATCH_MASTER_KEY (32 random bytes, base64: `openssl rand -base64 32`), \
             LATCH_MASTER_KEY_FILE (a file holding such a key) or LATCH_MASTER_PASSPHRASE; \
             or run `latch serve --dev` for a local development instance"
                .to_string()
        })
    }
}

/// An earlier master key, kept so that data keys wrapped under it still open while
/// `latch rewrap` moves them to the active one.
#[derive(Clone)]
pub enum PreviousMasterKey {
    Key(SecretString),
    Passphrase(SecretString),
}

impl PreviousMasterKey {
    /// `LATCH_PREVIOUS_MASTER_KEYS` (comma separated), `LATCH_PREVIOUS_MASTER_KEYS_FILE` (one
    /// key a line; it must be mode 0600) and `LATCH_PREVIOUS_MASTER_PASSPHRASES` (comma
    /// separated), all of them.
    pub fn from_env() -> Result<Vec<Self>, String> {
        // The variables' own copies are wiped once read.
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .map(zeroize::Zeroizing::new)
        };
        let mut keys = Vec::new();
        let listed = |text: &str| -> Vec<SecretString> {
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| SecretString::from(item.to_string()))
                .collect()
        };
        if let Some(list) = var("LATCH_PREVIOUS_MASTER_KEYS") {
            keys.extend(listed(&list).into_iter().map(Self::Key));
        }
        if let Some(path) = var("LATCH_PREVIOUS_MASTER_KEYS_FILE") {
            let path = PathBuf::from(path.as_str());
            let problem = |reason: String| {
                format!(
                    "cannot read the previous master keys file {}: {reason}",
                    path.display()
                )
            };
            refuse_if_readable_by_others(&path).map_err(problem)?;
            let contents = zeroize::Zeroizing::new(
                std::fs::read_to_string(&path).map_err(|error| problem(error.to_string()))?,
            );
            keys.extend(
                contents
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(|line| Self::Key(SecretString::from(line.to_string()))),
            );
        }
        if let Some(list) = var("LATCH_PREVIOUS_MASTER_PASSPHRASES") {
            keys.extend(listed(&list).into_iter().map(Self::Passphrase));
        }
        Ok(keys)
    }
}

/// The key material of the master key and of the previous ones, read from files where they
/// are files: what `latch_core::keyring::open_keyring` takes.
pub fn materials(
    source: &MasterKeySource,
    previous: &[PreviousMasterKey],
) -> Result<(KeyMaterial, Vec<KeyMaterial>), KeyFileError> {
    let previous = previous.iter().map(PreviousMasterKey::material).collect();
    Ok((source.material()?, previous))
}

impl MasterKeySource {
    /// The key material, read from its file when it is one (a development key file is made
    /// first when missing).
    pub fn material(&self) -> Result<KeyMaterial, KeyFileError> {
        Ok(match self {
            MasterKeySource::Key(encoded) => KeyMaterial::Raw(encoded.clone()),
            MasterKeySource::File(path) => KeyMaterial::Raw(read_key_file(path)?),
            MasterKeySource::Passphrase(passphrase) => KeyMaterial::Passphrase(passphrase.clone()),
            MasterKeySource::DevFile(path) => {
                if !path.exists() {
                    write_dev_key_file(path)?;
                }
                KeyMaterial::Raw(read_key_file(path)?)
            }
        })
    }
}

impl PreviousMasterKey {
    pub fn material(&self) -> KeyMaterial {
        match self {
            PreviousMasterKey::Key(encoded) => KeyMaterial::Raw(encoded.clone()),
            PreviousMasterKey::Passphrase(passphrase) => {
                KeyMaterial::Passphrase(passphrase.clone())
            }
        }
    }
}

fn read_key_file(path: &Path) -> Result<SecretString, KeyFileError> {
    let key_file_error = |reason: String| KeyFileError {
        path: path.display().to_string(),
        reason,
    };
    refuse_if_readable_by_others(path).map_err(key_file_error)?;
    let contents =
        std::fs::read_to_string(path).map_err(|error| key_file_error(error.to_string()))?;
    let encoded = SecretString::from(contents.trim().to_string());
    // Decoded now, so a malformed file is refused with its path.
    MasterKey::from_base64(&encoded).map_err(|error| key_file_error(error.to_string()))?;
    Ok(encoded)
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

fn write_dev_key_file(path: &Path) -> Result<(), KeyFileError> {
    let key_file_error = |reason: String| KeyFileError {
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
    let key = MasterKey::generate().map_err(|error| key_file_error(error.to_string()))?;
    writeln!(file, "{}", key.to_base64().expose_secret())
        .map_err(|error| key_file_error(error.to_string()))?;
    tracing::warn!(
        path = %path.display(),
        "DEVELOPMENT MODE: generated a master key file. Anyone who can read it can decrypt \
         every credential in this database. Never use --dev in production."
    );
    Ok(())
}
