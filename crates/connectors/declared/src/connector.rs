//! A declared provider served as a connector: the client credentials grant for credentials a
//! person types, and the authorization code grant (with PKCE where declared) for consents,
//! both through the token endpoint call every OAuth grant shares.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use latch_connector::oauth::{OAuthFlow, OAuthGrant};
use latch_connector::token_endpoint::{self, ClientAuth, TokenEndpoint, TokenHint};
use latch_connector::{
    AccessToken, AuthMethod, Connector, EgressClient, FieldError, FieldSpec, Fields, SecretFields,
    UpstreamError, ValidationOutcome, ValidationPolicy, check_section, jwt_bearer,
};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use crate::rules::{
    CLIENT_ID, CLIENT_SECRET, ClientAuthRule, ISSUER, JwtBearer, PRIVATE_KEY, Provider, SCOPES,
    SUBJECT, client_auth_named,
};

/// A provider from a declaration file, as one of the methods a person types (or none, for a
/// consent-only provider); consent is the same flow in each.
#[derive(Debug)]
pub struct DeclaredConnector {
    provider: Arc<Provider>,
    typed: Option<AuthMethod>,
}

impl DeclaredConnector {
    /// One connector per method a person types, in the declaration's order; one without such
    /// a method when the provider offers consent only.
    pub fn per_method(provider: Provider) -> Vec<Self> {
        let provider = Arc::new(provider);
        let typed: Vec<AuthMethod> = provider
            .methods
            .iter()
            .copied()
            .filter(|method| method.is_typed())
            .collect();
        match typed.is_empty() {
            true => vec![Self {
                provider,
                typed: None,
            }],
            false => typed
                .into_iter()
                .map(|method| Self {
                    provider: provider.clone(),
                    typed: Some(method),
                })
                .collect(),
        }
    }

    /// The service account settings, when this connector is the provider's JWT bearer one.
    fn jwt(&self) -> Option<&JwtBearer> {
        match self.typed {
            Some(AuthMethod::JwtBearer) => self.provider.jwt_bearer.as_ref(),
            _ => None,
        }
    }

