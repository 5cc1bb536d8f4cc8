//! JSON documents (strict RFC 8259).
//!
//! A small hand-written scanner rather than `jsonc-parser`: we need exact
//! byte ranges, duplicate-name detection, a nesting limit and error messages
//! that never quote the input, and all of that is easiest to guarantee here.
//! The metadata lives in the last member of the top-level object, named
//! [`RESERVED_KEY`].

use std::collections::HashSet;
use std::ops::Range;

use zeroize::Zeroizing;

use crate::format::common::{self, parse_index, splice};
use crate::format::{
    line_ending, EditError, Leaf, LeafKind, MetadataBlock, ParseError, Scan, Syntax, Typed,
};
use crate::metadata::{Metadata, WrappedKey, RESERVED_KEY, VERSION};
use crate::path::{KeyPath, PathQuery, Segment};

/// Deepest nesting of objects and arrays accepted (serde_json's limit too),
/// so recursion stays bounded on hostile input.
const MAX_DEPTH: usize = 128;

struct Member {
    /// Unescaped member name.
    key: String,
    key_span: Range<usize>,
    value: Node,
}

enum Kind {
    Scalar,
    Object(Vec<Member>),
    Array(Vec<Node>),
}

struct Node {
    span: Range<usize>,
    kind: Kind,
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, pos: usize) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos,
        }
    }

    fn err(&self, at: usize, msg: &str) -> ParseError {
        ParseError::at(self.src, at, msg)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let scalar = |p: &Self| Node {
            span: start..p.pos,
            kind: Kind::Scalar,
        };
        match self.peek() {
            None => Err(self.err(start, "unexpected end of input, expected a value")),
            Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(self.err(
                start,
                "objects and arrays are nested more than 128 levels deep",
            )),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                self.string(None)?;
                Ok(scalar(self))
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok(scalar(self))
            }
            Some(b't') => self.literal("true").map(|()| scalar(self)),
            Some(b'f') => self.literal("false").map(|()| scalar(self)),
            Some(b'n') => self.literal("null").map(|()| scalar(self)),
            Some(_) => Err(self.err(start, "expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut members: Vec<Member> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node {
                span: open..self.pos,
                kind: Kind::Object(members),
            });
        }
        let mut comma = None;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {}
                Some(b'}') => return Err(self.err(comma.unwrap_or(self.pos), "trailing comma")),
                None => return Err(self.err(self.pos, "unexpected end of input inside an object")),
                Some(_) => {
                    return Err(self.err(self.pos, "expected a member name in double quotes"))
                }
            }
            let key_start = self.pos;
            let mut key = String::new();
            self.string(Some(&mut key))?;
            let key_span = key_start..self.pos;
            if seen.contains(&key) {
                return Err(self.err(key_start, "duplicate member name in this object"));
            }
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.err(self.pos, "unexpected end of input, expected ':'")),
                Some(_) => return Err(self.err(self.pos, "expected ':' after the member name")),
            }
            let value = self.value(depth)?;
            seen.insert(key.clone());
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    comma = Some(self.pos);
                    self.pos += 1;
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node {
                        span: open..self.pos,
                        kind: Kind::Object(members),
                    });
                }
                None => {
                    return Err(self.err(self.pos, "unexpected end of input, expected ',' or '}'"))
                }
                Some(_) => return Err(self.err(self.pos, "expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node {
                span: open..self.pos,
                kind: Kind::Array(items),
            });
        }
        let mut comma = None;
        loop {
            self.skip_ws();
            if let (Some(b']'), Some(c)) = (self.peek(), comma) {
                return Err(self.err(c, "trailing comma"));
            }
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    comma = Some(self.pos);
                    self.pos += 1;
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node {
                        span: open..self.pos,
                        kind: Kind::Array(items),
                    });
                }
                None => {
                    return Err(self.err(self.pos, "unexpected end of input, expected ',' or ']'"))
                }
                Some(_) => return Err(self.err(self.pos, "expected ',' or ']'")),
            }
        }
    }

    /// Validate the string at `pos` (on its opening quote), appending its
    /// unescaped content to `out` when given.
    fn string(&mut self, mut out: Option<&mut String>) -> Result<(), ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut run = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(open, "unterminated string"));
            };
            match c {
                b'"' => {
                    if let Some(o) = out.as_deref_mut() {
                        o.push_str(&self.src[run..self.pos]);
                    }
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    if let Some(o) = out.as_deref_mut() {
                        o.push_str(&self.src[run..self.pos]);
                    }
                    let ch = self.escape(open)?;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(ch);
                    }
                    run = self.pos;
                }
                0x00..=0x1f => {
                    return Err(self.err(
                        self.pos,
                        "control character in a string (it must be escaped)",
                    ))
                }
                _ => self.pos += 1,
            }
        }
    }

    /// The escape sequence at `pos` (on the backslash).
    fn escape(&mut self, open: usize) -> Result<char, ParseError> {
        let at = self.pos;
        let Some(&e) = self.bytes.get(at + 1) else {
            return Err(self.err(open, "unterminated string"));
        };
        self.pos = at + 2;
        let simple = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(at),
            _ => return Err(self.err(at, "invalid escape sequence")),
        };
        Ok(simple)
    }

    fn unicode_escape(&mut self, at: usize) -> Result<char, ParseError> {
        let hi = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            let low_at = self.pos;
            if self.bytes.get(low_at) != Some(&b'\\') || self.bytes.get(low_at + 1) != Some(&b'u') {
                return Err(self.err(at, "unpaired surrogate in \\u escape"));
            }
            self.pos += 2;
            let lo = self.hex4(low_at)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err(low_at, "invalid low surrogate in \\u escape"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.err(at, "unpaired surrogate in \\u escape"));
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err(at, "invalid \\u escape"))
    }

    fn hex4(&mut self, at: usize) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| (b as char).to_digit(16));
            let Some(d) = digit else {
                return Err(self.err(at, "invalid \\u escape (expected four hex digits)"));
            };
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn digits(&mut self) -> bool {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }

    fn number(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.err(start, "invalid number (leading zero)"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err(start, "invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.digits() {
                return Err(self.err(
                    start,
                    "invalid number (expected a digit after the decimal point)",
                ));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.digits() {
                return Err(self.err(start, "invalid number (expected a digit in the exponent)"));
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err(self.pos, "invalid literal (expected true, false or null)"))
        }
    }
}

