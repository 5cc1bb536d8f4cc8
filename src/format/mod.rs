//! File formats: find each value's byte span, read and write the metadata
//! block, and edit plaintext documents in place.
//!
//! Parsers never see keys or ciphertext semantics: they report where values
//! are ([`Leaf`]) and where the metadata block is ([`MetadataBlock`]). The
//! sealing pipeline (`crate::document`) replaces spans with tokens and back,
//! so a sealed file differs from its plaintext only inside values.
//!
//! Layout:
//!
//! * [`Format`] is what the rest of seal uses: it picks a format from a
//!   file name or `--format`, runs the checks every format shares (line
//!   endings) and hands the rest to the format's [`Syntax`].
//! * [`Syntax`] is the contract a format implements; its docs list the
//!   guarantees the pipeline relies on. [`yaml`], [`json`], [`toml`] and
//!   [`dotenv`] each implement it on a zero-sized type.
//! * `common` holds helpers that must behave the same in every format
//!   (splicing edits, array indices, double-quoted escapes, the metadata
//!   layout check).
//!
//! Adding a format means a module with a [`Syntax`] impl, a [`Format`]
//! variant, and a line in [`Format::syntax`] and in each of [`Format`]'s
//! naming methods (`from_path`, `from_name`, `name`, `extension`).

mod common;
pub mod dotenv;
pub mod json;
pub mod toml;
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
    Toml,
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
    /// The format a file name implies: `.yaml`/`.yml`, `.json`, `.toml`,
    /// `.env`, `*.env` and `.env.*`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".toml") {
            Some(Format::Toml)
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
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Toml => "toml",
        }
    }

    /// The usual file extension, for temporary files an editor should
    /// highlight.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "env",
            Format::Toml => "toml",
        }
    }

    /// The syntax this format is written in: what the methods below hand
    /// their work to.
    pub fn syntax(self) -> &'static dyn Syntax {
        match self {
            Format::Yaml => &yaml::Yaml,
            Format::Json => &json::Json,
            Format::Dotenv => &dotenv::Dotenv,
            Format::Toml => &toml::Toml,
        }
    }

    /// An empty document, for creating new files.
    pub fn empty_document(self) -> &'static str {
        self.syntax().empty_document()
    }

    pub fn scan(self, src: &str) -> Result<Scan, ParseError> {
        check_line_endings(src)?;
        self.syntax().scan(src)
    }

    /// Whether `text` is a sealed document of this format: it parses and
    /// carries a metadata block. Text that merely mentions the reserved key
    /// (a plaintext file with a `seal:` entry, a damaged block) is not.
    pub fn is_sealed(self, text: &str) -> bool {
        self.scan(text).is_ok_and(|s| s.metadata.is_some())
    }

    /// Whether `text` mentions seal's metadata where this format keeps it:
    /// a cheap test, without parsing, for finding the files that are or
    /// were meant to be sealed (a damaged one must still be reported, not
    /// passed over as plaintext).
    pub fn looks_sealed(self, text: &str) -> bool {
        match self {
            Format::Yaml => text.lines().any(|l| l.starts_with("seal:")),
            Format::Json => text.contains("\"seal\""),
            Format::Dotenv => text.contains("# seal: version="),
            Format::Toml => text.lines().any(|l| l.starts_with("[seal]")),
        }
    }

    /// The semantic value of every scalar leaf (strings unquoted and
    /// unescaped, other scalars as written), for `get` and `exec`.
    pub fn values(self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
        check_line_endings(src)?;
        self.syntax().values(src)
    }

    /// [`Format::values`], each with the byte offset in `src` where the
    /// source text of the value it shows starts (for a YAML value reached
    /// through an alias or merge key: where that value is written).
    #[allow(clippy::type_complexity)]
    pub fn located_values(
        self,
        src: &str,
    ) -> Result<Vec<(KeyPath, usize, Zeroizing<String>)>, ParseError> {
        check_line_endings(src)?;
        self.syntax().located_values(src)
    }

    /// Every value with its JSON type, and every empty mapping and
    /// sequence, in document order: what `seal get` prints a subtree from.
    pub fn typed_values(self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
        check_line_endings(src)?;
        self.syntax().typed_values(src)
    }

    /// See [`Syntax::value_at`].
    pub fn value_at(
        self,
        src: &str,
        span: Range<usize>,
    ) -> Option<Result<Zeroizing<String>, ParseError>> {
        self.syntax().value_at(src, span)
    }

    /// See [`Syntax::attach_metadata`].
    pub fn attach_metadata(self, body: &str, meta: &Metadata) -> Result<String, EditError> {
        self.syntax().attach_metadata(body, meta)
    }

    /// See [`Syntax::set_value`].
    pub fn set_value(
        self,
        src: &str,
        path: &PathQuery,
        literal: &str,
    ) -> Result<String, EditError> {
        self.syntax().set_value(src, path, literal)
    }

    /// See [`Syntax::remove_value`].
    pub fn remove_value(self, src: &str, path: &PathQuery) -> Result<String, EditError> {
        self.syntax().remove_value(src, path)
    }

    /// Source text that reads back as the string `value`.
    pub fn string_literal(self, value: &str) -> String {
        self.syntax().string_literal(value)
    }

    /// Append a token as it is written in place of a value (JSON needs a
    /// string).
    pub fn push_token(self, out: &mut String, token: &str) {
        self.syntax().push_token(out, token)
    }

    /// Bytes of quotes on each side of a token in its value's source text:
    /// the `"` of a JSON string, none elsewhere (see [`Format::token_in`]).
    pub fn token_quote(self) -> usize {
        self.syntax().token_quote()
    }

    /// The token a value's source text holds, if it is one.
    pub fn token_in(self, value_src: &str) -> Option<&str> {
        let inner = self.syntax().unquote_token(value_src)?;
        crate::token::looks_like_token(inner).then_some(inner)
    }
}

