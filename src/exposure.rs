//! What a recipient could decrypt: every file and key path whose token sat
//! in a revision (from git history) that listed one of the recipient's
//! keys, and whether the value is still the same now.
//!
//! Without a key this works from tokens alone: a value whose token in the
//! current file is one the recipient could read is unchanged (same data key
//! and same token mean the same plaintext). A value whose token differs may
//! only have been re-encrypted (a rotation changes every token); with an
//! identity that opens the revisions, plaintexts are compared instead.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::document;
use crate::envelope::{Identities, Recipient};
use crate::format::{Format, LeafKind};
use crate::path::KeyPath;
use crate::git::git;

/// One version of one file.
#[derive(Clone)]
pub struct Version {
    /// The file, relative to the repository root (or the config directory
    /// outside git), with `/` separators.
    pub file: String,
    /// Where it comes from: `abc1234 2026-11-23`, or a description.
    pub label: String,
    pub text: Zeroizing<String>,
}

/// How a value stands now for the recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The recipient can still open the current file.
    StillRecipient,
    /// The current value is one the recipient could read.
    Unchanged,
    /// The value changed since (every value it had was compared).
    Changed,
    /// The value (or the file) is gone or no longer encrypted.
    Removed,
    /// Re-encrypted and no identity to compare plaintexts.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::StillRecipient => "still-recipient",
            Status::Unchanged => "unchanged",
            Status::Changed => "changed",
            Status::Removed => "removed",
            Status::Unknown => "unknown",
        }
    }

    /// Whether the credential should be rotated where it was issued.
    pub fn rotate_at_source(self) -> bool {
        matches!(
            self,
            Status::StillRecipient | Status::Unchanged | Status::Unknown
        )
    }
}

/// One key path the recipient could read.
#[derive(Clone, Debug)]
pub struct ValueReport {
    pub path: String,
    /// Newest and oldest versions in which the recipient could read it.
    pub last_readable: String,
    pub first_readable: String,
    pub versions: usize,
    pub status: Status,
}

/// One file the recipient could read in some version.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub file: String,
    pub still_recipient: bool,
    /// The current file is missing or not sealed.
    pub gone: bool,
    pub values: Vec<ValueReport>,
}

