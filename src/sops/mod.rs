//! Reading SOPS files (YAML, JSON, dotenv) for `seal import`: the `sops`
//! metadata, the data key from an age master key, every `ENC[…]` value and
//! comment decrypted, SOPS's MAC verified, and the plaintext document
//! written back in the file's own layout without the metadata, ready to be
//! sealed (spec/FORMAT.md, appendix A, "Importing from SOPS").
//!
//! Nothing here writes a file: the plaintext stays in memory, wiped when
//! dropped. Errors name the key path or line, never a value.
//!
//! Layout: [`cipher`] (SOPS's AES-256-GCM values), [`metadata`] (the
//! `sops` block), [`rules`] (which values SOPS encrypted), [`scalar`]
//! (the bytes SOPS's MAC hashes for a clear value), [`dotenv`] (SOPS's own
//! dotenv syntax), [`config`] (`.sops.yaml` → `.seal.yaml`).

pub mod cipher;
pub mod config;
mod dotenv;
pub mod metadata;
mod patterns;
mod rules;
pub mod scalar;

use std::ops::Range;

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::crypto::DataKey;
use crate::envelope::{unwrap_data_key, Identities, UnwrapError};
use crate::format::{EditError, Format, LeafKind, ParseError};
use crate::metadata::WrappedKey;
use crate::path::{KeyPath, PathQuery, Segment};

use cipher::{CipherError, ValueType};
use metadata::{MetadataError, SopsMetadata};
use rules::Rule;
use scalar::ClearBytes;

/// The top-level key SOPS keeps its metadata under (YAML, JSON); dotenv
/// files flatten it into `sops_…` variables.
pub const METADATA_KEY: &str = "sops";

/// SOPS's `MACOnlyEncryptedInitialization`: the SHA-256 of `sops`, hashed
/// first when only encrypted values enter the MAC.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Why a SOPS file cannot be imported. Never holds a value.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("this is not a SOPS file: it has no SOPS metadata (`sops:` key, or `sops_` variables in dotenv)")]
    NotSops,
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    #[error("the file's data key is held only by {} master keys, none of them age", .0.join(", "))]
    NoAgeKeys(Vec<String>),
    #[error("the file's data key is split over {0} key groups (Shamir's secret sharing), which seal does not combine")]
    Shamir(usize),
    #[error("the file selects values by comment (encrypted_comment_regex / unencrypted_comment_regex), which seal does not import")]
    CommentRules,
    #[error("the SOPS metadata's {field} is not a regular expression seal reads: {reason}")]
    Regex { field: &'static str, reason: String },
    #[error("{0}")]
    Unwrap(UnwrapError),
    #[error("the value at {path} cannot be decrypted: {source}")]
    Value { path: String, source: CipherError },
    #[error("the value at {path} is {what}")]
    BadValue { path: String, what: String },
    #[error("SOPS left every value of the file in clear (its rules select none), so there is nothing to seal")]
    NothingEncrypted,
    #[error("SOPS's MAC does not match: a value was changed, added or removed outside SOPS")]
    MacMismatch,
    #[error("SOPS's MAC cannot be read: {0}")]
    MacUnreadable(CipherError),
    #[error("{0}")]
    Edit(#[from] EditError),
    #[error("internal error: {0} (please report this; nothing was written)")]
    Internal(&'static str),
}

/// A SOPS file read without any key: its metadata and values.
pub struct SopsFile<'a> {
    format: Format,
    src: &'a str,
    pub metadata: SopsMetadata,
    entries: Vec<Entry>,
    /// `#ENC[…]` comments: the byte range of `#ENC[…]` (YAML, dotenv).
    comments: Vec<Range<usize>>,
    /// Documents with a top-level `sops` entry (YAML, JSON).
    metadata_docs: Vec<usize>,
}

/// How a value is written, which decides how SOPS typed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// YAML plain scalar: typed by go-yaml's resolver.
    Plain,
    /// A quoted or block string (YAML, JSON), or a dotenv value.
    Text,
    /// `null`, `~`, or no value at all: SOPS skips it.
    Null,
    JsonNumber,
    JsonBool,
}

struct Entry {
    path: KeyPath,
    /// The value's source text (quotes included).
    span: Range<usize>,
    /// The value as read (unquoted, unescaped).
    value: Zeroizing<String>,
    class: Class,
}

