use predicates::prelude::*;

use crate::common::{changed_lines, fixture, Env, Key, RunOk};

fn sealed(env: &Env, name: &str, text: &str) -> Key {
    let key = env.keygen(&format!("key-for-{name}"));
    env.sealed_for(name, text, &[&key]);
    key
}

fn get(env: &Env, key: &Key, file: &str, path: &str) -> String {
    env.seal()
        .args(["get", "-i"])
        .arg(&key.identity)
        .args([file, path])
        .run_ok()
}

#[test]
fn get_reads_typed_values_in_every_format() {
    let env = Env::new();
    let key = sealed(&env, "t.yaml", &fixture("tricky.yaml"));
    assert_eq!(
        get(&env, &key, "t.yaml", "database.password"),
        "p@ss: w#rd \"quoted\" é\n"
    );
    assert_eq!(get(&env, &key, "t.yaml", "database.user"), "it's me\n");
    assert_eq!(get(&env, &key, "t.yaml", "database.port"), "5432\n");
    assert_eq!(get(&env, &key, "t.yaml", "list.1.other"), "42\n");
    assert_eq!(get(&env, &key, "t.yaml", "/database/host"), "db.internal\n");
    assert_eq!(get(&env, &key, "t.yaml", "folded"), "a folded paragraph\n");
    assert_eq!(
        get(&env, &key, "t.yaml", "anchors.again"),
        "shared-secret\n"
    );

    let key = sealed(&env, "p.json", &fixture("pretty.json"));
    assert_eq!(get(&env, &key, "p.json", "api_keys.1.key"), "sk-live-2\n");
    assert_eq!(get(&env, &key, "p.json", "/with.dot"), "dotted key\n");
    assert_eq!(get(&env, &key, "p.json", "database.ratio"), "-1.5E+10\n");
    let tree: serde_json::Value =
        serde_json::from_str(&get(&env, &key, "p.json", "api_keys.0")).unwrap();
    assert_eq!(tree, serde_json::json!({"id": "a", "key": "sk-live-1"}));

    let key = sealed(&env, "a.env", &fixture("app.env"));
    assert_eq!(
        get(&env, &key, "a.env", "DOUBLE"),
        "line one\nline two \"quoted\"\n"
    );
    assert_eq!(
        get(&env, &key, "a.env", "SINGLE"),
        "literal $NOT_EXPANDED # not a comment\n"
    );
    assert_eq!(get(&env, &key, "a.env", "WITH_EQUALS"), "a=b=c\n");

    env.seal()
        .args(["get", "-i"])
        .arg(&key.identity)
        .args(["a.env", "MISSING"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no value at MISSING"));
}

/// A repeated dotenv name means its last value to every command: `get`,
/// `decrypt --extract`, `set` and `exec` agree (spec 4.3).
#[test]
fn a_repeated_dotenv_name_is_its_last_value_everywhere() {
    let env = Env::new();
    let key = sealed(&env, "dup.env", "A=first\nB=x\nA=last\n");
    assert_eq!(get(&env, &key, "dup.env", "A"), "last\n");
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .args(["--extract", "A", "dup.env"])
        .assert()
        .success()
        .stdout("last\n");
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["dup.env", "A", "new"])
        .assert()
        .success();
    assert_eq!(get(&env, &key, "dup.env", "A"), "new\n");
    env.seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(["dup.env", "--", "sh", "-c", "printf %s \"$A\""])
        .assert()
        .success()
        .stdout("new");
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .arg("dup.env")
        .assert()
        .success()
        .stdout("A=first\nB=x\nA=new\n");
}

/// A subtree prints as JSON with the values' own types, empty mappings and
/// lists included, from YAML as from JSON.
#[test]
fn get_of_a_subtree_keeps_types_and_empty_containers() {
    let env = Env::new();
    let key = sealed(
        &env,
        "t.json",
        "{\n  \"a\": \"x\",\n  \"b\": {\"c\": 1, \"d\": [true, null, -1.5e3, \"q\\\"\\n\"], \"e\": []},\n  \"f\": {}\n}\n",
    );
    let tree: serde_json::Value = serde_json::from_str(&get(&env, &key, "t.json", "b")).unwrap();
    assert_eq!(
        tree,
        serde_json::json!({"c": 1, "d": [true, null, -1500.0, "q\"\n"], "e": []})
    );
    assert_eq!(get(&env, &key, "t.json", "b.e"), "[]\n");
    assert_eq!(get(&env, &key, "t.json", "f"), "{}\n");

    let key = sealed(
        &env,
        "t.yaml",
        "a:\n  n: 1\n  t: true\n  z: ~\n  f: 1.5\n  s: \"1\"\n  h: 0x1F\n  i: .inf\n  e:\n  l: []\n  m: {}\n  g: !!str 5\n  b: |\n    block\n",
    );
    let tree: serde_json::Value = serde_json::from_str(&get(&env, &key, "t.yaml", "a")).unwrap();
    assert_eq!(
        tree,
        serde_json::json!({
            "n": 1, "t": true, "z": null, "f": 1.5, "s": "1", "h": 31, "i": ".inf",
            "e": null, "l": [], "m": {}, "g": "5", "b": "block\n"
        })
    );
    assert_eq!(get(&env, &key, "t.yaml", "a.l"), "[]\n");
}

/// A YAML tag stays with its key: a new value that does not fit it would
/// make a file tag-applying loaders refuse, so nothing is written.
#[test]
fn set_keeps_yaml_tags_true() {
    let env = Env::new();
    let key = sealed(&env, "t.yaml", "port: !!int 5432\nname: !!str x\n");
    let before = env.read("t.yaml");
    let set = |path: &str, value: &str| {
        env.seal()
            .args(["set", "-i"])
            .arg(&key.identity)
            .args(["t.yaml", path, value])
            .assert()
    };
    set("port", "abc")
        .code(1)
        .stderr(predicate::str::contains("port is tagged !!int"));
    assert_eq!(env.read("t.yaml"), before);
    set("port", "6543").success();
    set("name", "5").success();
    let plain = env.decrypt("t.yaml", &key);
    assert!(plain.starts_with("port: !!int "), "{plain}");
    assert_eq!(get(&env, &key, "t.yaml", "port"), "6543\n");
    assert_eq!(get(&env, &key, "t.yaml", "name"), "5\n");
}

/// Every document of a YAML stream can be read and changed, by number.
#[test]
fn values_in_later_yaml_documents_are_reached_with_document() {
    let env = Env::new();
    let key = sealed(&env, "m.yaml", "---\na: doc1\n---\na: doc2\nb: only2\n");
    let run = |cmd: &str, args: &[&str]| {
        env.seal()
            .arg(cmd)
            .arg("-i")
            .arg(&key.identity)
            .args(args)
            .assert()
    };
    run("get", &["m.yaml", "a"]).success().stdout("doc1\n");
    run("get", &["--document", "2", "m.yaml", "a"])
        .success()
        .stdout("doc2\n");
    run("get", &["m.yaml", "b"])
        .code(1)
        .stderr(predicate::str::contains("add --document 2"));
    run("decrypt", &["--document", "2", "--extract", "b", "m.yaml"])
        .success()
        .stdout("only2\n");
    run("set", &["--document", "2", "m.yaml", "a", "changed"]).success();
    run("unset", &["--document", "2", "m.yaml", "b"]).success();
    assert_eq!(
        env.decrypt("m.yaml", &key),
        "---\na: doc1\n---\na: changed\n"
    );
    run("get", &["--document", "3", "m.yaml", "a"])
        .code(1)
        .stderr(predicate::str::contains("no value at a (document 3)"));
    // Other formats have one document: asking for another is a usage error
    // that changes nothing.
    let env_key = sealed(&env, "one.env", "A=1\n");
    let before = env.read("one.env");
    env.seal()
        .args(["set", "-i"])
        .arg(&env_key.identity)
        .args(["--document", "2", "one.env", "A", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--document 2 is for YAML files"));
    assert_eq!(env.read("one.env"), before);
}

#[test]
fn set_changes_one_value_line_and_the_metadata_lines() {
    for (name, text, path, line_has) in [
        (
            "s.yaml",
            fixture("tricky.yaml"),
            "database.password",
            "  password: seal.v1.",
        ),
        (
            "s.json",
            fixture("pretty.json"),
            "database.password",
            "\"password\": \"seal.v1.",
        ),
        ("s.env", fixture("app.env"), "API_KEY", "API_KEY=seal.v1."),
    ] {
        let env = Env::new();
        let key = sealed(&env, name, &text);
        let before = env.read(name);
        env.seal()
            .args(["set", "-i"])
            .arg(&key.identity)
            .args([name, path, "new secret value"])
            .assert()
            .success();
        let after = env.read(name);
        assert_eq!(before.lines().count(), after.lines().count(), "{name}");
        let changed: Vec<_> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .map(|(_, b)| b)
            .collect();
        // The value, the MAC and (unless within the same second)
        // `modified` and the value's `changed` date.
        assert!((2..=4).contains(&changed.len()), "{name}: {changed:#?}");
        assert!(changed[0].contains(line_has), "{name}: {changed:#?}");
        let metadata_only = changed[1..].iter().all(|l| {
            l.contains("modified")
                || l.contains("mac")
                || (l.contains("changed") || l.contains("\"/")) && l.contains("password")
                || l.contains("changed=/API_KEY ")
        });
        assert!(metadata_only, "{name}: {changed:#?}");
        assert!(
            changed.iter().any(|l| l.contains("mac")),
            "{name}: {changed:#?}"
        );
        assert_eq!(get(&env, &key, name, path), "new secret value\n");
    }
}

#[test]
fn set_of_the_same_value_changes_nothing() {
    let env = Env::new();
    let key = sealed(&env, "a.yaml", "a: secret\nb: 2\n");
    let before = env.read("a.yaml");
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["a.yaml", "a", "secret"])
        .assert()
        .success()
        .stderr(predicate::str::contains("unchanged"));
    assert_eq!(env.read("a.yaml"), before);
}

#[test]
fn set_adds_new_keys_and_unset_removes_them() {
    let env = Env::new();
    let key = sealed(&env, "a.yaml", "db:\n  user: app\nother: x\n");
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["a.yaml", "db.password", "s3cret"])
        .assert()
        .success();
    assert_eq!(
        env.decrypt("a.yaml", &key),
        "db:\n  user: app\n  password: s3cret\nother: x\n"
    );
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["a.yaml", "db.port", "5432", "--raw"])
        .assert()
        .success();
    assert_eq!(
        env.decrypt("a.yaml", &key),
        "db:\n  user: app\n  password: s3cret\n  port: 5432\nother: x\n"
    );
    env.seal()
        .args(["unset", "-i"])
        .arg(&key.identity)
        .args(["a.yaml", "db.user"])
        .assert()
        .success();
    assert_eq!(
        env.decrypt("a.yaml", &key),
        "db:\n  password: s3cret\n  port: 5432\nother: x\n"
    );
    let before = changed_lines(&env.decrypt("a.yaml", &key), "");
    assert!(before > 0);

    let key = sealed(&env, "b.env", "A=1\n");
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["b.env", "B", "-"])
        .write_stdin("from stdin\n")
        .assert()
        .success();
    assert_eq!(env.decrypt("b.env", &key), "A=1\nB='from stdin'\n");
    env.seal()
        .args(["unset", "-i"])
        .arg(&key.identity)
        .args(["b.env", "A"])
        .assert()
        .success();
    assert_eq!(env.decrypt("b.env", &key), "B='from stdin'\n");
}