/// Parse a whole document.
fn parse(src: &str) -> Result<Node, ParseError> {
    if src.starts_with('\u{feff}') {
        return Err(ParseError::at(
            src,
            0,
            "a byte order mark is not allowed in JSON",
        ));
    }
    let mut p = Parser::new(src, 0);
    let root = p.value(0)?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.err(p.pos, "unexpected text after the top-level value"));
    }
    Ok(root)
}

/// Unescaped content of the (already validated) string starting at `start`.
fn unescape_into(src: &str, start: usize, out: &mut String) -> Result<(), ParseError> {
    Parser::new(src, start).string(Some(out))
}

/// The metadata member of the root, checked to be last, with its region.
fn find_metadata(src: &str, root: &Node) -> Result<Option<MetadataBlock>, ParseError> {
    let Kind::Object(members) = &root.kind else {
        return Ok(None);
    };
    let Some(i) = members.iter().position(|m| m.key == RESERVED_KEY) else {
        return Ok(None);
    };
    let m = &members[i];
    if i + 1 != members.len() {
        return Err(ParseError::at(
            src,
            m.key_span.start,
            "the seal metadata must be the last member of the top-level object",
        ));
    }
    let start = if i == 0 {
        root.span.start + 1
    } else {
        members[i - 1].value.span.end
    };
    let metadata = read_metadata(src, &m.value)?;
    let region = start..m.value.span.end;
    // What attach_metadata inserts into the document without the block.
    let has_break = src[..region.start].contains('\n') || src[region.end..].contains('\n');
    let (indent, unit) = member_indents(src, &members[..i]);
    let written = metadata_insertion(
        &metadata,
        if i == 0 { "" } else { "," },
        has_break.then_some((indent, unit)),
        "\n",
    );
    if metadata.version == crate::metadata::VERSION {
        common::check_block_layout(src, region.clone(), &written)?;
    }
    Ok(Some(MetadataBlock { region, metadata }))
}

/// The text a writer inserts for the metadata member: `comma`, then the
/// member, pretty-printed at `indent` by `unit` with `le` breaks when the
/// document has line breaks (`layout`), else with no whitespace at all.
fn metadata_insertion(
    meta: &Metadata,
    comma: &str,
    layout: Option<(&str, &str)>,
    le: &str,
) -> String {
    let mut ins = String::from(comma);
    match layout {
        Some((indent, unit)) => {
            ins.push_str(le);
            ins.push_str(indent);
            ins.push_str(&quote(RESERVED_KEY));
            ins.push_str(": ");
            write_out(
                &metadata_out(meta),
                &mut ins,
                indent,
                Some(&Pretty { le, unit }),
            );
        }
        None => {
            ins.push_str(&quote(RESERVED_KEY));
            ins.push(':');
            write_out(&metadata_out(meta), &mut ins, "", None);
        }
    }
    ins
}

fn read_metadata(src: &str, node: &Node) -> Result<Metadata, ParseError> {
    let Kind::Object(members) = &node.kind else {
        return Err(ParseError::at(
            src,
            node.span.start,
            "the seal metadata must be an object",
        ));
    };
    let version = members
        .iter()
        .find(|m| m.key == "version")
        .and_then(|m| integer(src, &m.value));
    metadata_fields(src, node, members).map_err(|e| match version {
        Some(v) if v != VERSION => ParseError::at(
            src,
            node.span.start,
            format!("sealed with format version {v}; this seal reads version {VERSION}"),
        ),
        _ => e,
    })
}

fn integer(src: &str, node: &Node) -> Option<u64> {
    let text = src.get(node.span.clone())?;
    if !matches!(node.kind, Kind::Scalar)
        || text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    text.parse().ok()
}

fn string_field(src: &str, node: &Node, field: &str) -> Result<String, ParseError> {
    if matches!(node.kind, Kind::Scalar) && src.as_bytes().get(node.span.start) == Some(&b'"') {
        let mut s = String::new();
        unescape_into(src, node.span.start, &mut s)?;
        Ok(s)
    } else {
        Err(ParseError::at(
            src,
            node.span.start,
            format!("seal metadata field {field} must be a string"),
        ))
    }
}

fn array_field<'n>(src: &str, node: &'n Node, field: &str) -> Result<&'n [Node], ParseError> {
    match &node.kind {
        Kind::Array(items) => Ok(items),
        _ => Err(ParseError::at(
            src,
            node.span.start,
            format!("seal metadata field {field} must be an array"),
        )),
    }
}

fn metadata_fields(src: &str, node: &Node, members: &[Member]) -> Result<Metadata, ParseError> {
    let missing = |field: &str| {
        ParseError::at(
            src,
            node.span.start,
            format!("seal metadata has no {field} field"),
        )
    };
    let (mut version, mut modified, mut encrypt, mut recipients, mut mac) =
        (None, None, Vec::new(), None, None);
    for m in members {
        match m.key.as_str() {
            "version" => {
                let v = integer(src, &m.value).ok_or_else(|| {
                    ParseError::at(
                        src,
                        m.value.span.start,
                        "seal metadata field version must be an integer",
                    )
                })?;
                version = Some(v);
            }
            "modified" => modified = Some(string_field(src, &m.value, "modified")?),
            "mac" => mac = Some(string_field(src, &m.value, "mac")?),
            "encrypt" => {
                encrypt = array_field(src, &m.value, "encrypt")?
                    .iter()
                    .map(|item| string_field(src, item, "encrypt"))
                    .collect::<Result<_, _>>()?;
            }
            "recipients" => {
                let items = array_field(src, &m.value, "recipients")?;
                recipients = Some(
                    items
                        .iter()
                        .map(|item| wrapped_key(src, item))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            _ => {
                return Err(ParseError::at(
                    src,
                    m.key_span.start,
                    "unknown seal metadata field",
                ))
            }
        }
    }
    Ok(Metadata {
        version: version.ok_or_else(|| missing("version"))?,
        modified: modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        recipients: recipients.ok_or_else(|| missing("recipients"))?,
        mac: mac.ok_or_else(|| missing("mac"))?,
    })
}

fn wrapped_key(src: &str, node: &Node) -> Result<WrappedKey, ParseError> {
    let Kind::Object(members) = &node.kind else {
        return Err(ParseError::at(
            src,
            node.span.start,
            "each seal recipient must be an object",
        ));
    };
    let (mut recipient, mut data_key) = (None, None);
    for m in members {
        match m.key.as_str() {
            "recipient" => recipient = Some(string_field(src, &m.value, "recipient")?),
            "data_key" => data_key = Some(string_field(src, &m.value, "data_key")?),
            _ => {
                return Err(ParseError::at(
                    src,
                    m.key_span.start,
                    "unknown field in a seal recipient",
                ))
            }
        }
    }
    match (recipient, data_key) {
        (Some(recipient), Some(data_key)) => Ok(WrappedKey {
            recipient,
            data_key,
        }),
        _ => Err(ParseError::at(
            src,
            node.span.start,
            "a seal recipient needs both recipient and data_key",
        )),
    }
}

fn collect(node: &Node, path: &mut Vec<Segment>, out: &mut Vec<Leaf>) {
    match &node.kind {
        Kind::Scalar => out.push(Leaf {
            path: KeyPath {
                doc: 0,
                segments: path.to_vec(),
            },
            span: node.span.clone(),
            kind: LeafKind::Scalar,
        }),
        Kind::Object(members) => collect_members(members, path, out),
        Kind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                collect(item, path, out);
                path.pop();
            }
        }
    }
}

