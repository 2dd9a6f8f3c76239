//! The ways a credential can be made, each written once for every connector that offers it.

use serde::{Deserialize, Serialize};

/// How a credential logs in. Stored and shown as its `auth_method` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Settings and secrets a person types (for Looker: an API key's client ID and secret),
    /// traded for tokens by Latch at each login.
    ClientCredentials,
    /// A person approves Latch on the upstream's consent screen (RFC 6749 §4.1 with RFC 7636
    /// PKCE); Latch keeps the grant's refresh token.
    OauthAuthorizationCode,
    /// An OAuth client's ID and secret (RFC 6749 §4.4): Latch trades them for tokens at the
    /// provider's token endpoint, with no person in the loop.
    OauthClientCredentials,
    /// A service account's private key signs a short-lived assertion that Latch trades for a
    /// token (RFC 7523 §2.1).
    JwtBearer,
}

impl AuthMethod {
    /// Every method Latch knows, in the order they are listed.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientCredentials,
        AuthMethod::OauthAuthorizationCode,
        AuthMethod::OauthClientCredentials,
        AuthMethod::JwtBearer,
    ];

    /// The method's name in the API and in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientCredentials => "client_credentials",
            AuthMethod::OauthAuthorizationCode => "oauth_authorization_code",
            AuthMethod::OauthClientCredentials => "oauth_client_credentials",
            AuthMethod::JwtBearer => "jwt_bearer",
        }
    }

    /// Whether a person types the credential's settings and secrets (every method but
    /// consent, whose settings come from an OAuth app and whose tokens Latch keeps).
    pub const fn is_typed(self) -> bool {
        !matches!(self, AuthMethod::OauthAuthorizationCode)
    }

    /// The method a stored or requested name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == name)
    }
}

impl std::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_name_and_serializes_as_it() {
        for method in AuthMethod::ALL {
            assert_eq!(AuthMethod::from_name(method.as_str()), Some(method));
            assert_eq!(
                serde_json::to_value(method).unwrap(),
                serde_json::json!(method.as_str())
            );
        }
        assert_eq!(AuthMethod::from_name("password"), None);
    }
}