/// A SOPS file decrypted: the plaintext document and how to seal it.
pub struct Imported {
    /// The document without SOPS's metadata, every value and comment in
    /// plaintext, in the SOPS file's layout.
    pub plaintext: Zeroizing<String>,
    /// The age recipients of the SOPS file, in order.
    pub recipients: Vec<String>,
    /// seal `encrypt` patterns selecting exactly the values SOPS encrypted;
    /// empty when it encrypted all of them.
    pub encrypt: Vec<String>,
    /// Values SOPS left in clear, which stay plaintext.
    pub clear: Vec<KeyPath>,
    /// Encrypted comments that did not decrypt, kept as written (1-based
    /// line numbers); SOPS keeps such comments too.
    pub undecrypted_comments: Vec<usize>,
    /// True when the MAC did not match and `ignore_mac` let it pass.
    pub mac_mismatch_ignored: bool,
}

/// Whether `text` looks like a SOPS file of `format`: cheap, for telling
/// import sources apart.
pub fn looks_like_sops(format: Format, text: &str) -> bool {
    match format {
        Format::Dotenv => text
            .lines()
            .any(|l| l.starts_with("sops_mac=") || l.starts_with("sops_lastmodified=")),
        Format::Yaml => text.lines().any(|l| l.starts_with("sops:")),
        Format::Json => text.contains("\"sops\"") && text.contains("\"lastmodified\""),
        // SOPS has no TOML store.
        Format::Toml => false,
    }
}

/// Parse a SOPS file: its metadata and values, no key needed.
pub fn parse(format: Format, src: &str) -> Result<SopsFile<'_>, SopsError> {
    if format == Format::Dotenv {
        return dotenv::parse(src);
    }
    let scan = format.scan(src)?;
    if scan.metadata.is_some() {
        return Err(SopsError::Internal("a seal metadata block in a SOPS file"));
    }
    let mut values: std::collections::HashMap<KeyPath, Zeroizing<String>> =
        format.values(src)?.into_iter().collect();
    let mut meta_entries = Vec::new();
    let mut metadata_docs = Vec::new();
    let mut entries = Vec::new();
    for leaf in &scan.leaves {
        let in_metadata =
            matches!(leaf.path.segments.first(), Some(Segment::Key(k)) if k == METADATA_KEY);
        if leaf.kind == LeafKind::Alias {
            return Err(SopsError::BadValue {
                path: leaf.path.to_string(),
                what: "a YAML alias, which SOPS never writes in an encrypted file".into(),
            });
        }
        let text = &src[leaf.span.clone()];
        let value = values.remove(&leaf.path).unwrap_or_default();
        if in_metadata {
            if !metadata_docs.contains(&leaf.path.doc) {
                metadata_docs.push(leaf.path.doc);
            }
            // SOPS reads the metadata of the first document only.
            if leaf.path.doc == metadata_docs[0] {
                meta_entries.push((leaf.path.segments[1..].to_vec(), value.to_string()));
            }
            continue;
        }
        let class = match (format, leaf.kind) {
            (_, LeafKind::Empty) => Class::Null,
            (Format::Json, _) => match text.as_bytes().first() {
                Some(b'"') => Class::Text,
                Some(b't' | b'f') => Class::JsonBool,
                Some(b'n') => Class::Null,
                _ => Class::JsonNumber,
            },
            _ if text.starts_with(['"', '\'', '|', '>']) => Class::Text,
            _ if scalar::yaml_plain(&value) == ClearBytes::Null => Class::Null,
            _ => Class::Plain,
        };
        entries.push(Entry {
            path: leaf.path.clone(),
            span: leaf.span.clone(),
            value,
            class,
        });
    }
    if metadata_docs.is_empty() {
        return Err(SopsError::NotSops);
    }
    // A top-level `sops` that is a scalar leaves no entries below it.
    let metadata = SopsMetadata::from_entries(&meta_entries)?;
    let comments = if format == Format::Yaml {
        yaml_comments(src, &scan.leaves)
    } else {
        Vec::new()
    };
    Ok(SopsFile {
        format,
        src,
        metadata,
        entries,
        comments,
        metadata_docs,
    })
}

/// `#ENC[AES256_GCM,…]` comments outside any value: SOPS writes each
/// comment on its own line, or after a value on its line.
fn yaml_comments(src: &str, leaves: &[crate::format::Leaf]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = src[from..].find("#ENC[AES256_GCM,").map(|i| from + i) {
        from = at + 1;
        let before = src[..at].chars().next_back();
        if !matches!(before, None | Some(' ' | '\t' | '\n')) {
            continue;
        }
        if leaves.iter().any(|l| l.span.start <= at && at < l.span.end) {
            continue;
        }
        let line_end = src[at..].find('\n').map_or(src.len(), |i| at + i);
        let line = src[at..line_end].trim_end_matches('\r');
        if let Some(close) = line.find(']') {
            out.push(at..at + close + 1);
        }
    }
    out
}

