//! Opening one dotenvx value: ECIES over secp256k1 as eciesjs writes it with
//! its default configuration, which dotenvx uses.
//!
//! After the `encrypted:` prefix a value is standard base64 of
//!
//! ```text
//! ephemeral public key (65 bytes, SEC1 uncompressed: 0x04 || x || y)
//! nonce (16 bytes) || tag (16 bytes) || ciphertext
//! ```
//!
//! The AES-256-GCM key is HKDF-SHA256 (no salt, empty info, 32 bytes) of
//! the ephemeral public key followed by the ECDH shared point, both
//! uncompressed (65 + 65 bytes). There is no associated data.

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::Engine;
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The prefix dotenvx puts before every encrypted value.
pub const PREFIX: &str = "encrypted:";

const POINT_LEN: usize = 65;
const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// AES-256-GCM with eciesjs's 16-byte nonce.
type Aes256Gcm16 = AesGcm<Aes256, U16>;

/// Why a value did not open. Coarse on purpose: it never says more about
/// the plaintext than that it was not there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Not base64, or too short to hold a key, nonce and tag.
    Malformed,
    /// The first 65 bytes are not an uncompressed secp256k1 point.
    BadEphemeralKey,
    /// The tag does not verify: another key, or changed bytes.
    Authentication,
    /// It opened, but the plaintext is not UTF-8 (dotenvx only writes text).
    NotUtf8,
}

impl OpenError {
    pub fn describe(self) -> &'static str {
        match self {
            OpenError::Malformed => "is not base64 of an ECIES message",
            OpenError::BadEphemeralKey => "does not start with a secp256k1 public key",
            OpenError::Authentication => "does not authenticate",
            OpenError::NotUtf8 => "decrypts to bytes that are not UTF-8",
        }
    }
}

/// A dotenvx private key: 64 hex digits of a secp256k1 scalar.
pub struct PrivateKey(SecretKey);