#[test]
fn set_refuses_bad_paths_and_leaves_the_file_alone() {
    let env = Env::new();
    let key = sealed(&env, "a.json", "{\"a\": \"x\"}\n");
    let before = env.read("a.json");
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["a.json", "a.b", "v"])
        .assert()
        .code(1);
    env.seal()
        .args(["unset", "-i"])
        .arg(&key.identity)
        .args(["a.json", "zzz"])
        .assert()
        .code(1);
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["a.json", "a..b", "v"])
        .assert()
        .code(2);
    env.seal()
        .args(["set", "-i"])
        .arg(&key.identity)
        .args(["a.json", "a", "{", "--raw"])
        .assert()
        .code(1);
    assert_eq!(env.read("a.json"), before);
    assert_eq!(
        env.files()
            .iter()
            .filter(|f| f.contains("seal-tmp"))
            .count(),
        0
    );
}

#[test]
fn info_needs_no_key() {
    let env = Env::new();
    let key = sealed(&env, "a.yaml", "a: 1\nb: 2\n");
    env.seal()
        .args(["info", "a.yaml"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&key.public))
        .stdout(predicate::str::contains("2 encrypted, 0 plaintext"))
        .stdout(predicate::str::contains("seal format version 4"));
    let out = env
        .seal()
        .args(["info", "--json", "a.yaml"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["recipients"][0], key.public.as_str());
    assert_eq!(v["encrypted_values"], 2);

    // Text the file controls cannot drive the terminal: escapes are shown.
    let sealed = env.read("a.yaml");
    let hostile = sealed.replacen(
        "recipient: \"age1",
        "recipient: \"\\u001b]0;PWNED\\u0007\\u001b[2Jage1",
        1,
    );
    assert_ne!(hostile, sealed);
    env.write("h.yaml", &hostile);
    let out = env.seal().args(["info", "h.yaml"]).output_ok();
    assert!(
        !out.stdout.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\\u{1b}"));
    let other = env.keygen("other");
    let out = env
        .seal()
        .args(["get", "-i"])
        .arg(&other.identity)
        .args(["h.yaml", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !out.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A format version this seal does not read is refused, not described.
    env.write("v7.yaml", &sealed.replacen("version: 4", "version: 7", 1));
    env.seal()
        .args(["info", "v7.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "format version 7; needs seal 0.7 or later",
        ));
}
