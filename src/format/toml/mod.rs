//! TOML documents (TOML 1.1, a superset of 1.0), parsed by `toml_edit`,
//! which keeps every key's and value's byte span: values are replaced in
//! place, so comments, order, quoting and layout survive byte for byte.
//!
//! The metadata is a `[seal]` table at the end of the file
//! (spec/FORMAT.md, section 6.6). A token is written as a basic string.
//!
//! Files: `tree` parses and walks the tables into values with spans;
//! `metadata` reads, checks, writes and attaches the `[seal]` table;
//! `edit` does `set` and `remove` by splicing one line or entry. This file
//! holds the [`Syntax`] impl and reading values.

mod edit;
mod metadata;
#[cfg(test)]
mod tests;
mod tree;

use std::ops::Range;

use toml_edit::Value;
use zeroize::Zeroizing;

use crate::format::{common, EditError, Leaf, LeafKind, ParseError, Scan, Syntax, Typed};
use crate::metadata::Metadata;
use crate::path::{KeyPath, PathQuery};

use tree::{collect, parse, What};

/// TOML (see the module docs).
pub struct Toml;

impl Syntax for Toml {
    fn scan(&self, src: &str) -> Result<Scan, ParseError> {
        scan(src)
    }

    fn values(&self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
        let doc = parse(src)?;
        let found = metadata::find_metadata(src, &doc)?;
        Ok(collect(doc.as_table(), found.is_some())
            .into_iter()
            .filter_map(|f| match f.what {
                What::Scalar(v) => Some((KeyPath::new(0, f.path), meaning(src, v, &f.span))),
                What::Empty(_) => None,
            })
            .collect())
    }

    fn typed_values(&self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
        let doc = parse(src)?;
        let found = metadata::find_metadata(src, &doc)?;
        Ok(collect(doc.as_table(), found.is_some())
            .into_iter()
            .map(|f| {
                let typed = match f.what {
                    What::Scalar(v) => typed(src, v, &f.span),
                    What::Empty(shape) => Typed::literal(shape),
                };
                (KeyPath::new(0, f.path), typed)
            })
            .collect())
    }

    fn value_at(
        &self,
        src: &str,
        span: Range<usize>,
    ) -> Option<Result<Zeroizing<String>, ParseError>> {
        Some(value_at(src, span))
    }

    fn attach_metadata(&self, body: &str, meta: &Metadata) -> Result<String, EditError> {
        metadata::attach_metadata(body, meta)
    }

    fn set_value(&self, src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
        edit::set_value(src, path, literal)
    }

    fn remove_value(&self, src: &str, path: &PathQuery) -> Result<String, EditError> {
        edit::remove_value(src, path)
    }

    fn string_literal(&self, value: &str) -> String {
        quote(value)
    }

    /// A token replaces values of every type, so it is written as a string.
    fn push_token(&self, out: &mut String, token: &str) {
        out.push('"');
        out.push_str(token);
        out.push('"');
    }

    fn token_quote(&self) -> usize {
        1
    }

    fn unquote_token<'s>(&self, value_src: &'s str) -> Option<&'s str> {
        value_src.strip_prefix('"')?.strip_suffix('"')
    }
}

fn scan(src: &str) -> Result<Scan, ParseError> {
    let doc = parse(src)?;
    let metadata = metadata::find_metadata(src, &doc)?;
    let leaves = collect(doc.as_table(), metadata.is_some())
        .into_iter()
        .filter(|f| matches!(f.what, What::Scalar(_)))
        .map(|f| Leaf {
            path: KeyPath::new(0, f.path),
            span: f.span,
            kind: LeafKind::Scalar,
        })
        .collect();
    Ok(Scan { leaves, metadata })
}

/// What a scalar means to `get` and `exec`: a string's contents, any
/// other scalar (number, boolean, date-time) as written.
fn meaning(src: &str, v: &Value, span: &Range<usize>) -> Zeroizing<String> {
    match v {
        Value::String(s) => Zeroizing::new(s.value().clone()),
        _ => Zeroizing::new(src[span.clone()].to_owned()),
    }
}

/// A scalar as JSON: strings and date-times (JSON has no such type) as
/// strings, integers in decimal, finite floats as numbers, infinities and
/// NaN as the strings they are written as, booleans as such.
fn typed(src: &str, v: &Value, span: &Range<usize>) -> Typed {
    let text = || Zeroizing::new(src[span.clone()].to_owned());
    match v {
        Value::String(s) => Typed::String(Zeroizing::new(s.value().clone())),
        Value::Integer(i) => Typed::Literal(Zeroizing::new(i.value().to_string())),
        Value::Float(f) if f.value().is_finite() => {
            Typed::Literal(Zeroizing::new(format!("{:?}", f.value())))
        }
        Value::Boolean(b) => Typed::literal(if *b.value() { "true" } else { "false" }),
        _ => Typed::String(text()),
    }
}

/// The meaning of the one scalar whose source text is `src[span]` (a
/// decrypted value), and an error unless the text is exactly one scalar.
fn value_at(src: &str, span: Range<usize>) -> Result<Zeroizing<String>, ParseError> {
    let not_one = || ParseError::at(src, span.start, "a value here is not one TOML value");
    let text = src.get(span.clone()).ok_or_else(not_one)?;
    if text.trim() != text {
        return Err(not_one());
    }
    let value: Value = text.parse().map_err(|_| not_one())?;
    match value {
        Value::Array(_) | Value::InlineTable(_) => Err(not_one()),
        Value::String(s) => Ok(Zeroizing::new(s.value().clone())),
        _ => Ok(Zeroizing::new(text.to_owned())),
    }
}

/// A TOML basic string: `"`, `\` and control characters escaped (the
/// metadata block is written with exactly these escapes, spec 6.6).
pub(super) fn quote(s: &str) -> String {
    common::double_quoted(s, |c, out| {
        match c {
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            _ => return false,
        }
        true
    })
}