impl SopsFile<'_> {
    /// The SOPS data key, from the first age master key an identity opens.
    pub fn data_key(&self, identities: &Identities) -> Result<DataKey, SopsError> {
        let meta = &self.metadata;
        if meta.key_groups > 1 {
            return Err(SopsError::Shamir(meta.key_groups));
        }
        if meta.age.is_empty() {
            return Err(SopsError::NoAgeKeys(meta.other_keys.clone()));
        }
        let wrapped: Vec<WrappedKey> = meta
            .age
            .iter()
            .map(|k| WrappedKey {
                recipient: k.recipient.clone(),
                data_key: k.enc.clone(),
            })
            .collect();
        unwrap_data_key(&wrapped, identities).map_err(SopsError::Unwrap)
    }

    /// Decrypt everything with `key` and check SOPS's MAC (a mismatch is an
    /// error unless `ignore_mac`).
    pub fn decrypt(&self, key: &DataKey, ignore_mac: bool) -> Result<Imported, SopsError> {
        let key = key.expose();
        let rule = Rule::from_metadata(&self.metadata.rules)?;
        let mac_only = self.metadata.mac_only_encrypted;
        let mut hash = Sha512::new();
        if mac_only {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        let mut edits: Vec<(Range<usize>, Zeroizing<String>)> = Vec::new();
        let mut selection = Vec::new();
        let mut clear = Vec::new();
        for entry in &self.entries {
            let path = || entry.path.to_string();
            let keys: Vec<&str> = entry
                .path
                .segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Key(k) => Some(k.as_str()),
                    Segment::Index(_) => None,
                })
                .collect();
            let encrypted = rule.encrypts(&keys);
            if entry.class == Class::Null {
                continue;
            }
            if !encrypted {
                if !mac_only {
                    match self.clear_bytes(entry) {
                        ClearBytes::Null => continue,
                        ClearBytes::Bytes(b) => hash.update(b.as_bytes()),
                        ClearBytes::Unsupported(what) => {
                            return Err(SopsError::BadValue {
                                path: path(),
                                what: format!("{what}, which SOPS cannot hash"),
                            })
                        }
                    }
                }
                if self.format == Format::Dotenv {
                    edits.push((
                        entry.span.clone(),
                        self.literal(&entry.value, ValueType::Str),
                    ));
                }
                selection.push((entry.path.clone(), false));
                clear.push(entry.path.clone());
                continue;
            }
            let is_string = match entry.class {
                Class::Text => true,
                Class::Plain => {
                    matches!(scalar::yaml_plain(&entry.value), ClearBytes::Bytes(ref b) if *b == *entry.value)
                }
                _ => false,
            };
            if !is_string {
                return Err(SopsError::BadValue {
                    path: path(),
                    what: "in clear, although the file's SOPS rules say it is encrypted".into(),
                });
            }
            if entry.value.is_empty() {
                // SOPS does not encrypt an empty string.
                selection.push((entry.path.clone(), true));
                continue;
            }
            if !cipher::looks_encrypted(&entry.value) {
                return Err(SopsError::BadValue {
                    path: path(),
                    what: "in clear, although the file's SOPS rules say it is encrypted".into(),
                });
            }
            let value_error = |source| SopsError::Value {
                path: path(),
                source,
            };
            let parsed = cipher::parse(&entry.value).map_err(value_error)?;
            let aad = cipher::additional_data(keys.iter().copied());
            let plain = cipher::decrypt(key, &parsed, &aad).map_err(value_error)?;
            let text = Zeroizing::new(String::from_utf8(plain.to_vec()).map_err(|_| {
                SopsError::BadValue {
                    path: path(),
                    what: "not UTF-8 text once decrypted".into(),
                }
            })?);
            if parsed.kind == ValueType::Comment {
                // SOPS writes a comment inside a sequence as an item of
                // its own (`- ENC[…,type:comment]`); `sops decrypt` turns
                // it back into a comment, which its MAC leaves out.
                let item = self
                    .comment_item(entry)
                    .ok_or_else(|| SopsError::BadValue {
                        path: path(),
                        what: "an encrypted comment where a value belongs".into(),
                    })?;
                let mut line = Zeroizing::new(String::with_capacity(text.len() + 1));
                line.push('#');
                line.push_str(&text);
                edits.push((item, line));
                continue;
            }
            let (mac_bytes, kind) =
                typed_bytes(&text, parsed.kind).ok_or_else(|| SopsError::BadValue {
                    path: path(),
                    what: format!("not a {:?} once decrypted", parsed.kind).to_lowercase(),
                })?;
            if self.format == Format::Json
                && kind == ValueType::Float
                && mac_bytes.contains(['I', 'N'])
            {
                return Err(SopsError::BadValue {
                    path: path(),
                    what: "an infinite or NaN float, which JSON cannot hold".into(),
                });
            }
            hash.update(mac_bytes.as_bytes());
            let literal = self.literal(&mac_bytes, kind);
            edits.push((entry.span.clone(), literal));
            selection.push((entry.path.clone(), true));
        }
        let computed = Zeroizing::new(hex_upper(&hash.finalize()));
        let mac_mismatch = match self.stored_mac(key) {
            Ok(stored) => *stored != *computed,
            Err(_) if ignore_mac => true,
            Err(e) => return Err(e),
        };
        if mac_mismatch && !ignore_mac {
            return Err(SopsError::MacMismatch);
        }
        let mut undecrypted_comments = Vec::new();
        for range in &self.comments {
            match self.open_comment(key, range.clone()) {
                Some(text) => {
                    let mut line = Zeroizing::new(String::with_capacity(text.len() + 1));
                    line.push('#');
                    line.push_str(&text);
                    edits.push((range.clone(), line));
                }
                None => undecrypted_comments.push(crate::format::line_col(self.src, range.start).0),
            }
        }
        edits.sort_by_key(|(r, _)| r.start);
        let mut plaintext = Zeroizing::new(String::with_capacity(self.src.len()));
        let mut cursor = 0;
        for (range, text) in &edits {
            if range.start < cursor {
                return Err(SopsError::Internal("overlapping edits"));
            }
            plaintext.push_str(&self.src[cursor..range.start]);
            plaintext.push_str(text);
            cursor = range.end;
        }
        plaintext.push_str(&self.src[cursor..]);
        let plaintext = self.strip_metadata(plaintext)?;
        if !selection.iter().any(|(_, encrypted)| *encrypted) && !clear.is_empty() {
            // Empty patterns would mean "encrypt everything".
            return Err(SopsError::NothingEncrypted);
        }
        Ok(Imported {
            plaintext,
            recipients: self
                .metadata
                .age
                .iter()
                .map(|k| k.recipient.clone())
                .collect(),
            encrypt: patterns::covering(&selection),
            clear,
            undecrypted_comments,
            mac_mismatch_ignored: mac_mismatch,
        })
    }

    /// For a YAML sequence item that stands alone on its line (`  - X`),
    /// the range from its `-` to the end of the value.
    fn comment_item(&self, entry: &Entry) -> Option<Range<usize>> {
        if self.format != Format::Yaml
            || !matches!(entry.path.segments.last(), Some(Segment::Index(_)))
        {
            return None;
        }
        let line_start = self.src[..entry.span.start]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let head = &self.src[line_start..entry.span.start];
        let dash = head.trim_start_matches(' ');
        let tail = &self.src[entry.span.end..];
        let rest_of_line = &tail[..tail.find('\n').unwrap_or(tail.len())];
        (dash.trim_end_matches(' ') == "-" && rest_of_line.trim().is_empty())
            .then(|| line_start + (head.len() - dash.len())..entry.span.end)
    }

    /// The MAC SOPS stored, decrypted (bound to `lastmodified`).
    fn stored_mac(&self, key: &[u8; 32]) -> Result<Zeroizing<String>, SopsError> {
        let aad = self.metadata.mac_additional_data()?;
        let parsed = cipher::parse(&self.metadata.mac).map_err(SopsError::MacUnreadable)?;
        let plain = cipher::decrypt(key, &parsed, &aad).map_err(SopsError::MacUnreadable)?;
        Ok(Zeroizing::new(String::from_utf8_lossy(&plain).into_owned()))
    }

    /// What SOPS's MAC hashes for a value it left in clear.
    fn clear_bytes(&self, entry: &Entry) -> ClearBytes {
        match entry.class {
            Class::Null => ClearBytes::Null,
            Class::Text => ClearBytes::Bytes(entry.value.to_string()),
            Class::Plain => scalar::yaml_plain(&entry.value),
            Class::JsonNumber => scalar::json_number(&entry.value),
            Class::JsonBool => ClearBytes::Bytes(
                if entry.value.as_str() == "true" {
                    "True"
                } else {
                    "False"
                }
                .to_owned(),
            ),
        }
    }

    /// Source text for a decrypted value of type `kind`, in this format.
    fn literal(&self, text: &str, kind: ValueType) -> Zeroizing<String> {
        let out = match (self.format, kind) {
            (_, ValueType::Str | ValueType::Bytes | ValueType::Comment) | (Format::Dotenv, _) => {
                self.format.string_literal(text)
            }
            (_, ValueType::Bool) => if text == "True" { "true" } else { "false" }.to_owned(),
            (Format::Json, ValueType::Time) => self.format.string_literal(text),
            (Format::Json, _) => text.to_owned(),
            (_, ValueType::Int | ValueType::Time) => text.to_owned(),
            (_, ValueType::Float) => yaml_float(text),
        };
        Zeroizing::new(out)
    }

    /// The plaintext of the comment at `range` (`#ENC[…]`), trying the
    /// paths SOPS may have bound it to: the mappings and sequences around
    /// it, nearest first, then the top level.
    fn open_comment(&self, key: &[u8; 32], range: Range<usize>) -> Option<Zeroizing<String>> {
        let parsed = cipher::parse(&self.src[range.start + 1..range.end]).ok()?;
        if parsed.kind != ValueType::Comment {
            return None;
        }
        let mut candidates: Vec<String> = Vec::new();
        let mut push = |keys: &[&str]| {
            let aad = cipher::additional_data(keys.iter().copied());
            if !candidates.contains(&aad) {
                candidates.push(aad);
            }
        };
        let after = self.entries.iter().position(|e| e.span.start > range.start);
        let near = [
            after,
            after
                .and_then(|i| i.checked_sub(1))
                .or(self.entries.len().checked_sub(1)),
        ];
        let keys_of = |e: &Entry| -> Vec<String> {
            e.path
                .segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Key(k) => Some(k.clone()),
                    Segment::Index(_) => None,
                })
                .collect()
        };
        for e in near
            .into_iter()
            .flatten()
            .filter_map(|i| self.entries.get(i))
        {
            let keys = keys_of(e);
            for n in (0..keys.len()).rev() {
                let prefix: Vec<&str> = keys[..n].iter().map(String::as_str).collect();
                push(&prefix);
            }
        }
        for e in &self.entries {
            let keys = keys_of(e);
            for n in 0..keys.len() {
                let prefix: Vec<&str> = keys[..n].iter().map(String::as_str).collect();
                push(&prefix);
            }
        }
        push(&[]);
        candidates.iter().find_map(|aad| {
            let plain = cipher::decrypt(key, &parsed, aad).ok()?;
            let text = String::from_utf8(plain.to_vec()).ok()?;
            (!text.contains(['\n', '\r'])).then(|| Zeroizing::new(text))
        })
    }

    /// The plaintext without SOPS's metadata entries.
    fn strip_metadata(&self, text: Zeroizing<String>) -> Result<Zeroizing<String>, SopsError> {
        if self.format == Format::Dotenv {
            return Ok(dotenv::strip_metadata(&text));
        }
        let mut text = text;
        for &doc in self.metadata_docs.iter().rev() {
            let query = PathQuery {
                doc,
                segments: vec![METADATA_KEY.to_owned()],
            };
            text = Zeroizing::new(self.format.remove_value(&text, &query)?);
        }
        Ok(text)
    }
}

