//! Property tests over the whole pipeline: any generated document seals and
//! opens to itself byte for byte, and any single byte flip in a sealed file
//! is refused.

use proptest::prelude::*;
use seal::crypto::DataKey;
use seal::document::{open_with_key, Opened, Resealed};
use seal::envelope::{generate_identity, Identities, Recipient};
use seal::format::Format;

fn key_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,8}"
}

fn yaml_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9 _./-]{0,20}[a-zA-Z0-9]".prop_map(|s| s),
        any::<i64>().prop_map(|n| n.to_string()),
        "[ -~]{0,20}".prop_map(|s| format!("{s:?}")),
        "[a-z ]{0,12}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        "[a-z]{1,10}\n[a-z]{1,10}".prop_map(|s| format!("|\n    {}", s.replace('\n', "\n    "))),
        Just("true".to_owned()),
        Just("~".to_owned()),
        Just(String::new()),
    ]
}

fn yaml_doc() -> impl Strategy<Value = String> {
    let entry = (
        key_name(),
        yaml_scalar(),
        proptest::option::of("[a-z ]{0,10}"),
        any::<bool>(),
    );
    (
        proptest::collection::vec(entry, 1..8),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(entries, crlf, final_nl)| {
            let mut seen = std::collections::HashSet::new();
            let mut out = String::new();
            for (k, v, comment, nested) in entries {
                if !seen.insert(k.clone()) {
                    continue;
                }
                let v = v.replace("\n    ", if nested { "\n      " } else { "\n    " });
                let line = if nested {
                    format!("{k}:\n  inner: {v}")
                } else {
                    format!("{k}: {v}")
                };
                out.push_str(line.trim_end());
                if let Some(c) = comment.filter(|_| !v.starts_with('|')) {
                    out.push_str(&format!(" # {c}"));
                }
                out.push('\n');
            }
            if !final_nl {
                out.pop();
            }
            if crlf {
                out = out.replace('\n', "\r\n");
            }
            out
        })
}

fn json_doc() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<String>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z.]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    (
        proptest::collection::btree_map("[a-z]{1,6}", value, 1..5),
        any::<bool>(),
    )
        .prop_map(|(m, pretty)| {
            let v = serde_json::Value::Object(m.into_iter().collect());
            if pretty {
                serde_json::to_string_pretty(&v).unwrap() + "\n"
            } else {
                serde_json::to_string(&v).unwrap()
            }
        })
}

fn dotenv_doc() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[A-Za-z0-9_./:@-]{0,20}",
        "[ -&(-~]{0,20}".prop_map(|s| format!("'{s}'")),
        "[a-z ]{0,10}\n[a-z ]{0,10}".prop_map(|s| format!("\"{s}\"")),
    ];
    let line = (
        "[A-Z][A-Z0-9_]{0,8}",
        value,
        any::<bool>(),
        proptest::option::of("[a-z ]{0,8}"),
    );
    proptest::collection::vec(line, 1..8).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(k, v, export, comment)| {
                let mut l = format!("{}{k}={v}", if export { "export " } else { "" });
                if let Some(c) = comment {
                    l.push_str(&format!(" # {c}"));
                }
                l + "\n"
            })
            .collect()
    })
}

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -!#-\\[\\]-~]{0,16}".prop_map(|s| format!("\"{s}\"")),
        "[ -&(-~]{0,16}".prop_map(|s| format!("'{s}'")),
        "[a-z ]{0,8}\n[a-z ]{0,8}".prop_map(|s| format!("\"\"\"\n{s}\"\"\"")),
        any::<i64>().prop_map(|n| n.to_string()),
        (-1.0e6f64..1.0e6).prop_map(|f| format!("{f:?}")),
        Just("true".to_owned()),
        Just("0xBEEF".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("[]".to_owned()),
        ("[a-z]{1,6}", any::<u8>()).prop_map(|(k, n)| format!("{{ k_{k} = {n}, x.y = 'z' }}")),
        proptest::collection::vec(any::<u16>(), 1..4).prop_map(|v| format!("{v:?}")),
    ]
}

