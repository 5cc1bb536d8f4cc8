//! Variable expansion as dotenv's peers (docker compose, dotenvx,
//! python-dotenv) do it when a `.env` is loaded: `$NAME`, `${NAME}`,
//! `${NAME:-default}`, `${NAME-default}`, `${NAME:+alt}`, `${NAME+alt}` in
//! unquoted and double-quoted values; single-quoted values stay literal.
//!
//! Expansion happens only when values are handed out (`seal exec`, `seal
//! export`); the stored file and every other command see values as written.
//! It reads the source text, not the decoded value, so `\$` stays a literal
//! `$`. Where the peers disagree, README.md ("dotenv expansion") lists
//! seal's choice and why.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::{decode_escape, parse};
use crate::path::KeyPath;

/// A value whose `$` cannot be read. Names the key and line, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {key}: {problem}")]
pub struct ExpandError {
    pub key: String,
    pub line: usize,
    pub problem: &'static str,
}

/// Where a name's value comes from when it is not defined earlier: the
/// environment, in seal.
pub type Fallback<'a> = dyn Fn(&str) -> Option<Zeroizing<String>> + 'a;

/// Every value of `src` expanded, in file order. A name is looked up in
/// `defined` (the values before it, from earlier files too), then in
/// `fallback`; an unset name expands to nothing. Each value is added to
/// `defined` as it is read.
#[allow(clippy::type_complexity)]
pub fn expanded_values(
    src: &str,
    defined: &mut HashMap<String, Zeroizing<String>>,
    fallback: &Fallback<'_>,
) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ExpandError> {
    let parsed = parse(src).map_err(|e| ExpandError {
        key: String::new(),
        line: e.line,
        problem: "not a dotenv file",
    })?;
    let mut out = Vec::with_capacity(parsed.entries.len());
    for e in &parsed.entries {
        let text = &src[e.value.clone()];
        let value = if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\''))
        {
            Zeroizing::new(inner.to_owned())
        } else {
            let inner = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text);
            let mut value = Zeroizing::new(String::with_capacity(inner.len()));
            let lookup = |name: &str| defined.get(name).cloned().or_else(|| fallback(name));
            expand_into(inner, false, &mut value, &lookup).map_err(|problem| ExpandError {
                key: e.key.clone(),
                line: 1 + src[..e.line_start].bytes().filter(|&b| b == b'\n').count(),
                problem,
            })?;
            value
        };
        defined.insert(e.key.clone(), value.clone());
        out.push((KeyPath::key(&e.key), value));
    }
    Ok(out)
}

const UNCLOSED: &str =
    "`${` is not closed by `}` (write `\\$` for a literal `$`, single-quote the value, or pass --no-expand)";
const UNSUPPORTED: &str = "unsupported `${...}` form: seal expands ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:+alt} and ${NAME+alt} (write `\\$` for a literal `$`, single-quote the value, or pass --no-expand)";

