//! What the connect session use cases take and answer.

use chrono::{DateTime, Utc};
use latch_store::{ConnectSession, ConnectSessionStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::callback;
use crate::input::{normalized, trimmed};

/// A consent through one of your organization's OAuth apps (`GET /v1/oauth-apps`). The
/// earlier form, `connector`, `auth_method` and `config` in place of `oauth_app_id`, is still
/// read where an app of your organization has exactly those settings (its consent then goes
/// through that app); otherwise it is refused with 422 naming `oauth_app_id`.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Looker production",
    "description": "Connected by the analytics team",
    "oauth_app_id": "019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e90",
    "return_to": "https://console.example.com/credentials"
}))]
pub struct CreateConnectSessionRequest {
    /// The name the credential gets; unique in your organization.
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
    /// The OAuth app the consent goes through; an admin registers it (`POST /v1/oauth-apps`).
    #[schema(value_type = Uuid, required = true, nullable = false)]
    pub oauth_app_id: Option<Uuid>,
    /// The earlier form's connector.
    #[schema(ignore)]
    pub connector: Option<String>,
    /// The earlier form's `oauth_authorization_code`.
    #[schema(ignore)]
    pub auth_method: Option<String>,
    /// The earlier form's settings, matched against the organization's apps.
    #[schema(ignore)]
    pub config: Option<Value>,
    /// Where the browser is sent back to (303) once the consent is done: an address on
    /// Latch's own origin or one of `LATCH_CONSOLE_ORIGINS`. Without it, the callback shows
    /// a page saying what happened. The document a server serves at `/openapi.json` gives
    /// these origins as this field's `pattern`.
    #[serde(default, deserialize_with = "trimmed")]
    #[schema(max_length = 2048)]
    pub return_to: Option<String>,
}

/// A new connect session: send the person's browser to `authorization_url`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "status": "pending",
    "authorization_url": "https://acme.cloud.looker.com/auth?response_type=code&client_id=latch-production&redirect_uri=https%3A%2F%2Flatch.example.com%2Fv1%2Foauth%2Fcallback%2F019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e90&scope=cors_api&state=...&code_challenge=...&code_challenge_method=S256",
    "connect_url": "https://latch.example.com/v1/connect?state=...",
    "expires_at": "2026-11-24T10:10:00Z"
}))]
pub struct ConnectSessionCreated {
    pub id: Uuid,
    #[schema(example = "pending")]
    pub status: &'static str,
    pub authorization_url: String,
    /// A page on Latch for the person who approves: it names the organization, the
    /// credential, the connector and the upstream host, with **Continue** to the consent
    /// screen. No API key needed (the link is the capability); it works while the session is
    /// pending, until it expires.
    pub connect_url: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConnectSessionCreated {
    // The URL carries the state, the callback's only capability.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSessionCreated")
            .field("id", &self.id)
            .field("authorization_url", &"[REDACTED]")
            .field("connect_url", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where a connect session stands.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "status": "completed",
    "credential_id": "019a8f0e-6c1d-7a2b-8e3f-1d2c3b4a5f60"
}))]
pub struct ConnectSessionView {
    pub id: Uuid,
    /// `pending`, `completed`, `failed` or `expired`.
    #[schema(example = "completed")]
    pub status: &'static str,
    /// The credential saved (or reconnected), once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<Uuid>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl ConnectSessionView {
    pub(super) fn new(session: &ConnectSession, at: DateTime<Utc>) -> Self {
        let claimed = session.claimed_at;
        let interrupted = claimed.is_some_and(|claimed| callback::stale(claimed, at));
        let (status, error) = match session.status {
            // Its callback died while trading the code; the next callback records it.
            ConnectSessionStatus::Pending if interrupted => (
                "failed",
                Some("the completion of the consent was interrupted".to_string()),
            ),
            // A claimed session is being completed, even past its expiry.
            ConnectSessionStatus::Pending if claimed.is_none() && session.expires_at <= at => {
                ("expired", None)
            }
            other => (other.as_str(), session.error.clone()),
        };
        Self {
            id: session.id,
            status,
            credential_id: session
                .credential_id
                .filter(|_| session.status == ConnectSessionStatus::Completed),
            error,
            expires_at: session.expires_at,
        }
    }
}

/// What a reconnect may change: the OAuth app the new consent goes through.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "oauth_app_id": "019a8f0e-7a1b-7c2d-8e3f-4a5b6c7d8e91",
    "return_to": "https://console.example.com/credentials"
}))]
pub struct ReconnectRequest {
    /// Another OAuth app of the credential's connector to connect through; the credential's
    /// own app when absent. The app's settings take effect once the new consent completes.
    pub oauth_app_id: Option<Uuid>,
    /// No longer taken: settings belong to the app (422 naming it).
    #[schema(ignore)]
    pub config: Option<Value>,
    /// As for `POST /v1/connect-sessions`.
    #[serde(default, deserialize_with = "trimmed")]
    #[schema(max_length = 2048)]
    pub return_to: Option<String>,
}