fn collect_members(members: &[Member], path: &mut Vec<Segment>, out: &mut Vec<Leaf>) {
    for m in members {
        path.push(Segment::Key(m.key.clone()));
        collect(&m.value, path, out);
        path.pop();
    }
}

/// JSON, strict RFC 8259 (see the module docs).
pub struct Json;

impl Syntax for Json {
    fn empty_document(&self) -> &'static str {
        "{}\n"
    }

    fn scan(&self, src: &str) -> Result<Scan, ParseError> {
        scan(src)
    }

    fn values(&self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
        values(src)
    }

    fn typed_values(&self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
        typed_values(src)
    }

    fn value_at(
        &self,
        src: &str,
        span: Range<usize>,
    ) -> Option<Result<Zeroizing<String>, ParseError>> {
        Some(value_at(src, span))
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

    /// A token stands where a value was, so it must be a JSON string.
    fn render_token(&self, token: &str) -> String {
        format!("\"{token}\"")
    }

    fn token_quote(&self) -> usize {
        1
    }

    fn unquote_token<'s>(&self, value_src: &'s str) -> Option<&'s str> {
        value_src.strip_prefix('"')?.strip_suffix('"')
    }
}

/// Parse, locate the metadata and list the leaves outside it.
fn scan(src: &str) -> Result<Scan, ParseError> {
    let root = parse(src)?;
    let metadata = find_metadata(src, &root)?;
    let mut leaves = Vec::new();
    let mut path = Vec::new();
    match (&root.kind, &metadata) {
        (Kind::Object(members), Some(_)) => collect_members(
            &members[..members.len().saturating_sub(1)],
            &mut path,
            &mut leaves,
        ),
        _ => collect(&root, &mut path, &mut leaves),
    }
    Ok(Scan { leaves, metadata })
}

fn typed_values(src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
    fn walk(
        src: &str,
        node: &Node,
        path: &mut Vec<Segment>,
        out: &mut Vec<(KeyPath, Typed)>,
    ) -> Result<(), ParseError> {
        let typed = match &node.kind {
            Kind::Scalar if src.as_bytes()[node.span.start] == b'"' => {
                Typed::String(value_at(src, node.span.clone())?)
            }
            // A number, true, false or null: JSON text as written.
            Kind::Scalar => Typed::Literal(Zeroizing::new(src[node.span.clone()].to_owned())),
            Kind::Object(members) if !members.is_empty() => {
                return walk_members(src, members, path, out)
            }
            Kind::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    walk(src, item, path, out)?;
                    path.pop();
                }
                return Ok(());
            }
            Kind::Object(_) => Typed::Literal(Zeroizing::new("{}".to_owned())),
            Kind::Array(_) => Typed::Literal(Zeroizing::new("[]".to_owned())),
        };
        out.push((
            KeyPath {
                doc: 0,
                segments: path.to_vec(),
            },
            typed,
        ));
        Ok(())
    }
    fn walk_members(
        src: &str,
        members: &[Member],
        path: &mut Vec<Segment>,
        out: &mut Vec<(KeyPath, Typed)>,
    ) -> Result<(), ParseError> {
        for m in members {
            path.push(Segment::Key(m.key.clone()));
            walk(src, &m.value, path, out)?;
            path.pop();
        }
        Ok(())
    }
    let root = parse(src)?;
    let metadata = find_metadata(src, &root)?;
    let mut out = Vec::new();
    let mut path = Vec::new();
    match (&root.kind, &metadata) {
        (Kind::Object(members), Some(_)) => walk_members(
            src,
            &members[..members.len().saturating_sub(1)],
            &mut path,
            &mut out,
        )?,
        _ => walk(src, &root, &mut path, &mut out)?,
    }
    Ok(out)
}

fn values(src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
    let scan = scan(src)?;
    let mut out = Vec::with_capacity(scan.leaves.len());
    for leaf in scan.leaves {
        out.push((leaf.path, value_at(src, leaf.span)?));
    }
    Ok(out)
}

/// The value whose source text is `src[span]`: a string unescaped, any
/// other scalar as written; an error unless the text is exactly one scalar
/// (a decrypted value is text nobody has parsed in place yet).
fn value_at(src: &str, span: Range<usize>) -> Result<Zeroizing<String>, ParseError> {
    let mut value = Zeroizing::new(String::new());
    let mut p = Parser::new(src, span.start);
    match p.peek() {
        Some(b'"') => p.string(Some(&mut value))?,
        Some(b'-' | b'0'..=b'9') => p.number()?,
        Some(b't') => p.literal("true")?,
        Some(b'f') => p.literal("false")?,
        Some(b'n') => p.literal("null")?,
        _ => return Err(p.err(span.start, "expected a string, number, true, false or null")),
    }
    if p.pos != span.end {
        return Err(p.err(p.pos.min(span.end), "a value here is not one JSON value"));
    }
    if src.as_bytes()[span.start] != b'"' {
        value.push_str(&src[span]);
    }
    Ok(value)
}

/// JSON string literal, escaping exactly what serde_json escapes.
fn quote(s: &str) -> String {
    common::double_quoted(s, |c, out| {
        match c {
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            _ => return false,
        }
        true
    })
}

