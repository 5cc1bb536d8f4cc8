//! Building the tree: saphyr-parser's events folded into nodes whose byte
//! ranges are located in the source (saphyr's markers are only hints).
//!
//! Anything whose position cannot be found exactly is refused rather than
//! guessed, because a wrong span would seal or edit the wrong bytes.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use zeroize::Zeroizing;

use crate::format::ParseError;

use super::spans::{
    close_bracket, col_of, dash_before, explicit_key_mark, flow_indent_ok, last_dash,
    props_end_from, scalar_span, tab_after_colon, trim_ws_end, value_indicator,
};

/// Deepest collection nesting accepted; keeps every later walk shallow.
const MAX_DEPTH: usize = 256;

#[derive(Debug)]
pub(super) struct Node {
    /// Start of the node's properties (anchor, tag) or of its content.
    pub(super) start: usize,
    /// End of the node's source text.
    pub(super) end: usize,
    /// End of the properties, when there are any.
    pub(super) props_end: Option<usize>,
    pub(super) kind: Kind,
}

#[derive(Debug)]
pub(super) enum Kind {
    Scalar {
        span: Range<usize>,
        value: Zeroizing<String>,
    },
    /// `bare`: no `:` was written (`? a`, `{a}`), so a value needs one.
    Empty {
        pos: usize,
        bare: bool,
        flow: bool,
    },
    Alias {
        span: Range<usize>,
        id: usize,
    },
    /// `open`: the `{` of a flow mapping, the first key of a block one.
    Map {
        flow: bool,
        pair: bool,
        open: usize,
        entries: Vec<Entry>,
    },
    Seq {
        flow: bool,
        open: usize,
        items: Vec<Item>,
    },
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) key: String,
    /// The `?` of an explicit key, else the key node's start.
    pub(super) start: usize,
    pub(super) key_start: usize,
    pub(super) key_end: usize,
    pub(super) value: Node,
}

#[derive(Debug)]
pub(super) struct Item {
    /// The `-` of a block sequence item, when it could be located.
    pub(super) dash: Option<usize>,
    pub(super) node: Node,
}

#[derive(Debug)]
pub(super) struct Doc {
    pub(super) root: Option<Node>,
    /// Byte offset of an explicit `...` ending the document.
    pub(super) end_marker: Option<usize>,
}

pub(super) struct Tree {
    pub(super) docs: Vec<Doc>,
    /// Values of anchored scalars, by anchor id.
    pub(super) anchors: HashMap<usize, Zeroizing<String>>,
}

pub(super) enum Frame {
    Map {
        start: usize,
        props_end: Option<usize>,
        flow: bool,
        pair: bool,
        open: usize,
        entries: Vec<Entry>,
        key: Option<(String, usize, usize, usize)>,
        seen: HashSet<String>,
        /// Column of a block mapping's keys, once known.
        col: Option<usize>,
    },
    Seq {
        start: usize,
        props_end: Option<usize>,
        flow: bool,
        open: usize,
        items: Vec<Item>,
        /// Column of a block sequence's `-`, once known.
        col: Option<usize>,
    },
}

enum Role {
    Root,
    Key,
    MapValue,
    SeqItem,
}

/// Character index to byte offset (saphyr markers count characters).
struct Offsets {
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(src: &str) -> Self {
        let table = (!src.is_ascii()).then(|| {
            let mut t: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
            t.push(src.len());
            t
        });
        Offsets {
            table,
            len: src.len(),
        }
    }

    fn byte(&self, index: usize) -> usize {
        match &self.table {
            None => index.min(self.len),
            Some(t) => t.get(index).copied().unwrap_or(self.len),
        }
    }
}

fn scan_error(src: &str, off: &Offsets, e: &ScanError) -> ParseError {
    // The one dynamic saphyr message quotes a character of the input.
    let info = e.info();
    let message = if info.starts_with("unexpected character") {
        "unexpected character"
    } else {
        info
    };
    ParseError::at(src, off.byte(e.marker().index()), message)
}

fn internal(src: &str, at: usize) -> ParseError {
    ParseError::at(
        src,
        at,
        "cannot locate this value in the source (unsupported YAML layout)",
    )
}

/// saphyr-parser's character positions skip the non-ASCII characters of a
/// directive it does not know (`%FOO bär`), which would shift every span
/// after it; such directives are refused instead (found by fuzzing).
fn check_directives(src: &str) -> Result<(), ParseError> {
    let mut at = 0;
    for line in src.split_inclusive('\n') {
        if line.starts_with('%') && !line.is_ascii() {
            return Err(ParseError::at(
                src,
                at,
                "a directive with non-ASCII characters is not supported",
            ));
        }
        at += line.len();
    }
    Ok(())
}

