//! YAML: value spans, the `seal` metadata entry and in-place edits.
//!
//! saphyr-parser validates the stream and gives the structure and semantic
//! values. Its span markers are only hints (quoted scalars run over trailing
//! comments, block scalars start at their content), so every span is located
//! again in the source and checked before it is reported.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use zeroize::Zeroizing;

use crate::format::common::{self, checked_splice, parse_index};
use crate::format::{
    line_ending, EditError, Leaf, LeafKind, MetadataBlock, ParseError, Scan, Syntax, Typed,
};
use crate::metadata::{Metadata, WrappedKey, RESERVED_KEY, VERSION};
use crate::path::{KeyPath, PathQuery, Segment};

/// Deepest collection nesting accepted; keeps every later walk shallow.
const MAX_DEPTH: usize = 256;

const NEEDS_BLOCK_MAPPING: &str =
    "the top level of the last YAML document must be a block mapping to hold seal's metadata";

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

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

fn values(src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
    let analysis = analyze(src)?;
    let mut out = Vec::new();
    for_each_leaf(&analysis, |path, node| match &node.kind {
        Kind::Scalar { value, .. } => out.push((path.clone(), value.clone())),
        Kind::Empty { .. } => out.push((path.clone(), Zeroizing::new(String::new()))),
        Kind::Alias { id, .. } => {
            if let Some(v) = analysis.tree.anchors.get(id) {
                out.push((path.clone(), v.clone()));
            }
        }
        Kind::Map { .. } | Kind::Seq { .. } => {}
    });
    Ok(out)
}

fn typed_values(src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
    let analysis = analyze(src)?;
    let mut out = Vec::new();
    for_each_leaf(&analysis, |path, node| {
        let typed = match &node.kind {
            Kind::Scalar { span, value } => scalar_type(
                tag_of(src, node),
                src.get(span.clone()).unwrap_or(""),
                value,
            ),
            Kind::Empty { .. } => Typed::literal("null"),
            Kind::Alias { id, .. } => match analysis.tree.anchors.get(id) {
                Some(v) => Typed::String(v.clone()),
                None => return,
            },
            Kind::Map { .. } => Typed::literal("{}"),
            Kind::Seq { .. } => Typed::literal("[]"),
        };
        out.push((path.clone(), typed));
    });
    Ok(out)
}

/// A scalar's tag (`!!int`, `!x`), from the properties before its text.
fn tag_of<'s>(src: &'s str, node: &Node) -> Option<&'s str> {
    let Kind::Scalar { span, .. } = &node.kind else {
        return None;
    };
    src.get(node.start..span.start)?
        .split_whitespace()
        .find(|p| p.starts_with('!'))
}

/// The JSON type of a scalar: quoted and block scalars and `!!str` are
/// strings; a plain scalar is resolved by the YAML 1.2 core schema (null,
/// booleans, integers in decimal, octal `0o` and hex `0x`, floats), as are
/// `!!null`, `!!bool`, `!!int` and `!!float` ones. Anything JSON cannot
/// hold (`.inf`, `.nan`, an integer past 128 bits) stays a string.
fn scalar_type(tag: Option<&str>, text: &str, value: &Zeroizing<String>) -> Typed {
    let quoted = text.starts_with(['"', '\'', '|', '>']);
    let core = match tag {
        None => !quoted,
        Some("!!null" | "!!bool" | "!!int" | "!!float") => true,
        Some(_) => false,
    };
    match core.then(|| core_schema_json(value)).flatten() {
        Some(literal) => Typed::Literal(literal),
        None => Typed::String(value.clone()),
    }
}

/// The tag of the scalar at `path` when its value does not fit it (`!!int`
/// on `abc`): loaders that apply tags refuse such a document, though it
/// parses. Only the core schema's tags are checked; others mean what their
/// application says.
pub fn misfit_tag(src: &str, path: &PathQuery) -> Result<Option<String>, ParseError> {
    let analysis = analyze(src)?;
    let mut misfit = None;
    for_each_leaf(&analysis, |leaf, node| {
        let Kind::Scalar { value, .. } = &node.kind else {
            return;
        };
        if !leaf.matches(path) {
            return;
        }
        let Some(tag) = tag_of(src, node) else {
            return;
        };
        let meaning = core_schema_json(value);
        let special_float =
            [".inf", "-.inf", "+.inf", ".nan"].contains(&value.to_ascii_lowercase().as_str());
        let fits = match tag {
            "!!null" => meaning.as_deref().is_some_and(|m| m == "null"),
            "!!bool" => meaning
                .as_deref()
                .is_some_and(|m| m == "true" || m == "false"),
            "!!int" => meaning
                .as_deref()
                .is_some_and(|m| m.bytes().all(|b| b == b'-' || b.is_ascii_digit())),
            "!!float" => {
                special_float
                    || meaning
                        .as_deref()
                        .is_some_and(|m| m.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
            }
            _ => true,
        };
        if !fits {
            misfit = Some(tag.to_owned());
        }
    });
    Ok(misfit)
}

/// JSON text for what a plain scalar means under the YAML 1.2 core schema,
/// or `None` for a string.
fn core_schema_json(value: &str) -> Option<Zeroizing<String>> {
    let json = |s: String| Some(Zeroizing::new(s));
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return json("null".into()),
        "true" | "True" | "TRUE" => return json("true".into()),
        "false" | "False" | "FALSE" => return json("false".into()),
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(octal) = value.strip_prefix("0o").filter(|s| digits(s, 8)) {
        return u128::from_str_radix(octal, 8)
            .ok()
            .and_then(|n| json(n.to_string()));
    }
    if let Some(hex) = value.strip_prefix("0x").filter(|s| digits(s, 16)) {
        return u128::from_str_radix(hex, 16)
            .ok()
            .and_then(|n| json(n.to_string()));
    }
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    if digits(unsigned, 10) {
        return value.parse::<i128>().ok().and_then(|n| json(n.to_string()));
    }
    // [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() && digits(fraction, 10))
                || (digits(whole, 10) && (fraction.is_empty() || digits(fraction, 10)))
        }
        None => digits(mantissa, 10),
    };
    if !mantissa_ok || exponent.is_some_and(|e| !digits(e, 10)) {
        return None;
    }
    let number: f64 = value.parse().ok()?;
    number
        .is_finite()
        .then(|| format!("{number:?}"))
        .and_then(json)
}

fn attach_metadata(body: &str, meta: &Metadata) -> Result<String, EditError> {
    let tree = build_tree(body)?;
    let Some(doc) = tree.docs.last() else {
        return Err(EditError::Unsupported(format!(
            "the document is empty or holds only comments; {NEEDS_BLOCK_MAPPING}"
        )));
    };
    let entries = match doc.root.as_ref().map(|n| &n.kind) {
        Some(Kind::Map {
            flow: false,
            entries,
            ..
        }) => entries,
        _ => return Err(EditError::Unsupported(NEEDS_BLOCK_MAPPING.to_owned())),
    };
    let first = entries
        .first()
        .ok_or_else(|| EditError::Unsupported(NEEDS_BLOCK_MAPPING.to_owned()))?;
    // An empty implicit key (`   :`) can report its entry before the
    // indentation or blank lines, so find where its text really starts.
    let text_start = body[first.start..]
        .find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .map_or(body.len(), |i| first.start + i);
    if line_start(body, text_start) != text_start {
        return Err(EditError::Unsupported(format!(
            "{NEEDS_BLOCK_MAPPING} starting at column 1"
        )));
    }
    if tree
        .docs
        .iter()
        .any(|d| root_entry(d, RESERVED_KEY).is_some())
    {
        return Err(EditError::Unsupported(format!(
            "the document already has a top-level `{RESERVED_KEY}` key, which seal reserves for its metadata"
        )));
    }
    let le = line_ending(body);
    let block = render_metadata(meta, le);
    let mut out = String::with_capacity(body.len() + block.len() + 4);
    match doc.end_marker {
        Some(at) => {
            out.push_str(part(body, 0..at)?);
            out.push_str(&block);
            out.push_str(le);
            out.push_str(part(body, at..body.len())?);
        }
        None => {
            out.push_str(body);
            if body.ends_with('\n') {
                out.push_str(&block);
                out.push_str(le);
            } else {
                out.push_str(le);
                out.push_str(&block);
            }
        }
    }
    // The checks above cover the shapes people write; for anything they
    // miss, refuse rather than hand back a file whose metadata does not
    // read back as exactly this block.
    let reads_back = match scan(&out) {
        Ok(Scan {
            metadata: Some(found),
            ..
        }) => {
            found.metadata == *meta
                && out
                    .get(..found.region.start)
                    .zip(out.get(found.region.end..))
                    .is_some_and(|(a, b)| {
                        a.len() + b.len() == body.len() && body.starts_with(a) && body.ends_with(b)
                    })
        }
        _ => false,
    };
    if !reads_back {
        return Err(EditError::Unsupported(format!(
            "{NEEDS_BLOCK_MAPPING} starting at column 1 (this layout cannot hold it)"
        )));
    }
    Ok(out)
}

