//! A refresh token the upstream rotates, when a refresh outlives its lease: the stalled
//! holder and its successor spend the same refresh token, the upstream takes it once, and
//! neither the rotated one nor the credential's status is lost whichever answers first.

use super::*;
use latch_connector::oauth::OAuthGrant;

#[async_trait]
impl OAuthFlow for FakeConnector {
    fn config_fields(&self) -> &'static [FieldSpec] {
        &[]
    }

    fn authorization_url(
        &self,
        _: &Fields,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<url::Url, UpstreamError> {
        unreachable!("the broker never starts a consent")
    }

    async fn exchange_code(
        &self,
        _: &EgressClient,
        _: &Fields,
        _: &SecretFields,
        _: &SecretString,
        _: &SecretString,
        _: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        unreachable!("the broker never exchanges a code")
    }

    async fn refresh(
        &self,
        _: &EgressClient,
        _: &Fields,
        _: &SecretFields,
        refresh_token: &SecretString,
        _: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let n = self.0.logins.fetch_add(1, Ordering::SeqCst) + 1;
        if self.0.gated {
            self.0.held(n).await;
        }
        // Checked and rotated when the upstream answers, in the order it answers.
        let mut current = self.0.refresh_token.lock().unwrap();
        if refresh_token.expose_secret() != current.as_str() {
            return Err(UpstreamError {
                status: ValidationStatus::Invalid,
                detail: "invalid_grant: the refresh token is not valid".into(),
                retry_after: None,
                blocked: false,
            });
        }
        *current = format!("r-{n}");
        Ok(OAuthGrant {
            access: AccessToken::new(SecretString::from(format!("t-{n}")), "Bearer", Some(3600)),
            refresh_token: Some(SecretString::from(current.clone())),
        })
    }

    async fn identify(&self, _: &EgressClient, _: &Fields, _: &SecretString) -> ValidationOutcome {
        unreachable!("the broker never asks who a token is")
    }

    async fn logout(&self, _: &EgressClient, _: &Fields, _: &SecretFields, token: &SecretString) {
        self.0
            .revoked
            .lock()
            .unwrap()
            .push(token.expose_secret().to_string());
    }
}

impl World {
    /// A credential made by consent, whose grant's refresh token `r-0` is in the store (with
    /// an access token that expired an hour ago).
    async fn with_grant(gated: bool) -> Self {
        let world = Self::create(gated, AuthMethod::OauthAuthorizationCode).await;
        let context = RecordContext::new(world.org_id, world.credential_id);
        let credential = world
            .store
            .get_credential(world.org_id, world.credential_id)
            .await
            .unwrap()
            .unwrap();
        let wrapped = latch_vault::WrappedKey {
            kek_id: credential.kek_id.clone(),
            bytes: credential.wrapped_dek.clone(),
        };
        let data_key = world.keyring.unwrap_data_key(&context, &wrapped).unwrap();
        let access = data_key.seal(&context, Purpose::Token, b"t-0").unwrap();
        let refresh = data_key
            .seal(&context, Purpose::RefreshToken, b"r-0")
            .unwrap();
        let now = world.time.now();
        let hour = chrono::Duration::hours(1);
        assert!(
            world
                .store
                .acquire_token_lease(world.credential_id, 1, "consent", now + hour, now)
                .await
                .unwrap()
        );
        let token = latch_store::NewToken {
            token_ct: access.ciphertext,
            nonce: access.nonce,
            token_type: "Bearer".into(),
            expires_at: now - hour,
            obtained_at: now - hour - hour,
            credential_version: credential.version,
            refresh_ct: Some(refresh.ciphertext),
            refresh_nonce: Some(refresh.nonce),
            metadata: json!({}),
        };
        let stored = world
            .store
            .store_token(world.credential_id, "consent", &token);
        assert!(stored.await.unwrap());
        world
    }

    /// The credential's status in the store.
    async fn status(&self) -> CredentialStatus {
        let credential = self.store.get_credential(self.org_id, self.credential_id);
        credential.await.unwrap().unwrap().status
    }
}

#[tokio::test]
async fn a_refresh_that_outlives_its_lease_keeps_the_rotated_token_and_its_successor_hands_it_out()
{
    // Both refreshes spend r-0, the refresh token the store holds.
    let world = Arc::new(World::with_grant(true).await);
    let (successor, late, taken_over) = a_lease_lapses_mid_login(&world).await;
    // The upstream answers the stalled refresh first: r-0 becomes r-1, and the successor's
    // r-0 is refused.
    world.upstream.release(1);
    assert_eq!(late.await.unwrap().unwrap(), "t-1");
    world.upstream.release(2);
    until_with_time(&world.time, "the successor's answer", || {
        taken_over.is_finished()
    })
    .await;
    assert_eq!(taken_over.await.unwrap().unwrap(), "t-1");
    assert_eq!(world.status().await, CredentialStatus::Valid);
    assert!(world.upstream.revoked.lock().unwrap().is_empty());

    // The kept refresh token is the one that works: once t-1 runs short, r-1 refreshes it.
    world.time.advance(Duration::from_secs(3400)).await;
    world.upstream.release(3);
    assert_eq!(world.token(&successor, wish(300)).await.unwrap(), "t-3");
    assert_eq!(*world.upstream.refresh_token.lock().unwrap(), "r-3");
}

#[tokio::test]
async fn a_refresh_refused_because_another_replica_rotated_its_token_hands_out_that_token() {
    // Both refreshes spend r-0, the refresh token the store holds.
    let world = Arc::new(World::with_grant(true).await);
    let (successor, late, taken_over) = a_lease_lapses_mid_login(&world).await;
    // The upstream answers the successor first: r-0 becomes r-2, and the stalled refresh's
    // r-0 is refused. That refusal is of a spent token, not of the grant.
    world.upstream.release(2);
    until_with_time(&world.time, "the successor's answer", || {
        taken_over.is_finished()
    })
    .await;
    assert_eq!(taken_over.await.unwrap().unwrap(), "t-2");
    world.upstream.release(1);
    assert_eq!(late.await.unwrap().unwrap(), "t-2");
    assert_eq!(
        world.status().await,
        CredentialStatus::Valid,
        "no new consent is asked for"
    );

    world.time.advance(Duration::from_secs(3400)).await;
    world.upstream.release(3);
    assert_eq!(world.token(&successor, wish(300)).await.unwrap(), "t-3");
}
