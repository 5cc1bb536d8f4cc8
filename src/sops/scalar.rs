//! How SOPS turns a value into the bytes its MAC hashes (`sops.ToBytes`)
//! for values it left in clear: a YAML plain scalar is first typed the way
//! go-yaml v3 types it (null, bool, int, float, timestamp or string) and
//! then written back as Go writes that type, so `0o17` hashes as `15`,
//! `1.0` as `1` and `2001-12-14 21:59:43.10` as `2001-12-14T21:59:43.1Z`.

/// The MAC bytes of a clear value, or `None` for a null (SOPS skips it).
#[derive(Debug, PartialEq, Eq)]
pub enum ClearBytes {
    Null,
    Bytes(String),
    /// A value SOPS cannot hash (an integer above `i64::MAX`): SOPS itself
    /// fails on such a file.
    Unsupported(&'static str),
}

/// A YAML plain (unquoted, untagged) scalar, as go-yaml v3 resolves it.
pub fn yaml_plain(text: &str) -> ClearBytes {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ClearBytes::Null,
        "true" | "True" | "TRUE" => return ClearBytes::Bytes("True".into()),
        "false" | "False" | "FALSE" => return ClearBytes::Bytes("False".into()),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ClearBytes::Bytes(go_float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return ClearBytes::Bytes(go_float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return ClearBytes::Bytes(go_float(f64::NAN)),
        _ => {}
    }
    let string = || ClearBytes::Bytes(text.to_owned());
    match text.as_bytes()[0] {
        b'.' => match text.parse::<f64>() {
            Ok(f) if go_parse_float_ok(text) => ClearBytes::Bytes(go_float(f)),
            _ => string(),
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if let Some(t) = timestamp(text) {
                return ClearBytes::Bytes(t);
            }
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return ClearBytes::Bytes(i.to_string());
            }
            if go_parse_uint(&plain) {
                return ClearBytes::Unsupported("an integer above 9223372036854775807");
            }
            if yaml_style_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    return ClearBytes::Bytes(go_float(f));
                }
            }
            string()
        }
        _ => string(),
    }
}

/// A JSON number as SOPS's JSON store reads it: an integer within the
/// `i64` range as an int, anything else as a float.
pub fn json_number(text: &str) -> ClearBytes {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return ClearBytes::Bytes(i.to_string());
        }
    }
    match text.parse::<f64>() {
        Ok(f) => ClearBytes::Bytes(go_float(f)),
        Err(_) => ClearBytes::Unsupported("a number out of range"),
    }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that read
/// back, never an exponent (Rust's `Display` for `f64` is the same).
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// What Go's `ParseFloat` takes of the texts starting with `.` that
/// Rust's `parse` also takes: digits with an optional exponent.
fn go_parse_float_ok(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() > 1 && b[1].is_ascii_digit()
}

/// `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b` or
/// a leading `0` (octal) prefix, or decimal.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_unsigned(digits)?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn go_parse_uint(s: &str) -> bool {
    !s.starts_with(['-', '+']) && parse_unsigned(s).is_some()
}

