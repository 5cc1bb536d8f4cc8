//! dotenv files: `KEY=value` lines, `export KEY=value`, `#` comments, and
//! unquoted, single-quoted and double-quoted values.
//!
//! Hand-written: no crate gives byte ranges. Semantics follow dotenvy for
//! every input dotenvy accepts, except that variables (`$NAME`, `${NAME}`)
//! are never expanded: seal reports values as written. Where dotenvy errors
//! but other loaders (docker compose, python-dotenv) agree, we follow them:
//! unquoted values may contain spaces (`KEY=a b`), and `\t`, `\r` are escapes
//! in double quotes (other unknown escapes stay literal). Where loaders
//! disagree we refuse rather than guess: a quote inside an unquoted value,
//! text right after a closing quote, and a value starting with `#`.
//!
//! Metadata is a run of `# seal: field=value` comment lines ending the file.

use std::ops::Range;

use zeroize::Zeroizing;

use crate::format::common::{self, splice};
use crate::format::{
    line_ending, EditError, Leaf, LeafKind, MetadataBlock, ParseError, Scan, Syntax, Typed,
};
use crate::metadata::{Metadata, WrappedKey, VERSION};
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
        Some(v) if v != VERSION => ParseError::at(
            src,
            start,
            format!("sealed with format version {v}; this seal reads version {VERSION}"),
        ),
        _ => e,
    })?;
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
    if metadata.version == VERSION {
        common::check_block_layout(src, region_start..src.len(), &written)?;
    }
    Ok(MetadataBlock {
        region: region_start..src.len(),
        metadata,
    })
}

