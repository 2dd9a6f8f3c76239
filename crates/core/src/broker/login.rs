//! Logging in for a new token: once per credential in this process, and across replicas
//! under a fenced lease in the store; failures mark the credential or cool it down.

use super::*;

/// A request for a token as the login sees it: what was wished, when, and by whom.
#[derive(Clone, Copy)]
pub(super) struct Asked {
    pub(super) wish: TokenWish,
    pub(super) at: DateTime<Utc>,
    pub(super) asker: Asker,
}

/// What a login sends upstream: an API key's secrets, or an OAuth grant's refresh token
/// (`None` when the store holds none).
pub(super) enum LoginWith {
    Secrets(SecretFields),
    RefreshToken {
        refresh: Option<StoredRefresh>,
        /// The redirect URI of the credential's OAuth app, which the upstream wants again.
        redirect_uri: String,
        /// The app's secrets (a confidential client's secret).
        app_secrets: SecretFields,
    },
}

/// A grant's refresh token as the store holds it: opened, to send, and sealed, to compare
/// the store's with after the login (whether another refresh replaced it meanwhile).
pub(super) struct StoredRefresh {
    token: SecretString,
    sealed: Vec<u8>,
}

impl TokenBroker {
    /// Logs in for a new token, once across replicas. A replica that loses the lease waits
    /// with reads only (the store's copy, and whether the lease lapsed), and tries the lease
    /// again only once it lapsed.
    pub(super) async fn refresh(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
        asked: Asked,
    ) -> Result<IssuedToken, CoreError> {
        let Asked {
            wish, at: asked_at, ..
        } = asked;
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let give_up = self.clock.instant() + self.config.lease + Duration::from_secs(5);
        loop {
            let owner = Uuid::now_v7().to_string();
            let at = self.clock.now();
            let won = match self
                .store
                .acquire_token_lease(credential.id, credential.version, &owner, at + lease, at)
                .await
            {
                Err(StoreError::NotFound) => return Err(not_found()),
                other => other?,
            };
            if won {
                return self
                    .login_under_lease(slot, credential, basis, &owner, asked)
                    .await;
            }
            // Another replica is logging in: wait for its token, or for its lease to lapse,
            // with one read of the token row a poll.
            loop {
                self.clock.sleep(self.config.poll).await;
                let Some(row) = self.store.credential_token(credential.id).await? else {
                    break;
                };
                let lapsed = row
                    .lease_until
                    .is_none_or(|until| until <= self.clock.now());
                if row.obtained_at.is_some_and(|at| at > asked_at) {
                    let opened = self.open_row(credential, basis, row)?;
                    if let Some(stored) = self.remember_stored(slot, opened)
                        && stored.answers_force(wish, asked_at, self.config.forced_interval)
                    {
                        return fresh_enough(&stored, wish, self.clock.now(), Issuance::Stored);
                    }
                }
                if self.clock.instant() > give_up {
                    return Err(unavailable(
                        5,
                        "another replica is logging in for this credential; retry shortly".into(),
                    ));
                }
                if lapsed {
                    break;
                }
            }
        }
    }

