//! Reading dotenvx files for `seal import`: find the private key, open
//! every `encrypted:` value, and give back the plain dotenv text with the
//! file's layout (order, comments, blank lines, quoting, plain values), for
//! the caller to seal. The text is a [`Zeroizing`] string and is never
//! written anywhere by this module.
//!
//! dotenvx's own metadata is dropped: the `DOTENV_PUBLIC_KEY*` assignment,
//! the `#/…/` banner above it and the `# FILENAME` comment it writes below
//! it. A sealed file has no use for the public key, and keeping it as a
//! value would put it in every `seal exec` environment.
//!
//! Layout: `scan` finds values as dotenvx reads them and writes them back
//! for seal's parser; `ecies` opens one value.

mod ecies;
pub mod scan;

use std::ops::Range;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use ecies::{OpenError, PrivateKey};
use scan::{Entry, Quote};

const PUBLIC_PREFIX: &str = "DOTENV_PUBLIC_KEY";
const PRIVATE_PREFIX: &str = "DOTENV_PRIVATE_KEY";
const KEYS_FILE: &str = ".env.keys";

/// Why a dotenvx file could not be read. Never holds a key or a value.
#[derive(Debug, thiserror::Error)]
pub enum DotenvxError {
    /// No private key in any place looked at.
    #[error("no dotenvx private key for {file}: looked for {looked}")]
    NoKey { file: String, looked: String },
    /// A key was found but is not a secp256k1 private key.
    #[error("{source_name} is not a dotenvx private key (64 hex digits of a secp256k1 key)")]
    InvalidKey { source_name: String },
    /// Keys were found, none of them the file's.
    #[error(
        "the private key from {sources} is not the key of {file}: it does not match {public_name}"
    )]
    WrongKey {
        file: String,
        sources: String,
        public_name: String,
    },
    /// A value does not open (its file has no public key to tell a wrong
    /// key from a changed value).
    #[error("{file}:{line}: {key}: the encrypted value does not open with the private key from {source_name}: a wrong key, or the value was changed")]
    NoOpen {
        file: String,
        line: usize,
        key: String,
        source_name: String,
    },
    /// A value does not open with the file's own key.
    #[error("{file}:{line}: {key}: the encrypted value {reason}: it was changed or damaged (the private key is the file's)")]
    Corrupt {
        file: String,
        line: usize,
        key: String,
        reason: &'static str,
    },
    /// The keys file exists but cannot be read.
    #[error("cannot read {path}: {reason}")]
    KeysFile { path: String, reason: String },
}

/// A dotenvx file opened: plain dotenv text for seal to seal.
pub struct Imported {
    /// The file with every encrypted value replaced by its plaintext.
    pub text: Zeroizing<String>,
    /// How many values were decrypted.
    pub decrypted: usize,
    /// Where the private key came from (`$NAME` or `PATH (NAME)`).
    pub key_source: String,
    /// The dotenvx metadata left out, for the user (names and lines only).
    pub dropped: Vec<String>,
    /// Names whose values dotenvx kept in clear (empty values excepted), in
    /// file order.
    pub clear: Vec<String>,
    /// Where each piece of `text` came from: (start in `text`, start in the
    /// source, whether it was copied byte for byte), in order.
    pieces: Vec<(usize, usize, bool)>,
}

impl Imported {
    /// The line of the dotenvx file `src` that line `line` of `text` (both
    /// 1-based) comes from, for messages about the converted text.
    pub fn source_line(&self, src: &str, line: usize) -> usize {
        let at = if line <= 1 {
            0
        } else {
            self.text
                .match_indices('\n')
                .nth(line - 2)
                .map_or(self.text.len(), |(i, _)| i + 1)
        };
        let from = match self.pieces.iter().rev().find(|p| p.0 <= at) {
            Some(&(out, src_at, true)) => (src_at + (at - out)).min(src.len()),
            Some(&(_, src_at, false)) => src_at,
            None => 0,
        };
        1 + src.as_bytes()[..from]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }
}

/// Whether `src` looks like a dotenvx file: it has a `DOTENV_PUBLIC_KEY*`
/// assignment or an `encrypted:` value.
pub fn is_dotenvx(src: &str) -> bool {
    scan::entries(src)
        .iter()
        .any(|e| src[e.key.clone()].starts_with(PUBLIC_PREFIX) || encrypted_text(src, e).is_some())
}

/// The base64 after `encrypted:` when `e` is an encrypted value.
fn encrypted_text<'a>(src: &'a str, e: &Entry) -> Option<&'a str> {
    src[e.inner.clone()].strip_prefix(ecies::PREFIX)
}

/// The environment the key is looked up in: a name's value, if set.
pub type Env<'a> = dyn Fn(&str) -> Option<Zeroizing<String>> + 'a;