    fn text<'a>(config: &'a Fields, name: &str) -> &'a str {
        config.get(name).and_then(Value::as_str).unwrap_or_default()
    }

    /// The token endpoint for `config`, the client authenticated with `secrets`.
    fn endpoint<'a>(
        &'a self,
        config: &'a Fields,
        secret: &'a Option<SecretString>,
    ) -> Result<TokenEndpoint<'a>, UpstreamError> {
        Ok(TokenEndpoint {
            url: self.provider.token.render(config)?,
            client_id: Self::text(config, CLIENT_ID),
            client_secret: secret.as_ref(),
            auth: self.client_auth(config),
            upstream: self.provider.name,
            keep: self.provider.keep,
        })
    }

    fn client_auth(&self, config: &Fields) -> ClientAuth {
        match self.provider.client_auth {
            ClientAuthRule::Fixed(method) => method,
            // The setting was checked against the field's choices when it was saved.
            ClientAuthRule::Field(name) => {
                client_auth_named(Self::text(config, name)).unwrap_or(ClientAuth::ClientSecretBasic)
            }
        }
    }

    fn client_secret(&self, secrets: &SecretFields) -> Option<SecretString> {
        secrets
            .get(CLIENT_SECRET)
            .map(|secret| SecretString::from(secret.to_string()))
    }

    fn scope(config: &Fields) -> Option<&str> {
        config
            .get(SCOPES)
            .and_then(Value::as_str)
            .filter(|scope| !scope.is_empty())
    }

    /// Who a token acts for, by the declared identity request; without one, that the token
    /// was granted is all there is to say.
    async fn who(
        &self,
        egress: &EgressClient,
        config: &Fields,
        token: &SecretString,
    ) -> ValidationOutcome {
        let Some(identity) = &self.provider.identity else {
            return ValidationOutcome::valid(
                format!("connected to {}", self.provider.name),
                json!({}),
            );
        };
        let url = match identity.url.render_if_set(config) {
            Ok(Some(url)) => url,
            Ok(None) => {
                return ValidationOutcome::valid(
                    format!("connected to {}", self.provider.name),
                    json!({}),
                );
            }
            Err(error) => return error.into_outcome(),
        };
        match self.get_identity(egress, url, token).await {
            Ok(found) => {
                let label = self.identity_label(&found);
                let detail = match label {
                    Some(who) => format!("connected to {} as {who}", self.provider.name),
                    None => format!("connected to {}", self.provider.name),
                };
                ValidationOutcome::valid(detail, found)
            }
            Err(error) => error.into_outcome(),
        }
    }

    async fn get_identity(
        &self,
        egress: &EgressClient,
        url: Url,
        token: &SecretString,
    ) -> Result<Value, UpstreamError> {
        let host = url.origin().ascii_serialization();
        let request = egress
            .request(Method::GET, url)
            .map_err(|error| UpstreamError::from_egress(&host, error))?
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()));
        let response = egress
            .execute(request)
            .await
            .map_err(|error| UpstreamError::from_egress(&host, error))?;
        match response.status {
            StatusCode::OK => serde_json::from_slice(&response.body).map_err(|_| {
                UpstreamError::error(format!(
                    "{host} answered the identity request with something that is not JSON"
                ))
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(UpstreamError::invalid(format!(
                    "{} refused the new token at its identity request (HTTP {}); check the \
                     scopes",
                    self.provider.name,
                    response.status.as_u16()
                )))
            }
            status => {
                let mut error = UpstreamError::error(format!(
                    "{host} answered the identity request with HTTP {}",
                    status.as_u16()
                ));
                error.retry_after = response.retry_after();
                Err(error)
            }
        }
    }

    /// An assertion signed with the service account's key, traded for a token (RFC 7523).
    async fn assertion_grant(
        &self,
        egress: &EgressClient,
        jwt: &JwtBearer,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        let token_url = self.provider.token.render(config)?;
        let audience = match &jwt.audience {
            // A bare origin is written as the provider writes it, with no `/` after the host
            // (Salesforce's `https://login.salesforce.com`): `aud` is compared as a string.
            Some(template) => match template.render(config)? {
                url if url.path() == "/" && url.query().is_none() => {
                    url.origin().ascii_serialization()
                }
                url => url.to_string(),
            },
            None => token_url.to_string(),
        };
        let key = SecretString::from(secrets.get(PRIVATE_KEY).unwrap_or_default().to_string());
        let claims = jwt_bearer::Claims {
            issuer: Self::text(config, ISSUER),
            subject: config
                .get(SUBJECT)
                .and_then(Value::as_str)
                .filter(|subject| !subject.is_empty()),
            audience: &audience,
            scope: Self::scope(config).filter(|_| jwt.scope_claim),
            lifetime: jwt.lifetime,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        let assertion = jwt_bearer::sign(&key, &claims, now)?;
        let endpoint = TokenEndpoint {
            url: token_url,
            client_id: "",
            client_secret: None,
            auth: ClientAuth::Unauthenticated,
            upstream: self.provider.name,
            keep: self.provider.keep,
        };
        jwt_bearer::exchange(egress, &endpoint, &assertion)
            .await
            .map(|grant| grant.access)
    }

    /// Who the credential a person typed acts as: its client, or its service account.
    fn typed_identity(&self, config: &Fields) -> (String, Value) {
        match self.jwt() {
            Some(_) => {
                let issuer = Self::text(config, ISSUER);
                (
                    format!("service account {issuer}"),
                    json!({"issuer": issuer}),
                )
            }
            None => {
                let client = Self::text(config, CLIENT_ID);
                (format!("client {client}"), json!({"client_id": client}))
            }
        }
    }

    /// Revokes `token` where the provider has an RFC 7009 endpoint. Best effort.
    async fn revoke_at_provider(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
        token: &SecretString,
        hint: TokenHint,
    ) {
        let Some(revocation) = &self.provider.revocation else {
            return;
        };
        let secret = self.client_secret(secrets);
        let endpoint = match (
            revocation.render_if_set(config),
            self.endpoint(config, &secret),
        ) {
            (Ok(Some(url)), Ok(endpoint)) => TokenEndpoint { url, ..endpoint },
            (Ok(None), _) => return,
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(provider = self.provider.id, detail = %error.detail, "could not revoke a token");
                return;
            }
        };
        if let Err(error) = token_endpoint::revoke(egress, &endpoint, token, hint).await {
            tracing::warn!(provider = self.provider.id, detail = %error.detail, "could not revoke a token");
        }
    }
}