fn set_value(src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
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
            Kind::Scalar { .. } | Kind::Alias { .. } => {
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

fn remove_value(src: &str, path: &PathQuery) -> Result<String, EditError> {
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
    for seg in parents {
        let (next, next_head) = child(src, parent, seg).ok_or_else(not_found)?;
        parent = next;
        head = next_head;
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

fn string_literal(value: &str) -> String {
    if plain_is_safe(value) {
        value.to_owned()
    } else {
        quote(value)
    }
}

// ---------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Node {
    /// Start of the node's properties (anchor, tag) or of its content.
    start: usize,
    /// End of the node's source text.
    end: usize,
    /// End of the properties, when there are any.
    props_end: Option<usize>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
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
struct Entry {
    key: String,
    /// The `?` of an explicit key, else the key node's start.
    start: usize,
    key_start: usize,
    key_end: usize,
    value: Node,
}

#[derive(Debug)]
struct Item {
    /// The `-` of a block sequence item, when it could be located.
    dash: Option<usize>,
    node: Node,
}

#[derive(Debug)]
struct Doc {
    root: Option<Node>,
    /// Byte offset of an explicit `...` ending the document.
    end_marker: Option<usize>,
}

struct Tree {
    docs: Vec<Doc>,
    /// Values of anchored scalars, by anchor id.
    anchors: HashMap<usize, Zeroizing<String>>,
}

enum Frame {
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

fn build_tree(src: &str) -> Result<Tree, ParseError> {
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

// ---------------------------------------------------------------------------
// Locating text in the source
// ---------------------------------------------------------------------------

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

fn trim_ws_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && b.get(end - 1).is_some_and(|&c| is_ws(c)) {
        end -= 1;
    }
    end
}

/// Skip whitespace, line breaks and comments from `i`.
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if is_ws(c) {
            i += 1;
        } else if c == b'#' && (i == 0 || b.get(i - 1).is_some_and(|&p| is_ws(p))) {
            while b.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
                i += 1;
            }
        } else {
            break;
        }
    }
    i
}

/// End of one anchor or tag starting at `i`.
fn skip_prop(b: &[u8], mut i: usize, flow: bool) -> usize {
    if b.get(i) == Some(&b'!') && b.get(i + 1) == Some(&b'<') {
        while let Some(&c) = b.get(i) {
            i += 1;
            if c == b'>' {
                return i;
            }
        }
        return i;
    }
    // Anchor names never contain flow indicators; tags only outside flow.
    let anchor = b.get(i) == Some(&b'&');
    while let Some(&c) = b.get(i) {
        if is_ws(c) || ((flow || anchor) && is_flow_indicator(c)) {
            break;
        }
        i += 1;
    }
    i
}

/// End of the properties (anchor, tag) that start at `i`.
fn props_end_from(b: &[u8], i: usize, flow: bool) -> Option<usize> {
    let mut end = None;
    let mut j = i;
    loop {
        match b.get(j) {
            Some(b'&') | Some(b'!') => {
                j = skip_prop(b, j, flow);
                end = Some(j);
                j = skip_space(b, j);
            }
            _ => return end,
        }
    }
}

/// Skip properties and the space around them; where the content starts.
fn skip_props(b: &[u8], i: usize, flow: bool) -> usize {
    let mut j = skip_space(b, i);
    while matches!(b.get(j), Some(b'&') | Some(b'!')) {
        j = skip_space(b, skip_prop(b, j, flow));
    }
    j
}

/// Column (in characters) of `at`: only counts back to the line start.
fn col_of(src: &str, at: usize) -> usize {
    let start = line_start(src, at);
    src.get(start..at).map_or(0, |l| l.chars().count())
}

/// Whether a scalar at `at` inside a flow collection is indented more than
/// the innermost enclosing block collection, as saphyr wants plain ones.
fn flow_indent_ok(src: &str, b: &[u8], stack: &[Frame], at: usize) -> bool {
    let Some(k) = stack.iter().rposition(|f| {
        !matches!(
            f,
            Frame::Map { flow: true, .. } | Frame::Seq { flow: true, .. }
        )
    }) else {
        return true;
    };
    let block_col = match &stack[k] {
        Frame::Map { col, .. } => *col,
        Frame::Seq { col: Some(c), .. } => Some(*c),
        Frame::Seq { col: None, .. } => match stack.get(k + 1) {
            Some(Frame::Map { start, .. } | Frame::Seq { start, .. }) => {
                dash_before(b, *start).map(|d| col_of(src, d))
            }
            None => None,
        },
    };
    let Some(block_col) = block_col else {
        return false;
    };
    // Count back at most `block_col + 1` characters: long lines stay cheap.
    let mut n = 0usize;
    for c in src.get(..at).unwrap_or_default().chars().rev() {
        if c == '\n' || c == '\r' {
            break;
        }
        n += 1;
        if n > block_col {
            return true;
        }
    }
    n > block_col
}

/// Whether only tabs separate `at` from a `:` before it.
fn tab_after_colon(b: &[u8], at: usize) -> bool {
    let mut i = at;
    while i > 0 && b.get(i - 1) == Some(&b'\t') {
        i -= 1;
    }
    i < at && i > 0 && b.get(i - 1) == Some(&b':')
}

/// After a mapping key: the position just after its `:` indicator.
fn value_indicator(b: &[u8], cursor: usize) -> Option<usize> {
    let i = skip_space(b, cursor);
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

/// The position after the last `-` item indicator in `[from, limit)`.
fn last_dash(b: &[u8], from: usize, limit: usize) -> Option<usize> {
    let mut i = from;
    let mut found = None;
    while i < limit {
        let j = skip_space(b, i);
        if j != i {
            i = j;
            continue;
        }
        match b.get(i) {
            Some(b'-' | b':' | b'?') if b.get(i + 1).is_none_or(|&c| is_ws(c)) => {
                if b.get(i) == Some(&b'-') {
                    found = Some(i + 1);
                }
                i += 1;
            }
            Some(b'&' | b'!') => i = skip_prop(b, i, false),
            _ => break,
        }
    }
    found
}

/// The `-` introducing a block sequence item whose node starts at `start`.
fn dash_before(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i > 0 && b.get(i - 1).is_some_and(|&c| is_ws(c)) {
        i -= 1;
    }
    (i > 0 && b.get(i - 1) == Some(&b'-')).then(|| i - 1)
}

/// The `?` of an explicit key whose node starts at `start`, if any.
fn explicit_key_mark(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i > 0 && b.get(i - 1).is_some_and(|&c| is_ws(c)) {
        i -= 1;
    }
    (i > 0
        && b.get(i - 1) == Some(&b'?')
        && (i < 2
            || b.get(i - 2)
                .is_some_and(|&c| is_ws(c) || is_flow_indicator(c))))
    .then(|| i - 1)
}

/// The end of a flow collection's closing bracket at or after `cursor`.
fn close_bracket(b: &[u8], cursor: usize, bracket: u8) -> Option<usize> {
    let mut i = cursor;
    loop {
        i = skip_space(b, i);
        match b.get(i) {
            Some(&c) if c == bracket => return Some(i + 1),
            Some(b',' | b'?' | b':') => i += 1,
            _ => return None,
        }
    }
}

fn line_start(src: &str, at: usize) -> usize {
    let b = src.as_bytes();
    let mut i = at.min(b.len());
    while i > 0 && !matches!(b.get(i - 1), Some(b'\n' | b'\r')) {
        i -= 1;
    }
    i
}

/// Position of the line break ending the line that holds `at` (or the end).
fn line_end(b: &[u8], at: usize) -> usize {
    let mut i = at;
    while b.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
        i += 1;
    }
    i.min(b.len())
}

/// Just after the line break ending the line that holds `at`, if any.
fn after_break(b: &[u8], at: usize) -> Option<usize> {
    let i = line_end(b, at);
    match b.get(i) {
        Some(b'\r') if b.get(i + 1) == Some(&b'\n') => Some(i + 2),
        Some(_) => Some(i + 1),
        None => None,
    }
}

/// Length of the line break ending just before `at`.
fn break_before(b: &[u8], at: usize) -> usize {
    if at >= 2 && b.get(at - 2..at) == Some(b"\r\n") {
        2
    } else if at >= 1 && matches!(b.get(at - 1), Some(b'\n' | b'\r')) {
        1
    } else {
        0
    }
}

fn scalar_span(
    b: &[u8],
    style: ScalarStyle,
    s: usize,
    e: usize,
    props_end: Option<usize>,
    cursor: usize,
    flow: bool,
) -> Option<Range<usize>> {
    let start = if props_end.is_some() {
        skip_props(b, s, flow)
    } else {
        s
    };
    match style {
        ScalarStyle::Plain => {
            let end = trim_ws_end(b, start, e);
            (end > start).then_some(start..end)
        }
        ScalarStyle::DoubleQuoted => {
            if b.get(start) != Some(&b'"') {
                return None;
            }
            let mut i = start + 1;
            loop {
                match b.get(i)? {
                    b'\\' => i += 2,
                    b'"' => return Some(start..i + 1),
                    _ => i += 1,
                }
            }
        }
        ScalarStyle::SingleQuoted => {
            if b.get(start) != Some(&b'\'') {
                return None;
            }
            let mut i = start + 1;
            loop {
                match b.get(i)? {
                    b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => return Some(start..i + 1),
                    _ => i += 1,
                }
            }
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            // Block scalar events start at the content: find the indicator
            // from the previous token instead.
            let mut i = if props_end.is_some() { start } else { cursor };
            loop {
                i = skip_space(b, i);
                match b.get(i)? {
                    b'|' | b'>' => break,
                    b'-' | b'?' | b':' => i += 1,
                    b'&' | b'!' => i = skip_prop(b, i, false),
                    _ => return None,
                }
            }
            let indicator = i;
            let mut keep = false;
            let mut j = indicator + 1;
            while let Some(&c) = b.get(j) {
                match c {
                    b'+' => keep = true,
                    b'-' | b'1'..=b'9' => {}
                    _ => break,
                }
                j += 1;
            }
            let header_end = line_end(b, indicator);
            // The scanner stops after the next line's indentation: back up
            // to that line's start unless it ended on unterminated content.
            let ls = {
                let mut k = e.min(b.len());
                while k > 0 && !matches!(b.get(k - 1), Some(b'\n' | b'\r')) {
                    k -= 1;
                }
                k
            };
            let region_end = if b.get(ls..e.min(b.len()))?.iter().all(|&c| c == b' ') {
                ls
            } else {
                e
            };
            let region_end = region_end.max(header_end);
            let end = if keep {
                (region_end - break_before(b, region_end)).max(header_end)
            } else {
                let body = b.get(header_end..region_end)?;
                match body.iter().rposition(|&c| !is_ws(c)) {
                    Some(k) => line_end(b, header_end + k),
                    None => header_end,
                }
            };
            Some(indicator..end)
        }
    }
}

// ---------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------

struct Analysis {
    tree: Tree,
    metadata: Option<MetadataBlock>,
    /// Index of the metadata entry in the last document's root mapping.
    meta_entry: Option<usize>,
}

fn root_entry<'a>(doc: &'a Doc, key: &str) -> Option<(usize, &'a Entry, bool, usize)> {
    match &doc.root.as_ref()?.kind {
        Kind::Map { entries, flow, .. } => {
            let i = entries.iter().position(|e| e.key == key)?;
            Some((i, &entries[i], *flow, entries.len()))
        }
        _ => None,
    }
}

fn analyze(src: &str) -> Result<Analysis, ParseError> {
    let tree = build_tree(src)?;
    let n = tree.docs.len();
    let mut metadata = None;
    let mut meta_entry = None;
    for (d, doc) in tree.docs.iter().enumerate() {
        let Some((i, entry, flow, len)) = root_entry(doc, RESERVED_KEY) else {
            continue;
        };
        let at = entry.key_start;
        if d + 1 != n {
            return Err(ParseError::at(
                src,
                at,
                "the reserved key `seal` may only appear in the last YAML document",
            ));
        }
        if flow {
            return Err(ParseError::at(
                src,
                at,
                "the reserved key `seal` must be an entry of a block mapping",
            ));
        }
        if i + 1 != len {
            return Err(ParseError::at(
                src,
                at,
                "the reserved key `seal` must be the last top-level key",
            ));
        }
        let meta = parse_metadata(src, entry)?;
        let b = src.as_bytes();
        let start = line_start(src, entry.start);
        let block = render_metadata(&meta, "\n");
        let (region, written) = match after_break(b, entry.value.end) {
            Some(end) => (start..end, format!("{block}\n")),
            None => match break_before(b, start) {
                0 => (start..src.len(), block),
                before => (start - before..src.len(), format!("\n{block}")),
            },
        };
        if meta.version == crate::metadata::VERSION {
            common::check_block_layout(src, region.clone(), &written)?;
        }
        metadata = Some(MetadataBlock {
            region,
            metadata: meta,
        });
        meta_entry = Some(i);
    }
    Ok(Analysis {
        tree,
        metadata,
        meta_entry,
    })
}

fn meta_err(src: &str, node: &Node, what: &str) -> ParseError {
    ParseError::at(src, node.start, format!("seal metadata: {what}"))
}

fn meta_string(src: &str, node: &Node, field: &str) -> Result<String, ParseError> {
    match &node.kind {
        Kind::Scalar { value, .. } => Ok(value.to_string()),
        _ => Err(meta_err(src, node, &format!("`{field}` must be a string"))),
    }
}

fn meta_entries<'a>(src: &str, node: &'a Node, what: &str) -> Result<&'a [Entry], ParseError> {
    match &node.kind {
        Kind::Map { entries, .. } => Ok(entries),
        _ => Err(meta_err(src, node, &format!("{what} must be a mapping"))),
    }
}

