//! What the OAuth app use cases take and answer.

use chrono::{DateTime, Utc};
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
    "description": "Registered in Looker by the BI admins",
    "connector": "looker",
}))]
pub struct CreateOAuthAppRequest {
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
    #[schema(value_type = String, required = true, nullable = false)]
    pub connector: Option<String>,
    /// The `oauth_authorization_code` method's `config_schema` from `GET /v1/connectors/{id}`:
    /// where consent screens, codes and tokens go.
    #[schema(value_type = Object, required = true, nullable = false)]
    pub config: Option<Value>,
    /// For connectors whose apps have a client secret; Looker's have none, so for `looker`
    /// only an empty object is accepted.
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Value>,
}

/// Only the fields sent change. `config` (and moving a migrated app to its own redirect URI)
/// cannot change while credentials were made through the app: 409 lists them.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Owned by the BI admins; rotate with them"}))]
pub struct UpdateOAuthAppRequest {
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
    /// Replaces the settings whole.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Replaced whole (a client secret rotates without a new consent); as on create.
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Value>,
    /// `false` moves an app made from credentials that predate apps to its own redirect URI,
    /// once the upstream's admin has registered it there. An app never moves back.
    pub shared_redirect_uri: Option<bool>,
}

/// An OAuth app: register `redirect_uri` as the app's redirect URI at the upstream.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e90",
    "name": "Looker production",
    "description": "Registered in Looker by the BI admins",
    "connector": "looker",
    "redirect_uri": "https://latch.example.com/v1/oauth/callback/019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e90",
    "shared_redirect_uri": false,
    "created_at": "2026-12-02T10:00:00Z",
    "updated_at": "2026-12-02T10:00:00Z",
    "version": 1
}))]
pub struct OAuthAppView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub connector: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// What the upstream's admin registers as the app's redirect URI.
    pub redirect_uri: String,
    /// Whether the app still uses the redirect URI every organization shared before apps
    /// (only apps made from credentials that predate them).
    pub shared_redirect_uri: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthAppList {
    pub items: Vec<OAuthAppView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListOAuthAppsQuery {
    #[param(example = "looker")]
    pub connector: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}
