//! `seal log`: a key-level history of sealed files from git, without a key.
//!
//! One `git log --raw` pass names, per commit, each sealed file's blob
//! before and after (renames followed, a merge compared with its first
//! parent); one `git cat-file --batch` reads each distinct blob once. Each
//! version is reduced to a summary (a value identity per key path, the
//! recipients, the signature's verdict), so comparing versions needs no
//! plaintext: a value whose token did not change did not change, as
//! tokens are stable (spec section 8).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::path::Path;

use crate::envelope::Recipient;
use crate::format::{Format, LeafKind};
use crate::path::{KeyPath, PathQuery};
use crate::signing::Verification;
use crate::git::git;

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// A thread that parses versions stopped.
    #[error("reading the history: {0}")]
    Worker(&'static str),
}

/// One commit's change to one sealed file.
#[derive(Clone, Debug)]
pub struct Entry {
    pub commit: String,
    pub parents: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    /// Author date, ISO 8601 (`2026-12-07T15:30:39+00:00`).
    pub date: String,
    pub subject: String,
    /// The file's path after the commit (before it, for a deletion).
    pub file: String,
    /// The path before a rename in this commit.
    pub renamed_from: Option<String>,
    /// `created` (sealed now, not before), `modified`, `deleted`, or
    /// `unsealed` (the file is there and no longer sealed).
    pub change: &'static str,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub recipients_added: Vec<String>,
    pub recipients_removed: Vec<String>,
    /// A new data key: every value was re-encrypted, so which values also
    /// changed cannot be told without a key (`changed` is then empty).
    pub rotated: bool,
    /// The new version's signature (`Unsigned` for a deletion).
    pub signature: Verification,
    /// An earlier commit whose version of the file this one restores byte
    /// for byte (a rollback), when it is not the parent's version.
    pub restores: Option<String>,
}

/// What `seal log` looks at.
pub struct LogQuery<'a> {
    /// The directory git runs in; `file` is relative to it.
    pub dir: &'a Path,
    /// One file (renames followed), or every sealed file.
    pub file: Option<&'a Path>,
    /// Only changes at or below this key path.
    pub path: Option<&'a PathQuery>,
    /// `--since DATE`, as git reads it.
    pub since: Option<&'a str>,
}

/// A version of a file reduced to what comparing versions needs.
struct Summary {
    /// Sealed (has seal metadata)?
    sealed: bool,
    /// (identity of the key path, identity of its value) in document order.
    values: Vec<(u128, u128)>,
    /// (recipient, identity of its wrapped key).
    recipients: Vec<(String, u128)>,
    verification: Verification,
}

struct Commit {
    hash: String,
    parents: Vec<String>,
    author_name: String,
    author_email: String,
    date: String,
    subject: String,
    /// (old blob, new blob, old path, new path); a zero id is no blob.
    files: Vec<(String, String, String, String)>,
}

const NO_BLOB: &str = "0000000000000000000000000000000000000000";

fn is_none(blob: &str) -> bool {
    blob.bytes().all(|b| b == b'0')
}

