//! Passphrases: for age-encrypted (passphrase-protected) identity files,
//! `scrypt:LABEL` recipients and `seal keygen --passphrase`.
//!
//! A passphrase comes from `SEAL_PASSPHRASE_FD` when it is set (the first
//! line read from that file descriptor, once per process; every passphrase
//! request of the process gets it), otherwise from a prompt on the
//! controlling terminal (`/dev/tty`) with echo turned off. There is no other
//! source: never an argument or an environment variable holding the
//! passphrase itself. Passphrases never appear in errors or logs.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::sync::Mutex;

use age::armor::{ArmoredReader, ArmoredWriter, Format as ArmorFormat};
use age::secrecy::SecretString;
use zeroize::Zeroizing;

/// The environment variable naming a file descriptor to read the
/// passphrase from.
pub const FD_VAR: &str = "SEAL_PASSPHRASE_FD";

/// The prefix of a passphrase recipient: `scrypt:LABEL`.
pub const SCRYPT_PREFIX: &str = "scrypt:";

/// The most bytes read from `SEAL_PASSPHRASE_FD`.
const MAX_PASSPHRASE: usize = 4096;

/// Why no passphrase could be obtained. Never contains the passphrase.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PassphraseError {
    #[error("{FD_VAR}={0:?} is not a file descriptor number")]
    BadFd(String),
    #[error("cannot read the passphrase from file descriptor {fd} ({FD_VAR}): {reason}")]
    FdRead { fd: String, reason: String },
    #[error("cannot ask for {what}: no terminal ({reason}); set {FD_VAR} to a file descriptor that holds it")]
    NoTerminal { what: String, reason: String },
    #[error("the passphrase is empty")]
    Empty,
    #[error("the two passphrases do not match")]
    Mismatch,
    #[error("the file is age-encrypted to a key, not with a passphrase; it is not an identity")]
    NotPassphraseProtected,
    #[error("not a valid age-encrypted identity file: {0}")]
    InvalidEncryptedIdentity(String),
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// age refused to decrypt, for another reason than the passphrase.
    #[error("{0}")]
    Decrypt(String),
    #[error("cannot decrypt: {0}")]
    DecryptRead(String),
    #[error("the decrypted identity is not text")]
    NotText,
    /// age could not encrypt (`protect_identity`).
    #[error("{0}")]
    Encrypt(String),
}

/// The passphrase read from `SEAL_PASSPHRASE_FD`, kept for the process
/// (a pipe can be read only once).
static FD_CACHE: Mutex<Option<Zeroizing<String>>> = Mutex::new(None);
/// Passphrases typed for `scrypt:` recipients, by label, so one run asks
/// once per label.
static RECIPIENT_CACHE: Mutex<Option<HashMap<String, Zeroizing<String>>>> = Mutex::new(None);
/// Why the last passphrase request of an identity callback failed.
static LAST_FAILURE: Mutex<Option<String>> = Mutex::new(None);

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

/// Whether `SEAL_PASSPHRASE_FD` is set.
pub fn fd_configured() -> bool {
    std::env::var_os(FD_VAR).is_some_and(|v| !v.is_empty())
}

