//! The data key, the value cipher and the file MAC (spec/FORMAT.md,
//! "Cryptography").
//!
//! Both working keys are derived from the per-file data key with
//! HKDF-SHA256 (empty salt) so that one secret never serves two purposes:
//!
//! * value key = HKDF(data key, info = "seal.v1 value key"), for
//!   XChaCha20-Poly1305 with a random 192-bit nonce per value and the value's
//!   key path as associated data;
//! * MAC key = HKDF(data key, info = "seal.v1 mac key"), for HMAC-SHA256
//!   over the metadata and the whole sealed body.

use chacha20poly1305::aead::{AeadCore, AeadInPlace, KeyInit, OsRng};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::digest::{FixedOutput, Update};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use crate::path::KeyPath;
use crate::token::{Token, TokenError, NONCE_LEN, TAG_LEN};

/// Length of a data key in bytes.
pub const DATA_KEY_LEN: usize = 32;

const VALUE_KEY_INFO: &[u8] = b"seal.v1 value key";
const MAC_KEY_INFO: &[u8] = b"seal.v1 mac key";
/// Prefix of the associated data of every value.
const VALUE_AAD_PREFIX: &[u8] = b"seal.v1 value\0";
/// First field of the MAC input, per format version (spec section 9).
pub fn mac_label(version: u64) -> &'static [u8] {
    match version {
        0 | 1 => b"seal.v1 mac",
        2 => b"seal.v2 mac",
        3 => b"seal.v3 mac",
        4 => b"seal.v4 mac",
        _ => b"seal.v5 mac",
    }
}

/// First field of a group MAC's input (spec section 14.4).
pub const GROUP_MAC_LABEL: &[u8] = b"seal.v5 group mac";
/// First field of the default MAC's input (spec section 14.4).
pub const DEFAULT_MAC_LABEL: &[u8] = b"seal.v5 default mac";
const DEFAULT_MAC_KEY_INFO: &[u8] = b"seal.v5 default mac key";

/// A 256-bit MAC key: the file MAC key `F` (which group members get
/// wrapped for them), a group's MAC key, or the default MAC key.
#[derive(Clone)]
pub struct MacKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl MacKey {
    /// A key from raw bytes (an unwrapped `file_key`); `None` unless
    /// exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; DATA_KEY_LEN] = bytes.try_into().ok()?;
        Some(MacKey(Zeroizing::new(array)))
    }

    /// The raw key, for wrapping to a group's recipients.
    pub fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    /// Start computing a MAC under this key (the caller writes the label).
    pub fn mac(&self) -> MacBuilder {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        MacBuilder { mac }
    }
}

/// A file's random 256-bit data key. Never printed, zeroized on drop.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; DATA_KEY_LEN]);
        bytes.copy_from_slice(&key);
        DataKey(bytes)
    }

    /// A key from raw bytes (an unwrapped age payload); `None` unless exactly
    /// 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; DATA_KEY_LEN] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(array)))
    }

    /// The raw key, for wrapping to recipients.
    pub fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        let expanded =
            Hkdf::<Sha256>::new(None, self.0.as_slice()).expand(info, out.as_mut_slice());
        debug_assert!(expanded.is_ok());
        out
    }

    /// The cipher for this file's values.
    pub fn value_cipher(&self) -> ValueCipher {
        let key = self.derive(VALUE_KEY_INFO);
        ValueCipher {
            aead: XChaCha20Poly1305::new(key.as_slice().into()),
        }
    }

    /// Start computing this file's MAC (the caller writes the label first).
    pub fn mac(&self) -> MacBuilder {
        self.mac_key().mac()
    }

    /// The MAC key derived from this key: the file MAC key `F` of a file's
    /// data key, or a group's MAC key of its data key.
    pub fn mac_key(&self) -> MacKey {
        MacKey(self.derive(MAC_KEY_INFO))
    }

    /// The key of the default MAC of a file with key groups (section 14.2).
    pub fn default_mac_key(&self) -> MacKey {
        MacKey(self.derive(DEFAULT_MAC_KEY_INFO))
    }
}

/// Why a value could not be decrypted. Deliberately coarse: the caller
/// names the key path, never the content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0}")]
    Token(#[from] TokenError),
    /// Wrong key, a token moved from another key path, or altered ciphertext.
    #[error("the value does not decrypt with this file's key at this key path (tampered, or moved from another key)")]
    Authentication,
}

/// XChaCha20-Poly1305 under the value key.
pub struct ValueCipher {
    aead: XChaCha20Poly1305,
}