fn string_literal(value: &str) -> String {
    quote(value)
}

/// A value to write: just what the metadata needs.
enum Out<'a> {
    Num(u64),
    Str(&'a str),
    Arr(Vec<Out<'a>>),
    Obj(Vec<(&'static str, Out<'a>)>),
}

/// Indentation settings of a pretty document.
struct Pretty<'a> {
    le: &'a str,
    unit: &'a str,
}

fn write_out(v: &Out, out: &mut String, indent: &str, pretty: Option<&Pretty>) {
    let (open, close, len) = match v {
        Out::Num(n) => return out.push_str(&n.to_string()),
        Out::Str(s) => return out.push_str(&quote(s)),
        Out::Arr(items) => ('[', ']', items.len()),
        Out::Obj(members) => ('{', '}', members.len()),
    };
    out.push(open);
    let inner = pretty
        .map(|p| format!("{indent}{}", p.unit))
        .unwrap_or_default();
    for i in 0..len {
        if i > 0 {
            out.push(',');
        }
        if let Some(p) = pretty {
            out.push_str(p.le);
            out.push_str(&inner);
        }
        let item = match v {
            Out::Arr(items) => &items[i],
            Out::Obj(members) => {
                out.push_str(&quote(members[i].0));
                out.push_str(if pretty.is_some() { ": " } else { ":" });
                &members[i].1
            }
            _ => return,
        };
        write_out(item, out, &inner, pretty);
    }
    if let (Some(p), true) = (pretty, len > 0) {
        out.push_str(p.le);
        out.push_str(indent);
    }
    out.push(close);
}

fn metadata_out(meta: &Metadata) -> Out<'_> {
    let mut fields = vec![
        ("version", Out::Num(meta.version)),
        ("modified", Out::Str(&meta.modified)),
    ];
    if !meta.encrypt.is_empty() {
        fields.push((
            "encrypt",
            Out::Arr(meta.encrypt.iter().map(|p| Out::Str(p)).collect()),
        ));
    }
    let recipients = meta
        .recipients
        .iter()
        .map(|r| {
            Out::Obj(vec![
                ("recipient", Out::Str(&r.recipient)),
                ("data_key", Out::Str(&r.data_key)),
            ])
        })
        .collect();
    fields.push(("recipients", Out::Arr(recipients)));
    fields.push(("mac", Out::Str(&meta.mac)));
    Out::Obj(fields)
}

/// The whitespace between the start of `pos`'s line and `pos`, when nothing
/// else precedes `pos` on its line.
fn indent_before(src: &str, pos: usize) -> Option<&str> {
    let before = src.get(..pos)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let ws = &before[start..];
    ws.bytes().all(|b| b == b' ' || b == b'\t').then_some(ws)
}

/// Leading whitespace of the line holding `pos`.
fn line_indent(src: &str, pos: usize) -> &str {
    let Some(before) = src.get(..pos) else {
        return "";
    };
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &src[start..];
    let len = line
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    &line[..len]
}

/// The indentation of the top-level object's first member (two spaces
/// when there is none), and the document's indentation unit: the same,
/// two spaces when it is empty.
fn member_indents<'s>(src: &'s str, members: &[Member]) -> (&'s str, &'s str) {
    let first = members
        .first()
        .and_then(|m| indent_before(src, m.key_span.start));
    (
        first.unwrap_or("  "),
        first.filter(|ws| !ws.is_empty()).unwrap_or("  "),
    )
}

fn attach_metadata(body: &str, meta: &Metadata) -> Result<String, EditError> {
    let root = parse(body)?;
    let Kind::Object(members) = &root.kind else {
        return Err(EditError::Unsupported(
            "seal metadata can only be added to a JSON document whose top level is an object"
                .into(),
        ));
    };
    if members.iter().any(|m| m.key == RESERVED_KEY) {
        return Err(EditError::Unsupported(format!(
            "the top-level member \"{RESERVED_KEY}\" is reserved for seal metadata"
        )));
    }
    let (at, comma) = match members.last() {
        Some(m) => (m.value.span.end, ","),
        None => (root.span.start + 1, ""),
    };
    let layout = body.contains('\n').then(|| member_indents(body, members));
    let ins = metadata_insertion(meta, comma, layout, line_ending(body));
    Ok(splice(body, at..at, &ins))
}

fn prefix_name(path: &PathQuery, len: usize) -> String {
    if len == 0 {
        "the top level".to_owned()
    } else {
        PathQuery {
            doc: path.doc,
            segments: path.segments[..len].to_vec(),
        }
        .to_string()
    }
}

/// Parse `src` for an edit and reject paths seal cannot edit.
fn parse_for_edit(src: &str, path: &PathQuery) -> Result<(Node, bool), EditError> {
    let root = parse(src)?;
    let has_meta = find_metadata(src, &root)?.is_some();
    if path.doc != 0 || path.segments.is_empty() {
        return Err(EditError::NotFound(path.to_string()));
    }
    if matches!(root.kind, Kind::Object(_)) && path.segments[0] == RESERVED_KEY {
        return Err(EditError::Unsupported(format!(
            "the top-level member \"{RESERVED_KEY}\" is reserved for seal metadata"
        )));
    }
    Ok((root, has_meta))
}

/// Source text of a value holding `rest` as nested new objects around
/// `literal`, its first line at `indent`.
fn render_chain(
    rest: &[String],
    literal: &str,
    indent: &str,
    colon: &str,
    pretty: Option<&Pretty>,
) -> String {
    let mut out = String::new();
    let mut indents = vec![indent.to_owned()];
    for (i, key) in rest.iter().enumerate() {
        out.push('{');
        if let Some(p) = pretty {
            let inner = format!("{}{}", indents[i], p.unit);
            out.push_str(p.le);
            out.push_str(&inner);
            indents.push(inner);
        }
        out.push_str(&quote(key));
        out.push_str(colon);
    }
    out.push_str(literal);
    for i in (0..rest.len()).rev() {
        if let Some(p) = pretty {
            out.push_str(p.le);
            out.push_str(&indents[i]);
        }
        out.push('}');
    }
    out
}

