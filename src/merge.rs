//! Three-way merge of sealed files: what `seal merge-driver` does for git.
//!
//! All three versions are opened and merged as plaintext, in memory only:
//!
//! 1. a line-based three-way merge of the plaintexts (git's own logic:
//!    changes to different lines combine, so comments and layout from both
//!    sides survive), with conflicting hunks taken from ours;
//! 2. a three-way merge over key paths decides what every value must be:
//!    a value changed on one side takes that side, added on one side is
//!    added, removed on one side is removed, the same change on both sides
//!    is no conflict, and different changes of one value are a conflict;
//! 3. the line-merged text is made to agree with that decision with the
//!    format's own in-place edits (`Format::set_value` / `remove_value`);
//!    if the line merge is not a valid document, ours is the starting point;
//! 4. the result is sealed again, keeping every token that can be kept.
//!
//! A conflicting value is sealed as a token that decrypts to a block with
//! both candidates between `<<<<<<< ours`, `=======` and `>>>>>>> theirs`
//! lines: the sealed file stays valid (and its MAC verifies), and `seal
//! edit` shows both candidates and refuses to save until they are resolved.

use std::collections::{HashMap, HashSet};

use similar::{MergeResolution, TextMerge};
use zeroize::Zeroizing;

use crate::crypto::DataKey;
use crate::document::{self, DocError, Opened, Replacements, SealPlan};
use crate::envelope::{Identities, Recipient};
use crate::format::{line_ending, EditError, Format, LeafKind, ParseError};
use crate::metadata::{Pending, WrappedKey};
use crate::path::{KeyPath, PathQuery};

/// The first line of a conflict block.
pub const OURS_MARKER: &str = "<<<<<<< ours";
/// The line between the two candidates.
pub const SEPARATOR: &str = "=======";
/// The last line of a conflict block.
pub const THEIRS_MARKER: &str = ">>>>>>> theirs";
/// Shown as the candidate of a side that removed the value.
pub const REMOVED: &str = "(removed on this side)";

/// Which input a problem is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Base,
    Ours,
    Theirs,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Base => "the common ancestor",
            Side::Ours => "our version",
            Side::Theirs => "their version",
        })
    }
}

/// Why a merge could not be made. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{side}: {error}")]
    Open { side: Side, error: DocError },
    #[error("{side} is not sealed but the other side is; merge it by hand")]
    Mixed { side: Side },
    #[error("the merged document cannot be built: {0}")]
    Build(BuildError),
    #[error("{0}")]
    Seal(DocError),
    #[error("both sides added a different pending value at {0}; fold one side's with `seal fold` and merge again")]
    Pending(String),
    #[error("the two sides' key groups differ (their patterns, recipients or keys); run `seal updatekeys` on one branch so both match, then merge again")]
    Groups,
}

/// Why the merged plaintext could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A side's plaintext does not parse.
    #[error("{side}: {error}")]
    Side { side: Side, error: ParseError },
    /// The document being assembled stopped parsing.
    #[error("{0}")]
    Parse(ParseError),
    #[error("{path}: {error}")]
    Edit { path: KeyPath, error: EditError },
    #[error("the values do not settle")]
    Unsettled,
    #[error("internal: an input is not open")]
    NotOpen,
}

/// The three inputs as git hands them over. `base` is `None` when the file
/// did not exist in the common ancestor (both sides added it).
pub struct Inputs<'a> {
    pub base: Option<&'a str>,
    pub ours: &'a str,
    pub theirs: &'a str,
}

/// What `.seal.yaml` says about the file now, when a rule covers it.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub recipients: Option<Vec<String>>,
    pub encrypt: Option<Vec<String>>,
}

/// A merged, sealed file.
#[derive(Debug)]
pub struct Merged {
    pub sealed: String,
    /// Values changed differently on both sides: sealed as conflict blocks.
    pub conflicts: Vec<KeyPath>,
    /// Lines other than values (comments, keys, layout) changed differently
    /// on both sides: ours were kept, and the merge is not clean.
    pub layout_conflict: bool,
    /// Things the user should know (never values).
    pub notes: Vec<String>,
}

/// The result of a line-based three-way merge.
pub struct LineMerge {
    /// The merged text; conflicting hunks are taken from ours.
    pub text: Zeroizing<String>,
    /// Whether no hunk conflicted.
    pub clean: bool,
}

