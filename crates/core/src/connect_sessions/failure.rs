//! Why a consent's callback saved nothing: each reason is what the connect page says and
//! what the failed session records, in words that never hold a code, verifier or token.

use crate::error::CoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum CallbackError {
    #[error("the connector is no longer offered")]
    ConnectorGone,
    #[error("the connector no longer offers OAuth")]
    NoConsent,
    #[error("the session could not be opened")]
    SessionUnreadable,
    /// The upstream's answer (refused code, failed identity), as the connector told it.
    #[error("{0}")]
    Upstream(String),
    #[error("{}", CoreError::name_taken("a credential", .0))]
    NameTaken(String),
    #[error("the session was already used or has expired")]
    SessionUsed,
    #[error("the session was already used, or the credential was deleted meanwhile")]
    SessionUsedOrCredentialGone,
    #[error("the credential was deleted meanwhile")]
    CredentialGone,
    #[error("Latch could not read the credential")]
    Unreadable,
    #[error("Latch could not encrypt the credential")]
    Unsealed,
    #[error("Latch could not encrypt the credential's tokens")]
    TokensUnsealed,
    #[error("Latch could not save the credential")]
    Unsaved,
}