fn name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Decode `text` (the inside of a double-quoted or an unquoted value) into
/// `out`: escapes as in [`super::decode`], `$` references expanded;
/// `in_word` inside the word of `${NAME:-word}`.
fn expand_into(
    text: &str,
    in_word: bool,
    out: &mut String,
    lookup: &dyn Fn(&str) -> Option<Zeroizing<String>>,
) -> Result<(), &'static str> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Copy the run up to the next byte that means something.
        let run = b[i..]
            .iter()
            .position(|&c| c == b'\\' || c == b'$')
            .map_or(b.len(), |n| i + n);
        out.push_str(&text[i..run]);
        i = run;
        if i >= b.len() {
            break;
        }
        if b[i] == b'\\' {
            // Inside a `${NAME:-word}`, `\}` is a `}` that does not close it.
            if in_word && b.get(i + 1) == Some(&b'}') {
                out.push('}');
                i += 2;
            } else {
                i = decode_escape(text, i, out);
            }
            continue;
        }
        // b[i] == b'$'
        match b.get(i + 1) {
            Some(b'{') => {
                let start = i + 2;
                let mut n = start;
                if !b.get(n).is_some_and(|&c| name_start(c)) {
                    return Err(if b[start..].contains(&b'}') {
                        UNSUPPORTED
                    } else {
                        UNCLOSED
                    });
                }
                while b.get(n).is_some_and(|&c| name_byte(c)) {
                    n += 1;
                }
                let name = &text[start..n];
                let value = lookup(name);
                let (op, word_start) = match (b.get(n), b.get(n + 1)) {
                    (Some(b'}'), _) => {
                        if let Some(v) = &value {
                            out.push_str(v);
                        }
                        i = n + 1;
                        continue;
                    }
                    (Some(b':'), Some(&op @ (b'-' | b'+'))) => ((true, op), n + 2),
                    (Some(&op @ (b'-' | b'+')), _) => ((false, op), n + 1),
                    (None, _) => return Err(UNCLOSED),
                    _ => return Err(UNSUPPORTED),
                };
                let word_end = closing_brace(b, word_start).ok_or(UNCLOSED)?;
                let word = &text[word_start..word_end];
                let (colon, op) = op;
                let set = value.as_ref().is_some_and(|v| !colon || !v.is_empty());
                match (op, set) {
                    (b'-', true) | (b'+', false) => {
                        if op == b'-' {
                            if let Some(v) = &value {
                                out.push_str(v);
                            }
                        }
                    }
                    _ => expand_into(word, true, out, lookup)?,
                }
                i = word_end + 1;
            }
            Some(&c) if name_start(c) => {
                let mut n = i + 1;
                while b.get(n).is_some_and(|&c| name_byte(c)) {
                    n += 1;
                }
                if let Some(v) = lookup(&text[i + 1..n]) {
                    out.push_str(&v);
                }
                i = n;
            }
            // `$` before anything else (`$$`, `$(`, `$1`, a last `$`) is
            // literal: seal never runs commands.
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(())
}

/// The `}` that closes a `${` whose word starts at `from`: nested `${…}`
/// and escaped characters are skipped.
fn closing_brace(b: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(src: &str, env: &[(&str, &str)]) -> Result<Vec<(String, String)>, ExpandError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let fallback = |n: &str| env.get(n).map(|v| Zeroizing::new(v.clone()));
        let mut defined = HashMap::new();
        Ok(expanded_values(src, &mut defined, &fallback)?
            .into_iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect())
    }

    fn value(src: &str, env: &[(&str, &str)]) -> String {
        expand(src, env).unwrap().pop().unwrap().1
    }

    #[test]
    fn forms() {
        let defs = "A=alpha\nE=\n";
        let cases = [
            ("B=${A}-x", "alpha-x"),
            ("B=$A-y", "alpha-y"),
            ("B='${A}'", "${A}"),
            ("B=\"${A} and $A\"", "alpha and alpha"),
            ("B=${NO:-def}", "def"),
            ("B=${E:-def}", "def"),
            ("B=${E-def}", ""),
            ("B=${NO-def}", "def"),
            ("B=${A:+set}", "set"),
            ("B=${E:+set}", ""),
            ("B=${E+set}", "set"),
            ("B=${NO:-${A}}", "alpha"),
            ("B=${NO:-a\\}b}", "a}b"),
            ("B=\\${A}", "${A}"),
            ("B=\"\\$A\"", "$A"),
            ("B=$(echo hi)", "$(echo hi)"),
            ("B=$$A", "$alpha"),
            ("B=cost$", "cost$"),
            ("B=${FROMENV}", "env"),
            ("B=\"a\\nb$A\"", "a\nbalpha"),
        ];
        for (line, want) in cases {
            let src = format!("{defs}{line}\n");
            assert_eq!(
                value(&src, &[("FROMENV", "env"), ("A", "not-this")]),
                want,
                "{line}"
            );
        }
    }

    #[test]
    fn earlier_names_win_over_the_environment_and_later_ones_do_not_count() {
        let got = expand("B=$A\nA=file\nC=$A\n", &[("A", "env")]).unwrap();
        assert_eq!(got[0].1, "env");
        assert_eq!(got[2].1, "file");
    }

    #[test]
    fn errors_name_the_key_and_line_not_the_value() {
        for (src, problem) in [
            ("A=1\nB=${secret", UNCLOSED),
            ("A=1\nB=${1x}", UNSUPPORTED),
            ("A=1\nB=${A:?no}", UNSUPPORTED),
            ("A=1\nB=${A:-oops", UNCLOSED),
        ] {
            let err = expand(src, &[]).unwrap_err();
            assert_eq!(
                (err.key.as_str(), err.line, err.problem),
                ("B", 2, problem),
                "{src}"
            );
        }
    }
}
