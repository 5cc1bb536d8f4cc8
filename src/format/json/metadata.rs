//! The reserved `seal` member: read and checked field by field (and
//! checked to be laid out exactly as seal writes it), written in the
//! indentation style of the document it is attached to.

use crate::format::common::splice;
use crate::format::{common, line_ending, EditError, MetadataBlock, ParseError};
use crate::metadata::{
    readable, unsupported_version, Changed, Group, GroupKey, Metadata, Pending, WrappedKey,
    GROUPS_SINCE, RESERVED_KEY,
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
    // Each with the position of its key, for the version check.
    let (mut groups, mut default_mac) = (None, None);
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
            "groups" => {
                let items = array_field(src, &m.value, "groups")?
                    .iter()
                    .map(|item| group(src, item))
                    .collect::<Result<Vec<_>, _>>()?;
                groups = Some((items, m.key_span.start));
            }
            "default_mac" => {
                let mac = string_field(src, &m.value, "default_mac")?;
                default_mac = Some((mac, m.key_span.start));
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
    let version = version.ok_or_else(|| missing("version"))?;
    let (groups, default_mac) = groups_pair(src, node, version, groups, default_mac)?;
    Ok(Metadata {
        version,
        modified: modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        changed,
        recipients: recipients.ok_or_else(|| missing("recipients"))?,
        groups,
        default_mac,
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

/// `groups` and `default_mac` (version 5) come together or not at all; in
/// an older block either one is an error naming it, as `pending` is before
/// version 4.
fn groups_pair(
    src: &str,
    node: &Node,
    version: u64,
    groups: Option<(Vec<Group>, usize)>,
    default_mac: Option<(String, usize)>,
) -> Result<(Vec<Group>, String), ParseError> {
    let too_old = |field: &str, at: usize| {
        ParseError::at(
            src,
            at,
            format!("seal metadata: `{field}` needs format version {GROUPS_SINCE}"),
        )
    };
    let unpaired = |what: &str| ParseError::at(src, node.span.start, format!("seal metadata: {what}"));
    match (groups, default_mac) {
        (Some((_, at)), _) if version < GROUPS_SINCE => Err(too_old("groups", at)),
        (None, Some((_, at))) if version < GROUPS_SINCE => Err(too_old("default_mac", at)),
        (None, None) => Ok((Vec::new(), String::new())),
        (Some((groups, _)), Some((mac, _))) => Ok((groups, mac)),
        (Some(_), None) => Err(unpaired("`groups` without `default_mac`")),
        (None, Some(_)) => Err(unpaired("`default_mac` without `groups`")),
    }
}

/// One key group: exactly `name`, `keys`, `recipients` and `mac`.
fn group(src: &str, node: &Node) -> Result<Group, ParseError> {
    let Kind::Object(members) = &node.kind else {
        return Err(ParseError::at(
            src,
            node.span.start,
            "each seal group must be an object",
        ));
    };
    let (mut name, mut keys, mut recipients, mut mac) = (None, None, None, None);
    for m in members {
        match m.key.as_str() {
            "name" => name = Some(string_field(src, &m.value, "name")?),
            "keys" => {
                keys = Some(
                    array_field(src, &m.value, "keys")?
                        .iter()
                        .map(|item| string_field(src, item, "keys"))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            "recipients" => {
                recipients = Some(
                    array_field(src, &m.value, "recipients")?
                        .iter()
                        .map(|item| group_key(src, item))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            "mac" => mac = Some(string_field(src, &m.value, "mac")?),
            _ => {
                return Err(ParseError::at(
                    src,
                    m.key_span.start,
                    "unknown field in a seal group",
                ))
            }
        }
    }
    match (name, keys, recipients, mac) {
        (Some(name), Some(keys), Some(recipients), Some(mac)) => Ok(Group {
            name,
            keys,
            recipients,
            mac,
        }),
        _ => Err(ParseError::at(
            src,
            node.span.start,
            "a seal group needs name, keys, recipients and mac",
        )),
    }
}

fn group_key(src: &str, node: &Node) -> Result<GroupKey, ParseError> {
    let [recipient, data_key, file_key] = string_members(
        src,
        node,
        "group recipient",
        ["recipient", "data_key", "file_key"],
    )?;
    Ok(GroupKey {
        recipient,
        data_key,
        file_key,
    })
}

fn wrapped_key(src: &str, node: &Node) -> Result<WrappedKey, ParseError> {
    let [recipient, data_key] = string_members(src, node, "recipient", ["recipient", "data_key"])?;
    Ok(WrappedKey {
        recipient,
        data_key,
    })
}

fn pending_entry(src: &str, node: &Node) -> Result<Pending, ParseError> {
    let [path, value] = string_members(src, node, "pending value", ["path", "value"])?;
    Ok(Pending { path, value })
}

/// An object of exactly the string members `names` (a seal `entry`).
fn string_members<const N: usize>(
    src: &str,
    node: &Node,
    entry: &str,
    names: [&str; N],
) -> Result<[String; N], ParseError> {
    let Kind::Object(members) = &node.kind else {
        return Err(ParseError::at(
            src,
            node.span.start,
            format!("each seal {entry} must be an object"),
        ));
    };
    let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
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
    if found.iter().any(Option::is_none) {
        let (last, rest) = names.split_last().unwrap_or((&"", &[]));
        let both = if N == 2 { "both " } else { "" };
        return Err(ParseError::at(
            src,
            node.span.start,
            format!("a seal {entry} needs {both}{} and {last}", rest.join(", ")),
        ));
    }
    Ok(found.map(Option::unwrap_or_default))
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
    if !meta.groups.is_empty() {
        fields.push(("groups", Out::Arr(meta.groups.iter().map(group_out).collect())));
        fields.push(("default_mac", Out::Str(&meta.default_mac)));
    }
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

fn group_out(g: &Group) -> Out<'_> {
    let recipients = g
        .recipients
        .iter()
        .map(|r| {
            Out::Obj(vec![
                ("recipient", Out::Str(&r.recipient)),
                ("data_key", Out::Str(&r.data_key)),
                ("file_key", Out::Str(&r.file_key)),
            ])
        })
        .collect();
    Out::Obj(vec![
        ("name", Out::Str(&g.name)),
        ("keys", Out::Arr(g.keys.iter().map(|k| Out::Str(k)).collect())),
        ("recipients", Out::Arr(recipients)),
        ("mac", Out::Str(&g.mac)),
    ])
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