impl PrivateKey {
    /// Parse 64 hex digits (either case). `None` when it is not a valid
    /// secp256k1 private key.
    pub fn from_hex(text: &str) -> Option<PrivateKey> {
        let text = text.trim();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            bytes[i] = (hi * 16 + lo) as u8;
        }
        SecretKey::from_slice(bytes.as_slice()).ok().map(PrivateKey)
    }

    /// The public key as dotenvx writes it in `DOTENV_PUBLIC_KEY*`:
    /// compressed SEC1, lower-case hex.
    pub fn public_hex(&self) -> String {
        let point = self.0.public_key().to_encoded_point(true);
        point
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Open the base64 text after `encrypted:`.
    pub fn open(&self, b64: &str) -> Result<Zeroizing<String>, OpenError> {
        let mut data = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| OpenError::Malformed)?,
        );
        if data.len() < POINT_LEN + NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (ephemeral, rest) = data.split_at_mut(POINT_LEN);
        // eciesjs's default reads exactly 65 bytes as the key: uncompressed.
        if ephemeral[0] != 0x04 {
            return Err(OpenError::BadEphemeralKey);
        }
        let ephemeral_key =
            PublicKey::from_sec1_bytes(ephemeral).map_err(|_| OpenError::BadEphemeralKey)?;
        let mut shared = (ephemeral_key.to_projective() * *self.0.to_nonzero_scalar())
            .to_affine()
            .to_encoded_point(false);

        let mut ikm = Zeroizing::new([0u8; 2 * POINT_LEN]);
        ikm[..POINT_LEN].copy_from_slice(ephemeral);
        ikm[POINT_LEN..].copy_from_slice(shared.as_bytes());
        shared.zeroize();
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, ikm.as_slice())
            .expand(&[], key.as_mut_slice())
            .map_err(|_| OpenError::Malformed)?;

        let (nonce, rest) = rest.split_at_mut(NONCE_LEN);
        let (tag, ciphertext) = rest.split_at_mut(TAG_LEN);
        let cipher =
            Aes256Gcm16::new_from_slice(key.as_slice()).map_err(|_| OpenError::Malformed)?;
        cipher
            .decrypt_in_place_detached((&*nonce).into(), b"", ciphertext, (&*tag).into())
            .map_err(|_| OpenError::Authentication)?;
        let text = std::str::from_utf8(ciphertext).map_err(|_| OpenError::NotUtf8)?;
        Ok(Zeroizing::new(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by dotenvx 2.38.2 (`dotenvx encrypt`) for this test only: the
    // private key protects nothing else.
    const KEY: &str = "82809dea473044d2e65963df60aa4a5010255d4ff76f5e795822d1dfca2bf8d1";
    const PUBLIC: &str = "02044e0961cdaf24c52e0a6082d65c882f393131d9cc9fdef0a3a43777c1c2c3b7";
    // "multi\nline # not comment\nend"
    const MULTI: &str = "BKcBvejehILtDE94zPO5li2LjXzc6F7mybzDGh6K2Trjz9owZ8sZrLBn78Igdub2uUHy/RGDscYY+Sx6uBnzUVJZHeJji84nr9h8kCse+mOnJtZcKXJ+1oUG9D5zdBFudADTBxP33O9x/BlgflLIAsIJ3x6n46g8HGfFztA=";
    // "unicode é ✓"
    const UNICODE: &str = "BCaYWlF9WueCE8q1ygVivH2ZR/T53ULpbnqnz2UAQfaJXJb/XNZ1hBMZbB6XPpc8m73IvVIqanFfMqoeZJyf2RzHm11L2vSbv4rHknaWOHovO6yiSp/AKn/+KdURNiPkzaROV4HkaycIEISbrpLt";

    fn key() -> PrivateKey {
        PrivateKey::from_hex(KEY).expect("test key")
    }

    #[test]
    fn opens_what_dotenvx_wrote() {
        assert_eq!(
            key().open(MULTI).unwrap().as_str(),
            "multi\nline # not comment\nend"
        );
        assert_eq!(key().open(UNICODE).unwrap().as_str(), "unicode é ✓");
    }

    #[test]
    fn public_key_matches_dotenvx() {
        assert_eq!(key().public_hex(), PUBLIC);
        let upper = KEY.to_ascii_uppercase();
        assert_eq!(PrivateKey::from_hex(&upper).unwrap().public_hex(), PUBLIC);
    }

    #[test]
    fn refuses_bad_private_keys() {
        assert!(PrivateKey::from_hex("").is_none());
        assert!(PrivateKey::from_hex(&KEY[..62]).is_none());
        assert!(PrivateKey::from_hex(&format!("{}zz", &KEY[..62])).is_none());
        assert!(PrivateKey::from_hex(&"0".repeat(64)).is_none());
        // The group order n is not a valid scalar.
        let n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        assert!(PrivateKey::from_hex(n).is_none());
        // A multi-byte character where a hex digit belongs is refused, not split.
        assert!(PrivateKey::from_hex(&format!("{}é", &KEY[..62])).is_none());
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let data = base64::engine::general_purpose::STANDARD
            .decode(UNICODE)
            .unwrap();
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x01;
            let text = base64::engine::general_purpose::STANDARD.encode(&bad);
            let err = key().open(&text).unwrap_err();
            assert!(
                matches!(err, OpenError::Authentication | OpenError::BadEphemeralKey),
                "byte {i}: {err:?}"
            );
        }
    }

    #[test]
    fn wrong_key_and_malformed_input() {
        let other = PrivateKey::from_hex(&"1".repeat(64)).unwrap();
        assert_eq!(other.open(UNICODE).unwrap_err(), OpenError::Authentication);
        assert_eq!(key().open("not base64!").unwrap_err(), OpenError::Malformed);
        assert_eq!(key().open("").unwrap_err(), OpenError::Malformed);
        assert_eq!(
            key().open(&UNICODE[..40]).unwrap_err(),
            OpenError::Malformed
        );
        // A compressed key where eciesjs reads 65 bytes of uncompressed one.
        let mut data = base64::engine::general_purpose::STANDARD
            .decode(UNICODE)
            .unwrap();
        data[0] = 0x02;
        let text = base64::engine::general_purpose::STANDARD.encode(&data);
        assert_eq!(key().open(&text).unwrap_err(), OpenError::BadEphemeralKey);
    }
}