/// Three-way merge of lines: hunks changed on one side take that side,
/// hunks changed identically on both sides are kept once, and conflicting
/// hunks are resolved in favour of ours.
pub fn line_merge(base: &str, ours: &str, theirs: &str) -> LineMerge {
    let merge = TextMerge::from_lines(base, ours, theirs);
    let mut text = Zeroizing::new(String::with_capacity(ours.len().max(theirs.len())));
    for region in merge.regions() {
        match region.resolution() {
            MergeResolution::Theirs => {
                for i in region.theirs_range() {
                    text.push_str(merge.theirs_line(i).unwrap_or_default());
                }
            }
            _ => {
                for i in region.ours_range() {
                    text.push_str(merge.ours_line(i).unwrap_or_default());
                }
            }
        }
    }
    LineMerge {
        text,
        clean: !merge.is_conflicted(),
    }
}

/// The same merge with git-style conflict markers, for files that are not
/// sealed at all (so a broad `.gitattributes` pattern is harmless).
pub fn line_merge_with_markers(base: &str, ours: &str, theirs: &str) -> (String, bool) {
    let merge = TextMerge::from_lines(base, ours, theirs);
    (merge.to_string(), !merge.is_conflicted())
}

/// The 1-based line of the first unresolved conflict block in `text`: a
/// line containing `<<<<<<< `, later a line that is `=======`, later a line
/// starting with `>>>>>>> `.
pub fn conflict_marker_line(text: &str) -> Option<usize> {
    // Most documents have no marker at all: one vectorized search says so.
    memchr::memmem::find(text.as_bytes(), b"<<<<<<<")?;
    let mut start = None;
    let mut separated = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if line.contains("<<<<<<< ") || line.ends_with("<<<<<<<") {
            start = Some(i + 1);
            separated = false;
        } else if start.is_some() && trimmed == SEPARATOR {
            separated = true;
        } else if separated && trimmed.starts_with(">>>>>>>") {
            return start;
        }
    }
    None
}

/// The text a conflicting value is sealed as.
pub fn conflict_block(ours: Option<&str>, theirs: Option<&str>, le: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{OURS_MARKER}{le}{}{le}{SEPARATOR}{le}{}{le}{THEIRS_MARKER}",
        ours.unwrap_or(REMOVED),
        theirs.unwrap_or(REMOVED)
    ))
}

/// One value: its kind and exact source text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Value {
    kind: LeafKind,
    src: Zeroizing<String>,
}

/// Every value of a plaintext document by key path, in document order. In
/// dotenv, where a name may repeat, the last assignment counts.
#[derive(Default)]
struct Leaves {
    order: Vec<KeyPath>,
    map: HashMap<KeyPath, Value>,
}

fn leaves(format: Format, text: &str) -> Result<Leaves, ParseError> {
    let scan = format.scan(text)?;
    if scan.metadata.is_some() {
        return Err(ParseError::new(
            1,
            1,
            "a decrypted document holds seal metadata",
        ));
    }
    let mut out = Leaves::default();
    for leaf in scan.leaves {
        let value = Value {
            kind: leaf.kind,
            src: Zeroizing::new(text[leaf.span.clone()].to_owned()),
        };
        if out.map.insert(leaf.path.clone(), value).is_none() {
            out.order.push(leaf.path);
        }
    }
    Ok(out)
}

/// What the merged document holds at one key path.
#[derive(Debug)]
enum Pick {
    Keep(Value),
    Remove,
    Conflict {
        ours: Option<Value>,
        theirs: Option<Value>,
    },
}

/// The three-way merge over key paths.
fn merge_values(base: &Leaves, ours: &Leaves, theirs: &Leaves) -> Vec<(KeyPath, Pick)> {
    let mut seen = HashSet::new();
    let paths: Vec<&KeyPath> = ours
        .order
        .iter()
        .chain(&theirs.order)
        .chain(&base.order)
        .filter(|p| seen.insert(*p))
        .collect();
    paths
        .into_iter()
        .map(|path| {
            let (b, o, t) = (base.map.get(path), ours.map.get(path), theirs.map.get(path));
            let take = |v: Option<&Value>| v.cloned().map_or(Pick::Remove, Pick::Keep);
            let pick = if o == t || t == b {
                take(o)
            } else if o == b {
                take(t)
            } else {
                Pick::Conflict {
                    ours: o.cloned(),
                    theirs: t.cloned(),
                }
            };
            (path.clone(), pick)
        })
        .collect()
}

