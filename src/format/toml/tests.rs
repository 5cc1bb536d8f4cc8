use super::*;
use crate::format::Format;
use crate::metadata::WrappedKey;

fn leaves(src: &str) -> Vec<(String, String)> {
    scan(src)
        .unwrap()
        .leaves
        .into_iter()
        .map(|l| (l.path.to_string(), src[l.span].to_owned()))
        .collect()
}

fn meta() -> Metadata {
    Metadata {
        version: crate::metadata::VERSION,
        modified: "2026-11-23T11:30:00Z".into(),
        encrypt: vec!["db.*".into()],
        changed: vec![crate::metadata::Changed {
            path: "/db/x".into(),
            date: "2026-11-23T11:30:00Z".into(),
        }],
        recipients: vec![WrappedKey {
            recipient: "age1abc".into(),
            data_key:
                "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
        }],
        groups: Vec::new(),
        default_mac: String::new(),
        pending: Vec::new(),
        mac: "bWFj".into(),
        signed: None,
    }
}

#[test]
fn spans_cover_each_scalar_with_its_quotes() {
    let src = r#"# top
title = "x" # c
n = 1_000
f = -1.5e3
ok = true
when = 1979-05-27T07:32:00Z
lit = 'C:\path'
ml = """
a
b"""
a.b."c.d" = 'q'
arr = [ 1, "two", [3], { x = 4 } ]
empty = []
inline = { k = "v", d.e = 5 }

[table]
key = "value"

[[items]]
name = "one"

[[items]]
name = "two"
[items.sub]
deep = 1
"#;
    assert_eq!(
        leaves(src),
        [
            ("title", "\"x\""),
            ("n", "1_000"),
            ("f", "-1.5e3"),
            ("ok", "true"),
            ("when", "1979-05-27T07:32:00Z"),
            ("lit", "'C:\\path'"),
            ("ml", "\"\"\"\na\nb\"\"\""),
            ("/a/b/c.d", "'q'"),
            ("arr.0", "1"),
            ("arr.1", "\"two\""),
            ("arr.2.0", "3"),
            ("arr.3.x", "4"),
            ("inline.k", "\"v\""),
            ("inline.d.e", "5"),
            ("table.key", "\"value\""),
            ("items.0.name", "\"one\""),
            ("items.1.name", "\"two\""),
            ("items.1.sub.deep", "1"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[test]
fn values_are_unquoted_and_typed_like_json() {
    let src = "s = \"a\\tb\"\nml = \"\"\"\nx \\\n  y\"\"\"\ni = 0xff\nf = 1e2\nb = false\nd = 1979-05-27\nn = nan\ne = {}\n[t]\n";
    let values: Vec<(String, String)> = Toml
        .values(src)
        .unwrap()
        .into_iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect();
    assert_eq!(values[0], ("s".into(), "a\tb".into()));
    assert_eq!(values[1], ("ml".into(), "x y".into()));
    assert_eq!(values[2], ("i".into(), "0xff".into()));
    let typed = Toml.typed_values(src).unwrap();
    let shown: Vec<String> = typed
        .iter()
        .map(|(p, t)| match t {
            Typed::String(s) => format!("{p}=s:{}", s.as_str()),
            Typed::Literal(l) => format!("{p}={}", l.as_str()),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "s=s:a\tb",
            "ml=s:x y",
            "i=255",
            "f=100.0",
            "b=false",
            "d=s:1979-05-27",
            "n=s:nan",
            "e={}",
            "t={}"
        ]
    );
}

#[test]
fn value_at_reads_exactly_one_scalar() {
    let src = "a = \"x\" \nb = [1]\n";
    assert_eq!(value_at(src, 4..7).unwrap().as_str(), "x");
    assert!(value_at(src, 4..8).is_err());
    assert!(value_at(src, 13..16).is_err());
    assert!(value_at("1 # c", 0..5).is_err());
    assert_eq!(
        value_at("1979-05-27", 0..10).unwrap().as_str(),
        "1979-05-27"
    );
}

#[test]
fn the_block_is_a_seal_table_at_the_end() {
    let m = meta();
    for (body, want_tail) in [
        ("a = 1\n", "a = 1\n\n[seal]\n"),
        ("a = 1", "a = 1\n\n[seal]\n"),
        ("", "[seal]\n"),
        ("a = 1\r\n", "a = 1\r\n\r\n[seal]\r\n"),
        ("[t]\nx = 'y' # c\n", "# c\n\n[seal]\n"),
    ] {
        let sealed = Toml.attach_metadata(body, &m).unwrap();
        assert!(
            sealed.starts_with(want_tail) || sealed.contains(want_tail),
            "{sealed}"
        );
        let found = scan(&sealed).unwrap();
        let block = found.metadata.unwrap();
        assert_eq!(block.metadata, m);
        let mut back = sealed.clone();
        back.replace_range(block.region, "");
        assert_eq!(back, body);
        assert_eq!(found.leaves.len(), scan(body).unwrap().leaves.len());
        assert!(Format::Toml.looks_sealed(&sealed));
    }
    let sealed = Toml.attach_metadata("a = 1\n", &m).unwrap();
    assert_eq!(
        sealed,
        "a = 1\n\n[seal]\nversion = 4\nmodified = \"2026-11-23T11:30:00Z\"\nencrypt = [\"db.*\"]\nchanged = [\n  { path = \"/db/x\", date = \"2026-11-23T11:30:00Z\" },\n]\nrecipients = [\n  { recipient = \"age1abc\", data_key = \"-----BEGIN AGE ENCRYPTED FILE-----\\nAAAA\\n-----END AGE ENCRYPTED FILE-----\\n\" },\n]\nmac = \"bWFj\"\n"
    );
}

#[test]
fn a_block_laid_out_otherwise_is_refused() {
    let sealed = Toml.attach_metadata("a = 1\n", &meta()).unwrap();
    for bad in [
        sealed.replace("version = 4", "version=4"),
        sealed.replace("\n[seal]", "[seal]"),
        sealed.replace("mac = ", "# x\nmac = "),
        format!("{sealed}# trailing\n"),
        format!("{sealed}[after]\n"),
        sealed.replace("  { recipient", " { recipient"),
    ] {
        let err = scan(&bad).unwrap_err();
        assert!(err.concerns_metadata(), "{bad}: {err}");
    }
    for bad in [
        "seal = 1\n",
        "seal.x = 1\n",
        "[seal.sub]\nx = 1\n",
        "[seal]\nversion = 1\n",
        "a = 1\n\n[seal]\nversion = 1\nbogus = 2\n",
    ] {
        let err = scan(bad).unwrap_err();
        assert!(err.concerns_metadata(), "{bad}: {err}");
    }
    let err = scan("[seal]\nversion = 7\n").unwrap_err();
    assert!(err.message.contains("format version 7"), "{err}");
    assert!(Toml.attach_metadata("[seal]\n", &meta()).is_err());
}

#[test]
fn syntax_errors_say_where_without_quoting() {
    let err = scan("a = 1\nb = \"secret\nc = 2\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(!err.message.contains("secret"), "{err}");
    assert!(!err.concerns_metadata());
    let err = scan("a = 1\na = 2\n").unwrap_err();
    assert!(err.message.contains("duplicate"), "{err}");
}

fn set(src: &str, path: &str, literal: &str) -> Result<String, EditError> {
    Toml.set_value(src, &PathQuery::parse(path).unwrap(), literal)
}

fn unset(src: &str, path: &str) -> Result<String, EditError> {
    Toml.remove_value(src, &PathQuery::parse(path).unwrap())
}

#[test]
fn set_replaces_values_in_place() {
    let src = "# c\na = 1 # keep\n[t]\nb = { c = 'x' }\nl = [1, 2]\n";
    assert_eq!(
        set(src, "a", "\"new\"").unwrap(),
        "# c\na = \"new\" # keep\n[t]\nb = { c = 'x' }\nl = [1, 2]\n"
    );
    assert_eq!(
        set(src, "t.b.c", "2").unwrap(),
        "# c\na = 1 # keep\n[t]\nb = { c = 2 }\nl = [1, 2]\n"
    );
    assert_eq!(
        set(src, "t.l.1", "3").unwrap(),
        "# c\na = 1 # keep\n[t]\nb = { c = 'x' }\nl = [1, 3]\n"
    );
    assert!(matches!(set(src, "t", "1"), Err(EditError::NotALeaf(_))));
    assert!(matches!(
        set(src, "a.x", "1"),
        Err(EditError::NotAContainer(..))
    ));
    assert!(set(src, "a", "not toml").is_err());
    assert!(set(src, "seal", "1").is_err());
}

#[test]
fn set_adds_keys_where_they_belong() {
    let src = "a = 1\n\n[t]\n  b = 2\n\n# next\n[u]\n";
    assert_eq!(
        set(src, "z", "3").unwrap(),
        "a = 1\nz = 3\n\n[t]\n  b = 2\n\n# next\n[u]\n"
    );
    assert_eq!(
        set(src, "t.c", "3").unwrap(),
        "a = 1\n\n[t]\n  b = 2\n  c = 3\n\n# next\n[u]\n"
    );
    assert_eq!(
        set(src, "u.c", "3").unwrap(),
        "a = 1\n\n[t]\n  b = 2\n\n# next\n[u]\nc = 3\n"
    );
    assert_eq!(
        set(src, "new.deep.key", "\"v\"").unwrap(),
        "a = 1\nnew.deep.key = \"v\"\n\n[t]\n  b = 2\n\n# next\n[u]\n"
    );
    assert_eq!(set("[t]\nx = 1", "t.y", "2").unwrap(), "[t]\nx = 1\ny = 2");
    assert_eq!(set("[t]\n", "a", "2").unwrap(), "a = 2\n[t]\n");
    assert_eq!(set("", "a", "2").unwrap(), "a = 2\n");
    assert_eq!(
        set("a.b = 1\nc = 2\n", "a.d", "3").unwrap(),
        "a.b = 1\na.d = 3\nc = 2\n"
    );
    assert_eq!(
        set("x = {a = 1}\n", "x.b", "2").unwrap(),
        "x = {a = 1, b = 2}\n"
    );
    assert_eq!(set("x = {}\n", "x.b", "2").unwrap(), "x = { b = 2 }\n");
    assert_eq!(set("x = [1]\n", "x.1", "2").unwrap(), "x = [1, 2]\n");
    assert_eq!(set("x = []\n", "x.0", "2").unwrap(), "x = [2]\n");
    assert_eq!(
        set("x = [\n  1,\n]\n", "x.1", "2").unwrap(),
        "x = [\n  1,\n  2,\n]\n"
    );
    assert_eq!(
        set("x = [1]\n", "x.1.k", "2").unwrap(),
        "x = [1, { k = 2 }]\n"
    );
    assert_eq!(
        set("[a.b]\nx = 1\n", "a.c", "2").unwrap(),
        "a.c = 2\n[a.b]\nx = 1\n"
    );
    assert_eq!(
        set("[[p]]\nx = 1\n[[p]]\nx = 2\n", "p.1.y", "3").unwrap(),
        "[[p]]\nx = 1\n[[p]]\nx = 2\ny = 3\n"
    );
    assert!(set("[[p]]\nx = 1\n", "p.1.y", "3").is_err());
    assert!(matches!(
        set("x = [1]\n", "x.5", "2"),
        Err(EditError::NotFound(_))
    ));
    assert_eq!(
        set("a = 1\n", "/k.with.dots", "2").unwrap(),
        "a = 1\n\"k.with.dots\" = 2\n"
    );
}

#[test]
fn unset_removes_one_line_or_entry() {
    let src = "a = 1 # c\nb = 2\n[t]\nx = { p = 1, q.r = 2, s = 3 }\nl = [\n  1, # one\n  2,\n]\n";
    assert_eq!(
        unset(src, "a").unwrap(),
        "b = 2\n[t]\nx = { p = 1, q.r = 2, s = 3 }\nl = [\n  1, # one\n  2,\n]\n"
    );
    assert!(unset(src, "t.x.p")
        .unwrap()
        .contains("x = { q.r = 2, s = 3 }"));
    assert!(unset(src, "t.x.q.r")
        .unwrap()
        .contains("x = { p = 1, s = 3 }"));
    assert!(unset(src, "t.x.s")
        .unwrap()
        .contains("x = { p = 1, q.r = 2 }"));
    assert!(unset(src, "t.l.0").unwrap().contains("l = [\n  2,\n]"));
    assert!(unset(src, "t.l.1").unwrap().contains("l = [\n  1,\n]"));
    assert_eq!(unset("a = 1\nb = 2", "b").unwrap(), "a = 1");
    assert_eq!(unset("x = [1]\n", "x.0").unwrap(), "x = []\n");
    assert_eq!(unset("a.b = 1\na.c = 2\n", "a.c").unwrap(), "a.b = 1\n");
    assert!(matches!(unset(src, "nope"), Err(EditError::NotFound(_))));
    assert!(unset(src, "t").is_err());
    assert!(matches!(
        unset(src, "a.b"),
        Err(EditError::NotAContainer(..))
    ));
}

#[test]
fn tokens_are_basic_strings() {
    let mut out = String::new();
    Toml.push_token(&mut out, "seal.v1.abc");
    assert_eq!(out, "\"seal.v1.abc\"");
    assert_eq!(
        Format::Toml.token_in("\"seal.v1.abc\""),
        Some("seal.v1.abc")
    );
    assert_eq!(
        Toml.string_literal("a\"b\\\n\u{7f}"),
        "\"a\\\"b\\\\\\n\\u007F\""
    );
    assert_eq!(value_at("\"a\\u007F\"", 0..9).unwrap().as_str(), "a\u{7f}");
}
