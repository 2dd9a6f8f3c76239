//! Signing secrets and signatures as the Standard Webhooks specification defines them
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>,
//! "Signature scheme"): a secret is `whsec_` and the base64 of its key bytes; a signature is
//! `v1,` and the base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, and
//! `webhook-signature` holds several, separated by spaces, while a rotated secret still signs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use latch_connector::{Fields, SecretFields};
use latch_vault::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::CoreError;

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Key bytes of a new secret: the specification asks for 24 to 64.
const SECRET_BYTES: usize = 32;

/// A new signing secret, `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> Result<SecretString, CoreError> {
    let mut key = Zeroizing::new([0u8; SECRET_BYTES]);
    getrandom::fill(key.as_mut()).map_err(CoreError::internal)?;
    Ok(SecretString::from(format!(
        "{SECRET_PREFIX}{}",
        STANDARD.encode(key.as_ref())
    )))
}

/// The signing secrets of an endpoint as they are sealed together: the current one, and the
/// one before the last rotation while it still signs.
pub struct SigningSecrets {
    pub current: SecretString,
    pub previous: Option<SecretString>,
}

impl SigningSecrets {
    pub fn to_fields(&self) -> SecretFields {
        let mut fields = Fields::new();
        fields.insert(
            "current".into(),
            Value::String(self.current.expose_secret().to_string()),
        );
        if let Some(previous) = &self.previous {
            fields.insert(
                "previous".into(),
                Value::String(previous.expose_secret().to_string()),
            );
        }
        SecretFields::new(fields)
    }

    pub fn from_fields(fields: &SecretFields) -> Result<Self, CoreError> {
        let text = |name: &str| {
            fields
                .as_fields()
                .get(name)
                .and_then(Value::as_str)
                .map(|text| SecretString::from(text.to_string()))
        };
        Ok(Self {
            current: text("current")
                .ok_or_else(|| CoreError::internal("a webhook's sealed secrets hold no secret"))?,
            previous: text("previous"),
        })
    }
}

/// One `v1,<base64>` signature of a message with `secret`.
pub fn sign(
    secret: &SecretString,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, CoreError> {
    let encoded = secret
        .expose_secret()
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| CoreError::internal("a webhook secret lacks its whsec_ prefix"))?;
    let key = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| CoreError::internal("a webhook secret is not base64"))?,
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(CoreError::internal)?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: a signature with each secret, separated by spaces.
pub fn signature_header(
    secrets: &[&SecretString],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, CoreError> {
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret, message_id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_the_example_of_the_standard_webhooks_reference_libraries() {
        // The example the Standard Webhooks libraries test with; the value was also computed
        // apart, with Python's hmac module.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string());
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_new_secret_has_the_prefix_and_32_key_bytes_and_is_never_the_same_twice() {
        let first = new_secret().unwrap();
        let second = new_secret().unwrap();
        let key = first.expose_secret().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(STANDARD.decode(key).unwrap().len(), 32);
        assert_ne!(first.expose_secret(), second.expose_secret());
    }

    #[test]
    fn the_header_carries_one_signature_per_secret_separated_by_a_space() {
        let one = new_secret().unwrap();
        let two = new_secret().unwrap();
        let header = signature_header(&[&one, &two], "msg", 1, b"{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&one, "msg", 1, b"{}").unwrap());
        assert_eq!(parts[1], sign(&two, "msg", 1, b"{}").unwrap());
    }
}
