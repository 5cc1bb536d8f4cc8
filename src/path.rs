//! Key paths: where a value sits in a document.
//!
//! A [`KeyPath`] is what the parsers report for every value and what the
//! cipher binds each token to (spec/FORMAT.md, "Key paths"). A [`PathQuery`]
//! is what a user types on the command line: dotted (`database.password`,
//! `api_keys.0.key`) or a JSON Pointer (`/database/password`) for keys that
//! contain dots.

use std::fmt;

/// One step in a key path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A mapping key (YAML/JSON object key, dotenv variable name).
    Key(String),
    /// A position in a sequence, from 0.
    Index(usize),
}

/// The segments of a key path.
pub type Segments = Vec<Segment>;

/// The location of a value: the document number (YAML streams may hold
/// several documents; JSON and dotenv always use 0) and the segments from
/// the root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyPath {
    pub doc: usize,
    pub segments: Segments,
}

impl KeyPath {
    pub fn new(doc: usize, segments: Vec<Segment>) -> Self {
        KeyPath { doc, segments }
    }

    /// A path with a single key in document 0 (dotenv variables).
    pub fn key(name: &str) -> Self {
        KeyPath::key_owned(name.to_owned())
    }

    /// [`KeyPath::key`] taking the name's allocation.
    pub fn key_owned(name: String) -> Self {
        KeyPath {
            doc: 0,
            segments: vec![Segment::Key(name)],
        }
    }

    /// Canonical binary encoding used as AEAD associated data and MAC input
    /// (spec/FORMAT.md, "Key paths"): `u32be(doc) u32be(n)` then per segment
    /// either `'k' u32be(len) utf8` or `'i' u64be(index)`.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.segments.len() * 16);
        self.canonical_into(&mut out);
        out
    }

    /// Append the canonical encoding to `out`.
    pub fn canonical_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.doc as u32).to_be_bytes());
        out.extend_from_slice(&(self.segments.len() as u32).to_be_bytes());
        for seg in &self.segments {
            match seg {
                Segment::Key(k) => {
                    out.push(b'k');
                    out.extend_from_slice(&(k.len() as u32).to_be_bytes());
                    out.extend_from_slice(k.as_bytes());
                }
                Segment::Index(i) => {
                    out.push(b'i');
                    out.extend_from_slice(&(*i as u64).to_be_bytes());
                }
            }
        }
    }

    /// The key path as written in the metadata's `changed` field
    /// (spec/FORMAT.md, section 6.1): a JSON Pointer (RFC 6901: each
    /// segment after `/`, `~` as `~0` and `/` as `~1`, indices in decimal),
    /// preceded by the document number when it is not 0 (`1/a/b`).
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        self.pointer_into(&mut out);
        out
    }

    /// [`KeyPath::pointer`] appended to `out` (to reuse one buffer).
    pub fn pointer_into(&self, out: &mut String) {
        if self.doc > 0 {
            out.push_str(&self.doc.to_string());
        }
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Key(k) => {
                    for c in k.chars() {
                        match c {
                            '~' => out.push_str("~0"),
                            '/' => out.push_str("~1"),
                            c => out.push(c),
                        }
                    }
                }
                Segment::Index(i) => {
                    use std::fmt::Write;
                    let _ = write!(out, "{i}");
                }
            }
        }
    }

    /// Whether this path is what `query` names (document 0 unless the
    /// query says otherwise).
    pub fn matches(&self, query: &PathQuery) -> bool {
        self.doc == query.doc
            && self.segments.len() == query.segments.len()
            && self
                .segments
                .iter()
                .zip(&query.segments)
                .all(|(s, q)| segment_matches(s, q))
    }

    /// Whether `query` names this path or one of its ancestors.
    pub fn starts_with(&self, query: &PathQuery) -> bool {
        self.doc == query.doc
            && self.segments.len() >= query.segments.len()
            && self
                .segments
                .iter()
                .zip(&query.segments)
                .all(|(s, q)| segment_matches(s, q))
    }

    /// The segments as plain strings (indices in decimal).
    pub fn strings(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.clone(),
                Segment::Index(i) => i.to_string(),
            })
            .collect()
    }
}

fn segment_matches(seg: &Segment, query: &str) -> bool {
    match seg {
        Segment::Key(k) => k == query,
        Segment::Index(i) => *query == i.to_string(),
    }
}

/// Dotted form when it is unambiguous, JSON Pointer otherwise. Documents
/// after the first are shown with a `#N` suffix.
impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs_pointer = self.segments.iter().any(|s| match s {
            Segment::Key(k) => {
                k.is_empty() || k.contains(['.', '/', '~']) || k.contains(char::is_whitespace)
            }
            Segment::Index(_) => false,
        });
        if needs_pointer {
            for s in self.strings() {
                write!(f, "/{}", s.replace('~', "~0").replace('/', "~1"))?;
            }
        } else {
            write!(f, "{}", self.strings().join("."))?;
        }
        if self.doc > 0 {
            write!(f, " (document {})", self.doc + 1)?;
        }
        Ok(())
    }
}

/// A path typed by a user. Segments are untyped strings: `0` names both the
/// key `"0"` of a mapping and the first item of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathQuery {
    pub doc: usize,
    pub segments: Vec<String>,
}

/// Why a typed path could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path has an empty segment; use a JSON Pointer (/a/b) for keys that are empty or contain dots")]
    EmptySegment,
    #[error("invalid JSON Pointer escape (only ~0 and ~1 are allowed)")]
    BadEscape,
}

