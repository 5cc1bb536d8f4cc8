//! Last-changed dates from git history, for values whose file records
//! none (format version 1, or values unchanged since a version-1 seal last
//! wrote the file). Needs no key: tokens are stable, so a value changed in
//! the commit where its token did, as long as the data key stayed (a
//! wrapped key's text is the same in both versions).
//!
//! One `git log` for all files and one `git cat-file --batch` for all
//! their versions, so a repository of a thousand files costs two git
//! processes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::exposure::{cat_files, ExposureError};
use crate::git::git;
use crate::format::{Format, LeafKind};
use crate::metadata::ChangedDates;
use crate::path::KeyPath;

/// A file whose values need dates from history.
pub struct Wanted<'a> {
    /// The file relative to the repository root, `/` separators.
    pub file: String,
    pub format: Format,
    /// The file's text now (in the work tree).
    pub text: &'a str,
    /// The key paths to date.
    pub paths: Vec<KeyPath>,
}

/// One version of a file as seen without a key.
struct Seen {
    /// Author time of the commit; `None` for the work tree.
    time: Option<SystemTime>,
    text_hash: [u8; 32],
    /// Tokens per key path, in document order (dotenv repeats names).
    tokens: HashMap<KeyPath, Vec<String>>,
    /// The wrapped data keys: two versions sharing one share the data key.
    wraps: HashSet<String>,
    /// `changed` dates (version 2).
    dates: ChangedDates<String>,
    sealed: bool,
}

fn seen(format: Format, text: &str, time: Option<SystemTime>) -> Seen {
    use sha2::Digest;
    let mut s = Seen {
        time,
        text_hash: sha2::Sha256::digest(text.as_bytes()).into(),
        tokens: HashMap::new(),
        wraps: HashSet::new(),
        dates: ChangedDates::default(),
        sealed: false,
    };
    let Ok(scan) = format.scan(text) else {
        return s;
    };
    let Some(block) = scan.metadata else {
        return s;
    };
    s.sealed = true;
    for leaf in scan.leaves {
        if leaf.kind != LeafKind::Scalar {
            continue;
        }
        if let Some(token) = format.token_in(&text[leaf.span.clone()]) {
            s.tokens
                .entry(leaf.path)
                .or_default()
                .push(token.to_owned());
        }
    }
    let meta = block.metadata;
    s.wraps = meta.recipients.into_iter().map(|w| w.data_key).collect();
    s.dates = ChangedDates::owned(meta.changed);
    s
}

/// When the value at `path` last changed, walking from the newest version
/// (`versions[0]`, the work tree) back. `None` when the change is not
/// committed, or the file has no history.
fn last_change(versions: &[Seen], path: &KeyPath) -> Option<SystemTime> {
    let mut newer = versions.first()?;
    let now_tokens = newer.tokens.get(path)?;
    let mut tokens = now_tokens;
    for older in &versions[1..] {
        if older.text_hash == newer.text_hash {
            newer = older;
            continue;
        }
        let Some(before) = older.tokens.get(path).filter(|_| older.sealed) else {
            // Not there (or not sealed) before: it appeared in `newer`.
            return newer.time;
        };
        if let Some(date) = older.dates.date(&path.pointer()) {
            return humantime::parse_rfc3339(date).ok();
        }
        if before != tokens && !older.wraps.is_disjoint(&newer.wraps) {
            return newer.time;
        }
        // Same token, or a new data key (every token changes; the value
        // may not have): look further back.
        tokens = before;
        newer = older;
    }
    newer.time
}

/// Dates for the wanted values of files in the repository at `root`, by
/// (file, key path). Values whose date history cannot tell are left out.
pub fn dates(
    root: &Path,
    wanted: &[Wanted<'_>],
) -> Result<HashMap<(String, KeyPath), SystemTime>, ExposureError> {
    let mut out = HashMap::new();
    if wanted.is_empty() || git(root, &["rev-parse", "--verify", "-q", "HEAD"]).is_err() {
        return Ok(out);
    }
    let mut args: Vec<String> = [
        "-c",
        "core.quotePath=false",
        "log",
        "--no-renames",
        "--name-only",
        "--format=%x01%H %at",
        "HEAD",
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(wanted.iter().map(|w| format!(":(literal){}", w.file)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = git(root, &args)?;
    let log = String::from_utf8_lossy(&log);
    let index: HashMap<&str, usize> = wanted
        .iter()
        .enumerate()
        .map(|(i, w)| (w.file.as_str(), i))
        .collect();
    // (file index, commit, time), newest first per file.
    let mut commits: Vec<(usize, String, SystemTime)> = Vec::new();
    let (mut commit, mut time) = (String::new(), SystemTime::UNIX_EPOCH);
    for line in log.lines() {
        if let Some(header) = line.strip_prefix('\u{1}') {
            let (hash, at) = header.split_once(' ').unwrap_or((header, "0"));
            commit = hash.to_owned();
            time = SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(at.parse().unwrap_or(0)))
                .unwrap_or(SystemTime::UNIX_EPOCH);
        } else if let Some(&i) = index.get(line) {
            commits.push((i, commit.clone(), time));
        }
    }
    let specs: Vec<String> = commits
        .iter()
        .map(|(i, c, _)| format!("{c}:{}", wanted[*i].file))
        .collect();
    let blobs = cat_files(root, &specs)?;
    let mut versions: Vec<Vec<Seen>> = wanted
        .iter()
        .map(|w| vec![seen(w.format, w.text, None)])
        .collect();
    for ((i, _, time), blob) in commits.into_iter().zip(blobs) {
        let text = blob
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        versions[i].push(seen(wanted[i].format, &text, Some(time)));
    }
    for (w, versions) in wanted.iter().zip(&versions) {
        for path in &w.paths {
            if let Some(t) = last_change(versions, path) {
                out.insert((w.file.clone(), path.clone()), t);
            }
        }
    }
    Ok(out)
}