fn metadata_lines(src: &str, start: usize) -> Result<Metadata, ParseError> {
    let (mut version, mut modified, mut mac) = (None, None, None);
    let mut encrypt = Vec::new();
    let mut recipients: Vec<WrappedKey> = Vec::new();
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
            "encrypt" => encrypt.push(value.to_owned()),
            "recipient" => recipients.push(WrappedKey {
                recipient: value.to_owned(),
                data_key: String::new(),
            }),
            "data_key" => {
                let Some(r) = recipients.last_mut() else {
                    return Err(ParseError::at(
                        src,
                        field_at,
                        "data_key before any recipient in the seal metadata",
                    ));
                };
                r.data_key.push_str(value);
                r.data_key.push('\n');
            }
            _ => return Err(ParseError::at(src, field_at, "unknown seal metadata field")),
        }
        pos = next;
    }
    let missing =
        |field: &str| ParseError::at(src, start, format!("seal metadata has no {field} field"));
    if recipients.iter().any(|r| r.data_key.is_empty()) {
        return Err(missing("data_key"));
    }
    Ok(Metadata {
        version: version.ok_or_else(|| missing("version"))?,
        modified: modified.ok_or_else(|| missing("modified"))?,
        encrypt,
        recipients,
        mac: mac.ok_or_else(|| missing("mac"))?,
    })
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
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('\\' | '\'' | '"' | '$' | ' ')) => out.push(e),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
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
    if parse(body)?.meta.is_some() {
        return Err(EditError::Unsupported(
            "the file already has seal metadata".into(),
        ));
    }
    let one_line = |s: &str| !s.contains(['\n', '\r']);
    let fields_ok = one_line(&meta.modified)
        && one_line(&meta.mac)
        && meta.encrypt.iter().all(|p| one_line(p))
        && meta.recipients.iter().all(|r| {
            one_line(&r.recipient) && !r.data_key.is_empty() && !r.data_key.contains('\r')
        });
    if !fields_ok {
        return Err(EditError::Unsupported(
            "seal metadata for dotenv cannot hold line breaks in its fields or an empty data key"
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
    for r in &meta.recipients {
        lines.push(format!("{META_PREFIX}recipient={}", r.recipient));
        // One line per armored line; reading appends "\n" to each.
        let armored = r.data_key.strip_suffix('\n').unwrap_or(&r.data_key);
        lines.extend(
            armored
                .split('\n')
                .map(|l| format!("{META_PREFIX}data_key={l}")),
        );
    }
    lines.push(format!("{META_PREFIX}mac={}", meta.mac));
    lines
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> PathQuery {
        PathQuery::parse(s).unwrap()
    }

    #[test]
    fn unquoted_value_ends_at_line_break_or_comment() {
        let cases = [
            ("A=abc\n", "abc"),
            ("A=abc", "abc"),
            ("A=abc\r\nB=1\n", "abc"),
            ("A=abc\r", "abc"),
            ("A=a b  # note\n", "a b"),
            ("A=a\\ b\n", "a\\ b"),
            ("A=x#y\n", "x#y"),
            ("A=ünï\n", "ünï"),
        ];
        for (src, value) in cases {
            let scan = scan(src).unwrap();
            assert_eq!(&src[scan.leaves[0].span.clone()], value, "{src:?}");
        }
    }

    fn meta() -> Metadata {
        Metadata {
            version: 1,
            modified: "2026-11-23T11:30:00Z".into(),
            encrypt: vec!["DB_*".into(), "API=x".into()],
            recipients: vec![
                WrappedKey {
                    recipient: "age1xyz".into(),
                    data_key: "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n".into(),
                },
                WrappedKey { recipient: "ssh-ed25519 AAAA me@host".into(), data_key: "a\nb\n".into() },
            ],
            mac: "bWFj".into(),
        }
    }

    fn vals(src: &str) -> Vec<(String, String)> {
        values(src)
            .unwrap()
            .into_iter()
            .map(|(p, v)| (p.strings().concat(), v.to_string()))
            .collect()
    }

    fn oracle(src: &str) -> Result<Vec<(String, String)>, dotenvy::Error> {
        dotenvy::from_read_iter(src.as_bytes()).collect()
    }

    fn err(src: &str) -> (usize, usize, String) {
        let e = scan(src).unwrap_err();
        (e.line, e.column, e.message)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn grammar_matches_dotenvy() {
        let src = "# comment\n\nA=1\nexport B='two words' # note\nC = \"x\\ny \\\"q\\\" \\\\ \\$HOME\"\nD=a=b#c\n  E=  # only comment\nF=\nG='# not a comment'\nH=\"multi\nline\" # c\nI=val  # trailing\nJ='multi\nline'\nexport=kw\nA=again\n";
        let expected = pairs(&[
            ("A", "1"),
            ("B", "two words"),
            ("C", "x\ny \"q\" \\ $HOME"),
            ("D", "a=b#c"),
            ("E", ""),
            ("F", ""),
            ("G", "# not a comment"),
            ("H", "multi\nline"),
            ("I", "val"),
            ("J", "multi\nline"),
            ("export", "kw"),
            ("A", "again"),
        ]);
        assert_eq!(vals(src), expected);
        assert_eq!(oracle(src).unwrap(), expected);
        let s = scan(src).unwrap();
        let texts: Vec<&str> = s.leaves.iter().map(|l| &src[l.span.clone()]).collect();
        assert_eq!(texts[1], "'two words'");
        assert_eq!(texts[7], "\"multi\nline\"");
        assert_eq!(texts[8], "val");
        assert_eq!(s.leaves[4].kind, LeafKind::Empty);
        assert_eq!(
            s.leaves[4].span,
            30 + src[30..].find("E=").unwrap() + 2..30 + src[30..].find("E=").unwrap() + 2
        );
        assert_eq!(s.leaves[5].span.len(), 0);
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let src = "A=1\r\nB='x'\r\nC=\"multi\r\nline\"\r\nD=last";
        assert_eq!(
            vals(src),
            pairs(&[
                ("A", "1"),
                ("B", "x"),
                ("C", "multi\r\nline"),
                ("D", "last")
            ])
        );
        assert_eq!(vals(src), oracle(src).unwrap());
        let s = scan(src).unwrap();
        assert_eq!(&src[s.leaves[0].span.clone()], "1");
    }

    #[test]
    fn lenient_where_loaders_agree() {
        // dotenvy rejects these; docker compose and python-dotenv accept them.
        assert_eq!(vals("A=two words\n"), pairs(&[("A", "two words")]));
        assert_eq!(vals("A=\"tab\\tcr\\r\"\n"), pairs(&[("A", "tab\tcr\r")]));
        assert_eq!(vals("A=\"C:\\dir\"\n"), pairs(&[("A", "C:\\dir")]));
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("A=1\nB='open\nC=2\n"),
            (2, 3, "unterminated single-quoted value".into())
        );
        assert_eq!(
            err("A=\"open"),
            (1, 3, "unterminated double-quoted value".into())
        );
        assert_eq!(
            err("A=1\n  justtext\n"),
            (2, 11, "expected '=' after the variable name".into())
        );
        assert_eq!(
            err("=value\n"),
            (1, 1, "expected a variable assignment (NAME=value)".into())
        );
        assert_eq!(err("1A=x\n").1, 1);
        assert_eq!(err("A-B=x\n").1, 2);
        assert_eq!(
            err("A=\"x\"y\n"),
            (1, 6, "unexpected text after the closing quote".into())
        );
        assert_eq!(err("A='x'#c\n").1, 6);
        assert_eq!(
            err("A=ab'c\n"),
            (
                1,
                5,
                "quote inside an unquoted value (quote the whole value)".into()
            )
        );
        assert_eq!(err("A=#x\n").1, 3);
        assert_eq!(err("A=x\\\n").1, 4);
        assert!(!err("A=\"secretvalue").2.contains("secret"));
        let garbage =
            String::from_utf8_lossy(&[0xff, 0x00, b'=', 0xc3, 0x28, b'"', 0x80]).into_owned();
        assert!(scan(&garbage).is_err());
        assert!(scan("\u{feff}A=1\n").is_ok());
    }

    #[test]
    fn metadata_block() {
        let body = "A=1\n";
        let sealed = attach_metadata(body, &meta()).unwrap();
        assert_eq!(
            sealed,
            "A=1\n# seal: version=1\n# seal: modified=2026-11-23T11:30:00Z\n# seal: encrypt=DB_*\n# seal: encrypt=API=x\n\
             # seal: recipient=age1xyz\n# seal: data_key=-----BEGIN AGE ENCRYPTED FILE-----\n# seal: data_key=YWdl\n\
             # seal: data_key=-----END AGE ENCRYPTED FILE-----\n# seal: recipient=ssh-ed25519 AAAA me@host\n\
             # seal: data_key=a\n# seal: data_key=b\n# seal: mac=bWFj\n"
        );
        let s = scan(&sealed).unwrap();
        let block = s.metadata.unwrap();
        assert_eq!(block.metadata, meta());
        assert_eq!(block.region, 4..sealed.len());
        assert_eq!(s.leaves.len(), 1);
        // dotenvy sees only comments.
        assert_eq!(oracle(&sealed).unwrap(), pairs(&[("A", "1")]));

        let no_nl = attach_metadata("A=1", &meta()).unwrap();
        assert!(no_nl.starts_with("A=1\n# seal: version=1\n") && no_nl.ends_with("mac=bWFj"));
        assert_eq!(
            scan(&no_nl).unwrap().metadata.unwrap().region,
            3..no_nl.len()
        );
        let crlf = attach_metadata("A=1\r\nB=2", &meta()).unwrap();
        assert!(crlf.contains("\r\n# seal: modified="));
        assert_eq!(scan(&crlf).unwrap().metadata.unwrap().region.start, 8);
        assert!(matches!(
            attach_metadata(&sealed, &meta()),
            Err(EditError::Unsupported(_))
        ));
    }

    #[test]
    fn metadata_errors() {
        let sealed = attach_metadata("A=1\n", &meta()).unwrap();
        let (line, col, msg) = err(&format!("{sealed}B=2\n"));
        assert_eq!((line, col), (14, 1));
        assert_eq!(
            msg,
            "unexpected line after the seal metadata (it must end the file)"
        );
        assert_eq!(
            err(&sealed.replace("mac=", "max=")).2,
            "unknown seal metadata field"
        );
        assert_eq!(
            err(&sealed.replace("# seal: mac=bWFj\n", "")).2,
            "seal metadata has no mac field"
        );
        assert_eq!(
            err(&sealed
                .replace("version=1", "version=2")
                .replace("mac=", "max="))
            .2,
            "sealed with format version 2; this seal reads version 1"
        );
        assert_eq!(
            err("# seal: version=1\n# seal: data_key=x\n").2,
            "data_key before any recipient in the seal metadata"
        );
        // Other `# seal:` comments before the block are plain comments.
        assert!(scan("# seal: hello\nA=1\n").unwrap().metadata.is_none());
    }

    #[test]
    fn set_and_remove() {
        let src = "A=1\nB='x' # keep\nA=2\n";
        assert_eq!(
            set_value(src, &q("A"), "9").unwrap(),
            "A=1\nB='x' # keep\nA=9\n"
        );
        assert_eq!(
            set_value(src, &q("B"), "\"y\"").unwrap(),
            "A=1\nB=\"y\" # keep\nA=2\n"
        );
        assert_eq!(
            set_value(src, &q("C"), "3").unwrap(),
            "A=1\nB='x' # keep\nA=2\nC=3\n"
        );
        assert_eq!(set_value("A=1", &q("C"), "3").unwrap(), "A=1\nC=3");
        assert_eq!(set_value("", &q("C"), "3").unwrap(), "C=3\n");
        assert_eq!(set_value("E= # c\n", &q("E"), "v").unwrap(), "E=v # c\n");
        assert_eq!(
            set_value("A=1\r\n", &q("B"), "2").unwrap(),
            "A=1\r\nB=2\r\n"
        );
        assert!(matches!(
            set_value(src, &q("a.b"), "1"),
            Err(EditError::NotAContainer(..))
        ));
        assert!(matches!(
            set_value(src, &q("/1x"), "1"),
            Err(EditError::Unsupported(_))
        ));
        assert!(matches!(
            set_value(src, &q("A"), "two # words"),
            Err(EditError::Unsupported(_))
        ));

        assert_eq!(remove_value(src, &q("A")).unwrap(), "B='x' # keep\n");
        assert_eq!(
            remove_value("A=1\nB=\"multi\nline\"\nC=3", &q("B")).unwrap(),
            "A=1\nC=3"
        );
        assert_eq!(remove_value("A=1\nC=3", &q("C")).unwrap(), "A=1");
        assert_eq!(remove_value("C=3", &q("C")).unwrap(), "");
        assert!(matches!(
            remove_value(src, &q("Z")),
            Err(EditError::NotFound(_))
        ));

        let sealed = attach_metadata("A=1", &meta()).unwrap();
        let added = set_value(&sealed, &q("B"), "2").unwrap();
        assert!(added.starts_with("A=1\nB=2\n# seal: version=1"));
        let r = scan(&added).unwrap().metadata.unwrap().region;
        assert_eq!(
            format!("{}{}", &added[..r.start], &added[r.end..]),
            "A=1\nB=2"
        );
        let removed = remove_value(&added, &q("B")).unwrap();
        assert_eq!(removed, sealed);
    }

    #[test]
    fn string_literals() {
        assert_eq!(string_literal("abc-1.2/x:y@z%+,="), "abc-1.2/x:y@z%+,=");
        assert_eq!(string_literal(""), "''");
        assert_eq!(string_literal("a b #c \"d\" $e"), "'a b #c \"d\" $e'");
        assert_eq!(string_literal("it's\n$x\\"), "\"it's\\n\\$x\\\\\"");
    }

    #[test]
    fn ten_thousand_values_scan_fast() {
        let src: String = (0..10_000)
            .map(|i| format!("KEY_{i}=\"value number {i}\" # c\n"))
            .collect();
        let start = std::time::Instant::now();
        assert_eq!(scan(&src).unwrap().leaves.len(), 10_000);
        assert!(start.elapsed().as_millis() < 2000);
    }

    fn arb_key() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_.]{0,5}"
    }

    fn arb_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9_./:@%+,=#-]{1,8}".prop_filter("no leading #", |s| !s.starts_with('#')),
            "[A-Za-z0-9 #\"=\n]{0,8}".prop_map(|s| format!("'{s}'")),
            prop::collection::vec(
                prop_oneof![
                    "[A-Za-z0-9 #'=\n]{1,4}",
                    Just("\\n".to_owned()),
                    Just("\\\"".to_owned()),
                    Just("\\\\".to_owned()),
                    Just("\\$".to_owned()),
                    Just("\\'".to_owned())
                ],
                0..4
            )
            .prop_map(|parts| format!("\"{}\"", parts.concat())),
            Just(String::new()),
        ]
    }

    // No quotes in inline comments: dotenvy's line splitter misreads a quote
    // in a comment preceded by two blanks as opening a value.
    fn arb_line() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => "[ ]{0,2}".prop_map(|s| s),
            1 => "# [A-Za-z '\"=]{0,8}",
            6 => (any::<bool>(), arb_key(), "[ ]{0,1}", "[ ]{0,1}", arb_value(), prop::option::of("[A-Za-z #]{0,6}"))
                .prop_map(|(export, key, s1, s2, value, comment)| {
                    let export = if export { "export " } else { "" };
                    let comment = comment.map(|c| format!(" # {c}")).unwrap_or_default();
                    format!("{export}{key}{s1}={s2}{value}{comment}")
                }),
        ]
    }

    fn arb_doc() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(arb_line(), 0..8),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lines, crlf, final_nl)| {
                let le = if crlf { "\r\n" } else { "\n" };
                let mut doc = lines.join(le);
                if final_nl && !doc.is_empty() {
                    doc.push_str(le);
                }
                doc
            })
    }

    #[test]
    fn removing_repeated_last_lines_keeps_the_final_newline_state() {
        // Found by proptest: both `_` lines go, and so does the break before them.
        assert_eq!(remove_value("# \n_=@\n_=%", &q("_")).unwrap(), "# ");
        assert_eq!(remove_value("# \r\n_=@\r\n_=%", &q("_")).unwrap(), "# ");
        assert_eq!(
            remove_value("A=1\n_=@\nB=2\n_=%", &q("_")).unwrap(),
            "A=1\nB=2"
        );
        assert_eq!(remove_value("A=1\n_=2\n", &q("_")).unwrap(), "A=1\n");
    }

    proptest! {
        #[test]
        fn agrees_with_dotenvy(doc in arb_doc()) {
            // dotenvy fails on a last line ending in a blank without a line break.
            prop_assume!(!doc.ends_with(' '));
            prop_assert_eq!(vals(&doc), oracle(&doc).unwrap());
        }

        #[test]
        fn crucial_property(doc in arb_doc()) {
            let s = scan(&doc).unwrap();
            let mut sealed = doc.clone();
            for leaf in s.leaves.iter().rev().filter(|l| l.kind == LeafKind::Scalar) {
                sealed.replace_range(leaf.span.clone(), "seal.v1.AAAA-_z");
            }
            let s2 = scan(&sealed).unwrap();
            prop_assert_eq!(
                s.leaves.iter().map(|l| (&l.path, l.kind)).collect::<Vec<_>>(),
                s2.leaves.iter().map(|l| (&l.path, l.kind)).collect::<Vec<_>>()
            );
            for ((_, v), leaf) in values(&sealed).unwrap().iter().zip(&s.leaves) {
                if leaf.kind == LeafKind::Scalar {
                    prop_assert_eq!(v.as_str(), "seal.v1.AAAA-_z");
                }
            }
            if !doc.ends_with(' ') {
                prop_assert_eq!(oracle(&sealed).unwrap().len(), s.leaves.len());
            }
            let mut back = sealed.clone();
            for (a, b) in s.leaves.iter().zip(&s2.leaves).rev() {
                back.replace_range(b.span.clone(), &doc[a.span.clone()]);
            }
            prop_assert_eq!(back, doc);
        }

        #[test]
        fn metadata_round_trip(doc in arb_doc(), enc in prop::collection::vec("[A-Za-z_.*=]{0,5}", 0..3)) {
            let m = Metadata { encrypt: enc, ..meta() };
            let sealed = attach_metadata(&doc, &m).unwrap();
            let s = scan(&sealed).unwrap();
            let block = s.metadata.unwrap();
            prop_assert_eq!(&block.metadata, &m);
            prop_assert_eq!(format!("{}{}", &sealed[..block.region.start], &sealed[block.region.end..]), doc.clone());
            prop_assert_eq!(s.leaves, scan(&doc).unwrap().leaves);
        }

        #[test]
        fn literals_read_back(value in any::<String>()) {
            let doc = format!("K={}\n", string_literal(&value));
            prop_assert_eq!(vals(&doc), vec![("K".to_owned(), value.clone())]);
            prop_assert_eq!(oracle(&doc).unwrap(), vec![("K".to_owned(), value.clone())]);
            let set = set_value("A=1", &q("K"), &string_literal(&value)).unwrap();
            prop_assert_eq!(vals(&set), vec![("A".to_owned(), "1".to_owned()), ("K".to_owned(), value)]);
        }

        #[test]
        fn edits_touch_only_their_bytes(doc in arb_doc(), pick in any::<prop::sample::Index>(), sealed in any::<bool>()) {
            let doc = if sealed { attach_metadata(&doc, &meta()).unwrap() } else { doc };
            let s = scan(&doc).unwrap();
            prop_assume!(!s.leaves.is_empty());
            let leaf = &s.leaves[pick.index(s.leaves.len())];
            let name = leaf.path.strings().remove(0);
            let query = PathQuery { doc: 0, segments: vec![name.clone()] };
            let last = s.leaves.iter().rev().find(|l| l.path == leaf.path).unwrap();
            let mut expected = doc.clone();
            expected.replace_range(last.span.clone(), "new");
            prop_assert_eq!(set_value(&doc, &query, "new").unwrap(), expected);

            // Emptying the body of a sealed file leaves its block laid out
            // for a body without a final break, which readers refuse (seal
            // itself attaches the block anew after every edit).
            let relaid = |e: &dyn std::fmt::Display| sealed && e.to_string().contains("not laid out as seal writes it");
            let removed = match remove_value(&doc, &query) {
                Ok(removed) => removed,
                Err(e) if relaid(&e) => return Ok(()),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            let after = scan(&removed).unwrap();
            prop_assert!(after.leaves.iter().all(|l| l.path != leaf.path));
            let others = s.leaves.iter().filter(|l| l.path != leaf.path).count();
            prop_assert_eq!(after.leaves.len(), others);
            prop_assert_eq!(after.metadata.is_some(), sealed);
            // Final-newline state of the body is kept.
            let body = |src: &str, sc: &Scan| src[..sc.metadata.as_ref().map_or(src.len(), |m| m.region.start)].to_owned();
            let (b0, b1) = (body(&doc, &s), body(&removed, &after));
            // (A blank line before a removed last line leaves its break.)
            if !b1.is_empty() && b0.lines().all(|l| !l.trim().is_empty()) {
                prop_assert_eq!(b0.ends_with('\n'), b1.ends_with('\n'));
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}", bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = scan(&s);
            let lossy = String::from_utf8_lossy(&bytes);
            let _ = scan(&lossy);
            let _ = set_value(&s, &q("A"), "1");
            let _ = remove_value(&lossy, &q("A"));
        }
    }
}
