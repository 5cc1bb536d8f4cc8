//! Value tokens: the text that stands where a plaintext value stood
//! (spec/FORMAT.md, "Tokens").
//!
//! ```text
//! token   = "seal.v" version "." payload
//! version = 1*DIGIT                      ; "1" for this version
//! payload = base64url-nopad( nonce[24] || ciphertext || tag[16] )
//! ```
//!
//! The alphabet (`A-Z a-z 0-9 . _ -`) needs no quoting in YAML block or flow
//! context, in unquoted dotenv values, or inside a JSON string, and a token
//! never resolves to a YAML number, boolean or null.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Prefix of every token of this format version.
pub const PREFIX_V1: &str = "seal.v1.";
/// Bytes of XChaCha20 nonce at the start of a payload.
pub const NONCE_LEN: usize = 24;
/// Bytes of Poly1305 tag at the end of a payload.
pub const TAG_LEN: usize = 16;

/// A decoded token: nonce and ciphertext-with-tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

/// Why a token could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a seal token")]
    NotAToken,
    #[error("token of format version {0}; this seal reads version 1 (upgrade seal)")]
    UnsupportedVersion(String),
    #[error("token payload is not canonical base64url")]
    BadEncoding,
    #[error("token payload is too short")]
    TooShort,
}

/// Whether `text` has the shape of a token of any version. Used to tell
/// sealed values from plaintext without decoding.
pub fn looks_like_token(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("seal.v") else {
        return false;
    };
    let rest = rest.as_bytes();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b'.') {
        return false;
    }
    let payload = &rest[digits + 1..];
    // A fold without early exit: it compiles to vector compares, and
    // payloads are long.
    !payload.is_empty() && payload.iter().fold(true, |ok, &b| ok & is_payload_byte(b))
}

fn is_payload_byte(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10)
        | (b.wrapping_sub(b'A') < 26)
        | (b.wrapping_sub(b'a') < 26)
        | (b == b'-')
        | (b == b'_')
}

/// The length of the plaintext a version 1 token holds, from its length
/// alone (base64url without padding turns 4 characters into 3 bytes). Only
/// meaningful for a token that decodes.
pub fn plaintext_len(token: &str) -> usize {
    let payload = token.strip_prefix(PREFIX_V1).unwrap_or_default();
    (payload.len() * 3 / 4).saturating_sub(NONCE_LEN + TAG_LEN)
}

