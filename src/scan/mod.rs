//! Finding plaintext secrets that should have been sealed (`seal scan`).
//!
//! A [`Scanner`] looks at the bytes of one file and reports [`Finding`]s:
//! tokens of known formats (`sk-ant-…`, `ghp_…`, PEM private keys, JWTs,
//! see [`rules::TOKEN_RULES`]) and high-entropy values assigned to
//! secret-looking names (`password: …`, `API_KEY=…`). It never reports a
//! seal token, a placeholder (`your_api_key_here`, `<token>`), or anything
//! on a line marked `seal:allow`. A finding holds the match only masked.
//! Walking files and git objects is the command's job (`cli/scan.rs`).

pub mod entropy;
pub mod rules;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use rules::{TokenRule, TOKEN_RULES};

/// Files larger than this are skipped with a note: secrets live in config
/// and source files, and bundles or data dumps would dominate the time.
pub const MAX_FILE_SIZE: u64 = 2 * 1024 * 1024;

/// Lines longer than this (minified code, embedded data) get only the
/// token rules; the assignment rule's parse is skipped, with a note.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// The marker that exempts a line.
pub const ALLOW_MARKER: &[u8] = b"seal:allow";

/// A possible secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
    /// The rule that matched (`github`, `secret-assignment`, …).
    pub rule: &'static str,
    /// The match masked: see [`mask`].
    pub masked: String,
    /// Byte range in the file (for overlap checks).
    start: usize,
    end: usize,
}

/// What scanning one file's bytes gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The file looked binary (a NUL byte near the start): not scanned.
    pub binary: bool,
    /// The bytes are not valid UTF-8; they were scanned as bytes.
    pub invalid_utf8: bool,
    /// Lines over [`MAX_LINE_LEN`]: the first such line and how many.
    pub long_lines: Option<(usize, usize)>,
    pub findings: Vec<Finding>,
}

/// `matched` as it may be shown: at most its first 6 characters and its
/// length, and nothing of it under 12 characters.
pub fn mask(matched: &[u8]) -> String {
    let text = zeroize::Zeroizing::new(String::from_utf8_lossy(matched).into_owned());
    let n = text.chars().count();
    if n < 12 {
        return format!("[{n} chars]");
    }
    let head: String = text
        .chars()
        .take(6)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("{head}… [{n} chars]")
}

/// The compiled rules; build once, scan many files.
pub struct Scanner {
    /// Every token rule as one alternation (leftmost-first).
    tokens: Regex,
    /// Each token rule anchored, to tell which one matched.
    each: Vec<Regex>,
    /// A run of AWS secret-key characters.
    aws_secret: Regex,
    /// Lines worth parsing for an assignment.
    hints: AhoCorasick,
    /// `name <op> value` on one line.
    assignment: Regex,
}

/// Why the built-in patterns did not compile (a bug; a unit test builds
/// them).
#[derive(Debug, thiserror::Error)]
#[error("a built-in scan pattern does not compile: {0}")]
pub struct PatternError(String);

impl Scanner {
    pub fn new() -> Result<Scanner, PatternError> {
        let re = |p: &str| Regex::new(p).map_err(|e| PatternError(e.to_string()));
        let all = TOKEN_RULES
            .iter()
            .map(|r| format!("(?:{})", r.pattern))
            .collect::<Vec<_>>()
            .join("|");
        let each = TOKEN_RULES
            .iter()
            .map(|r| re(&format!("^(?:{})", r.pattern)))
            .collect::<Result<Vec<_>, _>>()?;
        let hints = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(rules::NAME_HINTS)
            .map_err(|e| PatternError(e.to_string()))?;
        Ok(Scanner {
            tokens: re(&all)?,
            each,
            aws_secret: re(r"[A-Za-z0-9/+]{40,}")?,
            hints,
            // A name (maybe quoted, maybe a `["name"]` subscript), an
            // operator, then a quoted or bare value on the same line.
            assignment: re(concat!(
                r#"(?:^|[^A-Za-z0-9_.\-])["'`]?([A-Za-z_][A-Za-z0-9_.\-]*)["'`]?\]?[ \t]*"#,
                r#"(:=|=>|==|!=|=|:)[ \t]*"#,
                r#"(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|`([^`\n]*)`|([^\s"'`,;}\])\\]+))"#,
            ))?,
        })
    }

