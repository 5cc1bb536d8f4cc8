//! The reserved `seal` member: read and checked field by field (and
//! checked to be laid out exactly as seal writes it), written in the
//! indentation style of the document it is attached to.

use crate::format::common::splice;
use crate::format::{common, line_ending, EditError, MetadataBlock, ParseError};
use crate::metadata::{
    readable, unsupported_version, Changed, Metadata, Pending, WrappedKey, RESERVED_KEY,
};

use super::parse::{parse, unescape_into, Kind, Member, Node};
use super::quote;

/// The metadata member of the root, checked to be last, with its region.
pub(super) fn find_metadata(src: &str, root: &Node) -> Result<Option<MetadataBlock>, ParseError> {
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
    if readable(metadata.version) {
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
    let meta = metadata_fields(src, node, members).map_err(|e| match version {
        Some(v) if !readable(v) => ParseError::at(src, node.span.start, unsupported_version(v)),
        _ => e,
    })?;
    common::check_version_fields(src, node.span.start, &meta)?;
    Ok(meta)
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
    let (mut changed, mut pending) = (Vec::new(), Vec::new());
    let (mut signer, mut signature) = (None, None);
    for m in members {
        match m.key.as_str() {
            "signer" => signer = Some(string_field(src, &m.value, "signer")?),
            "signature" => signature = Some(string_field(src, &m.value, "signature")?),
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
            "changed" => changed = changed_field(src, &m.value)?,
            "pending" => {
                pending = array_field(src, &m.value, "pending")?
                    .iter()
                    .map(|item| pending_entry(src, item))
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
    let signed = common::signed_pair(signer, signature)
        .map_err(|what| ParseError::at(src, node.span.start, format!("seal metadata: {what}")))?;
    Ok(Metadata {
        version: version.ok_or_else(|| missing("version"))?,
        modified: modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        changed,
        recipients: recipients.ok_or_else(|| missing("recipients"))?,
        groups: Vec::new(),
        default_mac: String::new(),
        pending,
        mac: mac.ok_or_else(|| missing("mac"))?,
        signed,
    })
}

/// `changed` (version 2): an object from key path to date.
fn changed_field(src: &str, node: &Node) -> Result<Vec<Changed>, ParseError> {
    let Kind::Object(members) = &node.kind else {
        return Err(ParseError::at(
            src,
            node.span.start,
            "seal metadata field changed must be an object",
        ));
    };
    members
        .iter()
        .map(|m| {
            Ok(Changed {
                path: m.key.to_string(),
                date: string_field(src, &m.value, "changed")?,
            })
        })
        .collect()
}

fn wrapped_key(src: &str, node: &Node) -> Result<WrappedKey, ParseError> {
    let [recipient, data_key] = string_pair(src, node, "recipient", ["recipient", "data_key"])?;
    Ok(WrappedKey {
        recipient,
        data_key,
    })
}

fn pending_entry(src: &str, node: &Node) -> Result<Pending, ParseError> {
    let [path, value] = string_pair(src, node, "pending value", ["path", "value"])?;
    Ok(Pending { path, value })
}

/// An object of exactly the two string members `names` (a seal `entry`).
fn string_pair(
    src: &str,
    node: &Node,
    entry: &str,
    names: [&str; 2],
) -> Result<[String; 2], ParseError> {
    let Kind::Object(members) = &node.kind else {
        return Err(ParseError::at(
            src,
            node.span.start,
            format!("each seal {entry} must be an object"),
        ));
    };
    let mut found: [Option<String>; 2] = [None, None];
    for m in members {
        match names.iter().position(|n| *n == m.key) {
            Some(i) => found[i] = Some(string_field(src, &m.value, names[i])?),
            None => {
                return Err(ParseError::at(
                    src,
                    m.key_span.start,
                    format!("unknown field in a seal {entry}"),
                ))
            }
        }
    }
    match found {
        [Some(a), Some(b)] => Ok([a, b]),
        _ => Err(ParseError::at(
            src,
            node.span.start,
            format!("a seal {entry} needs both {} and {}", names[0], names[1]),
        )),
    }
}

/// A value to write: just what the metadata needs.
enum Out<'a> {
    Num(u64),
    Str(&'a str),
    Arr(Vec<Out<'a>>),
    Obj(Vec<(&'a str, Out<'a>)>),
}

/// Indentation settings of a pretty document.
pub(super) struct Pretty<'a> {
    pub(super) le: &'a str,
    pub(super) unit: &'a str,
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
    if !meta.changed.is_empty() {
        fields.push((
            "changed",
            Out::Obj(
                meta.changed
                    .iter()
                    .map(|c| (c.path.as_str(), Out::Str(&c.date)))
                    .collect(),
            ),
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
    if !meta.pending.is_empty() {
        let pending = meta
            .pending
            .iter()
            .map(|p| Out::Obj(vec![("path", Out::Str(&p.path)), ("value", Out::Str(&p.value))]))
            .collect();
        fields.push(("pending", Out::Arr(pending)));
    }
    fields.push(("mac", Out::Str(&meta.mac)));
    if let Some(signed) = &meta.signed {
        fields.push(("signer", Out::Str(&signed.signer)));
        fields.push(("signature", Out::Str(&signed.signature)));
    }
    Out::Obj(fields)
}

/// The whitespace between the start of `pos`'s line and `pos`, when nothing
/// else precedes `pos` on its line.
pub(super) fn indent_before(src: &str, pos: usize) -> Option<&str> {
    let before = src.get(..pos)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let ws = &before[start..];
    ws.bytes().all(|b| b == b' ' || b == b'\t').then_some(ws)
}

/// Leading whitespace of the line holding `pos`.
pub(super) fn line_indent(src: &str, pos: usize) -> &str {
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
pub(super) fn member_indents<'s>(src: &'s str, members: &[Member]) -> (&'s str, &'s str) {
    let first = members
        .first()
        .and_then(|m| indent_before(src, m.key_span.start));
    (
        first.unwrap_or("  "),
        first.filter(|ws| !ws.is_empty()).unwrap_or("  "),
    )
}

pub(super) fn attach_metadata(body: &str, meta: &Metadata) -> Result<String, EditError> {
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