fn read_fd() -> Result<Zeroizing<String>, PassphraseError> {
    let mut cache = FD_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = cache.as_ref() {
        return Ok(p.clone());
    }
    let raw = std::env::var(FD_VAR).unwrap_or_default();
    let fd: u32 = raw
        .trim()
        .parse()
        .map_err(|_| PassphraseError::BadFd(raw.clone()))?;
    let fail = |reason: String| PassphraseError::FdRead {
        fd: fd.to_string(),
        reason,
    };
    let file = std::fs::File::open(format!("/proc/self/fd/{fd}"))
        .or_else(|_| std::fs::File::open(format!("/dev/fd/{fd}")))
        .map_err(|e| fail(e.to_string()))?;
    // Byte by byte up to the first line break, so nothing after it is
    // consumed from a pipe.
    let mut file = file;
    let mut bytes = Zeroizing::new(Vec::new());
    let mut one = [0u8; 1];
    loop {
        match file.read(&mut one) {
            Ok(0) => break,
            Ok(_) if one[0] == b'\n' => break,
            Ok(_) => {
                if bytes.len() >= MAX_PASSPHRASE {
                    return Err(fail(format!("longer than {MAX_PASSPHRASE} bytes")));
                }
                bytes.push(one[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let text = Zeroizing::new(
        std::str::from_utf8(&bytes)
            .map_err(|_| fail("not UTF-8".into()))?
            .to_owned(),
    );
    if text.is_empty() {
        return Err(PassphraseError::Empty);
    }
    *cache = Some(text.clone());
    Ok(text)
}

fn prompt_tty(prompt: &str, what: &str) -> Result<Zeroizing<String>, PassphraseError> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| PassphraseError::NoTerminal {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

/// Obtain a passphrase: from `SEAL_PASSPHRASE_FD`, else by prompting on the
/// terminal (typed twice when `confirm` is given). `what` names it in
/// errors ("the passphrase of identity file x.key").
pub fn obtain(
    prompt: &str,
    confirm: Option<&str>,
    what: &str,
) -> Result<Zeroizing<String>, PassphraseError> {
    if fd_configured() {
        return read_fd();
    }
    let first = prompt_tty(prompt, what)?;
    if first.is_empty() {
        return Err(PassphraseError::Empty);
    }
    if let Some(again) = confirm {
        let second = prompt_tty(again, what)?;
        if first.as_bytes() != second.as_bytes() {
            return Err(PassphraseError::Mismatch);
        }
    }
    Ok(first)
}

/// The passphrase of the recipient `scrypt:LABEL`, asked once per label
/// (twice on a terminal, to catch typos: a wrong one cannot be detected
/// when wrapping).
pub fn for_recipient(label: &str) -> Result<SecretString, PassphraseError> {
    let mut cache = RECIPIENT_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if let Some(p) = map.get(label) {
        return Ok(secret(p));
    }
    let p = obtain(
        &format!("Passphrase for recipient {SCRYPT_PREFIX}{label}: "),
        Some(&format!(
            "Repeat the passphrase for {SCRYPT_PREFIX}{label}: "
        )),
        &format!("the passphrase of recipient {SCRYPT_PREFIX}{label}"),
    )?;
    let s = secret(&p);
    map.insert(label.to_owned(), p);
    Ok(s)
}

/// A passphrase to try against `scrypt:` recipients (`--passphrase`).
pub fn for_decryption() -> Result<SecretString, PassphraseError> {
    obtain(
        "Passphrase (for scrypt: recipients): ",
        None,
        "the passphrase",
    )
    .map(|p| secret(&p))
}

/// Whether a recipient label is acceptable: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether identity file contents are an age file (armored or binary),
/// i.e. a passphrase-protected identity.
pub fn is_age_encrypted(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    rest.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
        || rest.starts_with(b"age-encryption.org/")
}

/// age callbacks that get the passphrase of an encrypted identity file from
/// `SEAL_PASSPHRASE_FD` or the terminal, and remember why they failed.
#[derive(Clone, Debug)]
pub struct PassphraseCallbacks {
    /// The identity file, for the prompt and messages.
    pub source: String,
}

impl age::Callbacks for PassphraseCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("seal: {message}");
    }

    fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _description: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, _description: &str) -> Option<SecretString> {
        let result = obtain(
            &format!("Passphrase for identity file {}: ", self.source),
            None,
            &format!("the passphrase of identity file {}", self.source),
        );
        let mut last = LAST_FAILURE.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(p) => {
                *last = Some(format!(
                    "wrong passphrase for identity file {}",
                    self.source
                ));
                Some(secret(&p))
            }
            Err(e) => {
                *last = Some(e.to_string());
                None
            }
        }
    }
}

/// Why the last passphrase-protected identity could not be opened ("wrong
/// passphrase for identity file X", or why no passphrase was obtained).
pub fn last_identity_failure() -> Option<String> {
    LAST_FAILURE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// A passphrase-protected identity, decrypted on first use.
pub fn encrypted_identity(
    bytes: Vec<u8>,
    source: &str,
) -> Result<Box<dyn age::Identity>, PassphraseError> {
    let callbacks = PassphraseCallbacks {
        source: source.to_owned(),
    };
    match age::encrypted::Identity::from_buffer(
        ArmoredReader::new(Cursor::new(bytes)),
        Some(source.to_owned()),
        callbacks,
        None,
    ) {
        Ok(Some(id)) => Ok(Box::new(id)),
        Ok(None) => Err(PassphraseError::NotPassphraseProtected),
        Err(e) => Err(PassphraseError::InvalidEncryptedIdentity(e.to_string())),
    }
}

/// Decrypt a passphrase-protected identity file now (for `seal keygen -y`).
pub fn decrypt_identity_text(
    bytes: &[u8],
    source: &str,
) -> Result<Zeroizing<String>, PassphraseError> {
    let decryptor = age::Decryptor::new(ArmoredReader::new(bytes))
        .map_err(|e| PassphraseError::InvalidEncryptedIdentity(e.to_string()))?;
    if !decryptor.is_scrypt() {
        return Err(PassphraseError::NotPassphraseProtected);
    }
    let pass = obtain(
        &format!("Passphrase for identity file {source}: "),
        None,
        &format!("the passphrase of identity file {source}"),
    )?;
    let identity = age::scrypt::Identity::new(secret(&pass));
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                PassphraseError::WrongPassphrase
            }
            other => PassphraseError::Decrypt(other.to_string()),
        })?;
    let mut out = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut out)
        .map_err(|e| PassphraseError::DecryptRead(e.to_string()))?;
    std::str::from_utf8(&out)
        .map(|s| Zeroizing::new(s.to_owned()))
        .map_err(|_| PassphraseError::NotText)
}

/// Encrypt identity text with a passphrase (age scrypt), armored.
pub fn protect_identity(text: &str, passphrase: &str) -> Result<String, PassphraseError> {
    let fail = |e: &dyn std::fmt::Display| PassphraseError::Encrypt(e.to_string());
    let encryptor = age::Encryptor::with_user_passphrase(secret(passphrase));
    let armored =
        ArmoredWriter::wrap_output(Vec::new(), ArmorFormat::AsciiArmor).map_err(|e| fail(&e))?;
    let mut writer = encryptor.wrap_output(armored).map_err(|e| fail(&e))?;
    writer.write_all(text.as_bytes()).map_err(|e| fail(&e))?;
    let bytes = writer
        .finish()
        .and_then(|a| a.finish())
        .map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(valid_label("break-glass.2026_a"));
        assert!(!valid_label(""));
        assert!(!valid_label("a b"));
        assert!(!valid_label(&"x".repeat(65)));
    }

    #[test]
    fn protected_identity_round_trip() {
        let (text, _) = crate::envelope::generate_identity();
        let armored = protect_identity(&text, "correct horse").unwrap();
        assert!(is_age_encrypted(armored.as_bytes()));
        assert!(!is_age_encrypted(text.as_bytes()));
        // Decrypting with the scrypt identity directly (no prompt needed).
        let d = age::Decryptor::new(ArmoredReader::new(armored.as_bytes())).unwrap();
        let id = age::scrypt::Identity::new(secret("correct horse"));
        let mut r = d
            .decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, text.as_str());
    }
}
