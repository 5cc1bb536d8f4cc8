//! File formats: find each value's byte span, read and write the metadata
//! block, and edit plaintext documents in place.
//!
//! Parsers never see keys or ciphertext semantics: they report where values
//! are ([`Leaf`]) and where the metadata block is ([`MetadataBlock`]). The
//! sealing pipeline (`crate::document`) replaces spans with tokens and back.
//!
//! Every format module (`yaml`, `json`, `dotenv`) exposes the same free
//! functions, dispatched by [`Format`]:
//!
//! * `scan(src) -> Result<Scan, ParseError>`
//! * `values(src) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError>`
//! * `attach_metadata(body, &Metadata) -> Result<String, EditError>`
//! * `set_value(src, &PathQuery, literal) -> Result<String, EditError>`
//! * `remove_value(src, &PathQuery) -> Result<String, EditError>`
//! * `string_literal(value) -> String`

mod common;
pub mod dotenv;
pub mod json;
pub mod yaml;

use std::ops::Range;
use std::path::Path;

use zeroize::Zeroizing;

use crate::metadata::Metadata;

use crate::path::{KeyPath, PathQuery};
use common::check_line_endings;
pub use common::line_ending;

/// The file formats seal understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
}

/// What kind of value a [`Leaf`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    /// A scalar with source text (quoted, plain, block or number/bool/null
    /// literal). The only kind that is ever encrypted.
    Scalar,
    /// A value with no source text at all (`key:` in YAML, `KEY=` in
    /// dotenv). Its span is empty and sits where a value would be written.
    Empty,
    /// A YAML alias (`*name`): a reference, never encrypted.
    Alias,
}

/// A value as it stands in JSON, for printing part of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Typed {
    /// Text, unquoted and unescaped.
    String(Zeroizing<String>),
    /// JSON text that stands for itself: a number, `true`, `false`, `null`,
    /// `[]` or `{}`.
    Literal(Zeroizing<String>),
}

impl Typed {
    fn literal(text: &str) -> Typed {
        Typed::Literal(Zeroizing::new(text.to_owned()))
    }
}

/// One value of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub path: KeyPath,
    /// Byte range of the value's exact source text: quotes, escapes, block
    /// scalar indicator and body included; anchors, tags, the key, the
    /// separator and trailing comments excluded.
    pub span: Range<usize>,
    pub kind: LeafKind,
}

/// The metadata block as found in a sealed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataBlock {
    /// Bytes to delete so the rest is exactly the document as it was before
    /// `attach_metadata` (the inverse of attaching).
    pub region: Range<usize>,
    pub metadata: Metadata,
}

/// The result of scanning a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Every value outside the metadata block, in document order.
    pub leaves: Vec<Leaf>,
    /// Present when the document carries a seal metadata block.
    pub metadata: Option<MetadataBlock>,
}

/// Malformed input. `line` and `column` are 1-based (column in characters).
/// The message never quotes the input's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    /// The error at byte offset `at` of `src`.
    pub fn at(src: &str, at: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(src, at);
        ParseError::new(line, column, message)
    }

    /// Whether the error is about the metadata block or the key reserved
    /// for it, not the format's syntax: every such message names "seal
    /// metadata" or "the reserved key" (tests hold each format to that).
    pub fn concerns_metadata(&self) -> bool {
        self.message.contains("seal metadata") || self.message.contains("the reserved key")
    }
}

/// 1-based line and character column of byte offset `at`.
pub fn line_col(src: &str, at: usize) -> (usize, usize) {
    let at = at.min(src.len());
    let mut at = at;
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    let before = &src[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Why an in-place edit of a plaintext document failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("no value at {0}")]
    NotFound(String),
    /// The path goes through a value that is not a mapping or sequence.
    #[error("{0} is not a mapping, so it cannot hold {1}")]
    NotAContainer(String, String),
    /// The path names a mapping or sequence, not a single value.
    #[error("{0} is a mapping or sequence, not a single value")]
    NotALeaf(String),
    #[error("{0}")]
    Unsupported(String),
}

