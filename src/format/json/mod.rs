//! JSON documents (strict RFC 8259).
//!
//! A small hand-written scanner rather than `jsonc-parser`: we need exact
//! byte ranges, duplicate-name detection, a nesting limit and error messages
//! that never quote the input, and all of that is easiest to guarantee here.
//! The metadata lives in the last member of the top-level object, named
//! [`RESERVED_KEY`](crate::metadata::RESERVED_KEY).
//!
//! Files: `parse` builds the tree of nodes with their byte ranges;
//! `metadata` reads, checks, writes and attaches the reserved member;
//! `edit` does `set` and `remove` by splicing one member or item. This file
//! holds the [`Syntax`] impl and reading values out of the tree.

mod edit;
mod metadata;
mod parse;
#[cfg(test)]
mod tests;

use std::ops::Range;

use zeroize::Zeroizing;

use crate::format::{common, EditError, Leaf, LeafKind, ParseError, Scan, Syntax, Typed};
use crate::metadata::Metadata;
use crate::path::{KeyPath, PathQuery, Segment};

use edit::{remove_value, set_value};
use metadata::{attach_metadata, find_metadata};
use parse::{parse, value_at, Kind, Member, Node};

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

/// The leaves under `node`, in document order.
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