/// Open the dotenvx file `src` read from `path`. Private keys come from the
/// variable named after the file's `DOTENV_PUBLIC_KEY*` assignment (or its
/// file name, as dotenvx names them: `.env.production` →
/// `DOTENV_PRIVATE_KEY_PRODUCTION`), then `DOTENV_PRIVATE_KEY`, looked up
/// in `env` and then in the `.env.keys` next to the file (or the one the
/// public key's `# -fk PATH` comment names).
pub fn import(path: &Path, src: &str, env: &Env<'_>) -> Result<Imported, DotenvxError> {
    let file = path.display().to_string();
    let entries = scan::entries(src);
    let public = entries
        .iter()
        .find(|e| src[e.key.clone()].starts_with(PUBLIC_PREFIX));
    let private_name = match public {
        Some(p) => src[p.key.clone()].replacen(PUBLIC_PREFIX, PRIVATE_PREFIX, 1),
        None => private_name_for(path),
    };
    let keys_path = keys_file(path, src, public);
    let candidates = find_keys(&file, &private_name, &keys_path, env)?;
    let (key, key_source) = match public {
        Some(p) => {
            let wanted = src[p.inner.clone()].trim().to_ascii_lowercase();
            let found = candidates
                .iter()
                .find(|(k, _)| k.public_hex() == wanted)
                .ok_or_else(|| DotenvxError::WrongKey {
                    file: file.clone(),
                    sources: join_sources(&candidates),
                    public_name: src[p.key.clone()].to_owned(),
                })?;
            (&found.0, found.1.clone())
        }
        // No public key to compare: the first key that opens the first
        // value (if none does, the first key's failure is reported below).
        None => {
            let first = entries.iter().find_map(|e| encrypted_text(src, e));
            let found = first
                .and_then(|b64| candidates.iter().find(|(k, _)| k.open(b64).is_ok()))
                .or(candidates.first())
                .ok_or_else(|| DotenvxError::NoKey {
                    file: file.clone(),
                    looked: private_name.clone(),
                })?;
            (&found.0, found.1.clone())
        }
    };

    let mut header = Vec::new();
    let mut dropped = Vec::new();
    for p in entries
        .iter()
        .filter(|e| src[e.key.clone()].starts_with(PUBLIC_PREFIX))
    {
        let span = header_span(src, p, path);
        let mut what = format!("{} (line {})", &src[p.key.clone()], p.line);
        if span.start < p.line_start {
            what.push_str(", the banner above it");
        }
        if span.end > p.end {
            what.push_str(", the file name comment below it");
        }
        header.push(span);
        dropped.push(what);
    }

    // Room for every value written back (at most twice its plaintext, which
    // is shorter than its base64), so the buffer never moves and leaves no
    // unwiped copy behind.
    let mut text = Zeroizing::new(String::with_capacity(2 * src.len() + entries.len()));
    let mut pieces = Vec::new();
    let mut decrypted = 0;
    let mut clear = Vec::new();
    let mut pos = 0;
    for e in &entries {
        if header.iter().any(|d| d.contains(&e.line_start)) {
            continue;
        }
        let Some(b64) = encrypted_text(src, e) else {
            if !e.inner.is_empty() {
                clear.push(src[e.key.clone()].to_owned());
            }
            continue;
        };
        let value = key.open(b64).map_err(|err| match (public, err) {
            (None, OpenError::Authentication) => DotenvxError::NoOpen {
                file: file.clone(),
                line: e.line,
                key: src[e.key.clone()].to_owned(),
                source_name: key_source.clone(),
            },
            _ => DotenvxError::Corrupt {
                file: file.clone(),
                line: e.line,
                key: src[e.key.clone()].to_owned(),
                reason: err.describe(),
            },
        })?;
        copy_kept(src, pos..e.value.start, &header, &mut text, &mut pieces);
        pieces.push((text.len(), e.value.start, false));
        scan::push_literal(&mut text, &value, e.quote);
        // `KEY=encrypted:…#c` is a comment for dotenvx but part of an
        // unquoted value for seal: a blank keeps it a comment.
        if e.quote == Quote::None && src.as_bytes().get(e.value.end) == Some(&b'#') {
            text.push(' ');
        }
        pos = e.value.end;
        decrypted += 1;
    }
    copy_kept(src, pos..src.len(), &header, &mut text, &mut pieces);
    Ok(Imported {
        text,
        decrypted,
        key_source,
        dropped,
        clear,
        pieces,
    })
}

/// Append `src[range]` without the parts inside `drop`, noting each piece.
fn copy_kept(
    src: &str,
    range: Range<usize>,
    drop: &[Range<usize>],
    out: &mut String,
    pieces: &mut Vec<(usize, usize, bool)>,
) {
    let mut copy = |from: usize, to: usize, out: &mut String| {
        pieces.push((out.len(), from, true));
        out.push_str(&src[from..to]);
    };
    let mut at = range.start;
    for d in drop {
        if d.end <= at || d.start >= range.end {
            continue;
        }
        if d.start > at {
            copy(at, d.start, out);
        }
        at = at.max(d.end);
    }
    if at < range.end {
        copy(at, range.end, out);
    }
}

