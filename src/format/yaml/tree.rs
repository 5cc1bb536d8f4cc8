//! Building the tree: saphyr-parser's events folded into nodes whose byte
//! ranges are located in the source (saphyr's markers are only hints).
//!
//! Anything whose position cannot be found exactly is refused rather than
//! guessed, because a wrong span would seal or edit the wrong bytes.

use std::collections::HashSet;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use zeroize::Zeroizing;

use crate::format::ParseError;

use super::spans::{
    close_bracket, col_of, dash_before, explicit_key_mark, flow_indent_ok, last_dash,
    props_end_from, scalar_span, skip_end_markers, skip_space, tab_after_colon, trim_ws_end,
    value_indicator,
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
    /// saphyr's id of the anchor on this node (`&name`), 0 for none.
    pub(super) anchor: usize,
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
}

pub(super) enum Frame {
    Map {
        start: usize,
        props_end: Option<usize>,
        anchor: usize,
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
        anchor: usize,
        flow: bool,
        open: usize,
        items: Vec<Item>,
        /// Column of a block sequence's `-`, once known.
        col: Option<usize>,
    },
}

#[derive(Clone, Copy)]
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

/// Fold saphyr-parser's events into a [`Tree`], locating every node's text.
pub(super) fn build_tree(src: &str) -> Result<Tree, ParseError> {
    check_directives(src)?;
    let mut builder = Builder::new(src);
    let mut parser = Parser::new_from_str(src);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| scan_error(src, &builder.off, &e))?;
        let s = builder.off.byte(span.start.index());
        let e = builder.off.byte(span.end.index()).max(s);
        if !builder.event(event, s, e)? {
            break;
        }
    }
    Ok(Tree { docs: builder.docs })
}

/// Where an event stands: its byte range as saphyr reports it, and what
/// the enclosing collection expects there.
#[derive(Clone, Copy)]
struct At {
    s: usize,
    e: usize,
    in_flow: bool,
    role: Role,
}

/// The state of [`build_tree`] between events.
struct Builder<'s> {
    src: &'s str,
    b: &'s [u8],
    off: Offsets,
    docs: Vec<Doc>,
    doc: Option<Doc>,
    /// Collections opened and not yet closed, innermost last.
    stack: Vec<Frame>,
    /// Source before this offset belongs to nodes already built: a node's
    /// text is only searched for after it.
    cursor: usize,
}

impl<'s> Builder<'s> {
    fn new(src: &'s str) -> Self {
        Builder {
            src,
            b: src.as_bytes(),
            off: Offsets::new(src),
            docs: Vec::new(),
            doc: None,
            stack: Vec::new(),
            cursor: 0,
        }
    }

    /// Take one event; `false` at the end of the stream.
    fn event(&mut self, event: Event, s: usize, e: usize) -> Result<bool, ParseError> {
        let at = self.at(s, e);
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => return Ok(false),
            Event::DocumentStart(explicit) => self.document_start(explicit, s),
            Event::DocumentEnd => self.document_end(s)?,
            Event::Alias(id) => self.alias(at, id)?,
            Event::Scalar(value, style, anchor, tag) => {
                self.scalar(at, value.into_owned(), style, anchor, tag.is_some())?;
            }
            Event::SequenceStart(anchor, ref tag) => {
                self.open_collection(at, false, anchor, tag.is_some())?;
            }
            Event::MappingStart(anchor, ref tag) => {
                self.open_collection(at, true, anchor, tag.is_some())?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.close_collection(s)?,
        }
        Ok(true)
    }

    fn at(&self, s: usize, e: usize) -> At {
        let in_flow = match self.stack.last() {
            Some(Frame::Map { flow, .. }) | Some(Frame::Seq { flow, .. }) => *flow,
            None => false,
        };
        let role = match self.stack.last() {
            None => Role::Root,
            Some(Frame::Map { key: None, .. }) => Role::Key,
            Some(Frame::Map { .. }) => Role::MapValue,
            Some(Frame::Seq { .. }) => Role::SeqItem,
        };
        At {
            s,
            e,
            in_flow,
            role,
        }
    }

    fn document_start(&mut self, explicit: bool, s: usize) {
        if explicit && self.b.get(s..s + 3) == Some(b"---") {
            self.cursor = self.cursor.max(s + 3);
        } else {
            // A bare document's text may follow `...` markers that closed
            // no document (spec example 9.3), which saphyr reports no
            // event for: nodes are searched for after them.
            self.cursor = self
                .cursor
                .max(skip_end_markers(self.b, self.cursor).min(s));
        }
        self.doc = Some(Doc {
            root: None,
            end_marker: None,
        });
    }