fn meta_items<'a>(src: &str, node: &'a Node, field: &str) -> Result<&'a [Item], ParseError> {
    match &node.kind {
        Kind::Seq { items, .. } => Ok(items),
        _ => Err(meta_err(
            src,
            node,
            &format!("`{field}` must be a sequence"),
        )),
    }
}

fn parse_metadata(src: &str, seal: &Entry) -> Result<Metadata, ParseError> {
    let fields = meta_entries(src, &seal.value, "`seal`")?;
    let version_node = fields.iter().find(|e| e.key == "version");
    let version = match version_node {
        None => None,
        Some(e) => match &e.value.kind {
            Kind::Scalar { value, span }
                if src
                    .as_bytes()
                    .get(span.start)
                    .is_some_and(u8::is_ascii_digit) =>
            {
                Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| meta_err(src, &e.value, "`version` must be an integer"))?,
                )
            }
            _ => return Err(meta_err(src, &e.value, "`version` must be an integer")),
        },
    };
    match (metadata_fields(src, seal, fields), version) {
        (Ok((modified, encrypt, recipients, mac)), Some(version)) => Ok(Metadata {
            version,
            modified,
            encrypt,
            recipients,
            mac,
        }),
        (Ok(_), None) => Err(ParseError::at(
            src,
            seal.key_start,
            "seal metadata: missing `version`",
        )),
        (Err(e), Some(v)) if v != VERSION => Err(ParseError::new(
            e.line,
            e.column,
            format!("sealed with format version {v}; this seal reads version {VERSION}"),
        )),
        (Err(e), _) => Err(e),
    }
}

type Fields = (String, Vec<String>, Vec<WrappedKey>, String);

