//! What the audit trail says: every action and outcome an event can have, as enums, so that
//! no event is written with a misspelt name and the API can document the whole vocabulary.

use serde::Serialize;
use utoipa::ToSchema;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub enum AuditAction {
    #[serde(rename = "credential.created")]
    CredentialCreated,
    #[serde(rename = "credential.updated")]
    CredentialUpdated,
    #[serde(rename = "credential.deleted")]
    CredentialDeleted,
    /// A saved credential's test login (on demand, or as part of a change).
    #[serde(rename = "credential.validated")]
    CredentialValidated,
    /// An unsaved credential's test login.
    #[serde(rename = "credential.tested")]
    CredentialTested,
    /// The upstream refused a credential during a token refresh.
    #[serde(rename = "credential.invalidated")]
    CredentialInvalidated,
    #[serde(rename = "egress.blocked")]
    EgressBlocked,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "data_source.created")]
    DataSourceCreated,
    #[serde(rename = "data_source.updated")]
    DataSourceUpdated,
    #[serde(rename = "data_source.deleted")]
    DataSourceDeleted,
    #[serde(rename = "data_destination.created")]
    DataDestinationCreated,
    #[serde(rename = "data_destination.updated")]
    DataDestinationUpdated,
    #[serde(rename = "data_destination.deleted")]
    DataDestinationDeleted,
    /// Token hand-outs (and refusals), summed; `detail.count` says how many.
    #[serde(rename = "token.issued")]
    TokenIssued,
    /// Issuance records the full audit queue could only count.
    #[serde(rename = "token.issuance_dropped")]
    TokenIssuanceDropped,
    /// Failed authentications, summed.
    #[serde(rename = "authentication.failed")]
    AuthenticationFailed,
    /// Denied authorizations and probes of other organizations' ids, summed.
    #[serde(rename = "authorization.denied")]
    AuthorizationDenied,
    /// Refusal records the full audit queue could only count.
    #[serde(rename = "audit.refusals_dropped")]
    RefusalsDropped,
    /// A connect session handed out its consent URL.
    #[serde(rename = "connect_session.created")]
    ConnectSessionCreated,
    /// A connect session ended without a credential (denied, expired, failed exchange).
    #[serde(rename = "connect_session.failed")]
    ConnectSessionFailed,
    #[serde(rename = "oauth_app.created")]
    OAuthAppCreated,
    #[serde(rename = "oauth_app.updated")]
    OAuthAppUpdated,
    #[serde(rename = "oauth_app.deleted")]
    OAuthAppDeleted,
}

impl AuditAction {
    pub const ALL: [AuditAction; 25] = [
        AuditAction::CredentialCreated,
        AuditAction::CredentialUpdated,
        AuditAction::CredentialDeleted,
        AuditAction::CredentialValidated,
        AuditAction::CredentialTested,
        AuditAction::CredentialInvalidated,
        AuditAction::EgressBlocked,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
        AuditAction::DataSourceCreated,
        AuditAction::DataSourceUpdated,
        AuditAction::DataSourceDeleted,
        AuditAction::DataDestinationCreated,
        AuditAction::DataDestinationUpdated,
        AuditAction::DataDestinationDeleted,
        AuditAction::TokenIssued,
        AuditAction::TokenIssuanceDropped,
        AuditAction::AuthenticationFailed,
        AuditAction::AuthorizationDenied,
        AuditAction::RefusalsDropped,
        AuditAction::ConnectSessionCreated,
        AuditAction::ConnectSessionFailed,
        AuditAction::OAuthAppCreated,
        AuditAction::OAuthAppUpdated,
        AuditAction::OAuthAppDeleted,
    ];

    /// The name stored and shown (`credential.created`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::CredentialCreated => "credential.created",
            AuditAction::CredentialUpdated => "credential.updated",
            AuditAction::CredentialDeleted => "credential.deleted",
            AuditAction::CredentialValidated => "credential.validated",
            AuditAction::CredentialTested => "credential.tested",
            AuditAction::CredentialInvalidated => "credential.invalidated",
            AuditAction::EgressBlocked => "egress.blocked",
            AuditAction::ApiKeyCreated => "api_key.created",
            AuditAction::ApiKeyRevoked => "api_key.revoked",
            AuditAction::DataSourceCreated => "data_source.created",
            AuditAction::DataSourceUpdated => "data_source.updated",
            AuditAction::DataSourceDeleted => "data_source.deleted",
            AuditAction::DataDestinationCreated => "data_destination.created",
            AuditAction::DataDestinationUpdated => "data_destination.updated",
            AuditAction::DataDestinationDeleted => "data_destination.deleted",
            AuditAction::TokenIssued => "token.issued",
            AuditAction::TokenIssuanceDropped => "token.issuance_dropped",
            AuditAction::AuthenticationFailed => "authentication.failed",
            AuditAction::AuthorizationDenied => "authorization.denied",
            AuditAction::RefusalsDropped => "audit.refusals_dropped",
            AuditAction::ConnectSessionCreated => "connect_session.created",
            AuditAction::ConnectSessionFailed => "connect_session.failed",
            AuditAction::OAuthAppCreated => "oauth_app.created",
            AuditAction::OAuthAppUpdated => "oauth_app.updated",
            AuditAction::OAuthAppDeleted => "oauth_app.deleted",
        }
    }
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
        for action in AuditAction::ALL {
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
