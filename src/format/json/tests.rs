use super::*;
use crate::metadata::{Changed, Group, GroupKey, Pending, Signed, WrappedKey, RESERVED_KEY};

use proptest::prelude::*;
use serde_json::Value;

fn q(s: &str) -> PathQuery {
    PathQuery::parse(s).unwrap()
}

fn meta() -> Metadata {
    Metadata {
        version: 1,
        modified: "2026-11-23T11:30:00Z".into(),
        encrypt: vec!["db.*".into()],
        changed: vec![],
        recipients: vec![WrappedKey {
            recipient: "age1xyz".into(),
            data_key:
                "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
        }],
        groups: Vec::new(),
        default_mac: String::new(),
        pending: Vec::new(),
        mac: "bWFj".into(),
        signed: None,
    }
}

fn texts(src: &str) -> Vec<(String, String)> {
    scan(src)
        .unwrap()
        .leaves
        .iter()
        .map(|l| (l.path.to_string(), src[l.span.clone()].to_owned()))
        .collect()
}

fn vals(src: &str) -> Vec<(String, String)> {
    values(src)
        .unwrap()
        .into_iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect()
}

fn err(src: &str) -> (usize, usize, String) {
    let e = scan(src).unwrap_err();
    (e.line, e.column, e.message)
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn compact_and_pretty() {
    let src = r#"{"a":"x","b":{"c":[1,-2.5e+3,true,null,false]},"e":{},"f":[]}"#;
    assert_eq!(
        texts(src),
        pairs(&[
            ("a", "\"x\""),
            ("b.c.0", "1"),
            ("b.c.1", "-2.5e+3"),
            ("b.c.2", "true"),
            ("b.c.3", "null"),
            ("b.c.4", "false")
        ])
    );
    let pretty = "{\r\n  \"db\": {\r\n    \"pass\": \"s3cret\",\r\n    \"port\": 5432\r\n  },\r\n  \"list\": [\r\n    [0E0, \"\"]\r\n  ]\r\n}";
    assert_eq!(
        texts(pretty),
        pairs(&[
            ("db.pass", "\"s3cret\""),
            ("db.port", "5432"),
            ("list.0.0", "0E0"),
            ("list.0.1", "\"\"")
        ])
    );
    assert_eq!(vals(pretty)[0].1, "s3cret");
    assert!(scan("{}").unwrap().leaves.is_empty());
    assert!(scan(" [ ] \n").unwrap().leaves.is_empty());
    assert_eq!(texts("\"top\"\n"), pairs(&[("", "\"top\"")]));
}

#[test]
fn escapes_and_unicode_keys() {
    let src = r#"{"caf\u00e9":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","ключ":"значение","x":-0.5E-7}"#;
    let v = values(src).unwrap();
    assert_eq!(v[0].0, KeyPath::key("café"));
    assert_eq!(v[0].1.as_str(), "é😀\"\\/\u{8}\u{c}\n\r\t");
    assert_eq!(v[1].0, KeyPath::key("ключ"));
    assert_eq!(v[1].1.as_str(), "значение");
    assert_eq!(v[2].1.as_str(), "-0.5E-7");
    assert_eq!(
        string_literal("a\"\\\n\u{1}é"),
        serde_json::to_string("a\"\\\n\u{1}é").unwrap()
    );
}

#[test]
fn errors_have_positions_and_no_input() {
    assert_eq!(
        err("{\"a\": \"secret"),
        (1, 7, "unterminated string".into())
    );
    assert_eq!(err("{\"a\": 1,\n}"), (1, 8, "trailing comma".into()));
    assert_eq!(err("[1,2,]"), (1, 5, "trailing comma".into()));
    assert_eq!(
        err("{\"a\":1,\n \"a\":2}"),
        (2, 2, "duplicate member name in this object".into())
    );
    assert_eq!(
        err("{\"a\":1,\"\\u0061\":2}").2,
        "duplicate member name in this object"
    );
    assert_eq!(err("{\"a\": 1").0, 1);
    assert_eq!(err("{\"a\": 1").1, 8);
    assert_eq!(
        err(""),
        (1, 1, "unexpected end of input, expected a value".into())
    );
    assert_eq!(err("{'a': 1}").1, 2);
    assert_eq!(err("[NaN]").1, 2);
    assert_eq!(err("[01]").2, "invalid number (leading zero)");
    assert_eq!(err("[1.]").1, 2);
    assert_eq!(err("[\"\\ud800\"]").2, "unpaired surrogate in \\u escape");
    assert_eq!(err("[\"\\x\"]").1, 3);
    assert_eq!(err("{} {}").1, 4);
    assert_eq!(err("// c\n{}").1, 1);
    assert_eq!(err("[\"a\tb\"]").1, 4);
    let deep = "[".repeat(10_000);
    assert_eq!(
        err(&deep),
        (
            1,
            129,
            "objects and arrays are nested more than 128 levels deep".into()
        )
    );
    let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert!(scan(&ok).is_ok());
    // Binary garbage never panics and never echoes input.
    let garbage = String::from_utf8_lossy(&[0xff, 0x00, b'{', 0xc3, 0x28, b'"', 0x80]).into_owned();
    assert!(scan(&garbage).is_err());
    assert!(!err("{\"a\": qzx}").2.contains("qzx"));
    assert!(!err("{\"a\": tqzx}").2.contains("qzx"));
}

#[test]
fn metadata_attach_scan_and_remove() {
    let body = "{\n    \"a\": \"x\"\n}\n";
    let sealed = attach_metadata(body, &meta()).unwrap();
    let expected = "{\n    \"a\": \"x\",\n    \"seal\": {\n        \"version\": 1,\n        \"modified\": \"2026-11-23T11:30:00Z\",\n        \"encrypt\": [\n            \"db.*\"\n        ],\n        \"recipients\": [\n            {\n                \"recipient\": \"age1xyz\",\n                \"data_key\": \"-----BEGIN AGE ENCRYPTED FILE-----\\nYWdl\\n-----END AGE ENCRYPTED FILE-----\\n\"\n            }\n        ],\n        \"mac\": \"bWFj\"\n    }\n}\n";
    assert_eq!(sealed, expected);
    let s = scan(&sealed).unwrap();
    let block = s.metadata.unwrap();
    assert_eq!(block.metadata, meta());
    assert_eq!(s.leaves.len(), 1);
    assert_eq!(
        format!(
            "{}{}",
            &sealed[..block.region.start],
            &sealed[block.region.end..]
        ),
        body
    );

    let compact = attach_metadata(
        "{}",
        &Metadata {
            encrypt: vec![],
            ..meta()
        },
    )
    .unwrap();
    assert!(compact.starts_with("{\"seal\":{\"version\":1,\"modified\":"));
    assert!(!compact.contains("encrypt"));
    let block = scan(&compact).unwrap().metadata.unwrap();
    assert_eq!(block.region.start, 1);
    assert!(matches!(
        attach_metadata("[1]", &meta()),
        Err(EditError::Unsupported(_))
    ));
    assert!(matches!(
        attach_metadata(&sealed, &meta()),
        Err(EditError::Unsupported(_))
    ));
}

#[test]
fn metadata_errors() {
    assert_eq!(
        err("{\"seal\": {}, \"a\": 1}").2,
        "the seal metadata must be the last member of the top-level object"
    );
    assert_eq!(
        err("{\"seal\": {\"version\": 6, \"x\": 1}}").2,
        "sealed with format version 6; needs seal 0.6 or later (this seal reads versions 1 to 5)"
    );
    assert_eq!(
        err("{\"seal\": {\"version\": 1, \"x\": 1}}"),
        (1, 25, "unknown seal metadata field".into())
    );
    assert_eq!(
        err("{\"seal\": {\"version\": 1}}").2,
        "seal metadata has no modified field"
    );
    assert_eq!(
        err("{\"seal\": {\"version\": \"1\"}}").2,
        "seal metadata field version must be an integer"
    );
    assert_eq!(
        err("{\"seal\": []}").2,
        "the seal metadata must be an object"
    );
    // A seal member in a nested object is ordinary data.
    assert_eq!(texts("{\"a\": {\"seal\": 1}}").len(), 1);
}

const ARMOR: &str = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n";

/// Version 5 with two groups (the second with two recipients), a pending
/// value and a signature: every field the block can hold.
fn group_meta() -> Metadata {
    let key = |r: &str| GroupKey {
        recipient: r.into(),
        data_key: ARMOR.into(),
        file_key: ARMOR.into(),
    };
    Metadata {
        version: 5,
        changed: vec![Changed {
            path: "/db/pass".into(),
            date: "2026-11-23T11:30:00Z".into(),
        }],
        groups: vec![
            Group {
                name: "dba".into(),
                keys: vec!["db.*".into()],
                recipients: vec![key("age1dba")],
                mac: "Z21hYw".into(),
            },
            Group {
                name: "ops".into(),
                keys: vec!["ops.*".into(), "ci.token".into()],
                recipients: vec![key("age1ops"), key("ssh-ed25519 AAAA ops")],
                mac: "b3Bz".into(),
            },
        ],
        default_mac: "ZGVm".into(),
        pending: vec![Pending {
            path: "/db/user".into(),
            value: ARMOR.into(),
        }],
        signed: Some(Signed {
            signer: "ssh-ed25519 AAAA me".into(),
            signature: "-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----\n".into(),
        }),
        ..meta()
    }
}

/// The block of `group_meta` in a document indented by two spaces, as the
/// draft lays it out: groups and default_mac after recipients.
const GROUP_BLOCK: &str = r#",
  "seal": {
    "version": 5,
    "modified": "2026-11-23T11:30:00Z",
    "encrypt": [
      "db.*"
    ],
    "changed": {
      "/db/pass": "2026-11-23T11:30:00Z"
    },
    "recipients": [
      {
        "recipient": "age1xyz",
        "data_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
      }
    ],
    "groups": [
      {
        "name": "dba",
        "keys": [
          "db.*"
        ],
        "recipients": [
          {
            "recipient": "age1dba",
            "data_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n",
            "file_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
          }
        ],
        "mac": "Z21hYw"
      },
      {
        "name": "ops",
        "keys": [
          "ops.*",
          "ci.token"
        ],
        "recipients": [
          {
            "recipient": "age1ops",
            "data_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n",
            "file_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
          },
          {
            "recipient": "ssh-ed25519 AAAA ops",
            "data_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n",
            "file_key": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
          }
        ],
        "mac": "b3Bz"
      }
    ],
    "default_mac": "ZGVm",
    "pending": [
      {
        "path": "/db/user",
        "value": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
      }
    ],
    "mac": "bWFj",
    "signer": "ssh-ed25519 AAAA me",
    "signature": "-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----\n"
  }"#;

const GROUP_BODY: &str = "{\n  \"db\": {\n    \"pass\": \"x\"\n  }\n}\n";

/// `GROUP_BODY` sealed with `block` in place of `GROUP_BLOCK`.
fn with_block(block: &str) -> String {
    let at = GROUP_BODY.rfind("\n}").unwrap();
    format!("{}{block}{}", &GROUP_BODY[..at], &GROUP_BODY[at..])
}

#[test]
fn groups_round_trip_byte_exact() {
    let sealed = attach_metadata(GROUP_BODY, &group_meta()).unwrap();
    assert_eq!(sealed, with_block(GROUP_BLOCK));
    let s = scan(&sealed).unwrap();
    let block = s.metadata.unwrap();
    assert_eq!(block.metadata, group_meta());
    assert_eq!(&sealed[block.region.clone()], GROUP_BLOCK);
    assert_eq!(s.leaves.len(), 1);
    // CRLF and compact documents carry the same fields.
    let crlf = GROUP_BODY.replace('\n', "\r\n");
    let sealed = attach_metadata(&crlf, &group_meta()).unwrap();
    assert_eq!(sealed, with_block(GROUP_BLOCK).replace('\n', "\r\n"));
    assert_eq!(scan(&sealed).unwrap().metadata.unwrap().metadata, group_meta());
    let compact = attach_metadata("{\"a\":1}", &group_meta()).unwrap();
    assert!(compact.contains(
        "}],\"groups\":[{\"name\":\"dba\",\"keys\":[\"db.*\"],\"recipients\":[{\"recipient\":\"age1dba\","
    ));
    assert!(compact.contains("\"mac\":\"b3Bz\"}],\"default_mac\":\"ZGVm\",\"pending\":["));
    assert_eq!(scan(&compact).unwrap().metadata.unwrap().metadata, group_meta());
    // Without groups neither field is written.
    let plain = attach_metadata(GROUP_BODY, &Metadata { version: 4, ..meta() }).unwrap();
    assert!(!plain.contains("groups") && !plain.contains("default_mac"));
}

/// `GROUP_BLOCK` with `from` replaced by `to` (exactly once), scanned.
fn group_err(from: &str, to: &str) -> (usize, usize, String) {
    assert_eq!(GROUP_BLOCK.matches(from).count(), 1, "{from}");
    err(&with_block(&GROUP_BLOCK.replace(from, to)))
}

#[test]
fn groups_refusals() {
    const LAYOUT: &str = "the seal metadata is not laid out as seal writes it (changed by hand or by another tool); restore the file from version control";
    // Before version 5 either field names itself, at its key.
    assert_eq!(
        group_err("\"version\": 5", "\"version\": 4"),
        (20, 5, "seal metadata: `groups` needs format version 5".into())
    );
    let no_groups = |version: &str| {
        let start = GROUP_BLOCK.find("\n    \"groups\"").unwrap();
        let end = GROUP_BLOCK.find("\n    \"default_mac\"").unwrap();
        let block = format!("{}{}", &GROUP_BLOCK[..start], &GROUP_BLOCK[end..]);
        err(&with_block(&block.replace("\"version\": 5", version)))
    };
    assert_eq!(
        no_groups("\"version\": 3"),
        (20, 5, "seal metadata: `default_mac` needs format version 5".into())
    );
    assert_eq!(
        no_groups("\"version\": 5"),
        (5, 11, "seal metadata: `default_mac` without `groups`".into())
    );
    assert_eq!(
        group_err("\n    \"default_mac\": \"ZGVm\",", ""),
        (5, 11, "seal metadata: `groups` without `default_mac`".into())
    );
    // A group, or a group recipient, missing a field or with an unknown one.
    assert_eq!(
        group_err("\n        \"name\": \"dba\",", ""),
        (21, 7, "a seal group needs name, keys, recipients and mac".into())
    );
    assert_eq!(
        group_err(",\n        \"mac\": \"Z21hYw\"", "").2,
        "a seal group needs name, keys, recipients and mac"
    );
    assert_eq!(
        group_err("\"name\": \"ops\"", "\"name\": \"ops\", \"extra\": 1"),
        (36, 24, "unknown field in a seal group".into())
    );
    assert_eq!(
        group_err("\"age1dba\"", "\"age1dba\", \"note\": \"x\"").2,
        "unknown field in a seal group recipient"
    );
    let file_key = ",\n            \"file_key\": \"-----BEGIN AGE ENCRYPTED FILE-----\\nYWdl\\n-----END AGE ENCRYPTED FILE-----\\n\"\n          }\n        ],\n        \"mac\": \"Z21hYw\"";
    assert_eq!(
        group_err(file_key, "\n          }\n        ],\n        \"mac\": \"Z21hYw\""),
        (27, 11, "a seal group recipient needs recipient, data_key and file_key".into())
    );
    assert_eq!(
        group_err("\"recipient\": \"age1dba\",", "").2,
        "a seal group recipient needs recipient, data_key and file_key"
    );
    // Wrong types.
    assert_eq!(
        group_err("\"mac\": \"b3Bz\"", "\"mac\": 1").2,
        "seal metadata field mac must be a string"
    );
    assert_eq!(
        group_err("\"default_mac\": \"ZGVm\"", "\"default_mac\": []").2,
        "seal metadata field default_mac must be a string"
    );
    assert_eq!(
        err(&with_block(&GROUP_BLOCK.replacen("\"keys\": [\n          \"db.*\"\n        ]", "\"keys\": \"db.*\"", 1))).2,
        "seal metadata field keys must be an array"
    );
    // Fields out of order, in the block or in a group, or an empty list the
    // writer would have left out: the exact layout only.
    let swapped = GROUP_BLOCK
        .replace(",\n    \"default_mac\": \"ZGVm\"", "")
        .replace("\n    \"groups\": [", "\n    \"default_mac\": \"ZGVm\",\n    \"groups\": [");
    assert_eq!(err(&with_block(&swapped)).2, LAYOUT);
    let after_pending = GROUP_BLOCK
        .replace("\n    \"default_mac\": \"ZGVm\",", "")
        .replace("\n    \"mac\": \"bWFj\"", "\n    \"default_mac\": \"ZGVm\",\n    \"mac\": \"bWFj\"");
    assert_eq!(err(&with_block(&after_pending)), (4, 4, LAYOUT.into()));
    assert_eq!(
        group_err("\"name\": \"dba\",\n        \"keys\": [\n          \"db.*\"\n        ],", "\"keys\": [\n          \"db.*\"\n        ],\n        \"name\": \"dba\",").2,
        LAYOUT
    );
    assert_eq!(
        group_err("\"recipient\": \"age1ops\",\n            \"data_key\"", "\"data_key\"").2,
        "a seal group recipient needs recipient, data_key and file_key"
    );
    let compact = "{\"seal\":{\"version\":5,\"modified\":\"2026-11-23T11:30:00Z\",\"recipients\":[],\"groups\":[],\"default_mac\":\"\",\"mac\":\"bWFj\"}}";
    assert_eq!(err(compact).2, LAYOUT);
    // Errors never quote values.
    let (_, _, message) = group_err("\"name\": \"ops\"", "\"name\": \"qzx\", \"extra\": \"qzx\"");
    assert!(!message.contains("qzx"));
}

#[test]
fn set_existing_and_new() {
    let src = "{\n  \"a\": \"x\",\n  \"b\": [1, 2]\n}\n";
    assert_eq!(
        set_value(src, &q("a"), "\"y\"").unwrap(),
        src.replace("\"x\"", "\"y\"")
    );
    assert_eq!(
        set_value(src, &q("c"), "3").unwrap(),
        "{\n  \"a\": \"x\",\n  \"b\": [1, 2],\n  \"c\": 3\n}\n"
    );
    assert_eq!(
        set_value(src, &q("b.2"), "3").unwrap(),
        "{\n  \"a\": \"x\",\n  \"b\": [1, 2, 3]\n}\n"
    );
    assert_eq!(
        set_value(src, &q("d.e"), "true").unwrap(),
        "{\n  \"a\": \"x\",\n  \"b\": [1, 2],\n  \"d\": {\n    \"e\": true\n  }\n}\n"
    );
    assert_eq!(
        set_value("{}\n", &q("k"), "1").unwrap(),
        "{\n  \"k\": 1\n}\n"
    );
    assert_eq!(
        set_value("{}", &q("k.l"), "1").unwrap(),
        "{\"k\":{\"l\":1}}"
    );
    assert_eq!(
        set_value("{\"a\":1}", &q("b"), "2").unwrap(),
        "{\"a\":1,\"b\":2}"
    );
    assert_eq!(
        set_value("{\"a\": 1, \"b\": 2}", &q("c"), "3").unwrap(),
        "{\"a\": 1, \"b\": 2, \"c\": 3}"
    );
    assert_eq!(set_value("[]", &q("0"), "\"v\"").unwrap(), "[\"v\"]");
    assert!(
        matches!(set_value(src, &q("a.z"), "1"), Err(EditError::NotAContainer(p, _)) if p == "a")
    );
    assert!(matches!(
        set_value(src, &q("b"), "1"),
        Err(EditError::NotALeaf(_))
    ));
    assert!(matches!(
        set_value(src, &q("b.3"), "1"),
        Err(EditError::NotFound(_))
    ));
    assert!(matches!(
        set_value(src, &q("b.01"), "1"),
        Err(EditError::NotFound(_))
    ));
    assert!(matches!(
        set_value(src, &q("seal"), "1"),
        Err(EditError::Unsupported(_))
    ));
    assert!(matches!(
        set_value(src, &q("a"), "nope"),
        Err(EditError::Parse(_))
    ));
}

#[test]
fn set_keeps_metadata_last() {
    for body in ["{\n  \"a\": 1\n}\n", "{\"a\":1}", "{}", "{\n}\n"] {
        let sealed = attach_metadata(body, &meta()).unwrap();
        let out = set_value(&sealed, &q("n"), "2").unwrap();
        let s = scan(&out).unwrap();
        assert!(s.metadata.is_some(), "{out}");
        assert_eq!(s.leaves.last().unwrap().path, KeyPath::key("n"));
        let r = s.metadata.unwrap().region;
        let plain = format!("{}{}", &out[..r.start], &out[r.end..]);
        assert_eq!(
            vals(&plain).last().unwrap(),
            &("n".to_string(), "2".to_string())
        );
    }
}

#[test]
fn remove() {
    let src = "{\n  \"a\": 1,\n  \"b\": {\"c\": [1, 2, 3]},\n  \"d\": 4\n}";
    assert_eq!(
        remove_value(src, &q("a")).unwrap(),
        "{\n  \"b\": {\"c\": [1, 2, 3]},\n  \"d\": 4\n}"
    );
    assert_eq!(
        remove_value(src, &q("d")).unwrap(),
        "{\n  \"a\": 1,\n  \"b\": {\"c\": [1, 2, 3]}\n}"
    );
    assert_eq!(
        remove_value(src, &q("b.c.1")).unwrap(),
        src.replace("[1, 2, 3]", "[1, 3]")
    );
    assert_eq!(
        remove_value(src, &q("b.c.2")).unwrap(),
        src.replace("[1, 2, 3]", "[1, 2]")
    );
    assert_eq!(
        remove_value(src, &q("b.c")).unwrap(),
        src.replace("{\"c\": [1, 2, 3]}", "{}")
    );
    assert_eq!(remove_value("{\n  \"a\": 1\n}\n", &q("a")).unwrap(), "{}\n");
    assert!(matches!(
        remove_value(src, &q("x")),
        Err(EditError::NotFound(_))
    ));
    assert!(matches!(
        remove_value(src, &q("a.b")),
        Err(EditError::NotAContainer(..))
    ));
    let sealed = attach_metadata(src, &meta()).unwrap();
    let out = remove_value(&sealed, &q("d")).unwrap();
    assert!(scan(&out).unwrap().metadata.is_some());
    assert_eq!(scan(&out).unwrap().leaves.len(), 4);
}

#[test]
fn ten_thousand_values_scan_fast() {
    let body: Vec<String> = (0..10_000)
        .map(|i| format!("  \"key{i}\": \"value number {i}\""))
        .collect();
    let src = format!("{{\n{}\n}}\n", body.join(",\n"));
    let start = std::time::Instant::now();
    assert_eq!(scan(&src).unwrap().leaves.len(), 10_000);
    // Generous bound: debug build on a slow machine; release is a few ms.
    assert!(start.elapsed().as_millis() < 2000);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\\u{e9}\"\\\\ ]{0,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,5}", arb_json(), 1..5)
        .prop_map(|m| Value::Object(m.into_iter().filter(|(k, _)| k != RESERVED_KEY).collect()))
}