fn value_aad_into(path: &KeyPath, aad: &mut Vec<u8>) {
    aad.clear();
    aad.extend_from_slice(VALUE_AAD_PREFIX);
    path.canonical_into(aad);
}

/// Fresh random nonces drawn from the OS CSPRNG in one call.
pub struct Nonces {
    bytes: Vec<u8>,
}

impl Nonces {
    pub fn generate(count: usize) -> Nonces {
        use chacha20poly1305::aead::rand_core::RngCore;
        let mut bytes = vec![0u8; count * NONCE_LEN];
        OsRng.fill_bytes(&mut bytes);
        Nonces { bytes }
    }

    /// The next unused nonce, or a freshly drawn one when all are used.
    pub fn take(&mut self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        if self.bytes.len() >= NONCE_LEN {
            let at = self.bytes.len() - NONCE_LEN;
            nonce.copy_from_slice(&self.bytes[at..]);
            self.bytes.truncate(at);
        } else {
            nonce.copy_from_slice(&XChaCha20Poly1305::generate_nonce(&mut OsRng));
        }
        nonce
    }
}

/// Reusable buffers for decrypting many values without allocating per value.
#[derive(Default)]
pub struct Scratch {
    aad: Vec<u8>,
    buf: Zeroizing<Vec<u8>>,
}

impl ValueCipher {
    /// Encrypt a value's source text for `path`, with a fresh random nonce.
    #[cfg(any(test, feature = "internals"))]
    pub fn encrypt(&self, path: &KeyPath, plaintext: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        self.encrypt_with_nonce(path, plaintext, nonce.into())
    }

    /// Encrypt with a nonce the caller drew from the CSPRNG (many at once
    /// saves a system call per value). Never reuse a nonce.
    #[cfg(any(test, feature = "internals"))]
    pub fn encrypt_with_nonce(
        &self,
        path: &KeyPath,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> String {
        let mut token = String::new();
        self.encrypt_into(path, plaintext, nonce, &mut Scratch::default(), &mut token);
        token
    }

    /// [`ValueCipher::encrypt_with_nonce`], appending the token to `out`
    /// and using `scratch`'s buffers: no allocation per value once warm.
    pub fn encrypt_into(
        &self,
        path: &KeyPath,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
        scratch: &mut Scratch,
        out: &mut String,
    ) {
        value_aad_into(path, &mut scratch.aad);
        // The plaintext is copied into the buffer to be encrypted in place;
        // a buffer grown by realloc could leave a copy behind, so it is
        // wiped and replaced when too small.
        let needed = NONCE_LEN + plaintext.len() + TAG_LEN;
        if scratch.buf.capacity() < needed {
            zeroize::Zeroize::zeroize(&mut *scratch.buf);
            *scratch.buf = Vec::with_capacity(needed);
        }
        let buf = &mut scratch.buf;
        buf.clear();
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        // Encryption only fails for plaintexts beyond 2^38 bytes, which a
        // config value cannot reach (inputs are read into memory).
        let tag = self
            .aead
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &scratch.aad,
                &mut buf[NONCE_LEN..],
            )
            .unwrap_or_else(|_| unreachable!("value too large for XChaCha20-Poly1305"));
        buf.extend_from_slice(&tag);
        Token::encode_raw_into(buf, out);
    }

    /// Decrypt the token found at `path`.
    #[cfg(any(test, feature = "internals"))]
    pub fn decrypt(&self, path: &KeyPath, token: &str) -> Result<Zeroizing<Vec<u8>>, ValueError> {
        let mut scratch = Scratch::default();
        let plaintext = self.decrypt_with(path, token, &mut scratch)?;
        Ok(Zeroizing::new(plaintext.to_vec()))
    }

    /// Decrypt the token found at `path` into `scratch`; the plaintext is
    /// valid until the next call. No allocation once the buffers are warm.
    pub fn decrypt_with<'s>(
        &self,
        path: &KeyPath,
        token: &str,
        scratch: &'s mut Scratch,
    ) -> Result<&'s [u8], ValueError> {
        Token::decode_into(token, &mut scratch.buf)?;
        value_aad_into(path, &mut scratch.aad);
        let (nonce, sealed) = scratch.buf.split_at_mut(NONCE_LEN);
        // `decode_into` refuses payloads too short for a nonce and a tag.
        let len = sealed.len() - TAG_LEN;
        let (ciphertext, tag) = sealed.split_at_mut(len);
        // The crate checks the tag before it decrypts anything.
        self.aead
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &scratch.aad,
                ciphertext,
                Tag::from_slice(tag),
            )
            .map_err(|_| ValueError::Authentication)?;
        Ok(&scratch.buf[NONCE_LEN..NONCE_LEN + len])
    }
}