    /// Scan one file's contents.
    pub fn scan(&self, bytes: &[u8]) -> Outcome {
        let mut out = Outcome::default();
        let head = &bytes[..bytes.len().min(8192)];
        if memchr::memchr(0, head).is_some() {
            out.binary = true;
            return out;
        }
        out.invalid_utf8 = std::str::from_utf8(bytes).is_err();
        let lines = LineIndex::new(bytes);
        let sealed = sealed_spans(bytes);
        let in_sealed = |start: usize| sealed.iter().any(|&(s, e)| s <= start && start < e);
        let mut found: Vec<Finding> = Vec::new();

        for m in self.tokens.find_iter(bytes) {
            let (start, end) = (m.start(), m.end());
            let Some(i) = self.each.iter().position(|r| r.is_match(&bytes[start..])) else {
                continue;
            };
            let rule = &TOKEN_RULES[i];
            if !self.token_ok(rule, bytes, start, end) || in_sealed(start) {
                continue;
            }
            if rule.name == "aws-access-key" {
                // An access key id alone is no credential; with its secret
                // key near it, both are reported.
                let Some((s, e)) = self.aws_secret_near(bytes, &lines, start, end) else {
                    continue;
                };
                found.push(finding(&lines, rules::AWS_SECRET, bytes, s, e));
            }
            found.push(finding(&lines, rule.name, bytes, start, end));
        }

        self.assignments(bytes, &lines, &mut found, &mut out.long_lines);

        found.retain(|f| !lines.allowed(bytes, f.line));
        found.sort_by_key(|f| (f.start, f.end));
        // One value, one finding: a token rule wins over the assignment
        // rule for the same bytes.
        let mut kept: Vec<Finding> = Vec::new();
        for f in found {
            if let Some(prev) = kept.last_mut() {
                if f.start < prev.end {
                    if prev.rule == rules::ASSIGNMENT && f.rule != rules::ASSIGNMENT {
                        *prev = f;
                    }
                    continue;
                }
            }
            kept.push(f);
        }
        out.findings = kept;
        out
    }

