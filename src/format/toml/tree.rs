//! Parsing with `toml_edit` (which keeps every value's byte span) and
//! walking the parsed tables into the values seal works with: each one
//! with its key path, its span and where it is written.

use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

use crate::format::ParseError;
use crate::metadata::RESERVED_KEY;
use crate::path::Segment;

/// A parsed document; spans index the text it was parsed from.
pub(super) type Doc<'s> = Document<&'s str>;

/// Parse `src`. toml_edit's messages name the grammar, never the input.
pub(super) fn parse(src: &str) -> Result<Doc<'_>, ParseError> {
    Document::parse(src).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        ParseError::at(src, at, format!("invalid TOML: {}", e.message()))
    })
}

/// One value of the document as seal sees it.
pub(super) struct Found<'d> {
    pub(super) path: Vec<Segment>,
    /// The value's source text: a scalar, or the brackets of an empty
    /// array, inline table (`[]`, `{}`) or the header of an empty table.
    pub(super) span: Range<usize>,
    pub(super) what: What<'d>,
}

pub(super) enum What<'d> {
    Scalar(&'d Value),
    /// An empty array, inline table or table: shape without values.
    Empty(&'static str),
}

/// Every scalar and every empty container in `root`, in document order,
/// skipping the reserved top-level key when `skip_reserved`.
pub(super) fn collect<'d>(root: &'d Table, skip_reserved: bool) -> Vec<Found<'d>> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    for (key, item) in root.iter() {
        if skip_reserved && key == RESERVED_KEY {
            continue;
        }
        path.push(Segment::Key(key.to_owned()));
        walk_item(item, &mut path, &mut out);
        path.pop();
    }
    // Tables may be written in pieces ([a] … [b] … [a.c]): the file's
    // order is the spans' order.
    out.sort_by_key(|f| f.span.start);
    out
}

fn walk_item<'d>(item: &'d Item, path: &mut Vec<Segment>, out: &mut Vec<Found<'d>>) {
    match item {
        Item::None => {}
        Item::Value(v) => walk_value(v, path, out),
        Item::Table(t) => walk_table(t, path, out),
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                path.push(Segment::Index(i));
                walk_table(t, path, out);
                path.pop();
            }
        }
    }
}

fn walk_table<'d>(t: &'d Table, path: &mut Vec<Segment>, out: &mut Vec<Found<'d>>) {
    if t.is_empty() {
        if let (false, Some(span)) = (t.is_implicit(), t.span()) {
            out.push(Found {
                path: path.clone(),
                span,
                what: What::Empty("{}"),
            });
        }
        return;
    }
    for (key, item) in t.iter() {
        path.push(Segment::Key(key.to_owned()));
        walk_item(item, path, out);
        path.pop();
    }
}

fn walk_value<'d>(v: &'d Value, path: &mut Vec<Segment>, out: &mut Vec<Found<'d>>) {
    let span = v.span().unwrap_or_default();
    match v {
        Value::Array(a) if a.is_empty() => out.push(Found {
            path: path.clone(),
            span,
            what: What::Empty("[]"),
        }),
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                path.push(Segment::Index(i));
                walk_value(item, path, out);
                path.pop();
            }
        }
        Value::InlineTable(t) if t.is_empty() => out.push(Found {
            path: path.clone(),
            span,
            what: What::Empty("{}"),
        }),
        Value::InlineTable(t) => {
            for (key, item) in t.iter() {
                path.push(Segment::Key(key.to_owned()));
                walk_value(item, path, out);
                path.pop();
            }
        }
        _ => out.push(Found {
            path: path.clone(),
            span,
            what: What::Scalar(v),
        }),
    }
}

/// The byte ranges of every table header (`[a]`, `[[a]]`) in the
/// document, in file order.
pub(super) fn headers(root: &Table) -> Vec<Range<usize>> {
    fn tables(t: &Table, out: &mut Vec<Range<usize>>) {
        for (_, item) in t.iter() {
            match item {
                Item::Table(sub) => {
                    if let (false, false, Some(span)) =
                        (sub.is_implicit(), sub.is_dotted(), sub.span())
                    {
                        out.push(span);
                    }
                    tables(sub, out);
                }
                Item::ArrayOfTables(a) => {
                    for sub in a.iter() {
                        out.extend(sub.span());
                        tables(sub, out);
                    }
                }
                Item::Value(_) | Item::None => {}
            }
        }
    }
    let mut out = Vec::new();
    tables(root, &mut out);
    out.sort_by_key(|r| r.start);
    out
}

/// Every value written as `key = value` on its own lines (not inside an
/// array or inline table), with its path and span, in file order.
pub(super) fn line_values(root: &Table) -> Vec<(Vec<Segment>, Range<usize>)> {
    fn tables(t: &Table, path: &mut Vec<Segment>, out: &mut Vec<(Vec<Segment>, Range<usize>)>) {
        for (key, item) in t.iter() {
            path.push(Segment::Key(key.to_owned()));
            match item {
                Item::Value(v) => out.extend(v.span().map(|s| (path.clone(), s))),
                Item::Table(sub) => tables(sub, path, out),
                Item::ArrayOfTables(a) => {
                    for (i, sub) in a.iter().enumerate() {
                        path.push(Segment::Index(i));
                        tables(sub, path, out);
                        path.pop();
                    }
                }
                Item::None => {}
            }
            path.pop();
        }
    }
    let mut out = Vec::new();
    tables(root, &mut Vec::new(), &mut out);
    out.sort_by_key(|(_, s)| s.start);
    out
}

/// The entries of an inline table as written, `a.b = 1` being one entry
/// even though it makes a table `a`: each one's key path below the table
/// and its value's span, in file order.
pub(super) fn inline_entries(t: &toml_edit::InlineTable) -> Vec<(Vec<String>, Range<usize>)> {
    fn walk(
        t: &toml_edit::InlineTable,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Range<usize>)>,
    ) {
        for (key, v) in t.iter() {
            path.push(key.to_owned());
            match v {
                Value::InlineTable(sub) if sub.is_dotted() => walk(sub, path, out),
                _ => out.extend(v.span().map(|s| (path.clone(), s))),
            }
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(t, &mut Vec::new(), &mut out);
    out.sort_by_key(|(_, s)| s.start);
    out
}
