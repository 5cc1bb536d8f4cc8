//! The `[seal]` table: read field by field, checked to be laid out exactly
//! as seal writes it (spec/FORMAT.md, sections 6.6 and 9), written and
//! attached at the end of the file.

use toml_edit::{Item, Table, Value};

use crate::format::{common, line_ending, EditError, MetadataBlock, ParseError};
use crate::metadata::{
    readable, unsupported_version, Changed, Group, GroupKey, Metadata, Pending, WrappedKey,
    GROUPS_SINCE, RESERVED_KEY,
};

use super::quote;
use super::tree::{parse, Doc};

/// The `[seal]` table with the region to delete to get the body back.
pub(super) fn find_metadata(src: &str, doc: &Doc<'_>) -> Result<Option<MetadataBlock>, ParseError> {
    let root = doc.as_table();
    let Some((key, item)) = root.get_key_value(RESERVED_KEY) else {
        return Ok(None);
    };
    let key_at = key.span().map_or(0, |s| s.start);
    let table = match item {
        Item::Table(t) if !t.is_implicit() && !t.is_dotted() => t,
        _ => {
            return Err(ParseError::at(
                src,
                key_at,
                "the reserved key seal is for seal metadata, which is a [seal] table at the end of the file; rename this key",
            ))
        }
    };
    let header = table.span().unwrap_or(key_at..key_at);
    let metadata = read_metadata(src, table, header.start)?;
    let start = block_start(src, header.start).ok_or_else(|| misplaced(src, header.start))?;
    let region = start..src.len();
    if readable(metadata.version) {
        let written = block_text(&metadata, &src[..start], "\n");
        common::check_block_layout(src, region.clone(), &written)?;
    }
    Ok(Some(MetadataBlock { region, metadata }))
}

fn misplaced(src: &str, at: usize) -> ParseError {
    ParseError::at(
        src,
        at,
        "the seal metadata is not laid out as seal writes it (changed by hand or by another tool); restore the file from version control",
    )
}

/// Where the block that has its `[seal]` header at `header` starts: the
/// header itself at the start of the file, else the empty line before it
/// and, when the file does not end with a line break, the line break
/// before that too (spec 6.6).
fn block_start(src: &str, header: usize) -> Option<usize> {
    if header == 0 {
        return Some(0);
    }
    let breaks = if src.ends_with('\n') { 1 } else { 2 };
    let mut at = header;
    for _ in 0..breaks {
        let before = src.get(..at)?;
        at -= if before.ends_with("\r\n") {
            2
        } else if before.ends_with('\n') {
            1
        } else {
            return None;
        };
    }
    Some(at)
}

/// The text a writer appends to `body` for `meta`, lines ending in `le`.
pub(super) fn block_text(meta: &Metadata, body: &str, le: &str) -> String {
    let ends_with_break = body.ends_with('\n');
    let mut out = String::new();
    if !body.is_empty() {
        out.push_str(le);
        if !ends_with_break {
            out.push_str(le);
        }
    }
    let mut lines = vec![
        format!("[{RESERVED_KEY}]"),
        format!("version = {}", meta.version),
        format!("modified = {}", quote(&meta.modified)),
    ];
    if !meta.encrypt.is_empty() {
        let patterns: Vec<String> = meta.encrypt.iter().map(|p| quote(p)).collect();
        lines.push(format!("encrypt = [{}]", patterns.join(", ")));
    }
    changed_lines(meta, &mut lines);
    let recipients = meta.recipients.iter().map(|r| [&r.recipient, &r.data_key]);
    push_table_list(&mut lines, "recipients", ["recipient", "data_key"], recipients);
    group_lines(meta, &mut lines);
    if !meta.pending.is_empty() {
        let pending = meta.pending.iter().map(|p| [&p.path, &p.value]);
        push_table_list(&mut lines, "pending", ["path", "value"], pending);
    }
    lines.push(format!("mac = {}", quote(&meta.mac)));
    if let Some(signed) = &meta.signed {
        lines.push(format!("signer = {}", quote(&signed.signer)));
        lines.push(format!("signature = {}", quote(&signed.signature)));
    }
    out.push_str(&lines.join(le));
    if body.is_empty() || ends_with_break {
        out.push_str(le);
    }
    out
}

