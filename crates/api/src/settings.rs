use std::path::PathBuf;
use std::time::Duration;

use latch_connector::EgressPolicy;

use secrecy::SecretString;

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

/// Everything `Application::build` needs.
pub struct Settings {
    pub database_url: String,
    /// `host:port`; port 0 picks a free one (tests).
    pub listen_addr: String,
    pub master_key: MasterKeySource,
    /// What connectors may call; `allow_http` also lets credentials name `http://` hosts.
    pub egress: EgressPolicy,
    /// HTTP worker threads; the number of cores when `None`.
    pub workers: Option<usize>,
    /// Development mode: make the `default` organisation and print an admin key on first start.
    pub dev: bool,
    pub limits: Limits,
}

/// Bounds on abuse; each has a safe default.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Failed authentications a minute from one address (IPv6: one /64) before further
    /// failing attempts are answered 429; 0 turns the limit off.
    pub auth_failures_per_minute: u32,
    /// A forced refresh that does not name the rejected token logs in at most once per
    /// credential in this interval.
    pub forced_refresh_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            auth_failures_per_minute: 30,
            forced_refresh_interval: crate::broker::FORCED_REFRESH_INTERVAL,
        }
    }
}
