//! Where the values of a dotenvx file are, read as dotenvx reads them, and
//! how a value is written back so that seal's dotenv parser reads what
//! dotenvx meant.
//!
//! dotenvx reads a line as dotenv's `LINE` pattern does: optional `export`,
//! a name of letters, digits, `_`, `.` and `-`, then `=` (or `:` and a
//! blank), then a value that is single-, double- or backtick-quoted (a
//! quoted value may span lines; `\` before the quote keeps it open) and
//! followed only by blanks and an optional `#` comment, or else unquoted:
//! everything up to the first `#` or the line's end, trimmed. Lines that are
//! not assignments are skipped. Only where values are matters here; what a
//! plain value means is left to seal's parser, which reads the output.

use std::ops::Range;

/// How a value was quoted in the dotenvx file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    None,
    Single,
    Double,
    Backtick,
}

/// One assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name's bytes.
    pub key: Range<usize>,
    /// 1-based line of the name.
    pub line: usize,
    /// Start of the line holding the name.
    pub line_start: usize,
    /// The value's source text, quotes included (empty for `KEY=`).
    pub value: Range<usize>,
    /// The value without its quotes.
    pub inner: Range<usize>,
    pub quote: Quote,
    /// End of the entry's last line, line break included.
    pub end: usize,
}

/// Every assignment of `src`, in order.
pub fn entries(src: &str) -> Vec<Entry> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut line = 1;
    while pos < b.len() {
        let next = match assignment(src, pos, line) {
            Some(entry) => {
                let end = entry.end;
                out.push(entry);
                end
            }
            None => next_line(b, pos),
        };
        line += b[pos..next].iter().filter(|&&c| c == b'\n').count();
        pos = next;
    }
    out
}

fn next_line(b: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1)
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}

fn name_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_name_byte) {
        i += 1;
    }
    i
}

/// The line's end (before `\r\n` or `\n`) from `i`.
fn line_end(b: &[u8], i: usize) -> usize {
    let n = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
    if n > i && b[n - 1] == b'\r' {
        n - 1
    } else {
        n
    }
}

