//! The envelope: the data key wrapped once per recipient as an armored age
//! file, and the identities that unwrap it (spec/FORMAT.md, "Recipients").
//!
//! Each wrapped key is a standard age file whose payload is the 32-byte data
//! key, so `age -d -i KEY` can audit it without seal.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::armor::{ArmoredReader, ArmoredWriter, Format as ArmorFormat};
use age::cli_common::{read_identities, read_recipients, ReadError, StdinGuard};
use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::crypto::{DataKey, DATA_KEY_LEN};
use crate::metadata::WrappedKey;

/// A recipient the data key can be wrapped to.
pub struct Recipient {
    text: String,
    /// `None` for a passphrase recipient (`scrypt:LABEL`): the passphrase is
    /// asked for when wrapping.
    inner: Option<Box<dyn age::Recipient + Send>>,
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Recipient").field(&self.text).finish()
    }
}

/// Why a recipient string was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    #[error("invalid recipient {0:?}: expected an age public key (age1…), an ssh-ed25519 or ssh-rsa public key line, an age plugin recipient, or scrypt:LABEL (a passphrase)")]
    Invalid(String),
    #[error("recipient {0:?} is a point of small order on Curve25519: it is nobody's key (no private key matches it, and a data key wrapped to it could be unwrapped by anyone)")]
    SmallOrder(String),
    #[error("recipient {recipient:?}: {reason}")]
    Unusable { recipient: String, reason: String },
    #[error("recipient {recipient:?} needs the age plugin {binary_name}, which is not on PATH")]
    MissingPlugin {
        recipient: String,
        binary_name: String,
    },
}

/// The program a plugin recipient or identity needs, when age could not
/// find it on PATH. age's own message for this wraps the name in Unicode
/// isolation marks and leaves seal's hints suggesting the key is wrong.
fn missing_plugin(e: &ReadError) -> Option<String> {
    match e {
        ReadError::PluginResolve(age::plugin::ResolveError::MissingPlugin { binary_name }) => {
            Some(binary_name.clone())
        }
        _ => None,
    }
}

/// Whether `text` is an age X25519 recipient (`age1…`, 32 bytes) whose
/// point has small order. age accepts such keys, then fails every wrap
/// (the shared secret is zero); and no private key corresponds to them.
fn is_small_order_x25519(text: &str) -> bool {
    let Ok((hrp, data)) = bech32::decode(text) else {
        return false;
    };
    let Ok(u) = <[u8; 32]>::try_from(data.as_slice()) else {
        return false;
    };
    if hrp.as_str() != "age" {
        return false;
    }
    // A clamped scalar is a multiple of the cofactor 8, which takes every
    // point of small order to the zero u-coordinate, and no other point.
    curve25519_dalek::montgomery::MontgomeryPoint(u)
        .mul_clamped([0x5a; 32])
        .to_bytes()
        == [0u8; 32]
}

/// Whether `text` is an `ssh-ed25519` public key whose point has small
/// order. age wraps to such a key without complaint, and what it wraps is
/// open to everyone: the shared secret is zero, and every other input of
/// the wrapping key is public. The point is the one age's own parser reads
/// (it takes a fixed number of characters and ignores what follows them),
/// so no spelling of the key gets past this check and into age.
fn is_small_order_ssh_ed25519(text: &str) -> bool {
    matches!(
        text.parse::<age::ssh::Recipient>(),
        Ok(age::ssh::Recipient::SshEd25519(_, point)) if point.is_small_order()
    )
}

impl Recipient {
    /// Parse and validate `age1…`, `ssh-ed25519 …`, `ssh-rsa …` or a plugin
    /// recipient (`age1name1…`, which needs `age-plugin-name` on PATH).
    pub fn parse(text: &str) -> Result<Recipient, RecipientError> {
        let text = text.trim();
        if let Some(label) = text.strip_prefix(crate::passphrase::SCRYPT_PREFIX) {
            if !crate::passphrase::valid_label(label) {
                return Err(RecipientError::Invalid(text.to_owned()));
            }
            return Ok(Recipient {
                text: text.to_owned(),
                inner: None,
            });
        }
        let looks_valid = text.starts_with("age1")
            || text.starts_with("ssh-ed25519 ")
            || text.starts_with("ssh-rsa ");
        if !looks_valid || text.contains(['\n', '\r']) {
            return Err(RecipientError::Invalid(text.to_owned()));
        }
        let mut parsed = read_recipients(
            vec![text.to_owned()],
            vec![],
            vec![],
            None,
            &mut StdinGuard::new(false),
        )
        .map_err(|e| match e {
            ReadError::InvalidRecipient(_) => RecipientError::Invalid(text.to_owned()),
            other => match missing_plugin(&other) {
                Some(binary_name) => RecipientError::MissingPlugin {
                    recipient: text.to_owned(),
                    binary_name,
                },
                None => RecipientError::Unusable {
                    recipient: text.to_owned(),
                    reason: other.to_string(),
                },
            },
        })?;
        if is_small_order_x25519(text) || is_small_order_ssh_ed25519(text) {
            return Err(RecipientError::SmallOrder(text.to_owned()));
        }
        match (parsed.pop(), parsed.is_empty()) {
            (Some(inner), true) => Ok(Recipient {
                text: text.to_owned(),
                inner: Some(inner),
            }),
            _ => Err(RecipientError::Invalid(text.to_owned())),
        }
    }

