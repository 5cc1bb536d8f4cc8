//! Sealing and opening whole documents: the one-way pipeline
//! bytes → spans → crypto → splice → bytes (spec/FORMAT.md, "Sealing" and
//! "Opening").
//!
//! Opening verifies the file MAC before any value is decrypted, so a
//! tampered file shows no plaintext at all.
//! Sealing checks its own output before returning, so a parser bug can
//! never produce a file that does not decrypt to exactly its input: the
//! output is scanned again and must show the same values at the same paths,
//! the tokens where they were spliced and the metadata that was MACed
//! (`check_sealed_output`). Decrypting every fresh token again would only
//! test the AEAD crate, at the cost of a second opening.
//!
//! The steps live in `opening` (parse, check the MAC, decrypt), `mac`
//! (the section-9 input), `sealing` (splice tokens, MAC, metadata block,
//! self-check) and `opened` (values of an opened document, sealing it
//! again); this file holds the errors and the key-less `inspect`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use zeroize::Zeroizing;

use crate::crypto::{DataKey, ValueError};
use crate::envelope::{unwrap_data_key, Identities, Recipient, RecipientError, UnwrapError};
use crate::format::{EditError, Format, LeafKind, ParseError, Scan};
use crate::metadata::{readable, Changed, ChangedDates, Metadata, Pending, WrappedKey, VERSION};
use crate::path::KeyPath;
use crate::select;

mod groups;
mod mac;
mod opened;
mod opening;
mod sealing;
#[cfg(test)]
mod tests;

use groups::*;
use mac::*;
use opening::*;
use sealing::*;

pub use groups::{groups_match, scope_of, valid_group_name, FileKeys, GroupSpec, LockedScope, Scope};
pub use mac::{signed_digest, signed_message};
pub use opened::{MarkedValue, NextVersion, Resealed};
pub use opening::{Opened, Sealed, open, open_with_key, parse_sealed, parse_sealed_owned};
// `Plain` and `wrap_for` are used outside only by the tests (`internals`).
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use sealing::{
    NoPrior,
    OpenedDates,
    Plain,
    PriorDates,
    Replacements,
    SealPlan,
    now_rfc3339,
    parse_plain,
    seal,
    seal_replacing,
    wrap_for,
};