#[derive(Default)]
struct Seen {
    tokens: HashSet<String>,
    hashes: HashSet<[u8; 32]>,
    /// Some readable version of this value could not be decrypted here.
    opaque: bool,
    last: String,
    first: String,
    versions: usize,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Tokens by key path in a sealed text.
fn tokens(format: Format, text: &str) -> Option<Vec<(KeyPath, String)>> {
    let scan = format.scan(text).ok()?;
    Some(
        scan.leaves
            .iter()
            .filter(|l| l.kind == LeafKind::Scalar)
            .filter_map(|l| {
                format
                    .token_in(&text[l.span.clone()])
                    .map(|t| (l.path.clone(), t.to_owned()))
            })
            .collect(),
    )
}

/// Plaintext digests by key path of the encrypted values of a sealed text.
fn plaintext_digests(
    format: Format,
    text: &str,
    encrypted: &HashSet<KeyPath>,
    ids: &Identities,
) -> Option<Vec<(KeyPath, [u8; 32])>> {
    let opened = document::open(format, text, ids).ok()?;
    let scan = format.scan(&opened.plaintext).ok()?;
    Some(
        scan.leaves
            .iter()
            .filter(|l| l.kind == LeafKind::Scalar && encrypted.contains(&l.path))
            .map(|l| (l.path.clone(), digest(&opened.plaintext[l.span.clone()])))
            .collect(),
    )
}

fn lists_key(format: Format, text: &str, keys: &HashSet<String>) -> Option<bool> {
    let info = document::inspect(format, text).ok()?;
    Some(
        info.metadata
            .recipients
            .iter()
            .any(|r| keys.contains(&Recipient::normalize_key(&r.recipient))),
    )
}

/// Analyse `versions` (newest first) for a recipient holding `keys`;
/// `current(file)` gives a file's text now. With `ids`, plaintexts are
/// compared where tokens differ.
pub fn analyze(
    keys: &[String],
    versions: &[Version],
    current: impl Fn(&str) -> Option<Zeroizing<String>>,
    now_anywhere: &Readable,
    ids: Option<&Identities>,
) -> Vec<FileReport> {
    let keys: HashSet<String> = keys.iter().map(|k| Recipient::normalize_key(k)).collect();
    let mut files: BTreeMap<String, BTreeMap<KeyPath, Seen>> = BTreeMap::new();
    for v in versions {
        let Some(format) = Format::from_path(Path::new(&v.file)) else {
            continue;
        };
        if lists_key(format, &v.text, &keys) != Some(true) {
            continue;
        }
        let Some(toks) = tokens(format, &v.text) else {
            continue;
        };
        let encrypted: HashSet<KeyPath> = toks.iter().map(|(p, _)| p.clone()).collect();
        let digests = ids.and_then(|ids| plaintext_digests(format, &v.text, &encrypted, ids));
        let entry = files.entry(v.file.clone()).or_default();
        let mut counted = HashSet::new();
        for (path, token) in toks {
            let seen = entry.entry(path.clone()).or_default();
            seen.tokens.insert(token);
            if counted.insert(path) {
                seen.versions += 1;
                if seen.last.is_empty() {
                    seen.last = v.label.clone();
                }
                seen.first = v.label.clone();
                if digests.is_none() {
                    seen.opaque = true;
                }
            }
        }
        for (path, d) in digests.unwrap_or_default() {
            if let Some(seen) = entry.get_mut(&path) {
                seen.hashes.insert(d);
            }
        }
    }

    let mut out = Vec::new();
    for (file, paths) in files {
        let format = Format::from_path(Path::new(&file)).unwrap_or(Format::Yaml);
        let now = current(&file);
        let now_tokens = now.as_ref().and_then(|t| tokens(format, t));
        let still = now
            .as_ref()
            .and_then(|t| lists_key(format, t, &keys))
            .unwrap_or(false);
        let gone = now_tokens.is_none()
            || now
                .as_ref()
                .is_some_and(|t| document::inspect(format, t).is_err());
        let now_digests: Option<Vec<(KeyPath, [u8; 32])>> = match (&now, &now_tokens, ids) {
            (Some(text), Some(toks), Some(ids)) if !still => {
                let enc: HashSet<KeyPath> = toks.iter().map(|(p, _)| p.clone()).collect();
                plaintext_digests(format, text, &enc, ids)
            }
            _ => None,
        };
        let mut values = Vec::new();
        for (path, seen) in paths {
            let here: Vec<&String> = now_tokens
                .iter()
                .flatten()
                .filter(|(p, _)| *p == path)
                .map(|(_, t)| t)
                .collect();
            let status = if gone || here.is_empty() {
                // A token is random: the same one anywhere now (the file was
                // renamed, or the value lives on another branch) is the
                // same value, as readable as before.
                let moved = seen.tokens.iter().any(|t| now_anywhere.tokens.contains(t))
                    || seen
                        .hashes
                        .iter()
                        .any(|h| now_anywhere.values.contains(&(path.clone(), *h)));
                if moved {
                    Status::Unchanged
                } else {
                    Status::Removed
                }
            } else if still {
                Status::StillRecipient
            } else if here.iter().any(|t| seen.tokens.contains(*t)) {
                Status::Unchanged
            } else {
                match &now_digests {
                    Some(d) => {
                        let mine: Vec<&[u8; 32]> = d
                            .iter()
                            .filter(|(p, _)| *p == path)
                            .map(|(_, h)| h)
                            .collect();
                        if mine.iter().any(|h| seen.hashes.contains(*h)) {
                            Status::Unchanged
                        } else if seen.opaque || mine.is_empty() {
                            Status::Unknown
                        } else {
                            Status::Changed
                        }
                    }
                    None => Status::Unknown,
                }
            };
            values.push(ValueReport {
                path: path.to_string(),
                last_readable: seen.last,
                first_readable: seen.first,
                versions: seen.versions,
                status,
            });
        }
        out.push(FileReport {
            file,
            still_recipient: still && !gone,
            gone,
            values,
        });
    }
    out
}

/// Why the git history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExposureError {
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
}

/// The root of the git work tree holding `dir`, if any.
pub fn repo_root(dir: &Path) -> Option<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    let text = String::from_utf8(out).ok()?;
    let root = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    Some(std::fs::canonicalize(&root).unwrap_or(root))
}

