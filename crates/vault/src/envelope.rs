use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::SecretBox;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{KEY_LEN, SecretBytes, VaultError, fill_random};

const NONCE_LEN: usize = 24;

/// What a sealed value is for; part of the additional authenticated data, so a secret
/// cannot be opened as a token or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A credential's secret fields.
    Secret,
    /// A cached upstream access token.
    Token,
    /// An OAuth refresh token.
    RefreshToken,
    /// A connect session's PKCE code verifier.
    Verifier,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Secret => "secret",
            Purpose::Token => "token",
            Purpose::RefreshToken => "refresh_token",
            Purpose::Verifier => "verifier",
        }
    }
}

/// The row a ciphertext belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordContext {
    pub org_id: Uuid,
    pub record_id: Uuid,
}

impl RecordContext {
    pub fn new(org_id: Uuid, record_id: Uuid) -> Self {
        Self { org_id, record_id }
    }

    fn aad(&self, label: &str) -> Vec<u8> {
        format!("latch:v1:{}:{}:{}", self.org_id, self.record_id, label).into_bytes()
    }
}

pub(crate) fn wrap_aad(context: &RecordContext, kek_id: &str) -> Vec<u8> {
    context.aad(&format!("dek:{kek_id}"))
}

/// A ciphertext and the random nonce it was sealed with.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.ciphertext.len())
    }
}

/// A data key wrapped by the KEK it names: nonce followed by ciphertext and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_id: String,
    pub bytes: Vec<u8>,
}