    /// The identity of a recipient text for comparisons: SSH keys by type
    /// and key (the comment is ignored), age and plugin keys in lower case,
    /// everything else by its trimmed text.
    pub fn normalize_key(text: &str) -> String {
        let text = text.trim();
        if text.starts_with("ssh-") {
            let mut fields = text.split_whitespace();
            if let (Some(kind), Some(body)) = (fields.next(), fields.next()) {
                return format!("{kind} {body}");
            }
        }
        // Bech32 (age keys, plugin recipients) is case-insensitive.
        if text
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("age1"))
        {
            return text.to_ascii_lowercase();
        }
        text.to_owned()
    }

    /// Whether two recipient texts name the same key.
    pub fn same_key(a: &str, b: &str) -> bool {
        Recipient::normalize_key(a) == Recipient::normalize_key(b)
    }

    /// The kind of a recipient text: `age`, `ssh-ed25519`, `ssh-rsa`,
    /// `plugin:NAME` or `scrypt`.
    pub fn key_type(text: &str) -> String {
        let text = text.trim();
        if text.starts_with(crate::passphrase::SCRYPT_PREFIX) {
            return "scrypt".into();
        }
        if let Some(kind) = text.strip_prefix("ssh-") {
            return format!("ssh-{}", kind.split_whitespace().next().unwrap_or(""));
        }
        if let Some(rest) = text.strip_prefix("age1") {
            // Bech32: the separator is the last `1`; X25519 keys have the
            // human-readable part `age`, plugins `age1NAME`.
            return match rest.rfind('1') {
                Some(i) if i > 0 => format!("plugin:{}", &rest[..i]),
                _ => "age".into(),
            };
        }
        "unknown".into()
    }

    /// A key fingerprint, as `seal recipients` shows it: for SSH keys the
    /// same `SHA256:…` as `ssh-keygen -l` (base64 of SHA-256 of the key
    /// blob); for other recipients `SHA256:` and the base64 (no padding) of
    /// SHA-256 of the recipient text.
    pub fn fingerprint(text: &str) -> String {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let norm = Recipient::normalize_key(text);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let digest = match norm.split_once(' ') {
            Some((_, blob)) if norm.starts_with("ssh-") => {
                match base64::engine::general_purpose::STANDARD.decode(blob) {
                    Ok(bytes) => Sha256::digest(bytes),
                    Err(_) => Sha256::digest(norm.as_bytes()),
                }
            }
            _ => Sha256::digest(norm.as_bytes()),
        };
        format!("SHA256:{}", b64.encode(digest))
    }

    /// A short form of a recipient text for messages:
    /// `age1abcdef…uvwxyz`, `ssh-ed25519 …comment`.
    pub fn short_key(text: &str) -> String {
        let text = text.trim();
        if text.starts_with("ssh-") {
            let fields: Vec<&str> = text.split_whitespace().collect();
            return match fields.as_slice() {
                [kind, _, comment, ..] => format!("{kind} …{comment}"),
                [kind, body] => format!("{kind} …{}", &body[body.len().saturating_sub(8)..]),
                _ => text.to_owned(),
            };
        }
        if text.len() > 20 && text.is_ascii() {
            return format!("{}…{}", &text[..10], &text[text.len() - 6..]);
        }
        text.to_owned()
    }

    /// Whether this is a passphrase recipient (`scrypt:LABEL`).
    pub fn is_passphrase(&self) -> bool {
        self.inner.is_none()
    }

    /// The recipient as written in the file's metadata.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Encrypt `key` to this recipient as an armored age file.
    pub fn wrap(&self, key: &DataKey) -> Result<WrappedKey, RecipientError> {
        Ok(WrappedKey {
            recipient: self.text.clone(),
            data_key: self.wrap_secret(key.expose())?,
        })
    }

    /// A 32-byte secret (a data key, or a file MAC key for a group's
    /// `file_key`) as an armored age file for this recipient alone.
    pub fn wrap_secret(&self, secret: &[u8; 32]) -> Result<String, RecipientError> {
        let unusable = |reason: String| RecipientError::Unusable {
            recipient: self.text.clone(),
            reason,
        };
        let scrypt;
        let inner: &dyn age::Recipient = match &self.inner {
            Some(r) => r.as_ref(),
            None => {
                let label = self
                    .text
                    .strip_prefix(crate::passphrase::SCRYPT_PREFIX)
                    .unwrap_or_default();
                let pass =
                    crate::passphrase::for_recipient(label).map_err(|e| unusable(e.to_string()))?;
                scrypt = age::scrypt::Recipient::new(pass);
                &scrypt
            }
        };
        armored_age(std::iter::once(inner), secret).map_err(unusable)
    }
}