/// The history, newest first.
pub fn log(query: &LogQuery<'_>) -> Result<Vec<Entry>, LogError> {
    // A repository without commits has no history yet.
    if git(query.dir, &["rev-parse", "--verify", "-q", "HEAD"]).is_err() {
        return Ok(Vec::new());
    }
    let mut args = vec![
        "-c",
        "core.quotePath=false",
        "log",
        "--raw",
        "--no-abbrev",
        "-M",
        "--diff-merges=first-parent",
        "-z",
        "--format=%x01%H%x00%P%x00%an%x00%ae%x00%aI%x00%s",
    ];
    let file = query.file.map(|f| f.to_string_lossy().into_owned());
    if file.is_some() {
        args.push("--follow");
    }
    args.push("--");
    args.push(file.as_deref().unwrap_or("."));
    let raw = git(query.dir, &args)?;
    let mut commits = parse_log(&raw);
    commits.reverse(); // oldest first: each version is summarized once
    for c in &mut commits {
        c.files.retain(|(_, _, old, new)| {
            [old, new].iter().any(|p| {
                Format::from_path(Path::new(p.as_str())).is_some()
                    && !p.ends_with(crate::config::FILE_NAME)
            })
        });
    }
    let shown: Option<HashSet<String>> = match query.since {
        Some(date) => {
            // Every commit since DATE: the history above picks the files.
            let since = format!("--since={date}");
            let out = git(query.dir, &["log", since.as_str(), "--format=%H"])?;
            Some(
                String::from_utf8_lossy(&out)
                    .lines()
                    .map(str::to_owned)
                    .collect(),
            )
        }
        None => None,
    };
    let mut blobs: Vec<(String, Format)> = Vec::new();
    let mut wanted: HashSet<&str> = HashSet::new();
    for c in &commits {
        for (old, new, old_path, new_path) in &c.files {
            for (blob, path) in [(old, old_path), (new, new_path)] {
                if is_none(blob) {
                    continue;
                }
                if let Some(format) = Format::from_path(Path::new(path.as_str())) {
                    if wanted.insert(blob.as_str()) {
                        blobs.push((blob.clone(), format));
                    }
                }
            }
        }
    }
    let (summaries, paths) = summarize_all(query.dir, &blobs)?;

    let mut first_commit_of: HashMap<&str, &str> = HashMap::new();
    let mut entries = Vec::new();
    for c in &commits {
        for (old, new, old_path, new_path) in &c.files {
            let before = (!is_none(old)).then(|| summaries.get(old)).flatten();
            let after = (!is_none(new)).then(|| summaries.get(new)).flatten();
            let restores = (!is_none(new) && old != new)
                .then(|| first_commit_of.get(new.as_str()).map(|s| s.to_string()))
                .flatten();
            if !is_none(new) {
                first_commit_of
                    .entry(new.as_str())
                    .or_insert(c.hash.as_str());
            }
            let sealed = |s: Option<&Summary>| s.is_some_and(|s| s.sealed);
            if !sealed(before) && !sealed(after) {
                continue;
            }
            if shown.as_ref().is_some_and(|s| !s.contains(&c.hash)) {
                continue;
            }
            let mut entry = compare(c, before, after, &paths);
            if entry.change == "deleted" && !is_none(new) {
                entry.change = "unsealed";
            }
            entry.file = if is_none(new) { old_path } else { new_path }.clone();
            entry.renamed_from =
                (old_path != new_path && !is_none(old) && !is_none(new)).then(|| old_path.clone());
            entry.restores = restores;
            if let Some(q) = query.path {
                if !entry_concerns(&entry, q, after, &paths) {
                    continue;
                }
            }
            entries.push(entry);
        }
    }
    entries.reverse();
    Ok(entries)
}

/// Whether `entry` changes something at or below `query`.
fn entry_concerns(
    entry: &Entry,
    query: &PathQuery,
    after: Option<&Summary>,
    paths: &Interner,
) -> bool {
    let below = |p: &String| paths.by_text(p).is_some_and(|k| k.starts_with(query));
    entry.added.iter().any(below)
        || entry.changed.iter().any(below)
        || entry.removed.iter().any(below)
        || (entry.rotated
            && after.is_some_and(|s| {
                s.values
                    .iter()
                    .any(|(id, _)| paths.get(*id).starts_with(query))
            }))
}