/// What a format implements: one zero-sized type per format ([`yaml::Yaml`],
/// [`json::Json`], [`toml::Toml`], [`dotenv::Dotenv`]), reached through
/// [`Format::syntax`].
///
/// The contract every implementation keeps, which the sealing pipeline
/// relies on:
///
/// * Spans are exact: `src[leaf.span]` is the value's whole source text, so
///   replacing it with a token and back restores the file byte for byte.
/// * Deleting [`MetadataBlock::region`] from a sealed file gives exactly the
///   text `attach_metadata` was given. The sealing pipeline re-scans what
///   `attach_metadata` returns and refuses output where this fails, so an
///   implementation need not parse its own output again.
/// * Errors never quote the input (values may be secrets), and errors about
///   the metadata block say so (see [`ParseError::concerns_metadata`]).
/// * Edits change only the bytes of the entry they touch, so comments and
///   layout elsewhere survive.
///
/// Callers go through [`Format`], which first refuses line endings no
/// format accepts; implementations may assume LF or CRLF.
pub trait Syntax: Sync {
    /// An empty document, for creating new files.
    fn empty_document(&self) -> &'static str {
        ""
    }

    /// Every value's span and the metadata block, if any.
    fn scan(&self, src: &str) -> Result<Scan, ParseError>;

    /// See [`Format::values`].
    fn values(&self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError>;

    /// See [`Format::typed_values`].
    fn typed_values(&self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError>;

    /// See [`Format::located_values`]. Formats whose values are found where
    /// they are written (every one but YAML: opening reads them in place)
    /// need not say where.
    #[allow(clippy::type_complexity)]
    fn located_values(
        &self,
        _src: &str,
    ) -> Result<Vec<(KeyPath, usize, Zeroizing<String>)>, ParseError> {
        Err(ParseError::new(
            1,
            1,
            "internal error: this format does not locate its values (please report this)",
        ))
    }

    /// What [`Syntax::values`] reports for the value whose source text is
    /// `src[span]`, read from that text alone, and an error unless it is
    /// exactly one value. `None` where scalars can only be read in context
    /// (YAML: indentation, block headers).
    fn value_at(
        &self,
        _src: &str,
        _span: Range<usize>,
    ) -> Option<Result<Zeroizing<String>, ParseError>> {
        None
    }

    /// Add the metadata block to a document that has none. Fails when the
    /// document cannot hold one (a YAML document whose top level is not a
    /// block mapping, a JSON document that is not an object).
    fn attach_metadata(&self, body: &str, meta: &Metadata) -> Result<String, EditError>;

    /// Replace the value at `path` with `literal` (source text in this
    /// format), or add it at the end of its parent mapping.
    fn set_value(&self, src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError>;

    /// Remove the entry at `path` (key and value).
    fn remove_value(&self, src: &str, path: &PathQuery) -> Result<String, EditError>;

    /// Source text that reads back as the string `value`.
    fn string_literal(&self, value: &str) -> String;

    /// How a token is written in place of a value.
    fn push_token(&self, out: &mut String, token: &str) {
        out.push_str(token)
    }

    /// Bytes of quotes on each side of a rendered token.
    fn token_quote(&self) -> usize {
        0
    }

    /// The text between a rendered token's quotes, if `value_src` has them.
    fn unquote_token<'s>(&self, value_src: &'s str) -> Option<&'s str> {
        Some(value_src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_meta(version: u64) -> Metadata {
        Metadata {
            version,
            modified: "2026-12-07T10:00:00Z".into(),
            encrypt: vec![],
            changed: vec![],
            recipients: vec![crate::metadata::WrappedKey {
                recipient: "age1xyz".into(),
                data_key: "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            }],
            groups: Vec::new(),
            default_mac: String::new(),
            pending: Vec::new(),
            mac: "bWFj".into(),
            signed: Some(crate::metadata::Signed {
                signer: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOzMGQY0EGvmmdWAyCM2xXIzut6Mrk8/YLj2W38furOu a b".into(),
                signature: "-----BEGIN SSH SIGNATURE-----\nU1NI\nU0lH\n-----END SSH SIGNATURE-----\n".into(),
            }),
        }
    }

    /// `signer` and `signature` are written after `mac` in every format,
    /// read back as written, and removing the block restores the body.
    #[test]
    fn signature_fields_round_trip_in_every_format() {
        for (format, body) in [
            (Format::Yaml, "a: 1\n"),
            (Format::Json, "{\n  \"a\": 1\n}\n"),
            (Format::Dotenv, "A=1\n"),
            (Format::Toml, "a = 1\n"),
        ] {
            let meta = signed_meta(2);
            let sealed = format.attach_metadata(body, &meta).unwrap();
            let mac_at = sealed.find("mac").unwrap();
            assert!(sealed.find("signer").unwrap() > mac_at, "{format:?}");
            assert!(sealed.find("signature").unwrap() > sealed.find("signer").unwrap());
            let block = format.scan(&sealed).unwrap().metadata.unwrap();
            assert_eq!(block.metadata, meta, "{format:?}");
            let mut rest = sealed.clone();
            rest.replace_range(block.region, "");
            assert_eq!(rest, body, "{format:?}");
            // Version 1 has no such fields.
            let v1 = sealed
                .replacen("version: 2", "version: 1", 1)
                .replacen("\"version\": 2", "\"version\": 1", 1)
                .replacen("version=2", "version=1", 1)
                .replacen("version = 2", "version = 1", 1);
            assert!(format.scan(&v1).is_err(), "{format:?}");
            // Both fields or neither.
            let mut half = meta.clone();
            half.signed = None;
            let unsigned = format.attach_metadata(body, &half).unwrap();
            let signer_only = match format {
                Format::Dotenv => {
                    unsigned.clone()
                        + &format!("# seal: signer={}\n", meta.signed.as_ref().unwrap().signer)
                }
                Format::Yaml => unsigned.clone() + "  signer: \"x\"\n",
                Format::Toml => unsigned.clone() + "signer = \"x\"\n",
                Format::Json => unsigned.replacen(
                    "\"mac\": \"bWFj\"",
                    "\"mac\": \"bWFj\",\n    \"signer\": \"x\"",
                    1,
                ),
            };
            assert!(
                format.scan(&signer_only).is_err(),
                "{format:?}: {signer_only}"
            );
        }
    }

    /// A damaged metadata block still looks sealed (so team commands report
    /// the file instead of passing over it) but is not sealed.
    #[test]
    fn a_damaged_sealed_file_looks_sealed_but_is_not_sealed() {
        for (format, damaged) in [
            (Format::Yaml, "a: 1\nseal: [\n"),
            (Format::Json, "{\"a\": 1, \"seal\": \n"),
            (Format::Dotenv, "A=1\n# seal: version=x\n"),
            (Format::Toml, "a = 1\n\n[seal]\nversion = \"x\"\n"),
        ] {
            assert!(format.looks_sealed(damaged), "{format:?}");
            assert!(!format.is_sealed(damaged), "{format:?}");
            assert!(!format.looks_sealed("a_plain: file\n"), "{format:?}");
        }
    }

    #[test]
    fn format_from_file_names() {
        for (name, f) in [
            ("a.yaml", Some(Format::Yaml)),
            ("a.YML", Some(Format::Yaml)),
            ("x.json", Some(Format::Json)),
            ("Cargo.toml", Some(Format::Toml)),
            ("pyproject.TOML", Some(Format::Toml)),
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
            (Format::Toml, "a = 1\rb = 2\n"),
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
            (Format::Toml, "seal = 1\n".to_owned()),
            (Format::Toml, "[seal]\nversion = 1\n\n[after]\n".to_owned()),
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
            (Format::Toml, "a = 1\na = 2\n"),
            (Format::Toml, "a = [1\n"),
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