/// `payload` encrypted as one armored age file to every recipient.
fn armored_age<'r>(
    recipients: impl Iterator<Item = &'r dyn age::Recipient>,
    payload: &[u8],
) -> Result<String, String> {
    let encryptor = age::Encryptor::with_recipients(recipients).map_err(|e| e.to_string())?;
    let armored = ArmoredWriter::wrap_output(Vec::new(), ArmorFormat::AsciiArmor)
        .map_err(|e| e.to_string())?;
    let mut writer = encryptor
        .wrap_output(armored)
        .map_err(|e| e.to_string())?;
    writer.write_all(payload).map_err(|e| e.to_string())?;
    let bytes = writer
        .finish()
        .and_then(|armored| armored.finish())
        .map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The first and last lines of an armored age file.
const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----\n";
const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----\n";

/// Whether `text` is laid out as an armored age file (begin line, end
/// line, `\n` line breaks); whether it decrypts is another matter.
pub fn looks_armored(text: &str) -> bool {
    text.len() > ARMOR_BEGIN.len() + ARMOR_END.len()
        && text.starts_with(ARMOR_BEGIN)
        && text.ends_with(ARMOR_END)
        && !text.contains('\r')
}

/// Encrypt `payload` once to all of `recipients` as an armored age file:
/// a pending value (spec/FORMAT.md, section 13), which its writer seals
/// without the data key. Passphrase recipients cannot be written to
/// without their passphrase and are left out: the caller says so.
pub fn seal_to_public_keys(
    recipients: &[Recipient],
    payload: &[u8],
) -> Result<String, RecipientError> {
    let keys: Vec<&dyn age::Recipient> = recipients
        .iter()
        .filter_map(|r| r.inner.as_deref().map(|i| i as &dyn age::Recipient))
        .collect();
    if keys.is_empty() {
        return Err(RecipientError::Unusable {
            recipient: recipients
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: "no recipient of the file has a public key (passphrase recipients need the passphrase)".into(),
        });
    }
    armored_age(keys.into_iter(), payload).map_err(|reason| RecipientError::Unusable {
        recipient: recipients[0].text.clone(),
        reason,
    })
}

/// Why an armored age file (a pending value) did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenArmoredError {
    #[error("none of your identities ({0}) can open it (it was sealed to the file's recipients when it was written)")]
    NoMatch(String),
    #[error("it is damaged: {0}")]
    Damaged(String),
}

/// Decrypt an armored age file with any of `ids` (a pending value).
pub fn open_armored(
    armored: &str,
    ids: &Identities,
    limit: u64,
) -> Result<Zeroizing<Vec<u8>>, OpenArmoredError> {
    let damaged = |e: &dyn std::fmt::Display| OpenArmoredError::Damaged(e.to_string());
    let decryptor =
        age::Decryptor::new(ArmoredReader::new(armored.as_bytes())).map_err(|e| damaged(&e))?;
    let mut reader = match decryptor.decrypt(ids.list.iter().map(|i| i.as_ref())) {
        Ok(reader) => reader,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Err(OpenArmoredError::NoMatch(ids.sources.join(", ")))
        }
        Err(e) => return Err(damaged(&e)),
    };
    let mut bytes = Zeroizing::new(Vec::new());
    reader
        .by_ref()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(&e))?;
    if bytes.len() as u64 > limit {
        return Err(OpenArmoredError::Damaged(format!(
            "it is larger than {limit} bytes"
        )));
    }
    Ok(bytes)
}

/// Read a recipients file (`-R`): one recipient per line, `#` comments and
/// blank lines ignored, like age's.
pub fn read_recipients_file(path: &Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Identities that may unwrap a data key, with where each came from.
pub struct Identities {
    list: Vec<Box<dyn age::Identity>>,
    /// Human-readable sources, for error messages (file names, env vars).
    pub sources: Vec<String>,
    /// Which of `list` are passphrase-protected: tried only after the
    /// others, so a key that needs no passphrase is never held up by one.
    locked: Vec<bool>,
}

/// Why identities could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read identity {source_name}: {reason}")]
    Read { source_name: String, reason: String },
    #[error("no identity found: tried {tried}")]
    NoneFound { tried: String },
    #[error("an identity file name holds key text (not shown): -i and SEAL_IDENTITY_FILE take paths; put the key itself in SEAL_IDENTITY")]
    KeyTextAsPath,
    #[error("identity {source_name} needs the age plugin {binary_name}, which is not on PATH")]
    MissingPlugin {
        source_name: String,
        binary_name: String,
    },
}