fn metadata_fields(src: &str, seal: &Entry, fields: &[Entry]) -> Result<Fields, ParseError> {
    let (mut modified, mut encrypt, mut recipients, mut mac) = (None, Vec::new(), None, None);
    for f in fields {
        match f.key.as_str() {
            "version" => {}
            "modified" => modified = Some(meta_string(src, &f.value, "modified")?),
            "mac" => mac = Some(meta_string(src, &f.value, "mac")?),
            "encrypt" => {
                for item in meta_items(src, &f.value, "encrypt")? {
                    encrypt.push(meta_string(src, &item.node, "encrypt")?);
                }
            }
            "recipients" => {
                let mut list = Vec::new();
                for item in meta_items(src, &f.value, "recipients")? {
                    let (mut recipient, mut data_key) = (None, None);
                    for r in meta_entries(src, &item.node, "a recipient")? {
                        match r.key.as_str() {
                            "recipient" => {
                                recipient = Some(meta_string(src, &r.value, "recipient")?)
                            }
                            "data_key" => data_key = Some(meta_string(src, &r.value, "data_key")?),
                            _ => {
                                return Err(ParseError::at(
                                    src,
                                    r.key_start,
                                    "seal metadata: unknown recipient field",
                                ))
                            }
                        }
                    }
                    let missing = |what: &str| {
                        meta_err(src, &item.node, &format!("recipient is missing `{what}`"))
                    };
                    list.push(WrappedKey {
                        recipient: recipient.ok_or_else(|| missing("recipient"))?,
                        data_key: data_key.ok_or_else(|| missing("data_key"))?,
                    });
                }
                recipients = Some(list);
            }
            _ => {
                return Err(ParseError::at(
                    src,
                    f.key_start,
                    "seal metadata: unknown field",
                ))
            }
        }
    }
    let missing = |what: &str| {
        ParseError::at(
            src,
            seal.key_start,
            format!("seal metadata: missing `{what}`"),
        )
    };
    Ok((
        modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        recipients.ok_or_else(|| missing("recipients"))?,
        mac.ok_or_else(|| missing("mac"))?,
    ))
}

/// The block `attach_metadata` writes, without a final line break.
fn render_metadata(meta: &Metadata, le: &str) -> String {
    let mut lines = vec![
        format!("{RESERVED_KEY}:"),
        format!("  version: {}", meta.version),
    ];
    lines.push(format!("  modified: {}", quote(&meta.modified)));
    if !meta.encrypt.is_empty() {
        lines.push("  encrypt:".to_owned());
        lines.extend(meta.encrypt.iter().map(|p| format!("    - {}", quote(p))));
    }
    if meta.recipients.is_empty() {
        lines.push("  recipients: []".to_owned());
    } else {
        lines.push("  recipients:".to_owned());
    }
    for r in &meta.recipients {
        lines.push(format!("    - recipient: {}", quote(&r.recipient)));
        if literal_block_ok(&r.data_key) {
            lines.push("      data_key: |".to_owned());
            let body = r.data_key.strip_suffix('\n').unwrap_or(&r.data_key);
            lines.extend(body.split('\n').map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("        {l}")
                }
            }));
        } else {
            lines.push(format!("      data_key: {}", quote(&r.data_key)));
        }
    }
    lines.push(format!("  mac: {}", quote(&meta.mac)));
    lines.join(le)
}

/// Whether `text` reads back exactly from a clipped `|` block.
fn literal_block_ok(text: &str) -> bool {
    let Some(body) = text.strip_suffix('\n') else {
        return false;
    };
    !body.is_empty()
        && !body.ends_with('\n')
        && !body.starts_with([' ', '\n'])
        && body
            .chars()
            .all(|c| c == '\n' || (c != '\t' && printable(c) && !c.is_control()))
}

// ---------------------------------------------------------------------------
// Leaves
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------

