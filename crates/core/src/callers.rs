//! Callers: API keys (their format, digest and scopes), the keys verified lately, and who a
//! presented key makes the caller.
//!
//! A key is `latch_<12 characters>_<32 characters>` (base62, about 262 random bits). The
//! first part is its public prefix: stored in clear, shown in listings, used to find the row.
//! The row keeps only a SHA-256 digest of the whole key, compared in constant time. A slow
//! password hash would add nothing for keys of this entropy and would cap throughput.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;
use latch_store::Store;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::change_feed::{ChangeFeed, Watch};
use crate::error::CoreError;
use crate::slot_map::SlotMap;

const KEY_PREFIX: &str = "latch_";
const PREFIX_ID_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a key may do. `admin` may do everything in its organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "credentials:read")]
    CredentialsRead,
    #[serde(rename = "credentials:write")]
    CredentialsWrite,
    #[serde(rename = "tokens:issue")]
    TokensIssue,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Admin,
        Scope::CredentialsRead,
        Scope::CredentialsWrite,
        Scope::TokensIssue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::CredentialsRead => "credentials:read",
            Scope::CredentialsWrite => "credentials:write",
            Scope::TokensIssue => "tokens:issue",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scopes as the store keeps them: space separated.
pub fn scopes_to_column(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn scopes_from_column(column: &str) -> Vec<Scope> {
    column.split_whitespace().filter_map(Scope::parse).collect()
}

/// A freshly made key: the whole key (shown once), its public prefix and its digest.
pub struct GeneratedKey {
    pub key: SecretString,
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn generate_key() -> Result<GeneratedKey, CoreError> {
    let id = random_base62(PREFIX_ID_LEN)?;
    let secret = random_base62(SECRET_LEN)?;
    let prefix = format!("{KEY_PREFIX}{id}");
    let key = format!("{prefix}_{secret}");
    let hash = digest(&key).to_vec();
    Ok(GeneratedKey {
        key: SecretString::from(key),
        prefix,
        hash,
    })
}

fn random_base62(len: usize) -> Result<String, CoreError> {
    let mut out = String::with_capacity(len);
    let mut buffer = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buffer).map_err(CoreError::internal)?;
        // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
        for byte in buffer.iter().filter(|byte| **byte < 248) {
            if out.len() == len {
                break;
            }
            out.push(BASE62[usize::from(*byte % 62)] as char);
        }
    }
    Ok(out)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The public prefix of a presented key, when it is shaped like one of ours.
pub fn presented_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == PREFIX_ID_LEN
        && secret.len() == SECRET_LEN
        && id
            .bytes()
            .chain(secret.bytes())
            .all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| &key[..KEY_PREFIX.len() + PREFIX_ID_LEN])
}

/// An authenticated caller: which key, which organisation, which scopes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: Uuid,
    pub org_id: Uuid,
    /// A job key's data source (or destination): the only thing it may reach.
    pub data_source_id: Option<Uuid>,
    /// Shared, so that a caller from the key cache is cloned without an allocation.
    pub scopes: Arc<[Scope]>,
}

impl Caller {
    pub fn require(&self, scope: Scope) -> Result<(), CoreError> {
        if self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "this API key lacks the `{scope}` scope"
            )))
        }
    }
}

struct VerifiedKey {
    hash: Vec<u8>,
    caller: Caller,
    verified_at: Instant,
    /// The change feed's position before the key was read.
    basis: i64,
}

struct KeySlot {
    key: ArcSwapOption<VerifiedKey>,
    watch: Watch,
}

/// Keys this process verified in the store lately, by prefix, so that most requests
/// authenticate without a database read. Only keys that exist get a slot.
pub struct KeyCache {
    slots: SlotMap<String, KeySlot>,
    changes: Arc<ChangeFeed>,
}

impl KeyCache {
    pub fn new(changes: Arc<ChangeFeed>) -> Self {
        Self {
            slots: SlotMap::default(),
            changes,
        }
    }

    /// The verified key with this prefix, when its digest is `wanted`.
    fn verified(
        &self,
        prefix: &str,
        wanted: &[u8; 32],
    ) -> Option<(Arc<KeySlot>, Arc<VerifiedKey>)> {
        let slot = self.slots.get(prefix)?;
        let verified = slot.key.load_full()?;
        bool::from(verified.hash.as_slice().ct_eq(wanted)).then_some((slot, verified))
    }

    fn lookup(&self, prefix: &str, wanted: &[u8; 32]) -> Option<Caller> {
        let (slot, verified) = self.verified(prefix, wanted)?;
        slot.watch
            .trusts(
                &self.changes,
                verified.basis,
                verified.verified_at,
                Instant::now(),
            )
            .then(|| verified.caller.clone())
    }

    /// The caller a presented key was authenticated as, however long ago it was verified:
    /// to say who was refused after the fact, never to let anyone in.
    pub fn caller_of(&self, presented: &str) -> Option<Caller> {
        let prefix = presented_prefix(presented)?;
        self.verified(prefix, &digest(presented))
            .map(|(_, verified)| verified.caller.clone())
    }