    pub(super) async fn login_under_lease(
        &self,
        slot: &Slot,
        credential: &Credential,
        basis: i64,
        owner: &str,
        asked: Asked,
    ) -> Result<IssuedToken, CoreError> {
        let Asked {
            wish,
            at: asked_at,
            asker,
        } = asked;
        // Another replica may have written a token between our read and our win.
        if let Some(stored) = self
            .stored_suiting(slot, credential, basis, wish, asked_at)
            .await?
        {
            self.release(credential.id, owner).await;
            return Ok(stored.issue(Issuance::Stored));
        }
        // What the login needs is read here, before the call: a fault in opening it is
        // Latch's (500, logged), not the upstream's. An OAuth refresh token is read under the
        // lease, so it is the one the last holder wrote, never an older copy.
        let connector = self.secrets.connector_of(credential)?;
        let config = credential.config.as_object().cloned().unwrap_or_default();
        let with = self.login_with(credential).await?;
        let started = self.clock.instant();
        let fetched = {
            let login = self.fetch(connector, &config, &with);
            tokio::pin!(login);
            tokio::select! {
                fetched = &mut login => fetched,
                () = self.keep_lease(credential.id, owner) => login.await,
            }
        };
        self.metrics.upstream_login(
            self.clock.instant().duration_since(started),
            fetched.is_ok(),
        );

        let (mut access, lifetime, rotated) = match fetched {
            Ok(fetched) => fetched,
            Err(failure) => {
                self.release(credential.id, owner).await;
                if failure.status == ValidationStatus::Invalid
                    && self.grant_moved_on(credential, &with).await?
                {
                    // The refusal is of a refresh token another replica's refresh (or a
                    // reconnect) already replaced while this login ran, not of the grant.
                    tracing::info!(
                        credential_id = %credential.id,
                        "a refresh token was refused after another refresh replaced it"
                    );
                    if let Some(stored) = self
                        .stored_suiting(slot, credential, basis, wish, asked_at)
                        .await?
                    {
                        return Ok(stored.issue(Issuance::Stored));
                    }
                    return Err(unavailable(
                        1,
                        "the credential's grant was renewed while this refresh ran; retry".into(),
                    ));
                }
                if failure.status == ValidationStatus::Invalid {
                    slot.token.store(None);
                    let now = self.clock.instant();
                    let cool_down = self.config.cool_down.as_secs();
                    let refused = Finding::Refused {
                        detail: failure.detail.clone(),
                    };
                    self.observe_login(credential, refused, asker).await;
                    if made_by_consent(credential) {
                        let detail = format!(
                            "{} The credential now needs a new consent: connect it again \
                             (POST /v1/credentials/{}/reconnect).",
                            failure.detail, credential.id
                        );
                        slot.cool_down(now, cool_down, Failure::Reconnect(detail.clone()));
                        return Err(CoreError::ReconnectRequired(detail));
                    }
                    let detail = format!(
                        "{} The credential is now marked invalid: rotate its secret or \
                         validate it again once fixed.",
                        failure.detail
                    );
                    slot.cool_down(now, cool_down, Failure::Invalid(detail.clone()));
                    return Err(CoreError::CredentialInvalid(detail));
                }
                self.metrics.refresh_failure();
                let transient = Finding::Transient {
                    detail: failure.detail.clone(),
                };
                self.observe_login(credential, transient, asker).await;
                let wait = slot.backoff(failure.retry_after, self.config.backoff_cap);
                slot.cool_down_for(
                    self.clock.instant(),
                    wait,
                    Failure::Unavailable(failure.detail.clone()),
                );
                // Whole seconds, rounded up: a client that waits as told finds the way open.
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                tracing::warn!(credential_id = %credential.id, detail = %failure.detail, "token refresh failed");
                return self.stale_or(slot, credential, unavailable(retry_after, failure.detail));
            }
        };
        // What the identity names that jobs need (Xero's tenant id) goes with every token.
        if let Some(identity) = &credential.identity {
            access
                .metadata
                .extend(connector.identity_metadata(identity));
        }

        let obtained_at = self.clock.now();
        let expires_at = obtained_at + chrono::Duration::from_std(lifetime).unwrap_or_default();
        let context = RecordContext::new(credential.org_id, credential.id);
        // One data key for both: the token and, for an OAuth grant, its rotated refresh token.
        let data_key = self.secrets.data_key_of(credential)?;
        let sealed = seal_text(&data_key, &context, Purpose::Token, &access.token)?;
        let rotated = rotated
            .map(|refresh| seal_text(&data_key, &context, Purpose::RefreshToken, &refresh))
            .transpose()?;
        let row = NewToken {
            token_ct: sealed.ciphertext,
            nonce: sealed.nonce,
            token_type: access.token_type.clone(),
            expires_at,
            obtained_at,
            credential_version: credential.version,
            refresh_ct: rotated.as_ref().map(|sealed| sealed.ciphertext.clone()),
            refresh_nonce: rotated.map(|sealed| sealed.nonce),
            metadata: serde_json::Value::Object(access.metadata.clone()),
        };
        // An error writing is logged and the token handed out all the same; a lost lease
        // keeps the token only when it carries the grant's one working refresh token.
        let written = match self.store.store_token(credential.id, owner, &row).await {
            Ok(true) => true,
            Ok(false) => self.kept_rotated(credential, &with, &row).await,
            Err(error) => {
                tracing::error!(%error, "could not store a token");
                true
            }
        };
        if !written {
            // The lease lapsed during the login and another replica took over: its token is
            // the credential's now. This session would be one more left open upstream.
            tracing::warn!(
                credential_id = %credential.id,
                "the refresh lease lapsed during the login; logging that session out"
            );
            self.retire_session(credential, access.token);
            if let Some(stored) = self.stored(slot, credential, basis).await?
                && stored.obtained_at > asked_at
            {
                return fresh_enough(&stored, wish, self.clock.now(), Issuance::Stored);
            }
            return Err(unavailable(
                5,
                "another replica took over the login for this credential; retry shortly".into(),
            ));
        }
        let cached = Arc::new(CachedToken {
            org_id: credential.org_id,
            basis,
            token: access.token,
            expires_at,
            obtained_at,
            credential_version: credential.version,
            confirmed_at: self.clock.instant(),
            details: Arc::new(TokenDetails {
                token_type: access.token_type,
                metadata: access.metadata,
            }),
        });
        let replaced = slot.token.swap(Some(cached.clone()));
        if wish.force_refresh
            && let Some(replaced) = replaced
            && replaced.token.expose_secret() != cached.token.expose_secret()
        {
            // The job says the upstream refused it; whatever session is left behind it, end it.
            self.retire_session(credential, replaced.token.clone());
        }
        *slot.cool_down.lock().unwrap_or_else(|p| p.into_inner()) = None;
        slot.failures.store(0, std::sync::atomic::Ordering::Relaxed);
        let healthy = Finding::Healthy {
            detail: None,
            identity: None,
        };
        self.observe_login(credential, healthy, asker).await;
        fresh_enough(&cached, wish, obtained_at, Issuance::Refreshed)
    }

