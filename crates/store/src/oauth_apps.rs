//! OAuth client apps: what an admin of one organization registers at an upstream (a Looker
//! OAuth client app), with the redirect URI that binds the app to that organization.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

/// A stored OAuth app.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct OAuthApp {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: String,
    pub name: String,
    pub description: Option<String>,
    /// The settings that decide where codes and tokens go (hosts, client ID).
    #[sqlx(json)]
    pub config: Value,
    /// Made from the settings of credentials that predate apps: its redirect URI is the one
    /// shared callback, `{public}/v1/oauth/callback`, until an admin moves it to its own.
    pub shared_redirect: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a new app stores.
#[derive(Debug, Clone)]
pub struct NewOAuthApp {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: String,
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
}

/// The mutable fields of an app, all written at once.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthAppChanges {
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
    pub shared_redirect: bool,
}