fn query(path: &KeyPath) -> PathQuery {
    PathQuery {
        doc: path.doc,
        segments: path.strings(),
    }
}

fn is_ancestor(ancestor: &KeyPath, of: &KeyPath) -> bool {
    ancestor.doc == of.doc
        && ancestor.segments.len() < of.segments.len()
        && of.segments.starts_with(&ancestor.segments)
}

/// Edit `start` until its values are exactly what `picks` says.
fn conform(
    format: Format,
    start: &str,
    picks: &[(KeyPath, Pick)],
) -> Result<Zeroizing<String>, BuildError> {
    let wanted: HashSet<&KeyPath> = picks.iter().map(|(p, _)| p).collect();
    let present: Vec<&KeyPath> = picks
        .iter()
        .filter(|(_, pick)| !matches!(pick, Pick::Remove))
        .map(|(p, _)| p)
        .collect();
    let edit_err = |path: &KeyPath, error: EditError| BuildError::Edit {
        path: path.clone(),
        error,
    };
    let mut text = Zeroizing::new(start.to_owned());
    // Each round fixes what it sees; removing the last child of a mapping
    // can leave an empty parent for the next round.
    for _ in 0..4 {
        let current = leaves(format, &text).map_err(BuildError::Parse)?;
        let mut changed = false;
        let mut removals: Vec<&KeyPath> = picks
            .iter()
            .filter(|(p, pick)| matches!(pick, Pick::Remove) && current.map.contains_key(p))
            .map(|(p, _)| p)
            .collect();
        removals.extend(
            current.order.iter().filter(|p| {
                !wanted.contains(p) && !present.iter().any(|keep| is_ancestor(p, keep))
            }),
        );
        for path in removals {
            text = Zeroizing::new(
                format
                    .remove_value(&text, &query(path))
                    .map_err(|e| edit_err(path, e))?,
            );
            changed = true;
        }
        let current = if changed {
            leaves(format, &text).map_err(BuildError::Parse)?
        } else {
            current
        };
        for (path, pick) in picks {
            let literal = match pick {
                Pick::Keep(v) if current.map.get(path) != Some(v) => v.src.as_str(),
                Pick::Conflict { ours, theirs } if !current.map.contains_key(path) => {
                    match ours.as_ref().or(theirs.as_ref()) {
                        Some(v) => v.src.as_str(),
                        None => continue,
                    }
                }
                _ => continue,
            };
            text = Zeroizing::new(
                format
                    .set_value(&text, &query(path), literal)
                    .map_err(|e| edit_err(path, e))?,
            );
            changed = true;
        }
        if !changed {
            return Ok(text);
        }
    }
    Err(BuildError::Unsettled)
}

/// Merge three plaintext documents. Returns the merged plaintext, the
/// conflicts (path, ours, theirs) to seal as conflict blocks, and whether
/// the lines that are not values merged without a conflict.
pub fn merge_plaintext(
    format: Format,
    base: &str,
    ours: &str,
    theirs: &str,
) -> Result<(Zeroizing<String>, Replacements, Vec<KeyPath>, bool), BuildError> {
    let base_leaves = leaves(format, base).unwrap_or_default();
    let side = |side: Side| move |error: ParseError| BuildError::Side { side, error };
    let ours_leaves = leaves(format, ours).map_err(side(Side::Ours))?;
    let theirs_leaves = leaves(format, theirs).map_err(side(Side::Theirs))?;
    let picks = merge_values(&base_leaves, &ours_leaves, &theirs_leaves);

    let lines = line_merge(base, ours, theirs);
    // Lines that conflict only through the values on them are settled by
    // the value merge; with the values taken out, what still conflicts is
    // comments or layout, which the line merge resolved to ours.
    let mut layout_clean = lines.clean || {
        let skeleton = |text: &str| skeleton(format, text);
        match (skeleton(base), skeleton(ours), skeleton(theirs)) {
            (Some(b), Some(o), Some(t)) => line_merge(&b, &o, &t).clean,
            _ => false,
        }
    };
    let merged = match conform(format, &lines.text, &picks) {
        Ok(text) => text,
        // The line merge produced something the format cannot hold or
        // edit: start from ours instead (theirs' layout changes are lost,
        // their values are not).
        Err(_) => {
            layout_clean = false;
            conform(format, ours, &picks)?
        }
    };

    let le = line_ending(&merged);
    let mut replacements = Replacements::new();
    let mut conflicts = Vec::new();
    for (path, pick) in &picks {
        if let Pick::Conflict { ours, theirs } = pick {
            let block = conflict_block(
                ours.as_ref().map(|v| v.src.as_str()),
                theirs.as_ref().map(|v| v.src.as_str()),
                le,
            );
            replacements.insert(path.clone(), block);
            conflicts.push(path.clone());
        }
    }
    Ok((merged, replacements, conflicts, layout_clean))
}

