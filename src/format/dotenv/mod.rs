//! dotenv files: `KEY=value` lines, `export KEY=value`, `#` comments, and
//! unquoted, single-quoted and double-quoted values.
//!
//! Hand-written: no crate gives byte ranges. Semantics follow dotenvy for
//! every input dotenvy accepts, except that variables (`$NAME`, `${NAME}`)
//! are not expanded here: values are reported as written, and only `seal
//! exec` and `seal export` expand them when handing values out (`expand.rs`). Where dotenvy errors
//! but other loaders (docker compose, python-dotenv) agree, we follow them:
//! unquoted values may contain spaces (`KEY=a b`), and `\t`, `\r` are escapes
//! in double quotes (other unknown escapes stay literal). Where loaders
//! disagree we refuse rather than guess: a quote inside an unquoted value,
//! text right after a closing quote, and a value starting with `#`.
//!
//! Metadata is a run of `# seal: field=value` comment lines ending the file.
//!
//! The line parser, the metadata lines and the edits stay in this one file:
//! each is a few hundred lines and they share the line helpers. Tests are in
//! `tests.rs`.

use std::ops::Range;

mod expand;
pub use expand::{expanded_values, ExpandError};

use zeroize::Zeroizing;

use crate::format::common::{self, splice};
use crate::format::{
    line_ending, EditError, Leaf, LeafKind, MetadataBlock, ParseError, Scan, Syntax, Typed,
};
use crate::metadata::{
    readable, unsupported_version, Changed, Group, GroupKey, Metadata, Pending, WrappedKey,
    GROUPS_SINCE,
};
use crate::path::{KeyPath, PathQuery};

const META_PREFIX: &str = "# seal: ";
const META_START: &str = "# seal: version=";

struct Entry {
    key: String,
    /// Start of the line holding the key.
    line_start: usize,
    /// The value's source text (quotes included); empty for `KEY=`.
    value: Range<usize>,
    kind: LeafKind,
    /// End of the entry's last line, line break included.
    end: usize,
}

struct Parsed {
    entries: Vec<Entry>,
    meta: Option<MetadataBlock>,
    /// Where the document proper ends (the metadata region's start).
    body_end: usize,
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty() && is_key_start(b[0]) && b.iter().all(|&c| is_key_byte(c))
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// Whether a line ends at `i`: end of input, `\n`, or `\r` before `\n` or
/// at the end.
fn is_eol(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        None | Some(b'\n') => true,
        Some(b'\r') => matches!(b.get(i + 1), None | Some(b'\n')),
        _ => false,
    }
}

/// The position after the line break that ends the line holding `i`.
fn next_line(src: &str, i: usize) -> usize {
    src.get(i..)
        .and_then(|rest| rest.find('\n'))
        .map_or(src.len(), |n| i + n + 1)
}

fn parse_key(b: &[u8], p: usize) -> Option<Range<usize>> {
    if !b.get(p).is_some_and(|&c| is_key_start(c)) {
        return None;
    }
    let mut e = p + 1;
    while b.get(e).is_some_and(|&c| is_key_byte(c)) {
        e += 1;
    }
    Some(p..e)
}

fn parse(src: &str) -> Result<Parsed, ParseError> {
    let b = src.as_bytes();
    let mut pos = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let mut entries = Vec::new();
    while pos < b.len() {
        let line_start = pos;
        let p = skip_blanks(b, pos);
        match b.get(p) {
            None => break,
            Some(b'\n') => pos = p + 1,
            Some(b'\r') if is_eol(b, p) => pos = next_line(src, p),
            Some(b'#') => {
                if p == line_start && src[p..].starts_with(META_START) {
                    let meta = parse_metadata(src, line_start)?;
                    let body_end = meta.region.start;
                    return Ok(Parsed {
                        entries,
                        meta: Some(meta),
                        body_end,
                    });
                }
                pos = next_line(src, p);
            }
            Some(_) => {
                let entry = parse_entry(src, line_start, p)?;
                pos = entry.end;
                entries.push(entry);
            }
        }
    }
    Ok(Parsed {
        entries,
        meta: None,
        body_end: src.len(),
    })
}