#[async_trait]
impl Connector for DeclaredConnector {
    fn id(&self) -> &'static str {
        self.provider.id
    }
    fn name(&self) -> &'static str {
        self.provider.name
    }
    fn description(&self) -> &'static str {
        self.provider.description
    }
    fn docs_url(&self) -> &'static str {
        self.provider.docs_url
    }
    fn config_fields(&self) -> &'static [FieldSpec] {
        match self.jwt() {
            Some(jwt) => jwt.settings,
            None => self.provider.settings,
        }
    }
    fn secret_fields(&self) -> &'static [FieldSpec] {
        match self.jwt() {
            Some(jwt) => jwt.secrets,
            None => self.provider.secrets,
        }
    }
    fn auth_methods(&self) -> &'static [AuthMethod] {
        self.provider.methods
    }
    fn typed_method(&self) -> Option<AuthMethod> {
        self.typed
    }
    fn ports(&self) -> &'static [u16] {
        self.provider.ports
    }
    fn default_token_lifetime(&self) -> Option<Duration> {
        self.provider.lifetime
    }

    fn identity_label(&self, identity: &Value) -> Option<String> {
        let pointer = self.provider.identity.as_ref()?.label.as_deref()?;
        match identity.pointer(pointer)? {
            Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    fn identity_metadata(&self, identity: &Value) -> serde_json::Map<String, Value> {
        let Some(declared) = &self.provider.identity else {
            return serde_json::Map::new();
        };
        declared
            .keep
            .iter()
            .filter_map(|(name, pointer)| match identity.pointer(pointer)? {
                value @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
                    Some((name.clone(), value.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// A service account's key must be one it can sign with: checked when it is saved.
    fn validate_secrets(
        &self,
        secrets: &Value,
        policy: ValidationPolicy,
    ) -> Result<Fields, Vec<FieldError>> {
        let fields = check_section("secrets", Connector::secret_fields(self), secrets, policy)?;
        if self.jwt().is_some()
            && let Some(Value::String(pem)) = fields.get(PRIVATE_KEY)
            && let Err(why) = jwt_bearer::check_private_key(&SecretString::from(pem.to_string()))
        {
            return Err(vec![FieldError::new(format!("secrets.{PRIVATE_KEY}"), why)]);
        }
        Ok(fields)
    }

    /// The client credentials grant, or a service account's signed assertion.
    async fn fetch_token(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        if let Some(jwt) = self.jwt() {
            return self.assertion_grant(egress, jwt, config, secrets).await;
        }
        let secret = self.client_secret(secrets);
        let endpoint = self.endpoint(config, &secret)?;
        token_endpoint::client_credentials(egress, &endpoint, Self::scope(config))
            .await
            .map(|grant| grant.access)
    }

    /// A real grant proves the client's ID and secret. (The identity request is a consent's:
    /// providers' identity endpoints answer for a person, whom a client acting for itself is
    /// not.)
    async fn test_login(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> ValidationOutcome {
        match self.fetch_token(egress, config, secrets).await {
            Ok(access) => {
                // A client ends the token it tried; a service account's lapses on its own
                // (the revocation endpoint authenticates clients, which it is not).
                if self.jwt().is_none() {
                    self.revoke_at_provider(
                        egress,
                        config,
                        secrets,
                        &access.token,
                        TokenHint::AccessToken,
                    )
                    .await;
                }
                let (who, identity) = self.typed_identity(config);
                ValidationOutcome::valid(
                    format!("{} granted a token to {who}", self.provider.name),
                    identity,
                )
            }
            Err(error) => error.into_outcome(),
        }
    }

    /// A client credentials token is revoked with the client's own secret. A JWT bearer token
    /// is left to expire (an hour at most): it is no grant, and the revocation endpoints of
    /// the providers offering it are documented for the grants of people.
    async fn revoke(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
        token: &SecretString,
    ) {
        if self.jwt().is_none() {
            self.revoke_at_provider(egress, config, secrets, token, TokenHint::AccessToken)
                .await;
        }
    }

    fn oauth(&self) -> Option<&dyn OAuthFlow> {
        self.provider
            .methods
            .contains(&AuthMethod::OauthAuthorizationCode)
            .then_some(self as &dyn OAuthFlow)
    }
}

#[async_trait]
impl OAuthFlow for DeclaredConnector {
    /// An app is for consent: the settings its consent URL takes are required, even those a
    /// credential of the client credentials grant may leave out.
    fn config_fields(&self) -> &'static [FieldSpec] {
        self.provider.app_settings
    }

    fn secret_fields(&self) -> &'static [FieldSpec] {
        self.provider.app_secrets
    }

    /// The token endpoint and the client ID name the client.
    fn upstream_client(&self, config: &Fields) -> Vec<String> {
        vec![
            self.provider
                .token
                .render(config)
                .map(String::from)
                .unwrap_or_default(),
            Self::text(config, CLIENT_ID).to_string(),
        ]
    }

    fn authorization_url(
        &self,
        config: &Fields,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<Url, UpstreamError> {
        let template = self.provider.authorization.as_ref().ok_or_else(|| {
            UpstreamError::error(format!("{} offers no consent", self.provider.name))
        })?;
        let mut url = template.render(config)?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", Self::text(config, CLIENT_ID))
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state);
            if let Some(scope) = Self::scope(config) {
                query.append_pair("scope", scope);
            }
            if self.provider.pkce {
                query
                    .append_pair("code_challenge", code_challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            for (name, value) in &self.provider.authorization_params {
                query.append_pair(name, value);
            }
        }
        Ok(url)
    }

    async fn exchange_code(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        code: &SecretString,
        verifier: &SecretString,
        redirect_uri: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let secret = self.client_secret(app_secrets);
        let endpoint = self.endpoint(config, &secret)?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", redirect_uri),
        ];
        if self.provider.pkce {
            form.push(("code_verifier", verifier.expose_secret()));
        }
        token_endpoint::request_token(egress, &endpoint, &form).await
    }

    async fn refresh(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        refresh_token: &SecretString,
        _redirect_uri: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let secret = self.client_secret(app_secrets);
        let endpoint = self.endpoint(config, &secret)?;
        // No `scope`: RFC 6749 §6 keeps the scope first granted when it is left out.
        token_endpoint::refresh(egress, &endpoint, refresh_token, None).await
    }

    async fn identify(
        &self,
        egress: &EgressClient,
        config: &Fields,
        token: &SecretString,
    ) -> ValidationOutcome {
        self.who(egress, config, token).await
    }

    async fn logout(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        token: &SecretString,
    ) {
        self.revoke_at_provider(egress, config, app_secrets, token, TokenHint::AccessToken)
            .await;
    }

    /// Revoking the refresh token ends the grant and, where the server supports it, every
    /// access token it gave (RFC 7009 §2.1).
    async fn end_grant(
        &self,
        egress: &EgressClient,
        config: &Fields,
        app_secrets: &SecretFields,
        refresh_token: &SecretString,
    ) {
        self.revoke_at_provider(
            egress,
            config,
            app_secrets,
            refresh_token,
            TokenHint::RefreshToken,
        )
        .await;
    }
}
