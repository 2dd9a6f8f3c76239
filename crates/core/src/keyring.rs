//! Opening the keyring at start: create its first entry, rotate to a new master key, and
//! refuse a master key that matches nothing, or a keyring that lacks a KEK some data key is
//! still wrapped under. The key material comes in as read (where it is read from, files
//! and the environment, is the server's business): no I/O here but the store.
//!
//! Rotation: the server is started with the new key as its master key and the old one among
//! the previous keys. The new key matches no entry, the previous one opens the active entry,
//! so the new key becomes the active entry (`kek-N+1`) and the old one is retired, in one
//! transaction that only one replica wins. `latch rewrap` then moves every data key to the
//! new KEK, after which the old key is no longer needed.

use latch_store::{KeyringEntry, Store, StoreError, now};
use latch_vault::{KdfParams, Kek, Keyring, MasterKey, SecretString, VaultError, random_salt};

const FIRST_KEK_ID: &str = "kek-1";
/// How often start-up re-reads the keyring after losing a rotation race to another replica.
const ROTATION_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(
        "the keyring was created from a {created_with}, but the server was started with a {given}; \
         start it with the same kind of master key (or rotate: the new key as the master key, \
         the old one in LATCH_PREVIOUS_MASTER_KEYS or LATCH_PREVIOUS_MASTER_PASSPHRASES)"
    )]
    KindMismatch {
        created_with: &'static str,
        given: &'static str,
    },
    #[error(
        "the master key matches key-encryption key `{given}`, which was retired when `{active}` \
         became active; start with the active master key (the old one may stay among the \
         previous keys)"
    )]
    RetiredKeyGiven { given: String, active: String },
    #[error(
        "data keys are still wrapped under key-encryption key(s) {missing}, which no master key \
         given opens; add the old master key to LATCH_PREVIOUS_MASTER_KEYS (or \
         LATCH_PREVIOUS_MASTER_KEYS_FILE, LATCH_PREVIOUS_MASTER_PASSPHRASES) until `latch rewrap` \
         has moved them"
    )]
    MissingKeks { missing: String },
    #[error("the keyring in the database has no active key-encryption key")]
    NoActiveKek,
    #[error("other replicas kept rotating the keyring; start again")]
    RotationRace,
    #[error("keyring storage failed: {0}")]
    Store(#[from] StoreError),
}

/// Key material as given, before it is matched with a keyring entry.
pub enum KeyMaterial {
    /// Base64 of 32 bytes, decoded anew for each entry tried.
    Raw(SecretString),
    Passphrase(SecretString),
}

impl KeyMaterial {
    fn kind(&self) -> &'static str {
        match self {
            KeyMaterial::Raw(_) => "raw master key",
            KeyMaterial::Passphrase(_) => "passphrase",
        }
    }

    /// The KEK this material makes for `entry`, when the entry was made from this kind of
    /// material and its check value matches.
    fn opens(&self, entry: &KeyringEntry) -> Result<Option<Kek>, KeyringError> {
        let master = match (self, &entry.kdf_salt) {
            (KeyMaterial::Raw(encoded), None) => MasterKey::from_base64(encoded)?,
            (KeyMaterial::Passphrase(passphrase), Some(salt)) => {
                let cost = match &entry.kdf_params {
                    Some(column) => KdfParams::from_column(column)?,
                    None => KdfParams::default(),
                };
                MasterKey::from_passphrase_with(passphrase, salt, cost)?
            }
            _ => return Ok(None),
        };
        let kek = Kek::new(entry.kek_id.clone(), master);
        Ok(kek
            .verify_check_value(&entry.check_value)
            .is_ok()
            .then_some(kek))
    }

    /// A new entry `kek_id` for this material, at today's cost, with the KEK it makes.
    fn new_entry(&self, kek_id: &str, state: &str) -> Result<(KeyringEntry, Kek), KeyringError> {
        let (master, salt, params) = match self {
            KeyMaterial::Raw(encoded) => (MasterKey::from_base64(encoded)?, None, None),
            KeyMaterial::Passphrase(passphrase) => {
                let salt = random_salt()?.to_vec();
                let cost = KdfParams::default();
                let master = MasterKey::from_passphrase_with(passphrase, &salt, cost)?;
                (master, Some(salt), Some(cost.to_column()))
            }
        };
        let kek = Kek::new(kek_id, master);
        let entry = KeyringEntry {
            kek_id: kek_id.to_string(),
            created_at: now(),
            state: state.into(),
            check_value: kek.check_value().to_vec(),
            kdf_salt: salt,
            kdf_params: params,
        };
        Ok((entry, kek))
    }
}