/// Why a document could not be sealed or opened. Never carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("the file is not sealed (it has no seal metadata)")]
    NotSealed,
    #[error("the file is already sealed{}", at.as_ref().map(|p| format!(" (a sealed value is at {p})")).unwrap_or_default())]
    AlreadySealed { at: Option<String> },
    #[error("the file was {}", crate::metadata::unsupported_version(*.0))]
    UnsupportedVersion(u64),
    /// The metadata's `changed` field does not fit the file's values.
    #[error("seal metadata: {0}")]
    Changed(String),
    #[error("{0}")]
    Sign(#[from] crate::signing::SignError),
    #[error("{0}")]
    Unwrap(#[from] UnwrapError),
    #[error("the file's MAC does not match: a value, a key path or the metadata was changed outside seal")]
    Tampered,
    #[error("the value at {path} cannot be decrypted: {source}")]
    Value { path: String, source: ValueError },
    #[error("{0}")]
    Edit(#[from] EditError),
    #[error("{0}")]
    Recipient(#[from] RecipientError),
    #[error("no recipients: a sealed file needs at least one")]
    NoRecipients,
    #[error("the file has no recipients in its metadata")]
    NoWrappedKeys,
    #[error("invalid encrypt pattern: {0}")]
    Pattern(select::PatternError),
    /// `groups` that break the rules of spec section 14.3.
    #[error("seal metadata: {0}")]
    Groups(String),
    /// A write would change what a scope's MAC covers without its key.
    #[error("cannot change {scope}: you are not a recipient of it, so its values, patterns and recipients must stay as they are")]
    Locked { scope: String },
    #[error("internal error: {0} (please report this; nothing was written)")]
    Internal(&'static str),
}

/// A sealed file as read without any key: what `seal info` shows.
#[derive(Debug)]
pub struct Inspection {
    pub metadata: Metadata,
    pub encrypted_values: usize,
    pub plain_values: usize,
    /// Each value held in plaintext, in document order, and why.
    pub plaintext: Vec<(KeyPath, PlainReason)>,
    /// Each sealed value's key path, once, in document order, with the
    /// date `changed` gives it (none for version 1 files, and for values
    /// unchanged since the file was last written by a version-1 seal).
    pub dates: Vec<(KeyPath, Option<String>)>,
}

/// Why a sealed file holds a value in plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainReason {
    /// No source text (`key:` in YAML, `KEY=` in dotenv): nothing to hide.
    Empty,
    /// A YAML alias: a reference to its anchor's value, sealed there.
    Alias,
    /// The file's `encrypt` patterns do not select it.
    NotSelected,
    /// Selected, yet not a token: the file was changed outside seal (its
    /// MAC will not match).
    NotEncrypted,
}

impl PlainReason {
    /// A short name, as `seal info --json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            PlainReason::Empty => "empty",
            PlainReason::Alias => "alias",
            PlainReason::NotSelected => "not selected",
            PlainReason::NotEncrypted => "not encrypted",
        }
    }
}

/// Read the metadata and count values, with no key.
pub fn inspect(format: Format, src: &str) -> Result<Inspection, DocError> {
    let scan = format.scan(src)?;
    let block = scan.metadata.ok_or(DocError::NotSealed)?;
    // Another version's layout and counting rules are not these (spec 6.1).
    if !readable(block.metadata.version) {
        return Err(DocError::UnsupportedVersion(block.metadata.version));
    }
    let mut dates = Vec::new();
    walk_changed(format, src, &scan.leaves, &block.metadata, |path, date| {
        dates.push((path.clone(), date.map(str::to_owned)))
    })?;
    let mut plaintext = Vec::new();
    for leaf in scan.leaves.iter() {
        let reason = match leaf.kind {
            LeafKind::Empty => PlainReason::Empty,
            LeafKind::Alias => PlainReason::Alias,
            LeafKind::Scalar if format.token_in(&src[leaf.span.clone()]).is_some() => continue,
            LeafKind::Scalar if select::selected(&block.metadata.encrypt, &leaf.path) => {
                PlainReason::NotEncrypted
            }
            LeafKind::Scalar => PlainReason::NotSelected,
        };
        plaintext.push((leaf.path.clone(), reason));
    }
    Ok(Inspection {
        metadata: block.metadata,
        encrypted_values: scan.leaves.len() - plaintext.len(),
        plain_values: plaintext.len(),
        plaintext,
        dates,
    })
}

/// Check the metadata's `changed` field against the sealed values (spec
/// section 6.1.1) and call `each` for every sealed value's key path, once
/// and in document order, with its date if `changed` has one (its own
/// entry, else the `*` entry's). `changed` must name sealed values only,
/// each once, in that order, after at most one `*` entry (version 3),
/// with dates written as `modified` is.
fn walk_changed(
    format: Format,
    src: &str,
    leaves: &[crate::format::Leaf],
    meta: &Metadata,
    mut each: impl FnMut(&KeyPath, Option<&str>),
) -> Result<(), DocError> {
    if meta.version == 1 && !meta.changed.is_empty() {
        return Err(DocError::Changed(
            "`changed` is not a field of format version 1".into(),
        ));
    }
    let (rest, entries) = meta.changed_parts();
    if rest.is_some() && meta.version < crate::metadata::CHANGED_REST_SINCE {
        return Err(DocError::Changed(format!(
            "`changed` has a `*` entry, which format version {} does not have",
            meta.version
        )));
    }
    if entries.iter().any(|c| c.path == crate::metadata::CHANGED_REST) {
        return Err(DocError::Changed(
            "`changed` has a `*` entry that is not its first".into(),
        ));
    }
    if let Some(bad) = meta
        .changed
        .iter()
        .find(|c| !crate::metadata::valid_date(&c.date))
    {
        return Err(DocError::Changed(format!(
            "`changed` gives {} a date that is not RFC 3339 UTC with seconds (YYYY-MM-DDTHH:MM:SSZ)",
            bad.path
        )));
    }
    // Only dotenv repeats a key path (a name); its first occurrence places it.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut next = 0;
    let mut pointer = String::new();
    for leaf in leaves {
        let sealed =
            leaf.kind == LeafKind::Scalar && format.token_in(&src[leaf.span.clone()]).is_some();
        if !sealed {
            continue;
        }
        if let (Format::Dotenv, [crate::path::Segment::Key(name)]) =
            (format, leaf.path.segments.as_slice())
        {
            if !seen.insert(name) {
                continue;
            }
        }
        if entries.is_empty() {
            each(&leaf.path, rest);
            continue;
        }
        pointer.clear();
        leaf.path.pointer_into(&mut pointer);
        match entries.get(next) {
            Some(c) if c.path == pointer => {
                each(&leaf.path, Some(&c.date));
                next += 1;
            }
            _ => each(&leaf.path, rest),
        }
    }
    let sealed_here = |pointer: &str| {
        leaves.iter().any(|l| {
            l.kind == LeafKind::Scalar
                && format.token_in(&src[l.span.clone()]).is_some()
                && l.path.pointer() == pointer
        })
    };
    match entries.get(next) {
        None => Ok(()),
        Some(c) if sealed_here(&c.path) => Err(DocError::Changed(format!(
            "`changed` lists {} twice or out of document order",
            c.path
        ))),
        Some(c) => Err(DocError::Changed(format!(
            "`changed` names {}, which holds no sealed value",
            c.path
        ))),
    }
}
