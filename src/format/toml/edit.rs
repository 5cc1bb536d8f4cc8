//! In-place edits for `seal set` and `seal unset`: find the entry and
//! splice only its bytes (a line under a table header, an entry of an
//! inline table, an item of an array). Every result is parsed again and
//! checked before it is returned.

use std::ops::Range;

use toml_edit::{Array, InlineTable, Item, Table, Value};

use crate::format::common::{parse_index, splice};
use crate::format::{line_ending, EditError};
use crate::metadata::RESERVED_KEY;
use crate::path::{PathQuery, Segment};

use super::metadata::find_metadata;
use super::tree::{headers, inline_entries, line_values, parse, Doc};
use super::{quote, scan, value_at};

/// Where the walk down a path stands.
enum At<'d> {
    /// A table: the root, a `[header]` table, or one made by dotted keys
    /// or by a deeper header. `section` is the header of the section its
    /// `key = value` lines go in (`None`: the root's, before any header),
    /// `prefix` the dotted keys from that section's table down to it.
    Table {
        table: &'d Table,
        section: Option<Range<usize>>,
        prefix: Vec<String>,
    },
    Aot(&'d toml_edit::ArrayOfTables),
    /// A table in an inline table as written (`outer`), `prefix` the
    /// dotted keys (`{ a.b = 1 }`) from `outer` down to it.
    Inline {
        table: &'d InlineTable,
        outer: &'d InlineTable,
        prefix: Vec<String>,
    },
    Array(&'d Array),
    Scalar(&'d Value),
}

fn name(path: &PathQuery, len: usize) -> String {
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

/// A key as written in a new entry: bare when TOML allows it.
fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        quote(key)
    }
}

fn dotted(keys: &[String]) -> String {
    keys.iter()
        .map(|k| key_text(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn check_path(path: &PathQuery) -> Result<(), EditError> {
    if path.doc != 0 || path.segments.is_empty() {
        return Err(EditError::NotFound(path.to_string()));
    }
    if path.segments[0] == RESERVED_KEY {
        return Err(EditError::Unsupported(format!(
            "the top-level key \"{RESERVED_KEY}\" is reserved for seal metadata"
        )));
    }
    Ok(())
}

/// One step down from `at` by `seg`; `None` when there is nothing there.
fn step<'d>(at: &At<'d>, seg: &str) -> Option<At<'d>> {
    let value = |v: &'d Value| match v {
        Value::InlineTable(t) => At::Inline {
            table: t,
            outer: t,
            prefix: Vec::new(),
        },
        Value::Array(a) => At::Array(a),
        v => At::Scalar(v),
    };
    match at {
        At::Table {
            table,
            section,
            prefix,
        } => match table.get(seg)? {
            Item::Value(v) => Some(value(v)),
            Item::Table(t) if t.is_implicit() || t.is_dotted() => Some(At::Table {
                table: t,
                section: section.clone(),
                prefix: prefix.iter().cloned().chain([seg.to_owned()]).collect(),
            }),
            Item::Table(t) => Some(At::Table {
                table: t,
                section: t.span(),
                prefix: Vec::new(),
            }),
            Item::ArrayOfTables(a) => Some(At::Aot(a)),
            Item::None => None,
        },
        At::Aot(a) => {
            let t = a.get(parse_index(seg)?)?;
            Some(At::Table {
                table: t,
                section: t.span(),
                prefix: Vec::new(),
            })
        }
        At::Inline {
            table,
            outer,
            prefix,
        } => match table.get(seg)? {
            Value::InlineTable(t) if t.is_dotted() => Some(At::Inline {
                table: t,
                outer,
                prefix: prefix.iter().cloned().chain([seg.to_owned()]).collect(),
            }),
            v => Some(value(v)),
        },
        At::Array(a) => a.get(parse_index(seg)?).map(value),
        At::Scalar(_) => None,
    }
}

/// The offset just past the line break that ends the line holding `pos`,
/// or `None` on the last line when it has none.
fn after_line(src: &str, pos: usize) -> Option<usize> {
    src[pos..].find('\n').map(|i| pos + i + 1)
}

fn line_start(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map_or(0, |i| i + 1)
}

fn line_indent(src: &str, pos: usize) -> &str {
    let start = line_start(src, pos);
    let len = src[start..]
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    &src[start..start + len]
}

/// Text to insert at `at` for a new line `line`: after a line break it is
/// `line` and a line break, on a last line with none, a break and `line`.
fn new_line(src: &str, at: usize, indent: &str, line: &str) -> (Range<usize>, String) {
    let le = line_ending(src);
    if at == 0 || src[..at].ends_with('\n') {
        (at..at, format!("{indent}{line}{le}"))
    } else {
        (at..at, format!("{le}{indent}{line}"))
    }
}

/// Add `keys = literal` as a new line of the section headed `section`,
/// after its last line, preferring the last line under `under`.
fn add_line(
    src: &str,
    doc: &Doc<'_>,
    end: usize,
    section: Option<Range<usize>>,
    under: &[Segment],
    line: &str,
) -> (Range<usize>, String) {
    let heads = headers(doc.as_table());
    let from = section.as_ref().map_or(0, |h| h.end);
    let to = heads
        .iter()
        .map(|h| h.start)
        .find(|&s| s >= from)
        .unwrap_or(end)
        .min(end);
    let lines = line_values(doc.as_table());
    let in_section: Vec<_> = lines
        .iter()
        .filter(|(_, s)| s.start >= from && s.end <= to)
        .collect();
    let last = in_section
        .iter()
        .rev()
        .find(|(p, _)| p.starts_with(under))
        .or(in_section.last());
    match (last, section) {
        (Some((_, span)), _) => {
            let indent = line_indent(src, span.start);
            let at = after_line(src, span.end).unwrap_or(src.len()).min(end);
            new_line(src, at, indent, line)
        }
        (None, Some(h)) => {
            let at = after_line(src, h.end).unwrap_or(src.len()).min(end);
            new_line(src, at, "", line)
        }
        // No line in the root's section: before the first header.
        (None, None) => {
            let at = if to < end { line_start(src, to) } else { to };
            new_line(src, at, "", line)
        }
    }
}

/// The end of the last entry of an inline table or array, or `None` when
/// it is empty.
fn last_end(at: &At<'_>) -> Option<usize> {
    match at {
        At::Inline { outer, .. } => inline_entries(outer).last().map(|(_, s)| s.end),
        At::Array(a) => a.iter().filter_map(Value::span).map(|s| s.end).last(),
        _ => None,
    }
}

fn container_span(at: &At<'_>) -> Option<Range<usize>> {
    match at {
        At::Inline { outer, .. } => outer.span(),
        At::Array(a) => a.span(),
        _ => None,
    }
}

/// Append `entry` to an inline table or array: after its last entry, on
/// a line of its own when the array's items are on lines of their own.
fn add_entry(src: &str, at: &At<'_>, entry: &str) -> Result<(Range<usize>, String), EditError> {
    let span = container_span(at).ok_or_else(|| {
        EditError::Unsupported("internal error: a container without a span".into())
    })?;
    Ok(match last_end(at) {
        Some(end) => {
            let multiline = matches!(at, At::Array(_)) && src[span.start..end].contains('\n');
            if multiline {
                let le = line_ending(src);
                let indent = line_indent(src, end);
                (end..end, format!(",{le}{indent}{entry}"))
            } else {
                (end..end, format!(", {entry}"))
            }
        }
        None => match at {
            At::Inline { .. } => (span.start + 1..span.end - 1, format!(" {entry} ")),
            _ => (span.start + 1..span.end - 1, entry.to_owned()),
        },
    })
}

pub(super) fn set_value(src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
    if value_at(literal, 0..literal.len()).is_err() {
        return Err(EditError::Unsupported(
            "the new value is not one TOML value (a quoted string, number, boolean or date-time)"
                .into(),
        ));
    }
    check_path(path)?;
    let doc = parse(src)?;
    let end = find_metadata(src, &doc)?.map_or(src.len(), |m| m.region.start);
    let mut at = At::Table {
        table: doc.as_table(),
        section: None,
        prefix: Vec::new(),
    };
    let mut walked: Vec<Segment> = Vec::new();
    for (i, seg) in path.segments.iter().enumerate() {
        if let Some(next) = step(&at, seg) {
            walked.push(match &at {
                At::Aot(_) | At::Array(_) => Segment::Index(parse_index(seg).unwrap_or(0)),
                _ => Segment::Key(seg.clone()),
            });
            at = next;
            continue;
        }
        let rest = &path.segments[i..];
        let (range, text) = match &at {
            At::Table {
                section, prefix, ..
            } => {
                let keys: Vec<String> =
                    prefix.iter().cloned().chain(rest.iter().cloned()).collect();
                let line = format!("{} = {literal}", dotted(&keys));
                add_line(src, &doc, end, section.clone(), &walked, &line)
            }
            At::Inline { prefix, .. } => {
                let keys: Vec<String> =
                    prefix.iter().cloned().chain(rest.iter().cloned()).collect();
                add_entry(src, &at, &format!("{} = {literal}", dotted(&keys)))?
            }
            At::Array(a) if parse_index(seg) == Some(a.len()) => {
                let item = if rest.len() > 1 {
                    format!("{{ {} = {literal} }}", dotted(&rest[1..]))
                } else {
                    literal.to_owned()
                };
                add_entry(src, &at, &item)?
            }
            At::Aot(a) if parse_index(seg) == Some(a.len()) => {
                return Err(EditError::Unsupported(format!(
                    "{} is an array of tables; add a table to it with `seal edit`",
                    name(path, i)
                )))
            }
            At::Scalar(_) => return Err(EditError::NotAContainer(name(path, i), path.to_string())),
            _ => return Err(EditError::NotFound(path.to_string())),
        };
        return finish_set(src, range, &text, path, literal);
    }
    match at {
        At::Scalar(v) => {
            let span = v.span().ok_or_else(|| {
                EditError::Unsupported("internal error: a value without a span".into())
            })?;
            finish_set(src, span, literal, path, literal)
        }
        _ => Err(EditError::NotALeaf(path.to_string())),
    }
}

/// The edited text, after checking that it parses and holds `literal` at
/// `path`.
fn finish_set(
    src: &str,
    range: Range<usize>,
    text: &str,
    path: &PathQuery,
    literal: &str,
) -> Result<String, EditError> {
    let out = splice(src, range, text);
    let scanned = scan(&out)?;
    let there = scanned
        .leaves
        .iter()
        .any(|l| l.path.matches(path) && &out[l.span.clone()] == literal);
    if !there {
        return Err(EditError::Unsupported(format!(
            "{path} cannot be added here without changing the file's other tables; add it with `seal edit`"
        )));
    }
    Ok(out)
}

/// The range that removes entry `j` of a comma-separated list whose
/// entries' values end at `ends` (entry starts found after each comma),
/// inside the brackets at `span`.
fn list_removal(src: &str, span: &Range<usize>, ends: &[usize], j: usize) -> Range<usize> {
    if ends.len() == 1 {
        return span.start + 1..span.end - 1;
    }
    if j + 1 == ends.len() {
        return ends[j - 1]..ends[j];
    }
    // From this entry's start to the next one's: past the comma after
    // this entry's value, and the blanks and comments after it.
    let start = entry_start(
        src,
        if j == 0 { span.start + 1 } else { ends[j - 1] },
        j > 0,
    );
    let next = entry_start(src, ends[j], true);
    start..next
}

/// Where the entry after offset `from` starts: past blanks, comments and
/// (when `comma`) one comma.
fn entry_start(src: &str, from: usize, comma: bool) -> usize {
    let bytes = src.as_bytes();
    let mut i = from;
    let mut need_comma = comma;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = after_line(src, i).unwrap_or(src.len()),
            b',' if need_comma => {
                need_comma = false;
                i += 1
            }
            _ => break,
        }
    }
    i
}