    /// A token match is a finding: on a boundary, random after its prefix,
    /// no placeholder, and for a PEM header followed by a key body.
    fn token_ok(&self, rule: &TokenRule, bytes: &[u8], start: usize, end: usize) -> bool {
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if rule.name != "private-key" && before.is_some_and(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        if rule.fixed && bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        let matched = &bytes[start..end];
        if rule.name == "private-key" {
            return pem_body_follows(&bytes[end..]);
        }
        let body = &matched[rule.prefix.min(matched.len())..];
        !entropy::is_placeholder(matched)
            && body.iter().any(u8::is_ascii_digit)
            && body.iter().any(u8::is_ascii_alphabetic)
            && entropy::shannon(body) >= 3.0
    }

    /// A 40-character AWS secret key within four lines of an access key id.
    fn aws_secret_near(
        &self,
        bytes: &[u8],
        lines: &LineIndex,
        start: usize,
        end: usize,
    ) -> Option<(usize, usize)> {
        let line = lines.line_of(start);
        let from = lines.start_of(line.saturating_sub(4).max(1));
        let to = lines.start_of(line + 5).min(bytes.len());
        self.aws_secret
            .find_iter(&bytes[from..to])
            .map(|m| (from + m.start(), from + m.end()))
            .filter(|&(s, e)| e - s == 40 && (e <= start || s >= end))
            .find(|&(s, e)| {
                let v = &bytes[s..e];
                entropy::classes(v) == 3
                    && entropy::shannon(v) >= 4.0
                    && !entropy::is_placeholder(v)
            })
    }

    /// High-entropy values assigned to secret-looking names.
    fn assignments(
        &self,
        bytes: &[u8],
        lines: &LineIndex,
        found: &mut Vec<Finding>,
        long_lines: &mut Option<(usize, usize)>,
    ) {
        let mut last_line = 0;
        for hit in self.hints.find_iter(bytes) {
            let line = lines.line_of(hit.start());
            if line == last_line {
                continue;
            }
            last_line = line;
            let (ls, le) = (lines.start_of(line), lines.end_of(line, bytes));
            if le - ls > MAX_LINE_LEN {
                long_lines.get_or_insert((line, 0)).1 += 1;
                continue;
            }
            let text = &bytes[ls..le];
            for caps in self.assignment.captures_iter(text) {
                let (Some(name), Some(op)) = (caps.get(1), caps.get(2)) else {
                    continue;
                };
                if matches!(op.as_bytes(), b"==" | b"!=") || !rules::secret_name(name.as_bytes()) {
                    continue;
                }
                let Some(value) = (3..=6).find_map(|i| caps.get(i)) else {
                    continue;
                };
                if secret_value(value.as_bytes()) {
                    found.push(finding(
                        lines,
                        rules::ASSIGNMENT,
                        bytes,
                        ls + value.start(),
                        ls + value.end(),
                    ));
                }
            }
        }
    }
}

/// A value that looks generated, not a reference, path, placeholder, code
/// or seal token.
fn secret_value(v: &[u8]) -> bool {
    // Sealed by seal, or encrypted by SOPS (`ENC[AES256_GCM,data:…]`).
    if v.len() < 8 || v.len() > 1024 || v.starts_with(b"seal.v") || v.starts_with(b"ENC[") {
        return false;
    }
    // A time (`2026-11-23T11:30:00Z`: the dates of seal's `changed`
    // metadata, a `password_changed_at`) is no secret.
    if std::str::from_utf8(v).is_ok_and(crate::metadata::valid_date) {
        return false;
    }
    // Code: `TokenError::NotAToken`, `&[TokenRule]`, a YAML alias or block
    // scalar, a CamelCase name (`SecretString`).
    if v.first().is_some_and(|b| b":&[*|>{".contains(b))
        || memchr::memmem::find(v, b"::").is_some()
        || camel_case(v)
    {
        return false;
    }
    let reference = [&b"${"[..], b"{{", b"$(", b"%(", b"#{", b"("]
        .iter()
        .any(|p| memchr::memmem::find(v, p).is_some())
        || v.starts_with(b"$")
        || v.starts_with(b"/")
        || v.starts_with(b"./")
        || v.starts_with(b"../")
        || v.starts_with(b"~/")
        || dotted_identifier(v);
    !reference && !entropy::is_placeholder(v) && entropy::random_enough(v)
}

/// Letters only, with the case changing at most every third letter:
/// `SecretString`, `AuthTokenProvider` (random mixed-case letters change
/// case about every other letter).
fn camel_case(v: &[u8]) -> bool {
    if !v.iter().all(|b| b.is_ascii_alphabetic() || *b == b'_') {
        return false;
    }
    let changes = v
        .windows(2)
        .filter(|p| p[0].is_ascii_uppercase() != p[1].is_ascii_uppercase())
        .count();
    changes * 3 <= v.len()
}

/// `config.api_key`, `process.env.TOKEN`: code, not a value.
fn dotted_identifier(v: &[u8]) -> bool {
    v.contains(&b'.')
        && v.split(|&b| b == b'.').all(|part| {
            part.first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                && part.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        })
}

/// After a PEM header: a base64 run of 40+ characters within the next few
/// hundred bytes (also across `\n` escapes in JSON strings), so a header
/// quoted in documentation is no finding.
fn pem_body_follows(rest: &[u8]) -> bool {
    let window = &rest[..rest.len().min(400)];
    let mut run = 0;
    for &b in window {
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            run += 1;
            if run >= 40 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Byte spans of seal tokens (`seal.v1.…`): a match inside one is
/// ciphertext.
fn sealed_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let payload = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    memchr::memmem::find_iter(bytes, b"seal.v")
        .map(|s| {
            let len = bytes[s..]
                .iter()
                .skip(6)
                .take_while(|b| payload(b) || **b == b'.')
                .count();
            (s, s + 6 + len)
        })
        .collect()
}

fn finding(lines: &LineIndex, rule: &'static str, bytes: &[u8], s: usize, e: usize) -> Finding {
    let line = lines.line_of(s);
    Finding {
        line,
        column: s - lines.start_of(line) + 1,
        rule,
        masked: mask(&bytes[s..e]),
        start: s,
        end: e,
    }
}

/// Where each line starts.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(bytes: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line holding byte `pos`.
    fn line_of(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos)
    }

    /// The first byte of 1-based `line` (the end of the text past the last).
    fn start_of(&self, line: usize) -> usize {
        self.starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(usize::MAX)
    }

    /// The end of 1-based `line`, before its newline.
    fn end_of(&self, line: usize, bytes: &[u8]) -> usize {
        self.starts.get(line).map_or(bytes.len(), |&next| next - 1)
    }

    fn allowed(&self, bytes: &[u8], line: usize) -> bool {
        let s = self.start_of(line).min(bytes.len());
        let e = self.end_of(line, bytes).max(s);
        memchr::memmem::find(&bytes[s..e], ALLOW_MARKER).is_some()
    }
}

#[cfg(test)]
mod tests;