fn parse_entry(src: &str, line_start: usize, p: usize) -> Result<Entry, ParseError> {
    let b = src.as_bytes();
    let mut key = parse_key(b, p)
        .ok_or_else(|| ParseError::at(src, p, "expected a variable assignment (NAME=value)"))?;
    if &src[key.clone()] == "export" {
        let r = skip_blanks(b, key.end);
        if r > key.end && b.get(r) != Some(&b'=') {
            key = parse_key(b, r)
                .ok_or_else(|| ParseError::at(src, r, "expected a variable name after export"))?;
        }
    }
    let eq = skip_blanks(b, key.end);
    if b.get(eq) != Some(&b'=') {
        return Err(ParseError::at(
            src,
            eq,
            "expected '=' after the variable name",
        ));
    }
    let (value, kind, end) = value_after(src, eq + 1)?;
    Ok(Entry {
        key: src[key].to_owned(),
        line_start,
        value,
        kind,
        end,
    })
}

/// The value after the `=` that ends before `after`: its source text, its
/// kind and the start of the next line.
fn value_after(src: &str, after: usize) -> Result<(Range<usize>, LeafKind, usize), ParseError> {
    let b = src.as_bytes();
    let v = skip_blanks(b, after);
    if is_eol(b, v) {
        return Ok((after..after, LeafKind::Empty, next_line(src, v)));
    }
    match b[v] {
        b'#' if v > after => Ok((after..after, LeafKind::Empty, next_line(src, v))),
        b'#' => Err(ParseError::at(
            src,
            v,
            "a value starting with '#' must be quoted",
        )),
        b'\'' => {
            let close = src[v + 1..]
                .find('\'')
                .map(|n| v + 1 + n)
                .ok_or_else(|| ParseError::at(src, v, "unterminated single-quoted value"))?;
            Ok((v..close + 1, LeafKind::Scalar, after_quote(src, close + 1)?))
        }
        b'"' => {
            let mut i = v + 1;
            loop {
                match b.get(i) {
                    None => return Err(ParseError::at(src, v, "unterminated double-quoted value")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            Ok((v..i + 1, LeafKind::Scalar, after_quote(src, i + 1)?))
        }
        _ => {
            let (value_end, next) = unquoted(src, v)?;
            Ok((v..value_end, LeafKind::Scalar, next))
        }
    }
}

/// The value whose source text is `src[span]`, checked to be exactly one
/// value where it stands (a decrypted value is text nobody has parsed in
/// place yet).
fn value_at(src: &str, span: Range<usize>) -> Result<Zeroizing<String>, ParseError> {
    let (found, _, _) = value_after(src, span.start)?;
    if found != span {
        return Err(ParseError::at(
            src,
            found.end.min(span.end),
            "a value here is not one dotenv value",
        ));
    }
    Ok(decode(&src[span]))
}

/// Scan an unquoted value from `v`: returns the end of its text (trailing
/// blanks excluded) and the start of the next line.
fn unquoted(src: &str, v: usize) -> Result<(usize, usize), ParseError> {
    let b = src.as_bytes();
    // Most values (every token) run to the line break with nothing to
    // interpret: check the whole line at once with vectorized searches.
    let line_end = memchr::memchr(b'\n', &b[v..]).map_or(b.len(), |n| v + n);
    let run_end = match b[..line_end].last() {
        Some(b'\r') if line_end > v => line_end - 1,
        _ => line_end,
    };
    if !has_unquoted_special(&b[v..run_end]) {
        return Ok((run_end, (line_end + 1).min(b.len())));
    }
    let mut i = v;
    let mut end = v;
    while !is_eol(b, i) {
        match b[i] {
            b'\\' => {
                if is_eol(b, i + 1) {
                    return Err(ParseError::at(
                        src,
                        i,
                        "a backslash cannot end an unquoted value",
                    ));
                }
                // i + 1 is a char boundary: b[i] is ASCII.
                i += 1 + src[i + 1..].chars().next().map_or(1, char::len_utf8);
                end = i;
            }
            b'\'' | b'"' => {
                return Err(ParseError::at(
                    src,
                    i,
                    "quote inside an unquoted value (quote the whole value)",
                ));
            }
            b' ' | b'\t' => {
                i = skip_blanks(b, i);
                if b.get(i) == Some(&b'#') {
                    break;
                }
            }
            _ => {
                // Skip the run of ordinary bytes in one go: values are long.
                i += 1;
                while i < b.len() && !UNQUOTED_SPECIAL[b[i] as usize] {
                    i += 1;
                }
                end = i;
            }
        }
    }
    Ok((end, next_line(src, i)))
}

/// Bytes that end a run of ordinary characters in an unquoted value: line
/// breaks, escapes, quotes and blanks (which may start a comment). Besides
/// `\n`, in two groups of three for `memchr3`.
const UNQUOTED_SPECIAL_GROUPS: [[u8; 3]; 2] = [[b'\\', b'\'', b'"'], [b' ', b'\t', b'\r']];

/// [`UNQUOTED_SPECIAL_GROUPS`] and `\n` as a lookup table.
const UNQUOTED_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'\n' as usize] = true;
    let mut g = 0;
    while g < UNQUOTED_SPECIAL_GROUPS.len() {
        let mut i = 0;
        while i < 3 {
            table[UNQUOTED_SPECIAL_GROUPS[g][i] as usize] = true;
            i += 1;
        }
        g += 1;
    }
    table
};

/// Whether `run` (no `\n` in it) has a byte that needs interpreting.
fn has_unquoted_special(run: &[u8]) -> bool {
    UNQUOTED_SPECIAL_GROUPS
        .iter()
        .any(|[a, b, c]| memchr::memchr3(*a, *b, *c, run).is_some())
}

/// After a closing quote only blanks and a `#` comment may follow.
fn after_quote(src: &str, c: usize) -> Result<usize, ParseError> {
    let b = src.as_bytes();
    let j = skip_blanks(b, c);
    if is_eol(b, j) || (j > c && b[j] == b'#') {
        Ok(next_line(src, j))
    } else {
        Err(ParseError::at(
            src,
            j,
            "unexpected text after the closing quote",
        ))
    }
}

fn parse_metadata(src: &str, start: usize) -> Result<MetadataBlock, ParseError> {
    // The first line is `# seal: version=N`; a newer N explains any failure.
    let first_end = src[start..]
        .find(['\r', '\n'])
        .map_or(src.len(), |n| start + n);
    let version = src[start + META_START.len()..first_end].parse::<u64>().ok();
    let metadata = metadata_lines(src, start).map_err(|e| match version {
        Some(v) if !readable(v) => ParseError::at(src, start, unsupported_version(v)),
        _ => e,
    })?;
    common::check_version_fields(src, start, &metadata)?;
    let region_start = if src.ends_with('\n') {
        start
    } else {
        // attach_metadata put one line break (the block's own kind) before
        // the block and none after it.
        let le = if src.as_bytes().get(first_end) == Some(&b'\r') {
            "\r\n"
        } else {
            "\n"
        };
        if src[..start].ends_with(le) {
            start - le.len()
        } else {
            start
        }
    };
    let body = &src[..region_start];
    let lines = render_metadata_lines(&metadata);
    let written = if !body.is_empty() && !body.ends_with('\n') {
        format!("\n{}", lines.join("\n"))
    } else {
        lines.iter().map(|l| format!("{l}\n")).collect()
    };
    if readable(metadata.version) {
        common::check_block_layout(src, region_start..src.len(), &written)?;
    }
    Ok(MetadataBlock {
        region: region_start..src.len(),
        metadata,
    })
}

fn metadata_lines(src: &str, start: usize) -> Result<Metadata, ParseError> {
    let (mut version, mut modified, mut mac) = (None, None, None);
    let (mut signer, mut signature): (Option<String>, Option<String>) = (None, None);
    let mut encrypt = Vec::new();
    let mut changed = Vec::new();
    let mut recipients: Vec<WrappedKey> = Vec::new();
    let mut groups: Vec<GroupLines> = Vec::new();
    let mut default_mac: Option<(usize, String)> = None;
    let mut pending: Vec<Pending> = Vec::new();
    let mut pos = start;
    while pos < src.len() {
        let next = next_line(src, pos);
        let mut line = &src[pos..next];
        line = line
            .strip_suffix('\n')
            .map_or(line, |l| l.strip_suffix('\r').unwrap_or(l));
        let Some(rest) = line.strip_prefix(META_PREFIX) else {
            return Err(ParseError::at(
                src,
                pos,
                "unexpected line after the seal metadata (it must end the file)",
            ));
        };
        let field_at = pos + META_PREFIX.len();
        let Some((field, value)) = rest.split_once('=') else {
            return Err(ParseError::at(
                src,
                field_at,
                "expected field=value in the seal metadata",
            ));
        };
        let once = |slot: &Option<String>| {
            if slot.is_some() {
                Err(ParseError::at(
                    src,
                    field_at,
                    "repeated field in the seal metadata",
                ))
            } else {
                Ok(Some(value.to_owned()))
            }
        };
        match field {
            "version" => {
                if version.is_some() {
                    return Err(ParseError::at(
                        src,
                        field_at,
                        "repeated field in the seal metadata",
                    ));
                }
                let v = value.parse::<u64>().map_err(|_| {
                    ParseError::at(
                        src,
                        field_at,
                        "seal metadata field version must be an integer",
                    )
                })?;
                version = Some(v);
            }
            "modified" => modified = once(&modified)?,
            "mac" => mac = once(&mac)?,
            "signer" => signer = once(&signer)?,
            // One line per armored line, like `data_key`.
            "signature" => {
                let text = signature.get_or_insert_with(String::new);
                text.push_str(value);
                text.push('\n');
            }
            "encrypt" => encrypt.push(value.to_owned()),
            // `changed=POINTER DATE`: a date holds no space.
            "changed" => match value.rsplit_once(' ') {
                Some((path, date)) => changed.push(Changed {
                    path: path.to_owned(),
                    date: date.to_owned(),
                }),
                None => {
                    return Err(ParseError::at(
                        src,
                        field_at,
                        "seal metadata field changed must be a key path, a space and a date",
                    ))
                }
            },
            "recipient" => recipients.push(WrappedKey {
                recipient: value.to_owned(),
                data_key: String::new(),
            }),
            "data_key" => push_armored_line(
                recipients.last_mut().map(|r| &mut r.data_key),
                value,
                || ParseError::at(src, field_at, "data_key before any recipient in the seal metadata"),
            )?,
            // A group's fields follow its `group` line, each recipient's
            // after its `group_recipient` line; the layout check refuses
            // any other order.
            "group" => groups.push(GroupLines {
                at: field_at,
                name: value.to_owned(),
                keys: Vec::new(),
                recipients: Vec::new(),
                mac: None,
            }),
            "group_keys" => groups
                .last_mut()
                .ok_or_else(|| before_group(src, field_at, "group_keys"))?
                .keys
                .push(value.to_owned()),
            "group_recipient" => groups
                .last_mut()
                .ok_or_else(|| before_group(src, field_at, "group_recipient"))?
                .recipients
                .push((
                    field_at,
                    GroupKey {
                        recipient: value.to_owned(),
                        data_key: String::new(),
                        file_key: String::new(),
                    },
                )),
            "group_data_key" | "group_file_key" => {
                let recipient = groups
                    .last_mut()
                    .and_then(|g| g.recipients.last_mut())
                    .map(|(_, r)| r);
                push_armored_line(
                    recipient.map(|r| {
                        if field == "group_data_key" {
                            &mut r.data_key
                        } else {
                            &mut r.file_key
                        }
                    }),
                    value,
                    || {
                        ParseError::at(
                            src,
                            field_at,
                            format!("{field} before any group_recipient of its group in the seal metadata"),
                        )
                    },
                )?
            }
            "group_mac" => {
                let group = groups
                    .last_mut()
                    .ok_or_else(|| before_group(src, field_at, "group_mac"))?;
                group.mac = once(&group.mac)?;
            }
            "default_mac" => {
                if default_mac.is_some() {
                    return Err(ParseError::at(
                        src,
                        field_at,
                        "repeated field in the seal metadata",
                    ));
                }
                default_mac = Some((field_at, value.to_owned()));
            }
            "pending" => pending.push(Pending {
                path: value.to_owned(),
                value: String::new(),
            }),
            "pending_value" => push_armored_line(
                pending.last_mut().map(|p| &mut p.value),
                value,
                || ParseError::at(src, field_at, "pending_value before any pending in the seal metadata"),
            )?,
            _ => return Err(ParseError::at(src, field_at, "unknown seal metadata field")),
        }
        pos = next;
    }
    let missing =
        |field: &str| ParseError::at(src, start, format!("seal metadata has no {field} field"));
    if recipients.iter().any(|r| r.data_key.is_empty()) {
        return Err(missing("data_key"));
    }
    if pending.iter().any(|p| p.value.is_empty()) {
        return Err(missing("pending_value"));
    }
    let signed = common::signed_pair(signer, signature)
        .map_err(|what| ParseError::at(src, start, format!("seal metadata: {what}")))?;
    let version = version.ok_or_else(|| missing("version"))?;
    let (groups, default_mac) = group_fields(src, version, groups, default_mac)?;
    Ok(Metadata {
        version,
        modified: modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        changed,
        recipients,
        groups,
        default_mac,
        pending,
        mac: mac.ok_or_else(|| missing("mac"))?,
        signed,
    })
}

/// A key group as its lines give it, with where they start, until
/// [`group_fields`] checks that none is missing.
struct GroupLines {
    /// The `group` line's field.
    at: usize,
    name: String,
    keys: Vec<String>,
    /// Each with its `group_recipient` line's field.
    recipients: Vec<(usize, GroupKey)>,
    mac: Option<String>,
}

fn before_group(src: &str, at: usize, field: &str) -> ParseError {
    ParseError::at(
        src,
        at,
        format!("{field} before any group in the seal metadata"),
    )
}

/// `groups` and `default_mac` from their lines: both need format version
/// 5 and come together, and every group and group recipient has all its
/// fields. Each error points at the line it is about.
fn group_fields(
    src: &str,
    version: u64,
    groups: Vec<GroupLines>,
    default_mac: Option<(usize, String)>,
) -> Result<(Vec<Group>, String), ParseError> {
    let too_old = |at: usize, field: &str| {
        ParseError::at(
            src,
            at,
            format!("seal metadata: `{field}` needs format version {GROUPS_SINCE}"),
        )
    };
    if version < GROUPS_SINCE {
        if let Some(g) = groups.first() {
            return Err(too_old(g.at, "groups"));
        }
        if let Some((at, _)) = default_mac {
            return Err(too_old(at, "default_mac"));
        }
    }
    let default_mac = match (groups.first(), default_mac) {
        (None, None) => return Ok((Vec::new(), String::new())),
        (Some(_), Some((_, mac))) => mac,
        (Some(g), None) => {
            return Err(ParseError::at(
                src,
                g.at,
                "seal metadata: `groups` without `default_mac`",
            ))
        }
        (None, Some((at, _))) => {
            return Err(ParseError::at(
                src,
                at,
                "seal metadata: `default_mac` without `groups`",
            ))
        }
    };
    let missing = |at: usize, field: &str| {
        ParseError::at(src, at, format!("seal metadata group has no {field} field"))
    };
    let groups = groups
        .into_iter()
        .map(|g| {
            // dotenv has no empty list: a group without `group_keys` or
            // `group_recipient` lines lacks the field.
            if g.keys.is_empty() {
                return Err(missing(g.at, "group_keys"));
            }
            if g.recipients.is_empty() {
                return Err(missing(g.at, "group_recipient"));
            }
            let recipients = g
                .recipients
                .into_iter()
                .map(|(at, r)| {
                    if r.data_key.is_empty() {
                        Err(missing(at, "group_data_key"))
                    } else if r.file_key.is_empty() {
                        Err(missing(at, "group_file_key"))
                    } else {
                        Ok(r)
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(Group {
                name: g.name,
                keys: g.keys,
                recipients,
                mac: g.mac.ok_or_else(|| missing(g.at, "group_mac"))?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((groups, default_mac))
}

/// One armored line of a `data_key` or `pending_value` field: the line and
/// a `\n` added to the entry it belongs to, which must have started.
fn push_armored_line(
    entry: Option<&mut String>,
    line: &str,
    orphan: impl FnOnce() -> ParseError,
) -> Result<(), ParseError> {
    let text = entry.ok_or_else(orphan)?;
    text.push_str(line);
    text.push('\n');
    Ok(())
}

/// dotenv files (see the module docs).
pub struct Dotenv;

impl Syntax for Dotenv {
    fn scan(&self, src: &str) -> Result<Scan, ParseError> {
        scan(src)
    }

    fn values(&self, src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
        values(src)
    }

    /// Every dotenv value is a string.
    fn typed_values(&self, src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
        Ok(values(src)?
            .into_iter()
            .map(|(path, value)| (path, Typed::String(value)))
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
}

fn scan(src: &str) -> Result<Scan, ParseError> {
    let parsed = parse(src)?;
    let leaves = parsed
        .entries
        .into_iter()
        .map(|e| Leaf {
            path: KeyPath::key_owned(e.key),
            span: e.value,
            kind: e.kind,
        })
        .collect();
    Ok(Scan {
        leaves,
        metadata: parsed.meta,
    })
}

/// Values as dotenvy loads them, without variable expansion. Duplicate keys
/// are all reported, in file order (the last one wins when loading).
fn values(src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
    let parsed = parse(src)?;
    Ok(parsed
        .entries
        .iter()
        .map(|e| (KeyPath::key(&e.key), decode(&src[e.value.clone()])))
        .collect())
}

/// A value's meaning from its source text: quotes removed, escapes of
/// unquoted and double-quoted values interpreted.
fn decode(text: &str) -> Zeroizing<String> {
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Zeroizing::new(inner.to_owned());
    }
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        return Zeroizing::new(inner.to_owned());
    }
    let mut out = Zeroizing::new(String::with_capacity(inner.len()));
    let mut i = 0;
    while let Some(n) = memchr::memchr(b'\\', &inner.as_bytes()[i..]) {
        out.push_str(&inner[i..i + n]);
        i = decode_escape(inner, i + n, &mut out);
    }
    out.push_str(&inner[i..]);
    out
}

/// Decode the escape whose backslash is at `text[at]` into `out`; returns
/// where the text goes on. `\\`, `\'`, `\"`, `\$` and `\ ` stand for the
/// character, `\n`, `\r` and `\t` for the control character; any other
/// escape stays as written (the backslash included).
fn decode_escape(text: &str, at: usize, out: &mut String) -> usize {
    let mut chars = text[at + 1..].chars();
    match chars.next() {
        Some(e @ ('\\' | '\'' | '"' | '$' | ' ')) => out.push(e),
        Some('n') => out.push('\n'),
        Some('r') => out.push('\r'),
        Some('t') => out.push('\t'),
        Some(other) => {
            out.push('\\');
            out.push(other);
        }
        None => {
            out.push('\\');
            return at + 1;
        }
    }
    text.len() - chars.as_str().len()
}

/// Source text reading back as `value`: bare when safe, else single quotes,
/// else double quotes. Tabs and carriage returns are written as themselves
/// inside double quotes because dotenvy rejects `\t` and `\r`.
fn string_literal(value: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c);
    if !value.is_empty() && value.chars().all(bare) {
        return value.to_owned();
    }
    // dotenvy treats a backslash in single quotes as escaping the next
    // character when finding the end of the value, so avoid it there.
    if !value.contains(['\'', '\n', '\r', '\\']) {
        return format!("'{value}'");
    }
    common::double_quoted(value, |c, out| {
        let dollar = c == '$';
        if dollar {
            out.push_str("\\$");
        }
        dollar
    })
}

fn attach_metadata(body: &str, meta: &Metadata) -> Result<String, EditError> {
    // A block starts with this line, so a body without it has none; the
    // full parse (a quarter of sealing a large file) is only needed to
    // tell such a line inside a quoted value from a real block.
    if body.contains(META_START) && parse(body)?.meta.is_some() {
        return Err(EditError::Unsupported(
            "the file already has seal metadata".into(),
        ));
    }
    let one_line = |s: &str| !s.contains(['\n', '\r']);
    let fields_ok = one_line(&meta.modified)
        && one_line(&meta.mac)
        && meta.encrypt.iter().all(|p| one_line(p))
        && meta
            .changed
            .iter()
            .all(|c| one_line(&c.path) && one_line(&c.date))
        && meta.recipients.iter().all(|r| {
            one_line(&r.recipient) && !r.data_key.is_empty() && !r.data_key.contains('\r')
        })
        && meta.groups.iter().all(|g| {
            one_line(&g.name)
                && one_line(&g.mac)
                && !g.keys.is_empty()
                && g.keys.iter().all(|k| one_line(k))
                && !g.recipients.is_empty()
                && g.recipients.iter().all(|r| {
                    one_line(&r.recipient)
                        && [&r.data_key, &r.file_key]
                            .iter()
                            .all(|k| !k.is_empty() && !k.contains('\r'))
                })
        })
        && one_line(&meta.default_mac)
        && meta.pending.iter().all(|p| {
            one_line(&p.path) && !p.value.is_empty() && !p.value.contains('\r')
        })
        && meta.signed.as_ref().is_none_or(|s| {
            one_line(&s.signer) && s.signature.ends_with('\n') && !s.signature.contains('\r')
        });
    if !fields_ok {
        return Err(EditError::Unsupported(
            "seal metadata for dotenv cannot hold line breaks in its fields, an empty data key, or a key group without keys or recipients"
                .into(),
        ));
    }
    let lines = render_metadata_lines(meta);
    let le = line_ending(body);
    let mut out = String::from(body);
    if !body.is_empty() && !body.ends_with('\n') {
        out.push_str(le);
        out.push_str(&lines.join(le));
    } else {
        for line in lines {
            out.push_str(&line);
            out.push_str(le);
        }
    }
    Ok(out)
}

/// The metadata block's lines, as a writer puts them.
fn render_metadata_lines(meta: &Metadata) -> Vec<String> {
    let mut lines = vec![
        format!("{META_START}{}", meta.version),
        format!("{META_PREFIX}modified={}", meta.modified),
    ];
    lines.extend(
        meta.encrypt
            .iter()
            .map(|p| format!("{META_PREFIX}encrypt={p}")),
    );
    lines.extend(
        meta.changed
            .iter()
            .map(|c| format!("{META_PREFIX}changed={} {}", c.path, c.date)),
    );
    for r in &meta.recipients {
        lines.push(format!("{META_PREFIX}recipient={}", r.recipient));
        push_armored(&mut lines, "data_key", &r.data_key);
    }
    for g in &meta.groups {
        lines.push(format!("{META_PREFIX}group={}", g.name));
        lines.extend(
            g.keys
                .iter()
                .map(|k| format!("{META_PREFIX}group_keys={k}")),
        );
        for r in &g.recipients {
            lines.push(format!("{META_PREFIX}group_recipient={}", r.recipient));
            push_armored(&mut lines, "group_data_key", &r.data_key);
            push_armored(&mut lines, "group_file_key", &r.file_key);
        }
        lines.push(format!("{META_PREFIX}group_mac={}", g.mac));
    }
    if !meta.groups.is_empty() {
        lines.push(format!("{META_PREFIX}default_mac={}", meta.default_mac));
    }
    for p in &meta.pending {
        lines.push(format!("{META_PREFIX}pending={}", p.path));
        push_armored(&mut lines, "pending_value", &p.value);
    }
    lines.push(format!("{META_PREFIX}mac={}", meta.mac));
    if let Some(signed) = &meta.signed {
        lines.push(format!("{META_PREFIX}signer={}", signed.signer));
        push_armored(&mut lines, "signature", &signed.signature);
    }
    lines
}

/// `# seal: FIELD=LINE` for each line of an armored text; reading appends
/// "\n" to each.
fn push_armored(lines: &mut Vec<String>, field: &str, armored: &str) {
    let armored = armored.strip_suffix('\n').unwrap_or(armored);
    lines.extend(
        armored
            .split('\n')
            .map(|l| format!("{META_PREFIX}{field}={l}")),
    );
}

fn single_key(path: &PathQuery) -> Result<&str, EditError> {
    match path.segments.as_slice() {
        [key] if path.doc == 0 => Ok(key),
        [first, _, ..] if path.doc == 0 => {
            Err(EditError::NotAContainer(first.clone(), path.to_string()))
        }
        _ => Err(EditError::NotFound(path.to_string())),
    }
}

fn set_value(src: &str, path: &PathQuery, literal: &str) -> Result<String, EditError> {
    let key = single_key(path)?;
    if !valid_key(key) {
        return Err(EditError::Unsupported(
            "not a valid dotenv variable name (letters, digits, _ and ., not starting with a digit)".into(),
        ));
    }
    // The literal must read as exactly one value.
    let probe = format!("K={literal}\n");
    let one = parse(&probe)?;
    if one.meta.is_some()
        || one.entries.len() != 1
        || one.entries[0].value != (2..2 + literal.len())
    {
        return Err(EditError::Unsupported(
            "the new value is not a single dotenv value".into(),
        ));
    }
    let parsed = parse(src)?;
    let out = match parsed.entries.iter().rev().find(|e| e.key == key) {
        Some(e) => splice(src, e.value.clone(), literal),
        None => {
            let at = parsed.body_end;
            let body = &src[..at];
            let le = line_ending(src);
            let line = if !body.is_empty() && !body.ends_with('\n') {
                format!("{le}{key}={literal}")
            } else {
                format!("{key}={literal}{le}")
            };
            splice(src, at..at, &line)
        }
    };
    // The edit must leave a valid file; anything else is a bug.
    parse(&out)?;
    Ok(out)
}

fn remove_value(src: &str, path: &PathQuery) -> Result<String, EditError> {
    let key = single_key(path)?;
    let parsed = parse(src)?;
    let body = &src[..parsed.body_end];
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for e in parsed.entries.iter().filter(|e| e.key == key) {
        let (start, end) = (e.line_start, e.end.min(parsed.body_end));
        match ranges.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => ranges.push(start..end),
        }
    }
    let Some(last) = ranges.last_mut() else {
        return Err(EditError::NotFound(path.to_string()));
    };
    // Removing the last lines of a body without a final line break: drop the
    // break before them instead, so the file keeps its final-newline state.
    if last.end == parsed.body_end && !body.ends_with('\n') && last.start > 0 {
        last.start -= if src[..last.start].ends_with("\r\n") {
            2
        } else {
            1
        };
    }
    let mut out = String::with_capacity(src.len());
    let mut pos = 0;
    for r in ranges {
        out.push_str(&src[pos..r.start]);
        pos = r.end;
    }
    out.push_str(&src[pos..]);
    parse(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
