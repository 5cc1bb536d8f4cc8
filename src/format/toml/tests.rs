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

fn armored(body: &str) -> String {
    format!("-----BEGIN AGE ENCRYPTED FILE-----\n{body}\n-----END AGE ENCRYPTED FILE-----\n")
}

/// Version 5: two groups, the second with two recipients, plus a pending
/// value and a signature.
fn grouped_meta() -> Metadata {
    use crate::metadata::{Group, GroupKey, Pending, Signed};
    let key = |recipient: &str, d: &str, f: &str| GroupKey {
        recipient: recipient.into(),
        data_key: armored(d),
        file_key: armored(f),
    };
    Metadata {
        version: 5,
        groups: vec![
            Group {
                name: "dba".into(),
                keys: vec!["db.*".into(), "/cache/url".into()],
                recipients: vec![key("age1dba", "DDDD", "FFFF")],
                mac: "Z21hYw".into(),
            },
            Group {
                name: "ops.team-2".into(),
                keys: vec!["deploy".into()],
                recipients: vec![key("age1one", "D1", "F1"), key("age1two", "D2", "F2")],
                mac: "b3Bz".into(),
            },
        ],
        default_mac: "ZGVm".into(),
        pending: vec![Pending {
            path: "/db/y".into(),
            value: armored("PPPP"),
        }],
        signed: Some(Signed {
            signer: "ssh-ed25519 AAAAC3 me".into(),
            signature: "-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----\n"
                .into(),
        }),
        ..meta()
    }
}

const ARMOR: (&str, &str) = (
    "-----BEGIN AGE ENCRYPTED FILE-----\\n",
    "\\n-----END AGE ENCRYPTED FILE-----\\n",
);

#[test]
fn groups_round_trip_laid_out_as_the_draft_says() {
    let m = grouped_meta();
    let (b, e) = ARMOR;
    let expected = format!(
        "a = 1\n\n[seal]\nversion = 5\nmodified = \"2026-11-23T11:30:00Z\"\nencrypt = [\"db.*\"]\n\
changed = [\n  {{ path = \"/db/x\", date = \"2026-11-23T11:30:00Z\" }},\n]\n\
recipients = [\n  {{ recipient = \"age1abc\", data_key = \"{b}AAAA{e}\" }},\n]\n\
groups = [\n\
\x20\x20{{ name = \"dba\", keys = [\"db.*\", \"/cache/url\"], recipients = [{{ recipient = \"age1dba\", data_key = \"{b}DDDD{e}\", file_key = \"{b}FFFF{e}\" }}], mac = \"Z21hYw\" }},\n\
\x20\x20{{ name = \"ops.team-2\", keys = [\"deploy\"], recipients = [{{ recipient = \"age1one\", data_key = \"{b}D1{e}\", file_key = \"{b}F1{e}\" }}, {{ recipient = \"age1two\", data_key = \"{b}D2{e}\", file_key = \"{b}F2{e}\" }}], mac = \"b3Bz\" }},\n\
]\n\
default_mac = \"ZGVm\"\n\
pending = [\n  {{ path = \"/db/y\", value = \"{b}PPPP{e}\" }},\n]\n\
mac = \"bWFj\"\nsigner = \"ssh-ed25519 AAAAC3 me\"\n\
signature = \"-----BEGIN SSH SIGNATURE-----\\nU1NI\\n-----END SSH SIGNATURE-----\\n\"\n"
    );
    for body in ["a = 1\n", "a = 1\r\n", "a = 1", ""] {
        let sealed = Toml.attach_metadata(body, &m).unwrap();
        if body == "a = 1\n" {
            assert_eq!(sealed, expected);
        }
        let block = scan(&sealed).unwrap().metadata.unwrap();
        assert_eq!(block.metadata, m);
        let mut back = sealed.clone();
        back.replace_range(block.region, "");
        assert_eq!(back, body);
    }
}

/// `sealed` with the `groups = [` … `]` lines taken out.
fn without_groups(sealed: &str) -> String {
    let start = sealed.find("groups = [\n").unwrap();
    let end = start + sealed[start..].find("\n]\n").unwrap() + 3;
    format!("{}{}", &sealed[..start], &sealed[end..])
}

fn refusal(bad: &str) -> ParseError {
    let err = scan(bad).unwrap_err();
    assert!(err.concerns_metadata(), "{bad}: {err}");
    for secret in ["DDDD", "FFFF", "Z21hYw", "ZGVm", "age1dba", "ops.team-2"] {
        assert!(!err.message.contains(secret), "{err}");
    }
    err
}