fn assignment(src: &str, line_start: usize, line: usize) -> Option<Entry> {
    let b = src.as_bytes();
    let mut k = skip_blanks(b, line_start);
    let mut k_end = name_end(b, k);
    if &b[k..k_end] == b"export" {
        let after = skip_blanks(b, k_end);
        if after > k_end && name_end(b, after) > after {
            k = after;
            k_end = name_end(b, after);
        }
    }
    if k_end == k {
        return None;
    }
    let sep = skip_blanks(b, k_end);
    let after_sep = match b.get(sep) {
        Some(b'=') => sep + 1,
        Some(b':') if matches!(b.get(sep + 1), Some(b' ' | b'\t')) => sep + 1,
        _ => return None,
    };
    let v = skip_blanks(b, after_sep);
    let quote = match b.get(v) {
        Some(b'\'') => Quote::Single,
        Some(b'"') => Quote::Double,
        Some(b'`') => Quote::Backtick,
        _ => Quote::None,
    };
    if quote != Quote::None {
        if let Some(entry) = quoted(b, v, quote, k..k_end, line, line_start) {
            return Some(entry);
        }
    }
    // Unquoted (or a quote the pattern cannot close): up to `#` or the line's
    // end, blanks trimmed.
    let stop = line_end(b, v);
    let hash = memchr::memchr(b'#', &b[v..stop]).map_or(stop, |n| v + n);
    let mut e = hash;
    while e > v && matches!(b[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    Some(Entry {
        key: k..k_end,
        line,
        line_start,
        value: v..e,
        inner: v..e,
        quote: Quote::None,
        end: next_line(b, stop),
    })
}

/// A value opened by the quote at `v`, if the quote closes and only blanks
/// and a comment follow it on its line.
fn quoted(
    b: &[u8],
    v: usize,
    quote: Quote,
    key: Range<usize>,
    line: usize,
    line_start: usize,
) -> Option<Entry> {
    let q = b[v];
    let mut i = v + 1;
    let close = loop {
        match b.get(i)? {
            b'\\' if b.get(i + 1) == Some(&q) => i += 2,
            &c if c == q => break i,
            _ => i += 1,
        }
    };
    let after = skip_blanks(b, close + 1);
    let stop = line_end(b, close + 1);
    if after != stop && b[after] != b'#' {
        return None;
    }
    Some(Entry {
        key,
        line,
        line_start,
        value: v..close + 1,
        inner: v + 1..close,
        quote,
        end: next_line(b, stop),
    })
}

/// Source text that seal's dotenv parser reads as `value`, and that seal
/// expands (`seal exec`, `seal export`) as dotenvx expands `value` read with
/// `quote`: single quotes stay literal; unquoted, double- and
/// backtick-quoted values expand `$NAME`, where dotenvx takes `\$` for a
/// literal `$` (as seal does). The quoting is kept where seal can read it:
/// backticks become double quotes, and a value that needs escapes seal's
/// unquoted values cannot hold is double-quoted.
pub fn push_literal(out: &mut String, value: &str, quote: Quote) {
    match quote {
        Quote::Single if !value.contains(['\'', '\r']) => {
            out.push('\'');
            out.push_str(value);
            out.push('\'');
        }
        Quote::Single => double_quoted(out, value, false),
        Quote::None if bare_ok(value) || value.is_empty() => out.push_str(value),
        Quote::None | Quote::Double | Quote::Backtick => double_quoted(out, value, true),
    }
}

/// [`push_literal`] into a new string (the caller wipes it if it matters).
#[cfg(any(test, feature = "internals"))]
pub fn literal(value: &str, quote: Quote) -> String {
    let mut out = String::with_capacity(2 * value.len() + 2);
    push_literal(&mut out, value, quote);
    out
}

/// Whether `value` reads back as itself unquoted: no quotes, escapes,
/// comment or line break, and no blanks at either end.
fn bare_ok(value: &str) -> bool {
    !value.contains(['\\', '\'', '"', '`', '#', '\n', '\r'])
        && !value.starts_with([' ', '\t'])
        && !value.ends_with([' ', '\t'])
}

/// `"…"` with `\` and `"` escaped, a carriage return as `\r` (seal refuses
/// one on its own), line feeds and tabs as they are. With
/// `expand`, `$` stays as written (and so does dotenvx's `\$`); without, every
/// `$` is escaped so that it stays literal.
fn double_quoted(out: &mut String, value: &str, expand: bool) {
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if expand && chars.peek() == Some(&'$') => {
                out.push_str("\\$");
                chars.next();
            }
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' => out.push_str("\\r"),
            '$' if !expand => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What seal reads back from [`literal`]`(value, quote)`: `value` itself,
/// except that where dotenvx expands, its `\$` is the literal `$` it stands
/// for.
#[cfg(any(test, feature = "internals"))]
pub fn read_back(value: &str, quote: Quote) -> String {
    match quote {
        Quote::Single => value.to_owned(),
        _ => value.replace("\\$", "$"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use proptest::prelude::*;

    proptest! {
        /// Any text scans without panicking into ordered entries within it,
        /// and every value found reads back in seal's parser (as the fuzz
        /// target `dotenvx_scan` checks at length).
        #[test]
        fn any_text_scans(src in "([A-Z_=: #'\"`\\\\x.\t-]|\r?\n|export ){0,60}") {
            let mut last = 0;
            for e in entries(&src) {
                prop_assert!(last <= e.line_start && e.line_start <= e.key.start);
                prop_assert!(e.key.end <= e.value.start && e.value.start <= e.inner.start);
                prop_assert!(e.inner.end <= e.value.end && e.value.end <= e.end);
                prop_assert!(e.end <= src.len());
                last = e.end;
                let value = &src[e.inner.clone()];
                for quote in [Quote::None, Quote::Single, Quote::Double, Quote::Backtick] {
                    let line = format!("K={}\n", literal(value, quote));
                    let values = Format::Dotenv.values(&line)
                        .map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
                    prop_assert_eq!(values[0].1.as_str(), read_back(value, quote));
                }
            }
        }

        /// Every value, in every quoting, reads back in seal's parser.
        #[test]
        fn literals_read_back(value in "[ -~\t\n\r\u{e9}\u{2713}]{0,24}") {
            for quote in [Quote::None, Quote::Single, Quote::Double, Quote::Backtick] {
                let line = format!("K={}\n", literal(&value, quote));
                let values = Format::Dotenv.values(&line)
                    .map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
                prop_assert_eq!(values.len(), 1, "{:?}", line);
                prop_assert_eq!(values[0].1.as_str(), read_back(&value, quote), "{:?}", line);
            }
        }
    }

    fn values(src: &str) -> Vec<(&str, &str, Quote, usize)> {
        entries(src)
            .into_iter()
            .map(|e| (&src[e.key], &src[e.inner], e.quote, e.line))
            .collect()
    }

    #[test]
    fn reads_what_dotenvx_reads() {
        let src = "# comment\nA=1\nexport B = two words  # c\nC='x'\nD=\"m\nl\"\nE=`t`\n\nF=h#c\nG:  y\nnot a line\n-X.y=z\nH=\nI=\"a\\\"b\" # c\n";
        assert_eq!(
            values(src),
            vec![
                ("A", "1", Quote::None, 2),
                ("B", "two words", Quote::None, 3),
                ("C", "x", Quote::Single, 4),
                ("D", "m\nl", Quote::Double, 5),
                ("E", "t", Quote::Backtick, 7),
                ("F", "h", Quote::None, 9),
                ("G", "y", Quote::None, 10),
                ("-X.y", "z", Quote::None, 12),
                ("H", "", Quote::None, 13),
                ("I", "a\\\"b", Quote::Double, 14),
            ]
        );
    }

    #[test]
    fn a_quote_that_does_not_close_cleanly_is_unquoted_text() {
        assert_eq!(
            values("A=\"x\" junk # c\nB='open\n"),
            vec![
                ("A", "\"x\" junk", Quote::None, 1),
                ("B", "'open", Quote::None, 2)
            ]
        );
    }

    #[test]
    fn crlf_lines() {
        let src = "A=1\r\nB=\"x\"\r\nC=2 # c\r\n";
        assert_eq!(
            values(src),
            vec![
                ("A", "1", Quote::None, 1),
                ("B", "x", Quote::Double, 2),
                ("C", "2", Quote::None, 3)
            ]
        );
    }

    #[test]
    fn export_alone_is_a_name() {
        assert_eq!(values("export=1\n"), vec![("export", "1", Quote::None, 1)]);
    }

    #[test]
    fn literals_keep_the_quoting_seal_can_read() {
        assert_eq!(literal("plain", Quote::None), "plain");
        assert_eq!(literal("two words", Quote::None), "two words");
        assert_eq!(literal("", Quote::None), "");
        assert_eq!(literal("", Quote::Double), "\"\"");
        assert_eq!(literal("$X y", Quote::Single), "'$X y'");
        assert_eq!(literal("it's $X", Quote::Single), "\"it's \\$X\"");
        assert_eq!(literal("a\nb", Quote::Double), "\"a\nb\"");
        assert_eq!(literal("q\"\\", Quote::Double), "\"q\\\"\\\\\"");
        assert_eq!(literal("a\\$X $Y", Quote::Double), "\"a\\$X $Y\"");
        assert_eq!(literal("t", Quote::Backtick), "\"t\"");
        assert_eq!(literal(" pad", Quote::None), "\" pad\"");
        assert_eq!(literal("a'b", Quote::None), "\"a'b\"");
    }
}