    /// What a login of this credential sends upstream.
    pub(super) async fn login_with(&self, credential: &Credential) -> Result<LoginWith, CoreError> {
        if made_by_consent(credential) {
            let (redirect_uri, app_secrets) = self.app_settings_of(credential).await?;
            Ok(LoginWith::RefreshToken {
                refresh: self.stored_refresh(credential).await?,
                redirect_uri,
                app_secrets,
            })
        } else {
            Ok(LoginWith::Secrets(self.secrets.open(credential)?))
        }
    }

    /// A new access token from the upstream, how long it lives, and a rotated refresh token
    /// when the login is an OAuth refresh and the answer carries one.
    pub(super) async fn fetch(
        &self,
        connector: &dyn Connector,
        config: &Fields,
        with: &LoginWith,
    ) -> Result<(AccessToken, Duration, Option<SecretString>), UpstreamError> {
        let egress = self.egress.for_ports(connector.ports());
        let (access, rotated) = match with {
            LoginWith::Secrets(secrets) => {
                (connector.fetch_token(&egress, config, secrets).await?, None)
            }
            LoginWith::RefreshToken { refresh: None, .. } => {
                return Err(UpstreamError::invalid(
                    "the credential holds no refresh token",
                ));
            }
            LoginWith::RefreshToken {
                refresh: Some(refresh),
                redirect_uri,
                app_secrets,
            } => {
                let flow = connector
                    .oauth()
                    .ok_or_else(|| UpstreamError::error("the connector no longer offers OAuth"))?;
                let grant = flow
                    .refresh(&egress, config, app_secrets, &refresh.token, redirect_uri)
                    .await?;
                (grant.access, grant.refresh_token)
            }
        };
        let lifetime = lifetime_of(connector, &access)?;
        Ok((access, lifetime, rotated))
    }

    /// The redirect URI and app secrets of the credential's grant ([`app_settings`]).
    pub(super) async fn app_settings_of(
        &self,
        credential: &Credential,
    ) -> Result<(String, SecretFields), CoreError> {
        app_settings(&*self.store, &self.secrets, &self.redirect_uri, credential).await
    }

    /// The stored refresh token of an OAuth credential, opened.
    pub(super) async fn refresh_token_of(
        &self,
        credential: &Credential,
    ) -> Result<Option<SecretString>, CoreError> {
        Ok(self
            .stored_refresh(credential)
            .await?
            .map(|refresh| refresh.token))
    }

    /// The stored refresh token of an OAuth credential, opened and as stored.
    async fn stored_refresh(
        &self,
        credential: &Credential,
    ) -> Result<Option<StoredRefresh>, CoreError> {
        let Some(row) = self.store.credential_token(credential.id).await? else {
            return Ok(None);
        };
        let (Some(ciphertext), Some(nonce)) = (row.refresh_ct, row.refresh_nonce) else {
            return Ok(None);
        };
        let context = RecordContext::new(credential.org_id, credential.id);
        let data_key = self.secrets.data_key_of(credential)?;
        let sealed = Sealed {
            nonce,
            ciphertext: ciphertext.clone(),
        };
        let token = open_text(&data_key, &context, Purpose::RefreshToken, &sealed)?;
        Ok(Some(StoredRefresh {
            token,
            sealed: ciphertext,
        }))
    }