#[test]
fn groups_need_version_5_and_default_mac() {
    let sealed = Toml.attach_metadata("a = 1\n", &grouped_meta()).unwrap();
    let v4 = sealed.replace("version = 5", "version = 4");
    let err = refusal(&v4);
    assert!(err.message.contains("`groups` needs format version 5"), "{err}");
    assert_eq!(err.line, v4[..v4.find("groups = [").unwrap()].lines().count() + 1);
    assert_eq!(err.column, 1);
    let err = refusal(&without_groups(&v4));
    assert!(err.message.contains("`default_mac` needs format version 5"), "{err}");
    let no_default = sealed.replace("default_mac = \"ZGVm\"\n", "");
    let err = refusal(&no_default);
    assert!(err.message.contains("`groups` without `default_mac`"), "{err}");
    let err = refusal(&without_groups(&sealed));
    assert!(err.message.contains("`default_mac` without `groups`"), "{err}");
    // Without groups and default_mac a version-4 block reads as before.
    let plain = without_groups(&no_default).replace("version = 5", "version = 4");
    assert!(scan(&plain).unwrap().metadata.unwrap().metadata.groups.is_empty());
}

#[test]
fn a_group_or_group_recipient_with_a_field_missing_or_unknown_is_refused() {
    let sealed = Toml.attach_metadata("a = 1\n", &grouped_meta()).unwrap();
    let (b, e) = ARMOR;
    let dba_key = format!(
        "{{ recipient = \"age1dba\", data_key = \"{b}DDDD{e}\", file_key = \"{b}FFFF{e}\" }}"
    );
    for (from, to, says) in [
        ("name = \"dba\", ", "", "group has no name field"),
        ("keys = [\"db.*\", \"/cache/url\"], ", "", "group has no keys field"),
        (&*format!("recipients = [{dba_key}], "), "", "group has no recipients field"),
        (", mac = \"Z21hYw\"", "", "group has no mac field"),
        ("name = \"dba\", ", "name = \"dba\", size = 1, ", "unknown field in a seal metadata group"),
        (" recipient = \"age1dba\",", "", "group recipient has no recipient field"),
        (&*format!(", data_key = \"{b}DDDD{e}\""), "", "group recipient has no data_key field"),
        (&*format!(", file_key = \"{b}FFFF{e}\""), "", "group recipient has no file_key field"),
        ("\"age1dba\",", "\"age1dba\", extra = \"x\",", "unknown field in a seal metadata group recipient"),
        ("name = \"dba\"", "name = 1", "group name must be a string"),
        ("keys = [\"db.*\"", "keys = [1", "group keys must be a string"),
        ("groups = [\n  {", "groups = [\n  1, {", "each seal metadata group must be an inline table"),
        (&*format!("[{dba_key}]"), &*format!("[1, {dba_key}]"), "each seal metadata group recipient must be an inline table"),
        ("default_mac = \"ZGVm\"", "default_mac = 1", "default_mac must be a string"),
        ("groups = [\n", "groups = \"x\"\nx = [\n", "groups must be an array"),
    ] {
        assert!(sealed.contains(from), "{from}");
        let err = refusal(&sealed.replacen(from, to, 1));
        assert!(err.message.contains(says), "{from}: {err}");
    }
}

#[test]
fn group_fields_out_of_order_are_refused() {
    let sealed = Toml.attach_metadata("a = 1\n", &grouped_meta()).unwrap();
    let groups_start = sealed.find("groups = [").unwrap();
    let groups_end = sealed.find("default_mac = ").unwrap();
    let groups = &sealed[groups_start..groups_end];
    let default_line = "default_mac = \"ZGVm\"\n";
    let (b, e) = ARMOR;
    let mut swapped_fields = sealed.replacen(
        "{ name = \"dba\", keys = [\"db.*\", \"/cache/url\"],",
        "{ keys = [\"db.*\", \"/cache/url\"], name = \"dba\",",
        1,
    );
    let recipient_swapped = sealed.replacen(
        &format!("data_key = \"{b}DDDD{e}\", file_key = \"{b}FFFF{e}\""),
        &format!("file_key = \"{b}FFFF{e}\", data_key = \"{b}DDDD{e}\""),
        1,
    );
    for bad in [
        // default_mac before groups
        sealed.replacen(groups, "", 1).replacen(
            default_line,
            &format!("{default_line}{groups}"),
            1,
        ),
        // groups before recipients
        sealed
            .replacen(groups, "", 1)
            .replacen("recipients = [\n", &format!("{groups}recipients = [\n"), 1),
        // pending before groups
        {
            let p = sealed.find("pending = [").unwrap();
            let m = sealed.find("mac = \"bWFj\"").unwrap();
            let pending = &sealed[p..m];
            sealed
                .replacen(pending, "", 1)
                .replacen("groups = [", &format!("{pending}groups = ["), 1)
        },
        std::mem::take(&mut swapped_fields),
        recipient_swapped,
        sealed.replacen("  { name = \"ops", "{ name = \"ops", 1),
        sealed.replacen("\"db.*\", \"/cache/url\"", "\"db.*\",\"/cache/url\"", 1),
    ] {
        assert_ne!(bad, sealed);
        let err = refusal(&bad);
        assert!(err.message.contains("not laid out as seal writes it"), "{bad}: {err}");
    }
}