fn parse_unsigned(s: &str) -> Option<u64> {
    let lower = s.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &s[2..]),
        Some("0o") => (8, &s[2..]),
        Some("0b") => (2, &s[2..]),
        _ if s.len() > 1 && s.starts_with('0') => (8, &s[1..]),
        _ => (10, s),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A YAML timestamp as go-yaml v3 reads it (`time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with `t`,
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`), written as Go's
/// `Time.MarshalText` writes it (RFC 3339 with nanoseconds, trailing zeros
/// dropped, `Z` for a zero offset).
pub fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let year: u32 = s[..4].parse().ok()?;
    let mut r = Reader { b, i: 5 };
    let month = r.num()?;
    r.lit(b'-')?;
    let day = r.num()?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if r.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let zoned = match b[r.i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    r.i += 1;
    let hour = r.num()?;
    r.lit(b':')?;
    let minute = r.num()?;
    r.lit(b':')?;
    let second = r.num()?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut nanos = String::new();
    if r.i + 1 < b.len() && matches!(b[r.i], b'.' | b',') && b[r.i + 1].is_ascii_digit() {
        r.i += 1;
        let start = r.i;
        while r.i < b.len() && b[r.i].is_ascii_digit() {
            r.i += 1;
        }
        // Go keeps nine digits and ignores the rest.
        nanos = s[start..r.i.min(start + 9)].to_owned();
        while nanos.ends_with('0') {
            nanos.pop();
        }
    }
    let zone = if zoned {
        match b.get(r.i) {
            Some(b'Z') => {
                r.i += 1;
                "Z".to_owned()
            }
            Some(&sign @ (b'+' | b'-')) => {
                let z = s.get(r.i..r.i + 6)?.as_bytes();
                if z[3] != b':' || !z[1..3].iter().chain(&z[4..6]).all(u8::is_ascii_digit) {
                    return None;
                }
                let (h, m) = (&s[r.i + 1..r.i + 3], &s[r.i + 4..r.i + 6]);
                let (hn, mn): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
                if hn > 24 || mn > 60 {
                    return None;
                }
                r.i += 6;
                if hn == 0 && mn == 0 {
                    "Z".to_owned()
                } else {
                    format!("{}{h}:{m}", sign as char)
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_owned()
    };
    if !r.done() {
        return None;
    }
    let frac = if nanos.is_empty() {
        String::new()
    } else {
        format!(".{nanos}")
    };
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{frac}{zone}"
    ))
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    /// Go's `getnum(s, false)`: one or two digits.
    fn num(&mut self) -> Option<u32> {
        let d = |k: usize| {
            self.b
                .get(k)
                .filter(|c| c.is_ascii_digit())
                .map(|c| u32::from(c - b'0'))
        };
        let first = d(self.i)?;
        match d(self.i + 1) {
            Some(second) => {
                self.i += 2;
                Some(first * 10 + second)
            }
            None => {
                self.i += 1;
                Some(first)
            }
        }
    }

    fn lit(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> ClearBytes {
        ClearBytes::Bytes(s.to_owned())
    }

    #[test]
    fn plain_scalars_are_typed_as_go_yaml_types_them() {
        for (text, want) in [
            ("null", ClearBytes::Null),
            ("~", ClearBytes::Null),
            ("true", b("True")),
            ("FALSE", b("False")),
            ("yes", b("yes")),
            ("15", b("15")),
            ("0o17", b("15")),
            ("017", b("15")),
            ("0x1F", b("31")),
            ("0b101", b("5")),
            ("-0b101", b("-5")),
            ("1_000", b("1000")),
            ("+7", b("7")),
            ("08", b("8")),
            ("1.0", b("1")),
            ("1.5", b("1.5")),
            ("1e21", b("1000000000000000000000")),
            (".5", b("0.5")),
            ("-.inf", b("-Inf")),
            (".nan", b("NaN")),
            ("1.2.3", b("1.2.3")),
            (
                "12345678901234567890",
                ClearBytes::Unsupported("an integer above 9223372036854775807"),
            ),
            ("hello", b("hello")),
            ("-", b("-")),
        ] {
            assert_eq!(yaml_plain(text), want, "{text}");
        }
    }

    #[test]
    fn timestamps_are_written_as_go_marshals_them() {
        for (text, want) in [
            ("2001-12-14", Some("2001-12-14T00:00:00Z")),
            ("2001-1-2", Some("2001-01-02T00:00:00Z")),
            ("2001-12-14 21:59:43.10", Some("2001-12-14T21:59:43.1Z")),
            (
                "2001-12-14t21:59:43.10+05:00",
                Some("2001-12-14T21:59:43.1+05:00"),
            ),
            ("2001-12-14T21:59:43Z", Some("2001-12-14T21:59:43Z")),
            ("2001-12-14T21:59:43.000Z", Some("2001-12-14T21:59:43Z")),
            ("2001-12-14T21:59:43+00:00", Some("2001-12-14T21:59:43Z")),
            (
                "2001-12-14T21:59:43.1234567891Z",
                Some("2001-12-14T21:59:43.123456789Z"),
            ),
            ("2001-12-14 21:59:43.10 -5", None),
            ("2001-02-29", None),
            ("2000-02-29", Some("2000-02-29T00:00:00Z")),
            ("2001-13-01", None),
            ("2001-12-14T25:00:00Z", None),
            ("2001-12-14T21:59:43", None),
            ("20011-12-14", None),
        ] {
            assert_eq!(timestamp(text).as_deref(), want, "{text}");
        }
        assert_eq!(yaml_plain("2001-12-14"), b("2001-12-14T00:00:00Z"));
    }

    #[test]
    fn json_numbers() {
        assert_eq!(json_number("1"), b("1"));
        assert_eq!(json_number("-0"), b("0"));
        assert_eq!(json_number("1.50"), b("1.5"));
        assert_eq!(json_number("1e3"), b("1000"));
    }
}