/// One record's data key. Wiped on drop; never printed.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    pub(crate) fn generate() -> Result<Self, VaultError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(key.as_mut())?;
        Ok(Self(key))
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| VaultError::Decrypt)?;
        Ok(Self(Zeroizing::new(key)))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// Seals `plaintext` for `purpose` in the record `context`, under a fresh random nonce.
    pub fn seal(
        &self,
        context: &RecordContext,
        purpose: Purpose,
        plaintext: &[u8],
    ) -> Result<Sealed, VaultError> {
        seal_raw(&self.0, &context.aad(purpose.label()), plaintext)
    }

    /// Opens what [`DataKey::seal`] sealed with the same context and purpose.
    pub fn open(
        &self,
        context: &RecordContext,
        purpose: Purpose,
        sealed: &Sealed,
    ) -> Result<SecretBytes, VaultError> {
        let joined = [sealed.nonce.as_slice(), sealed.ciphertext.as_slice()].concat();
        let plain = open_raw(&self.0, &context.aad(purpose.label()), &joined)?;
        Ok(SecretBox::new(plain.to_vec().into_boxed_slice()))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

pub(crate) fn seal_raw(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, VaultError> {
    let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| VaultError::Decrypt)?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| VaultError::Decrypt)?;
    Ok(Sealed {
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Opens `nonce || ciphertext`.
pub(crate) fn open_raw(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    joined: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if joined.len() < NONCE_LEN {
        return Err(VaultError::Decrypt);
    }
    let (nonce, ciphertext) = joined.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::Decrypt)?;
    let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| VaultError::Decrypt)?;
    cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::Decrypt)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::{Kek, Keyring, MasterKey};

    fn keyring(id: &str) -> Keyring {
        Keyring::new(Kek::new(id, MasterKey::generate().unwrap()))
    }

    fn context() -> RecordContext {
        RecordContext::new(Uuid::now_v7(), Uuid::now_v7())
    }

    fn flip_first_bit(bytes: &mut [u8]) {
        bytes[0] ^= 0x01;
    }

    #[test]
    fn a_sealed_secret_opens_to_the_same_plaintext() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, wrapped) = ring.generate_data_key(&ctx).unwrap();
        let sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();

        let dek_again = ring.unwrap_data_key(&ctx, &wrapped).unwrap();
        let opened = dek_again.open(&ctx, Purpose::Secret, &sealed).unwrap();
        assert_eq!(opened.expose_secret(), b"s3cr3t");
        assert_eq!(wrapped.kek_id, "kek-1");
    }

    #[test]
    fn two_seals_of_one_plaintext_differ() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, _) = ring.generate_data_key(&ctx).unwrap();
        let a = dek.seal(&ctx, Purpose::Secret, b"same").unwrap();
        let b = dek.seal(&ctx, Purpose::Secret, b"same").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn a_tampered_ciphertext_fails_to_open() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, _) = ring.generate_data_key(&ctx).unwrap();
        let mut sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();
        flip_first_bit(&mut sealed.ciphertext);
        assert_eq!(
            dek.open(&ctx, Purpose::Secret, &sealed).unwrap_err(),
            VaultError::Decrypt
        );
    }

    #[test]
    fn a_tampered_nonce_fails_to_open() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, _) = ring.generate_data_key(&ctx).unwrap();
        let mut sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();
        flip_first_bit(&mut sealed.nonce);
        assert!(dek.open(&ctx, Purpose::Secret, &sealed).is_err());
        sealed.nonce.truncate(3);
        assert!(dek.open(&ctx, Purpose::Secret, &sealed).is_err());
    }

    #[test]
    fn a_different_purpose_fails_to_open() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, _) = ring.generate_data_key(&ctx).unwrap();
        let sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();
        assert!(dek.open(&ctx, Purpose::Token, &sealed).is_err());
    }

    #[test]
    fn a_ciphertext_moved_to_another_record_or_org_fails_to_open() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, wrapped) = ring.generate_data_key(&ctx).unwrap();
        let sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();

        let other_record = RecordContext::new(ctx.org_id, Uuid::now_v7());
        let other_org = RecordContext::new(Uuid::now_v7(), ctx.record_id);
        for moved in [other_record, other_org] {
            // Copying the whole row (wrapped key and ciphertext) does not help: the wrapped
            // key is bound to its record too.
            assert_eq!(
                ring.unwrap_data_key(&moved, &wrapped).unwrap_err(),
                VaultError::Decrypt
            );
            assert!(dek.open(&moved, Purpose::Secret, &sealed).is_err());
        }
    }

    #[test]
    fn a_tampered_wrapped_key_fails_to_unwrap() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (_, mut wrapped) = ring.generate_data_key(&ctx).unwrap();
        let last = wrapped.bytes.len() - 1;
        wrapped.bytes[last] ^= 0x80;
        assert_eq!(
            ring.unwrap_data_key(&ctx, &wrapped).unwrap_err(),
            VaultError::Decrypt
        );
    }

    #[test]
    fn a_wrapped_key_naming_another_kek_id_fails_to_unwrap() {
        let mut ring = keyring("kek-2");
        ring.add_retired(Kek::new("kek-1", MasterKey::generate().unwrap()));
        let ctx = context();
        let (_, mut wrapped) = ring.generate_data_key(&ctx).unwrap();
        wrapped.kek_id = "kek-1".into();
        assert!(ring.unwrap_data_key(&ctx, &wrapped).is_err());
        wrapped.kek_id = "kek-9".into();
        assert_eq!(
            ring.unwrap_data_key(&ctx, &wrapped).unwrap_err(),
            VaultError::UnknownKek("kek-9".into())
        );
    }

    #[test]
    fn another_keyring_cannot_unwrap_a_data_key() {
        let ctx = context();
        let (_, wrapped) = keyring("kek-1").generate_data_key(&ctx).unwrap();
        assert!(keyring("kek-1").unwrap_data_key(&ctx, &wrapped).is_err());
    }

    #[test]
    fn a_retired_kek_still_opens_what_it_wrapped() {
        let old_master = MasterKey::generate().unwrap();
        let old_base64 = old_master.to_base64();
        let ctx = context();
        let (_, wrapped) = Keyring::new(Kek::new("kek-1", old_master))
            .generate_data_key(&ctx)
            .unwrap();

        let mut rotated = keyring("kek-2");
        rotated.add_retired(Kek::new(
            "kek-1",
            MasterKey::from_base64(&old_base64).unwrap(),
        ));
        assert!(rotated.unwrap_data_key(&ctx, &wrapped).is_ok());
        assert_eq!(rotated.generate_data_key(&ctx).unwrap().1.kek_id, "kek-2");
    }

    #[test]
    fn rewrapping_moves_a_data_key_to_the_active_kek_and_keeps_its_ciphertexts_open() {
        let old_master = MasterKey::generate().unwrap();
        let old_base64 = old_master.to_base64();
        let ctx = context();
        let (dek, wrapped) = Keyring::new(Kek::new("kek-1", old_master))
            .generate_data_key(&ctx)
            .unwrap();
        let sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();

        let mut rotated = keyring("kek-2");
        rotated.add_retired(Kek::new(
            "kek-1",
            MasterKey::from_base64(&old_base64).unwrap(),
        ));
        let moved = rotated.rewrap(&ctx, &wrapped).unwrap();
        assert_eq!(moved.kek_id, "kek-2");
        assert!(rotated.knows("kek-1") && rotated.knows("kek-2") && !rotated.knows("kek-3"));

        // Only the new KEK is needed from now on, and the secret opens as before.
        let opened = rotated.unwrap_data_key(&ctx, &moved).unwrap();
        let plain = opened.open(&ctx, Purpose::Secret, &sealed).unwrap();
        assert_eq!(plain.expose_secret(), b"s3cr3t");
        // A rewrapped key is bound to its record like any other.
        assert!(rotated.rewrap(&context(), &wrapped).is_err());
    }

    #[test]
    fn the_check_value_accepts_the_right_master_key_and_refuses_a_wrong_one() {
        let master = MasterKey::generate().unwrap();
        let encoded = master.to_base64();
        let stored = Kek::new("kek-1", master).check_value();

        let same = Kek::new("kek-1", MasterKey::from_base64(&encoded).unwrap());
        assert_eq!(same.verify_check_value(&stored), Ok(()));

        let wrong = Kek::new("kek-1", MasterKey::generate().unwrap());
        assert_eq!(
            wrong.verify_check_value(&stored),
            Err(VaultError::WrongMasterKey {
                kek_id: "kek-1".into()
            })
        );
    }

    #[test]
    fn keys_and_sealed_values_never_print_their_bytes() {
        let ring = keyring("kek-1");
        let ctx = context();
        let (dek, _) = ring.generate_data_key(&ctx).unwrap();
        let sealed = dek.seal(&ctx, Purpose::Secret, b"s3cr3t").unwrap();
        assert_eq!(format!("{dek:?}"), "DataKey([REDACTED])");
        assert_eq!(
            format!("{sealed:?}"),
            format!("Sealed({} bytes)", sealed.ciphertext.len())
        );
        assert!(!format!("{ring:?}").contains("key:"));
    }
}