/// The lines dotenvx wrote around the public key assignment `p`: the run of
/// `#/…/` banner lines right above it, and the blank line and `# FILENAME`
/// comment right below it (`FILENAME` being this file's name).
fn header_span(src: &str, p: &Entry, path: &Path) -> Range<usize> {
    let mut start = p.line_start;
    while start > 0 {
        let prev = src[..start - 1].rfind('\n').map_or(0, |n| n + 1);
        let line = src[prev..start].trim_end_matches(['\n', '\r']);
        if line.starts_with("#/") && line.ends_with('/') {
            start = prev;
        } else {
            break;
        }
    }
    let mut end = p.end;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let line_at = |at: usize| -> (&str, usize) {
        let next = src[at..].find('\n').map_or(src.len(), |n| at + n + 1);
        (src[at..next].trim_end_matches(['\n', '\r']), next)
    };
    if end < src.len() {
        let (blank, after_blank) = line_at(end);
        if blank.trim().is_empty() && after_blank < src.len() {
            let (comment, after_comment) = line_at(after_blank);
            if name.is_some_and(|n| comment == format!("# {n}")) {
                end = after_comment;
            }
        }
    }
    start..end
}

/// dotenvx's private key name for a file without a public key: `.env` →
/// `DOTENV_PRIVATE_KEY`, `.env.ENV` → `DOTENV_PRIVATE_KEY_ENV`, two parts
/// after `.env` joined by `_`, a name without one (`.env1`) as
/// `development1`.
fn private_name_for(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.starts_with(".env") && name.ends_with(".txt") {
        name.truncate(name.len() - 4);
    }
    if name == ".env" {
        return PRIVATE_PREFIX.to_owned();
    }
    let parts: Vec<&str> = name.split('.').skip(2).collect();
    let environment = match parts.len() {
        0 => name.replacen(".env", "development", 1),
        1 => parts[0].to_owned(),
        _ => parts[..2].join("_"),
    };
    format!("{PRIVATE_PREFIX}_{}", environment.to_uppercase())
}

/// The keys file: the one `# -fk PATH` after the public key names
/// (relative to the file's directory), else `.env.keys` beside the file.
fn keys_file(path: &Path, src: &str, public: Option<&Entry>) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new(""));
    let named = public.and_then(|p| {
        let line = &src[p.value.end..p.end];
        let rest = line.trim_start().strip_prefix('#')?.trim_start();
        let fk = rest.strip_prefix("-fk")?.trim();
        (!fk.is_empty()).then(|| fk.to_owned())
    });
    match named {
        Some(fk) => dir.join(fk),
        None => dir.join(KEYS_FILE),
    }
}

/// Every private key on offer, in the order looked at, with where it came
/// from. dotenvx allows several keys in one place, separated by commas.
fn find_keys(
    file: &str,
    private_name: &str,
    keys_path: &Path,
    env: &Env<'_>,
) -> Result<Vec<(PrivateKey, String)>, DotenvxError> {
    let mut names = vec![private_name.to_owned()];
    if private_name != PRIVATE_PREFIX {
        names.push(PRIVATE_PREFIX.to_owned());
    }
    let mut found: Vec<(Zeroizing<String>, String)> = Vec::new();
    for name in &names {
        if let Some(v) = env(name).filter(|v| has_key(v)) {
            found.push((v, format!("${name}")));
        }
    }
    let keys_text = match std::fs::read_to_string(keys_path) {
        Ok(t) => Some(Zeroizing::new(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(DotenvxError::KeysFile {
                path: keys_path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    if let Some(t) = &keys_text {
        for e in scan::entries(t) {
            let name = &t[e.key.clone()];
            if names.iter().any(|n| n == name) && has_key(&t[e.inner.clone()]) {
                found.push((
                    Zeroizing::new(t[e.inner.clone()].to_owned()),
                    format!("{} ({name})", keys_path.display()),
                ));
            }
        }
    }
    if found.is_empty() {
        let vars: Vec<String> = names.iter().map(|n| format!("${n}")).collect();
        return Err(DotenvxError::NoKey {
            file: file.to_owned(),
            looked: format!(
                "{} and {} in {}",
                vars.join(", "),
                names.join(", "),
                keys_path.display()
            ),
        });
    }
    let mut keys = Vec::new();
    for (value, source_name) in found {
        for part in value.split(',').filter(|p| !p.trim().is_empty()) {
            let key = PrivateKey::from_hex(part).ok_or_else(|| DotenvxError::InvalidKey {
                source_name: source_name.clone(),
            })?;
            keys.push((key, source_name.clone()));
        }
    }
    Ok(keys)
}

/// Whether a value holds a key at all (dotenvx takes an empty one as unset).
fn has_key(value: &str) -> bool {
    value.split(',').any(|p| !p.trim().is_empty())
}

fn join_sources(keys: &[(PrivateKey, String)]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (_, s) in keys {
        if !names.contains(&s.as_str()) {
            names.push(s);
        }
    }
    names.join(", ")
}

#[cfg(test)]
mod tests;