    fn remember(&self, prefix: &str, hash: Vec<u8>, caller: Caller, basis: i64) {
        self.slots
            .get_or_add(&prefix.to_string(), || KeySlot {
                key: ArcSwapOption::empty(),
                watch: self.changes.watch(),
            })
            .key
            .store(Some(Arc::new(VerifiedKey {
                hash,
                caller,
                verified_at: Instant::now(),
                basis,
            })));
    }

    /// Drops a key (revoked) so this process refuses it from the next request on.
    pub fn forget(&self, prefix: &str) {
        if let Some(slot) = self.slots.get(prefix) {
            slot.key.store(None);
        }
    }

    /// A change of the key with this prefix was committed (on any replica) as number `seq`.
    pub fn changed(&self, prefix: &str, seq: i64) {
        if let Some(slot) = self.slots.get(prefix) {
            slot.watch.changed(seq);
        }
    }
}

/// The caller of a key this replica has already verified, without reading the store.
pub fn remembered(keys: &KeyCache, presented: &SecretString) -> Option<Caller> {
    let presented = presented.expose_secret();
    let prefix = presented_prefix(presented)?;
    keys.lookup(prefix, &digest(presented))
}

/// Finds in the store the live key a caller presented, once [`remembered`] found nothing, and
/// remembers it: the caller, or why the key was refused. Every refusal is answered the same
/// way, so a caller learns nothing about which part was wrong.
pub async fn authenticate(
    store: &dyn Store,
    keys: &KeyCache,
    presented: &SecretString,
) -> Result<Result<Caller, AuthFailure>, CoreError> {
    let presented = presented.expose_secret();
    let mut failure = AuthFailure {
        org_id: None,
        key_id: None,
        prefix: None,
        reason: "malformed key",
    };
    if let Some(prefix) = presented_prefix(presented) {
        failure.prefix = Some(prefix.to_string());
        failure.reason = "unknown key";
        let wanted = digest(presented);
        let basis = keys.changes.applied();
        for key in store.api_keys_by_prefix(prefix).await? {
            if !bool::from(key.hash.as_slice().ct_eq(&wanted)) {
                // Someone holds a real key's prefix with the wrong secret: its org should know.
                failure = AuthFailure {
                    org_id: Some(key.org_id),
                    key_id: Some(key.id),
                    prefix: Some(key.prefix),
                    reason: "wrong secret",
                };
                continue;
            }
            if key.revoked_at.is_some() {
                failure = AuthFailure {
                    org_id: Some(key.org_id),
                    key_id: Some(key.id),
                    prefix: Some(key.prefix),
                    reason: "revoked key",
                };
                break;
            }
            let caller = Caller {
                key_id: key.id,
                org_id: key.org_id,
                data_source_id: key.data_source_id,
                scopes: scopes_from_column(&key.scopes).into(),
            };
            keys.remember(prefix, key.hash, caller.clone(), basis);
            return Ok(Ok(caller));
        }
    }
    Ok(Err(failure))
}

/// Why a presented key was refused, and whose it looked like.
#[derive(Debug)]
pub struct AuthFailure {
    pub org_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
    pub prefix: Option<String>,
    pub reason: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_a_matching_prefix() {
        let generated = generate_key().unwrap();
        let key = generated.key.expose_secret();
        assert_eq!(key.len(), KEY_PREFIX.len() + PREFIX_ID_LEN + 1 + SECRET_LEN);
        assert_eq!(presented_prefix(key), Some(generated.prefix.as_str()));
        assert_eq!(generated.hash, digest(key).to_vec());
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a.key.expose_secret(), b.key.expose_secret());
        assert_ne!(a.prefix, b.prefix);
    }

    #[test]
    fn keys_of_another_shape_have_no_prefix() {
        for key in [
            "",
            "latch_",
            "latch_short_secret",
            "other_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
            "latch_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB!",
            "latch_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        ] {
            assert_eq!(presented_prefix(key), None, "{key}");
        }
    }

    #[test]
    fn admin_may_do_everything_and_other_scopes_only_their_own() {
        let caller = |scopes: Vec<Scope>| Caller {
            key_id: Uuid::nil(),
            org_id: Uuid::nil(),
            data_source_id: None,
            scopes: scopes.into(),
        };
        let admin = caller(vec![Scope::Admin]);
        assert!(Scope::ALL.iter().all(|scope| admin.require(*scope).is_ok()));
        let reader = caller(vec![Scope::CredentialsRead]);
        assert!(reader.require(Scope::CredentialsRead).is_ok());
        assert!(reader.require(Scope::CredentialsWrite).is_err());
        assert!(reader.require(Scope::Admin).is_err());
    }

    #[test]
    fn scopes_survive_the_store_column() {
        let scopes = vec![Scope::CredentialsRead, Scope::TokensIssue];
        assert_eq!(scopes_from_column(&scopes_to_column(&scopes)), scopes);
    }
}
