//! In-place edits for `seal set` and `seal rm`: each finds the entry in
//! the tree and splices only its bytes, so comments, anchors and layout
//! elsewhere survive. New entries follow the indentation around them.

use std::ops::Range;

use crate::format::common::{checked_splice, parse_index};
use crate::format::{line_ending, EditError};
use crate::metadata::RESERVED_KEY;
use crate::path::PathQuery;

use super::spans::{
    after_break, break_before, col_of, line_end, line_start, skip_space, value_indicator,
};
use super::tree::{build_tree, Kind, Node, Tree};
use super::{is_reserved_word, quote};

pub(super) fn set_value(src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
    let tree = build_tree(src)?;
    let le = line_ending(src);
    let segs = &path.segments;
    if segs.is_empty() {
        return Err(EditError::NotFound(path.to_string()));
    }
    let root = match tree.docs.get(path.doc) {
        None if path.doc == tree.docs.len() && (path.doc == 0 || tree.docs.is_empty()) => {
            // An empty stream (or comments only): start the document.
            let text = block_entries(segs, literal, 0, le);
            let sep = if src.is_empty() || src.ends_with('\n') {
                ""
            } else {
                le
            };
            return Ok(format!("{src}{sep}{text}{le}"));
        }
        None => return Err(EditError::NotFound(path.to_string())),
        Some(doc) => match &doc.root {
            Some(root) if !matches!(root.kind, Kind::Empty { .. }) => root,
            _ => {
                if path.doc + 1 != tree.docs.len() {
                    return Err(EditError::Unsupported(format!(
                        "cannot add {path}: its YAML document is empty and not the last one"
                    )));
                }
                let text = block_entries(segs, literal, 0, le);
                return Ok(match doc.end_marker {
                    Some(at) => checked_splice(src, at..at, &format!("{text}{le}"))?,
                    None => {
                        let sep = if src.ends_with('\n') { "" } else { le };
                        format!("{src}{sep}{text}{le}")
                    }
                });
            }
        },
    };

    let mut node = root;
    let mut owner_col = 0usize;
    for (i, seg) in segs.iter().enumerate() {
        let here = || {
            PathQuery {
                doc: path.doc,
                segments: segs[..i].to_vec(),
            }
            .to_string()
        };
        match &node.kind {
            Kind::Map { entries, .. } => {
                if let Some(e) = entries.iter().find(|e| e.key == *seg) {
                    owner_col = col_of(src, e.key_start);
                    node = &e.value;
                    continue;
                }
                return insert_into_map(src, &tree, node, &segs[i..], literal, le, path);
            }
            Kind::Seq { items, .. } => {
                let idx = parse_index(seg).ok_or_else(|| EditError::NotFound(path.to_string()))?;
                if let Some(item) = items.get(idx) {
                    owner_col = item.dash.map_or(owner_col, |d| col_of(src, d));
                    node = &item.node;
                    continue;
                }
                if idx == items.len() {
                    return append_to_seq(src, node, &segs[i + 1..], literal, le);
                }
                return Err(EditError::NotFound(path.to_string()));
            }
            Kind::Empty { pos, bare, flow } => {
                if *bare {
                    return Err(EditError::Unsupported(format!(
                        "cannot add a mapping under {}",
                        here()
                    )));
                }
                let text = if *flow {
                    format!(" {{{}}}", flow_entries(&segs[i..], literal))
                } else {
                    format!(
                        "{le}{}",
                        block_entries(&segs[i..], literal, owner_col + 2, le)
                    )
                };
                return replace_to_eol(src, *pos, &text);
            }
            Kind::Alias { span, .. } => return Err(through_alias(src, span, &here())),
            Kind::Scalar { .. } => {
                return Err(EditError::NotAContainer(here(), path.to_string()));
            }
        }
    }
    match &node.kind {
        Kind::Scalar { span, .. } | Kind::Alias { span, .. } => {
            Ok(checked_splice(src, span.clone(), literal)?)
        }
        Kind::Empty {
            pos, bare: true, ..
        } => Ok(checked_splice(src, *pos..*pos, &format!(": {literal}"))?),
        Kind::Empty { pos, .. } => replace_to_eol(src, *pos, &format!(" {literal}")),
        Kind::Map { .. } | Kind::Seq { .. } => Err(EditError::NotALeaf(path.to_string())),
    }
}

/// A path that goes through an alias: the values there are the anchored
/// node's, which is where they are changed.
fn through_alias(src: &str, span: &Range<usize>, here: &str) -> EditError {
    let alias = src.get(span.clone()).unwrap_or("*");
    let anchor = alias.trim_start_matches('*');
    EditError::Unsupported(format!(
        "{here} is an alias (`{alias}`): change the values where `&{anchor}` is written, or replace the alias itself by setting {here}"
    ))
}