/// The edit adding `rest[0]` (holding `rest[1..]` and `literal`) at the end
/// of `obj`, before the metadata member when `view` excludes it.
fn add_member(
    src: &str,
    obj: &Node,
    members: &[Member],
    view: usize,
    rest: &[String],
    literal: &str,
    unit: &str,
) -> (Range<usize>, String) {
    let le = line_ending(src);
    let multiline = if members.is_empty() {
        src.contains('\n')
    } else {
        src[obj.span.clone()].contains('\n')
    };
    let obj_indent = line_indent(src, obj.span.start);
    let reference = members[..view].last().or(members.last());
    let indent = reference
        .and_then(|m| indent_before(src, m.key_span.start))
        .map_or_else(|| format!("{obj_indent}{unit}"), str::to_owned);
    let colon = reference
        .map(|m| &src[m.key_span.end..m.value.span.start])
        .filter(|c| !c.contains('\n'))
        .unwrap_or(if multiline { ": " } else { ":" });
    let pretty = Pretty { le, unit };
    let pretty = multiline.then_some(&pretty);
    let value = render_chain(&rest[1..], literal, &indent, colon, pretty);
    let member = format!("{}{colon}{value}", quote(&rest[0]));
    if let Some(last) = members[..view].last() {
        let sep = if multiline {
            format!("{le}{indent}")
        } else {
            compact_sep(src, &members[..view])
        };
        let at = last.value.span.end;
        (at..at, format!(",{sep}{member}"))
    } else if members.is_empty() {
        let text = if multiline {
            format!("{le}{indent}{member}{le}{obj_indent}")
        } else {
            member
        };
        (obj.span.start + 1..obj.span.end - 1, text)
    } else {
        // Only the metadata member: the new one goes before it.
        let at = obj.span.start + 1;
        let text = if multiline {
            format!("{le}{indent}{member},")
        } else {
            format!("{member},")
        };
        (at..at, text)
    }
}

/// What follows the comma between the last two members on one line.
fn compact_sep(src: &str, members: &[Member]) -> String {
    match members {
        [.., a, b] => src[a.value.span.end..b.key_span.start]
            .split_once(',')
            .map(|(_, after)| after)
            .filter(|s| !s.contains('\n'))
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    }
}

fn add_item(
    src: &str,
    arr: &Node,
    items: &[Node],
    rest: &[String],
    literal: &str,
    unit: &str,
) -> (Range<usize>, String) {
    let le = line_ending(src);
    let arr_indent = line_indent(src, arr.span.start);
    let pretty = Pretty { le, unit };
    match items.last() {
        Some(last) => {
            let multiline = src[arr.span.clone()].contains('\n');
            let indent = indent_before(src, last.span.start)
                .map_or_else(|| format!("{arr_indent}{unit}"), str::to_owned);
            let colon = if multiline { ": " } else { ":" };
            let value = render_chain(rest, literal, &indent, colon, multiline.then_some(&pretty));
            let sep = if multiline {
                format!("{le}{indent}")
            } else {
                match items {
                    [.., a, b] => src[a.span.end..b.span.start]
                        .split_once(',')
                        .map(|(_, after)| after.to_owned())
                        .unwrap_or_default(),
                    _ => String::new(),
                }
            };
            (last.span.end..last.span.end, format!(",{sep}{value}"))
        }
        None => {
            let multiline = src.contains('\n');
            let colon = if multiline { ": " } else { ":" };
            let value = render_chain(
                rest,
                literal,
                arr_indent,
                colon,
                multiline.then_some(&pretty),
            );
            (arr.span.start + 1..arr.span.end - 1, value)
        }
    }
}

fn finish(src: &str, range: Range<usize>, text: &str) -> Result<String, EditError> {
    let out = splice(src, range, text);
    // The edit must leave a valid document; anything else is a bug or a bad literal.
    scan(&out)?;
    Ok(out)
}

fn set_value(src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
    parse(literal)?;
    let (root, has_meta) = parse_for_edit(src, path)?;
    let unit = match &root.kind {
        Kind::Object(members) => member_indents(src, members).1,
        _ => "  ",
    };
    let mut node = &root;
    for (i, seg) in path.segments.iter().enumerate() {
        match &node.kind {
            Kind::Object(members) => {
                let view = if i == 0 && has_meta {
                    members.len() - 1
                } else {
                    members.len()
                };
                match members[..view].iter().find(|m| &m.key == seg) {
                    Some(m) => node = &m.value,
                    None => {
                        let (range, text) = add_member(
                            src,
                            node,
                            members,
                            view,
                            &path.segments[i..],
                            literal,
                            unit,
                        );
                        return finish(src, range, &text);
                    }
                }
            }
            Kind::Array(items) => match parse_index(seg) {
                Some(idx) if idx < items.len() => node = &items[idx],
                Some(idx) if idx == items.len() => {
                    let (range, text) =
                        add_item(src, node, items, &path.segments[i + 1..], literal, unit);
                    return finish(src, range, &text);
                }
                _ => return Err(EditError::NotFound(path.to_string())),
            },
            Kind::Scalar => {
                return Err(EditError::NotAContainer(
                    prefix_name(path, i),
                    path.to_string(),
                ))
            }
        }
    }
    match node.kind {
        Kind::Scalar => finish(src, node.span.clone(), literal),
        _ => Err(EditError::NotALeaf(path.to_string())),
    }
}

