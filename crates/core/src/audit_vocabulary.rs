//! What the audit trail says: every action and outcome an event can have, as enums, so that
//! no event is written with a misspelt name and the API can document the whole vocabulary.

use serde::Serialize;
use utoipa::ToSchema;

/// Declares the actions once each, with the name they are stored and shown under: the
/// enum (whose serde names the API documents), [`AuditAction::ALL`] and
/// [`AuditAction::as_str`] all come from the one list.
macro_rules! audit_actions {
    ($($(#[doc = $doc:tt])* $variant:ident => $name:tt,)+) => {
        /// What happened.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        pub enum AuditAction {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)+
        }

        impl AuditAction {
            pub const ALL: &[AuditAction] = &[$(AuditAction::$variant,)+];

            /// The name stored and shown (`credential.created`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)+
                }
            }
        }
    };
}

audit_actions! {
    CredentialCreated => "credential.created",
    CredentialUpdated => "credential.updated",
    CredentialDeleted => "credential.deleted",
    /// A saved credential's test login (on demand, or as part of a change).
    CredentialValidated => "credential.validated",
    /// An unsaved credential's test login.
    CredentialTested => "credential.tested",
    /// The upstream refused a credential during a token refresh.
    CredentialInvalidated => "credential.invalidated",
    EgressBlocked => "egress.blocked",
    ApiKeyCreated => "api_key.created",
    ApiKeyRevoked => "api_key.revoked",
    DataSourceCreated => "data_source.created",
    DataSourceUpdated => "data_source.updated",
    DataSourceDeleted => "data_source.deleted",
    DataDestinationCreated => "data_destination.created",
    DataDestinationUpdated => "data_destination.updated",
    DataDestinationDeleted => "data_destination.deleted",
    /// Token hand-outs (and refusals), summed; `detail.count` says how many.
    TokenIssued => "token.issued",
    /// Issuance records the full audit queue could only count.
    TokenIssuanceDropped => "token.issuance_dropped",
    /// Failed authentications, summed.
    AuthenticationFailed => "authentication.failed",
    /// Denied authorizations and probes of other organizations' ids, summed.
    AuthorizationDenied => "authorization.denied",
    /// Refusal records the full audit queue could only count.
    RefusalsDropped => "audit.refusals_dropped",
    /// A connect session handed out its consent URL.
    ConnectSessionCreated => "connect_session.created",
    /// A connect session ended without a credential (denied, expired, failed exchange).
    ConnectSessionFailed => "connect_session.failed",
    OAuthAppCreated => "oauth_app.created",
    OAuthAppUpdated => "oauth_app.updated",
    OAuthAppDeleted => "oauth_app.deleted",
    WebhookCreated => "webhook.created",
    WebhookUpdated => "webhook.updated",
    WebhookDeleted => "webhook.deleted",
    /// A new signing secret; the old one signs beside it for a day.
    WebhookSecretRotated => "webhook.secret_rotated",
    /// A `webhook.test` event was queued.
    WebhookTested => "webhook.tested",
    /// A delivery was made due again by hand.
    WebhookDeliveryRetried => "webhook.delivery_retried",
    /// Latch turned an endpoint off: every attempt failed for longer than the retry horizon.
    WebhookDisabled => "webhook.disabled",
}

impl From<AuditAction> for String {
    fn from(action: AuditAction) -> Self {
        action.as_str().to_string()
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
        }
    }

    pub fn of(succeeded: bool) -> Self {
        if succeeded {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        }
    }
}

impl From<AuditOutcome> for String {
    fn from(outcome: AuditOutcome) -> Self {
        outcome.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_stored_under_the_name_the_api_shows() {
        let mut names: Vec<&str> = AuditAction::ALL
            .iter()
            .map(|action| action.as_str())
            .collect();
        for &action in AuditAction::ALL {
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::String(action.as_str().into())
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len(), "names are unique");
        assert_eq!(
            serde_json::to_value(AuditOutcome::Failure).unwrap(),
            "failure"
        );
    }
}
