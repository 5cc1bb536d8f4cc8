//! In-place edits for `seal set` and `seal rm`: find the member or item in
//! the tree and splice only its bytes, following the document's layout
//! (compact or indented) for anything new. Every result is parsed again
//! before it is returned.

use std::ops::Range;

use crate::format::common::{parse_index, splice};
use crate::format::{line_ending, EditError};
use crate::metadata::RESERVED_KEY;
use crate::path::PathQuery;

use super::metadata::{find_metadata, indent_before, line_indent, member_indents, Pretty};
use super::parse::{parse, Kind, Member, Node};
use super::{quote, scan};

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

pub(super) fn set_value(src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
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

pub(super) fn remove_value(src: &str, path: &PathQuery) -> Result<String, EditError> {
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