    fn document_end(&mut self, s: usize) -> Result<(), ParseError> {
        let mut d = self.doc.take().ok_or_else(|| internal(self.src, s))?;
        if self.b.get(s..s + 3) == Some(b"...") {
            d.end_marker = Some(s);
            self.cursor = self.cursor.max(s + 3);
        }
        self.docs.push(d);
        Ok(())
    }

    fn alias(&mut self, at: At, id: usize) -> Result<(), ParseError> {
        let (src, b, s) = (self.src, self.b, at.s);
        if matches!(at.role, Role::Key) {
            return Err(ParseError::at(
                src,
                s,
                "an alias used as a mapping key is not supported",
            ));
        }
        if b.get(s) != Some(&b'*') || s < self.cursor {
            return Err(internal(src, s));
        }
        let end = trim_ws_end(b, s, at.e);
        self.cursor = end;
        self.deliver(Node {
            start: s,
            end,
            props_end: None,
            anchor: 0,
            kind: Kind::Alias { span: s..end, id },
        })
    }

    fn scalar(
        &mut self,
        at: At,
        value: String,
        style: ScalarStyle,
        anchor: usize,
        has_tag: bool,
    ) -> Result<(), ParseError> {
        let props_end = if anchor != 0 || has_tag {
            Some(props_end_from(self.b, at.s, at.in_flow).ok_or_else(|| internal(self.src, at.s))?)
        } else {
            None
        };
        let mut node = if value.is_empty() && style == ScalarStyle::Plain {
            self.empty_node(at, props_end)
        } else {
            self.scalar_node(at, props_end, value, style)?
        };
        node.anchor = anchor;
        self.deliver(node)
    }

    /// A node with no text: its position is where a value would be written
    /// (after its properties, its `:` or its `-`).
    fn empty_node(&mut self, at: At, props_end: Option<usize>) -> Node {
        let (b, cursor) = (self.b, self.cursor);
        let (pos, bare) = match (props_end, at.role) {
            (Some(p), _) => (p, false),
            (None, Role::MapValue) => {
                value_indicator(b, cursor).map_or((cursor, true), |p| (p, false))
            }
            (None, Role::SeqItem) => (
                last_dash(b, cursor, at.e.max(cursor)).unwrap_or(cursor),
                false,
            ),
            (None, _) => (cursor, false),
        };
        self.cursor = cursor.max(pos);
        Node {
            start: if props_end.is_some() { at.s } else { pos },
            end: pos,
            props_end,
            anchor: 0,
            kind: Kind::Empty {
                pos,
                bare,
                flow: at.in_flow,
            },
        }
    }

    /// A scalar with text, its span located and checked in the source.
    fn scalar_node(
        &mut self,
        at: At,
        props_end: Option<usize>,
        value: String,
        style: ScalarStyle,
    ) -> Result<Node, ParseError> {
        let (src, b, s) = (self.src, self.b, at.s);
        let span = scalar_span(b, style, s, at.e, props_end, self.cursor, at.in_flow)
            .ok_or_else(|| internal(src, s))?;
        if span.start < self.cursor
            || !src.is_char_boundary(span.start)
            || !src.is_char_boundary(span.end)
        {
            return Err(internal(src, s));
        }
        if !matches!(at.role, Role::Key) && tab_after_colon(b, span.start) {
            // saphyr refuses `:<tab>plain`, so a token could not
            // stand where this quoted or block scalar is.
            return Err(ParseError::at(
                src,
                span.start,
                "a tab between ':' and a quoted or block value is not supported; use a space",
            ));
        }
        if at.in_flow
            && style != ScalarStyle::Plain
            && !flow_indent_ok(src, b, &self.stack, span.start)
        {
            // saphyr refuses a plain scalar there, so a token could
            // not stand where this quoted scalar is.
            return Err(ParseError::at(
                src,
                span.start,
                "a quoted value inside a flow collection must be indented more than the enclosing block",
            ));
        }
        self.cursor = span.end;
        Ok(Node {
            start: if props_end.is_some() { s } else { span.start },
            end: span.end,
            props_end,
            anchor: 0,
            kind: Kind::Scalar {
                span,
                value: Zeroizing::new(value),
            },
        })
    }

