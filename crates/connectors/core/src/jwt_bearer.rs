//! The JWT bearer grant (RFC 7523 §2.1): a service account signs a short-lived assertion
//! with its private key, RS256 (RFC 7518 §3.3), and trades it at the token endpoint for an
//! access token. The key is a PKCS#8 RSA key in PEM, as service accounts hand them out; it
//! is a secret, and neither it nor an assertion made with it appears in any error.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::oauth::OAuthGrant;
use crate::token_endpoint::{TokenEndpoint, request_token};
use crate::{EgressClient, UpstreamError};

/// The grant type of RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What an assertion claims (RFC 7523 §3).
pub struct Claims<'a> {
    /// `iss`: the service account (or client) that signs.
    pub issuer: &'a str,
    /// `sub`: the user it acts for, where the provider takes one.
    pub subject: Option<&'a str>,
    /// `aud`: the token endpoint, or what the provider names instead.
    pub audience: &'a str,
    /// `scope`, for providers that take it in the assertion (Google).
    pub scope: Option<&'a str>,
    /// From `iat` to `exp`: as short as the provider allows.
    pub lifetime: Duration,
}

/// An assertion of `claims` issued at `now` (seconds since the epoch), signed with the
/// PKCS#8 RSA private key in `private_key_pem`.
pub fn sign(
    private_key_pem: &SecretString,
    claims: &Claims<'_>,
    now: u64,
) -> Result<SecretString, UpstreamError> {
    let key = private_key(private_key_pem)?;
    let mut payload = json!({
        "iss": claims.issuer,
        "aud": claims.audience,
        "iat": now,
        "exp": now + claims.lifetime.as_secs(),
    });
    if let Some(subject) = claims.subject {
        payload["sub"] = Value::from(subject);
    }
    if let Some(scope) = claims.scope {
        payload["scope"] = Value::from(scope);
    }
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .map_err(|_| UpstreamError::error("the assertion could not be signed"))?;
    Ok(SecretString::from(format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// Trades a signed assertion for a token. The endpoint's client authentication is whatever
/// the provider asks for beside the assertion (often none).
pub async fn exchange(
    egress: &EgressClient,
    endpoint: &TokenEndpoint<'_>,
    assertion: &SecretString,
) -> Result<OAuthGrant, UpstreamError> {
    let form = [
        ("grant_type", GRANT_TYPE),
        ("assertion", assertion.expose_secret()),
    ];
    request_token(egress, endpoint, &form).await
}

/// Why `pem` cannot sign assertions, if it cannot: for the check of a key when it is saved.
pub fn check_private_key(pem: &SecretString) -> Result<(), String> {
    private_key(pem).map(|_| ()).map_err(|error| error.detail)
}

/// The key in a `-----BEGIN PRIVATE KEY-----` block (PKCS#8): the kind service accounts'
/// key files hold.
fn private_key(pem: &SecretString) -> Result<RsaKeyPair, UpstreamError> {
    let not_a_key = || {
        UpstreamError::invalid(
            "the private key is not an RSA key in PKCS#8 PEM (a block that starts with \
             -----BEGIN PRIVATE KEY-----)",
        )
    };
    let text = pem.expose_secret();
    let body = text
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END PRIVATE KEY-----").next())
        .ok_or_else(not_a_key)?;
    let base64: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    let der = Zeroizing::new(
        STANDARD
            .decode(base64.as_bytes())
            .map_err(|_| not_a_key())?,
    );
    RsaKeyPair::from_pkcs8(&der).map_err(|_| not_a_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_pkcs8_rsa_is_refused_without_being_repeated() {
        let key = SecretString::from(
            "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LXNlY3JldA==\n-----END PRIVATE KEY-----",
        );
        let claims = Claims {
            issuer: "svc@example.test",
            subject: None,
            audience: "https://example.test/token",
            scope: None,
            lifetime: Duration::from_secs(300),
        };
        let refused = sign(&key, &claims, 1_700_000_000).unwrap_err();
        assert!(refused.detail.contains("PKCS#8"), "{}", refused.detail);
        assert!(!format!("{refused:?}").contains("bm90LWEta2V5"));
    }
}