/// Incremental HMAC-SHA256 over length-prefixed fields. Each field is
/// `u64be(len) || bytes`; counts are `u64be(n)`.
/// The MAC input (spec section 9) fed to HMAC-SHA256, or to SHA-512 for
/// the signature over the same bytes (spec section 12), never built whole.
pub struct MacBuilder<D: Update = Hmac<Sha256>> {
    mac: D,
}

impl MacBuilder<Sha512> {
    /// The SHA-512 of a MAC input, which signatures sign (no key needed).
    pub fn for_signature() -> Self {
        MacBuilder {
            mac: Sha512::default(),
        }
    }

    pub fn digest(self) -> [u8; 64] {
        self.mac.finalize_fixed().into()
    }
}

impl<D: Update> MacBuilder<D> {
    /// The MAC input written to any sink (`seal verify --signed-data`).
    pub fn collecting(sink: D) -> Self {
        MacBuilder { mac: sink }
    }

    pub fn into_inner(self) -> D {
        self.mac
    }

    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.mac.update(&(bytes.len() as u64).to_be_bytes());
        self.mac.update(bytes);
        self
    }

    pub fn count(&mut self, n: usize) -> &mut Self {
        self.mac.update(&(n as u64).to_be_bytes());
        self
    }

    /// A text field with every CRLF read as LF, so a checkout that converts
    /// line endings (git's `core.autocrlf`) does not break the MAC.
    #[cfg(test)]
    pub fn text_field(&mut self, text: &str) -> &mut Self {
        self.text_field_parts(&[text])
    }

    /// [`MacBuilder::text_field`] of the concatenation of `parts`, without
    /// building it (the sealed body is the file minus its metadata block).
    pub fn text_field_parts(&mut self, parts: &[&str]) -> &mut Self {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if parts
            .iter()
            .all(|p| memchr::memchr(b'\r', p.as_bytes()).is_none())
        {
            self.mac.update(&(total as u64).to_be_bytes());
            for part in parts {
                self.mac.update(part.as_bytes());
            }
            return self;
        }
        // A CR is dropped when an LF follows it, in the same part or at the
        // start of the next non-empty one.
        let followed_by_lf = |i: usize| {
            parts[i + 1..]
                .iter()
                .find(|p| !p.is_empty())
                .is_some_and(|p| p.starts_with('\n'))
        };
        let mut dropped = 0;
        for (i, part) in parts.iter().enumerate() {
            dropped += part.matches("\r\n").count();
            if part.ends_with('\r') && followed_by_lf(i) {
                dropped += 1;
            }
        }
        self.mac.update(&((total - dropped) as u64).to_be_bytes());
        for (i, part) in parts.iter().enumerate() {
            let mut rest = *part;
            while let Some(at) = rest.find("\r\n") {
                self.mac.update(&rest.as_bytes()[..at]);
                rest = &rest[at + 1..];
            }
            match rest.strip_suffix('\r') {
                Some(head) if followed_by_lf(i) => self.mac.update(head.as_bytes()),
                _ => self.mac.update(rest.as_bytes()),
            }
        }
        self
    }
}

