//! The metadata block of a sealed file (spec/FORMAT.md, "Metadata").
//!
//! This is the format-independent model. Each format module reads it from
//! and writes it to its own syntax: a reserved top-level `seal` key in YAML
//! and JSON, `# seal: ` comment lines in dotenv.

/// The format version this implementation writes.
pub const VERSION: u64 = 2;

/// The oldest format version this implementation reads.
pub const MIN_VERSION: u64 = 1;

/// Whether this implementation reads (and checks the layout of) `version`.
pub fn readable(version: u64) -> bool {
    (MIN_VERSION..=VERSION).contains(&version)
}

/// The reserved top-level key (YAML, JSON) that holds the metadata.
pub const RESERVED_KEY: &str = "seal";

/// One recipient and the data key wrapped for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// The recipient as the user wrote it: `age1…`, `ssh-ed25519 AAAA… comment`,
    /// `ssh-rsa …`, or a plugin recipient `age1name1…`.
    pub recipient: String,
    /// The 32-byte data key encrypted to `recipient` as an armored age file
    /// (`-----BEGIN AGE ENCRYPTED FILE-----` … `-----END AGE ENCRYPTED FILE-----\n`).
    pub data_key: String,
}

/// Who signed the file and the signature (spec/FORMAT.md, "Signatures").
/// Both fields or neither, after `mac`, from format version 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The signer's OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    pub signer: String,
    /// The armored SSHSIG (`-----BEGIN SSH SIGNATURE-----` …
    /// `-----END SSH SIGNATURE-----\n`), namespace `seal`.
    pub signature: String,
}

/// Everything the metadata block holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Format version; [`VERSION`] for files this code writes.
    pub version: u64,
    /// Last modification, RFC 3339 UTC with seconds (`2026-11-23T11:30:00Z`).
    pub modified: String,
    /// Key-path patterns selecting which values are encrypted; empty means all.
    pub encrypt: Vec<String>,
    /// Recipients in file order, each with its wrapped data key.
    pub recipients: Vec<WrappedKey>,
    /// The file MAC, base64url without padding (spec/FORMAT.md, "MAC").
    pub mac: String,
    /// The signature over the MAC input, when the writer had a signing key.
    pub signed: Option<Signed>,
}
