//! What every Latch connector implements, and the machinery they share: field specs (from
//! which both the form's JSON Schema and the checks derive) and the egress client, the only
//! way a connector reaches the network.

mod address;
mod auth_method;
pub mod egress;
mod fields;
pub mod jwt_bearer;
pub mod oauth;
mod outcome;
pub mod pkce;
mod secret_fields;
pub mod token_endpoint;
pub mod upstream_text;

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;

pub use address::blocked_reason;
pub use auth_method::AuthMethod;
pub use egress::{EgressClient, EgressError, EgressPolicy, UpstreamResponse};
pub use fields::{
    CONTROL_CHARS, FieldError, FieldKind, FieldSpec, Fields, SPACE_CHARS, check_pattern,
    check_section, first_nul, matches_pattern, rebound_fields, section_example, section_schema,
};
pub use outcome::{AccessToken, UpstreamError, ValidationOutcome, ValidationStatus};
pub use secret_fields::SecretFields;

/// Operator choices that change what counts as a valid configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Accept `http://` hosts (local mock servers and demos); https only otherwise.
    pub allow_http_hosts: bool,
}

/// One upstream system Latch keeps credentials for.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Stable identifier used in the API (`looker`).
    fn id(&self) -> &'static str;
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn docs_url(&self) -> &'static str;
    /// Non-secret settings of a credential a person types ([`Connector::typed_method`]),
    /// returned in responses.
    fn config_fields(&self) -> &'static [FieldSpec];
    /// Secret settings: encrypted at rest, never returned.
    fn secret_fields(&self) -> &'static [FieldSpec];

    /// The ways a credential of this connector can be made. `OauthAuthorizationCode` is
    /// listed exactly when [`Connector::oauth`] gives the flow (the catalogue checks).
    fn auth_methods(&self) -> &'static [AuthMethod];

    /// The method whose settings a person types, with [`Connector::config_fields`] and
    /// [`Connector::secret_fields`]: the first listed that is not consent. A connector offers
    /// at most one (the catalogue checks).
    fn typed_method(&self) -> Option<AuthMethod> {
        self.auth_methods()
            .iter()
            .copied()
            .find(|method| method.is_typed())
    }

    /// The ports this connector's upstreams answer on, besides any the operator opens.
    fn ports(&self) -> &'static [u16] {
        &[443]
    }

    /// How long a token lives when the upstream's answer gives no lifetime (RFC 6749 §5.1
    /// only recommends `expires_in`): what the upstream documents, cited where it is
    /// declared. `None` (the default): the upstream always answers one, and an answer
    /// without it is an error rather than a guess.
    fn default_token_lifetime(&self) -> Option<Duration> {
        None
    }

    /// The config field that names the upstream host: the first of kind
    /// [`FieldKind::HostUrl`]. Logs and audit records name the host by it.
    fn host_field(&self) -> Option<&'static str> {
        self.config_fields()
            .iter()
            .find(|field| field.kind == FieldKind::HostUrl)
            .map(|field| field.name)
    }

    /// How a person reads the identity a test login or a consent returned: the upstream
    /// user's name for a "connected as" line, when the identity has one.
    fn identity_label(&self, identity: &Value) -> Option<String> {
        let _ = identity;
        None
    }

    /// Non-secret values jobs need that the identity names (Xero's tenant id, which every
    /// Xero call sends), handed out with each token's metadata.
    fn identity_metadata(&self, identity: &Value) -> serde_json::Map<String, Value> {
        let _ = identity;
        serde_json::Map::new()
    }

    /// Connector-specific normalisation of a config whose fields passed the generic checks.
    fn normalize_config(&self, config: Fields) -> Result<Fields, Vec<FieldError>> {
        Ok(config)
    }

    /// Checks and normalises a config object; every problem is reported at once.
    fn validate_config(
        &self,
        config: &serde_json::Value,
        policy: ValidationPolicy,
    ) -> Result<Fields, Vec<FieldError>> {
        let fields = check_section("config", self.config_fields(), config, policy)?;
        self.normalize_config(fields)
    }

    /// Checks a secrets object; every problem is reported at once.
    fn validate_secrets(
        &self,
        secrets: &serde_json::Value,
        policy: ValidationPolicy,
    ) -> Result<Fields, Vec<FieldError>> {
        check_section("secrets", self.secret_fields(), secrets, policy)
    }

    /// Checks the `config` of a data source or destination using this connector: a JSON
    /// object of at most 16 KiB; keys are the platform's business.
    fn validate_data_source_config(&self, config: &serde_json::Value) -> Result<(), FieldError> {
        const MAX_BYTES: usize = 16 * 1024;
        if !config.is_object() {
            return Err(FieldError::new("config", "must be a JSON object"));
        }
        if let Some(path) = first_nul(config, "config") {
            return Err(FieldError::new(path, "must not contain a NUL character"));
        }
        let size = config.to_string().len();
        if size > MAX_BYTES {
            return Err(FieldError::new(
                "config",
                format!("must be at most {MAX_BYTES} bytes of JSON (got {size})"),
            ));
        }
        Ok(())
    }

    /// Logs in for a fresh access token.
    async fn fetch_token(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> Result<AccessToken, UpstreamError>;

    /// Proves a credential works: logs in, reads who it logs in as, logs out again.
    async fn test_login(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
    ) -> ValidationOutcome;

    /// Ends a token's session upstream. Best effort: failures are logged, not returned.
    /// `secrets` are the credential's own, for a revocation endpoint that authenticates its
    /// client (RFC 7009 §2.1).
    async fn revoke(
        &self,
        egress: &EgressClient,
        config: &Fields,
        secrets: &SecretFields,
        token: &SecretString,
    );

    /// The OAuth authorization code grant, when the connector offers it.
    fn oauth(&self) -> Option<&dyn oauth::OAuthFlow> {
        None
    }
}