pub(super) fn remove_value(src: &str, path: &PathQuery) -> Result<String, EditError> {
    check_path(path)?;
    let doc = parse(src)?;
    find_metadata(src, &doc)?;
    let mut at = At::Table {
        table: doc.as_table(),
        section: None,
        prefix: Vec::new(),
    };
    let last = path.segments.len() - 1;
    for seg in &path.segments[..last] {
        at = step(&at, seg).ok_or_else(|| not_there(path, &at))?;
    }
    let seg = &path.segments[last];
    let not_found = || EditError::NotFound(path.to_string());
    let table_err = || {
        EditError::Unsupported(format!(
            "{path} is a table; remove a table with `seal edit`"
        ))
    };
    let range = match &at {
        At::Table { table, .. } => {
            let (key, item) = table.get_key_value(seg).ok_or_else(not_found)?;
            match item {
                Item::Value(v) => {
                    let key_at = key.span().ok_or_else(table_err)?.start;
                    let value_end = v.span().ok_or_else(table_err)?.end;
                    whole_lines(src, key_at, value_end)
                }
                _ => return Err(table_err()),
            }
        }
        At::Inline {
            table,
            outer,
            prefix,
        } => {
            let entries = inline_entries(outer);
            let keys: Vec<String> = prefix.iter().cloned().chain([seg.clone()]).collect();
            let j = match entries.iter().position(|(p, _)| *p == keys) {
                Some(j) => j,
                None if table.contains_key(seg) => return Err(table_err()),
                None => return Err(not_found()),
            };
            let ends: Vec<usize> = entries.iter().map(|(_, s)| s.end).collect();
            list_removal(src, &outer.span().ok_or_else(table_err)?, &ends, j)
        }
        At::Array(a) => {
            let j = parse_index(seg)
                .filter(|&j| j < a.len())
                .ok_or_else(not_found)?;
            let ends: Vec<usize> = a.iter().filter_map(Value::span).map(|s| s.end).collect();
            list_removal(src, &a.span().ok_or_else(table_err)?, &ends, j)
        }
        At::Aot(_) => return Err(table_err()),
        At::Scalar(_) => return Err(EditError::NotAContainer(name(path, last), path.to_string())),
    };
    let out = splice(src, range, "");
    // Exactly the values under `path` are gone (indices after it shift).
    let before = scan(src)?.leaves;
    let gone = before.iter().filter(|l| l.path.starts_with(path)).count();
    if scan(&out)?.leaves.len() + gone != before.len() {
        return Err(EditError::Unsupported(format!(
            "{path} could not be removed cleanly; remove it with `seal edit`"
        )));
    }
    Ok(out)
}

fn not_there(path: &PathQuery, at: &At<'_>) -> EditError {
    match at {
        At::Scalar(_) => EditError::NotAContainer(path.to_string(), path.to_string()),
        _ => EditError::NotFound(path.to_string()),
    }
}

/// The lines from the one holding `from` to the one holding `to`, with
/// the line break that ends them (on a last line without one, the break
/// before them instead).
fn whole_lines(src: &str, from: usize, to: usize) -> Range<usize> {
    let start = line_start(src, from);
    match after_line(src, to) {
        Some(end) => start..end,
        None => {
            let before = &src[..start];
            let cut = if before.ends_with("\r\n") {
                2
            } else if before.ends_with('\n') {
                1
            } else {
                0
            };
            start - cut..src.len()
        }
    }
}