/// Where identities are looked up, in order (see `Identities::load`).
#[derive(Clone, Debug, Default)]
pub struct IdentitySources {
    /// `-i/--identity` files.
    pub files: Vec<PathBuf>,
    /// `SEAL_IDENTITY_FILE`, colon-separated.
    pub env_files: Option<String>,
    /// `SEAL_IDENTITY`: identity text itself.
    pub env_text: Option<Zeroizing<String>>,
    /// The default identity file (`$XDG_CONFIG_HOME/seal/identity.txt`).
    pub default_file: Option<PathBuf>,
}

impl IdentitySources {
    /// The sources from the process environment, or only `files` when
    /// `-i` names any: an explicit flag overrides the environment, so
    /// `-i bob.txt` never quietly opens a file with alice's key from
    /// `SEAL_IDENTITY_FILE`.
    pub fn from_env(files: Vec<PathBuf>) -> Self {
        if !files.is_empty() {
            return IdentitySources {
                files,
                ..IdentitySources::default()
            };
        }
        IdentitySources {
            files,
            env_files: std::env::var("SEAL_IDENTITY_FILE")
                .ok()
                .filter(|s| !s.is_empty()),
            env_text: std::env::var("SEAL_IDENTITY")
                .ok()
                .filter(|s| !s.is_empty())
                .map(Zeroizing::new),
            default_file: default_identity_path(),
        }
    }
}

/// `$XDG_CONFIG_HOME/seal/identity.txt`, else `~/.config/seal/identity.txt`.
pub fn default_identity_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("seal").join("identity.txt"))
}

/// Whether `text`, given as a file name, is really private key material.
pub fn looks_like_key_text(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with("AGE-SECRET-KEY-")
        || text.starts_with("AGE-PLUGIN-")
        || text.contains("-----BEGIN")
        || text.contains("PRIVATE KEY")
}

impl Identities {
    /// Whether no identity was found or given.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Load every identity from `-i` files, `SEAL_IDENTITY_FILE`,
    /// `SEAL_IDENTITY` and the default file, in that order (see
    /// [`IdentitySources::from_env`] for which are set). Files named
    /// explicitly must exist; the default file is optional.
    pub fn load(sources: &IdentitySources) -> Result<Identities, IdentityError> {
        let mut ids = Identities {
            list: Vec::new(),
            sources: Vec::new(),
            locked: Vec::new(),
        };
        for file in &sources.files {
            ids.add_file(file)?;
        }
        if let Some(list) = &sources.env_files {
            for file in list.split(':').filter(|f| !f.is_empty()) {
                ids.add_file(Path::new(file))?;
            }
        }
        if let Some(text) = &sources.env_text {
            ids.add_text(text, "SEAL_IDENTITY")?;
        }
        if let Some(file) = &sources.default_file {
            if file.exists() {
                // Optional: with identities given explicitly, a broken
                // default file does not stand in their way.
                match ids.add_file(file) {
                    Err(_) if !ids.list.is_empty() => {}
                    other => other?,
                }
            }
        }
        if ids.list.is_empty() {
            let mut tried: Vec<String> = sources
                .files
                .iter()
                .map(|f| format!("{} (no identity in it)", f.display()))
                .collect();
            match &sources.env_files {
                // `-i` was the only source.
                None if !sources.files.is_empty() => {}
                None => tried.push("SEAL_IDENTITY_FILE (unset)".into()),
                Some(list) if list.split(':').all(str::is_empty) => {
                    tried.push("SEAL_IDENTITY_FILE (empty)".into())
                }
                Some(list) => tried.extend(
                    list.split(':')
                        .filter(|f| !f.is_empty())
                        .map(|f| format!("{f} (no identity in it)")),
                ),
            }
            if sources.env_text.is_none() && sources.files.is_empty() {
                tried.push("SEAL_IDENTITY (unset)".into());
            }
            if let Some(f) = &sources.default_file {
                tried.push(format!("{} (missing)", f.display()));
            }
            return Err(IdentityError::NoneFound {
                tried: tried.join(", "),
            });
        }
        Ok(ids)
    }

    /// Identities from in-memory identity text (an age identity file or an
    /// OpenSSH private key).
    pub fn from_text(text: &str, source_name: &str) -> Result<Identities, IdentityError> {
        let mut ids = Identities {
            list: Vec::new(),
            sources: Vec::new(),
            locked: Vec::new(),
        };
        ids.add_text(text, source_name)?;
        Ok(ids)
    }