/// Opens the keyring for this database: creates its first entry when there is none, rotates
/// to `source` when it is new and a previous key opens the active entry, and checks that
/// every KEK a data key is wrapped under can be opened.
pub async fn open_keyring(
    store: &dyn Store,
    current: &KeyMaterial,
    previous: &[KeyMaterial],
) -> Result<Keyring, KeyringError> {
    for _ in 0..ROTATION_ATTEMPTS {
        if let Some(keyring) = try_open(store, current, previous).await? {
            check_coverage(store, &keyring).await?;
            return Ok(keyring);
        }
    }
    Err(KeyringError::RotationRace)
}

/// One attempt; `None` when another replica changed the keyring meanwhile.
async fn try_open(
    store: &dyn Store,
    current: &KeyMaterial,
    previous: &[KeyMaterial],
) -> Result<Option<Keyring>, KeyringError> {
    let entries = store.keyring_entries().await?;
    if entries.is_empty() {
        let (entry, kek) = current.new_entry(FIRST_KEK_ID, "active")?;
        return match store.insert_keyring_entry(&entry).await {
            Ok(()) => {
                tracing::info!(kek_id = kek.id(), "created the keyring");
                Ok(Some(Keyring::new(kek)))
            }
            // Another replica created it first: verify against theirs.
            Err(StoreError::Conflict) => Ok(None),
            Err(error) => Err(error.into()),
        };
    }
    let active = entries
        .iter()
        .find(|entry| entry.state == "active")
        .ok_or(KeyringError::NoActiveKek)?;

    let mut older = Vec::new();
    for material in previous {
        match matching(material, &entries)? {
            Some(kek) => older.push(kek),
            None => tracing::warn!(
                kind = material.kind(),
                "a previous master key matches no key-encryption key in the keyring; it is ignored"
            ),
        }
    }

    let mut keyring = match matching(current, &entries)? {
        Some(kek) if kek.id() == active.kek_id => Keyring::new(kek),
        Some(kek) => {
            return Err(KeyringError::RetiredKeyGiven {
                given: kek.id().to_string(),
                active: active.kek_id.clone(),
            });
        }
        None if older.iter().any(|kek| kek.id() == active.kek_id) => {
            let kek_id = next_kek_id(&entries);
            let (entry, kek) = current.new_entry(&kek_id, "active")?;
            if !store.rotate_keyring(&active.kek_id, &entry).await? {
                return Ok(None);
            }
            tracing::warn!(
                retired = %active.kek_id,
                active = %kek_id,
                "rotated the master key: new data keys are wrapped under the new KEK; run \
                 `latch rewrap` to move the existing ones"
            );
            Keyring::new(kek)
        }
        None => return Err(not_opened(current, active, previous.is_empty())),
    };
    for kek in older {
        keyring.add_retired(kek);
    }
    Ok(Some(keyring))
}

/// The entry `material` opens, as a KEK.
/// The active entry is tried first: it is the one a master key matches on every ordinary
/// start, and each try of a passphrase costs an argon2id derivation.
fn matching(material: &KeyMaterial, entries: &[KeyringEntry]) -> Result<Option<Kek>, KeyringError> {
    let active_first = entries
        .iter()
        .filter(|entry| entry.state == "active")
        .chain(entries.iter().filter(|entry| entry.state != "active"));
    for entry in active_first {
        if let Some(kek) = material.opens(entry)? {
            return Ok(Some(kek));
        }
    }
    Ok(None)
}

/// Why the given master key opens nothing: another kind of key, or a wrong one.
fn not_opened(current: &KeyMaterial, active: &KeyringEntry, no_previous: bool) -> KeyringError {
    let created_with = if active.kdf_salt.is_some() {
        "passphrase"
    } else {
        "raw master key"
    };
    if no_previous && created_with != current.kind() {
        return KeyringError::KindMismatch {
            created_with,
            given: current.kind(),
        };
    }
    VaultError::WrongMasterKey {
        kek_id: active.kek_id.clone(),
    }
    .into()
}

/// `kek-N` with N one more than the highest in the keyring.
fn next_kek_id(entries: &[KeyringEntry]) -> String {
    let highest = entries
        .iter()
        .filter_map(|entry| entry.kek_id.strip_prefix("kek-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    format!("kek-{}", highest + 1)
}

/// Refuses a keyring that cannot open every data key the database holds.
async fn check_coverage(store: &dyn Store, keyring: &Keyring) -> Result<(), KeyringError> {
    let missing: Vec<String> = store
        .kek_usage()
        .await?
        .into_iter()
        .filter(|(kek_id, count)| *count > 0 && !keyring.knows(kek_id))
        .map(|(kek_id, count)| format!("`{kek_id}` ({count} data keys)"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(KeyringError::MissingKeks {
            missing: missing.join(", "),
        })
    }
}