/// `changed` (version 2), when it has entries: one line per sealed value,
/// laid out as `recipients` is.
fn changed_lines(meta: &Metadata, lines: &mut Vec<String>) {
    if !meta.changed.is_empty() {
        let changed = meta.changed.iter().map(|c| [&c.path, &c.date]);
        push_table_list(lines, "changed", ["path", "date"], changed);
    }
}

/// `groups` and `default_mac` (version 5), when there are groups: one
/// line per group as `recipients` has one per recipient, the group's
/// patterns and recipients inline on it, separated by `, `.
fn group_lines(meta: &Metadata, lines: &mut Vec<String>) {
    if meta.groups.is_empty() {
        return;
    }
    lines.push("groups = [".to_owned());
    for g in &meta.groups {
        let keys: Vec<String> = g.keys.iter().map(|k| quote(k)).collect();
        let recipients: Vec<String> = g
            .recipients
            .iter()
            .map(|r| {
                format!(
                    "{{ recipient = {}, data_key = {}, file_key = {} }}",
                    quote(&r.recipient),
                    quote(&r.data_key),
                    quote(&r.file_key)
                )
            })
            .collect();
        lines.push(format!(
            "  {{ name = {}, keys = [{}], recipients = [{}], mac = {} }},",
            quote(&g.name),
            keys.join(", "),
            recipients.join(", "),
            quote(&g.mac)
        ));
    }
    lines.push("]".to_owned());
    lines.push(format!("default_mac = {}", quote(&meta.default_mac)));
}

/// `FIELD = [`, one inline table of the two string fields `names` per row,
/// each on its own line indented two spaces and followed by `,`, then `]`.
fn push_table_list<'a>(
    lines: &mut Vec<String>,
    field: &str,
    names: [&str; 2],
    rows: impl Iterator<Item = [&'a String; 2]>,
) {
    lines.push(format!("{field} = ["));
    for [a, b] in rows {
        lines.push(format!(
            "  {{ {} = {}, {} = {} }},",
            names[0],
            quote(a),
            names[1],
            quote(b)
        ));
    }
    lines.push("]".to_owned());
}

/// Read `changed`: an array of `{ path, date }` inline tables.
fn changed_field(src: &str, value: &Value) -> Result<Vec<Changed>, ParseError> {
    array(src, value, "changed")?
        .into_iter()
        .map(|v| {
            let [path, date] = string_pair(src, v, "metadata changed entry", ["path", "date"])?;
            Ok(Changed { path, date })
        })
        .collect()
}

/// Read `pending` (version 4): an array of `{ path, value }` inline tables.
fn pending_field(src: &str, value: &Value) -> Result<Vec<Pending>, ParseError> {
    array(src, value, "pending")?
        .into_iter()
        .map(|v| {
            let [path, value] = string_pair(src, v, "pending value", ["path", "value"])?;
            Ok(Pending { path, value })
        })
        .collect()
}

/// Read `groups` (version 5): an array of `{ name, keys, recipients, mac }`
/// inline tables, each recipient a `{ recipient, data_key, file_key }`.
fn groups_field(src: &str, value: &Value) -> Result<Vec<Group>, ParseError> {
    array(src, value, "groups")?
        .into_iter()
        .map(|v| {
            let names = ["name", "keys", "recipients", "mac"];
            let [name, keys, recipients, mac] = inline_fields(src, v, "metadata group", names)?;
            Ok(Group {
                name: string(src, name, "group name")?,
                keys: array(src, keys, "group keys")?
                    .into_iter()
                    .map(|k| string(src, k, "group keys"))
                    .collect::<Result<_, _>>()?,
                recipients: array(src, recipients, "group recipients")?
                    .into_iter()
                    .map(|r| group_key(src, r))
                    .collect::<Result<_, _>>()?,
                mac: string(src, mac, "group mac")?,
            })
        })
        .collect()
}