    /// Identities with nothing in them, to add a passphrase to.
    pub fn empty() -> Identities {
        Identities {
            list: Vec::new(),
            sources: Vec::new(),
            locked: Vec::new(),
        }
    }

    fn push(&mut self, id: Box<dyn age::Identity>, source: String, locked: bool) {
        self.list.push(id);
        self.sources.push(source);
        self.locked.push(locked);
    }

    /// Identities from one source that need no passphrase.
    fn extend(&mut self, ids: impl IntoIterator<Item = Box<dyn age::Identity>>, source: String) {
        for id in ids {
            self.list.push(id);
            self.locked.push(false);
        }
        self.sources.push(source);
    }

    /// Also try `passphrase` against `scrypt:` recipients.
    pub fn add_passphrase(&mut self, passphrase: age::secrecy::SecretString) {
        self.push(
            Box::new(age::scrypt::Identity::new(passphrase)),
            "the passphrase".to_owned(),
            false,
        );
    }

    /// Add the identities of one identity file (`sops import` adds SOPS's).
    pub fn add_file(&mut self, path: &Path) -> Result<(), IdentityError> {
        let name = path.display().to_string();
        // Key text where a path belongs (SEAL_IDENTITY_FILE set to the key):
        // every message below would quote it.
        if looks_like_key_text(&name) {
            return Err(IdentityError::KeyTextAsPath);
        }
        if let Ok(bytes) = std::fs::read(path) {
            let bytes = Zeroizing::new(bytes);
            // A passphrase-protected identity: decrypted on first use, with
            // the passphrase from SEAL_PASSPHRASE_FD or the terminal.
            if crate::passphrase::is_age_encrypted(&bytes) {
                let id =
                    crate::passphrase::encrypted_identity(bytes.to_vec(), &name).map_err(|e| {
                        IdentityError::Read {
                            source_name: name.clone(),
                            reason: e.to_string(),
                        }
                    })?;
                self.push(id, name, true);
                return Ok(());
            }
            // OpenSSH private keys are read here rather than by age's
            // reader, whose passphrase prompt knows neither
            // SEAL_PASSPHRASE_FD nor what to say without a terminal.
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if text
                    .trim_start()
                    .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
                {
                    return self.add_text(text, &name);
                }
            }
        }
        let found = read_identities(vec![name.clone()], None, &mut StdinGuard::new(false))
            .map_err(|e| match missing_plugin(&e) {
                Some(binary_name) => IdentityError::MissingPlugin {
                    source_name: name.clone(),
                    binary_name,
                },
                None => IdentityError::Read {
                    source_name: name.clone(),
                    reason: e.to_string(),
                },
            })?;
        self.extend(found, name);
        Ok(())
    }

    /// Add the identities in `text`, named `source_name` in messages.
    pub fn add_text(&mut self, text: &str, source_name: &str) -> Result<(), IdentityError> {
        let read_err = |reason: &str| IdentityError::Read {
            source_name: source_name.to_owned(),
            reason: reason.to_owned(),
        };
        if crate::passphrase::is_age_encrypted(text.as_bytes()) {
            let id = crate::passphrase::encrypted_identity(text.as_bytes().to_vec(), source_name)
                .map_err(|e| read_err(&e.to_string()))?;
            self.push(id, source_name.to_owned(), true);
            return Ok(());
        }
        if text
            .trim_start()
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        {
            let id = age::ssh::Identity::from_buffer(text.as_bytes(), Some(source_name.to_owned()))
                .map_err(|_| read_err("not a valid OpenSSH private key"))?;
            if let age::ssh::Identity::Unsupported(_) = id {
                return Err(read_err(
                    "unsupported SSH key type (use ssh-ed25519 or ssh-rsa)",
                ));
            }
            // A protected key's passphrase comes from SEAL_PASSPHRASE_FD or
            // the terminal, like a protected age identity's.
            let locked = matches!(id, age::ssh::Identity::Encrypted(_));
            let callbacks = crate::passphrase::PassphraseCallbacks {
                source: source_name.to_owned(),
            };
            self.push(
                Box::new(id.with_callbacks(callbacks)),
                source_name.to_owned(),
                locked,
            );
            return Ok(());
        } else {
            let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|_| {
                read_err("not an age identity (AGE-SECRET-KEY-1…) or OpenSSH private key")
            })?;
            let found = file
                .with_callbacks(age::cli_common::UiCallbacks)
                .into_identities()
                .map_err(|e| match e {
                    age::DecryptError::PluginResolve(
                        age::plugin::ResolveError::MissingPlugin { binary_name },
                    ) => IdentityError::MissingPlugin {
                        source_name: source_name.to_owned(),
                        binary_name,
                    },
                    other => read_err(&other.to_string()),
                })?;
            if found.is_empty() {
                return Err(read_err("no identity in it"));
            }
            self.extend(
                found.into_iter().map(|i| i as Box<dyn age::Identity>),
                source_name.to_owned(),
            );
        }
        Ok(())
    }

}

