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
            crate::keyring_setup::refuse_if_readable_by_others(&path).map_err(problem)?;
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

/// Everything `Application::build` needs.
pub struct Settings {
    pub database_url: String,
    /// `host:port`; port 0 picks a free one (tests).
    pub listen_addr: String,
    pub master_key: MasterKeySource,
    /// Earlier master keys whose KEKs still wrap data keys (during a rotation).
    pub previous_master_keys: Vec<PreviousMasterKey>,
    /// What connectors may call; `allow_http` also lets credentials name `http://` hosts.
    pub egress: EgressPolicy,
    /// HTTP worker threads; the number of cores when `None`.
    pub workers: Option<usize>,
    /// Development mode: make the `default` organisation and print an admin key on first start.
    pub dev: bool,
    pub limits: Limits,
    /// The address browsers reach Latch at (`LATCH_PUBLIC_URL`): the OAuth redirect URI is
    /// `{public_url}/v1/oauth/callback`. `None`: `http://` and the listening address.
    pub public_url: Option<url::Url>,
    /// Origins besides the public URL's that a connect session may send the browser back
    /// to (`LATCH_CONSOLE_ORIGINS`).
    pub console_origins: Vec<url::Url>,
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
    /// How long a client has to send a request's whole body.
    pub body_timeout: Duration,
    /// Pending connect sessions an organization may have at once; past it, 429.
    pub pending_connect_sessions: u32,
    /// How long a connect session is kept after it expired.
    pub connect_session_retention: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            auth_failures_per_minute: 30,
            forced_refresh_interval: latch_core::broker::FORCED_REFRESH_INTERVAL,
            body_timeout: crate::extract::BODY_TIMEOUT,
            pending_connect_sessions: latch_core::oauth_settings::PENDING_SESSIONS_PER_ORG,
            connect_session_retention: latch_core::oauth_settings::SESSION_RETENTION,
        }
    }
}