fn remove_value(src: &str, path: &PathQuery) -> Result<String, EditError> {
    let (root, _) = parse_for_edit(src, path)?;
    let mut node = &root;
    let last = path.segments.len() - 1;
    for (i, seg) in path.segments.iter().enumerate() {
        // Each entry: from its key (or value) to the end of its value.
        let (entries, found): (Vec<Range<usize>>, Option<(usize, &Node)>) = match &node.kind {
            Kind::Object(members) => (
                members
                    .iter()
                    .map(|m| m.key_span.start..m.value.span.end)
                    .collect(),
                members
                    .iter()
                    .enumerate()
                    .find(|(_, m)| &m.key == seg)
                    .map(|(j, m)| (j, &m.value)),
            ),
            Kind::Array(items) => (
                items.iter().map(|n| n.span.clone()).collect(),
                parse_index(seg).and_then(|j| items.get(j).map(|n| (j, n))),
            ),
            Kind::Scalar => {
                return Err(EditError::NotAContainer(
                    prefix_name(path, i),
                    path.to_string(),
                ))
            }
        };
        let Some((j, child)) = found else {
            return Err(EditError::NotFound(path.to_string()));
        };
        if i < last {
            node = child;
            continue;
        }
        let range = if entries.len() == 1 {
            node.span.start + 1..node.span.end - 1
        } else if j + 1 < entries.len() {
            entries[j].start..entries[j + 1].start
        } else {
            entries[j - 1].end..entries[j].end
        };
        return finish(src, range, "");
    }
    Err(EditError::NotFound(path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn q(s: &str) -> PathQuery {
        PathQuery::parse(s).unwrap()
    }

    fn meta() -> Metadata {
        Metadata {
            version: 1,
            modified: "2026-11-23T11:30:00Z".into(),
            encrypt: vec!["db.*".into()],
            recipients: vec![WrappedKey {
                recipient: "age1xyz".into(),
                data_key:
                    "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
                        .into(),
            }],
            mac: "bWFj".into(),
        }
    }

    fn texts(src: &str) -> Vec<(String, String)> {
        scan(src)
            .unwrap()
            .leaves
            .iter()
            .map(|l| (l.path.to_string(), src[l.span.clone()].to_owned()))
            .collect()
    }

    fn vals(src: &str) -> Vec<(String, String)> {
        values(src)
            .unwrap()
            .into_iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect()
    }

    fn err(src: &str) -> (usize, usize, String) {
        let e = scan(src).unwrap_err();
        (e.line, e.column, e.message)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn compact_and_pretty() {
        let src = r#"{"a":"x","b":{"c":[1,-2.5e+3,true,null,false]},"e":{},"f":[]}"#;
        assert_eq!(
            texts(src),
            pairs(&[
                ("a", "\"x\""),
                ("b.c.0", "1"),
                ("b.c.1", "-2.5e+3"),
                ("b.c.2", "true"),
                ("b.c.3", "null"),
                ("b.c.4", "false")
            ])
        );
        let pretty = "{\r\n  \"db\": {\r\n    \"pass\": \"s3cret\",\r\n    \"port\": 5432\r\n  },\r\n  \"list\": [\r\n    [0E0, \"\"]\r\n  ]\r\n}";
        assert_eq!(
            texts(pretty),
            pairs(&[
                ("db.pass", "\"s3cret\""),
                ("db.port", "5432"),
                ("list.0.0", "0E0"),
                ("list.0.1", "\"\"")
            ])
        );
        assert_eq!(vals(pretty)[0].1, "s3cret");
        assert!(scan("{}").unwrap().leaves.is_empty());
        assert!(scan(" [ ] \n").unwrap().leaves.is_empty());
        assert_eq!(texts("\"top\"\n"), pairs(&[("", "\"top\"")]));
    }

    #[test]
    fn escapes_and_unicode_keys() {
        let src =
            r#"{"caf\u00e9":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","ключ":"значение","x":-0.5E-7}"#;
        let v = values(src).unwrap();
        assert_eq!(v[0].0, KeyPath::key("café"));
        assert_eq!(v[0].1.as_str(), "é😀\"\\/\u{8}\u{c}\n\r\t");
        assert_eq!(v[1].0, KeyPath::key("ключ"));
        assert_eq!(v[1].1.as_str(), "значение");
        assert_eq!(v[2].1.as_str(), "-0.5E-7");
        assert_eq!(
            string_literal("a\"\\\n\u{1}é"),
            serde_json::to_string("a\"\\\n\u{1}é").unwrap()
        );
    }

    #[test]
    fn errors_have_positions_and_no_input() {
        assert_eq!(
            err("{\"a\": \"secret"),
            (1, 7, "unterminated string".into())
        );
        assert_eq!(err("{\"a\": 1,\n}"), (1, 8, "trailing comma".into()));
        assert_eq!(err("[1,2,]"), (1, 5, "trailing comma".into()));
        assert_eq!(
            err("{\"a\":1,\n \"a\":2}"),
            (2, 2, "duplicate member name in this object".into())
        );
        assert_eq!(
            err("{\"a\":1,\"\\u0061\":2}").2,
            "duplicate member name in this object"
        );
        assert_eq!(err("{\"a\": 1").0, 1);
        assert_eq!(err("{\"a\": 1").1, 8);
        assert_eq!(
            err(""),
            (1, 1, "unexpected end of input, expected a value".into())
        );
        assert_eq!(err("{'a': 1}").1, 2);
        assert_eq!(err("[NaN]").1, 2);
        assert_eq!(err("[01]").2, "invalid number (leading zero)");
        assert_eq!(err("[1.]").1, 2);
        assert_eq!(err("[\"\\ud800\"]").2, "unpaired surrogate in \\u escape");
        assert_eq!(err("[\"\\x\"]").1, 3);
        assert_eq!(err("{} {}").1, 4);
        assert_eq!(err("// c\n{}").1, 1);
        assert_eq!(err("[\"a\tb\"]").1, 4);
        let deep = "[".repeat(10_000);
        assert_eq!(
            err(&deep),
            (
                1,
                129,
                "objects and arrays are nested more than 128 levels deep".into()
            )
        );
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(scan(&ok).is_ok());
        // Binary garbage never panics and never echoes input.
        let garbage =
            String::from_utf8_lossy(&[0xff, 0x00, b'{', 0xc3, 0x28, b'"', 0x80]).into_owned();
        assert!(scan(&garbage).is_err());
        assert!(!err("{\"a\": qzx}").2.contains("qzx"));
        assert!(!err("{\"a\": tqzx}").2.contains("qzx"));
    }

    #[test]
    fn metadata_attach_scan_and_remove() {
        let body = "{\n    \"a\": \"x\"\n}\n";
        let sealed = attach_metadata(body, &meta()).unwrap();
        let expected = "{\n    \"a\": \"x\",\n    \"seal\": {\n        \"version\": 1,\n        \"modified\": \"2026-11-23T11:30:00Z\",\n        \"encrypt\": [\n            \"db.*\"\n        ],\n        \"recipients\": [\n            {\n                \"recipient\": \"age1xyz\",\n                \"data_key\": \"-----BEGIN AGE ENCRYPTED FILE-----\\nYWdl\\n-----END AGE ENCRYPTED FILE-----\\n\"\n            }\n        ],\n        \"mac\": \"bWFj\"\n    }\n}\n";
        assert_eq!(sealed, expected);
        let s = scan(&sealed).unwrap();
        let block = s.metadata.unwrap();
        assert_eq!(block.metadata, meta());
        assert_eq!(s.leaves.len(), 1);
        assert_eq!(
            format!(
                "{}{}",
                &sealed[..block.region.start],
                &sealed[block.region.end..]
            ),
            body
        );

        let compact = attach_metadata(
            "{}",
            &Metadata {
                encrypt: vec![],
                ..meta()
            },
        )
        .unwrap();
        assert!(compact.starts_with("{\"seal\":{\"version\":1,\"modified\":"));
        assert!(!compact.contains("encrypt"));
        let block = scan(&compact).unwrap().metadata.unwrap();
        assert_eq!(block.region.start, 1);
        assert!(matches!(
            attach_metadata("[1]", &meta()),
            Err(EditError::Unsupported(_))
        ));
        assert!(matches!(
            attach_metadata(&sealed, &meta()),
            Err(EditError::Unsupported(_))
        ));
    }

    #[test]
    fn metadata_errors() {
        assert_eq!(
            err("{\"seal\": {}, \"a\": 1}").2,
            "the seal metadata must be the last member of the top-level object"
        );
        assert_eq!(
            err("{\"seal\": {\"version\": 2, \"x\": 1}}").2,
            "sealed with format version 2; this seal reads version 1"
        );
        assert_eq!(
            err("{\"seal\": {\"version\": 1, \"x\": 1}}"),
            (1, 25, "unknown seal metadata field".into())
        );
        assert_eq!(
            err("{\"seal\": {\"version\": 1}}").2,
            "seal metadata has no modified field"
        );
        assert_eq!(
            err("{\"seal\": {\"version\": \"1\"}}").2,
            "seal metadata field version must be an integer"
        );
        assert_eq!(
            err("{\"seal\": []}").2,
            "the seal metadata must be an object"
        );
        // A seal member in a nested object is ordinary data.
        assert_eq!(texts("{\"a\": {\"seal\": 1}}").len(), 1);
    }

    #[test]
    fn set_existing_and_new() {
        let src = "{\n  \"a\": \"x\",\n  \"b\": [1, 2]\n}\n";
        assert_eq!(
            set_value(src, &q("a"), "\"y\"").unwrap(),
            src.replace("\"x\"", "\"y\"")
        );
        assert_eq!(
            set_value(src, &q("c"), "3").unwrap(),
            "{\n  \"a\": \"x\",\n  \"b\": [1, 2],\n  \"c\": 3\n}\n"
        );
        assert_eq!(
            set_value(src, &q("b.2"), "3").unwrap(),
            "{\n  \"a\": \"x\",\n  \"b\": [1, 2, 3]\n}\n"
        );
        assert_eq!(
            set_value(src, &q("d.e"), "true").unwrap(),
            "{\n  \"a\": \"x\",\n  \"b\": [1, 2],\n  \"d\": {\n    \"e\": true\n  }\n}\n"
        );
        assert_eq!(
            set_value("{}\n", &q("k"), "1").unwrap(),
            "{\n  \"k\": 1\n}\n"
        );
        assert_eq!(
            set_value("{}", &q("k.l"), "1").unwrap(),
            "{\"k\":{\"l\":1}}"
        );
        assert_eq!(
            set_value("{\"a\":1}", &q("b"), "2").unwrap(),
            "{\"a\":1,\"b\":2}"
        );
        assert_eq!(
            set_value("{\"a\": 1, \"b\": 2}", &q("c"), "3").unwrap(),
            "{\"a\": 1, \"b\": 2, \"c\": 3}"
        );
        assert_eq!(set_value("[]", &q("0"), "\"v\"").unwrap(), "[\"v\"]");
        assert!(
            matches!(set_value(src, &q("a.z"), "1"), Err(EditError::NotAContainer(p, _)) if p == "a")
        );
        assert!(matches!(
            set_value(src, &q("b"), "1"),
            Err(EditError::NotALeaf(_))
        ));
        assert!(matches!(
            set_value(src, &q("b.3"), "1"),
            Err(EditError::NotFound(_))
        ));
        assert!(matches!(
            set_value(src, &q("b.01"), "1"),
            Err(EditError::NotFound(_))
        ));
        assert!(matches!(
            set_value(src, &q("seal"), "1"),
            Err(EditError::Unsupported(_))
        ));
        assert!(matches!(
            set_value(src, &q("a"), "nope"),
            Err(EditError::Parse(_))
        ));
    }

    #[test]
    fn set_keeps_metadata_last() {
        for body in ["{\n  \"a\": 1\n}\n", "{\"a\":1}", "{}", "{\n}\n"] {
            let sealed = attach_metadata(body, &meta()).unwrap();
            let out = set_value(&sealed, &q("n"), "2").unwrap();
            let s = scan(&out).unwrap();
            assert!(s.metadata.is_some(), "{out}");
            assert_eq!(s.leaves.last().unwrap().path, KeyPath::key("n"));
            let r = s.metadata.unwrap().region;
            let plain = format!("{}{}", &out[..r.start], &out[r.end..]);
            assert_eq!(
                vals(&plain).last().unwrap(),
                &("n".to_string(), "2".to_string())
            );
        }
    }

    #[test]
    fn remove() {
        let src = "{\n  \"a\": 1,\n  \"b\": {\"c\": [1, 2, 3]},\n  \"d\": 4\n}";
        assert_eq!(
            remove_value(src, &q("a")).unwrap(),
            "{\n  \"b\": {\"c\": [1, 2, 3]},\n  \"d\": 4\n}"
        );
        assert_eq!(
            remove_value(src, &q("d")).unwrap(),
            "{\n  \"a\": 1,\n  \"b\": {\"c\": [1, 2, 3]}\n}"
        );
        assert_eq!(
            remove_value(src, &q("b.c.1")).unwrap(),
            src.replace("[1, 2, 3]", "[1, 3]")
        );
        assert_eq!(
            remove_value(src, &q("b.c.2")).unwrap(),
            src.replace("[1, 2, 3]", "[1, 2]")
        );
        assert_eq!(
            remove_value(src, &q("b.c")).unwrap(),
            src.replace("{\"c\": [1, 2, 3]}", "{}")
        );
        assert_eq!(remove_value("{\n  \"a\": 1\n}\n", &q("a")).unwrap(), "{}\n");
        assert!(matches!(
            remove_value(src, &q("x")),
            Err(EditError::NotFound(_))
        ));
        assert!(matches!(
            remove_value(src, &q("a.b")),
            Err(EditError::NotAContainer(..))
        ));
        let sealed = attach_metadata(src, &meta()).unwrap();
        let out = remove_value(&sealed, &q("d")).unwrap();
        assert!(scan(&out).unwrap().metadata.is_some());
        assert_eq!(scan(&out).unwrap().leaves.len(), 4);
    }

    #[test]
    fn ten_thousand_values_scan_fast() {
        let body: Vec<String> = (0..10_000)
            .map(|i| format!("  \"key{i}\": \"value number {i}\""))
            .collect();
        let src = format!("{{\n{}\n}}\n", body.join(",\n"));
        let start = std::time::Instant::now();
        assert_eq!(scan(&src).unwrap().leaves.len(), 10_000);
        // Generous bound: debug build on a slow machine; release is a few ms.
        assert!(start.elapsed().as_millis() < 2000);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\\u{e9}\"\\\\ ]{0,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-z]{1,5}", arb_json(), 1..5)
            .prop_map(|m| Value::Object(m.into_iter().filter(|(k, _)| k != RESERVED_KEY).collect()))
    }

    /// Render in one of several styles: compact, two spaces, tab, CRLF.
    fn render(v: &Value, style: u8) -> String {
        use serde::Serialize;
        let pretty = |indent: &[u8]| {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            v.serialize(&mut ser).unwrap();
            String::from_utf8(buf).unwrap()
        };
        match style % 5 {
            0 => serde_json::to_string(v).unwrap(),
            1 => pretty(b"  ") + "\n",
            2 => pretty(b"\t"),
            3 => (pretty(b"    ") + "\n").replace('\n', "\r\n"),
            _ => format!(" {} ", serde_json::to_string(v).unwrap()),
        }
    }

    fn pointer(path: &KeyPath) -> String {
        path.strings()
            .iter()
            .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
            .collect()
    }

    proptest! {
        #[test]
        fn crucial_property(v in arb_json(), style in 0u8..5) {
            let src = render(&v, style);
            let s = scan(&src).unwrap();
            // Values agree with serde_json.
            for (path, text) in values(&src).unwrap() {
                let expected = v.pointer(&pointer(&path)).unwrap();
                match expected {
                    Value::String(e) => prop_assert_eq!(text.as_str(), e.as_str()),
                    other => prop_assert_eq!(text.as_str(), other.to_string()),
                }
            }
            let mut sealed = src.clone();
            for leaf in s.leaves.iter().rev() {
                sealed.replace_range(leaf.span.clone(), "\"seal.v1.AAAA-_z\"");
            }
            let s2 = scan(&sealed).unwrap();
            prop_assert_eq!(
                s.leaves.iter().map(|l| &l.path).collect::<Vec<_>>(),
                s2.leaves.iter().map(|l| &l.path).collect::<Vec<_>>()
            );
            let mut back = sealed.clone();
            for (a, b) in s.leaves.iter().zip(&s2.leaves).rev() {
                back.replace_range(b.span.clone(), &src[a.span.clone()]);
            }
            prop_assert_eq!(back, src);
        }

        #[test]
        fn metadata_round_trip(v in arb_object(), style in 0u8..5, ws in "[ \t\r\n]{0,4}", enc in prop::collection::vec("[a-z.*]{1,5}", 0..3)) {
            let mut body = render(&v, style);
            // Odd whitespace before the closing brace.
            if let Some(i) = body.rfind('}') {
                body.insert_str(i, &ws);
            }
            let m = Metadata { encrypt: enc, ..meta() };
            let sealed = attach_metadata(&body, &m).unwrap();
            let s = scan(&sealed).unwrap();
            let block = s.metadata.unwrap();
            prop_assert_eq!(&block.metadata, &m);
            prop_assert_eq!(format!("{}{}", &sealed[..block.region.start], &sealed[block.region.end..]), body.clone());
            prop_assert_eq!(s.leaves, scan(&body).unwrap().leaves);
        }

        #[test]
        fn edits_touch_only_their_bytes(v in arb_object(), style in 0u8..5, pick in any::<prop::sample::Index>()) {
            let src = render(&v, style);
            let leaves = scan(&src).unwrap().leaves;
            prop_assume!(!leaves.is_empty() && !leaves.iter().any(|l| l.path.segments.is_empty()));
            let leaf = &leaves[pick.index(leaves.len())];
            let query = PathQuery { doc: 0, segments: leaf.path.strings() };
            let set = set_value(&src, &query, "\"new\"").unwrap();
            let mut expected = src.clone();
            expected.replace_range(leaf.span.clone(), "\"new\"");
            prop_assert_eq!(set, expected);

            let removed = remove_value(&src, &query).unwrap();
            prop_assert_eq!(scan(&removed).unwrap().leaves.len(), leaves.len() - 1);
            // One contiguous deletion that covers the leaf.
            let prefix = src.bytes().zip(removed.bytes()).take_while(|(a, b)| a == b).count();
            let suffix = src.bytes().rev().zip(removed.bytes().rev()).take_while(|(a, b)| a == b).count();
            prop_assert!(prefix + suffix >= removed.len());
            let cut = src.len() - removed.len();
            let start = prefix.min(leaf.span.start);
            prop_assert!(start + cut >= leaf.span.end);
        }

        #[test]
        fn add_member_then_remove(v in arb_object(), style in 0u8..5) {
            let src = render(&v, style);
            let added = set_value(&src, &q("ZZ.new"), "\"v\"").unwrap();
            let got = vals(&added);
            prop_assert_eq!(got.last().unwrap(), &("ZZ.new".to_string(), "v".to_string()));
            prop_assert_eq!(got.len(), vals(&src).len() + 1);
            serde_json::from_str::<Value>(&added).unwrap();
        }

        #[test]
        fn agrees_with_serde_json(s in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,20}") {
            let ours = scan(&s);
            let theirs = serde_json::from_str::<Value>(&s);
            match &ours {
                Err(e) if e.message.starts_with("duplicate") => {}
                _ => prop_assert_eq!(ours.is_ok(), theirs.is_ok()),
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}", bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = scan(&s);
            let _ = scan(&String::from_utf8_lossy(&bytes));
            let _ = set_value(&s, &q("a.b"), "1");
            let _ = remove_value(&s, &q("a"));
        }
    }
}
