//! The one masked form of a secret value, for `seal check`, `seal get
//! --masked` and `seal decrypt --masked`: enough to tell which key a value
//! is (its prefix and length), never enough to use it.

use std::ops::Range;

use crate::format::{Format, LeafKind, ParseError};

/// Values shorter than this show nothing at all: for a short value the
/// prefix and the length would be most of it.
pub const MIN_SHOWN: usize = 12;

/// Characters shown at most, from the start of the value.
pub const PREFIX: usize = 6;

/// What stands for a value under [`MIN_SHOWN`] characters.
pub const HIDDEN: &str = "…(hidden)";

/// `value` masked: its first [`PREFIX`] characters, `…` and its length in
/// characters (`sk-ant…(108 chars)`); [`HIDDEN`] for a value under
/// [`MIN_SHOWN`] characters. Control characters in the prefix end it, so
/// the masked form stays one line of plain text.
pub fn mask(value: &str) -> String {
    let length = value.chars().count();
    if length < MIN_SHOWN {
        return HIDDEN.to_owned();
    }
    let prefix: String = value
        .chars()
        .take(PREFIX)
        .take_while(|c| !c.is_control())
        .collect();
    format!("{prefix}…({length} chars)")
}

/// `src` (a plaintext document) with every scalar value replaced by its
/// [`mask`], written so that the document still parses: keys, comments and
/// layout stay as they are. For `seal decrypt --masked`.
pub fn mask_document(format: Format, src: &str) -> Result<String, ParseError> {
    let scan = format.scan(src)?;
    let values = format.values(src)?;
    // Values come in document order, as the leaves do; a name may repeat
    // (dotenv), so each leaf takes the next value at its path.
    let mut next = 0;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for leaf in scan.leaves.iter().filter(|l| l.kind == LeafKind::Scalar) {
        let found = values[next..].iter().position(|(p, _)| *p == leaf.path);
        let shown = match found {
            Some(i) => {
                next += i + 1;
                mask(&values[next - 1].1)
            }
            None => HIDDEN.to_owned(),
        };
        // The mask is a string: a YAML tag such as `!!int` before it would
        // make the masked document fail to load, so the tag goes too.
        if format == Format::Yaml {
            if let Some(tag) = yaml_tag_before(src, leaf.span.start) {
                edits.push((tag, String::new()));
            }
        }
        edits.push((leaf.span.clone(), format.string_literal(&shown)));
    }
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for (span, text) in edits {
        out.push_str(&src[at..span.start]);
        out.push_str(&text);
        at = span.end;
    }
    out.push_str(&src[at..]);
    Ok(out)
}

/// The tag (with the blanks after it) among the YAML node properties
/// (`!tag`, `&anchor`, in either order) that end just before `at`.
fn yaml_tag_before(src: &str, at: usize) -> Option<Range<usize>> {
    let mut end = at;
    // At most two properties: one tag and one anchor.
    for _ in 0..2 {
        let before = &src[..end];
        let trimmed = before.trim_end_matches([' ', '\t']);
        if trimmed.len() == before.len() {
            return None;
        }
        let word_start = trimmed
            .rfind(|c: char| c.is_whitespace() || matches!(c, '[' | '{' | ','))
            .map_or(0, |i| i + 1);
        match trimmed[word_start..].chars().next() {
            Some('!') => return Some(word_start..before.len()),
            Some('&') => end = word_start,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_shape() {
        let key = format!("sk-ant-{}", "a".repeat(101));
        for (format, src, want) in [
            (
                Format::Yaml,
                // The block keeps its final line break: 109 characters.
                format!("# c\napi:\n  key: {key}  # note\n  pin: 1234\n  list: [{key}, x]\nblock: |\n  {key}\nafter: y\n"),
                "# c\napi:\n  key: sk-ant…(108 chars)  # note\n  pin: …(hidden)\n  list: [sk-ant…(108 chars), …(hidden)]\nblock: sk-ant…(109 chars)\nafter: …(hidden)\n",
            ),
            (
                Format::Json,
                format!("{{\"k\": \"{key}\", \"n\": 5, \"o\": {{\"p\": \"short\"}}}}\n"),
                "{\"k\": \"sk-ant…(108 chars)\", \"n\": \"…(hidden)\", \"o\": {\"p\": \"…(hidden)\"}}\n",
            ),
            (
                Format::Dotenv,
                format!("# c\nKEY={key}\nPIN=\"1234\"\nKEY=abcdefghijklmnop\n"),
                "",
            ),
        ] {
            let masked = mask_document(format, &src).unwrap();
            if !want.is_empty() {
                assert_eq!(masked, want);
            }
            assert!(!masked.contains(&key[..8]) && !masked.contains("1234"), "{masked}");
            let values = format.values(&masked).unwrap();
            assert_eq!(values.len(), format.values(&src).unwrap().len(), "{masked}");
        }
    }

    #[test]
    fn yaml_tags_go_with_the_value_they_typed() {
        let src = "port: !!int 5432\nname: !!str hello-world-long-value\nlist: [!!int 5, x]\nanchored: &a !!int 7\nother: !!int &b 8\nplain: 5\n";
        let masked = mask_document(Format::Yaml, src).unwrap();
        assert_eq!(
            masked,
            "port: …(hidden)\nname: hello-…(22 chars)\nlist: […(hidden), …(hidden)]\nanchored: &a …(hidden)\nother: &b …(hidden)\nplain: …(hidden)\n"
        );
        assert_eq!(
            Format::Yaml.values(&masked).unwrap().len(),
            Format::Yaml.values(src).unwrap().len()
        );
    }

    #[test]
    fn long_values_show_six_characters_and_the_length() {
        let key = format!("sk-ant-{}", "a".repeat(101));
        assert_eq!(mask(&key), "sk-ant…(108 chars)");
        assert_eq!(mask("abcdefghijkl"), "abcdef…(12 chars)");
        // Characters, not bytes.
        assert_eq!(mask("ééééééééééééé"), "éééééé…(13 chars)");
        assert_eq!(mask("ab\ncdefghijklmn"), "ab…(15 chars)");
    }

    #[test]
    fn short_values_show_nothing() {
        for v in ["", "a", "hunter2", "abcdefghijk"] {
            assert_eq!(mask(v), HIDDEN, "{v}");
        }
    }
}