/// The lines of `text` that hold no part of a value: comments, blank lines,
/// keys of mappings and lists. The value merge settles every line that
/// holds a value (and its key), so only these can conflict on their own.
/// `None` when the text does not parse.
fn skeleton(format: Format, text: &str) -> Option<Zeroizing<String>> {
    let scan = format.scan(text).ok()?;
    let mut spans = scan.leaves.iter().map(|l| l.span.clone()).peekable();
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        // Spans come in document order: drop those that end before here.
        while spans.peek().is_some_and(|s| s.end < start) {
            spans.next();
        }
        let holds_value = spans
            .peek()
            .is_some_and(|s| s.start < end || (s.start == end && !line.ends_with('\n')));
        if !holds_value {
            out.push_str(line);
        }
        start = end;
    }
    Some(out)
}

/// A three-way merge of pattern or recipient lists: an item added on
/// either side is added, removed on either side is removed. Without a
/// common ancestor, the union.
pub fn merge_lists(base: Option<&[String]>, ours: &[String], theirs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &String| {
        if !out.contains(s) {
            out.push(s.clone());
        }
    };
    match base {
        None => ours.iter().chain(theirs).for_each(&mut push),
        Some(b) => {
            for s in ours {
                if theirs.contains(s) || !b.contains(s) {
                    push(s);
                }
            }
            for s in theirs {
                if !ours.contains(s) && !b.contains(s) {
                    push(s);
                }
            }
        }
    }
    out
}

/// Encrypt patterns: an empty list means "every value", so a side that
/// switched to it wins (it encrypts the most).
fn merge_patterns(base: Option<&[String]>, ours: &[String], theirs: &[String]) -> Vec<String> {
    let changed_to_all = |side: &[String]| side.is_empty() && base.is_some_and(|b| !b.is_empty());
    if ours == theirs {
        ours.to_vec()
    } else if changed_to_all(ours) || changed_to_all(theirs) {
        Vec::new()
    } else if base == Some(ours) {
        theirs.to_vec()
    } else if base == Some(theirs) {
        ours.to_vec()
    } else {
        merge_lists(base, ours, theirs)
    }
}

fn recipient_texts(w: &[WrappedKey]) -> Vec<String> {
    w.iter().map(|r| r.recipient.clone()).collect()
}

fn same_key(a: &DataKey, b: &DataKey) -> bool {
    a.expose() == b.expose()
}

/// Open one input: sealed, or plaintext (a file sealed after the common
/// ancestor), or unreadable (`None`, only allowed for the ancestor).
enum Version {
    Sealed(Box<Opened>),
    Plain(Zeroizing<String>),
}

impl Version {
    fn plaintext(&self) -> &str {
        match self {
            Version::Sealed(o) => &o.plaintext,
            Version::Plain(p) => p,
        }
    }

    fn opened(&self) -> Option<&Opened> {
        match self {
            Version::Sealed(o) => Some(o),
            Version::Plain(_) => None,
        }
    }
}

fn open_side(
    format: Format,
    text: &str,
    identities: &Identities,
    side: Side,
) -> Result<Version, MergeError> {
    if format.is_sealed(text) {
        document::open(format, text, identities)
            .map(|o| Version::Sealed(Box::new(o)))
            .map_err(|error| MergeError::Open { side, error })
    } else {
        Err(MergeError::Mixed { side })
    }
}

