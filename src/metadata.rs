//! The metadata block of a sealed file (spec/FORMAT.md, "Metadata").
//!
//! This is the format-independent model. Each format module reads it from
//! and writes it to its own syntax: a reserved top-level `seal` key in YAML
//! and JSON, a `[seal]` table at the end in TOML, `# seal: ` comment lines
//! in dotenv.

/// The format version this implementation writes.
pub const VERSION: u64 = 3;

/// The versions this implementation reads: 1 (no optional fields), 2 and 3.
pub const READABLE: std::ops::RangeInclusive<u64> = 1..=3;

/// The reserved top-level key (YAML, JSON, TOML) that holds the metadata.
pub const RESERVED_KEY: &str = "seal";

/// Whether this implementation reads format version `v`.
pub fn readable(v: u64) -> bool {
    READABLE.contains(&v)
}

/// The refusal of a version this seal does not read, naming the release
/// that does (spec/FORMAT.md, section 10).
pub fn unsupported_version(v: u64) -> String {
    format!(
        "sealed with format version {v}; needs seal 0.{v} or later (this seal reads versions {} to {})",
        READABLE.start(),
        READABLE.end()
    )
}

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

/// One entry of `changed` (version 2): when the value at a key path last
/// changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// The key path as [`crate::path::KeyPath::pointer`] writes it.
    pub path: String,
    /// RFC 3339 UTC with seconds, as `modified`.
    pub date: String,
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
    /// Version 2: when each sealed value last changed, in document order;
    /// empty when absent (version 1 files, or no dates known).
    pub changed: Vec<Changed>,
    /// Recipients in file order, each with its wrapped data key.
    pub recipients: Vec<WrappedKey>,
    /// The file MAC, base64url without padding (spec/FORMAT.md, "MAC").
    pub mac: String,
    /// The signature over the MAC input, when the writer had a signing key.
    pub signed: Option<Signed>,
}

/// Whether `s` is a date as `modified` and `changed` write it:
/// `YYYY-MM-DDTHH:MM:SSZ`, a real UTC time.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
        && humantime::parse_rfc3339(s).is_ok()
}
