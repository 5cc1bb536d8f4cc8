//! The one masked form of a secret value, for `seal check`, `seal get
//! --masked` and `seal decrypt --masked`: enough to tell which key a value
//! is (its prefix and length), never enough to use it.

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

#[cfg(test)]
mod tests {
    use super::*;

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