/// Merge three sealed versions of a document.
pub fn merge(
    format: Format,
    inputs: &Inputs<'_>,
    identities: &Identities,
    policy: &Policy,
) -> Result<Merged, MergeError> {
    let mut notes = Vec::new();
    let ours = open_side(format, inputs.ours, identities, Side::Ours)?;
    let theirs = open_side(format, inputs.theirs, identities, Side::Theirs)?;
    let (Some(o), Some(t)) = (ours.opened(), theirs.opened()) else {
        return Err(MergeError::Build(BuildError::NotOpen));
    };

    // The ancestor: sealed (open it), plaintext (it was sealed later), or
    // absent. Its recipients are readable without a key.
    let mut base_recipients: Option<Vec<String>> = None;
    let mut base_encrypt: Option<Vec<String>> = None;
    let mut base_pending: Option<Vec<Pending>> = None;
    let base: Option<Version> = match inputs.base {
        None => None,
        Some(text) if format.is_sealed(text) => {
            if let Ok(i) = document::inspect(format, text) {
                base_recipients = Some(recipient_texts(&i.metadata.recipients));
                base_encrypt = Some(i.metadata.encrypt.clone());
                base_pending = Some(i.metadata.pending.clone());
            }
            match document::open(format, text, identities) {
                Ok(opened) => Some(Version::Sealed(Box::new(opened))),
                Err(error @ (DocError::Unwrap(_) | DocError::NoWrappedKeys)) => {
                    notes.push(format!(
                        "the common ancestor cannot be opened ({error}); values removed on one side are kept"
                    ));
                    None
                }
                Err(error) => {
                    return Err(MergeError::Open {
                        side: Side::Base,
                        error,
                    })
                }
            }
        }
        Some(text) => match format.scan(text) {
            Ok(_) => Some(Version::Plain(Zeroizing::new(text.to_owned()))),
            Err(_) => None,
        },
    };
    let base_text = base.as_ref().map(Version::plaintext).unwrap_or("");

    let (plaintext, replacements, conflicts, layout_clean) =
        merge_plaintext(format, base_text, &o.plaintext, &t.plaintext)
            .map_err(MergeError::Build)?;
    let layout_conflict = !layout_clean;
    if layout_conflict {
        notes.push(
            "lines that are not values (comments, keys or layout) were changed differently on both sides; ours were kept".to_owned(),
        );
    }

    // Who the result is sealed for, and what is encrypted: as `.seal.yaml`
    // says when the caller knows the merged policy, else what each side did
    // to the file since the ancestor, merged.
    let ours_r = recipient_texts(&o.metadata.recipients);
    let theirs_r = recipient_texts(&t.metadata.recipients);
    let recipients = match &policy.recipients {
        Some(r) => r.clone(),
        None => merge_lists(base_recipients.as_deref(), &ours_r, &theirs_r),
    };
    if recipients.is_empty() {
        return Err(MergeError::Seal(DocError::NoRecipients));
    }
    let encrypt = match &policy.encrypt {
        Some(e) => e.clone(),
        None => merge_patterns(
            base_encrypt.as_deref(),
            &o.metadata.encrypt,
            &t.metadata.encrypt,
        ),
    };

    // Which data key: one may be kept only if everyone who ever held it is
    // still a recipient, and never a key that one side rotated away from.
    let base_opened = base.as_ref().and_then(Version::opened);
    let (od, td) = (
        o.data_key().map_err(MergeError::Seal)?,
        t.data_key().map_err(MergeError::Seal)?,
    );
    let versions: Vec<&Opened> = [Some(o), Some(t), base_opened]
        .into_iter()
        .flatten()
        .collect();
    let retired = base_opened
        .and_then(|b| b.data_key().ok())
        .filter(|b| !same_key(b, od) || !same_key(b, td));
    let holders = |key: &DataKey| -> HashSet<&str> {
        versions
            .iter()
            .filter(|v| v.data_key().is_ok_and(|k| same_key(k, key)))
            .flat_map(|v| v.metadata.recipients.iter().map(|r| r.recipient.as_str()))
            .collect()
    };
    let keepable = |key: &DataKey| {
        retired.is_none_or(|r| !same_key(r, key))
            && holders(key)
                .iter()
                .all(|h| recipients.iter().any(|r| r == h))
    };
    let fresh;
    let key: &DataKey = if keepable(od) {
        od
    } else if keepable(td) {
        td
    } else {
        fresh = DataKey::generate();
        notes.push("a recipient was removed or the data key was rotated: the merged file has a new data key".into());
        &fresh
    };
    let with_key: Vec<&Opened> = versions
        .iter()
        .copied()
        .filter(|v| v.data_key().is_ok_and(|k| same_key(k, key)))
        .collect();
    let mut wrapped = Vec::with_capacity(recipients.len());
    for r in &recipients {
        let existing = with_key
            .iter()
            .flat_map(|v| v.metadata.recipients.iter())
            .find(|w| &w.recipient == r);
        match existing {
            Some(w) => wrapped.push(w.clone()),
            None => {
                let parsed = Recipient::parse(r).map_err(|e| MergeError::Seal(e.into()))?;
                wrapped.push(parsed.wrap(key).map_err(|e| MergeError::Seal(e.into()))?);
            }
        }
    }

    let pending = merge_pending(
        base_pending.as_deref(),
        &o.metadata.pending,
        &t.metadata.pending,
    )?;

    // A result identical to one side is that side, byte for byte.
    if conflicts.is_empty() {
        for side in [o, t] {
            if same_key(side.data_key().map_err(MergeError::Seal)?, key)
                && side.metadata.recipients == wrapped
                && side.metadata.encrypt == encrypt
                && side.metadata.pending == pending
                && side.plaintext.as_str() == plaintext.as_str()
            {
                return Ok(Merged {
                    sealed: side.sealed_text().to_owned(),
                    conflicts,
                    layout_conflict,
                    notes,
                });
            }
        }
    }

    // Each value keeps the date of the side it came from.
    let prior = [o.prior_dates(), t.prior_dates()];
    let plan = if o.metadata.groups.is_empty() && t.metadata.groups.is_empty() {
        SealPlan::new(key, wrapped, &encrypt, &prior, pending)
    } else {
        // Key groups merge value by value when both sides have the same
        // groups under the same keys; a locked scope (one this merger
        // cannot open) must come whole from one side, with its MAC.
        let definition = |v: &Opened| -> Vec<_> {
            v.metadata
                .groups
                .iter()
                .map(|g| (g.name.clone(), g.keys.clone(), g.recipients.clone()))
                .collect()
        };
        if !same_key(key, od) || !o.keys.same(&t.keys) || definition(o) != definition(t) {
            return Err(MergeError::Groups);
        }
        let mut plan = o
            .plan(o.keys.clone(), wrapped, &encrypt, &prior, pending)
            .map_err(MergeError::Seal)?;
        plan.locked.extend(t.locked_scopes().iter().cloned());
        plan
    };
    let sealed = document::seal_replacing(
        format,
        &plaintext,
        &plan,
        |path, text| with_key.iter().find_map(|v| v.token_for(path, text)),
        &replacements,
    )
    .map_err(MergeError::Seal)?;
    Ok(Merged {
        sealed,
        conflicts,
        layout_conflict,
        notes,
    })
}

