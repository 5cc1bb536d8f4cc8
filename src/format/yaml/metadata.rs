//! The `seal` entry: found as the last key of the last document's root
//! block mapping, read field by field, checked to be laid out exactly as
//! [`render_metadata`] writes it, and attached to plaintext documents.

use crate::format::{common, line_ending, EditError, MetadataBlock, ParseError};
use crate::metadata::{
    readable, unsupported_version, Changed, Group, GroupKey, Metadata, Pending, Signed, WrappedKey,
    GROUPS_SINCE, RESERVED_KEY,
};

use super::edit::part;
use super::spans::{after_break, break_before, line_start};
use super::tree::{build_tree, Doc, Entry, Item, Kind, Node, Tree};
use super::{printable, quote};

const NEEDS_BLOCK_MAPPING: &str =
    "the top level of the last YAML document must be a block mapping to hold seal's metadata";

pub(super) fn attach_metadata(body: &str, meta: &Metadata) -> Result<String, EditError> {
    let tree = build_tree(body)?;
    let Some(doc) = tree.docs.last() else {
        return Err(EditError::Unsupported(format!(
            "the document is empty or holds only comments; {NEEDS_BLOCK_MAPPING}"
        )));
    };
    let entries = match doc.root.as_ref().map(|n| &n.kind) {
        Some(Kind::Map {
            flow: false,
            entries,
            ..
        }) => entries,
        // Say what the top level is, so a valid document refused here is
        // not taken for a syntax error.
        other => {
            let found = match other {
                Some(Kind::Map { .. }) => "a flow mapping (`{ … }`)",
                Some(Kind::Seq { flow: true, .. }) => "a flow sequence (`[ … ]`)",
                Some(Kind::Seq { .. }) => "a sequence",
                Some(Kind::Alias { .. }) => "an alias",
                Some(Kind::Scalar { .. }) => "a scalar",
                Some(Kind::Empty { .. }) | None => "empty",
            };
            return Err(EditError::Unsupported(format!(
                "{NEEDS_BLOCK_MAPPING}; here it is {found}"
            )));
        }
    };
    let first = entries
        .first()
        .ok_or_else(|| EditError::Unsupported(NEEDS_BLOCK_MAPPING.to_owned()))?;
    // An empty implicit key (`   :`) can report its entry before the
    // indentation or blank lines, so find where its text really starts.
    let text_start = body[first.start..]
        .find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .map_or(body.len(), |i| first.start + i);
    if line_start(body, text_start) != text_start {
        return Err(EditError::Unsupported(format!(
            "{NEEDS_BLOCK_MAPPING} starting at column 1"
        )));
    }
    if tree
        .docs
        .iter()
        .any(|d| root_entry(d, RESERVED_KEY).is_some())
    {
        return Err(EditError::Unsupported(format!(
            "the document already has a top-level `{RESERVED_KEY}` key, which seal reserves for its metadata"
        )));
    }
    let le = line_ending(body);
    let block = render_metadata(meta, le);
    let mut out = String::with_capacity(body.len() + block.len() + 4);
    match doc.end_marker {
        Some(at) => {
            out.push_str(part(body, 0..at)?);
            out.push_str(&block);
            out.push_str(le);
            out.push_str(part(body, at..body.len())?);
        }
        None => {
            out.push_str(body);
            if body.ends_with('\n') {
                out.push_str(&block);
                out.push_str(le);
            } else {
                out.push_str(le);
                out.push_str(&block);
            }
        }
    }
    // The checks above cover the shapes people write; the sealing
    // pipeline re-scans its output and refuses any layout they miss, where
    // the block would not read back as exactly this one.
    Ok(out)
}

pub(super) struct Analysis {
    pub(super) tree: Tree,
    pub(super) metadata: Option<MetadataBlock>,
    /// Index of the metadata entry in the last document's root mapping.
    pub(super) meta_entry: Option<usize>,
}

fn root_entry<'a>(doc: &'a Doc, key: &str) -> Option<(usize, &'a Entry, bool, usize)> {
    match &doc.root.as_ref()?.kind {
        Kind::Map { entries, flow, .. } => {
            let i = entries.iter().position(|e| e.key == key)?;
            Some((i, &entries[i], *flow, entries.len()))
        }
        _ => None,
    }
}