/// Why the data key could not be unwrapped.
#[derive(Debug, thiserror::Error)]
pub enum UnwrapError {
    #[error("none of your identities ({sources}) is a recipient of this file")]
    NoMatch {
        sources: String,
        recipients: Vec<String>,
    },
    #[error("the data key wrapped for {recipient} is damaged: {reason}")]
    Damaged { recipient: String, reason: String },
    #[error(
        "the passphrase does not open the data key wrapped for {recipient} (wrong passphrase)"
    )]
    WrongPassphrase { recipient: String },
    #[error("cannot use a passphrase-protected identity: {reason}")]
    LockedIdentity { reason: String },
}

/// Unwrap the data key with the first identity that opens one of the
/// wrapped copies.
pub fn unwrap_data_key(wrapped: &[WrappedKey], ids: &Identities) -> Result<DataKey, UnwrapError> {
    // Keys that need no passphrase first, against every wrapped key: a
    // protected identity is asked for its passphrase only when nothing else
    // opens the file.
    if ids.locked.iter().any(|&l| l) {
        let unlocked = |i: usize| !ids.locked.get(i).copied().unwrap_or(false);
        if let Ok(key) = unwrap_with(wrapped, ids, unlocked) {
            return Ok(key);
        }
    }
    unwrap_with(wrapped, ids, |_| true)
}

