//! The OAuth 2 authorization code grant with PKCE, for connectors that offer it as a second
//! way to make a credential: a person approves Latch on the upstream's consent screen and
//! Latch keeps the tokens.

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use crate::{
    AccessToken, EgressClient, FieldSpec, Fields, SecretFields, UpstreamError, ValidationOutcome,
};

/// What a code exchange or a refresh gives.
pub struct OAuthGrant {
    pub access: AccessToken,
    /// A new refresh token, when the answer carries one: it replaces the old one, which may
    /// already be dead (rotation).
    pub refresh_token: Option<SecretString>,
}

impl std::fmt::Debug for OAuthGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthGrant")
            .field("access", &self.access)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// A connector's OAuth side.
#[async_trait]
pub trait OAuthFlow: Send + Sync + 'static {
    /// The settings of an OAuth credential (no secrets: the tokens are Latch's to keep).
    fn config_fields(&self) -> &'static [FieldSpec];

    /// The secrets of an app (a confidential client's secret): sealed with the app, never
    /// returned, and handed to each token call as `app_secrets`. None by default (a public
    /// client, such as Looker's OAuth client apps).
    fn secret_fields(&self) -> &'static [FieldSpec] {
        &[]
    }

    /// Connector-specific normalisation of a config whose fields passed the generic checks.
    fn normalize_config(&self, config: Fields) -> Result<Fields, Vec<crate::FieldError>> {
        Ok(config)
    }

    /// What names the client at the upstream among an app's settings (for Looker: the API
    /// host and the client ID). Two apps with the same values are the same upstream client;
    /// by default every setting counts.
    fn upstream_client(&self, config: &Fields) -> Vec<String> {
        config.values().map(|value| value.to_string()).collect()
    }

    /// The consent URL a browser is sent to, with an S256 code challenge.
    fn authorization_url(
        &self,
        config: &Fields,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<Url, UpstreamError>;

    /// Trades an authorization code and its PKCE verifier for tokens.
    async fn exchange_code(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        code: &SecretString,
        verifier: &SecretString,
        redirect_uri: &str,
    ) -> Result<OAuthGrant, UpstreamError>;

    /// A new access token (and perhaps a new refresh token) from a refresh token. A refusal
    /// of the grant itself is `Invalid`: the person must consent again.
    async fn refresh(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        refresh_token: &SecretString,
        redirect_uri: &str,
    ) -> Result<OAuthGrant, UpstreamError>;

    /// Who an access token acts for.
    async fn identify(
        &self,
        egress: &EgressClient,
        config: &Fields,
        token: &SecretString,
    ) -> ValidationOutcome;

    /// Ends the grant upstream. Best effort.
    async fn logout(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        token: &SecretString,
    );

    /// Ends the grant by its refresh token, when a deleted credential leaves it behind. Best
    /// effort. By default nothing: a connector whose logout ends the grant needs no more.
    async fn end_grant(
        &self,
        _egress: &EgressClient,
        _config: &Fields,
        _app_secrets: &SecretFields,
        _refresh_token: &SecretString,
    ) {
    }
}
