//! Ending upstream what a change or a deletion of a credential leaves behind: its access
//! tokens, and for a consent the grant itself, by its refresh token. Everything here is best
//! effort and runs in the background: the change has been committed already.

use super::*;

/// A credential's tokens in clear, read while its rows (and the data key that opens them)
/// are still there.
pub struct ObsoleteTokens {
    access: Vec<SecretString>,
    /// A consent's refresh token: revoking it ends the grant where the upstream can.
    refresh: Option<SecretString>,
}

impl TokenBroker {
    /// The tokens this process and the store hold for a credential: what to end upstream
    /// once a change or a deletion makes them obsolete.
    pub async fn tokens_of(&self, credential: &Credential) -> ObsoleteTokens {
        let mut access = Vec::new();
        if let Some(cached) = self
            .slots
            .get(&credential.id)
            .and_then(|slot| slot.token.load_full())
        {
            access.push(cached.token.clone());
        }
        if let Ok(Some(stored)) = self.open_stored(credential, self.changes.applied()).await
            && access
                .iter()
                .all(|known| known.expose_secret() != stored.token.expose_secret())
        {
            access.push(stored.token.clone());
        }
        let refresh = match made_by_consent(credential) {
            true => self
                .refresh_token_of(credential)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "could not open a refresh token to end its grant");
                    None
                }),
            false => None,
        };
        ObsoleteTokens { access, refresh }
    }

    /// Drops a changed or deleted credential's tokens everywhere: this process at once, the
    /// store's copy (other replicas also drop theirs, by version, within a second), and
    /// upstream, in the background: a consent's grant is ended by its refresh token and its
    /// access tokens are logged out; a typed credential's tokens are revoked with its own
    /// secrets.
    pub fn retire(&self, credential: &Credential, obsolete: ObsoleteTokens) {
        self.forget(credential.id);
        let store = self.store.clone();
        let egress = self.egress.clone();
        let connector = self.secrets.catalogue().shared_of(credential);
        let secrets = self.secrets.clone();
        let redirect_uri = self.redirect_uri.clone();
        let owner = credential.clone();
        tokio::spawn(async move {
            if let Err(error) = store.delete_credential_token(owner.id).await {
                tracing::warn!(%error, "could not drop a stored token");
            }
            let Some(connector) = connector else {
                return;
            };
            let egress = egress.for_ports(connector.ports());
            let config = owner.config.as_object().cloned().unwrap_or_default();
            match (made_by_consent(&owner), connector.oauth()) {
                (true, Some(flow)) => {
                    let app_secrets = match login::app_settings(
                        &*store,
                        &secrets,
                        &redirect_uri,
                        &owner,
                    )
                    .await
                    {
                        Ok((_, app_secrets)) => app_secrets,
                        Err(error) => {
                            tracing::warn!(%error, "could not open an OAuth app's secrets to end a grant");
                            return;
                        }
                    };
                    if let Some(refresh) = &obsolete.refresh {
                        flow.end_grant(&egress, &config, &app_secrets, refresh)
                            .await;
                    }
                    for token in &obsolete.access {
                        flow.logout(&egress, &config, &app_secrets, token).await;
                    }
                }
                (true, None) => {}
                (false, _) => match secrets.open(&owner) {
                    Ok(own_secrets) => {
                        for token in &obsolete.access {
                            connector
                                .revoke(&egress, &config, &own_secrets, token)
                                .await;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not open a credential's secrets to revoke its tokens")
                    }
                },
            }
        });
    }

    /// Logs a replaced token's session out upstream, in the background, best effort.
    pub(super) fn retire_session(&self, credential: &Credential, token: SecretString) {
        // An OAuth logout ends the grant's refresh token too: an old access token is left to
        // expire instead, and the grant ends only when the credential is deleted.
        if made_by_consent(credential) {
            return;
        }
        let Some(connector) = self.secrets.catalogue().shared_of(credential) else {
            return;
        };
        let own_secrets = match self.secrets.open(credential) {
            Ok(own_secrets) => own_secrets,
            Err(error) => {
                tracing::warn!(%error, "could not open a credential's secrets to revoke a token");
                return;
            }
        };
        let egress = self.egress.for_ports(connector.ports());
        let config = credential.config.as_object().cloned().unwrap_or_default();
        tokio::spawn(async move {
            connector
                .revoke(&egress, &config, &own_secrets, &token)
                .await;
        });
    }
}
