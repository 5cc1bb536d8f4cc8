//! How random a value looks: Shannon entropy, character classes and the
//! placeholders people write where a secret would go.

/// Shannon entropy of `bytes` in bits per byte (0 for an empty slice).
pub fn shannon(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// How many of lower case, upper case and digits occur in `bytes`.
pub fn classes(bytes: &[u8]) -> usize {
    let lower = bytes.iter().any(u8::is_ascii_lowercase);
    let upper = bytes.iter().any(u8::is_ascii_uppercase);
    let digit = bytes.iter().any(u8::is_ascii_digit);
    usize::from(lower) + usize::from(upper) + usize::from(digit)
}

/// The entropy a random value of `len` bytes reaches with near certainty:
/// a random string cannot exceed log2(len) bits, so short values get a
/// lower bar; 3 bits is well under base62's 5.95 and hex's 4.
pub fn threshold(len: usize) -> f64 {
    (0.75 * (len.max(1) as f64).log2()).min(3.0)
}

/// Random enough to be a generated secret: two character classes (a
/// random string of 8+ characters from any real alphabet has them) and
/// entropy over [`threshold`].
pub fn random_enough(bytes: &[u8]) -> bool {
    classes(bytes) >= 2 && shannon(bytes) >= threshold(bytes.len())
}

/// Words that mark a value as an example rather than a secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "changeme",
    "change_me",
    "change-me",
    "replace",
    "dummy",
    "redacted",
    "insert",
    "<",
    "...",
    "…",
    "xxxx",
    "****",
];

/// A value written to stand for a secret: `your_api_key_here`, `sk-ant-...`,
/// `<token>`, `changeme`, `xxxxxxxx`, or one character repeated six times.
pub fn is_placeholder(bytes: &[u8]) -> bool {
    // A copy of what may be a secret: wiped when dropped.
    let lower: zeroize::Zeroizing<Vec<u8>> =
        zeroize::Zeroizing::new(bytes.iter().map(u8::to_ascii_lowercase).collect());
    if PLACEHOLDER_WORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
    {
        return true;
    }
    let mut run = 1;
    for pair in bytes.windows(2) {
        if pair[0] == pair[1] {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon(b""), 0.0);
        assert_eq!(shannon(b"aaaa"), 0.0);
        assert!((shannon(b"abcd") - 2.0).abs() < 1e-9);
        assert!((shannon(b"0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn random_values_pass_and_words_do_not() {
        assert!(random_enough(b"q8Zr2LmX9vTb4NcW"));
        assert!(random_enough(b"9f86d081884c7d659a2feaa0c55ad015"));
        assert!(!random_enough(b"my-secret-password"));
        assert!(!random_enough(b"12345678901234"));
        assert!(!random_enough(b"aaaaaaaa1"));
    }

    #[test]
    fn placeholders() {
        for p in [
            "your_api_key_here",
            "sk-ant-...",
            "<token>",
            "changeme",
            "CHANGE_ME",
            "xxxxxxxxxxxx",
            "AKIAIOSFODNN7EXAMPLE",
            "000000000000",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        assert!(!is_placeholder(b"q8Zr2LmX9vTb4NcW"));
    }
}