fn compare(
    c: &Commit,
    before: Option<&Summary>,
    after: Option<&Summary>,
    paths: &Interner,
) -> Entry {
    let empty = Summary {
        sealed: false,
        values: Vec::new(),
        recipients: Vec::new(),
        verification: Verification::Unsigned,
    };
    let (b, a) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let change = match (b.sealed, a.sealed) {
        (false, true) => "created",
        (true, false) => "deleted",
        _ => "modified",
    };
    let rotated = b.sealed
        && a.sealed
        && !a
            .recipients
            .iter()
            .any(|(_, k)| b.recipients.iter().any(|(_, o)| o == k));
    let group = |s: &Summary| {
        let mut m: IdMap<Vec<u128>> = IdMap::default();
        for (p, v) in &s.values {
            m.entry(*p).or_default().push(*v);
        }
        m
    };
    let (old, new) = (group(b), group(a));
    let name = |id: &u128| paths.get(*id).to_string();
    let mut added = Vec::new();
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    let mut seen = IdSet::default();
    for (id, _) in &a.values {
        if !seen.insert(*id) {
            continue;
        }
        match old.get(id) {
            None => added.push(name(id)),
            Some(before) if !rotated && before != &new[id] => changed.push(name(id)),
            Some(_) => {}
        }
    }
    let mut seen = IdSet::default();
    for (id, _) in &b.values {
        if seen.insert(*id) && !new.contains_key(id) {
            removed.push(name(id));
        }
    }
    let keys = |s: &Summary| {
        s.recipients
            .iter()
            .map(|(r, _)| r.clone())
            .collect::<Vec<_>>()
    };
    let (old_keys, new_keys) = (keys(b), keys(a));
    let missing = |from: &[String], other: &[String]| {
        from.iter()
            .filter(|r| !other.iter().any(|o| Recipient::same_key(o, r)))
            .cloned()
            .collect::<Vec<_>>()
    };
    Entry {
        commit: c.hash.clone(),
        parents: c.parents.clone(),
        author_name: c.author_name.clone(),
        author_email: c.author_email.clone(),
        date: c.date.clone(),
        subject: c.subject.clone(),
        file: String::new(),
        renamed_from: None,
        change,
        added,
        changed,
        removed,
        recipients_added: missing(&new_keys, &old_keys),
        recipients_removed: missing(&old_keys, &new_keys),
        rotated,
        signature: a.verification.clone(),
        restores: None,
    }
}

/// Key paths by their identity, so that summaries hold a number per value.
#[derive(Default)]
struct Interner {
    paths: IdMap<KeyPath>,
    texts: HashMap<String, u128>,
}

impl Interner {
    fn get(&self, id: u128) -> &KeyPath {
        static ROOT: std::sync::OnceLock<KeyPath> = std::sync::OnceLock::new();
        self.paths
            .get(&id)
            .unwrap_or_else(|| ROOT.get_or_init(|| KeyPath::new(0, Vec::new())))
    }

    fn by_text(&self, text: &str) -> Option<&KeyPath> {
        self.texts.get(text).map(|id| self.get(*id))
    }
}

/// Every blob's summary, and the key paths they name. The blobs are read
/// by one `git cat-file --batch` and summarized on as many threads as
/// there are cores: parsing each version is most of `seal log`'s work.
fn summarize_all(
    dir: &Path,
    blobs: &[(String, Format)],
) -> Result<(HashMap<String, Summary>, Interner), LogError> {
    use std::sync::{mpsc, Arc, Mutex};
    let hasher = ValueHasher::new();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let (send, receive) = mpsc::sync_channel::<(usize, Format, Vec<u8>)>(workers * 4);
    let receive = Arc::new(Mutex::new(receive));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let receive = Arc::clone(&receive);
                let hasher = &hasher;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    let mut paths: IdMap<KeyPath> = IdMap::default();
                    loop {
                        let job = receive.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((index, format, bytes)) = job else {
                            break;
                        };
                        done.push((index, summarize(format, &bytes, &mut paths, hasher)));
                    }
                    (done, paths)
                })
            })
            .collect();
        let read = cat_blobs(dir, blobs, |index, format, bytes| {
            // A worker that stopped cannot take more: the join reports it.
            let _ = send.send((index, format, bytes.to_vec()));
        });
        drop(send);
        let mut summaries = HashMap::with_capacity(blobs.len());
        let mut interner = Interner::default();
        for handle in handles {
            let (done, paths) = handle
                .join()
                .map_err(|_| LogError::Worker("a worker thread failed"))?;
            for (index, summary) in done {
                summaries.insert(blobs[index].0.clone(), summary);
            }
            for (id, path) in paths {
                interner.texts.insert(path.to_string(), id);
                interner.paths.insert(id, path);
            }
        }
        read?;
        Ok((summaries, interner))
    })
}