fn group_key(src: &str, v: &Value) -> Result<GroupKey, ParseError> {
    let names = ["recipient", "data_key", "file_key"];
    let [recipient, data_key, file_key] =
        inline_fields(src, v, "metadata group recipient", names)?;
    Ok(GroupKey {
        recipient: string(src, recipient, "group recipient")?,
        data_key: string(src, data_key, "group data_key")?,
        file_key: string(src, file_key, "group file_key")?,
    })
}

/// An inline table of exactly the two string fields `names` (a seal
/// `entry`).
fn string_pair(
    src: &str,
    v: &Value,
    entry: &str,
    names: [&str; 2],
) -> Result<[String; 2], ParseError> {
    let [a, b] = inline_fields(src, v, entry, names)?;
    Ok([string(src, a, names[0])?, string(src, b, names[1])?])
}

/// The values of an inline table with exactly the fields `names` (a seal
/// `entry`), in the order of `names`. Their order in the table is the
/// layout check's to enforce.
fn inline_fields<'v, const N: usize>(
    src: &str,
    v: &'v Value,
    entry: &str,
    names: [&str; N],
) -> Result<[&'v Value; N], ParseError> {
    let Value::InlineTable(t) = v else {
        return Err(ParseError::at(
            src,
            value_pos(v),
            format!("each seal {entry} must be an inline table"),
        ));
    };
    // `v` stands in until a field is seen; `seen` says which were.
    let (mut found, mut seen) = ([v; N], [false; N]);
    for (name, field) in t.iter() {
        match names.iter().position(|n| *n == name) {
            Some(i) => (found[i], seen[i]) = (field, true),
            None => {
                return Err(ParseError::at(
                    src,
                    value_pos(field),
                    format!("unknown field in a seal {entry}"),
                ))
            }
        }
    }
    match seen.iter().position(|s| !s) {
        None => Ok(found),
        Some(_) if N == 2 => Err(ParseError::at(
            src,
            value_pos(v),
            format!("a seal {entry} needs both {} and {}", names[0], names[1]),
        )),
        Some(i) => Err(ParseError::at(
            src,
            value_pos(v),
            format!("a seal {entry} has no {} field", names[i]),
        )),
    }
}

pub(super) fn attach_metadata(body: &str, meta: &Metadata) -> Result<String, EditError> {
    let doc = parse(body)?;
    if doc.as_table().contains_key(RESERVED_KEY) {
        return Err(EditError::Unsupported(format!(
            "the top-level key \"{RESERVED_KEY}\" is reserved for seal metadata"
        )));
    }
    let mut out = body.to_owned();
    out.push_str(&block_text(meta, body, line_ending(body)));
    Ok(out)
}

fn read_metadata(src: &str, table: &Table, at: usize) -> Result<Metadata, ParseError> {
    let version = match table.get("version") {
        Some(Item::Value(Value::Integer(v))) => u64::try_from(*v.value()).ok(),
        _ => None,
    };
    let meta = fields(src, table, at).map_err(|e| match version {
        Some(v) if !readable(v) => ParseError::at(src, at, unsupported_version(v)),
        _ => e,
    })?;
    common::check_version_fields(src, at, &meta)?;
    Ok(meta)
}