impl Format {
    /// The format a file name implies: `.yaml`/`.yml`, `.json`, `.env`,
    /// `*.env` and `.env.*`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower == ".env" || lower.ends_with(".env") || lower.starts_with(".env.") {
            Some(Format::Dotenv)
        } else {
            None
        }
    }

    /// Parse a `--format` argument.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "dotenv" | "env" => Some(Format::Dotenv),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
        }
    }

    /// The usual file extension, for temporary files an editor should
    /// highlight.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "env",
        }
    }

    /// An empty document, for creating new files.
    pub fn empty_document(self) -> &'static str {
        match self {
            Format::Yaml => "",
            Format::Json => "{}\n",
            Format::Dotenv => "",
        }
    }

    pub fn scan(self, src: &str) -> Result<Scan, ParseError> {
        check_line_endings(src)?;
        match self {
            Format::Yaml => yaml::scan(src),
            Format::Json => json::scan(src),
            Format::Dotenv => dotenv::scan(src),
        }
    }

    /// The semantic value of every scalar leaf (strings unquoted and
    /// unescaped, other scalars as written), for `get` and `exec`.
    pub fn values(self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
        check_line_endings(src)?;
        match self {
            Format::Yaml => yaml::values(src),
            Format::Json => json::values(src),
            Format::Dotenv => dotenv::values(src),
        }
    }

    /// Every value with its JSON type, and every empty mapping and
    /// sequence, in document order: what `seal get` prints a subtree from.
    pub fn typed_values(self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
        check_line_endings(src)?;
        match self {
            Format::Yaml => yaml::typed_values(src),
            Format::Json => json::typed_values(src),
            Format::Dotenv => Ok(dotenv::values(src)?
                .into_iter()
                .map(|(path, value)| (path, Typed::String(value)))
                .collect()),
        }
    }

    /// What [`Format::values`] reports for the value whose source text is
    /// `src[span]`, read from that text alone, and an error unless it is
    /// exactly one value. `None` for YAML, whose scalars can only be read in
    /// context (indentation, block headers).
    pub fn value_at(
        self,
        src: &str,
        span: Range<usize>,
    ) -> Option<Result<Zeroizing<String>, ParseError>> {
        match self {
            Format::Yaml => None,
            Format::Json => Some(json::value_at(src, span)),
            Format::Dotenv => Some(dotenv::value_at(src, span)),
        }
    }

    /// Add the metadata block to a document that has none. Fails when the
    /// document cannot hold one (a YAML document whose top level is not a
    /// block mapping, a JSON document that is not an object).
    pub fn attach_metadata(self, body: &str, meta: &Metadata) -> Result<String, EditError> {
        match self {
            Format::Yaml => yaml::attach_metadata(body, meta),
            Format::Json => json::attach_metadata(body, meta),
            Format::Dotenv => dotenv::attach_metadata(body, meta),
        }
    }

    /// Replace the value at `path` with `literal` (source text in this
    /// format), or add it at the end of its parent mapping.
    pub fn set_value(
        self,
        src: &str,
        path: &PathQuery,
        literal: &str,
    ) -> Result<String, EditError> {
        match self {
            Format::Yaml => yaml::set_value(src, path, literal),
            Format::Json => json::set_value(src, path, literal),
            Format::Dotenv => dotenv::set_value(src, path, literal),
        }
    }

    /// Remove the entry at `path` (key and value).
    pub fn remove_value(self, src: &str, path: &PathQuery) -> Result<String, EditError> {
        match self {
            Format::Yaml => yaml::remove_value(src, path),
            Format::Json => json::remove_value(src, path),
            Format::Dotenv => dotenv::remove_value(src, path),
        }
    }

    /// Source text that reads back as the string `value`.
    pub fn string_literal(self, value: &str) -> String {
        match self {
            Format::Yaml => yaml::string_literal(value),
            Format::Json => json::string_literal(value),
            Format::Dotenv => dotenv::string_literal(value),
        }
    }

    /// How a token is written in place of a value: JSON needs a string.
    pub fn render_token(self, token: &str) -> String {
        match self {
            Format::Json => format!("\"{token}\""),
            Format::Yaml | Format::Dotenv => token.to_owned(),
        }
    }

    /// Bytes of quotes on each side of a token in its value's source text:
    /// the `"` of a JSON string, none elsewhere (see [`Format::token_in`]).
    pub fn token_quote(self) -> usize {
        match self {
            Format::Json => 1,
            Format::Yaml | Format::Dotenv => 0,
        }
    }

    /// The token a value's source text holds, if it is one.
    pub fn token_in(self, value_src: &str) -> Option<&str> {
        let inner = match self {
            Format::Json => value_src.strip_prefix('"')?.strip_suffix('"')?,
            Format::Yaml | Format::Dotenv => value_src,
        };
        crate::token::looks_like_token(inner).then_some(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_file_names() {
        for (name, f) in [
            ("a.yaml", Some(Format::Yaml)),
            ("a.YML", Some(Format::Yaml)),
            ("x.json", Some(Format::Json)),
            (".env", Some(Format::Dotenv)),
            ("prod.env", Some(Format::Dotenv)),
            (".env.local", Some(Format::Dotenv)),
            ("notes.txt", None),
        ] {
            assert_eq!(Format::from_path(Path::new(name)), f, "{name}");
        }
    }

    #[test]
    fn lone_carriage_returns_are_refused() {
        for (format, text) in [
            (Format::Yaml, ":\r"),
            (Format::Yaml, "a: 1\r"),
            (Format::Dotenv, "A=1\r\nB=2\r"),
        ] {
            let err = format.scan(text).unwrap_err();
            assert!(err.message.contains("carriage return"), "{err}");
        }
        assert_eq!(Format::Dotenv.scan("A=1\r\nB=2\r").unwrap_err().line, 2);
        assert!(Format::Yaml.scan("a: 1\r\nb: 2\r\n").is_ok());
    }

    /// Errors about the metadata block or its reserved key are told apart
    /// from syntax errors (the CLI's hint depends on it), in every format.
    #[test]
    fn metadata_errors_are_told_from_syntax_errors() {
        let block = "# seal: version=1\n# seal: modified=2026-01-01T00:00:00Z\n";
        let about_metadata = [
            (Format::Yaml, "seal: mine\na: 1\n".to_owned()),
            (Format::Yaml, "a: 1\nseal: mine\n".to_owned()),
            (Format::Yaml, "---\nseal: {}\n---\na: 1\n".to_owned()),
            (Format::Yaml, "a: 1\nseal: {version: 1}\n".to_owned()),
            (Format::Json, "{\"seal\": 1, \"a\": 2}".to_owned()),
            (Format::Json, "{\"a\": 2, \"seal\": 1}".to_owned()),
            (
                Format::Json,
                "{\"a\": 2, \"seal\": {\"version\": 1}}".to_owned(),
            ),
            (Format::Dotenv, format!("A=1\n{block}# seal: bogus=2\n")),
            (Format::Dotenv, format!("A=1\n{block}B=2\n")),
        ];
        for (format, text) in &about_metadata {
            let err = format.scan(text).unwrap_err();
            assert!(err.concerns_metadata(), "{format:?} {text:?}: {err}");
        }
        let syntax = [
            (Format::Yaml, "a: [1\n"),
            (Format::Yaml, "a: 1\na: 2\n"),
            (Format::Yaml, "a: `x`\n"),
            (Format::Json, "{\"a\": 1,}"),
            (Format::Dotenv, "A=\"x\n"),
            (Format::Dotenv, "not a line\n"),
        ];
        for (format, text) in syntax {
            let err = format.scan(text).unwrap_err();
            assert!(!err.concerns_metadata(), "{format:?} {text:?}: {err}");
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