fn part(src: &str, r: Range<usize>) -> Result<&str, EditError> {
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

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The YAML 1.2 core schema, as JSON text; `None` is a string.
    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        for (plain, json) in [
            ("", Some("null")),
            ("~", Some("null")),
            ("Null", Some("null")),
            ("TRUE", Some("true")),
            ("false", Some("false")),
            ("0", Some("0")),
            ("-17", Some("-17")),
            ("+17", Some("17")),
            ("007", Some("7")),
            ("0o17", Some("15")),
            ("0x1f", Some("31")),
            ("1.5", Some("1.5")),
            ("-.5", Some("-0.5")),
            ("12.", Some("12.0")),
            ("1e3", Some("1000.0")),
            ("2.5E-3", Some("0.0025")),
            (".inf", None),
            (".nan", None),
            ("yes", None),
            ("0x", None),
            ("0o8", None),
            ("1_000", None),
            ("1.2.3", None),
            ("e3", None),
            (".", None),
            ("+", None),
            ("1e", None),
            ("340282366920938463463374607431768211456", None),
            ("hello", None),
        ] {
            assert_eq!(
                core_schema_json(plain).as_deref().map(String::as_str),
                json,
                "{plain:?}"
            );
        }
    }

    #[test]
    fn tags_of_the_core_schema_must_fit_their_value() {
        let misfit = |src: &str, path: &str| misfit_tag(src, &q(path)).unwrap();
        assert_eq!(misfit("a: !!int abc\n", "a").as_deref(), Some("!!int"));
        assert_eq!(misfit("a: !!int 1.5\n", "a").as_deref(), Some("!!int"));
        assert_eq!(misfit("a: !!int \"7\"\n", "a"), None);
        assert_eq!(misfit("a: !!float 7\n", "a"), None);
        assert_eq!(misfit("a: !!float .inf\n", "a"), None);
        assert_eq!(misfit("a: !!float x\n", "a").as_deref(), Some("!!float"));
        assert_eq!(misfit("a: !!bool yes\n", "a").as_deref(), Some("!!bool"));
        assert_eq!(misfit("a: !!bool true\n", "a"), None);
        assert_eq!(misfit("a: !!null ~\n", "a"), None);
        assert_eq!(misfit("a: !!str 5\n", "a"), None);
        assert_eq!(misfit("a: !custom anything\n", "a"), None);
        assert_eq!(misfit("a: &x !!int abc\nb: !!int 5\n", "b"), None);
        assert_eq!(misfit("a: 5\n", "a"), None);
    }

    #[test]
    fn directives_with_non_ascii_characters_are_refused() {
        let err = scan("%FOO b\u{703}r\n---\na: bcd\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        assert!(scan("%YAML 1.2\n---\na: b\u{703}cd\n").is_ok());
    }

    #[test]
    fn indented_root_with_an_empty_key_cannot_hold_metadata() {
        // Found by fuzzing: the entry of `   :` starts at the line start.
        let meta = Metadata {
            version: 1,
            modified: "2026-01-01T00:00:00Z".into(),
            encrypt: vec![],
            recipients: vec![],
            mac: "m".into(),
        };
        for body in ["\n   :", "   :\n", "  a: 1\n", "#: >-\n  :\t# Ap"] {
            assert!(
                matches!(attach_metadata(body, &meta), Err(EditError::Unsupported(_))),
                "{body:?}"
            );
        }
    }

    const TOKEN: &str = "seal.v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn q(path: &str) -> PathQuery {
        PathQuery::parse(path).unwrap()
    }

    /// Leaves as (dotted path with `#doc` after the first document, kind, source text).
    fn leaves(src: &str) -> Vec<(String, LeafKind, String)> {
        scan(src)
            .unwrap_or_else(|e| panic!("{e} in {src:?}"))
            .leaves
            .into_iter()
            .map(|l| {
                let p = l.path.strings().join(".");
                let p = if l.path.doc > 0 {
                    format!("{p}#{}", l.path.doc)
                } else {
                    p
                };
                (p, l.kind, src[l.span].to_owned())
            })
            .collect()
    }

    fn texts(src: &str) -> Vec<String> {
        leaves(src).into_iter().map(|(_, _, t)| t).collect()
    }

    fn vals(src: &str) -> Vec<(String, String)> {
        values(src)
            .unwrap()
            .into_iter()
            .map(|(p, v)| (p.strings().join("."), v.to_string()))
            .collect()
    }

    /// The crucial property: tokens in place of every scalar keep the
    /// structure, and splicing the originals back restores the input.
    fn check_tokens(src: &str) {
        let before = scan(src).unwrap_or_else(|e| panic!("{e} in {src:?}"));
        let mut sealed = String::new();
        let mut last = 0;
        for l in &before.leaves {
            assert!(l.span.start >= last, "overlapping spans in {src:?}");
            sealed.push_str(&src[last..l.span.start]);
            sealed.push_str(if l.kind == LeafKind::Scalar {
                TOKEN
            } else {
                &src[l.span.clone()]
            });
            last = l.span.end;
        }
        sealed.push_str(&src[last..]);
        let after =
            scan(&sealed).unwrap_or_else(|e| panic!("{e} in sealed {sealed:?} from {src:?}"));
        let shape = |s: &Scan| {
            s.leaves
                .iter()
                .map(|l| (l.path.clone(), l.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shape(&before),
            shape(&after),
            "structure changed: {src:?} -> {sealed:?}"
        );
        let sealed_values = values(&sealed).unwrap();
        for l in after.leaves.iter().filter(|l| l.kind == LeafKind::Scalar) {
            assert_eq!(&sealed[l.span.clone()], TOKEN);
            let v = sealed_values
                .iter()
                .find(|(p, _)| *p == l.path)
                .map(|(_, v)| v.as_str());
            assert_eq!(
                v,
                Some(TOKEN),
                "token did not read back as a string in {sealed:?}"
            );
        }
        let mut restored = String::new();
        let mut last = 0;
        for (a, b) in after.leaves.iter().zip(&before.leaves) {
            restored.push_str(&sealed[last..a.span.start]);
            restored.push_str(&src[b.span.clone()]);
            last = a.span.end;
        }
        restored.push_str(&sealed[last..]);
        assert_eq!(restored, src);
    }

    #[test]
    fn plain_quoted_and_comments() {
        let src = "# head\na: plain  # c\nb: \"quoted \\\" x\"  # comment\nc: 'single ''q'''   # c2\nd: 12\n";
        assert_eq!(
            texts(src),
            ["plain", "\"quoted \\\" x\"", "'single ''q'''", "12"]
        );
        assert_eq!(vals(src)[1], ("b".into(), "quoted \" x".into()));
        check_tokens(src);
    }

    #[test]
    fn block_scalars_all_indicators() {
        let src = "a: |\n  line1\n  line2\n\nb: >-\n  folded\n  text\n\nc: |+\n  keep\n\n\nd: |2-\n    indented\ne: >+1\n  x\n\nf: | # note\n  t\ng: |\nh: x\n";
        let l = leaves(src);
        assert_eq!(l[0].2, "|\n  line1\n  line2");
        assert_eq!(l[1].2, ">-\n  folded\n  text");
        assert_eq!(l[2].2, "|+\n  keep\n\n");
        assert_eq!(l[3].2, "|2-\n    indented");
        assert_eq!(l[4].2, ">+1\n  x\n");
        assert_eq!(l[5].2, "| # note\n  t");
        assert_eq!(l[6].2, "|");
        let v = vals(src);
        assert_eq!(v[0].1, "line1\nline2\n");
        assert_eq!(v[1].1, "folded text");
        assert_eq!(v[2].1, "keep\n\n\n");
        assert_eq!(v[3].1, "  indented");
        check_tokens(src);
        check_tokens("k: \"v\"\t# c\nj: |\n  x\n\t# c\nl: >\n  x\n  \t\n");
        check_tokens("k: |+\n  keep\n\n");
        check_tokens("k: |+\n  keep");
        check_tokens("- |\n  a\n- >\n\n  b\n\n  c\n# end\n- |-\n  z");
        check_tokens("--- |\n  root block\n...\n");
        check_tokens("a:\n  b: !!binary |\n    R0lGOD\n    lhDAAM\n  c: 1\n");
        check_tokens("a:\n  - |\n    less\n     more\n  - x\n");
    }

    #[test]
    fn flow_collections() {
        let src = "a: {x: 1, y: [2, \"3\", {z: w}], e: }\nb: [p, q, ]\nc: {\"j\":\"k\"}\nd: []\ne: {}\nf: [k: v]\n";
        let l = leaves(src);
        let paths: Vec<&str> = l.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            paths,
            ["a.x", "a.y.0", "a.y.1", "a.y.2.z", "a.e", "b.0", "b.1", "c.j", "f.0.k"]
        );
        assert_eq!(l[4].1, LeafKind::Empty);
        check_tokens(src);
        check_tokens("[a, [b, [c, {d: [e]}]], {f: g, h: {i: j}}]");
        check_tokens("- k: [a,\n   \"b\"]\n- [a,\n \"b\"]\n");
        check_tokens("[\n\"root flow\"]\n");
        assert!(scan("a: {x: [2,\n\"3\"]}\n")
            .unwrap_err()
            .message
            .contains("indented"));
        assert!(scan("- k: [a,\n  \"b\"]\n").is_err());
        check_tokens("{a: \"multi\n  line\", b: 'x'\n  , c: plain\n   continued}\n");
    }

    #[test]
    fn anchors_aliases_merge() {
        let src = "base: &b\n  x: &v 1\n  y: two\nother:\n  <<: *b\n  z: *v\nmerged:\n  <<: {m: 3}\nt: &t !!str tagged\n";
        let l = leaves(src);
        assert_eq!(l[2], ("other.<<".into(), LeafKind::Alias, "*b".into()));
        assert_eq!(l[3], ("other.z".into(), LeafKind::Alias, "*v".into()));
        assert_eq!(l[4].0, "merged.<<.m");
        assert_eq!(l[5].2, "tagged");
        let v = vals(src);
        assert!(v.contains(&("other.z".into(), "1".into())));
        assert!(!v.iter().any(|(p, _)| p == "other.<<"));
        check_tokens(src);
    }

    #[test]
    fn multi_document_streams_and_directives() {
        let src = "%YAML 1.2\n---\na: 1\n...\n---\nb: 2\n--- scalar root\n---\n- x\n";
        let l = leaves(src);
        assert_eq!(
            l.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["a", "b#1", "#2", "0#3"]
        );
        assert_eq!(l[2].2, "scalar root");
        check_tokens(src);
        check_tokens("just a scalar\n");
        check_tokens("---\n...\n");
        assert!(leaves("---\n# nothing\n").is_empty());
        assert!(leaves("").is_empty());
        assert!(leaves("# only a comment\n").is_empty());
    }

    #[test]
    fn unicode_and_escapes() {
        let src = "emoji: \"🔑 \\u00e9\\t\"\n中文: 値です\nk: 'é''x'\nlast: ✓✓";
        let l = leaves(src);
        assert_eq!(l[1], ("中文".into(), LeafKind::Scalar, "値です".into()));
        assert_eq!(l[3].2, "✓✓");
        assert_eq!(vals(src)[0].1, "🔑 é\t");
        check_tokens(src);
    }

    #[test]
    fn empty_values() {
        let src = "a:\nb: # c\nc: !!str\nd: &x\nl:\n- \n-\n- # c\n- &y\nf: {g: , h}\n";
        let l = leaves(src);
        assert!(
            l.iter().all(|x| x.1 == LeafKind::Empty && x.2.is_empty()),
            "{l:?}"
        );
        let spans: Vec<usize> = scan(src)
            .unwrap()
            .leaves
            .iter()
            .map(|l| l.span.start)
            .collect();
        assert_eq!(&src[..spans[0]], "a:");
        assert_eq!(&src[spans[1] - 2..spans[1]], "b:");
        assert_eq!(&src[spans[2] - 5..spans[2]], "!!str");
        assert_eq!(&src[spans[3] - 2..spans[3]], "&x");
        assert_eq!(&src[spans[4] - 1..spans[4] + 1], "- ");
        assert_eq!(&src[spans[5] - 1..spans[5] + 1], "-\n");
        assert_eq!(&src[spans[6] - 1..spans[6] + 1], "- ");
        assert_eq!(&src[spans[7] - 2..spans[7]], "&y");
        assert_eq!(&src[spans[8] - 3..spans[8] + 1], "{g: ");
        assert_eq!(&src[spans[9] - 2..spans[9] + 1], " h}");
        assert_eq!(vals(src)[0].1, "");
        check_tokens(src);
    }

    #[test]
    fn crlf_no_final_newline_indented_sequences() {
        let src = "a: 1\r\nb: |\r\n  x\r\n  y\r\nc:\r\n- p\r\nd:\r\n  - q\r\ne: \"z\"";
        assert_eq!(texts(src), ["1", "|\r\n  x\r\n  y", "p", "q", "\"z\""]);
        assert_eq!(vals(src)[1].1, "x\ny\n");
        check_tokens(src);
    }

    #[test]
    fn explicit_keys_tags_long_plain() {
        let src = "? a\n: 1\n? b\n? |\n  block key\n: 3\nt: !custom x\nlong: this is a long\n  plain scalar that\n\n  spans lines  # c\nv: !<tag:yaml.org,2002:str> y\n";
        let l = leaves(src);
        assert_eq!(l[0].0, "a");
        assert_eq!(l[1], ("b".into(), LeafKind::Empty, String::new()));
        assert_eq!(l[2].0, "block key\n");
        assert_eq!(l[3].2, "x");
        assert_eq!(
            l[4].2,
            "this is a long\n  plain scalar that\n\n  spans lines"
        );
        assert_eq!(l[5].2, "y");
        check_tokens(src);
    }

    #[test]
    fn errors_have_positions_and_no_input() {
        let e = scan("a: 1\nb: [x\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
        let e = scan("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("duplicate"));
        assert!(scan("a:\n\tb: 1\n").is_err());
        assert!(scan("a:\t'quoted'\n").unwrap_err().message.contains("tab"));
        check_tokens("a: \t'quoted'\nb:\t !!str |\n  x\n");
        let e = scan("a: \"secret-unterminated\n").unwrap_err();
        assert!(!e.to_string().contains("secret"));
        assert!(scan("? [a]\n: b\n")
            .unwrap_err()
            .message
            .contains("complex key"));
        assert!(scan("{[a]: b}")
            .unwrap_err()
            .message
            .contains("complex key"));
        assert!(scan("x: &a k\n*a : v\n").is_err());
        let deep = "[".repeat(10_000);
        assert!(scan(&deep).is_err());
        let deep_ok = format!("{}x{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(scan(&deep_ok).unwrap().leaves.len(), 1);
        let e = scan(&format!("{}x{}", "[".repeat(300), "]".repeat(300))).unwrap_err();
        assert!(
            e.message.contains("nesting") || e.message.contains("recursion"),
            "{e}"
        );
        let e = scan("a: 1\n@secret").unwrap_err();
        assert!(!e.message.contains('@'));
        for garbage in [
            "\u{0}\u{1}\u{7f}",
            "\u{feff}\u{fffe}:\"",
            "key: \"\\",
            "- |\n\tx",
            "{a: b]",
            "a: 'x",
            "\u{ff}\u{fe}é: [é",
        ] {
            let _ = scan(garbage);
        }
    }

    fn meta(encrypt: Vec<String>, n: usize) -> Metadata {
        Metadata {
            version: 1,
            modified: "2026-11-23T11:30:00Z".into(),
            encrypt,
            recipients: (0..n)
                .map(|i| WrappedKey {
                    recipient: format!("age1qqq{i}"),
                    data_key: "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzZjN\n-----END AGE ENCRYPTED FILE-----\n".into(),
                })
                .collect(),
            mac: "bWFj".into(),
        }
    }

    fn round_trip(body: &str, m: &Metadata) -> String {
        let sealed = attach_metadata(body, m).unwrap_or_else(|e| panic!("{e} for {body:?}"));
        let s = scan(&sealed).unwrap_or_else(|e| panic!("{e} in {sealed:?}"));
        let block = s
            .metadata
            .unwrap_or_else(|| panic!("no metadata in {sealed:?}"));
        assert_eq!(&block.metadata, m);
        let mut stripped = sealed.clone();
        stripped.replace_range(block.region, "");
        assert_eq!(stripped, body, "from {sealed:?}");
        assert_eq!(s.leaves, scan(body).unwrap().leaves);
        sealed
    }

    #[test]
    fn metadata_layout_is_exact() {
        let sealed = round_trip("a: 1\n", &meta(vec!["stringData.*".into()], 1));
        assert_eq!(
            sealed,
            "a: 1\nseal:\n  version: 1\n  modified: \"2026-11-23T11:30:00Z\"\n  encrypt:\n    - \"stringData.*\"\n  recipients:\n    - recipient: \"age1qqq0\"\n      data_key: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzZjN\n        -----END AGE ENCRYPTED FILE-----\n  mac: \"bWFj\"\n"
        );
    }

    #[test]
    fn metadata_round_trips() {
        let m = meta(vec![], 2);
        for body in [
            "a: 1\n",
            "a: 1",
            "a: 1\r\nb: 2\r\n",
            "a: 1\r\nb: 2",
            "a: 1\n# trailing\n",
            "a: 1\n# trailing",
            "x: 0\n---\na: 1\n",
            "a: 1\n...\n",
            "a: 1\n...\n# after\n",
            "a:\n  b: |+\n    keep\n\n",
            "a: |\n  x",
        ] {
            round_trip(body, &m);
        }
        let sealed = round_trip("a: 1\n...\n", &m);
        assert!(sealed.ends_with("mac: \"bWFj\"\n...\n"));
        let odd = Metadata {
            mac: "\u{0}\"\\é\u{2028}".into(),
            modified: String::new(),
            ..meta(vec!["*".into()], 0)
        };
        round_trip("a: 1\n", &odd);
        let odd_key = Metadata {
            recipients: vec![WrappedKey {
                recipient: "ssh-ed25519 AAAA c".into(),
                data_key: " x\n\n".into(),
            }],
            ..meta(vec![], 0)
        };
        round_trip("a: 1\n", &odd_key);
    }

    #[test]
    fn attach_refuses_other_top_levels() {
        let m = meta(vec![], 1);
        for body in [
            "",
            "# only\n",
            "- a\n",
            "{a: 1}\n",
            "scalar\n",
            "  a: 1\n",
            "a: 1\n---\n- b\n",
            "seal: 1\n",
        ] {
            assert!(
                matches!(attach_metadata(body, &m), Err(EditError::Unsupported(_))),
                "{body:?}"
            );
        }
        let Err(EditError::Unsupported(msg)) = attach_metadata("# only\n", &m) else {
            panic!("accepted")
        };
        assert!(msg.contains("empty") && msg.contains("block mapping"));
    }

    #[test]
    fn reformatted_metadata_is_refused() {
        // The same fields as a writer's block, laid out otherwise: the MAC
        // covers the fields, the layout check the rest (spec section 9).
        let src = "a: 1\nseal: {version: 1, modified: x, mac: m, recipients: [{recipient: r, data_key: \"k\\n\"}]}\n";
        let e = scan(src).unwrap_err();
        assert!(e.message.contains("not laid out as seal writes it"), "{e}");
        assert_eq!((e.line, e.column), (2, 1));
        let written = "a: 1\nseal:\n  version: 1\n  modified: \"x\"\n  recipients:\n    - recipient: \"r\"\n      data_key: |\n        k\n  mac: \"m\"\n";
        let s = scan(written).unwrap();
        assert_eq!(s.metadata.unwrap().metadata.recipients[0].data_key, "k\n");
        assert_eq!(s.leaves.len(), 1);
        // A comment inside the block is a change too; after it, it is not.
        let commented = written.replace("  mac:", "  # approved\n  mac:");
        assert!(scan(&commented).is_err());
        assert!(scan(&format!("{written}# after\n")).is_ok());
    }

    #[test]
    fn metadata_errors() {
        let good = "seal:\n  version: 1\n  modified: \"x\"\n  recipients: []\n  mac: \"m\"\n";
        assert!(scan(good).unwrap().metadata.is_some());
        let e = scan(&format!("{good}a: 1\n")).unwrap_err();
        assert!(e.message.contains("last"));
        assert!(scan(&format!("{good}---\na: 1\n")).is_err());
        let e = scan("seal:\n  version: 1\n  modified: x\n  recipients: []\n").unwrap_err();
        assert!(e.message.contains("mac"), "{e}");
        let e =
            scan("seal:\n  version: 1\n  modified: x\n  recipients: []\n  mac: m\n  extra: 1\n")
                .unwrap_err();
        assert_eq!((e.line, e.message.contains("unknown")), (6, true));
        assert!(
            scan("seal:\n  version: one\n  modified: x\n  recipients: []\n  mac: m\n").is_err()
        );
        assert!(
            scan("seal:\n  version: 1\n  modified: [x]\n  recipients: []\n  mac: m\n").is_err()
        );
        let v2 = scan("seal:\n  version: 2\n  modified: x\n  recipients: []\n  mac: m\n").unwrap();
        assert_eq!(v2.metadata.unwrap().metadata.version, 2);
        let e = scan("seal:\n  version: 2\n  format: new\n").unwrap_err();
        assert!(e.message.contains("sealed with format version 2"), "{e}");
    }

    #[test]
    fn set_existing_values() {
        let src = "x: &x v\na: 1 # c\nb:\nc: *x\nl:\n- \n-\nf: {g: , h}\n";
        assert_eq!(
            set_value(src, &q("a"), "\"s\"").unwrap(),
            src.replace("a: 1", "a: \"s\"")
        );
        assert!(set_value(src, &q("b"), "v").unwrap().contains("\nb: v\n"));
        assert!(set_value(src, &q("c"), "v").unwrap().contains("\nc: v\n"));
        assert!(set_value(src, &q("l.0"), "v")
            .unwrap()
            .contains("l:\n- v\n-\n"));
        assert!(set_value(src, &q("l.1"), "v")
            .unwrap()
            .contains("l:\n- \n- v\n"));
        assert!(set_value(src, &q("f.g"), "v")
            .unwrap()
            .contains("{g: v , h}"));
        assert!(set_value(src, &q("f.h"), "v")
            .unwrap()
            .contains("{g: , h: v}"));
        assert_eq!(
            set_value(src, &q("l"), "v"),
            Err(EditError::NotALeaf("l".into()))
        );
        assert!(matches!(
            set_value(src, &q("a.b"), "v"),
            Err(EditError::NotAContainer(..))
        ));
        assert!(matches!(
            set_value(src, &q("l.5"), "v"),
            Err(EditError::NotFound(_))
        ));
    }

    #[test]
    fn set_new_values() {
        let src = "a:\n  b: 1\n  n:\n    deep: |\n      text\n# outer\nz: [1]\nm: {}\ns:\n  - p\n";
        let out = set_value(src, &q("a.c"), "v").unwrap();
        assert!(out.contains("      text\n  c: v\n# outer"), "{out}");
        let out = set_value(src, &q("a.x.w"), "v").unwrap();
        assert!(out.contains("  x:\n    w: v\n"), "{out}");
        assert_eq!(values(&out).unwrap()[2].0.strings(), ["a", "x", "w"]);
        let out = set_value(src, &q("new"), "\"1\"").unwrap();
        assert!(out.ends_with("  - p\nnew: \"1\"\n"), "{out}");
        assert!(set_value(src, &q("z.1"), "2")
            .unwrap()
            .contains("z: [1, 2]"));
        assert!(set_value(src, &q("m.k"), "2")
            .unwrap()
            .contains("m: {k: 2}"));
        assert!(set_value(src, &q("m.k.j"), "2")
            .unwrap()
            .contains("m: {k: {j: 2}}"));
        assert!(set_value(src, &q("s.1"), "q")
            .unwrap()
            .ends_with("  - p\n  - q\n"));
        let out = set_value(src, &q("s.1.k"), "q").unwrap();
        assert!(out.ends_with("  - p\n  - k: q\n"), "{out}");
        assert!(set_value(src, &q("/a/with space"), "q")
            .unwrap()
            .contains("  \"with space\": q\n"));
        assert!(set_value(src, &q("yes"), "q")
            .unwrap()
            .contains("\n\"yes\": q\n"));
        assert_eq!(set_value("", &q("a.b"), "v").unwrap(), "a:\n  b: v\n");
        assert_eq!(set_value("# c", &q("a"), "v").unwrap(), "# c\na: v\n");
        assert_eq!(set_value("a: 1", &q("b"), "2").unwrap(), "a: 1\nb: 2");
        assert_eq!(
            set_value("a: 1\r\n", &q("b"), "2").unwrap(),
            "a: 1\r\nb: 2\r\n"
        );
        assert_eq!(set_value("a:\n", &q("a.b"), "2").unwrap(), "a:\n  b: 2\n");
        assert_eq!(
            set_value("- a:\n", &q("0.a.b"), "2").unwrap(),
            "- a:\n    b: 2\n"
        );
        assert_eq!(
            set_value("- x: 1\n", &q("0.z"), "2").unwrap(),
            "- x: 1\n  z: 2\n"
        );
        let sealed = attach_metadata("a: 1\n", &meta(vec![], 1)).unwrap();
        let out = set_value(&sealed, &q("b"), "2").unwrap();
        assert!(out.starts_with("a: 1\nb: 2\nseal:\n"), "{out}");
        assert_eq!(scan(&out).unwrap().leaves.len(), 2);
        for (path, lit) in [
            ("a.b", "x"),
            ("q", "\"multi\\nline\""),
            ("a.n.deep", "y"),
            ("s.0", "z"),
        ] {
            let out = set_value(src, &q(path), lit).unwrap();
            let v = values(&out).unwrap();
            let want = values(&format!("k: {lit}")).unwrap()[0].1.to_string();
            assert!(
                v.iter()
                    .any(|(p, x)| p.matches(&q(path)) && *x.as_str() == want),
                "{out}"
            );
        }
    }

    #[test]
    fn remove_entries() {
        let src = "a: 1 # c\nb:\n  x: 1\n  y: |\n    t\n# keep\nc: [1, 2, 3]\nd: {p: 1, q: 2}\ne:\n- u\n- - v\n  - w\nf:\n  only: 1\n";
        assert_eq!(
            remove_value(src, &q("a")).unwrap(),
            src.replacen("a: 1 # c\n", "", 1)
        );
        assert_eq!(
            remove_value(src, &q("b.y")).unwrap(),
            src.replacen("  y: |\n    t\n", "", 1)
        );
        assert_eq!(
            remove_value(src, &q("b")).unwrap(),
            src.replacen("b:\n  x: 1\n  y: |\n    t\n", "", 1)
        );
        assert!(remove_value(src, &q("c.0")).unwrap().contains("c: [2, 3]"));
        assert!(remove_value(src, &q("c.2")).unwrap().contains("c: [1, 2]"));
        assert!(remove_value(src, &q("d.q")).unwrap().contains("d: {p: 1}"));
        assert!(remove_value(src, &q("e.0"))
            .unwrap()
            .contains("e:\n- - v\n"));
        let out = remove_value(src, &q("e.1.0")).unwrap();
        assert!(
            out.contains("e:\n- u\n- - w\n") || out.contains("e:\n- u\n- w\n"),
            "{out}"
        );
        assert!(remove_value(src, &q("f.only"))
            .unwrap()
            .ends_with("f: {}\n"));
        assert_eq!(remove_value("a: {x: 1}", &q("a.x")).unwrap(), "a: {}");
        assert_eq!(remove_value("a: [1, ]", &q("a.0")).unwrap(), "a: [ ]");
        assert_eq!(remove_value("a: 1\nb: 2", &q("b")).unwrap(), "a: 1");
        assert_eq!(remove_value("a: 1\n", &q("a")).unwrap(), "{}\n");
        assert_eq!(
            remove_value("- a: 1\n  b: 2\n", &q("0.a")).unwrap(),
            "- b: 2\n"
        );
        assert_eq!(remove_value("l:\n  - 1\n", &q("l.0")).unwrap(), "l: []\n");
        assert!(matches!(
            remove_value(src, &q("zz")),
            Err(EditError::NotFound(_))
        ));
        for path in [
            "a", "b.x", "b.y", "c.1", "d.p", "e.1", "e.1.1", "f.only", "f",
        ] {
            let out = remove_value(src, &q(path)).unwrap();
            let after = scan(&out).unwrap_or_else(|e| panic!("{e}: {out}")).leaves;
            let is_key = parse_index(path.rsplit('.').next().unwrap_or_default()).is_none();
            assert!(
                !is_key || !after.iter().any(|l| l.path.starts_with(&q(path))),
                "{path}: {out}"
            );
            assert!(
                after.len() < scan(src).unwrap().leaves.len(),
                "{path}: {out}"
            );
        }
    }

    #[test]
    fn string_literals_read_back() {
        for v in [
            "hello",
            "hello world",
            "yes",
            "No",
            "ON",
            "~",
            "null",
            "",
            " x",
            "x ",
            "1e3",
            "0x1F",
            ".inf",
            "-.Inf",
            "2024-01-01",
            "1_000",
            "0o17",
            "+1",
            "12:30:00",
            "a: b",
            "a #b",
            "#x",
            "-x",
            "- x",
            "a\nb",
            "tab\there",
            "\"q\"",
            "'s'",
            "é✓🔑",
            "\u{0}\u{7f}\u{85}\u{2028}\u{feff}",
            "[x]",
            "a,b",
            "{x}",
            "*a",
            "&a",
            "!t",
            "%x",
            "@x",
            "`x",
            "|",
            ">",
            "a:",
            "=",
            "<<",
            "seal.v1.AAAA",
            "path/to/file",
            "user@example.com",
        ] {
            let lit = string_literal(v);
            let got = values(&format!("k: {lit}\n")).unwrap();
            assert_eq!(got[0].1.as_str(), v, "block: {lit}");
            let got = values(&format!("k: [{lit}, {{x: {lit}}}]\n")).unwrap();
            assert_eq!(got[0].1.as_str(), v, "flow: {lit}");
            assert_eq!(got[1].1.as_str(), v, "flow map: {lit}");
        }
        assert_eq!(string_literal("hello"), "hello");
        assert_eq!(string_literal("yes"), "\"yes\"");
        assert_eq!(string_literal("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn ten_thousand_values_scan_quickly() {
        let mut src = String::new();
        for i in 0..10_000 {
            src.push_str(&format!("key{i}: \"välue {i}\" # c\n"));
        }
        let t = std::time::Instant::now();
        assert_eq!(scan(&src).unwrap().leaves.len(), 10_000);
        // Generous: debug builds are far slower than release.
        assert!(t.elapsed().as_secs() < 5);
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Y {
            Scalar(String),
            Map(Vec<(String, Y)>),
            Seq(Vec<Y>),
        }

        fn word() -> impl Strategy<Value = String> {
            "[a-z][a-z0-9_]{0,6}"
        }

        fn scalar() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z][a-zA-Z0-9 ._/-]{0,12}[a-zA-Z0-9]",
                "[0-9]{1,5}",
                Just("true".to_owned()),
                Just("~".to_owned()),
                any::<String>().prop_map(|s| quote(&s)),
                "[ -~é✓]{0,10}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
                "[a-z]{1,8}".prop_map(|s| format!("\"{s}\n  continued\"")),
                Just("&anc anchored".to_owned()),
                Just("!!str tagged".to_owned()),
                Just(String::new()),
            ]
        }

        fn flow_node() -> impl Strategy<Value = String> {
            let leaf = scalar().prop_filter("single line", |s| !s.contains('\n') && !s.is_empty());
            leaf.prop_recursive(3, 12, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|v| format!("[{}]", v.join(", "))),
                    prop::collection::btree_map(word(), inner, 0..4).prop_map(|m| {
                        format!(
                            "{{{}}}",
                            m.iter()
                                .map(|(k, v)| format!("{k}: {v}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }),
                ]
            })
        }

        fn node() -> impl Strategy<Value = Y> {
            let leaf = prop_oneof![
                4 => scalar().prop_map(Y::Scalar),
                1 => "[a-z ]{1,20}".prop_map(|s| Y::Scalar(format!("|\n{}", s.trim_end()))),
                1 => "[a-z ]{1,20}".prop_map(|s| Y::Scalar(format!(">+\n{}\n", s.trim_end()))),
                1 => "[a-z]{1,20}".prop_map(|s| Y::Scalar(format!("|-\n{s}\n\n{s}"))),
                1 => flow_node().prop_map(Y::Scalar),
            ];
            leaf.prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 1..5).prop_map(Y::Seq),
                    prop::collection::btree_map(word(), inner, 1..5)
                        .prop_map(|m| Y::Map(m.into_iter().collect())),
                ]
            })
        }

        /// Text after an indicator (`key:` or `-`), from its separator on.
        fn render(y: &Y, indent: usize, out: &mut String) {
            let pad = " ".repeat(indent);
            match y {
                Y::Scalar(s) if s.starts_with(['|', '>']) => {
                    let mut lines = s.split('\n');
                    out.push(' ');
                    out.push_str(lines.next().unwrap_or_default());
                    for l in lines {
                        out.push('\n');
                        if !l.is_empty() {
                            out.push_str(&format!("{pad}  {l}"));
                        }
                    }
                    if !s.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Y::Scalar(s) => {
                    let s = s.replace('\n', &format!("\n{pad}  "));
                    out.push_str(&format!(" {s}  # note\n"));
                }
                Y::Map(m) => {
                    out.push('\n');
                    for (k, v) in m {
                        out.push_str(&format!("{pad}  {k}:"));
                        render(v, indent + 2, out);
                    }
                }
                Y::Seq(v) => {
                    out.push('\n');
                    for item in v {
                        out.push_str(&format!("{pad}  -"));
                        render(item, indent + 2, out);
                        out.push_str(&format!("{pad}# between\n"));
                    }
                }
            }
        }

        fn document() -> impl Strategy<Value = String> {
            (
                prop::collection::btree_map(word(), node(), 1..6),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(m, crlf, final_nl, head)| {
                    let mut out = String::new();
                    if head {
                        out.push_str("# header\n---\n");
                    }
                    for (k, v) in &m {
                        out.push_str(&format!("{k}:"));
                        render(v, 0, &mut out);
                    }
                    if !final_nl {
                        while out.ends_with('\n') {
                            out.pop();
                        }
                    }
                    if crlf {
                        out = out.replace('\n', "\r\n");
                    }
                    out
                })
        }

        const CORPUS: &[&str] = &[
            "a: |\n  line1\n  line2\n\nb: >-\n  folded\n  text\n\nc: |+\n  keep\n\n\nd: |2-\n    indented\ne: >+1\n  x\n\nf: | # note\n  t\ng: |\nh: x\n",
            "a: {x: 1, y: [2, \"3\", {z: w}], e: }\nb: [p, q, ]\nc: {\"j\":\"k\"}\nd: []\ne: {}\nf: [k: v]\n",
            "base: &b\n  x: &v 1\n  y: two\nother:\n  <<: *b\n  z: *v\nmerged:\n  <<: {m: 3}\nt: &t !!str tagged\n",
            "%YAML 1.2\n---\na: 1\n...\n---\nb: 2\n--- scalar root\n---\n- x\n",
            "a:\nb: # c\nc: !!str\nd: &x\nl:\n- \n-\n- # c\n- &y\nf: {g: , h}\n",
            "a: 1\r\nb: |\r\n  x\r\n  y\r\nc:\r\n- p\r\nd:\r\n  - q\r\ne: \"z\"",
            "? a\n: 1\n? b\n? |\n  block key\n: 3\nt: !custom x\nlong: this is a long\n  plain scalar that\n\n  spans lines  # c\nv: !<tag:yaml.org,2002:str> y\n",
            "- - - x\n  - \n-\n  # c\n- &q # c\n- 'it''s'\n- \"esc \\\" \\n\"\n- |-\n  z\n",
            "{a: \"multi\n  line\", b: 'x'\n  , c: plain\n   continued}\n",
            "emoji: \"🔑 \\u00e9\\t\"\n中文: 値です\nk: 'é''x'\nlast: ✓✓",
            "--- |\n  root block\n...\n--- >\n folded root\n",
            "k: -not a seq\nj: a:b\nm: x#y\nn: -1\no: :x\np: ?x\n",
        ];

        #[test]
        fn corpus_seeds_are_valid() {
            for seed in CORPUS {
                check_tokens(seed);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

            #[test]
            fn tokens_keep_structure(doc in document()) {
                scan(&doc).map_err(|e| TestCaseError::fail(format!("{e} in {doc:?}")))?;
                check_tokens(&doc);
            }

            #[test]
            fn metadata_round_trip(
                doc in document(),
                tail in prop_oneof![Just(""), Just("# end\n"), Just("...\n"), Just("---\nz: 1\n")],
                n in 0usize..3,
                pats in prop::collection::vec("[a-z.*]{1,8}", 0..3),
            ) {
                let body = if doc.ends_with('\n') || tail.is_empty() { format!("{doc}{tail}") } else { format!("{doc}\n{tail}") };
                round_trip(&body, &meta(pats, n));
            }

            #[test]
            fn arbitrary_input_never_panics(s in any::<String>()) {
                let _ = scan(&s);
                let _ = values(&s);
            }

            #[test]
            fn mutated_corpus_keeps_the_token_property(
                seed in prop::sample::select(CORPUS.to_vec()),
                at in any::<prop::sample::Index>(),
                len in 0usize..4,
                junk in "[\\[\\]{}:,#&*!|>'\"\n\r\t a-z0-9+-]{0,3}",
            ) {
                let mut i = at.index(seed.len() + 1);
                while !seed.is_char_boundary(i) {
                    i -= 1;
                }
                let mut j = (i + len).min(seed.len());
                while !seed.is_char_boundary(j) {
                    j -= 1;
                }
                let s = format!("{}{}{}", &seed[..i], junk, &seed[j.max(i)..]);
                if scan(&s).is_ok() {
                    check_tokens(&s);
                    let _ = values(&s);
                }
            }

            #[test]
            fn mutated_documents_never_panic(
                doc in document(),
                at in any::<prop::sample::Index>(),
                junk in "[\\[\\]{}:,#&*!|>'\"\n\t -]{1,3}",
            ) {
                let mut i = at.index(doc.len() + 1);
                while !doc.is_char_boundary(i) {
                    i -= 1;
                }
                let s = format!("{}{}{}", &doc[..i], junk, &doc[i..]);
                if scan(&s).is_ok() {
                    check_tokens(&s);
                }
            }
        }
    }
}
