//! What the credential use cases take and answer: requests, views and the list query.

use chrono::{DateTime, Utc};
use latch_store::{Credential, CredentialStatus, CredentialUsage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::input::normalized;

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Looker production",
    "description": "Read-only API user for the nightly exports",
    "connector": "looker",
    "secrets": {"client_secret": "s3cr3t-from-looker"}
}))]
pub struct CreateCredentialRequest {
    /// Unique in your organization.
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::plain_name")
    )]
    #[schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 128)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// A connector id from `GET /v1/connectors`.
    #[schema(value_type = String, required = true, nullable = false)]
    pub connector: Option<String>,
    /// How the credential signs in: one of the connector's `auth_methods` whose settings a
    /// person types (`client_credentials`, `oauth_client_credentials`, `jwt_bearer`). Left
    /// out: the first the connector lists.
    #[schema(value_type = String, required = false, nullable = true)]
    pub auth_method: Option<String>,
    /// The connector's `config_schema` (that of the `auth_method`).
    #[schema(value_type = Object, required = true, nullable = false)]
    pub config: Option<Value>,
    /// The connector's `secrets_schema`. Encrypted at rest, never returned.
    #[schema(value_type = Object, required = true, nullable = false)]
    pub secrets: Option<Value>,
}

/// Only the fields sent change. `config` keys sent replace those stored; `secrets` replaces
/// the stored secrets whole (rotation). `description: ""` clears the description. A change of
/// a config field marked `x-binds-secret` in the connector's schema (Looker: `api_host_url`)
/// needs `secrets` in the same request: a stored secret is only sent where it was saved for.
/// The example rotates to another API key (client ID and secret) of the same Looker user. A
/// credential made by consent (`oauth_authorization_code`) refuses `config` and `secrets` with
/// 422: its settings change only through `POST /v1/credentials/{id}/reconnect`.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "config": {"client_id": "HiJkLmNo87654321"},
    "secrets": {"client_secret": "rotated-s3cr3t"}
}))]
pub struct UpdateCredentialRequest {
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::plain_name")
    )]
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Value>,
}

/// An unsaved credential to try (the form's "Test" button). `name` and `description` may be
/// sent along with the rest of the form; they are ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "connector": "looker",
    "secrets": {"client_secret": "s3cr3t-from-looker"}
}))]
pub struct TestCredentialRequest {
    #[schema(ignore)]
    pub name: Option<Value>,
    #[schema(ignore)]
    pub description: Option<Value>,
    #[schema(value_type = String, required = true, nullable = false)]
    pub connector: Option<String>,
    /// As in `POST /v1/credentials`.
    #[schema(value_type = String, required = false, nullable = true)]
    pub auth_method: Option<String>,
    #[schema(value_type = Object, required = true, nullable = false)]
    pub config: Option<Value>,
    #[schema(value_type = Object, required = true, nullable = false)]
    pub secrets: Option<Value>,
}

/// Whether a credential works, as last measured (by a test login, a scheduled check or a
/// login for a token). A test login's own `outcome` still says `unreachable` or `error`;
/// the credential's status says `degraded` once such trouble repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStatusView {
    /// Saved without a test login.
    Unverified,
    /// The last test login, check or token login succeeded.
    Valid,
    /// The upstream refused the client ID or secret.
    Invalid,
    /// Several test logins, checks or token logins in a row could not reach the upstream or
    /// got an error from it (5xx, 429, a time-out, DNS): `status_detail` says the last cause.
    /// It turns `valid` again by itself once a call succeeds.
    Degraded,
    /// The upstream no longer accepts the OAuth grant (revoked or expired): connect the
    /// credential again (`POST /v1/credentials/{id}/reconnect`).
    #[serde(rename = "reauthorization_required")]
    ReauthorizationRequired,
}

impl From<CredentialStatus> for CredentialStatusView {
    fn from(status: CredentialStatus) -> Self {
        match status {
            CredentialStatus::Unverified => Self::Unverified,
            CredentialStatus::Valid => Self::Valid,
            CredentialStatus::Invalid => Self::Invalid,
            CredentialStatus::Degraded => Self::Degraded,
            CredentialStatus::ReauthorizationRequired => Self::ReauthorizationRequired,
        }
    }
}

