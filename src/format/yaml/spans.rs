//! Locating text in the source: byte-level scans for indicators, properties
//! and scalar ends, used while the tree is built. All work on bytes and
//! return byte offsets; none allocate.

use std::ops::Range;

use saphyr_parser::ScalarStyle;

use super::tree::Frame;

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

pub(super) fn trim_ws_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && b.get(end - 1).is_some_and(|&c| is_ws(c)) {
        end -= 1;
    }
    end
}

/// Skip whitespace, line breaks and comments from `i`.
pub(super) fn skip_space(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if is_ws(c) {
            i += 1;
        } else if c == b'#' && (i == 0 || b.get(i - 1).is_some_and(|&p| is_ws(p))) {
            while b.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
                i += 1;
            }
        } else {
            break;
        }
    }
    i
}

/// Skip space, comments and `...` document end markers from `i`.
pub(super) fn skip_end_markers(b: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_space(b, i);
        let at_line_start = i == 0 || matches!(b.get(i - 1), Some(b'\n' | b'\r'));
        let marker = b.get(i..i + 3) == Some(b"...") && b.get(i + 3).is_none_or(|&c| is_ws(c));
        if !(at_line_start && marker) {
            return i;
        }
        i += 3;
    }
}

/// End of one anchor or tag starting at `i`.
fn skip_prop(b: &[u8], mut i: usize, flow: bool) -> usize {
    if b.get(i) == Some(&b'!') && b.get(i + 1) == Some(&b'<') {
        while let Some(&c) = b.get(i) {
            i += 1;
            if c == b'>' {
                return i;
            }
        }
        return i;
    }
    // Anchor names never contain flow indicators; tags only outside flow.
    let anchor = b.get(i) == Some(&b'&');
    while let Some(&c) = b.get(i) {
        if is_ws(c) || ((flow || anchor) && is_flow_indicator(c)) {
            break;
        }
        i += 1;
    }
    i
}

/// End of the properties (anchor, tag) that start at `i`.
pub(super) fn props_end_from(b: &[u8], i: usize, flow: bool) -> Option<usize> {
    let mut end = None;
    let mut j = i;
    loop {
        match b.get(j) {
            Some(b'&') | Some(b'!') => {
                j = skip_prop(b, j, flow);
                end = Some(j);
                j = skip_space(b, j);
            }
            _ => return end,
        }
    }
}

/// Skip properties and the space around them; where the content starts.
fn skip_props(b: &[u8], i: usize, flow: bool) -> usize {
    let mut j = skip_space(b, i);
    while matches!(b.get(j), Some(b'&') | Some(b'!')) {
        j = skip_space(b, skip_prop(b, j, flow));
    }
    j
}

/// Column (in characters) of `at`: only counts back to the line start.
pub(super) fn col_of(src: &str, at: usize) -> usize {
    let start = line_start(src, at);
    src.get(start..at).map_or(0, |l| l.chars().count())
}

/// Whether a scalar at `at` inside a flow collection is indented more than
/// the innermost enclosing block collection, as saphyr wants plain ones.
pub(super) fn flow_indent_ok(src: &str, b: &[u8], stack: &[Frame], at: usize) -> bool {
    let Some(k) = stack.iter().rposition(|f| {
        !matches!(
            f,
            Frame::Map { flow: true, .. } | Frame::Seq { flow: true, .. }
        )
    }) else {
        return true;
    };
    let block_col = match &stack[k] {
        Frame::Map { col, .. } => *col,
        Frame::Seq { col: Some(c), .. } => Some(*c),
        Frame::Seq { col: None, .. } => match stack.get(k + 1) {
            Some(Frame::Map { start, .. } | Frame::Seq { start, .. }) => {
                dash_before(b, *start).map(|d| col_of(src, d))
            }
            None => None,
        },
    };
    let Some(block_col) = block_col else {
        return false;
    };
    // Count back at most `block_col + 1` characters: long lines stay cheap.
    let mut n = 0usize;
    for c in src.get(..at).unwrap_or_default().chars().rev() {
        if c == '\n' || c == '\r' {
            break;
        }
        n += 1;
        if n > block_col {
            return true;
        }
    }
    n > block_col
}

/// Whether only tabs separate `at` from a `:` before it.
pub(super) fn tab_after_colon(b: &[u8], at: usize) -> bool {
    let mut i = at;
    while i > 0 && b.get(i - 1) == Some(&b'\t') {
        i -= 1;
    }
    i < at && i > 0 && b.get(i - 1) == Some(&b':')
}

