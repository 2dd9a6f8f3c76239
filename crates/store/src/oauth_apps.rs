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
    /// The app's secrets (a client secret), sealed; `None` for an app without any.
    #[sqlx(flatten)]
    pub sealed: SealedAppColumns,
}

/// The columns of an app's sealed secrets, all set or all `NULL`.
#[derive(Debug, Clone, PartialEq, Eq, Default, FromRow)]
pub struct SealedAppColumns {
    pub kek_id: Option<String>,
    pub wrapped_dek: Option<Vec<u8>>,
    pub secret_nonce: Option<Vec<u8>>,
    pub secret_ct: Option<Vec<u8>>,
}

/// An app's secrets as sealed under a data key of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedAppSecrets {
    pub kek_id: String,
    pub wrapped_dek: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub secret_ct: Vec<u8>,
}

impl SealedAppColumns {
    /// The sealed secrets, when the app has them.
    pub fn secrets(&self) -> Option<SealedAppSecrets> {
        Some(SealedAppSecrets {
            kek_id: self.kek_id.clone()?,
            wrapped_dek: self.wrapped_dek.clone()?,
            secret_nonce: self.secret_nonce.clone()?,
            secret_ct: self.secret_ct.clone()?,
        })
    }
}

impl From<Option<&SealedAppSecrets>> for SealedAppColumns {
    fn from(sealed: Option<&SealedAppSecrets>) -> Self {
        match sealed {
            None => Self::default(),
            Some(sealed) => Self {
                kek_id: Some(sealed.kek_id.clone()),
                wrapped_dek: Some(sealed.wrapped_dek.clone()),
                secret_nonce: Some(sealed.secret_nonce.clone()),
                secret_ct: Some(sealed.secret_ct.clone()),
            },
        }
    }
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
    pub secrets: Option<SealedAppSecrets>,
}

/// The mutable fields of an app, all written at once.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthAppChanges {
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
    pub shared_redirect: bool,
    /// `Some` replaces the sealed secrets (a rotated client secret); `None` keeps them.
    pub secrets: Option<SealedAppSecrets>,
}