pub(super) fn analyze(src: &str) -> Result<Analysis, ParseError> {
    let tree = build_tree(src)?;
    let n = tree.docs.len();
    let mut metadata = None;
    let mut meta_entry = None;
    for (d, doc) in tree.docs.iter().enumerate() {
        let Some((i, entry, flow, len)) = root_entry(doc, RESERVED_KEY) else {
            continue;
        };
        let at = entry.key_start;
        if d + 1 != n {
            return Err(ParseError::at(
                src,
                at,
                "the reserved key `seal` may only appear in the last YAML document",
            ));
        }
        if flow {
            return Err(ParseError::at(
                src,
                at,
                "the reserved key `seal` must be an entry of a block mapping",
            ));
        }
        if i + 1 != len {
            return Err(ParseError::at(
                src,
                at,
                "the reserved key `seal` must be the last top-level key",
            ));
        }
        let meta = parse_metadata(src, entry)?;
        let b = src.as_bytes();
        let start = line_start(src, entry.start);
        let block = render_metadata(&meta, "\n");
        let (region, written) = match after_break(b, entry.value.end) {
            Some(end) => (start..end, format!("{block}\n")),
            None => match break_before(b, start) {
                0 => (start..src.len(), block),
                before => (start - before..src.len(), format!("\n{block}")),
            },
        };
        if readable(meta.version) {
            common::check_block_layout(src, region.clone(), &written)?;
        }
        metadata = Some(MetadataBlock {
            region,
            metadata: meta,
        });
        meta_entry = Some(i);
    }
    Ok(Analysis {
        tree,
        metadata,
        meta_entry,
    })
}

fn meta_err(src: &str, node: &Node, what: &str) -> ParseError {
    ParseError::at(src, node.start, format!("seal metadata: {what}"))
}

fn meta_string(src: &str, node: &Node, field: &str) -> Result<String, ParseError> {
    match &node.kind {
        Kind::Scalar { value, .. } => Ok(value.to_string()),
        _ => Err(meta_err(src, node, &format!("`{field}` must be a string"))),
    }
}

fn meta_entries<'a>(src: &str, node: &'a Node, what: &str) -> Result<&'a [Entry], ParseError> {
    match &node.kind {
        Kind::Map { entries, .. } => Ok(entries),
        _ => Err(meta_err(src, node, &format!("{what} must be a mapping"))),
    }
}

fn meta_items<'a>(src: &str, node: &'a Node, field: &str) -> Result<&'a [Item], ParseError> {
    match &node.kind {
        Kind::Seq { items, .. } => Ok(items),
        _ => Err(meta_err(
            src,
            node,
            &format!("`{field}` must be a sequence"),
        )),
    }
}

fn parse_metadata(src: &str, seal: &Entry) -> Result<Metadata, ParseError> {
    let fields = meta_entries(src, &seal.value, "`seal`")?;
    let version_node = fields.iter().find(|e| e.key == "version");
    let version = match version_node {
        None => None,
        Some(e) => match &e.value.kind {
            Kind::Scalar { value, span }
                if src
                    .as_bytes()
                    .get(span.start)
                    .is_some_and(u8::is_ascii_digit) =>
            {
                Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| meta_err(src, &e.value, "`version` must be an integer"))?,
                )
            }
            _ => return Err(meta_err(src, &e.value, "`version` must be an integer")),
        },
    };
    // Versions before groups have no `groups` or `default_mac` (spec 6.1);
    // an unreadable version is refused as such below.
    if version.is_some_and(|v| readable(v) && v < GROUPS_SINCE) {
        if let Some(f) = fields
            .iter()
            .find(|e| e.key == "groups" || e.key == "default_mac")
        {
            return Err(ParseError::at(
                src,
                f.key_start,
                format!(
                    "seal metadata: `{}` needs format version {GROUPS_SINCE}",
                    f.key
                ),
            ));
        }
    }
    match (metadata_fields(src, seal, fields), version) {
        (Ok(fields), Some(version)) => {
            let meta = Metadata { version, ..fields };
            common::check_version_fields(src, seal.key_start, &meta)?;
            Ok(meta)
        }
        (Ok(_), None) => Err(ParseError::at(
            src,
            seal.key_start,
            "seal metadata: missing `version`",
        )),
        (Err(e), Some(v)) if !readable(v) => {
            Err(ParseError::new(e.line, e.column, unsupported_version(v)))
        }
        (Err(e), _) => Err(e),
    }
}

