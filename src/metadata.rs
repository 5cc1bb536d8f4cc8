//! The metadata block of a sealed file (spec/FORMAT.md, "Metadata").
//!
//! This is the format-independent model. Each format module reads it from
//! and writes it to its own syntax: a reserved top-level `seal` key in YAML
//! and JSON, a `[seal]` table at the end in TOML, `# seal: ` comment lines
//! in dotenv.

/// The format version this implementation writes.
pub const VERSION: u64 = 4;

/// The versions this implementation reads: 1 (no optional fields) to 5.
pub const READABLE: std::ops::RangeInclusive<u64> = 1..=5;

/// The format version of a file with key groups (spec/FORMAT.md section
/// 14). A file without groups is written as [`VERSION`], so that a seal
/// which does not know groups still reads it.
pub const GROUPS_SINCE: u64 = 5;

/// The version a writer gives a file: [`GROUPS_SINCE`] when it has key
/// groups, else [`VERSION`].
pub fn version_for(groups: &[Group]) -> u64 {
    if groups.is_empty() { VERSION } else { GROUPS_SINCE }
}

/// The first format version whose block may hold `pending` values.
pub const PENDING_SINCE: u64 = 4;

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

/// A key group (version 5, spec/FORMAT.md section 14): key paths with
/// their own data key, readable only by the group's recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// 1 to 64 characters of `A-Z a-z 0-9 . _ -`, unique in the file.
    pub name: String,
    /// Key-path patterns (as `encrypt`'s) selecting the group's values.
    pub keys: Vec<String>,
    /// The group's recipients, each with the group's data key and the
    /// file MAC key wrapped for it.
    pub recipients: Vec<GroupKey>,
    /// The group MAC, base64url without padding (section 14.4).
    pub mac: String,
}

/// One recipient of a key group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupKey {
    /// As [`WrappedKey::recipient`].
    pub recipient: String,
    /// The group's 32-byte data key wrapped for `recipient` (armored age).
    pub data_key: String,
    /// The file's 32-byte MAC key wrapped for `recipient` (armored age), so
    /// that a group member checks the file MAC without the file's data key.
    pub file_key: String,
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

/// A value added by a writer without the data key (`seal set --public`,
/// spec/FORMAT.md section 13): not authenticated until a key holder folds
/// it into a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The key path as a changed-path (spec 6.1.1).
    pub path: String,
    /// An armored age file, to every recipient that takes a public key,
    /// whose payload is the path, a line break, and the value's source text.
    pub value: String,
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
    /// Version 5: key groups, in order (the first whose `keys` select a
    /// path holds its value); empty for a file without groups.
    pub groups: Vec<Group>,
    /// Version 5: the default MAC (section 14.4), present exactly when
    /// `groups` is; empty otherwise.
    pub default_mac: String,
    /// Version 4: values waiting to be folded in, in the order written;
    /// not MAC input.
    pub pending: Vec<Pending>,
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

/// The key of a `changed` entry (version 3) that dates every sealed value
/// the entries after it do not list. No key path is written so: a
/// changed-path starts with `/` or a digit (spec/FORMAT.md, 6.1.1).
pub const CHANGED_REST: &str = "*";

/// The first format version whose `changed` may start with [`CHANGED_REST`].
pub const CHANGED_REST_SINCE: u64 = 3;

impl Metadata {
    /// `changed` as written, split into the `*` date (when the first entry
    /// is one) and the entries that list key paths.
    pub fn changed_parts(&self) -> (Option<&str>, &[Changed]) {
        split_rest(&self.changed)
    }
}

fn split_rest(changed: &[Changed]) -> (Option<&str>, &[Changed]) {
    match changed.split_first() {
        Some((first, listed)) if first.path == CHANGED_REST => (Some(&first.date), listed),
        _ => (None, changed),
    }
}

/// `changed` indexed by changed-path, borrowed from a [`Metadata`] (`S` =
/// `&str`) or owning its text (`S` = `String`).
pub struct ChangedDates<S> {
    rest: Option<S>,
    listed: std::collections::HashMap<S, S>,
}

impl<'a> ChangedDates<&'a str> {
    pub fn of(changed: &'a [Changed]) -> Self {
        let (rest, listed) = split_rest(changed);
        ChangedDates {
            rest,
            listed: listed
                .iter()
                .map(|c| (c.path.as_str(), c.date.as_str()))
                .collect(),
        }
    }
}