pub(super) fn remove_value(src: &str, path: &PathQuery) -> Result<String, EditError> {
    let tree = build_tree(src)?;
    let not_found = || EditError::NotFound(path.to_string());
    let root = tree
        .docs
        .get(path.doc)
        .and_then(|d| d.root.as_ref())
        .ok_or_else(not_found)?;
    let (last, parents) = path.segments.split_last().ok_or_else(not_found)?;
    // `head` is where a value of `parent` would be written after its
    // indicator: used to turn an emptied block collection into `{}`/`[]`.
    let mut parent = root;
    let mut head: Option<usize> = None;
    for (i, seg) in parents.iter().enumerate() {
        if let Kind::Alias { span, .. } = &parent.kind {
            let here = PathQuery {
                doc: path.doc,
                segments: parents[..i].to_vec(),
            };
            return Err(through_alias(src, span, &here.to_string()));
        }
        let (next, next_head) = child(src, parent, seg).ok_or_else(not_found)?;
        parent = next;
        head = next_head;
    }
    if let Kind::Alias { span, .. } = &parent.kind {
        let here = PathQuery {
            doc: path.doc,
            segments: parents.to_vec(),
        };
        return Err(through_alias(src, span, &here.to_string()));
    }
    let cut = |r: Range<usize>| checked_splice(src, r, "");
    match &parent.kind {
        Kind::Map { flow, entries, .. } => {
            let j = entries
                .iter()
                .position(|e| e.key == *last)
                .ok_or_else(not_found)?;
            let starts: Vec<usize> = entries.iter().map(|e| e.start).collect();
            let ends: Vec<usize> = entries.iter().map(|e| e.value.end).collect();
            if *flow {
                return cut(flow_removal(src, &starts, &ends, j));
            }
            if entries.len() == 1 {
                return empty_block(src, parent, head, "{}");
            }
            cut(block_removal(src, &starts, &ends, j))
        }
        Kind::Seq { flow, items, .. } => {
            let j = parse_index(last)
                .filter(|&j| j < items.len())
                .ok_or_else(not_found)?;
            let ends: Vec<usize> = items.iter().map(|i| i.node.end).collect();
            if *flow {
                let starts: Vec<usize> = items.iter().map(|i| i.node.start).collect();
                return cut(flow_removal(src, &starts, &ends, j));
            }
            if items.len() == 1 {
                return empty_block(src, parent, head, "[]");
            }
            let starts = items
                .iter()
                .map(|i| i.dash)
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| {
                    EditError::Unsupported(format!("cannot locate the item {path} in the source"))
                })?;
            cut(block_removal(src, &starts, &ends, j))
        }
        _ => Err(not_found()),
    }
}

pub(super) fn part(src: &str, r: Range<usize>) -> Result<&str, EditError> {
    src.get(r).ok_or_else(|| {
        EditError::Unsupported("internal error: edit position inside a character".to_owned())
    })
}

/// Insert `text` at `at`, dropping whitespace that would trail it.
fn replace_to_eol(src: &str, at: usize, text: &str) -> Result<String, EditError> {
    let b = src.as_bytes();
    let eol = line_end(b, at);
    let rest_blank = b
        .get(at..eol)
        .is_some_and(|r| r.iter().all(|&c| c == b' ' || c == b'\t'));
    checked_splice(src, at..if rest_blank { eol } else { at }, text)
}

fn key_text(key: &str) -> String {
    let mut chars = key.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !is_reserved_word(key);
    if plain {
        key.to_owned()
    } else {
        quote(key)
    }
}

/// `k1:\n  k2: literal` at `indent`, without a final line break.
fn block_entries(segs: &[String], literal: &str, indent: usize, le: &str) -> String {
    let mut out = String::new();
    for (i, seg) in segs.iter().enumerate() {
        if i > 0 {
            out.push_str(le);
        }
        out.push_str(&" ".repeat(indent + 2 * i));
        out.push_str(&key_text(seg));
        out.push(':');
    }
    out.push(' ');
    out.push_str(literal);
    out
}

fn flow_entries(segs: &[String], literal: &str) -> String {
    match segs.split_first() {
        None => literal.to_owned(),
        Some((k, [])) => format!("{}: {literal}", key_text(k)),
        Some((k, rest)) => format!("{}: {{{}}}", key_text(k), flow_entries(rest, literal)),
    }
}