/// The pending values (spec section 13) of the merge: each side's, less
/// those the ancestor had and a side folded or replaced. Two sides that
/// added different values at one path cannot both be kept.
fn merge_pending(
    base: Option<&[Pending]>,
    ours: &[Pending],
    theirs: &[Pending],
) -> Result<Vec<Pending>, MergeError> {
    let in_base = |p: &Pending| base.is_some_and(|b| b.contains(p));
    let kept = |p: &&Pending, other: &[Pending]| !in_base(p) || other.contains(p);
    let mut out: Vec<Pending> = ours.iter().filter(|p| kept(p, theirs)).cloned().collect();
    for p in theirs.iter().filter(|p| kept(p, ours)) {
        match out.iter().find(|q| q.path == p.path) {
            Some(q) if q == p => {}
            Some(_) => return Err(MergeError::Pending(p.path.clone())),
            None => out.push(p.clone()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pend(path: &str, value: &str) -> Pending {
        Pending {
            path: path.into(),
            value: value.into(),
        }
    }

    #[test]
    fn pending_values_merge_by_what_each_side_did() {
        let (a, b, c) = (pend("/a", "1"), pend("/b", "2"), pend("/c", "3"));
        let (only_a, only_b, only_c) = (vec![a.clone()], vec![b.clone()], vec![c.clone()]);
        // Both sides added one: both kept, ours first.
        let both = merge_pending(Some(&[]), &only_a, &only_b).unwrap();
        assert_eq!(both, vec![a.clone(), b]);
        // The ancestor's entry that one side folded in is gone.
        let folded = merge_pending(Some(&only_c), &[], &[c, a.clone()]).unwrap();
        assert_eq!(folded, only_a);
        // The same addition on both sides is kept once; different values
        // at one path cannot be merged.
        assert_eq!(merge_pending(None, &only_a, &only_a).unwrap(), only_a);
        let clash = merge_pending(None, &only_a, &[pend("/a", "other")]);
        assert!(matches!(clash, Err(MergeError::Pending(p)) if p == "/a"));
    }

    #[test]
    fn line_merge_combines_and_prefers_ours_on_conflict() {
        let base = "a\nb\nc\nd\ne\n";
        let m = line_merge(base, "A\nb\nc\nd\ne\n", "a\nb\nc\nd\nE\n");
        assert!(m.clean);
        assert_eq!(m.text.as_str(), "A\nb\nc\nd\nE\n");
        let m = line_merge(base, "a\nB1\nc\nd\ne\n", "a\nB2\nc\nd\ne\n");
        assert!(!m.clean);
        assert_eq!(m.text.as_str(), "a\nB1\nc\nd\ne\n");
        // No final line break is kept as it is.
        let m = line_merge("x\ny", "x\ny", "X\ny");
        assert_eq!(m.text.as_str(), "X\ny");
    }

    #[test]
    fn marker_detection() {
        let block = conflict_block(Some("a"), None, "\n");
        let doc = format!("k: {}\nz: 1\n", block.as_str());
        assert_eq!(conflict_marker_line(&doc), Some(1));
        assert!(doc.contains(REMOVED));
        assert_eq!(conflict_marker_line("a: 1\n=======\n>>>>>>> x\n"), None);
        assert_eq!(conflict_marker_line("a: <<<<<<< x\n"), None);
        let crlf = format!(
            "x: 1\r\ny: {}\r\n",
            conflict_block(Some("1"), Some("2"), "\r\n").as_str()
        );
        assert_eq!(conflict_marker_line(&crlf), Some(2));
    }

    #[test]
    fn list_merge_is_three_way() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_lists(Some(&s(&["a", "b"])), &s(&["a", "b", "c"]), &s(&["a"])),
            s(&["a", "c"])
        );
        assert_eq!(
            merge_lists(None, &s(&["a"]), &s(&["b", "a"])),
            s(&["a", "b"])
        );
        assert_eq!(
            merge_patterns(Some(&s(&["x.*"])), &s(&[]), &s(&["x.*", "y.*"])),
            Vec::<String>::new()
        );
        assert_eq!(
            merge_patterns(Some(&s(&["x.*"])), &s(&["x.*"]), &s(&["y.*"])),
            s(&["y.*"])
        );
    }

    /// Only lines that hold no value can conflict on their own: a comment
    /// changed on both sides does; values and keys changed next to each
    /// other do not (the value merge settles them).
    #[test]
    fn layout_conflicts_are_told_from_value_changes() {
        let base = "# owner: team\na: 1\nb: 2\n";
        let clean =
            |ours: &str, theirs: &str| merge_plaintext(Format::Yaml, base, ours, theirs).unwrap().3;
        assert!(clean(
            "# owner: team\na: 10\nb: 2\n",
            "# owner: team\na: 1\nb: 20\n"
        ));
        assert!(clean(
            "# owner: team\na: 1\nb: 2\nc: 3\n",
            "# owner: team\na: 1\n"
        ));
        assert!(clean(
            "# owner: ours\na: 1\nb: 2\n",
            "# owner: team\na: 1\nb: 20\n"
        ));
        assert!(!clean(
            "# owner: ours\na: 1\nb: 2\n",
            "# owner: theirs\na: 1\nb: 2\n"
        ));
        assert_eq!(
            skeleton(Format::Yaml, "# c\nm:\n  k: |\n    x\n    y\n# d\nz:")
                .unwrap()
                .as_str(),
            "# c\nm:\n# d\n"
        );
    }
}