fn fields(src: &str, table: &Table, at: usize) -> Result<Metadata, ParseError> {
    let (mut version, mut modified, mut encrypt, mut recipients, mut mac) =
        (None, None, Vec::new(), None, None);
    let (mut changed, mut pending) = (Vec::new(), Vec::new());
    let (mut groups, mut default_mac) = (None, None);
    let (mut signer, mut signature) = (None, None);
    for (name, item) in table.iter() {
        let pos = table
            .key(name)
            .and_then(|k| k.span())
            .map_or(at, |s| s.start);
        let value = match item {
            Item::Value(v) => v,
            _ => return Err(ParseError::at(src, pos, "unknown seal metadata field")),
        };
        match name {
            "version" => {
                version = Some(
                    match value {
                        Value::Integer(v) => u64::try_from(*v.value()).ok(),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        ParseError::at(src, pos, "seal metadata field version must be an integer")
                    })?,
                )
            }
            "modified" => modified = Some(string(src, value, "modified")?),
            "mac" => mac = Some(string(src, value, "mac")?),
            "signer" => signer = Some(string(src, value, "signer")?),
            "signature" => signature = Some(string(src, value, "signature")?),
            "encrypt" => {
                encrypt = array(src, value, "encrypt")?
                    .iter()
                    .map(|v| string(src, v, "encrypt"))
                    .collect::<Result<_, _>>()?
            }
            "changed" => changed = changed_field(src, value)?,
            "pending" => pending = pending_field(src, value)?,
            "groups" => groups = Some((pos, groups_field(src, value)?)),
            "default_mac" => default_mac = Some((pos, string(src, value, "default_mac")?)),
            "recipients" => {
                recipients = Some(
                    array(src, value, "recipients")?
                        .iter()
                        .map(|v| wrapped_key(src, v))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            }
            _ => return Err(ParseError::at(src, pos, "unknown seal metadata field")),
        }
    }
    let missing =
        |field: &str| ParseError::at(src, at, format!("seal metadata has no {field} field"));
    let signed = common::signed_pair(signer, signature)
        .map_err(|what| ParseError::at(src, at, format!("seal metadata: {what}")))?;
    let version = version.ok_or_else(|| missing("version"))?;
    let (groups, default_mac) = group_pair(src, at, version, groups, default_mac)?;
    Ok(Metadata {
        signed,
        version,
        modified: modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        changed,
        recipients: recipients.ok_or_else(|| missing("recipients"))?,
        groups,
        default_mac,
        pending,
        mac: mac.ok_or_else(|| missing("mac"))?,
    })
}

/// `groups` and `default_mac` (each with the offset of its key): both or
/// neither, and only from format version 5 (spec 6.1), as `pending` only
/// from version 4.
fn group_pair(
    src: &str,
    at: usize,
    version: u64,
    groups: Option<(usize, Vec<Group>)>,
    default_mac: Option<(usize, String)>,
) -> Result<(Vec<Group>, String), ParseError> {
    let too_early = |pos: usize, field: &str| {
        ParseError::at(
            src,
            pos,
            format!("seal metadata: `{field}` needs format version {GROUPS_SINCE}"),
        )
    };
    match (groups, default_mac) {
        (None, None) => Ok((Vec::new(), String::new())),
        (Some((pos, _)), _) if version < GROUPS_SINCE => Err(too_early(pos, "groups")),
        (_, Some((pos, _))) if version < GROUPS_SINCE => Err(too_early(pos, "default_mac")),
        (Some((_, groups)), Some((_, default_mac))) => Ok((groups, default_mac)),
        (Some(_), None) => Err(ParseError::at(
            src,
            at,
            "seal metadata: `groups` without `default_mac`",
        )),
        (None, Some((pos, _))) => Err(ParseError::at(
            src,
            pos,
            "seal metadata: `default_mac` without `groups`",
        )),
    }
}

fn value_pos(v: &Value) -> usize {
    v.span().map_or(0, |s| s.start)
}

fn string(src: &str, v: &Value, field: &str) -> Result<String, ParseError> {
    match v {
        Value::String(s) => Ok(s.value().clone()),
        _ => Err(ParseError::at(
            src,
            value_pos(v),
            format!("seal metadata field {field} must be a string"),
        )),
    }
}

fn array<'v>(src: &str, v: &'v Value, field: &str) -> Result<Vec<&'v Value>, ParseError> {
    match v {
        Value::Array(a) => Ok(a.iter().collect()),
        _ => Err(ParseError::at(
            src,
            value_pos(v),
            format!("seal metadata field {field} must be an array"),
        )),
    }
}

fn wrapped_key(src: &str, v: &Value) -> Result<WrappedKey, ParseError> {
    let [recipient, data_key] = string_pair(src, v, "recipient", ["recipient", "data_key"])?;
    Ok(WrappedKey {
        recipient,
        data_key,
    })
}