/// Tables with `key = value` lines (some keys dotted or quoted, some
/// lines commented), LF or CRLF, with or without a final line break.
fn toml_doc() -> impl Strategy<Value = String> {
    let entry = (
        key_name(),
        proptest::option::of(key_name()),
        toml_value(),
        proptest::option::of("[a-z ]{0,10}"),
    );
    let table = (
        proptest::option::of(key_name()),
        proptest::collection::vec(entry, 1..5),
    );
    (
        proptest::collection::vec(table, 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(tables, crlf, final_nl)| {
            let mut out = String::new();
            let mut headers = std::collections::HashSet::new();
            // Top-level keys: a table header of the same name redefines them.
            let mut top = std::collections::HashSet::new();
            for (i, (header, entries)) in tables.into_iter().enumerate() {
                if i > 0 {
                    let name = header.unwrap_or_else(|| format!("t{i}"));
                    if top.contains(&name) || !headers.insert(name.clone()) || name == "seal" {
                        continue;
                    }
                    out.push_str(&format!("\n[\"{name}\"]\n"));
                }
                let mut seen = std::collections::HashSet::new();
                for (k, sub, v, comment) in entries {
                    if !seen.insert(k.clone()) || (i == 0 && k == "seal") {
                        continue;
                    }
                    if i == 0 {
                        top.insert(k.clone());
                    }
                    match sub {
                        Some(sub) => out.push_str(&format!("{k}.{sub} = {v}")),
                        None => out.push_str(&format!("{k} = {v}")),
                    }
                    if let Some(c) = comment {
                        out.push_str(&format!(" # {c}"));
                    }
                    out.push('\n');
                }
            }
            if !final_nl {
                out.pop();
            }
            if crlf {
                out = out.replace('\n', "\r\n");
            }
            out
        })
}

fn seal_open(format: Format, text: &str) -> (String, DataKey) {
    let (secret, public) = generate_identity();
    let sealed = seal::document::seal(format, text, &[Recipient::parse(&public).unwrap()], &[])
        .unwrap_or_else(|e| panic!("seal failed: {e}\n{text:?}"));
    let ids = Identities::from_text(&secret, "test").unwrap();
    let opened = seal::document::open(format, &sealed, &ids).unwrap();
    assert_eq!(opened.plaintext.as_str(), text);
    // Values read where opening put them (what seal exec uses) are what a
    // parse of the plaintext gives.
    let in_place: Vec<(String, String)> = opened
        .values()
        .unwrap()
        .into_iter()
        .map(|(path, value)| (path.to_string(), value.to_string()))
        .collect();
    let parsed: Vec<(String, String)> = format
        .values(&opened.plaintext)
        .unwrap()
        .into_iter()
        .map(|(path, value)| (path.to_string(), value.to_string()))
        .collect();
    assert_eq!(in_place, parsed, "{text:?}");
    (sealed, opened.data_key().unwrap().clone())
}

fn check_flip(
    format: Format,
    sealed: &str,
    key: &DataKey,
    pos: usize,
    xor: u8,
) -> Result<(), TestCaseError> {
    let mut bytes = sealed.as_bytes().to_vec();
    let pos = pos % bytes.len();
    bytes[pos] ^= xor;
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(());
    };
    let result = open_with_key(format, &text, key.clone());
    prop_assert!(result.is_err(), "flip at {} accepted:\n{}", pos, text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn yaml_round_trips_and_flips_are_caught(doc in yaml_doc(), pos in any::<usize>(), xor in 1u8..=255) {
        let (sealed, key) = seal_open(Format::Yaml, &doc);
        check_flip(Format::Yaml, &sealed, &key, pos, xor)?;
    }

    #[test]
    fn json_round_trips_and_flips_are_caught(doc in json_doc(), pos in any::<usize>(), xor in 1u8..=255) {
        let (sealed, key) = seal_open(Format::Json, &doc);
        check_flip(Format::Json, &sealed, &key, pos, xor)?;
    }

    #[test]
    fn toml_round_trips_and_flips_are_caught(doc in toml_doc(), pos in any::<usize>(), xor in 1u8..=255) {
        let (sealed, key) = seal_open(Format::Toml, &doc);
        check_flip(Format::Toml, &sealed, &key, pos, xor)?;
    }

    #[test]
    fn dotenv_round_trips_and_flips_are_caught(doc in dotenv_doc(), pos in any::<usize>(), xor in 1u8..=255) {
        let (sealed, key) = seal_open(Format::Dotenv, &doc);
        check_flip(Format::Dotenv, &sealed, &key, pos, xor)?;
    }
}

/// Exhaustive flips over one small sealed file per format.
#[test]
fn every_single_byte_flip_is_caught() {
    for (format, doc) in [
        (Format::Yaml, "# c\na: 1\nb: [x, 'y']\n"),
        (Format::Json, "{\"a\": 1, \"b\": [\"x\"]}\n"),
        (Format::Dotenv, "A=1\nexport B='x' # c\n"),
        (Format::Toml, "# c\na = 1\n[t]\nb = ['x', 2]\n"),
    ] {
        let (sealed, key) = seal_open(format, doc);
        for pos in 0..sealed.len() {
            for xor in [0x01, 0x20] {
                check_flip(format, &sealed, &key, pos, xor).unwrap();
            }
        }
    }
}

/// Whitespace inside the JSON metadata block changes no field, and is
/// caught all the same: readers take the block only as a writer lays it
/// out (spec/FORMAT.md, section 9). The same change in the body fails the
/// MAC.
#[test]
fn metadata_layout_is_checked() {
    let (sealed, key) = seal_open(Format::Json, "{\n  \"a\": \"x\"\n}\n");
    let line_break_in = |from: usize| from + sealed[from..].find('\n').unwrap();
    let tab_at = |at: usize| {
        let mut text = sealed.clone();
        text.replace_range(at..at + 1, "\t");
        text
    };
    let relaid = tab_at(line_break_in(sealed.find("\"version\"").unwrap()));
    match open_with_key(Format::Json, &relaid, key.clone()) {
        Err(seal::document::DocError::Parse(e)) => {
            assert!(e.message.contains("not laid out as seal writes it"), "{e}")
        }
        Err(other) => panic!("expected a layout error, got {other}"),
        Ok(_) => panic!("a relaid metadata block opened"),
    }
    let body = tab_at(line_break_in(0));
    assert!(matches!(
        open_with_key(Format::Json, &body, key.clone()),
        Err(seal::document::DocError::Tampered)
    ));
    // CRLF line ends, as a checkout may make them, are read as LF.
    let crlf = sealed.replace('\n', "\r\n");
    assert!(open_with_key(Format::Json, &crlf, key).is_ok());
}

/// Resealing keeps every unchanged token.
#[test]
fn reseal_keeps_unchanged_tokens() {
    let (secret, public) = generate_identity();
    let text = "a: 1\nb: two\nc: [3, 4]\n";
    let sealed = seal::document::seal(
        Format::Yaml,
        text,
        &[Recipient::parse(&public).unwrap()],
        &[],
    )
    .unwrap();
    let ids = Identities::from_text(&secret, "t").unwrap();
    let opened: Opened = seal::document::open(Format::Yaml, &sealed, &ids).unwrap();
    assert!(matches!(opened.reseal(text).unwrap(), Resealed::Unchanged));
    let Resealed::Changed(next) = opened.reseal("a: 1\nb: three\nc: [3, 4]\n").unwrap() else {
        panic!()
    };
    let changed: Vec<_> = sealed
        .lines()
        .zip(next.lines())
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x)
        .collect();
    // The token and the MAC; `modified` and b's `changed` date too when
    // the clock crossed a second between the two seals.
    assert!(changed[0].starts_with("b: seal.v1."), "{changed:#?}");
    assert!(
        changed.iter().any(|l| l.starts_with("  mac: ")),
        "{changed:#?}"
    );
    assert!(
        changed[1..]
            .iter()
            .all(|l| ["  modified: ", "    \"/b\": ", "  mac: "]
                .iter()
                .any(|p| l.starts_with(p))),
        "{changed:#?}"
    );
}