/// Render in one of several styles: compact, two spaces, tab, CRLF.
fn render(v: &Value, style: u8) -> String {
    use serde::Serialize;
    let pretty = |indent: &[u8]| {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        v.serialize(&mut ser).unwrap();
        String::from_utf8(buf).unwrap()
    };
    match style % 5 {
        0 => serde_json::to_string(v).unwrap(),
        1 => pretty(b"  ") + "\n",
        2 => pretty(b"\t"),
        3 => (pretty(b"    ") + "\n").replace('\n', "\r\n"),
        _ => format!(" {} ", serde_json::to_string(v).unwrap()),
    }
}

fn pointer(path: &KeyPath) -> String {
    path.strings()
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

proptest! {
    #[test]
    fn crucial_property(v in arb_json(), style in 0u8..5) {
        let src = render(&v, style);
        let s = scan(&src).unwrap();
        // Values agree with serde_json.
        for (path, text) in values(&src).unwrap() {
            let expected = v.pointer(&pointer(&path)).unwrap();
            match expected {
                Value::String(e) => prop_assert_eq!(text.as_str(), e.as_str()),
                other => prop_assert_eq!(text.as_str(), other.to_string()),
            }
        }
        let mut sealed = src.clone();
        for leaf in s.leaves.iter().rev() {
            sealed.replace_range(leaf.span.clone(), "\"seal.v1.AAAA-_z\"");
        }
        let s2 = scan(&sealed).unwrap();
        prop_assert_eq!(
            s.leaves.iter().map(|l| &l.path).collect::<Vec<_>>(),
            s2.leaves.iter().map(|l| &l.path).collect::<Vec<_>>()
        );
        let mut back = sealed.clone();
        for (a, b) in s.leaves.iter().zip(&s2.leaves).rev() {
            back.replace_range(b.span.clone(), &src[a.span.clone()]);
        }
        prop_assert_eq!(back, src);
    }

    #[test]
    fn metadata_round_trip(v in arb_object(), style in 0u8..5, ws in "[ \t\r\n]{0,4}", enc in prop::collection::vec("[a-z.*]{1,5}", 0..3)) {
        let mut body = render(&v, style);
        // Odd whitespace before the closing brace.
        if let Some(i) = body.rfind('}') {
            body.insert_str(i, &ws);
        }
        let m = Metadata { encrypt: enc, ..meta() };
        let sealed = attach_metadata(&body, &m).unwrap();
        let s = scan(&sealed).unwrap();
        let block = s.metadata.unwrap();
        prop_assert_eq!(&block.metadata, &m);
        prop_assert_eq!(format!("{}{}", &sealed[..block.region.start], &sealed[block.region.end..]), body.clone());
        prop_assert_eq!(s.leaves, scan(&body).unwrap().leaves);
    }

    #[test]
    fn edits_touch_only_their_bytes(v in arb_object(), style in 0u8..5, pick in any::<prop::sample::Index>()) {
        let src = render(&v, style);
        let leaves = scan(&src).unwrap().leaves;
        prop_assume!(!leaves.is_empty() && !leaves.iter().any(|l| l.path.segments.is_empty()));
        let leaf = &leaves[pick.index(leaves.len())];
        let query = PathQuery { doc: 0, segments: leaf.path.strings() };
        let set = set_value(&src, &query, "\"new\"").unwrap();
        let mut expected = src.clone();
        expected.replace_range(leaf.span.clone(), "\"new\"");
        prop_assert_eq!(set, expected);

        let removed = remove_value(&src, &query).unwrap();
        prop_assert_eq!(scan(&removed).unwrap().leaves.len(), leaves.len() - 1);
        // One contiguous deletion that covers the leaf.
        let prefix = src.bytes().zip(removed.bytes()).take_while(|(a, b)| a == b).count();
        let suffix = src.bytes().rev().zip(removed.bytes().rev()).take_while(|(a, b)| a == b).count();
        prop_assert!(prefix + suffix >= removed.len());
        let cut = src.len() - removed.len();
        let start = prefix.min(leaf.span.start);
        prop_assert!(start + cut >= leaf.span.end);
    }

    #[test]
    fn add_member_then_remove(v in arb_object(), style in 0u8..5) {
        let src = render(&v, style);
        let added = set_value(&src, &q("ZZ.new"), "\"v\"").unwrap();
        let got = vals(&added);
        prop_assert_eq!(got.last().unwrap(), &("ZZ.new".to_string(), "v".to_string()));
        prop_assert_eq!(got.len(), vals(&src).len() + 1);
        serde_json::from_str::<Value>(&added).unwrap();
    }

    #[test]
    fn agrees_with_serde_json(s in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,20}") {
        let ours = scan(&s);
        let theirs = serde_json::from_str::<Value>(&s);
        match &ours {
            Err(e) if e.message.starts_with("duplicate") => {}
            _ => prop_assert_eq!(ours.is_ok(), theirs.is_ok()),
        }
    }

    #[test]
    fn never_panics(s in "\\PC{0,40}", bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let _ = scan(&s);
        let _ = scan(&String::from_utf8_lossy(&bytes));
        let _ = set_value(&s, &q("a.b"), "1");
        let _ = remove_value(&s, &q("a"));
    }
}
