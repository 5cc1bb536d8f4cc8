//! The scanner: strict RFC 8259 into a tree of [`Node`]s that keep exact
//! byte ranges (string values keep their quotes). Errors carry a position
//! and never quote the input.

use std::collections::HashSet;
use std::ops::Range;

use zeroize::Zeroizing;

use crate::format::ParseError;

/// Deepest nesting of objects and arrays accepted (serde_json's limit too),
/// so recursion stays bounded on hostile input.
const MAX_DEPTH: usize = 128;

pub(super) struct Member {
    /// Unescaped member name.
    pub(super) key: String,
    pub(super) key_span: Range<usize>,
    pub(super) value: Node,
}

pub(super) enum Kind {
    Scalar,
    Object(Vec<Member>),
    Array(Vec<Node>),
}

pub(super) struct Node {
    pub(super) span: Range<usize>,
    pub(super) kind: Kind,
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
pub(super) fn parse(src: &str) -> Result<Node, ParseError> {
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
pub(super) fn unescape_into(src: &str, start: usize, out: &mut String) -> Result<(), ParseError> {
    Parser::new(src, start).string(Some(out))
}

/// The value whose source text is `src[span]`: a string unescaped, any
/// other scalar as written; an error unless the text is exactly one scalar
/// (a decrypted value is text nobody has parsed in place yet).
pub(super) fn value_at(src: &str, span: Range<usize>) -> Result<Zeroizing<String>, ParseError> {
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