impl PathQuery {
    /// Parse `a.b.0` or `/a/b/0`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let segments = if let Some(rest) = text.strip_prefix('/') {
            rest.split('/')
                .map(unescape_pointer)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let segs: Vec<String> = text.split('.').map(str::to_owned).collect();
            if segs.iter().any(String::is_empty) {
                return Err(PathError::EmptySegment);
            }
            segs
        };
        Ok(PathQuery { doc: 0, segments })
    }

    /// The query as a changed-path (spec/FORMAT.md, 6.1.1), as
    /// [`KeyPath::pointer`] writes the path of a value it names: a
    /// `pending` entry names its value so.
    pub fn changed_path(&self) -> String {
        let mut out = String::new();
        if self.doc > 0 {
            out.push_str(&self.doc.to_string());
        }
        for s in &self.segments {
            out.push('/');
            out.push_str(&s.replace('~', "~0").replace('/', "~1"));
        }
        out
    }

    /// Read a changed-path back: the inverse of [`PathQuery::changed_path`].
    /// `None` for text that is not one (no segment, a document number
    /// written with a leading zero or as 0, a bad escape).
    pub fn from_changed_path(text: &str) -> Option<Self> {
        let slash = text.find('/')?;
        let doc = match &text[..slash] {
            "" => 0,
            n if n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0') => n.parse().ok()?,
            _ => return None,
        };
        let segments = text[slash + 1..]
            .split('/')
            .map(unescape_pointer)
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        Some(PathQuery { doc, segments })
    }
}

impl fmt::Display for PathQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self
            .segments
            .iter()
            .any(|s| s.is_empty() || s.contains('.'))
        {
            for s in &self.segments {
                write!(f, "/{}", s.replace('~', "~0").replace('/', "~1"))?;
            }
        } else {
            f.write_str(&self.segments.join("."))?;
        }
        if self.doc > 0 {
            write!(f, " (document {})", self.doc + 1)?;
        }
        Ok(())
    }
}

fn unescape_pointer(seg: &str) -> Result<String, PathError> {
    let mut out = String::with_capacity(seg.len());
    let mut chars = seg.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return Err(PathError::BadEscape),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_pointer_forms() {
        assert_eq!(PathQuery::parse("a.b.0").unwrap().segments, ["a", "b", "0"]);
        assert_eq!(
            PathQuery::parse("/a.b/c~1d/e~0").unwrap().segments,
            ["a.b", "c/d", "e~"]
        );
        assert_eq!(PathQuery::parse(""), Err(PathError::Empty));
        assert_eq!(PathQuery::parse("a..b"), Err(PathError::EmptySegment));
        assert_eq!(PathQuery::parse("/a~2"), Err(PathError::BadEscape));
    }

    #[test]
    fn matching_is_by_text_for_indices() {
        let p = KeyPath::new(0, vec![Segment::Key("keys".into()), Segment::Index(1)]);
        assert!(p.matches(&PathQuery::parse("keys.1").unwrap()));
        assert!(!p.matches(&PathQuery::parse("keys.01").unwrap()));
        assert!(p.starts_with(&PathQuery::parse("keys").unwrap()));
    }

    #[test]
    fn canonical_encoding_distinguishes_key_from_index() {
        let a = KeyPath::new(0, vec![Segment::Key("0".into())]);
        let b = KeyPath::new(0, vec![Segment::Index(0)]);
        assert_ne!(a.canonical(), b.canonical());
        let c = KeyPath::new(0, vec![Segment::Key("a".into()), Segment::Key("b".into())]);
        let d = KeyPath::new(0, vec![Segment::Key("a.b".into())]);
        assert_ne!(c.canonical(), d.canonical());
    }

    #[test]
    fn display_prefers_dots() {
        let p = KeyPath::new(0, vec![Segment::Key("db".into()), Segment::Index(2)]);
        assert_eq!(p.to_string(), "db.2");
        let q = KeyPath::new(0, vec![Segment::Key("a.b".into())]);
        assert_eq!(q.to_string(), "/a.b");
    }

    /// The `changed` keys (spec section 6.1.1): JSON Pointer escapes, the
    /// document number only after the first document.
    #[test]
    fn pointers_for_changed() {
        let p = KeyPath::new(
            0,
            vec![
                Segment::Key("a/b~c".into()),
                Segment::Index(3),
                Segment::Key("".into()),
            ],
        );
        assert_eq!(p.pointer(), "/a~1b~0c/3/");
        assert_eq!(KeyPath::key("DB_PASSWORD").pointer(), "/DB_PASSWORD");
        let later = KeyPath::new(2, vec![Segment::Key("x".into())]);
        assert_eq!(later.pointer(), "2/x");
        assert_eq!(KeyPath::new(0, vec![]).pointer(), "");
        assert_eq!(KeyPath::new(1, vec![]).pointer(), "1");
    }

    #[test]
    fn queries_round_trip_through_changed_paths() {
        for text in ["/a~1b~0c/3/", "/DB_PASSWORD", "2/x", "/"] {
            let q = PathQuery::from_changed_path(text).unwrap();
            assert_eq!(q.changed_path(), text);
        }
        let q = PathQuery::parse("database.password").unwrap();
        assert_eq!(q.changed_path(), "/database/password");
        let mut later = q.clone();
        later.doc = 1;
        assert_eq!(PathQuery::from_changed_path(&later.changed_path()), Some(later));
        for bad in ["", "x", "0/a", "01/a", "a/b", "/a~2"] {
            assert_eq!(PathQuery::from_changed_path(bad), None, "{bad}");
        }
    }
}
