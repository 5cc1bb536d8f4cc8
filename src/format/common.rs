//! Helpers every format shares: line endings, the layout check of a
//! metadata block, splicing edits into a document, path indices and the
//! escapes all double-quoted strings have in common.
//!
//! Kept here so a rule that must hold in every format (e.g. what a line
//! break is, what an index looks like) is written once.

use std::ops::Range;

use super::{EditError, ParseError};

/// The line ending a document uses: CRLF if its first line break is one.
pub fn line_ending(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// seal reads LF and CRLF line endings only (spec/FORMAT.md, section 2):
/// a lone carriage return is a line break to YAML but not to other tools,
/// and a file whose lines nobody agrees on cannot be sealed safely.
pub(super) fn check_line_endings(src: &str) -> Result<(), ParseError> {
    let bytes = src.as_bytes();
    match memchr::memchr_iter(b'\r', bytes).find(|&i| bytes.get(i + 1) != Some(&b'\n')) {
        Some(at) => Err(ParseError::at(
            src,
            at,
            "a carriage return (\\r) not followed by a line feed: seal reads LF or CRLF line endings only (convert the file, e.g. with `dos2unix`)",
        )),
        None => Ok(()),
    }
}

/// Check that a metadata block's text is exactly what a writer produces
/// for its fields, `\r\n` read as `\n` (spec/FORMAT.md, section 9): the
/// MAC covers the fields, this covers their layout, so no byte of a sealed
/// file can change unseen. `written` is the writer's text with `\n` breaks.
pub(super) fn check_block_layout(
    src: &str,
    region: Range<usize>,
    written: &str,
) -> Result<(), ParseError> {
    let found = &src.as_bytes()[region.clone()];
    let mut expected = written.as_bytes().iter();
    let mut i = 0;
    let mut same = true;
    while i < found.len() && same {
        let byte = if found[i] == b'\r' && found.get(i + 1) == Some(&b'\n') {
            i += 1;
            b'\n'
        } else {
            found[i]
        };
        same = expected.next() == Some(&byte);
        i += 1;
    }
    if same && expected.next().is_none() {
        return Ok(());
    }
    Err(ParseError::at(
        src,
        region.start,
        "the seal metadata is not laid out as seal writes it (changed by hand or by another tool); restore the file from version control",
    ))
}

/// `signer` and `signature` come together or not at all.
pub(super) fn signed_pair(
    signer: Option<String>,
    signature: Option<String>,
) -> Result<Option<crate::metadata::Signed>, &'static str> {
    match (signer, signature) {
        (None, None) => Ok(None),
        (Some(signer), Some(signature)) => Ok(Some(crate::metadata::Signed { signer, signature })),
        (Some(_), None) => Err("`signer` without `signature`"),
        (None, Some(_)) => Err("`signature` without `signer`"),
    }
}

/// Fields a version does not have are an error (spec 6.1): version 1 has
/// no `signer` or `signature`, versions before 4 no `pending`. Pending
/// entries name distinct values, as changed-paths, each an armored age file
/// (section 13).
pub(super) fn check_version_fields(
    src: &str,
    at: usize,
    meta: &crate::metadata::Metadata,
) -> Result<(), ParseError> {
    use crate::metadata::PENDING_SINCE;
    let refuse = |message: String| Err(ParseError::at(src, at, message));
    if meta.version < 2 && meta.signed.is_some() {
        return refuse("seal metadata: `signer` and `signature` need format version 2".into());
    }
    if meta.pending.is_empty() {
        return Ok(());
    }
    if meta.version < PENDING_SINCE {
        return refuse(format!(
            "seal metadata: `pending` needs format version {PENDING_SINCE}"
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for p in &meta.pending {
        if crate::path::PathQuery::from_changed_path(&p.path).is_none() {
            return refuse(format!(
                "seal metadata: pending path {:?} is not a key path written as in `changed`",
                p.path
            ));
        }
        if !seen.insert(p.path.as_str()) {
            return refuse(format!(
                "seal metadata: pending path {:?} appears twice",
                p.path
            ));
        }
        if !crate::envelope::looks_armored(&p.value) {
            return refuse(format!(
                "seal metadata: the pending value at {:?} is not an armored age file",
                p.path
            ));
        }
    }
    Ok(())
}

/// `src` with `range` replaced by `text`. The range must lie on character
/// boundaries (parsers only report such ranges).
pub(super) fn splice(src: &str, range: Range<usize>, text: &str) -> String {
    let mut out = String::with_capacity(src.len() + text.len());
    out.push_str(&src[..range.start]);
    out.push_str(text);
    out.push_str(&src[range.end..]);
    out
}

/// [`splice`] for ranges computed by hand (YAML edits): a range that is
/// not on character boundaries is an error instead of a panic.
pub(super) fn checked_splice(
    src: &str,
    range: Range<usize>,
    text: &str,
) -> Result<String, EditError> {
    if !src.is_char_boundary(range.start) || !src.is_char_boundary(range.end) {
        return Err(EditError::Unsupported(
            "internal error: edit position inside a character".to_owned(),
        ));
    }
    Ok(splice(src, range, text))
}

/// A path segment read as an array index, if it is one written canonically
/// (`0`, `17`; not `01`, `+1` or `-0`).
pub(super) fn parse_index(seg: &str) -> Option<usize> {
    let i = seg.parse::<usize>().ok()?;
    (i.to_string() == seg).then_some(i)
}

/// `value` in double quotes, with `"`, `\` and line feeds escaped as every
/// format escapes them. `escape` writes any other character the format
/// must escape and returns whether it did; the rest are written as is.
pub(super) fn double_quoted(
    value: &str,
    mut escape: impl FnMut(char, &mut String) -> bool,
) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => {
                if !escape(c, &mut out) {
                    out.push(c);
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_canonical() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("17"), Some(17));
        for bad in ["", "01", "+1", "-0", "1a", " 1", "99999999999999999999999"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn splices_check_boundaries() {
        assert_eq!(splice("abc", 1..2, "XY"), "aXYc");
        assert_eq!(checked_splice("aé", 1..1, "-").ok().as_deref(), Some("a-é"));
        assert!(checked_splice("aé", 2..2, "-").is_err());
    }
}
