//! The Looker connector: API host, client ID and client secret of a Looker API key.
//!
//! Logs in with a form-encoded `POST {host}/api/4.0/login` (never query parameters: they end
//! up in access logs), reads the API user from `GET /api/4.0/user`, and logs out with
//! `DELETE /api/4.0/logout`. Upstream bodies are parsed, never echoed.

use std::time::Duration;

use async_trait::async_trait;
use latch_connector::{
    AccessToken, AuthMethod, Connector, EgressClient, FieldError, FieldKind, FieldSpec, Fields,
    SecretFields, UpstreamError, ValidationOutcome,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

pub mod oauth;

pub struct Looker;

const CONFIG_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "api_host_url",
        title: "API Host URL",
        help: "The address of your Looker instance, such as https://acme.cloud.looker.com. \
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
        help: "The client ID of a Looker API key (Admin > Users > Edit Keys).",
        kind: FieldKind::Text,
        max_len: 256,
        example: "AbCdEfGh12345678",
        binds_secret: false,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    },
];

const SECRET_FIELDS: &[FieldSpec] = &[FieldSpec {
    name: "client_secret",
    title: "Client Secret",
    help: "The client secret shown once when the API key was created. Latch encrypts it \
           and never shows it again.",
    kind: FieldKind::Secret,
    max_len: 1024,
    example: "",
    binds_secret: false,
    pattern: None,
    choices: &[],
    default: None,
    optional: false,
}];

#[async_trait]
impl Connector for Looker {
    fn id(&self) -> &'static str {
        "looker"
    }

    fn name(&self) -> &'static str {
        "Looker"
    }

    fn description(&self) -> &'static str {
        "Google Looker business intelligence, through its API 4.0 with an API key \
         (client ID and client secret)."
    }

    fn docs_url(&self) -> &'static str {
        "https://cloud.google.com/looker/docs/api-auth"
    }

    fn config_fields(&self) -> &'static [FieldSpec] {
        CONFIG_FIELDS
    }

    fn secret_fields(&self) -> &'static [FieldSpec] {
        SECRET_FIELDS
    }

    fn auth_methods(&self) -> &'static [AuthMethod] {
        &[
            AuthMethod::ClientCredentials,
            AuthMethod::OauthAuthorizationCode,
        ]
    }

    /// The default API path uses port 443, except on instances hosted on AWS created before
    /// 2020-07-07, which use 19999 (Admin > API, "API Host URL":
    /// https://cloud.google.com/looker/docs/admin-panel-platform-api).
    fn ports(&self) -> &'static [u16] {
        &[443, 19999]
    }

    /// None: both the login (`POST /api/4.0/login`) and the OAuth token endpoint answer an
    /// `AccessToken` with `expires_in` ("Number of seconds before the token expires",
    /// https://cloud.google.com/looker/docs/reference/looker-api/latest/methods/ApiAuth/login).
    fn default_token_lifetime(&self) -> Option<Duration> {
        None
    }

    fn identity_label(&self, identity: &Value) -> Option<String> {
        display_name(identity)
    }

    /// Looker hosts are pasted in many forms (`/`, `/api/4.0`, a browser path): keep only
    /// scheme, host and port, which is all the API needs.
    fn normalize_config(&self, mut config: Fields) -> Result<Fields, Vec<FieldError>> {
        if let Some(Value::String(host)) = config.get("api_host_url") {
            let origin = api_origin(host).ok_or_else(|| {
                vec![FieldError::new(
                    "config.api_host_url",
                    "must be an absolute URL such as https://acme.cloud.looker.com",
                )]
            })?;
            config.insert("api_host_url".into(), Value::String(origin));
        }
        Ok(config)
    }

    async fn fetch_token(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        let api = LookerApi::new(egress, config)?;
        api.login(config, secrets).await
    }

    async fn test_login(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> ValidationOutcome {
        let api = match LookerApi::new(egress, config) {
            Ok(api) => api,
            Err(error) => return error.into_outcome(),
        };
        let token = match api.login(config, secrets).await {
            Ok(token) => token,
            Err(error) => return error.into_outcome(),
        };
        let identity = api.me(&token.token).await;
        // A test login should not leave a session behind, whatever the identity call said.
        api.logout(&token.token).await;
        match identity {
            Ok(identity) => {
                let who = display_name(&identity).unwrap_or("the API user".into());
                ValidationOutcome::valid(format!("logged in to {} as {who}", api.host), identity)
            }
            Err(error) => error.into_outcome(),
        }
    }

    async fn revoke(
        &self,
        egress: &EgressClient,
        config: &Fields,
        _secrets: &SecretFields,
        token: &SecretString,
    ) {
        if let Ok(api) = LookerApi::new(egress, config) {
            api.logout(token).await;
        }
    }

    fn oauth(&self) -> Option<&dyn latch_connector::oauth::OAuthFlow> {
        Some(&oauth::LookerOAuth)
    }
}

