//! Random secrets for `seal set --generate KIND`, drawn from the operating
//! system's random source (getrandom, through the `OsRng` the value cipher
//! uses for nonces), so a new key never passes through shell history.
//!
//! KIND follows `openssl rand` where it can: `hex:N` and `base64:N` are N
//! random bytes, written as 2N hex digits or standard padded base64;
//! `alnum:N` is N characters of `A-Z a-z 0-9`; `uuid` a random (version 4)
//! UUID.

use base64::Engine;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use zeroize::Zeroizing;

/// The most bytes or characters one value may ask for.
pub const MAX: usize = 4096;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hex(usize),
    Base64(usize),
    Alnum(usize),
    Uuid,
}

const KINDS: &str = "hex:N, base64:N (N random bytes), alnum:N (N characters) or uuid";

/// Parse `hex:32`, `base64:32`, `alnum:40`, `uuid`.
pub fn parse(kind: &str) -> Result<Kind, String> {
    if kind == "uuid" {
        return Ok(Kind::Uuid);
    }
    let Some((name, n)) = kind.split_once(':') else {
        return Err(format!("unknown kind {kind:?}; use {KINDS}, e.g. alnum:32"));
    };
    let make: fn(usize) -> Kind = match name {
        "hex" => Kind::Hex,
        "base64" => Kind::Base64,
        "alnum" => Kind::Alnum,
        _ => return Err(format!("unknown kind {name:?}; use {KINDS}, e.g. alnum:32")),
    };
    match n.parse::<usize>() {
        Ok(n) if (1..=MAX).contains(&n) => Ok(make(n)),
        _ => Err(format!(
            "{kind:?}: N must be a whole number from 1 to {MAX}, e.g. {name}:32"
        )),
    }
}

fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new random value of `kind`.
pub fn generate(kind: Kind) -> Zeroizing<String> {
    match kind {
        Kind::Hex(n) => hex(&random_bytes(n)),
        Kind::Base64(n) => {
            let bytes = random_bytes(n);
            let mut out = Zeroizing::new(String::with_capacity(n.div_ceil(3) * 4));
            base64::engine::general_purpose::STANDARD.encode_string(&*bytes, &mut out);
            out
        }
        Kind::Alnum(n) => {
            const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            let mut out = Zeroizing::new(String::with_capacity(n));
            while out.len() < n {
                for b in random_bytes(n).iter() {
                    // 248 = 4 * 62: rejecting the rest keeps every
                    // character equally likely.
                    if *b < 248 && out.len() < n {
                        out.push(char::from(SET[usize::from(*b) % SET.len()]));
                    }
                }
            }
            out
        }
        Kind::Uuid => {
            let mut b = random_bytes(16);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let hex = hex(&b);
            Zeroizing::new(format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            ))
        }
    }
}

fn hex(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_their_length_and_alphabet() {
        let hex = generate(parse("hex:32").unwrap());
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let b64 = generate(parse("base64:32").unwrap());
        assert_eq!(b64.len(), 44);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .unwrap();
        assert_eq!(decoded.len(), 32);
        let alnum = generate(parse("alnum:1000").unwrap());
        assert_eq!(alnum.len(), 1000);
        assert!(alnum.bytes().all(|b| b.is_ascii_alphanumeric()));
        // 1000 characters from 62: every class shows up.
        assert!(alnum.bytes().any(|b| b.is_ascii_digit()));
        assert!(alnum.bytes().any(|b| b.is_ascii_uppercase()));
        let uuid = generate(parse("uuid").unwrap());
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(generate(Kind::Hex(16)), generate(Kind::Hex(16)));
    }

    #[test]
    fn bad_kinds_say_what_to_write() {
        for (bad, says) in [
            ("hex", "unknown kind \"hex\""),
            ("hex:", "N must be a whole number"),
            ("hex:0", "from 1 to 4096"),
            ("alnum:-3", "N must be"),
            ("alnum:99999", "from 1 to 4096"),
            ("base32:10", "unknown kind \"base32\""),
            ("UUID", "unknown kind"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