    /// Whether the store's refresh token is no longer the one this login spent: another
    /// replica's refresh, or a reconnect, replaced it while the login ran.
    async fn grant_moved_on(
        &self,
        credential: &Credential,
        with: &LoginWith,
    ) -> Result<bool, CoreError> {
        let LoginWith::RefreshToken {
            refresh: Some(spent),
            ..
        } = with
        else {
            return Ok(false);
        };
        let row = self.store.credential_token(credential.id).await?;
        Ok(row.and_then(|row| row.refresh_ct).as_deref() != Some(spent.sealed.as_slice()))
    }

    /// After a lost lease: writes the token all the same when its login spent a refresh token
    /// that the upstream rotated and the store still holds the spent one (no refresh since),
    /// so that the rotated one, the only one left that works, is not lost. Whether it did.
    async fn kept_rotated(
        &self,
        credential: &Credential,
        with: &LoginWith,
        row: &NewToken,
    ) -> bool {
        let (
            Some(_),
            LoginWith::RefreshToken {
                refresh: Some(spent),
                ..
            },
        ) = (&row.refresh_ct, with)
        else {
            return false;
        };
        match self
            .store
            .store_rotated_token(credential.id, &spent.sealed, row)
            .await
        {
            Ok(kept) => {
                if kept {
                    tracing::warn!(
                        credential_id = %credential.id,
                        "the refresh lease lapsed during the login; its rotated refresh token was kept"
                    );
                }
                kept
            }
            Err(error) => {
                tracing::error!(%error, "could not keep a rotated refresh token");
                false
            }
        }
    }

    /// Renews `owner`'s lease every third of its length, for as long as the login under it
    /// runs; returns (and stops renewing) once the lease is lost, and then the login's late
    /// write will be refused.
    pub(super) async fn keep_lease(&self, credential_id: Uuid, owner: &str) {
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        loop {
            self.clock.sleep(self.config.lease / 3).await;
            let until = self.clock.now() + lease;
            match self
                .store
                .renew_token_lease(credential_id, owner, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                // A store that cannot be reached now may answer at the next turn.
                Err(error) => tracing::warn!(%error, "could not renew a token lease"),
            }
        }
    }

    pub(super) async fn release(&self, credential_id: Uuid, owner: &str) {
        if let Err(error) = self.store.release_token_lease(credential_id, owner).await {
            tracing::warn!(%error, "could not release a token lease; it lapses by itself");
        }
    }

    /// A token that still lives (below `min_ttl`, but better than failing the job), or `error`.
    pub(super) fn stale_or(
        &self,
        slot: &Slot,
        credential: &Credential,
        error: CoreError,
    ) -> Result<IssuedToken, CoreError> {
        match slot.token.load_full() {
            Some(cached)
                if cached.credential_version == credential.version
                    && cached.alive(self.clock.now()) =>
            {
                Ok(cached.issue(Issuance::Stale))
            }
            _ => Err(error),
        }
    }

    /// Writes what a login for a token found to the credential's health, unless a check asked
    /// (it writes what it found itself). A failure to write is logged: the job's answer does
    /// not wait on it.
    pub(super) async fn observe_login(
        &self,
        credential: &Credential,
        finding: Finding,
        asker: Asker,
    ) {
        if asker == Asker::Check {
            return;
        }
        let audit = finding.refusal_event(credential, "token refresh");
        let observation = Observation {
            finding,
            cause: HealthCause::Token,
            at: self.clock.now(),
            audit,
        };
        // A credential changed meanwhile (`None`): its new settings decide, not this login.
        if let Err(error) = observe(
            &*self.store,
            self.config.health,
            credential,
            observation,
            None,
        )
        .await
        {
            tracing::error!(%error, credential_id = %credential.id, "could not record a credential's health");
        }
    }
}

/// The redirect URI the credential's grant was made with (its OAuth app's own, or the shared
/// one for an app still on it and for a credential without an app), and the app's secrets,
/// opened.
pub(super) async fn app_settings(
    store: &dyn Store,
    secrets: &Secrets,
    shared_redirect_uri: &str,
    credential: &Credential,
) -> Result<(String, SecretFields), CoreError> {
    let app = match credential.oauth_app_id {
        Some(app_id) => store.get_oauth_app(credential.org_id, app_id).await?,
        None => None,
    };
    Ok(match app {
        Some(app) => (
            app_redirect_uri(shared_redirect_uri, &app),
            secrets.open_app(&app)?,
        ),
        None => (
            shared_redirect_uri.to_string(),
            SecretFields::new(Default::default()),
        ),
    })
}
