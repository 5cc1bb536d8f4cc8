//! Key-path patterns that choose which values are encrypted
//! (spec/FORMAT.md, "Selecting values"), e.g. `stringData.*`, `data.*`,
//! `**.password`, `*_KEY`.
//!
//! A pattern is dotted segments. In a segment `*` matches any run of
//! characters; a segment that is exactly `**` matches any number of
//! segments, including none. A pattern selects a value when it matches the
//! value's path or one of its ancestors, so `stringData` covers everything
//! below it. Patterns apply to every document of a YAML stream.

use crate::path::KeyPath;

/// Whether `path` is selected by any of `patterns`; no patterns selects all.
pub fn selected(patterns: &[String], path: &KeyPath) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let segments = path.strings();
    patterns.iter().any(|p| {
        let pattern: Vec<&str> = p.split('.').collect();
        (0..=segments.len()).any(|n| matches(&pattern, &segments[..n]))
    })
}

fn matches(pattern: &[&str], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| matches(rest, &path[skip..])),
        Some((seg, rest)) => match path.split_first() {
            Some((first, tail)) => glob(seg.as_bytes(), first.as_bytes()) && matches(rest, tail),
            None => false,
        },
    }
}

/// `*` matches any run of bytes; everything else literally.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            backtrack = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((bp, bt)) = backtrack {
            p = bp + 1;
            t = bt + 1;
            backtrack = Some((bp, bt + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// A refused key-path pattern.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid key-path pattern {0:?}: empty segment")]
pub struct PatternError(pub String);

/// Refuse a pattern with an empty segment (`a..b`, `.a`, ``).
pub fn validate(pattern: &str) -> Result<(), PatternError> {
    if pattern.is_empty() || pattern.split('.').any(str::is_empty) {
        return Err(PatternError(pattern.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Segment;

    fn p(segs: &[&str]) -> KeyPath {
        KeyPath::new(
            0,
            segs.iter()
                .map(|s| {
                    s.parse()
                        .map(Segment::Index)
                        .unwrap_or_else(|_| Segment::Key(s.to_string()))
                })
                .collect(),
        )
    }

    #[test]
    fn selection() {
        let pats = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k8s = pats(&["stringData.*", "data.*"]);
        assert!(selected(&k8s, &p(&["stringData", "password"])));
        assert!(selected(&k8s, &p(&["data", "tls.crt"])));
        assert!(selected(&k8s, &p(&["data", "nested", "deep"])));
        assert!(!selected(&k8s, &p(&["metadata", "name"])));
        assert!(!selected(&k8s, &p(&["stringData"])));
        assert!(selected(
            &pats(&["**.password"]),
            &p(&["a", "b", "password"])
        ));
        assert!(selected(&pats(&["**.password"]), &p(&["password"])));
        assert!(selected(&pats(&["*_KEY"]), &p(&["API_KEY"])));
        assert!(!selected(&pats(&["*_KEY"]), &p(&["API_KEYS"])));
        assert!(selected(&pats(&["list.1"]), &p(&["list", "1", "x"])));
        assert!(selected(&[], &p(&["anything"])));
    }

    #[test]
    fn glob_segments() {
        assert!(glob(b"a*c", b"abbbc"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"a*c", b"abd"));
        assert!(glob(b"*pass*", b"db_password_old"));
    }

    #[test]
    fn validation() {
        assert!(validate("a.b").is_ok());
        assert!(validate("a..b").is_err());
        assert!(validate("").is_err());
    }
}