/// A credential as the API shows it: everything but its secrets.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "name": "Looker production",
    "description": "Read-only API user for the nightly exports",
    "connector": "looker",
    "status": "unverified",
    "status_detail": null,
    "status_since": "2026-11-23T09:30:00Z",
    "consecutive_failures": 0,
    "identity": null,
    "validated_at": null,
    "last_token_at": null,
    "version": 1,
    "created_at": "2026-11-23T09:30:00Z",
    "updated_at": "2026-11-23T09:30:00Z"
}))]
pub struct CredentialView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub connector: String,
    /// How it was made: `client_credentials` (an API key's ID and secret) or
    /// `oauth_authorization_code` (a person's consent through a connect session).
    #[schema(example = "client_credentials")]
    pub auth_method: String,
    /// For a credential made by consent: the OAuth app it was made through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_app_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub config: Value,
    pub status: CredentialStatusView,
    pub status_detail: Option<String>,
    /// When it took its status.
    pub status_since: DateTime<Utc>,
    /// Checks and token logins that failed since the last success.
    pub consecutive_failures: i64,
    /// The upstream user the credential logs in as, once validated.
    #[schema(value_type = Option<Object>)]
    pub identity: Option<Value>,
    /// When a test login, a check or a token login last proved or refused it.
    pub validated_at: Option<DateTime<Utc>>,
    /// When an upstream last handed out a token for it.
    pub last_token_at: Option<DateTime<Utc>>,
    /// Increases with every change of its name, description or settings (not of its
    /// health); send it back in `If-Match`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many data sources and destinations select this credential.
    pub used_by: UsageView,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UsageView {
    pub data_sources: i64,
    pub data_destinations: i64,
}

impl From<CredentialUsage> for UsageView {
    fn from(usage: CredentialUsage) -> Self {
        Self {
            data_sources: usage.sources,
            data_destinations: usage.destinations,
        }
    }
}

impl CredentialView {
    pub fn new(credential: Credential, used_by: CredentialUsage) -> Self {
        Self {
            used_by: used_by.into(),
            id: credential.id,
            name: credential.name,
            description: credential.description,
            connector: credential.connector,
            auth_method: credential.auth_method,
            oauth_app_id: credential.oauth_app_id,
            config: credential.config,
            status: credential.status.into(),
            status_detail: credential.status_detail,
            status_since: credential.status_since,
            consecutive_failures: credential.consecutive_failures,
            identity: credential.identity,
            validated_at: credential.validated_at,
            last_token_at: credential.last_token_at,
            version: credential.version,
            created_at: credential.created_at,
            updated_at: credential.updated_at,
        }
    }
}

impl From<Credential> for CredentialView {
    /// For a credential nothing can use yet (just created).
    fn from(credential: Credential) -> Self {
        Self::new(credential, CredentialUsage::default())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialList {
    pub items: Vec<CredentialView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCredentialsQuery {
    /// Only credentials of this connector.
    #[param(example = "looker")]
    pub connector: Option<String>,
    /// Only credentials with one of these statuses, separated by commas
    /// (`invalid,degraded`).
    #[param(value_type = Option<Vec<CredentialStatusView>>, style = Form, explode = false)]
    pub status: Option<String>,
    /// Only credentials whose name holds this text, compared as names are (case, white space
    /// and Unicode composition aside).
    #[param(value_type = Option<String>, max_length = 128, example = "looker")]
    pub q: Option<String>,
    /// The order: `created` (oldest first, the default), `newest` (newest first), `name`,
    /// or `attention` (what needs a person first: `reauthorization_required`, `invalid`,
    /// `degraded`, `unverified`, then `valid`; by name within each). A cursor continues the
    /// order it was returned in.
    #[param(value_type = Option<CredentialSort>)]
    pub sort: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The orders of `GET /v1/credentials`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum CredentialSort {
    #[serde(rename = "created")]
    Created,
    #[serde(rename = "newest")]
    NewestFirst,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "attention")]
    Attention,
}