impl ChangedDates<String> {
    pub fn owned(mut changed: Vec<Changed>) -> Self {
        let rest = match changed.first() {
            Some(first) if first.path == CHANGED_REST => Some(changed.remove(0).date),
            _ => None,
        };
        ChangedDates {
            rest,
            listed: changed.into_iter().map(|c| (c.path, c.date)).collect(),
        }
    }
}

impl<S: std::borrow::Borrow<str> + std::hash::Hash + Eq> ChangedDates<S> {
    /// Whether `changed` records no date at all.
    pub fn is_empty(&self) -> bool {
        self.rest.is_none() && self.listed.is_empty()
    }

    /// The date of the sealed value at `pointer`: its own entry, else the
    /// `*` date. Only meaningful for a key path that holds a sealed value.
    pub fn date(&self, pointer: &str) -> Option<&str> {
        self.listed
            .get(pointer)
            .or(self.rest.as_ref())
            .map(|d| d.borrow())
    }
}

impl Default for ChangedDates<String> {
    fn default() -> Self {
        ChangedDates {
            rest: None,
            listed: std::collections::HashMap::new(),
        }
    }
}

/// The `changed` a writer of version 3 writes for sealed values that all
/// have a date (`dated`: each value's key and date, in document order): a
/// `*` entry with the date most of them share (on a tie the latest), then
/// the others in order. `pointer` writes a key's changed-path; it runs only
/// for the values listed, which after a fresh encrypt is none.
pub fn compact_changed<P>(
    dated: Vec<(P, std::borrow::Cow<'_, str>)>,
    pointer: impl Fn(&P) -> String,
) -> Vec<Changed> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (_, date) in &dated {
        *counts.entry(date.as_ref()).or_default() += 1;
    }
    // Dates are fixed-width UTC, so text order is time order.
    let rest = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)))
        .map(|(date, _)| date.to_owned());
    let mut out = Vec::new();
    if let Some(rest) = &rest {
        out.push(Changed {
            path: CHANGED_REST.to_owned(),
            date: rest.clone(),
        });
    }
    out.extend(
        dated
            .into_iter()
            .filter(|(_, date)| Some(date.as_ref()) != rest.as_deref())
            .map(|(key, date)| Changed {
                path: pointer(&key),
                date: date.into_owned(),
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, date: &str) -> Changed {
        Changed {
            path: path.into(),
            date: date.into(),
        }
    }

    const JAN: &str = "2026-01-15T09:00:00Z";
    const FEB: &str = "2026-02-15T09:30:00Z";

    fn compact(dated: &[(&'static str, &'static str)]) -> Vec<Changed> {
        let dated = dated.iter().map(|&(p, d)| (p, d.into())).collect();
        compact_changed(dated, |p| p.to_string())
    }

    #[test]
    fn compact_changed_keeps_the_common_date_once() {
        let out = compact(&[("/a", JAN), ("/b", FEB), ("/c", JAN)]);
        assert_eq!(out, vec![entry("*", JAN), entry("/b", FEB)]);
    }

    #[test]
    fn compact_changed_breaks_a_tie_with_the_latest_date() {
        let out = compact(&[("/a", JAN), ("/b", FEB)]);
        assert_eq!(out, vec![entry("*", FEB), entry("/a", JAN)]);
        assert_eq!(compact(&[]), vec![]);
    }

    #[test]
    fn changed_dates_fall_back_to_the_rest_date() {
        let changed = vec![entry("*", JAN), entry("/b", FEB)];
        for dates in [
            ChangedDates::of(&changed).date("/a").map(str::to_owned),
            ChangedDates::owned(changed.clone()).date("/a").map(str::to_owned),
        ] {
            assert_eq!(dates.as_deref(), Some(JAN));
        }
        assert_eq!(ChangedDates::of(&changed).date("/b"), Some(FEB));
        let listed = vec![entry("/b", FEB)];
        assert_eq!(ChangedDates::of(&listed).date("/a"), None);
        assert!(ChangedDates::of(&[]).is_empty());
        assert!(!ChangedDates::owned(changed).is_empty());
    }
}