/// After a mapping key: the position just after its `:` indicator.
pub(super) fn value_indicator(b: &[u8], cursor: usize) -> Option<usize> {
    let i = skip_space(b, cursor);
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

/// The position after the last `-` item indicator in `[from, limit)`.
pub(super) fn last_dash(b: &[u8], from: usize, limit: usize) -> Option<usize> {
    let mut i = from;
    let mut found = None;
    while i < limit {
        let j = skip_space(b, i);
        if j != i {
            i = j;
            continue;
        }
        match b.get(i) {
            Some(b'-' | b':' | b'?') if b.get(i + 1).is_none_or(|&c| is_ws(c)) => {
                if b.get(i) == Some(&b'-') {
                    found = Some(i + 1);
                }
                i += 1;
            }
            Some(b'&' | b'!') => i = skip_prop(b, i, false),
            _ => break,
        }
    }
    found
}

/// The `-` introducing a block sequence item whose node starts at `start`.
pub(super) fn dash_before(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i > 0 && b.get(i - 1).is_some_and(|&c| is_ws(c)) {
        i -= 1;
    }
    (i > 0 && b.get(i - 1) == Some(&b'-')).then(|| i - 1)
}

/// The `?` of an explicit key whose node starts at `start`, if any.
pub(super) fn explicit_key_mark(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i > 0 && b.get(i - 1).is_some_and(|&c| is_ws(c)) {
        i -= 1;
    }
    (i > 0
        && b.get(i - 1) == Some(&b'?')
        && (i < 2
            || b.get(i - 2)
                .is_some_and(|&c| is_ws(c) || is_flow_indicator(c))))
    .then(|| i - 1)
}

/// The end of a flow collection's closing bracket at or after `cursor`.
pub(super) fn close_bracket(b: &[u8], cursor: usize, bracket: u8) -> Option<usize> {
    let mut i = cursor;
    loop {
        i = skip_space(b, i);
        match b.get(i) {
            Some(&c) if c == bracket => return Some(i + 1),
            Some(b',' | b'?' | b':') => i += 1,
            _ => return None,
        }
    }
}

pub(super) fn line_start(src: &str, at: usize) -> usize {
    let b = src.as_bytes();
    let mut i = at.min(b.len());
    while i > 0 && !matches!(b.get(i - 1), Some(b'\n' | b'\r')) {
        i -= 1;
    }
    i
}

/// Position of the line break ending the line that holds `at` (or the end).
pub(super) fn line_end(b: &[u8], at: usize) -> usize {
    let mut i = at;
    while b.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
        i += 1;
    }
    i.min(b.len())
}

/// Just after the line break ending the line that holds `at`, if any.
pub(super) fn after_break(b: &[u8], at: usize) -> Option<usize> {
    let i = line_end(b, at);
    match b.get(i) {
        Some(b'\r') if b.get(i + 1) == Some(&b'\n') => Some(i + 2),
        Some(_) => Some(i + 1),
        None => None,
    }
}

/// Length of the line break ending just before `at`.
pub(super) fn break_before(b: &[u8], at: usize) -> usize {
    if at >= 2 && b.get(at - 2..at) == Some(b"\r\n") {
        2
    } else if at >= 1 && matches!(b.get(at - 1), Some(b'\n' | b'\r')) {
        1
    } else {
        0
    }
}

pub(super) fn scalar_span(
    b: &[u8],
    style: ScalarStyle,
    s: usize,
    e: usize,
    props_end: Option<usize>,
    cursor: usize,
    flow: bool,
) -> Option<Range<usize>> {
    let start = if props_end.is_some() {
        skip_props(b, s, flow)
    } else {
        s
    };
    match style {
        ScalarStyle::Plain => {
            let end = trim_ws_end(b, start, e);
            (end > start).then_some(start..end)
        }
        ScalarStyle::DoubleQuoted => {
            if b.get(start) != Some(&b'"') {
                return None;
            }
            let mut i = start + 1;
            loop {
                match b.get(i)? {
                    b'\\' => i += 2,
                    b'"' => return Some(start..i + 1),
                    _ => i += 1,
                }
            }
        }
        ScalarStyle::SingleQuoted => {
            if b.get(start) != Some(&b'\'') {
                return None;
            }
            let mut i = start + 1;
            loop {
                match b.get(i)? {
                    b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => return Some(start..i + 1),
                    _ => i += 1,
                }
            }
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            // Block scalar events start at the content: find the indicator
            // from the previous token instead.
            let mut i = if props_end.is_some() { start } else { cursor };
            loop {
                i = skip_space(b, i);
                match b.get(i)? {
                    b'|' | b'>' => break,
                    b'-' | b'?' | b':' => i += 1,
                    b'&' | b'!' => i = skip_prop(b, i, false),
                    _ => return None,
                }
            }
            let indicator = i;
            let mut keep = false;
            let mut j = indicator + 1;
            while let Some(&c) = b.get(j) {
                match c {
                    b'+' => keep = true,
                    b'-' | b'1'..=b'9' => {}
                    _ => break,
                }
                j += 1;
            }
            let header_end = line_end(b, indicator);
            // The scanner stops after the next line's indentation: back up
            // to that line's start unless it ended on unterminated content.
            let ls = {
                let mut k = e.min(b.len());
                while k > 0 && !matches!(b.get(k - 1), Some(b'\n' | b'\r')) {
                    k -= 1;
                }
                k
            };
            let region_end = if b.get(ls..e.min(b.len()))?.iter().all(|&c| c == b' ') {
                ls
            } else {
                e
            };
            let region_end = region_end.max(header_end);
            let end = if keep {
                (region_end - break_before(b, region_end)).max(header_end)
            } else {
                let body = b.get(header_end..region_end)?;
                match body.iter().rposition(|&c| !is_ws(c)) {
                    Some(k) => line_end(b, header_end + k),
                    None => header_end,
                }
            };
            Some(indicator..end)
        }
    }
}