impl MacBuilder {
    /// The MAC as base64url without padding.
    pub fn finish(self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.mac.finalize().into_bytes())
    }

    /// Constant-time comparison with a MAC read from a file.
    pub fn verify(self, expected: &str) -> bool {
        use base64::Engine;
        match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(expected) {
            Ok(bytes) => self.mac.verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Segment;

    fn path(k: &str) -> KeyPath {
        KeyPath::new(0, vec![Segment::Key(k.into())])
    }

    #[test]
    fn every_readable_version_has_its_own_mac_label() {
        // Spec section 9: "seal.vN mac" for version N.
        for v in crate::metadata::READABLE {
            assert_eq!(mac_label(v), format!("seal.v{v} mac").as_bytes());
        }
    }

    #[test]
    fn value_round_trip_and_path_binding() {
        let key = DataKey::generate();
        let cipher = key.value_cipher();
        let token = cipher.encrypt(&path("a"), b"\"secret\"");
        assert_eq!(
            cipher.decrypt(&path("a"), &token).unwrap().as_slice(),
            b"\"secret\""
        );
        assert_eq!(
            cipher.decrypt(&path("b"), &token),
            Err(ValueError::Authentication)
        );
        let other = DataKey::generate().value_cipher();
        assert_eq!(
            other.decrypt(&path("a"), &token),
            Err(ValueError::Authentication)
        );
    }

    /// Any flipped bit of a token's payload is refused, at lengths around
    /// ChaCha20's 64-byte blocks, and never panics.
    #[test]
    fn every_bit_flip_of_a_token_is_refused() {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let cipher = DataKey::generate().value_cipher();
        for len in [0, 1, 63, 64, 65, 191, 192, 193] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
            let token = cipher.encrypt(&path("a"), &plain);
            let raw = engine
                .decode(&token[crate::token::PREFIX_V1.len()..])
                .unwrap();
            for bit in 0..raw.len() * 8 {
                let mut flipped = raw.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                let forged = format!("{}{}", crate::token::PREFIX_V1, engine.encode(&flipped));
                assert_eq!(
                    cipher.decrypt(&path("a"), &forged),
                    Err(ValueError::Authentication),
                    "length {len}, bit {bit}"
                );
            }
        }
    }

    /// One scratch serves values of any length in any order.
    #[test]
    fn scratch_reuse_gives_each_value() {
        let cipher = DataKey::generate().value_cipher();
        let mut scratch = Scratch::default();
        for len in [300, 0, 5, 1000, 2] {
            let plain = vec![b'x'; len];
            let token = cipher.encrypt(&path("k"), &plain);
            assert_eq!(
                cipher
                    .decrypt_with(&path("k"), &token, &mut scratch)
                    .unwrap(),
                plain.as_slice()
            );
        }
    }

    #[test]
    fn batched_nonces_are_distinct_and_never_run_out() {
        let mut n = Nonces::generate(3);
        let drawn: std::collections::HashSet<_> = (0..10).map(|_| n.take()).collect();
        assert_eq!(drawn.len(), 10);
    }

    #[test]
    fn nonces_are_fresh() {
        let cipher = DataKey::generate().value_cipher();
        assert_ne!(
            cipher.encrypt(&path("a"), b"x"),
            cipher.encrypt(&path("a"), b"x")
        );
    }

    #[test]
    fn mac_depends_on_every_field() {
        let key = DataKey::generate();
        let mac = |a: &[u8], n: usize, text: &str| {
            let mut m = key.mac();
            m.field(a).count(n).text_field(text);
            m.finish()
        };
        let base = mac(b"yaml", 1, "a: 1\n");
        assert_ne!(base, mac(b"json", 1, "a: 1\n"));
        assert_ne!(base, mac(b"yaml", 2, "a: 1\n"));
        assert_ne!(base, mac(b"yaml", 1, "a: 2\n"));
        // Field boundaries are unambiguous.
        assert_ne!(mac(b"ab", 1, "c"), mac(b"a", 1, "bc"));
        let mut m = key.mac();
        m.field(b"yaml").count(1).text_field("a: 1\n");
        assert!(m.verify(&base));
        let mut m = key.mac();
        m.field(b"yaml").count(1).text_field("a: 1\n");
        assert!(!m.verify("not base64!"));
    }

    #[test]
    fn mac_reads_crlf_as_lf() {
        let key = DataKey::generate();
        let mac = |text: &str| {
            let mut m = key.mac();
            m.text_field(text);
            m.finish()
        };
        assert_eq!(mac("a: 1\r\nb: 2\r\n"), mac("a: 1\nb: 2\n"));
        assert_ne!(mac("a: 1\r\n"), mac("a: 1\r"));
        assert_ne!(mac("a\r\r\n"), mac("a\r\n"));
    }

    #[test]
    fn mac_of_parts_is_mac_of_their_concatenation() {
        let key = DataKey::generate();
        let texts = ["", "a", "a\r", "\n", "\r\n", "b\r\nc\r", "\r", "x\ny"];
        for a in texts {
            for b in texts {
                for c in texts {
                    let mut joined = key.mac();
                    joined.field([a, b, c].concat().replace("\r\n", "\n").as_bytes());
                    let mut parts = key.mac();
                    parts.text_field_parts(&[a, b, c]);
                    assert_eq!(joined.finish(), parts.finish(), "{a:?} {b:?} {c:?}");
                }
            }
        }
    }

    #[test]
    fn data_key_needs_32_bytes() {
        assert!(DataKey::from_bytes(&[0; 31]).is_none());
        assert!(DataKey::from_bytes(&[0; 32]).is_some());
    }
}
