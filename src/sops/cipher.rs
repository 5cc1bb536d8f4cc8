//! SOPS's value cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, AES-256-GCM
//! with a 32-byte IV and the value's key path as additional data (SOPS
//! `aes/cipher.go`).

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::Engine;
use zeroize::Zeroizing;

/// AES-256-GCM with SOPS's 256-bit nonce (GCM hashes a nonce that is not
/// 96 bits long into its counter block).
type SopsGcm = AesGcm<Aes256, U32>;

const PREFIX: &str = "ENC[AES256_GCM,";

/// The `type:` of an encrypted value: how SOPS turns the plaintext back
/// into a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Str,
    Int,
    Float,
    Bool,
    Time,
    Bytes,
    Comment,
}

impl ValueType {
    fn parse(text: &str) -> Option<ValueType> {
        Some(match text {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "time" => ValueType::Time,
            "bytes" => ValueType::Bytes,
            "comment" => ValueType::Comment,
            _ => return None,
        })
    }
}

/// One parsed `ENC[…]` value.
#[derive(Debug, PartialEq, Eq)]
pub struct EncryptedValue {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    pub kind: ValueType,
}

/// Whether `text` is written as a SOPS encrypted value.
pub fn looks_encrypted(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Why an `ENC[…]` value could not be read or opened. Never holds the
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("it is not a SOPS encrypted value (ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])")]
    Malformed,
    #[error("its {0} is not valid base64")]
    Base64(&'static str),
    #[error("its IV or tag has the wrong length")]
    Length,
    #[error("unknown value type {0:?}")]
    UnknownType(String),
    #[error("it does not decrypt with the file's data key (a changed value, or a value moved to another key)")]
    Decrypt,
}

/// Parse `ENC[AES256_GCM,data:D,iv:I,tag:T,type:Y]`. SOPS matches
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`; base64 never
/// holds `,` or `]`, so the fields are split at those.
pub fn parse(text: &str) -> Result<EncryptedValue, CipherError> {
    let inner = text
        .strip_prefix(PREFIX)
        .and_then(|t| t.strip_suffix(']'))
        .ok_or(CipherError::Malformed)?;
    let mut fields = inner.splitn(4, ',');
    let mut field = |name: &str| -> Result<&str, CipherError> {
        fields
            .next()
            .and_then(|f| f.strip_prefix(name))
            .and_then(|f| f.strip_prefix(':'))
            .ok_or(CipherError::Malformed)
    };
    let (data, iv, tag, kind) = (field("data")?, field("iv")?, field("tag")?, field("type")?);
    let b64 = base64::engine::general_purpose::STANDARD;
    let data = b64.decode(data).map_err(|_| CipherError::Base64("data"))?;
    let iv = b64.decode(iv).map_err(|_| CipherError::Base64("iv"))?;
    let tag = b64.decode(tag).map_err(|_| CipherError::Base64("tag"))?;
    if data.is_empty() && iv.is_empty() {
        return Err(CipherError::Malformed);
    }
    let kind = ValueType::parse(kind).ok_or_else(|| {
        CipherError::UnknownType(
            kind.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect(),
        )
    })?;
    if iv.len() != 32 || tag.len() != 16 {
        return Err(CipherError::Length);
    }
    Ok(EncryptedValue {
        data,
        iv,
        tag,
        kind,
    })
}

/// Decrypt `value` with the SOPS data key; `aad` is the key path as SOPS
/// writes it (keys joined and ended by `:`).
pub fn decrypt(
    key: &[u8; 32],
    value: &EncryptedValue,
    aad: &str,
) -> Result<Zeroizing<Vec<u8>>, CipherError> {
    let cipher = SopsGcm::new(GenericArray::from_slice(key));
    let mut sealed = Vec::with_capacity(value.data.len() + value.tag.len());
    sealed.extend_from_slice(&value.data);
    sealed.extend_from_slice(&value.tag);
    cipher
        .decrypt(
            GenericArray::from_slice(&value.iv),
            Payload {
                msg: &sealed,
                aad: aad.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CipherError::Decrypt)
}

/// The additional data SOPS binds a value to: the mapping keys on its
/// path (sequence positions are not part of it), each followed by `:`.
pub fn additional_data<'k>(keys: impl IntoIterator<Item = &'k str>) -> String {
    let mut out = String::new();
    let mut any = false;
    for k in keys {
        if any {
            out.push(':');
        }
        out.push_str(k);
        any = true;
    }
    out.push(':');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encrypt as SOPS does, for tests (seal itself never writes SOPS values).
    pub(crate) fn encrypt(key: &[u8; 32], plain: &[u8], aad: &str, kind: &str) -> String {
        let cipher = SopsGcm::new(GenericArray::from_slice(key));
        let random = crate::crypto::DataKey::generate();
        let iv = GenericArray::clone_from_slice(random.expose());
        let out = cipher
            .encrypt(
                &iv,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        let (data, tag) = out.split_at(out.len() - 16);
        let b64 = base64::engine::general_purpose::STANDARD;
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            b64.encode(data),
            b64.encode(iv),
            b64.encode(tag)
        )
    }

    #[test]
    fn values_round_trip_and_are_bound_to_their_path() {
        let key = [7u8; 32];
        let token = encrypt(&key, b"hunter2", "db:password:", "str");
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.kind, ValueType::Str);
        assert_eq!(
            &decrypt(&key, &parsed, "db:password:").unwrap()[..],
            b"hunter2"
        );
        assert_eq!(
            decrypt(&key, &parsed, "db:user:"),
            Err(CipherError::Decrypt)
        );
        assert_eq!(
            decrypt(&[8u8; 32], &parsed, "db:password:"),
            Err(CipherError::Decrypt)
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "ENC[AES256_GCM,data:,iv:,tag:,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:%%,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==",
            "plain",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let key = [1u8; 32];
        let t = encrypt(&key, b"x", ":", "str").replace("type:str", "type:weird");
        assert!(matches!(parse(&t), Err(CipherError::UnknownType(_))));
    }

    #[test]
    fn additional_data_is_keys_joined_by_colons() {
        assert_eq!(additional_data(["a", "b"]), "a:b:");
        assert_eq!(additional_data(Vec::<&str>::new()), ":");
    }
}