fn insert_into_map(
    src: &str,
    tree: &Tree,
    map: &Node,
    segs: &[String],
    literal: &str,
    le: &str,
    path: &PathQuery,
) -> Result<String, EditError> {
    let Kind::Map {
        flow,
        pair,
        open,
        entries,
    } = &map.kind
    else {
        return Err(EditError::NotFound(path.to_string()));
    };
    if *pair {
        return Err(EditError::Unsupported(format!(
            "cannot add {path} to a single-pair mapping inside a flow sequence"
        )));
    }
    if *flow {
        return match entries.last() {
            Some(last) => checked_splice(
                src,
                last.value.end..last.value.end,
                &format!(", {}", flow_entries(segs, literal)),
            ),
            None => checked_splice(src, open + 1..open + 1, &flow_entries(segs, literal)),
        };
    }
    let Some(first) = entries.first() else {
        return Err(EditError::NotFound(path.to_string()));
    };
    let indent = col_of(src, first.key_start);
    let b = src.as_bytes();
    // New top-level keys go before the metadata entry, which stays last.
    let is_root_of_last = tree
        .docs
        .last()
        .and_then(|d| d.root.as_ref())
        .is_some_and(|r| std::ptr::eq(r, map));
    let meta = entries
        .last()
        .filter(|e| is_root_of_last && e.key == RESERVED_KEY && entries.len() > 1);
    if segs.first().is_some_and(|s| s == RESERVED_KEY) && is_root_of_last {
        return Err(EditError::Unsupported(format!(
            "`{RESERVED_KEY}` is reserved for seal's metadata"
        )));
    }
    let text = block_entries(segs, literal, indent, le);
    if let Some(m) = meta {
        let at = line_start(src, m.start);
        return checked_splice(src, at..at, &format!("{text}{le}"));
    }
    let last = entries.last().map_or(first.value.end, |e| e.value.end);
    match after_break(b, last) {
        Some(at) => checked_splice(src, at..at, &format!("{text}{le}")),
        None => Ok(format!("{src}{le}{text}")),
    }
}

fn append_to_seq(
    src: &str,
    seq: &Node,
    segs: &[String],
    literal: &str,
    le: &str,
) -> Result<String, EditError> {
    let Kind::Seq { flow, open, items } = &seq.kind else {
        return Err(EditError::Unsupported("not a sequence".to_owned()));
    };
    if *flow {
        let value = if segs.is_empty() {
            literal.to_owned()
        } else {
            format!("{{{}}}", flow_entries(segs, literal))
        };
        return match items.last() {
            Some(last) => checked_splice(src, last.node.end..last.node.end, &format!(", {value}")),
            None => checked_splice(src, open + 1..open + 1, &value),
        };
    }
    let dash = items.first().and_then(|i| i.dash).ok_or_else(|| {
        EditError::Unsupported("cannot locate the sequence's items in the source".to_owned())
    })?;
    let indent = col_of(src, dash);
    let value = if segs.is_empty() {
        literal.to_owned()
    } else {
        block_entries(segs, literal, indent + 2, le)
            .trim_start()
            .to_owned()
    };
    let text = format!("{}- {value}", " ".repeat(indent));
    let last = items.last().map_or(dash, |i| i.node.end);
    match after_break(src.as_bytes(), last) {
        Some(at) => checked_splice(src, at..at, &format!("{text}{le}")),
        None => Ok(format!("{src}{le}{text}")),
    }
}

/// The child named `seg` and where a value of it is written (see `head`).
fn child<'a>(src: &str, node: &'a Node, seg: &str) -> Option<(&'a Node, Option<usize>)> {
    match &node.kind {
        Kind::Map { entries, .. } => {
            let e = entries.iter().find(|e| e.key == seg)?;
            Some((&e.value, value_indicator(src.as_bytes(), e.key_end)))
        }
        Kind::Seq { items, .. } => {
            let item = items.get(parse_index(seg)?)?;
            Some((&item.node, item.dash.map(|d| d + 1)))
        }
        _ => None,
    }
}

/// Range removing entry `j` of a block collection, whole lines when possible.
fn block_removal(src: &str, starts: &[usize], ends: &[usize], j: usize) -> Range<usize> {
    let b = src.as_bytes();
    let start = starts[j];
    let ls = line_start(src, start);
    let own_line = b
        .get(ls..start)
        .is_some_and(|r| r.iter().all(|&c| c == b' ' || c == b'\t'));
    if own_line || j + 1 >= starts.len() {
        match after_break(b, ends[j]) {
            Some(end) => ls..end,
            None => ls - break_before(b, ls)..src.len(),
        }
    } else {
        // Compact first entry (`- a: 1`): keep the indicator before it.
        start..starts[j + 1]
    }
}

fn flow_removal(src: &str, starts: &[usize], ends: &[usize], j: usize) -> Range<usize> {
    let b = src.as_bytes();
    if j + 1 < starts.len() {
        starts[j]..starts[j + 1]
    } else if j > 0 {
        ends[j - 1]..ends[j]
    } else {
        let after = skip_space(b, ends[j]);
        if b.get(after) == Some(&b',') {
            starts[j]..after + 1
        } else {
            starts[j]..ends[j]
        }
    }
}

/// Replace a block collection losing its last entry by `{}` or `[]`.
fn empty_block(
    src: &str,
    node: &Node,
    head: Option<usize>,
    empty: &str,
) -> Result<String, EditError> {
    let open = match &node.kind {
        Kind::Map { open, .. } | Kind::Seq { open, .. } => *open,
        _ => node.start,
    };
    match node.props_end.or(head) {
        Some(at) => checked_splice(src, at..node.end, &format!(" {empty}")),
        None => checked_splice(src, open..node.end, empty),
    }
}
