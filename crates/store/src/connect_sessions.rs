//! Connect sessions: a person's trip through an upstream's OAuth consent screen, from the
//! authorization URL Latch hands out to the callback that saves (or reconnects) a credential.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

/// Where a connect session stands. `expired` is not stored: a pending session past its
/// `expires_at` is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectSessionStatus {
    Pending,
    Completed,
    Failed,
}

impl ConnectSessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectSessionStatus::Pending => "pending",
            ConnectSessionStatus::Completed => "completed",
            ConnectSessionStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown connect session status `{0}`")]
pub struct UnknownSessionStatus(String);

impl TryFrom<String> for ConnectSessionStatus {
    type Error = UnknownSessionStatus;

    fn try_from(text: String) -> Result<Self, UnknownSessionStatus> {
        [Self::Pending, Self::Completed, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or(UnknownSessionStatus(text))
    }
}

/// A stored connect session. The state is kept only as its hash; the PKCE verifier only
/// sealed under the session's own data key.
#[derive(Clone, FromRow)]
pub struct ConnectSession {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: String,
    pub auth_method: String,
    pub name: String,
    pub description: Option<String>,
    #[sqlx(json)]
    pub config: Value,
    pub return_to: Option<String>,
    pub state_hash: Vec<u8>,
    pub verifier_ct: Vec<u8>,
    pub verifier_nonce: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub kek_id: String,
    pub credential_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub status: ConnectSessionStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a callback claimed the session to trade its code; `None` until then.
    pub claimed_at: Option<DateTime<Utc>>,
    /// The OAuth app the consent goes through (`None` only for sessions that predate apps
    /// and named settings no app took).
    pub oauth_app_id: Option<Uuid>,
}

impl std::fmt::Debug for ConnectSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSession")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("connector", &self.connector)
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a new connect session stores.
#[derive(Clone)]
pub struct NewConnectSession {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: String,
    pub auth_method: String,
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
    pub return_to: Option<String>,
    pub state_hash: Vec<u8>,
    pub verifier_ct: Vec<u8>,
    pub verifier_nonce: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub kek_id: String,
    /// For a reconnect: the credential whose tokens the session replaces.
    pub credential_id: Option<Uuid>,
    pub oauth_app_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// The tokens a completed consent gives, sealed under the credential's data key.
#[derive(Clone)]
pub struct NewGrantTokens {
    pub token_ct: Vec<u8>,
    pub nonce: Vec<u8>,
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_ct: Option<Vec<u8>>,
    pub refresh_nonce: Option<Vec<u8>>,
    /// What the connector kept from the answer for jobs (a JSON object); never a secret.
    pub metadata: serde_json::Value,
}