/// [`unwrap_data_key`] with the identities `use_identity` keeps.
fn unwrap_with(
    wrapped: &[WrappedKey],
    ids: &Identities,
    use_identity: impl Fn(usize) -> bool,
) -> Result<DataKey, UnwrapError> {
    let mut damaged = None;
    for w in wrapped {
        let decryptor = match age::Decryptor::new(ArmoredReader::new(w.data_key.as_bytes())) {
            Ok(d) => d,
            Err(e) => {
                damaged.get_or_insert(UnwrapError::Damaged {
                    recipient: w.recipient.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let chosen = ids
            .list
            .iter()
            .enumerate()
            .filter(|(i, _)| use_identity(*i))
            .map(|(_, id)| id.as_ref() as &dyn age::Identity);
        match decryptor.decrypt(chosen) {
            Ok(mut reader) => {
                let mut bytes = Zeroizing::new(Vec::with_capacity(DATA_KEY_LEN));
                let read = reader
                    .by_ref()
                    .take(DATA_KEY_LEN as u64 + 1)
                    .read_to_end(&mut bytes);
                match read.ok().and_then(|_| DataKey::from_bytes(&bytes)) {
                    Some(key) => return Ok(key),
                    None => {
                        return Err(UnwrapError::Damaged {
                            recipient: w.recipient.clone(),
                            reason: "the payload is not a 32-byte data key".into(),
                        })
                    }
                }
            }
            Err(age::DecryptError::NoMatchingKeys) => continue,
            Err(age::DecryptError::DecryptionFailed)
                if w.recipient.starts_with(crate::passphrase::SCRYPT_PREFIX) =>
            {
                damaged.get_or_insert(UnwrapError::WrongPassphrase {
                    recipient: w.recipient.clone(),
                });
            }
            Err(age::DecryptError::KeyDecryptionFailed) => {
                // An encrypted identity whose passphrase was wrong or could
                // not be asked for: the same answer for every wrapped key.
                return Err(UnwrapError::LockedIdentity {
                    reason: crate::passphrase::last_identity_failure()
                        .unwrap_or_else(|| "wrong passphrase".to_owned()),
                });
            }
            Err(e) => {
                damaged.get_or_insert(UnwrapError::Damaged {
                    recipient: w.recipient.clone(),
                    reason: e.to_string(),
                });
            }
        }
    }
    if damaged.is_none()
        && ids
            .locked
            .iter()
            .enumerate()
            .any(|(i, &l)| l && use_identity(i))
    {
        // A protected identity whose passphrase could not be asked for
        // reports no match; say why instead.
        if let Some(reason) = crate::passphrase::last_identity_failure()
            .filter(|r| !r.starts_with("wrong passphrase"))
        {
            return Err(UnwrapError::LockedIdentity { reason });
        }
    }
    Err(damaged.unwrap_or_else(|| UnwrapError::NoMatch {
        sources: ids.sources.join(", "),
        recipients: wrapped.iter().map(|w| w.recipient.clone()).collect(),
    }))
}

/// A new age X25519 identity: the identity file text (same layout as
/// `age-keygen`) and its public key.
pub fn generate_identity() -> (Zeroizing<String>, String) {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let text = Zeroizing::new(format!(
        "# created: {created}\n# public key: {public}\n{}\n",
        identity.to_string().expose_secret()
    ));
    (text, public)
}

/// Why an identity file's text yields no public key.
#[derive(Debug, thiserror::Error)]
pub enum PublicKeyError {
    #[error("not a valid OpenSSH private key")]
    InvalidSsh,
    #[error("unsupported or encrypted SSH key")]
    UnsupportedSsh,
    #[error("invalid AGE-SECRET-KEY line")]
    InvalidAgeKey,
    #[error("not an age identity file")]
    NotIdentityFile,
    #[error("no AGE-SECRET-KEY in it")]
    NoAgeKey,
}

/// The public keys of the identities in an identity file's text: age
/// X25519 keys and OpenSSH private keys.
pub fn public_keys(text: &str) -> Result<Vec<String>, PublicKeyError> {
    if text
        .trim_start()
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    {
        let id = age::ssh::Identity::from_buffer(text.as_bytes(), None)
            .map_err(|_| PublicKeyError::InvalidSsh)?;
        let recipient =
            age::ssh::Recipient::try_from(id).map_err(|_| PublicKeyError::UnsupportedSsh)?;
        return Ok(vec![recipient.to_string()]);
    }
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("AGE-SECRET-KEY-") {
            let id: age::x25519::Identity =
                line.parse().map_err(|_| PublicKeyError::InvalidAgeKey)?;
            keys.push(id.to_public().to_string());
        } else if !line.is_empty() && !line.starts_with('#') && !line.starts_with("AGE-PLUGIN-") {
            return Err(PublicKeyError::NotIdentityFile);
        }
    }
    if keys.is_empty() {
        return Err(PublicKeyError::NoAgeKey);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_keys_compare_without_comment() {
        assert!(Recipient::same_key(
            "ssh-ed25519 AAAAC3Nz alice@laptop",
            "ssh-ed25519  AAAAC3Nz bob"
        ));
        assert!(!Recipient::same_key(
            "ssh-ed25519 AAAAC3Nz",
            "ssh-ed25519 AAAAC3Ny"
        ));
        assert!(Recipient::same_key(" age1abc ", "age1abc"));
    }

    #[test]
    fn key_types() {
        assert_eq!(Recipient::key_type("age1qqqqqqqq"), "age");
        assert_eq!(Recipient::key_type("age1yubikey1qqqq"), "plugin:yubikey");
        assert_eq!(Recipient::key_type("ssh-ed25519 AAAA x"), "ssh-ed25519");
        assert_eq!(Recipient::key_type("ssh-rsa AAAA"), "ssh-rsa");
        assert_eq!(Recipient::key_type("scrypt:recovery"), "scrypt");
    }

    #[test]
    fn fingerprints_match_ssh_keygen_style() {
        // SHA-256 of the decoded blob "abc" (YWJj).
        assert_eq!(
            Recipient::fingerprint("ssh-ed25519 YWJj comment"),
            "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        );
        assert_eq!(
            Recipient::fingerprint("ssh-ed25519 YWJj"),
            Recipient::fingerprint("ssh-ed25519 YWJj other")
        );
        assert!(Recipient::fingerprint("age1abc").starts_with("SHA256:"));
    }

    #[test]
    fn wrap_and_unwrap_with_generated_identity() {
        let (secret, public) = generate_identity();
        let recipient = Recipient::parse(&public).unwrap();
        let key = DataKey::generate();
        let wrapped = recipient.wrap(&key).unwrap();
        assert!(wrapped
            .data_key
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(wrapped
            .data_key
            .ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let ids = Identities::from_text(&secret, "test").unwrap();
        let unwrapped = unwrap_data_key(&[wrapped], &ids).unwrap();
        assert_eq!(unwrapped.expose(), key.expose());
        assert_eq!(public_keys(&secret).unwrap(), vec![public]);
    }

    #[test]
    fn wrong_identity_is_no_match() {
        let (_, public) = generate_identity();
        let (other, _) = generate_identity();
        let wrapped = Recipient::parse(&public)
            .unwrap()
            .wrap(&DataKey::generate())
            .unwrap();
        let ids = Identities::from_text(&other, "other").unwrap();
        assert!(matches!(
            unwrap_data_key(&[wrapped], &ids),
            Err(UnwrapError::NoMatch { .. })
        ));
    }

    /// A well-formed plugin recipient and identity for a plugin that is
    /// surely not installed.
    fn absent_plugin_keys() -> (String, String) {
        let encode = |hrp: &str| {
            bech32::encode::<bech32::Bech32>(bech32::Hrp::parse(hrp).unwrap(), &[7u8; 32]).unwrap()
        };
        (
            encode("age1sealabsent"),
            encode("AGE-PLUGIN-SEALABSENT-").to_uppercase(),
        )
    }

    #[test]
    fn a_missing_plugin_is_named_without_the_secret() {
        let (recipient, identity) = absent_plugin_keys();
        let err = Recipient::parse(&recipient).unwrap_err();
        assert!(
            matches!(&err, RecipientError::MissingPlugin { binary_name, .. }
                if binary_name == "age-plugin-sealabsent"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "recipient {recipient:?} needs the age plugin age-plugin-sealabsent, which is not on PATH"
            )
        );

        let err = Identities::from_text(&identity, "SEAL_IDENTITY")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "identity SEAL_IDENTITY needs the age plugin age-plugin-sealabsent, which is not on PATH"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plugin.key");
        std::fs::write(&file, format!("{identity}\n")).unwrap();
        let err = Identities::load(&IdentitySources {
            files: vec![file.clone()],
            ..Default::default()
        })
        .err()
        .unwrap();
        let message = err.to_string();
        assert!(
            matches!(err, IdentityError::MissingPlugin { .. }),
            "{message}"
        );
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("age-plugin-sealabsent"), "{message}");
        assert!(!message.contains(&identity), "{message}");
    }

    #[test]
    fn invalid_recipients_are_refused() {
        for bad in [
            "",
            "age1notakey",
            "ssh-ed25519 AAAA",
            "hello",
            "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs\nx",
        ] {
            assert!(Recipient::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Keys of small order are refused when read, not when the first wrap
    /// fails (age panics there): every such point, and their encodings
    /// past p, while real keys pass.
    #[test]
    fn keys_of_small_order_are_refused() {
        let hex = |s: &str| -> [u8; 32] {
            let v: Vec<u8> = (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect();
            v.try_into().unwrap()
        };
        let mut one = [0u8; 32];
        one[0] = 1;
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        let mut p = minus_one;
        p[0] = 0xed;
        let order_8a = hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        let order_8b = hex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157");
        let hrp = bech32::Hrp::parse("age").unwrap();
        for u in [[0u8; 32], one, minus_one, p, order_8a, order_8b] {
            let text = bech32::encode::<bech32::Bech32>(hrp, &u).unwrap();
            assert!(
                matches!(Recipient::parse(&text), Err(RecipientError::SmallOrder(_))),
                "{text}"
            );
        }
        for _ in 0..20 {
            let (_, public) = generate_identity();
            assert!(Recipient::parse(&public).is_ok(), "{public}");
        }
    }

    /// The same for ssh-ed25519 keys, where age does not even fail: it
    /// wraps under a key anyone can compute. Every point of small order
    /// (orders 1, 2, 4 and 8, and encodings with the other sign bit),
    /// while a real key passes.
    #[test]
    fn ssh_ed25519_keys_of_small_order_are_refused() {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;

        let ssh_key = |point: [u8; 32]| {
            let mut blob = Vec::new();
            blob.extend_from_slice(&11u32.to_be_bytes());
            blob.extend_from_slice(b"ssh-ed25519");
            blob.extend_from_slice(&32u32.to_be_bytes());
            blob.extend_from_slice(&point);
            format!("ssh-ed25519 {} someone@example", STANDARD.encode(blob))
        };
        let small_order: Vec<[u8; 32]> = curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .map(|p| p.compress().to_bytes())
            .collect();
        assert_eq!(small_order.len(), 8);
        for point in small_order {
            let text = ssh_key(point);
            assert!(
                matches!(Recipient::parse(&text), Err(RecipientError::SmallOrder(_))),
                "{text}"
            );
            // The other sign of x: a non-canonical encoding for x = 0.
            let mut flipped = point;
            flipped[31] ^= 0x80;
            assert!(Recipient::parse(&ssh_key(flipped)).is_err(), "{text}");
            // age reads a fixed number of characters and ignores what is
            // glued on after them: so must the check.
            let base64 = text.split(' ').nth(1).unwrap();
            for glued in ["#x", "=", "AAAA"] {
                let text = format!("ssh-ed25519 {base64}{glued}");
                assert!(
                    matches!(Recipient::parse(&text), Err(RecipientError::SmallOrder(_))),
                    "{text}"
                );
            }
        }
        // A real key: the basepoint times a scalar.
        let real = curve25519_dalek::constants::ED25519_BASEPOINT_POINT
            * curve25519_dalek::Scalar::from(0x1234_5678_9abc_def0_u64);
        assert!(Recipient::parse(&ssh_key(real.compress().to_bytes())).is_ok());
    }
}
