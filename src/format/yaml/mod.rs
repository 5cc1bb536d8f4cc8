//! YAML: value spans, the `seal` metadata entry and in-place edits.
//!
//! saphyr-parser validates the stream and gives the structure and semantic
//! values. Its span markers are only hints (quoted scalars run over trailing
//! comments, block scalars start at their content), so every span is located
//! again in the source and checked before it is reported.
//!
//! The work is done in stages, one file each:
//!
//! * `tree`: saphyr's events become a `Tree` of nodes whose byte
//!   ranges are exact, or the input is refused.
//! * `spans`: byte-level helpers `tree` uses to find where text really is.
//! * `metadata`: finding, checking, writing and attaching the `seal` entry.
//! * `edit`: `set` and `remove` on the tree, touching only the bytes of one
//!   entry.
//! * `typing`: what a scalar means as JSON, for `seal get`.
//! * `view`: the values a loader sees (aliases followed, merge keys
//!   resolved), for `get`, `exec`, `export` and `decrypt --extract`.
//!
//! This file ties them together: the [`Syntax`] impl, the walk over leaves
//! and the quoting of scalars every stage writes.

mod edit;
mod metadata;
mod spans;
#[cfg(test)]
mod tests;
mod tree;
mod typing;
mod view;

use zeroize::Zeroizing;

use crate::format::{common, EditError, Leaf, LeafKind, ParseError, Scan, Syntax, Typed};
use crate::metadata::Metadata;
use crate::path::{KeyPath, PathQuery, Segment};

use edit::{remove_value, set_value};
use metadata::{analyze, attach_metadata, Analysis};
use tree::{Kind, Node};
use typing::typed_values;

pub use typing::misfit_tag;

/// YAML, as saphyr-parser reads it (see the module docs).
pub struct Yaml;

impl Syntax for Yaml {
    fn scan(&self, src: &str) -> Result<Scan, ParseError> {
        scan(src)
    }

    fn values(&self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
        values(src)
    }

    fn typed_values(&self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
        typed_values(src)
    }

    fn located_values(
        &self,
        src: &str,
    ) -> Result<Vec<(KeyPath, usize, Zeroizing<String>)>, ParseError> {
        located_values(src)
    }

    fn attach_metadata(&self, body: &str, meta: &Metadata) -> Result<String, EditError> {
        attach_metadata(body, meta)
    }

    fn set_value(&self, src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
        set_value(src, path, literal)
    }

    fn remove_value(&self, src: &str, path: &PathQuery) -> Result<String, EditError> {
        remove_value(src, path)
    }

    fn string_literal(&self, value: &str) -> String {
        string_literal(value)
    }
}

fn scan(src: &str) -> Result<Scan, ParseError> {
    let analysis = analyze(src)?;
    let mut leaves = Vec::new();
    for_each_leaf(&analysis, |path, node| {
        let (span, kind) = match &node.kind {
            Kind::Scalar { span, .. } => (span.clone(), LeafKind::Scalar),
            Kind::Empty { pos, .. } => (*pos..*pos, LeafKind::Empty),
            Kind::Alias { span, .. } => (span.clone(), LeafKind::Alias),
            Kind::Map { .. } | Kind::Seq { .. } => return,
        };
        leaves.push(Leaf {
            path: path.clone(),
            span,
            kind,
        });
    });
    Ok(Scan {
        leaves,
        metadata: analysis.metadata,
    })
}

/// Values as a loader reads them: aliases followed and merge keys
/// resolved (see `view`).
fn values(src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
    Ok(located_values(src)?
        .into_iter()
        .map(|(path, _, value)| (path, value))
        .collect())
}

/// [`values`], each with where the text it shows starts.
#[allow(clippy::type_complexity)]
fn located_values(src: &str) -> Result<Vec<(KeyPath, usize, Zeroizing<String>)>, ParseError> {
    let analysis = analyze(src)?;
    let mut out = Vec::new();
    view::for_each_value(src, &analysis, |path, node| match &node.kind {
        Kind::Scalar { value, span } => out.push((path.clone(), span.start, value.clone())),
        Kind::Empty { pos, .. } => out.push((path.clone(), *pos, Zeroizing::new(String::new()))),
        Kind::Alias { .. } | Kind::Map { .. } | Kind::Seq { .. } => {}
    })?;
    Ok(out)
}

fn string_literal(value: &str) -> String {
    if plain_is_safe(value) {
        value.to_owned()
    } else {
        quote(value)
    }
}

fn for_each_leaf(analysis: &Analysis, mut f: impl FnMut(&KeyPath, &Node)) {
    let last = analysis.tree.docs.len().saturating_sub(1);
    for (d, doc) in analysis.tree.docs.iter().enumerate() {
        let Some(root) = &doc.root else { continue };
        if matches!(root.kind, Kind::Empty { .. }) {
            continue;
        }
        let mut path = KeyPath::new(d, Vec::new());
        let skip = if d == last { analysis.meta_entry } else { None };
        walk(root, &mut path, skip, &mut f);
    }
}

fn walk(node: &Node, path: &mut KeyPath, skip: Option<usize>, f: &mut impl FnMut(&KeyPath, &Node)) {
    match &node.kind {
        // An empty mapping or sequence is a value of its own (no leaves
        // below it); `scan` and `values` pass over it.
        Kind::Map { entries, .. } if entries.is_empty() => f(path, node),
        Kind::Seq { items, .. } if items.is_empty() => f(path, node),
        Kind::Map { entries, .. } => {
            for (i, e) in entries.iter().enumerate() {
                if skip == Some(i) {
                    continue;
                }
                path.segments.push(Segment::Key(e.key.clone()));
                walk(&e.value, path, None, f);
                path.segments.pop();
            }
        }
        Kind::Seq { items, .. } => {
            for (i, item) in items.iter().enumerate() {
                path.segments.push(Segment::Index(i));
                walk(&item.node, path, None, f);
                path.segments.pop();
            }
        }
        _ => f(path, node),
    }
}

/// Characters YAML allows unescaped.
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// A double-quoted scalar that is also a valid JSON string.
/// A double-quoted scalar. Unlike JSON's quoting (json.rs), this also
/// escapes the characters YAML does not allow unescaped (C1 controls,
/// U+FEFF, U+2028/2029).
fn quote(value: &str) -> String {
    common::double_quoted(value, |c, out| {
        match c {
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if !printable(c) || c.is_control() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            _ => return false,
        }
        true
    })
}

fn is_reserved_word(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "y" | "n" | "on" | "off" | "=" | "<<"
    ) || ([".inf", "-.inf", "+.inf", ".nan"].contains(&lower.as_str()))
}

/// Whether `value` written plain reads back as the same string in both
/// block and flow context, under YAML 1.1 and 1.2 resolution.
fn plain_is_safe(value: &str) -> bool {
    let bytes = value.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if is_reserved_word(value) || first == b' ' || last == b' ' || last == b':' {
        return false;
    }
    if b"-?:,[]{}#&*!|>'\"%@`.+".contains(&first) || first.is_ascii_digit() {
        // Numbers, timestamps, `.inf` and indicators all start this way.
        return false;
    }
    if value.contains(": ") || value.contains(" #") || value.contains(|c: char| ",[]{}".contains(c))
    {
        return false;
    }
    value
        .chars()
        .all(|c| printable(c) && !c.is_control() && c != '\t')
}
