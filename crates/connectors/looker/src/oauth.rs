//! Looker's OAuth 2 authorization code grant with PKCE: the consent URL on the web host, the
//! code exchange and the refresh on the API host (`POST /api/token`, form-encoded), and the
//! logout that ends both the access and the refresh token (`DELETE /api/logout`).
//!
//! Looker's OAuth client apps have no secret: the code verifier is what proves the exchange
//! comes from whoever asked for the code. Refresh tokens are treated as rotating: when an
//! answer carries a new one, the old one may already be dead.

use async_trait::async_trait;
use latch_connector::oauth::OAuthFlow;
pub use latch_connector::oauth::OAuthGrant;
use latch_connector::{
    AccessToken, EgressClient, FieldError, FieldKind, FieldSpec, Fields, SecretFields,
    UpstreamError, ValidationOutcome,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::LookerApi;

/// The settings of an OAuth credential: where people open Looker (its consent screen), where
/// its API is, and the OAuth client app's ID; a form asks in this order.
pub const OAUTH_CONFIG_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "ui_host_url",
        title: "Web Host URL",
        help: "The address people open Looker at in a browser, where the consent screen is \
               shown. Latch sends browsers there and never calls it itself.",
        kind: FieldKind::HostUrl,
        max_len: 2048,
        example: "https://acme.cloud.looker.com",
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    },
    FieldSpec {
        name: "api_host_url",
        title: "API Host URL",
        help: "The address of your Looker instance's API, such as https://acme.cloud.looker.com. \
               Older instances answer on port 19999: include it when yours does.",
        kind: FieldKind::HostUrl,
        max_len: 2048,
        example: "https://acme.cloud.looker.com",
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    },
    FieldSpec {
        name: "client_id",
        title: "Client ID",
        help: "The client_guid of the OAuth client app registered in Looker \
               (register_oauth_client_app) with Latch's callback as its redirect URI.",
        kind: FieldKind::Text,
        max_len: 256,
        example: "latch-production",
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    },
];

/// Looker's side of the OAuth grant, as the catalogue sees it.
pub struct LookerOAuth;

#[async_trait]
impl OAuthFlow for LookerOAuth {
    fn config_fields(&self) -> &'static [FieldSpec] {
        OAUTH_CONFIG_FIELDS
    }

    /// Both hosts keep only scheme, host and port, as for an API key credential.
    fn normalize_config(&self, mut config: Fields) -> Result<Fields, Vec<FieldError>> {
        let mut errors = Vec::new();
        for name in ["api_host_url", "ui_host_url"] {
            if let Some(Value::String(host)) = config.get(name) {
                match crate::api_origin(host) {
                    Some(origin) => {
                        config.insert(name.into(), Value::String(origin));
                    }
                    None => errors.push(FieldError::new(
                        format!("config.{name}"),
                        "must be an absolute URL such as https://acme.cloud.looker.com",
                    )),
                }
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Tokens come from the API host for the client ID; the web host only shows the consent.
    fn upstream_client(&self, config: &Fields) -> Vec<String> {
        ["api_host_url", "client_id"]
            .iter()
            .map(|name| config.get(*name).map(Value::to_string).unwrap_or_default())
            .collect()
    }

    /// `{ui_host_url}/auth?...` with an S256 challenge.
    fn authorization_url(
        &self,
        config: &Fields,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<Url, UpstreamError> {
        let mut url = config
            .get("ui_host_url")
            .and_then(Value::as_str)
            .and_then(|host| Url::parse(host).ok())
            .ok_or_else(|| UpstreamError::error("the credential has no valid web host URL"))?;
        url.set_path("/auth");
        url.set_fragment(None);
        url.query_pairs_mut()
            .clear()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id(config))
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    async fn exchange_code(
        &self,
        egress: &EgressClient,
        config: &Fields,
        _app_secrets: &SecretFields,
        code: &SecretString,
        verifier: &SecretString,
        redirect_uri: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let api = LookerApi::new(egress, config)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("code_verifier", verifier.expose_secret()),
            ("client_id", client_id(config)),
            ("redirect_uri", redirect_uri),
        ];
        token_call(&api, &form, "the code exchange").await
    }

    async fn refresh(
        &self,
        egress: &EgressClient,
        config: &Fields,
        _app_secrets: &SecretFields,
        refresh_token: &SecretString,
        redirect_uri: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let api = LookerApi::new(egress, config)?;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", client_id(config)),
            ("redirect_uri", redirect_uri),
        ];
        token_call(&api, &form, "the token refresh").await
    }

    /// As a validation outcome: what a saved credential records.
    async fn identify(
        &self,
        egress: &EgressClient,
        config: &Fields,
        token: &SecretString,
    ) -> ValidationOutcome {
        let api = match LookerApi::new(egress, config) {
            Ok(api) => api,
            Err(error) => return error.into_outcome(),
        };
        match api.me(token).await {
            Ok(identity) => {
                let who = crate::display_name(&identity).unwrap_or("the approving user".into());
                ValidationOutcome::valid(format!("connected to {} as {who}", api.host), identity)
            }
            Err(error) => error.into_outcome(),
        }
    }

    /// `DELETE /api/logout`: the access token and the refresh token that came with it.
    async fn logout(
        &self,
        egress: &EgressClient,
        config: &Fields,
        _app_secrets: &SecretFields,
        token: &SecretString,
    ) {
        if let Ok(api) = LookerApi::new(egress, config) {
            api.logout_at("/api/logout", token).await;
        }
    }
}

/// The scope Looker's API grants to OAuth client apps.
pub const SCOPE: &str = "cors_api";

fn client_id(config: &Fields) -> &str {
    config
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Looker's token endpoint answer: the tokens, or an OAuth error code.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    error: Option<String>,
}

async fn token_call(
    api: &LookerApi<'_>,
    form: &[(&str, &str)],
    call: &str,
) -> Result<OAuthGrant, UpstreamError> {
    let request = api
        .egress
        .request(Method::POST, api.endpoint("/api/token"))
        .map(|request| request.form(form));
    let response = api.call(request).await?;
    let answer: Option<TokenAnswer> = serde_json::from_slice(&response.body).ok();
    match (response.status, answer) {
        (
            StatusCode::OK,
            Some(TokenAnswer {
                access_token: Some(access_token),
                expires_in,
                token_type,
                refresh_token,
                ..
            }),
        ) => Ok(OAuthGrant {
            access: AccessToken::new(
                SecretString::from(access_token),
                token_type.unwrap_or_else(|| "Bearer".into()),
                expires_in,
            ),
            refresh_token: refresh_token
                .filter(|token| !token.is_empty())
                .map(SecretString::from),
        }),
        (StatusCode::OK, _) => Err(UpstreamError::error(format!(
            "{} answered {call} with something that is not an OAuth token response; is this \
             the API host of a Looker instance?",
            api.host
        ))),
        (StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED, answer) => {
            // Only the error code is read: the rest of the body is the upstream's, not ours to
            // repeat.
            let code = answer.and_then(|answer| answer.error);
            Err(UpstreamError::invalid(match code.as_deref() {
                Some("invalid_grant") => {
                    "Looker no longer accepts this consent (invalid_grant): it was revoked, \
                     expired or already used; reconnect the credential"
                }
                Some("invalid_client") => {
                    "Looker does not know this OAuth client app (invalid_client); check the \
                     client ID and that the app is registered"
                }
                _ => {
                    "Looker refused the OAuth request; check the client ID and the redirect \
                      URI registered for the app"
                }
            }))
        }
        (status, _) => Err(api.unexpected(call, status, response.retry_after())),
    }
}