/// Maps keyed by identities from [`ValueHasher`]: those are already keyed
/// SipHash outputs, so their low 64 bits index a table as well as hashing
/// them again would, at no cost (SipHash was about a tenth of `seal log`).
type IdMap<V> = HashMap<u128, V, BuildHasherDefault<IdHasher>>;
type IdSet = HashSet<u128, BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, id: u128) {
        // Truncation wanted: the low half of a uniformly random identity.
        self.0 = id as u64;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys use this hasher; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

/// 128-bit value identities from two randomly keyed SipHash instances: a
/// collision cannot be aimed at without the keys, which live only in this
/// process, and by chance is about 2^-128 per pair.
struct ValueHasher(RandomState, RandomState);

impl ValueHasher {
    fn new() -> Self {
        ValueHasher(RandomState::new(), RandomState::new())
    }

    fn hash(&self, kind: u8, text: &str) -> u128 {
        let h = |s: &RandomState| s.hash_one((kind, text));
        (u128::from(h(&self.0)) << 64) | u128::from(h(&self.1))
    }

    fn path(&self, path: &KeyPath) -> u128 {
        let h = |s: &RandomState| s.hash_one((b'k', path));
        (u128::from(h(&self.0)) << 64) | u128::from(h(&self.1))
    }
}

fn summarize(
    format: Format,
    bytes: &[u8],
    paths: &mut IdMap<KeyPath>,
    hasher: &ValueHasher,
) -> Summary {
    let not_sealed = || Summary {
        sealed: false,
        values: Vec::new(),
        recipients: Vec::new(),
        verification: Verification::Unsigned,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return not_sealed();
    };
    let Ok(sealed) = crate::document::parse_sealed(format, text) else {
        return not_sealed();
    };
    let values = sealed
        .leaves()
        .iter()
        .map(|leaf| {
            let source = &text[leaf.span.clone()];
            let identity = match leaf.kind {
                LeafKind::Scalar => match format.token_in(source) {
                    Some(token) => hasher.hash(b't', token),
                    None => hasher.hash(b'p', source),
                },
                LeafKind::Empty => hasher.hash(b'e', ""),
                LeafKind::Alias => hasher.hash(b'a', source),
            };
            let id = hasher.path(&leaf.path);
            paths.entry(id).or_insert_with(|| leaf.path.clone());
            (id, identity)
        })
        .collect();
    let recipients = sealed
        .metadata()
        .recipients
        .iter()
        .map(|r| (r.recipient.clone(), hasher.hash(b'k', &r.data_key)))
        .collect();
    Summary {
        sealed: true,
        values,
        recipients,
        verification: sealed.verification(),
    }
}

/// Commits from `git log --raw -z` with our `--format`.
fn parse_log(raw: &[u8]) -> Vec<Commit> {
    let text = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    for record in text.split('\u{1}').filter(|r| !r.is_empty()) {
        let mut fields = record.split('\0');
        let mut next = || fields.next().unwrap_or("").to_owned();
        let (hash, parents, author_name, author_email, date, subject) =
            (next(), next(), next(), next(), next(), next());
        let rest: Vec<&str> = fields.collect();
        let mut files = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            let item = rest[i].trim_start_matches('\n');
            i += 1;
            let Some(meta) = item.strip_prefix(':') else {
                continue;
            };
            // `:MODE MODE OLD NEW STATUS`, then one path (two for R and C).
            let parts: Vec<&str> = meta.split(' ').collect();
            let [_, _, old, new, status] = parts.as_slice() else {
                continue;
            };
            let two = status.starts_with('R') || status.starts_with('C');
            let old_path = rest.get(i).copied().unwrap_or("").to_owned();
            let new_path = if two {
                rest.get(i + 1).copied().unwrap_or("").to_owned()
            } else {
                old_path.clone()
            };
            i += if two { 2 } else { 1 };
            let old = if status.starts_with('C') {
                NO_BLOB
            } else {
                old
            };
            files.push((old.to_string(), new.to_string(), old_path, new_path));
        }
        out.push(Commit {
            hash,
            parents: parents
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            author_name,
            author_email,
            date,
            subject,
            files,
        });
    }
    out
}

/// Read `blobs` with one `git cat-file --batch`, calling `each` with every
/// blob's contents as it arrives (nothing is kept here).
fn cat_blobs(
    dir: &Path,
    blobs: &[(String, Format)],
    mut each: impl FnMut(usize, Format, &[u8]),
) -> Result<(), LogError> {
    let names: Vec<&str> = blobs.iter().map(|(b, _)| b.as_str()).collect();
    crate::git::cat_file_batch(dir, &names, u64::MAX, |index, blob| {
        if let Some(bytes) = blob.contents() {
            each(index, blobs[index].1, bytes);
        }
    })?;
    Ok(())
}