/// The bytes SOPS's MAC hashes for a decrypted value of `kind` (its Go
/// value written back, `sops.ToBytes`), and the type it is written as.
fn typed_bytes(text: &str, kind: ValueType) -> Option<(Zeroizing<String>, ValueType)> {
    let z = |s: String| Zeroizing::new(s);
    Some(match kind {
        ValueType::Str | ValueType::Bytes => (z(text.to_owned()), kind),
        ValueType::Int => (
            z(text
                .trim_start_matches('+')
                .parse::<i64>()
                .ok()?
                .to_string()),
            kind,
        ),
        ValueType::Float => (z(scalar::go_float(go_parse_float(text)?)), kind),
        ValueType::Bool => {
            let b = match text {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => "True",
                "0" | "f" | "F" | "false" | "FALSE" | "False" => "False",
                _ => return None,
            };
            (z(b.to_owned()), kind)
        }
        ValueType::Time => (z(scalar::timestamp(text)?), kind),
        ValueType::Comment => return None,
    })
}

/// Go's `ParseFloat` for what SOPS writes (`FormatFloat(f, 'f', -1)`).
fn go_parse_float(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+Infinity" | "Infinity" => Some(f64::INFINITY),
        "-Inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) =>
        {
            text.parse().ok()
        }
        _ => None,
    }
}

/// A float as a YAML plain scalar that reads back as a float.
fn yaml_float(text: &str) -> String {
    match text {
        "+Inf" => ".inf".into(),
        "-Inf" => "-.inf".into(),
        "NaN" => ".nan".into(),
        _ if text.contains(['.', 'e', 'E']) => text.to_owned(),
        _ => format!("{text}.0"),
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests;
