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
}

impl AuthMethod {
    /// Every method Latch knows, in the order they are listed.
    pub const ALL: [AuthMethod; 2] = [
        AuthMethod::ClientCredentials,
        AuthMethod::OauthAuthorizationCode,
    ];

    /// The method's name in the API and in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientCredentials => "client_credentials",
            AuthMethod::OauthAuthorizationCode => "oauth_authorization_code",
        }
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