pub(super) fn build_tree(src: &str) -> Result<Tree, ParseError> {
    check_directives(src)?;
    let off = Offsets::new(src);
    let b = src.as_bytes();
    let mut parser = Parser::new_from_str(src);
    let mut docs = Vec::new();
    let mut doc: Option<Doc> = None;
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors = HashMap::new();
    let mut cursor = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| scan_error(src, &off, &e))?;
        let s = off.byte(span.start.index());
        let e = off.byte(span.end.index()).max(s);
        let in_flow = match stack.last() {
            Some(Frame::Map { flow, .. }) | Some(Frame::Seq { flow, .. }) => *flow,
            None => false,
        };
        let role = match stack.last() {
            None => Role::Root,
            Some(Frame::Map { key: None, .. }) => Role::Key,
            Some(Frame::Map { .. }) => Role::MapValue,
            Some(Frame::Seq { .. }) => Role::SeqItem,
        };
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(explicit) => {
                if explicit && b.get(s..s + 3) == Some(b"---") {
                    cursor = cursor.max(s + 3);
                }
                doc = Some(Doc {
                    root: None,
                    end_marker: None,
                });
            }
            Event::DocumentEnd => {
                let mut d = doc.take().ok_or_else(|| internal(src, s))?;
                if b.get(s..s + 3) == Some(b"...") {
                    d.end_marker = Some(s);
                    cursor = cursor.max(s + 3);
                }
                docs.push(d);
            }
            Event::Alias(id) => {
                if matches!(role, Role::Key) {
                    return Err(ParseError::at(
                        src,
                        s,
                        "an alias used as a mapping key is not supported",
                    ));
                }
                if b.get(s) != Some(&b'*') || s < cursor {
                    return Err(internal(src, s));
                }
                let end = trim_ws_end(b, s, e);
                cursor = end;
                let node = Node {
                    start: s,
                    end,
                    props_end: None,
                    kind: Kind::Alias { span: s..end, id },
                };
                deliver(src, b, &mut stack, &mut doc, node)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let has_props = anchor != 0 || tag.is_some();
                let props_end = if has_props {
                    Some(props_end_from(b, s, in_flow).ok_or_else(|| internal(src, s))?)
                } else {
                    None
                };
                let node = if value.is_empty() && style == ScalarStyle::Plain {
                    let (pos, bare) = match (props_end, role) {
                        (Some(p), _) => (p, false),
                        (None, Role::MapValue) => {
                            value_indicator(b, cursor).map_or((cursor, true), |p| (p, false))
                        }
                        (None, Role::SeqItem) => {
                            (last_dash(b, cursor, e.max(cursor)).unwrap_or(cursor), false)
                        }
                        (None, _) => (cursor, false),
                    };
                    cursor = cursor.max(pos);
                    Node {
                        start: if has_props { s } else { pos },
                        end: pos,
                        props_end,
                        kind: Kind::Empty {
                            pos,
                            bare,
                            flow: in_flow,
                        },
                    }
                } else {
                    let span = scalar_span(b, style, s, e, props_end, cursor, in_flow)
                        .ok_or_else(|| internal(src, s))?;
                    if span.start < cursor
                        || !src.is_char_boundary(span.start)
                        || !src.is_char_boundary(span.end)
                    {
                        return Err(internal(src, s));
                    }
                    if !matches!(role, Role::Key) && tab_after_colon(b, span.start) {
                        // saphyr refuses `:<tab>plain`, so a token could not
                        // stand where this quoted or block scalar is.
                        return Err(ParseError::at(
                            src,
                            span.start,
                            "a tab between ':' and a quoted or block value is not supported; use a space",
                        ));
                    }
                    if in_flow
                        && style != ScalarStyle::Plain
                        && !flow_indent_ok(src, b, &stack, span.start)
                    {
                        // saphyr refuses a plain scalar there, so a token could
                        // not stand where this quoted scalar is.
                        return Err(ParseError::at(
                            src,
                            span.start,
                            "a quoted value inside a flow collection must be indented more than the enclosing block",
                        ));
                    }
                    cursor = span.end;
                    Node {
                        start: if has_props { s } else { span.start },
                        end: span.end,
                        props_end,
                        kind: Kind::Scalar {
                            span,
                            value: Zeroizing::new(value.into_owned()),
                        },
                    }
                };
                if anchor != 0 {
                    match &node.kind {
                        Kind::Scalar { value, .. } => {
                            anchors.insert(anchor, value.clone());
                        }
                        _ => {
                            anchors.insert(anchor, Zeroizing::new(String::new()));
                        }
                    }
                }
                deliver(src, b, &mut stack, &mut doc, node)?;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if matches!(role, Role::Key) {
                    return Err(ParseError::at(
                        src,
                        s,
                        "unsupported complex key (a mapping or sequence used as a key)",
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::at(
                        src,
                        s,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    ));
                }
                let bracket = if is_map { b'{' } else { b'[' };
                let flow = e > s && b.get(e - 1) == Some(&bracket);
                let pair = is_map && !flow && in_flow;
                let props_end = if (anchor != 0 || tag.is_some()) && !pair {
                    Some(props_end_from(b, s, in_flow).ok_or_else(|| internal(src, s))?)
                } else {
                    None
                };
                let open = if flow {
                    cursor = cursor.max(e);
                    e - 1
                } else {
                    s
                };
                let start = if props_end.is_some() || flow {
                    s
                } else {
                    usize::MAX
                };
                stack.push(if is_map {
                    Frame::Map {
                        start,
                        props_end,
                        flow: flow || pair,
                        pair,
                        open,
                        entries: Vec::new(),
                        key: None,
                        seen: HashSet::new(),
                        col: None,
                    }
                } else {
                    Frame::Seq {
                        start,
                        props_end,
                        flow,
                        open,
                        items: Vec::new(),
                        col: None,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().ok_or_else(|| internal(src, s))?;
                let node = match frame {
                    Frame::Map {
                        start,
                        props_end,
                        flow,
                        pair,
                        open,
                        entries,
                        ..
                    } => {
                        let first = entries.first().map_or(s, |en| en.start);
                        let last = entries.last().map_or(first, |en| en.value.end);
                        let end = if flow && !pair {
                            close_bracket(b, cursor, b'}').ok_or_else(|| internal(src, s))?
                        } else {
                            last
                        };
                        cursor = cursor.max(end);
                        let open = if flow && !pair { open } else { first };
                        let start = if start == usize::MAX { first } else { start };
                        Node {
                            start,
                            end,
                            props_end,
                            kind: Kind::Map {
                                flow,
                                pair,
                                open,
                                entries,
                            },
                        }
                    }
                    Frame::Seq {
                        start,
                        props_end,
                        flow,
                        open,
                        items,
                        ..
                    } => {
                        let first = items.first().map_or(s, |i| i.dash.unwrap_or(i.node.start));
                        let last = items.last().map_or(first, |i| i.node.end);
                        let end = if flow {
                            close_bracket(b, cursor, b']').ok_or_else(|| internal(src, s))?
                        } else {
                            last
                        };
                        cursor = cursor.max(end);
                        let open = if flow { open } else { first };
                        let start = if start == usize::MAX { first } else { start };
                        Node {
                            start,
                            end,
                            props_end,
                            kind: Kind::Seq { flow, open, items },
                        }
                    }
                };
                deliver(src, b, &mut stack, &mut doc, node)?;
            }
        }
    }
    Ok(Tree { docs, anchors })
}

/// Hand a finished node to its parent.
fn deliver(
    src: &str,
    b: &[u8],
    stack: &mut [Frame],
    doc: &mut Option<Doc>,
    node: Node,
) -> Result<(), ParseError> {
    match stack.last_mut() {
        None => {
            let d = doc.as_mut().ok_or_else(|| internal(src, node.start))?;
            d.root = Some(node);
        }
        Some(Frame::Map {
            key,
            entries,
            seen,
            col,
            ..
        }) => match key.take() {
            None => {
                let (k, start, end) = match node.kind {
                    Kind::Scalar { value, span } => (value.to_string(), span.start, span.end),
                    Kind::Empty { pos, .. } => (String::new(), node.start.min(pos), pos),
                    _ => return Err(ParseError::at(src, node.start, "unsupported complex key")),
                };
                let entry_start =
                    explicit_key_mark(b, node.start.min(start)).unwrap_or(node.start.min(start));
                if col.is_none() {
                    *col = Some(col_of(src, entry_start));
                }
                if !seen.insert(k.clone()) {
                    return Err(ParseError::at(src, start, "duplicate mapping key"));
                }
                *key = Some((k, entry_start, start, end));
            }
            Some((k, start, key_start, key_end)) => {
                entries.push(Entry {
                    key: k,
                    start,
                    key_start,
                    key_end,
                    value: node,
                });
            }
        },
        Some(Frame::Seq {
            flow, items, col, ..
        }) => {
            let dash = if *flow {
                None
            } else {
                dash_before(b, node.start)
            };
            if let (None, Some(d)) = (*col, dash) {
                *col = Some(col_of(src, d));
            }
            items.push(Item { dash, node });
        }
    }
    Ok(())
}