/// How a person reads the identity `me` returns: the display name, else the email.
fn display_name(identity: &Value) -> Option<String> {
    identity["display_name"]
        .as_str()
        .or_else(|| identity["email"].as_str())
        .map(str::to_string)
}

/// Looker's login answer.
#[derive(Deserialize)]
struct LoginResponse {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
}

/// Calls to one Looker instance.
struct LookerApi<'a> {
    egress: &'a EgressClient,
    base: Url,
    host: String,
}

impl<'a> LookerApi<'a> {
    fn new(egress: &'a EgressClient, config: &Fields) -> Result<Self, UpstreamError> {
        let base = config
            .get("api_host_url")
            .and_then(Value::as_str)
            .and_then(|host| Url::parse(host).ok())
            .ok_or_else(|| UpstreamError::error("the credential has no valid API host URL"))?;
        let host = base.origin().ascii_serialization();
        Ok(Self { egress, base, host })
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        url.set_query(None);
        url
    }

    async fn call(
        &self,
        request: Result<reqwest::RequestBuilder, latch_connector::EgressError>,
    ) -> Result<latch_connector::UpstreamResponse, UpstreamError> {
        let request = request.map_err(|error| UpstreamError::from_egress(&self.host, error))?;
        let response = self.egress.execute(request).await;
        response.map_err(|error| UpstreamError::from_egress(&self.host, error))
    }