/// Every field but `version`, which the caller reads first and sets.
fn metadata_fields(src: &str, seal: &Entry, fields: &[Entry]) -> Result<Metadata, ParseError> {
    let (mut modified, mut encrypt, mut recipients, mut mac) = (None, Vec::new(), None, None);
    let (mut changed, mut pending) = (Vec::new(), Vec::new());
    let (mut groups, mut default_mac) = (None, None);
    let (mut signer, mut signature) = (None, None);
    for f in fields {
        match f.key.as_str() {
            "version" => {}
            "signer" => signer = Some(meta_string(src, &f.value, "signer")?),
            "signature" => signature = Some(meta_string(src, &f.value, "signature")?),
            "modified" => modified = Some(meta_string(src, &f.value, "modified")?),
            "mac" => mac = Some(meta_string(src, &f.value, "mac")?),
            "encrypt" => {
                for item in meta_items(src, &f.value, "encrypt")? {
                    encrypt.push(meta_string(src, &item.node, "encrypt")?);
                }
            }
            "changed" => changed = changed_field(src, &f.value)?,
            "pending" => pending = pending_field(src, &f.value)?,
            "groups" => groups = Some(groups_field(src, &f.value)?),
            "default_mac" => default_mac = Some(meta_string(src, &f.value, "default_mac")?),
            "recipients" => {
                let mut list = Vec::new();
                for item in meta_items(src, &f.value, "recipients")? {
                    let (mut recipient, mut data_key) = (None, None);
                    for r in meta_entries(src, &item.node, "a recipient")? {
                        match r.key.as_str() {
                            "recipient" => {
                                recipient = Some(meta_string(src, &r.value, "recipient")?)
                            }
                            "data_key" => data_key = Some(meta_string(src, &r.value, "data_key")?),
                            _ => {
                                return Err(ParseError::at(
                                    src,
                                    r.key_start,
                                    "seal metadata: unknown recipient field",
                                ))
                            }
                        }
                    }
                    let missing = |what: &str| {
                        meta_err(src, &item.node, &format!("recipient is missing `{what}`"))
                    };
                    list.push(WrappedKey {
                        recipient: recipient.ok_or_else(|| missing("recipient"))?,
                        data_key: data_key.ok_or_else(|| missing("data_key"))?,
                    });
                }
                recipients = Some(list);
            }
            _ => {
                return Err(ParseError::at(
                    src,
                    f.key_start,
                    "seal metadata: unknown field",
                ))
            }
        }
    }
    let missing = |what: &str| {
        ParseError::at(
            src,
            seal.key_start,
            format!("seal metadata: missing `{what}`"),
        )
    };
    let missing_pair =
        |what: &str| ParseError::at(src, seal.key_start, format!("seal metadata: {what}"));
    let signed = common::signed_pair(signer, signature)
        .map_err(|what| ParseError::at(src, seal.key_start, format!("seal metadata: {what}")))?;
    let (groups, default_mac) = match (groups, default_mac) {
        (None, None) => (Vec::new(), String::new()),
        (Some(groups), Some(default_mac)) => (groups, default_mac),
        (Some(_), None) => return Err(missing_pair("`groups` without `default_mac`")),
        (None, Some(_)) => return Err(missing_pair("`default_mac` without `groups`")),
    };
    Ok(Metadata {
        version: 0,
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

/// `groups` (version 5): a sequence of `{name, keys, recipients, mac}`
/// mappings. Field order and duplicates are left to the layout check.
fn groups_field(src: &str, node: &Node) -> Result<Vec<Group>, ParseError> {
    let mut list = Vec::new();
    for item in meta_items(src, node, "groups")? {
        let (mut name, mut keys, mut recipients, mut mac) = (None, None, None, None);
        for e in meta_entries(src, &item.node, "a group")? {
            match e.key.as_str() {
                "name" => name = Some(meta_string(src, &e.value, "name")?),
                "keys" => {
                    let items = meta_items(src, &e.value, "keys")?;
                    keys = Some(
                        items
                            .iter()
                            .map(|k| meta_string(src, &k.node, "keys"))
                            .collect::<Result<Vec<_>, _>>()?,
                    );
                }
                "recipients" => recipients = Some(group_keys(src, &e.value)?),
                "mac" => mac = Some(meta_string(src, &e.value, "mac")?),
                _ => {
                    return Err(ParseError::at(
                        src,
                        e.key_start,
                        "seal metadata: unknown group field",
                    ))
                }
            }
        }
        let missing = |what: &str| meta_err(src, &item.node, &format!("group is missing `{what}`"));
        list.push(Group {
            name: name.ok_or_else(|| missing("name"))?,
            keys: keys.ok_or_else(|| missing("keys"))?,
            recipients: recipients.ok_or_else(|| missing("recipients"))?,
            mac: mac.ok_or_else(|| missing("mac"))?,
        });
    }
    Ok(list)
}

/// A group's `recipients`: `{recipient, data_key, file_key}` mappings.
fn group_keys(src: &str, node: &Node) -> Result<Vec<GroupKey>, ParseError> {
    let mut list = Vec::new();
    for item in meta_items(src, node, "recipients")? {
        let (mut recipient, mut data_key, mut file_key) = (None, None, None);
        for e in meta_entries(src, &item.node, "a group recipient")? {
            match e.key.as_str() {
                "recipient" => recipient = Some(meta_string(src, &e.value, "recipient")?),
                "data_key" => data_key = Some(meta_string(src, &e.value, "data_key")?),
                "file_key" => file_key = Some(meta_string(src, &e.value, "file_key")?),
                _ => {
                    return Err(ParseError::at(
                        src,
                        e.key_start,
                        "seal metadata: unknown group recipient field",
                    ))
                }
            }
        }
        let missing = |what: &str| {
            meta_err(
                src,
                &item.node,
                &format!("group recipient is missing `{what}`"),
            )
        };
        list.push(GroupKey {
            recipient: recipient.ok_or_else(|| missing("recipient"))?,
            data_key: data_key.ok_or_else(|| missing("data_key"))?,
            file_key: file_key.ok_or_else(|| missing("file_key"))?,
        });
    }
    Ok(list)
}

/// `pending` (version 4): a sequence of `{path, value}` mappings.
fn pending_field(src: &str, node: &Node) -> Result<Vec<Pending>, ParseError> {
    let mut list = Vec::new();
    for item in meta_items(src, node, "pending")? {
        let (mut path, mut value) = (None, None);
        for e in meta_entries(src, &item.node, "a pending value")? {
            match e.key.as_str() {
                "path" => path = Some(meta_string(src, &e.value, "pending")?),
                "value" => value = Some(meta_string(src, &e.value, "pending")?),
                _ => {
                    return Err(ParseError::at(
                        src,
                        e.key_start,
                        "seal metadata: unknown pending field",
                    ))
                }
            }
        }
        let missing =
            |what: &str| meta_err(src, &item.node, &format!("pending value is missing `{what}`"));
        list.push(Pending {
            path: path.ok_or_else(|| missing("path"))?,
            value: value.ok_or_else(|| missing("value"))?,
        });
    }
    Ok(list)
}

/// `changed` (version 2): a mapping from key path to date.
fn changed_field(src: &str, node: &Node) -> Result<Vec<Changed>, ParseError> {
    meta_entries(src, node, "`changed`")?
        .iter()
        .map(|e| {
            Ok(Changed {
                path: e.key.to_string(),
                date: meta_string(src, &e.value, "changed")?,
            })
        })
        .collect()
}

/// The `changed` lines (version 2), in block order after `encrypt`.
fn render_changed(meta: &Metadata, lines: &mut Vec<String>) {
    if meta.changed.is_empty() {
        return;
    }
    lines.push("  changed:".to_owned());
    lines.extend(
        meta.changed
            .iter()
            .map(|c| format!("    {}: {}", quote(&c.path), quote(&c.date))),
    );
}

/// The block `attach_metadata` writes, without a final line break.
fn render_metadata(meta: &Metadata, le: &str) -> String {
    let mut lines = vec![
        format!("{RESERVED_KEY}:"),
        format!("  version: {}", meta.version),
    ];
    lines.push(format!("  modified: {}", quote(&meta.modified)));
    if !meta.encrypt.is_empty() {
        lines.push("  encrypt:".to_owned());
        lines.extend(meta.encrypt.iter().map(|p| format!("    - {}", quote(p))));
    }
    render_changed(meta, &mut lines);
    if meta.recipients.is_empty() {
        lines.push("  recipients: []".to_owned());
    } else {
        lines.push("  recipients:".to_owned());
    }
    for r in &meta.recipients {
        lines.push(format!("    - recipient: {}", quote(&r.recipient)));
        push_block_field(&mut lines, "      data_key", "        ", &r.data_key);
    }
    render_groups(meta, &mut lines);
    if !meta.pending.is_empty() {
        lines.push("  pending:".to_owned());
    }
    for p in &meta.pending {
        lines.push(format!("    - path: {}", quote(&p.path)));
        push_block_field(&mut lines, "      value", "        ", &p.value);
    }
    lines.push(format!("  mac: {}", quote(&meta.mac)));
    if let Some(signed) = &meta.signed {
        render_signed(signed, &mut lines);
    }
    lines.join(le)
}

/// `groups` and `default_mac` (version 5), after `recipients`: both
/// absent without groups. A group's armored keys are literal blocks
/// indented twelve spaces, written as a top-level `data_key` is.
fn render_groups(meta: &Metadata, lines: &mut Vec<String>) {
    if meta.groups.is_empty() {
        return;
    }
    lines.push("  groups:".to_owned());
    for g in &meta.groups {
        lines.push(format!("    - name: {}", quote(&g.name)));
        if g.keys.is_empty() {
            lines.push("      keys: []".to_owned());
        } else {
            lines.push("      keys:".to_owned());
        }
        lines.extend(g.keys.iter().map(|k| format!("        - {}", quote(k))));
        if g.recipients.is_empty() {
            lines.push("      recipients: []".to_owned());
        } else {
            lines.push("      recipients:".to_owned());
        }
        for r in &g.recipients {
            lines.push(format!("        - recipient: {}", quote(&r.recipient)));
            push_block_field(lines, "          data_key", "            ", &r.data_key);
            push_block_field(lines, "          file_key", "            ", &r.file_key);
        }
        lines.push(format!("      mac: {}", quote(&g.mac)));
    }
    lines.push(format!("  default_mac: {}", quote(&meta.default_mac)));
}

/// `signer` and `signature` (after `mac`): the armored signature as a
/// literal block indented four spaces, like a `data_key`.
fn render_signed(signed: &Signed, lines: &mut Vec<String>) {
    lines.push(format!("  signer: {}", quote(&signed.signer)));
    push_block_field(lines, "  signature", "    ", &signed.signature);
}

/// `FIELD: |` with `text`'s lines indented by `indent` (an empty line
/// stays empty), or `FIELD: "…"` when a literal block would not read back
/// exactly. `field` carries its own indentation.
fn push_block_field(lines: &mut Vec<String>, field: &str, indent: &str, text: &str) {
    if !literal_block_ok(text) {
        lines.push(format!("{field}: {}", quote(text)));
        return;
    }
    lines.push(format!("{field}: |"));
    let body = text.strip_suffix('\n').unwrap_or(text);
    lines.extend(body.split('\n').map(|l| {
        if l.is_empty() {
            String::new()
        } else {
            format!("{indent}{l}")
        }
    }));
}

/// Whether `text` reads back exactly from a clipped `|` block.
fn literal_block_ok(text: &str) -> bool {
    let Some(body) = text.strip_suffix('\n') else {
        return false;
    };
    !body.is_empty()
        && !body.ends_with('\n')
        && !body.starts_with([' ', '\n'])
        && body
            .chars()
            .all(|c| c == '\n' || (c != '\t' && printable(c) && !c.is_control()))
}