/// Whether the repository has at least one commit.
fn has_commits(root: &Path) -> bool {
    git(root, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok()
}

/// Read many `REV:PATH` blobs with one `git cat-file --batch`.
pub(crate) fn cat_files(
    root: &Path,
    specs: &[String],
) -> Result<Vec<Option<Vec<u8>>>, ExposureError> {
    let mut out = Vec::with_capacity(specs.len());
    crate::git::cat_file_batch(root, specs, u64::MAX, |_, blob| {
        out.push(blob.contents().map(<[u8]>::to_vec))
    })?;
    Ok(out)
}

/// What can be read now, wherever it is: every token, and (with a key)
/// every value's key path and plaintext digest.
#[derive(Default)]
pub struct Readable {
    tokens: HashSet<String>,
    values: HashSet<(KeyPath, [u8; 32])>,
}

/// [`Readable`] over the files under `under` at the tip of every branch
/// (local and remote-tracking), plus `extra` texts (the work tree's).
pub fn readable_now(
    root: &Path,
    under: &Path,
    extra: &[(String, Zeroizing<String>)],
    ids: Option<&Identities>,
) -> Result<Readable, ExposureError> {
    let mut out = Readable::default();
    let mut add = |file: &str, text: &str| {
        let Some(format) = Format::from_path(Path::new(file)) else {
            return;
        };
        let toks = tokens(format, text).unwrap_or_default();
        let encrypted: HashSet<KeyPath> = toks.iter().map(|(p, _)| p.clone()).collect();
        if let Some(digests) = ids.and_then(|ids| plaintext_digests(format, text, &encrypted, ids))
        {
            out.values.extend(digests);
        }
        out.tokens.extend(toks.into_iter().map(|(_, t)| t));
    };
    for (file, text) in extra {
        add(file, text);
    }
    if !has_commits(root) {
        return Ok(out);
    }
    let refs = git(
        root,
        &[
            "for-each-ref",
            "--format=%(objectname)",
            "refs/heads",
            "refs/remotes",
        ],
    )?;
    // Branches share most of their files: each distinct blob is read (and,
    // with a key, opened) once.
    let mut blobs: HashSet<String> = HashSet::new();
    let mut specs = Vec::new();
    let mut files = Vec::new();
    let spec = under.display().to_string();
    for tip in String::from_utf8_lossy(&refs)
        .lines()
        .collect::<HashSet<_>>()
    {
        let listing = git(
            root,
            &[
                "-c",
                "core.quotePath=false",
                "ls-tree",
                "-r",
                tip,
                "--",
                &spec,
            ],
        )?;
        for line in String::from_utf8_lossy(&listing).lines() {
            // `MODE TYPE OBJECT<TAB>PATH`
            let Some((meta, file)) = line.split_once('\t') else {
                continue;
            };
            let Some(blob) = meta.split(' ').nth(2) else {
                continue;
            };
            if Format::from_path(Path::new(file)).is_some() && blobs.insert(blob.to_owned()) {
                specs.push(blob.to_owned());
                files.push(file.to_owned());
            }
        }
    }
    for (file, blob) in files.iter().zip(cat_files(root, &specs)?) {
        if let Some(text) = blob.and_then(|b| String::from_utf8(b).ok()) {
            add(file, &text);
        }
    }
    Ok(out)
}

/// Every committed version of every YAML/JSON/TOML/dotenv file under `under`
/// (a directory inside the repository at `root`), newest first.
pub fn history(root: &Path, under: &Path) -> Result<Vec<Version>, ExposureError> {
    if !has_commits(root) {
        return Ok(Vec::new());
    }
    let spec = under.display().to_string();
    let log = git(
        root,
        &[
            "-c",
            "core.quotePath=false",
            "log",
            // Every branch, not only the one checked out: a secret on a
            // branch was readable, and comes back with its merge.
            "--all",
            "--no-renames",
            "--name-only",
            "--format=%x01%H %h %cs",
            "--",
            &spec,
        ],
    )?;
    let log = String::from_utf8_lossy(&log);
    let mut wanted: Vec<(String, String, String)> = Vec::new(); // (spec, file, label)
    let mut commit = String::new();
    let mut label = String::new();
    for line in log.lines() {
        if let Some(header) = line.strip_prefix('\u{1}') {
            let mut parts = header.splitn(2, ' ');
            commit = parts.next().unwrap_or_default().to_owned();
            label = parts.next().unwrap_or_default().to_owned();
        } else if !line.is_empty()
            && !commit.is_empty()
            && Format::from_path(Path::new(line)).is_some()
            && !line.ends_with(crate::config::FILE_NAME)
        {
            wanted.push((format!("{commit}:{line}"), line.to_owned(), label.clone()));
        }
    }
    let specs: Vec<String> = wanted.iter().map(|(s, _, _)| s.clone()).collect();
    let blobs = cat_files(root, &specs)?;
    Ok(wanted
        .into_iter()
        .zip(blobs)
        .filter_map(|((_, file, label), blob)| {
            let text = String::from_utf8(blob?).ok()?;
            Some(Version {
                file,
                label,
                text: Zeroizing::new(text),
            })
        })
        .collect())
}

/// Every committed text of the file `file` (relative to `root`), newest
/// first: used to find the keys a name had in `.seal.yaml` over time.
pub fn file_history(root: &Path, file: &str) -> Result<Vec<String>, ExposureError> {
    if !has_commits(root) {
        return Ok(Vec::new());
    }
    let log = git(root, &["log", "--no-renames", "--format=%H", "--", file])?;
    let specs: Vec<String> = String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|h| format!("{h}:{file}"))
        .collect();
    Ok(cat_files(root, &specs)?
        .into_iter()
        .flatten()
        .filter_map(|b| String::from_utf8(b).ok())
        .collect())
}

/// `path` relative to `root` with `/` separators.
pub fn relative_to(root: &Path, path: &Path) -> Option<String> {
    let abs = std::fs::canonicalize(path).ok()?;
    let rel = abs.strip_prefix(root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert!(Status::Unchanged.rotate_at_source());
        assert!(Status::Unknown.rotate_at_source());
        assert!(!Status::Changed.rotate_at_source());
        assert!(!Status::Removed.rotate_at_source());
        assert_eq!(Status::StillRecipient.as_str(), "still-recipient");
    }
}