    async fn login(
        &self,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        let client_id = config
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let client_secret = secrets.get("client_secret").unwrap_or_default();
        let request = self
            .egress
            .request(Method::POST, self.endpoint("/api/4.0/login"))
            .map(|request| {
                request.form(&[("client_id", client_id), ("client_secret", client_secret)])
            });
        let response = self.call(request).await?;
        match response.status {
            StatusCode::OK => {
                let login: LoginResponse = serde_json::from_slice(&response.body).map_err(|_| {
                    UpstreamError::error(format!(
                        "{} answered the login with something that is not a Looker login response; \
                         is this the API host of a Looker instance?",
                        self.host
                    ))
                })?;
                Ok(AccessToken::new(
                    SecretString::from(login.access_token),
                    login.token_type,
                    login.expires_in,
                ))
            }
            StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(UpstreamError::invalid(
                    "Looker refused the client ID / secret; check the API key \
                     (Admin > Users > Edit Keys) and that it is enabled",
                ))
            }
            status => Err(self.unexpected("the login", status, response.retry_after())),
        }
    }

    async fn me(&self, token: &SecretString) -> Result<Value, UpstreamError> {
        let mut url = self.endpoint("/api/4.0/user");
        url.set_query(Some("fields=id,display_name,email"));
        let request = self
            .egress
            .request(Method::GET, url)
            .map(|request| request.bearer_auth(token.expose_secret()));
        let response = self.call(request).await?;
        if response.status != StatusCode::OK {
            return Err(self.unexpected(
                "the identity call",
                response.status,
                response.retry_after(),
            ));
        }
        let user: Value = serde_json::from_slice(&response.body).map_err(|_| {
            UpstreamError::error(format!(
                "{} answered the identity call with something that is not JSON",
                self.host
            ))
        })?;
        Ok(json!({
            "id": user.get("id").cloned().unwrap_or(Value::Null),
            "display_name": user.get("display_name").cloned().unwrap_or(Value::Null),
            "email": user.get("email").cloned().unwrap_or(Value::Null),
        }))
    }

    async fn logout(&self, token: &SecretString) {
        self.logout_at("/api/4.0/logout", token).await
    }

    /// Ends a session: API key logins at `/api/4.0/logout`, OAuth grants at `/api/logout`.
    async fn logout_at(&self, path: &str, token: &SecretString) {
        let request = self
            .egress
            .request(Method::DELETE, self.endpoint(path))
            .map(|request| request.bearer_auth(token.expose_secret()));
        match self.call(request).await {
            Ok(response) if response.status.is_success() => {}
            Ok(response) => {
                tracing::debug!(host = %self.host, status = %response.status, "Looker logout refused")
            }
            Err(error) => {
                tracing::debug!(host = %self.host, detail = %error.detail, "Looker logout failed")
            }
        }
    }

    fn unexpected(
        &self,
        call: &str,
        status: StatusCode,
        retry_after: Option<u64>,
    ) -> UpstreamError {
        let mut error = if status == StatusCode::TOO_MANY_REQUESTS {
            UpstreamError::error(match retry_after {
                Some(seconds) => {
                    format!("Looker is rate limiting {call}; retry after {seconds} seconds")
                }
                None => format!("Looker is rate limiting {call}; retry later"),
            })
        } else if status.is_server_error() {
            UpstreamError::error(format!(
                "{} answered {call} with HTTP {}: Looker had a problem; try again later",
                self.host,
                status.as_u16()
            ))
        } else {
            UpstreamError::error(format!(
                "{} answered {call} with an unexpected HTTP {}",
                self.host,
                status.as_u16()
            ))
        };
        error.retry_after = retry_after;
        error
    }
}

/// `https://acme.cloud.looker.com:19999/api/4.0/` → `https://acme.cloud.looker.com:19999`.
pub fn api_origin(host: &str) -> Option<String> {
    let url = Url::parse(host).ok()?;
    url.host_str()?;
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use latch_connector::ValidationPolicy;
    use serde_json::json;

    use super::*;

    fn normalized(host: &str) -> String {
        let config = json!({"api_host_url": host, "client_id": "id"});
        Looker
            .validate_config(&config, ValidationPolicy::default())
            .unwrap()["api_host_url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn host_forms_seen_in_the_wild_normalise_to_scheme_host_and_port() {
        assert_eq!(
            normalized("https://acme.cloud.looker.com"),
            "https://acme.cloud.looker.com"
        );
        assert_eq!(
            normalized("https://acme.cloud.looker.com/"),
            "https://acme.cloud.looker.com"
        );
        assert_eq!(
            normalized("https://acme.api.looker.com/api/4.0"),
            "https://acme.api.looker.com"
        );
        assert_eq!(
            normalized("https://Looker.Acme.com:19999/api/4.0/"),
            "https://looker.acme.com:19999"
        );
        assert_eq!(
            normalized("https://acme.cloud.looker.com:443/"),
            "https://acme.cloud.looker.com"
        );
    }

    #[test]
    fn the_client_secret_is_a_write_only_secret_field() {
        let schema = latch_connector::section_schema(Looker.secret_fields());
        assert_eq!(schema["properties"]["client_secret"]["writeOnly"], true);
        assert_eq!(schema["properties"]["client_secret"]["maxLength"], 1024);
    }

    #[test]
    fn the_forms_label_their_fields_as_lookers_own_screens_do() {
        let config = latch_connector::section_schema(Looker.config_fields());
        let secrets = latch_connector::section_schema(Looker.secret_fields());
        assert_eq!(
            config["properties"]["api_host_url"]["title"],
            "API Host URL"
        );
        assert_eq!(config["properties"]["client_id"]["title"], "Client ID");
        assert_eq!(
            secrets["properties"]["client_secret"]["title"],
            "Client Secret"
        );
    }
}