impl Token {
    #[cfg(any(test, feature = "internals"))]
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(NONCE_LEN + self.ciphertext.len());
        raw.extend_from_slice(&self.nonce);
        raw.extend_from_slice(&self.ciphertext);
        let mut out = String::with_capacity(PREFIX_V1.len() + raw.len() * 4 / 3 + 4);
        Token::encode_raw_into(&raw, &mut out);
        out
    }

    /// Append the token whose payload (nonce, ciphertext, tag) is `raw`.
    pub fn encode_raw_into(raw: &[u8], out: &mut String) {
        out.push_str(PREFIX_V1);
        URL_SAFE_NO_PAD.encode_string(raw, out);
    }

    /// Decode a version 1 token's payload (nonce then ciphertext) into
    /// `out`, replacing its contents.
    pub fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<(), TokenError> {
        let Some(payload) = text.strip_prefix(PREFIX_V1) else {
            return Err(Token::decode(text).err().unwrap_or(TokenError::NotAToken));
        };
        // A buffer too small would be grown by realloc, which can leave the
        // previous plaintext in the block it frees: wipe it and start anew.
        let needed = payload.len().div_ceil(4) * 3;
        if out.capacity() < needed {
            zeroize::Zeroize::zeroize(out);
            *out = Vec::with_capacity(needed);
        }
        let refused = || {
            if looks_like_token(text) {
                TokenError::BadEncoding
            } else {
                TokenError::NotAToken
            }
        };
        out.clear();
        // Within the capacity reserved above: no reallocation.
        URL_SAFE_NO_PAD
            .decode_vec(payload, out)
            .map_err(|_| refused())?;
        if out.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::TooShort);
        }
        Ok(())
    }

    pub fn decode(text: &str) -> Result<Token, TokenError> {
        if !looks_like_token(text) {
            return Err(TokenError::NotAToken);
        }
        let Some(payload) = text.strip_prefix(PREFIX_V1) else {
            let version = text["seal.v".len()..].split('.').next().unwrap_or_default();
            return Err(TokenError::UnsupportedVersion(version.to_owned()));
        };
        let raw = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::BadEncoding)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::TooShort);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[..NONCE_LEN]);
        Ok(Token {
            nonce,
            ciphertext: raw[NONCE_LEN..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `decode_into` (opening, buffers reused) and `decode` give the same
    /// answer: the same bytes, or the same error.
    fn decoders_agree(payload: &str) -> Result<(), TestCaseError> {
        let text = format!("{PREFIX_V1}{payload}");
        let mut out = Vec::new();
        let into = Token::decode_into(&text, &mut out).map(|()| out);
        let whole = Token::decode(&text).map(|t| [t.nonce.as_slice(), &t.ciphertext].concat());
        prop_assert_eq!(into, whole);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Payloads in the alphabet, of every length: canonical trailing
        /// bits and impossible lengths. (An empty payload is no token, and
        /// no format hands one to `decode_into`.)
        #[test]
        fn decoders_agree_on_the_alphabet(payload in "[A-Za-z0-9_-]{1,300}") {
            decoders_agree(&payload)?;
        }

        /// One byte outside the alphabet (padding, the standard alphabet,
        /// blanks, line breaks, non-ASCII) anywhere.
        #[test]
        fn decoders_agree_on_bytes_outside_it(
            payload in "[A-Za-z0-9_-]{0,200}",
            odd in "[=+/ \t\r\n.\x00é]",
            at in any::<prop::sample::Index>(),
        ) {
            let mut text = payload.clone();
            text.insert_str(at.index(payload.len() + 1), &odd);
            decoders_agree(&text)?;
        }
    }

    #[test]
    fn plaintext_length_follows_from_token_length() {
        for len in 0..200 {
            let token = Token {
                nonce: [1; NONCE_LEN],
                ciphertext: vec![2; len + TAG_LEN],
            }
            .encode();
            assert_eq!(plaintext_len(&token), len, "{len} bytes");
        }
    }

    #[test]
    fn token_shape() {
        assert!(looks_like_token("seal.v1.AbC-_9"));
        assert!(looks_like_token("seal.v12.x"));
        for not in [
            "seal.v1.",
            "seal.v.x",
            "seal.v1x.y",
            "seal.v1.a=b",
            "seal.v1.a.b",
            "seal.va.b",
            "xseal.v1.a",
        ] {
            assert!(!looks_like_token(not), "{not}");
        }
    }

    #[test]
    fn round_trip() {
        let t = Token {
            nonce: [7; 24],
            ciphertext: vec![1; 20],
        };
        let s = t.encode();
        assert!(s.starts_with("seal.v1."));
        assert!(looks_like_token(&s));
        assert_eq!(Token::decode(&s).unwrap(), t);
    }

    #[test]
    fn rejects_bad_tokens() {
        assert_eq!(Token::decode("seal.v1.AAAA"), Err(TokenError::TooShort));
        assert_eq!(Token::decode("hello"), Err(TokenError::NotAToken));
        assert_eq!(Token::decode("seal.v1.a+b"), Err(TokenError::NotAToken));
        assert!(
            matches!(Token::decode("seal.v2.AAAA"), Err(TokenError::UnsupportedVersion(v)) if v == "2")
        );
        // Non-canonical trailing bits are refused so a token has one spelling.
        assert_eq!(Token::decode("seal.v1.AB"), Err(TokenError::BadEncoding));
    }

    #[test]
    fn shape_checks() {
        assert!(!looks_like_token("seal.v1."));
        assert!(!looks_like_token("seal.vx.AAA"));
        assert!(!looks_like_token("seal.v1.AA#"));
    }
}