    fn open_collection(
        &mut self,
        at: At,
        is_map: bool,
        anchor: usize,
        has_tag: bool,
    ) -> Result<(), ParseError> {
        let (src, b, s, e) = (self.src, self.b, at.s, at.e);
        let has_props = anchor != 0 || has_tag;
        if matches!(at.role, Role::Key) {
            return Err(ParseError::at(
                src,
                s,
                "unsupported complex key (a mapping or sequence used as a key)",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(ParseError::at(
                src,
                s,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        // saphyr's span of a flow collection's start runs from its
        // properties over its bracket and the space after it (`{ `,
        // `!!seq\n  [ `), so the bracket is found after the properties
        // rather than taken to be the span's last byte.
        let bracket = if is_map { b'{' } else { b'[' };
        let content = if has_props {
            props_end_from(b, s, at.in_flow).ok_or_else(|| internal(src, s))?
        } else {
            s
        };
        let bracket_at =
            Some(skip_space(b, content)).filter(|&i| i < e && b.get(i) == Some(&bracket));
        let flow = bracket_at.is_some();
        let pair = is_map && !flow && at.in_flow;
        let props_end = (has_props && !pair).then_some(content);
        let open = match bracket_at {
            Some(at) => {
                self.cursor = self.cursor.max(at + 1);
                at
            }
            None => s,
        };
        // Unknown until the first entry or item for a block collection
        // without properties.
        let start = if props_end.is_some() || flow {
            s
        } else {
            usize::MAX
        };
        self.stack.push(if is_map {
            Frame::Map {
                start,
                props_end,
                anchor,
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
                anchor,
                flow,
                open,
                items: Vec::new(),
                col: None,
            }
        });
        Ok(())
    }

    fn close_collection(&mut self, s: usize) -> Result<(), ParseError> {
        let frame = self.stack.pop().ok_or_else(|| internal(self.src, s))?;
        let node = match frame {
            Frame::Map {
                start,
                props_end,
                anchor,
                flow,
                pair,
                open,
                entries,
                ..
            } => {
                let first = entries.first().map_or(s, |en| en.start);
                let last = entries.last().map_or(first, |en| en.value.end);
                let end = self.collection_end(flow && !pair, b'}', last, s)?;
                Node {
                    start: if start == usize::MAX { first } else { start },
                    end,
                    props_end,
                    anchor,
                    kind: Kind::Map {
                        flow,
                        pair,
                        open: if flow && !pair { open } else { first },
                        entries,
                    },
                }
            }
            Frame::Seq {
                start,
                props_end,
                anchor,
                flow,
                open,
                items,
                ..
            } => {
                let first = items.first().map_or(s, |i| i.dash.unwrap_or(i.node.start));
                let last = items.last().map_or(first, |i| i.node.end);
                let end = self.collection_end(flow, b']', last, s)?;
                Node {
                    start: if start == usize::MAX { first } else { start },
                    end,
                    props_end,
                    anchor,
                    kind: Kind::Seq {
                        flow,
                        open: if flow { open } else { first },
                        items,
                    },
                }
            }
        };
        self.deliver(node)
    }

    /// Where a closed collection ends: after its bracket when it has one,
    /// else where its last entry or item ends.
    fn collection_end(
        &mut self,
        bracketed: bool,
        bracket: u8,
        last: usize,
        s: usize,
    ) -> Result<usize, ParseError> {
        let end = if bracketed {
            close_bracket(self.b, self.cursor, bracket).ok_or_else(|| internal(self.src, s))?
        } else {
            last
        };
        self.cursor = self.cursor.max(end);
        Ok(end)
    }

    /// Hand a finished node to its parent.
    fn deliver(&mut self, node: Node) -> Result<(), ParseError> {
        let (src, b) = (self.src, self.b);
        match self.stack.last_mut() {
            None => {
                let d = self.doc.as_mut().ok_or_else(|| internal(src, node.start))?;
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
                        _ => {
                            return Err(ParseError::at(src, node.start, "unsupported complex key"))
                        }
                    };
                    let entry_start = explicit_key_mark(b, node.start.min(start))
                        .unwrap_or(node.start.min(start));
                    if col.is_none() {
                        *col = Some(col_of(src, entry_start));
                    }
                    if !seen.insert(k.clone()) {
                        // PyYAML takes several `<<` in one mapping; seal's key
                        // paths must be unique, and a list says the same.
                        let message = if k == "<<" {
                            "a second merge key (`<<`) in one mapping is not supported: merge a list instead (`<<: [*a, *b]`)"
                        } else {
                            "duplicate mapping key"
                        };
                        return Err(ParseError::at(src, start, message));
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
}
