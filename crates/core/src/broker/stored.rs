//! The token the store holds for a credential (another replica's, or this one's before a
//! restart), opened and cached when it is for the credential's current version.

use super::*;

impl TokenBroker {
    /// The cached token, if it belongs to this version of the credential: marked confirmed.
    pub(super) fn confirm_cached(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
    ) -> Option<Arc<CachedToken>> {
        let cached = slot.token.load_full()?;
        if cached.org_id != credential.org_id || cached.credential_version != credential.version {
            slot.token.store(None);
            return None;
        }
        let confirmed = Arc::new(CachedToken {
            token: cached.token.clone(),
            confirmed_at: self.clock.instant(),
            basis,
            details: cached.details.clone(),
            ..*cached
        });
        slot.token.store(Some(confirmed.clone()));
        Some(confirmed)
    }

    /// The store's copy of the token, opened and cached, when it is for this version.
    pub(super) async fn stored(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
    ) -> Result<Option<Arc<CachedToken>>, CoreError> {
        let stored = self.open_stored(credential, basis).await?;
        Ok(self.remember_stored(slot, stored))
    }

    /// The store's copy of the token, when it suits a request made at `asked_at` for `wish`
    /// (this version, living long enough, and not the one a forced refresh refuses).
    pub(super) async fn stored_suiting(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
        wish: TokenWish,
        asked_at: DateTime<Utc>,
    ) -> Result<Option<Arc<CachedToken>>, CoreError> {
        let stored = self.stored(slot, credential, basis).await?;
        Ok(stored.filter(|stored| {
            stored.suits(
                credential.version,
                wish,
                asked_at,
                self.config.forced_interval,
            )
        }))
    }

    /// A token read from the store, cached in the slot when it is newer than the slot's.
    pub(super) fn remember_stored(
        &self,
        slot: &Slot,
        stored: Option<CachedToken>,
    ) -> Option<Arc<CachedToken>> {
        let stored = Arc::new(stored?);
        let newer_than_cache = slot
            .token
            .load()
            .as_ref()
            .is_none_or(|current| current.obtained_at < stored.obtained_at);
        if newer_than_cache {
            slot.token.store(Some(stored.clone()));
        }
        Some(stored)
    }

    /// The store's copy of a credential's token, opened, when it is for this version and lives.
    pub(super) async fn open_stored(
        &self,
        credential: &Credential,
        basis: i64,
    ) -> Result<Option<CachedToken>, CoreError> {
        match self.store.credential_token(credential.id).await? {
            Some(row) => self.open_row(credential, basis, row),
            None => Ok(None),
        }
    }

    /// A token row opened, when it is for this version of the credential and lives.
    pub(super) fn open_row(
        &self,
        credential: &Credential,
        basis: i64,
        row: StoredToken,
    ) -> Result<Option<CachedToken>, CoreError> {
        let (Some(ciphertext), Some(nonce), Some(expires_at), Some(obtained_at)) =
            (row.token_ct, row.nonce, row.expires_at, row.obtained_at)
        else {
            return Ok(None);
        };
        if row.credential_version != credential.version || expires_at <= self.clock.now() {
            return Ok(None);
        }
        let context = RecordContext::new(credential.org_id, credential.id);
        let data_key = self.secrets.data_key_of(credential)?;
        let sealed = Sealed { nonce, ciphertext };
        let token = open_text(&data_key, &context, Purpose::Token, &sealed)?;
        let details = TokenDetails {
            token_type: row.token_type.unwrap_or_else(|| BEARER.into()),
            metadata: match row.metadata {
                Some(serde_json::Value::Object(metadata)) => metadata,
                _ => serde_json::Map::new(),
            },
        };
        Ok(Some(CachedToken {
            org_id: credential.org_id,
            basis,
            token,
            expires_at,
            obtained_at,
            credential_version: credential.version,
            confirmed_at: self.clock.instant(),
            details: Arc::new(details),
        }))
    }
}
