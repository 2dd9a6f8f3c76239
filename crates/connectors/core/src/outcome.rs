//! What a connector reports back: tokens, and the outcome of a test login.

use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::egress::EgressError;
use crate::upstream_text::{MAX_DETAIL_CHARS, clean_identity, clean_text};

/// How a test login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationStatus {
    /// The upstream accepted the credential.
    Valid,
    /// The upstream refused the credential: fix the client ID or secret.
    Invalid,
    /// The upstream could not be reached: DNS, connect, TLS, timeout, or a blocked address.
    Unreachable,
    /// The upstream answered, but with an error or something unexpected.
    Error,
}

impl ValidationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationStatus::Valid => "valid",
            ValidationStatus::Invalid => "invalid",
            ValidationStatus::Unreachable => "unreachable",
            ValidationStatus::Error => "error",
        }
    }
}

/// The outcome of a test login, for people (`detail`) and programs (`status`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationOutcome {
    pub status: ValidationStatus,
    pub detail: String,
    /// The upstream user the credential logs in as (valid outcomes only).
    pub identity: Option<Value>,
    /// Seconds the upstream asked to wait (rate limiting).
    pub retry_after: Option<u64>,
    /// Egress policy refused the call (it is recorded as such).
    pub blocked: bool,
}

impl ValidationOutcome {
    /// A login that worked; `detail` and `identity` are cleaned of what the upstream could
    /// hide or enlarge in them.
    pub fn valid(detail: impl Into<String>, identity: Value) -> Self {
        Self {
            status: ValidationStatus::Valid,
            detail: clean_text(&detail.into(), MAX_DETAIL_CHARS),
            identity: Some(clean_identity(identity)),
            retry_after: None,
            blocked: false,
        }
    }
}

/// An access token fresh from the upstream.
pub struct AccessToken {
    pub token: SecretString,
    /// The scheme the upstream named (`Bearer` mostly), handed to jobs as it came.
    pub token_type: String,
    /// Seconds of life the upstream granted, when its answer says; otherwise the connector's
    /// [`crate::Connector::default_token_lifetime`] applies.
    pub expires_in: Option<u64>,
    /// What jobs need besides the token and the connector keeps from the answer (a
    /// Salesforce `instance_url`): never a secret. Stored with the token, returned with it.
    pub metadata: Map<String, Value>,
}

impl AccessToken {
    /// A token of `token_type` living `expires_in` seconds, with no metadata.
    pub fn new(
        token: SecretString,
        token_type: impl Into<String>,
        expires_in: Option<u64>,
    ) -> Self {
        Self {
            token,
            token_type: token_type.into(),
            expires_in,
            metadata: Map::new(),
        }
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// Why the upstream gave no token. Same statuses as a validation outcome (never `Valid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    pub status: ValidationStatus,
    pub detail: String,
    pub retry_after: Option<u64>,
    pub blocked: bool,
}

impl UpstreamError {
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ValidationStatus::Invalid, detail)
    }

    pub fn error(detail: impl Into<String>) -> Self {
        Self::new(ValidationStatus::Error, detail)
    }

    /// A refusal; `detail` (which may quote the upstream) is cleaned and capped.
    fn new(status: ValidationStatus, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: clean_text(&detail.into(), MAX_DETAIL_CHARS),
            retry_after: None,
            blocked: false,
        }
    }

    /// A network failure, told in words that say what to fix.
    pub fn from_egress(host: &str, error: EgressError) -> Self {
        let blocked = matches!(error, EgressError::Blocked(_));
        let detail = match &error {
            EgressError::Blocked(reason) => format!(
                "Latch may not call {host}: the address is not allowed ({reason}). Use the \
                 public address of your instance."
            ),
            EgressError::Dns(reason) => {
                format!(
                    "the host name of {host} could not be resolved ({reason}); check the API host URL"
                )
            }
            EgressError::Connect(reason) => {
                format!("could not connect to {host} ({reason}); check the API host URL and port")
            }
            EgressError::Tls(reason) => format!(
                "the TLS handshake with {host} failed ({reason}); the host must present a valid certificate"
            ),
            EgressError::Timeout(seconds) => {
                format!("{host} did not answer within {seconds} seconds")
            }
            EgressError::BodyTooLarge => {
                return Self::error(format!("{host} answered with an unexpectedly large body"));
            }
            EgressError::Other(reason) => format!("the call to {host} failed ({reason})"),
        };
        Self {
            blocked,
            ..Self::new(ValidationStatus::Unreachable, detail)
        }
    }

    pub fn into_outcome(self) -> ValidationOutcome {
        ValidationOutcome {
            status: self.status,
            detail: self.detail,
            identity: None,
            retry_after: self.retry_after,
            blocked: self.blocked,
        }
    }
}
