use predicates::prelude::*;

use crate::common::{Env, RunOk};

fn fails(env: &Env, args: &[&str], code: i32, needles: &[&str]) {
    let out = env.seal().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: expected {n:?} in {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let env = Env::new();
    let key = env.keygen("k");
    let r = key.public.as_str();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "bad.yaml",
            "a: 1\nb: [unclosed\nc: 2\n",
            &["bad.yaml:", "fix the syntax at that line and column"],
        ),
        ("dup.yaml", "a: 1\na: 2\n", &["dup.yaml:2:"]),
        ("bad.json", "{\"a\": 1,}\n", &["bad.json:1:"]),
        ("trunc.json", "{\"a\": \"sec", &["trunc.json:1:"]),
        ("bad.env", "A=1\nthis line is wrong\n", &["bad.env:2:"]),
        ("quote.env", "A=\"unterminated\n", &["quote.env:1:"]),
        ("empty.yaml", "", &["empty.yaml: is empty"]),
        ("list.yaml", "- a\n- b\n", &["list.yaml", "mapping"]),
        ("array.json", "[1, 2]\n", &["array.json", "object"]),
        // A key of the user's own named `seal`: the hint says to rename it,
        // not to fix a syntax that is fine.
        (
            "own-first.yaml",
            "seal: mine\na: 1\n",
            &["own-first.yaml:1:1:", "rename your key"],
        ),
        (
            "own-last.yaml",
            "a: 1\nseal: mine\n",
            &["own-last.yaml:2:", "rename your key"],
        ),
        (
            "own.json",
            "{\"seal\": 1, \"a\": 2}\n",
            &["own.json:1:", "rename your key"],
        ),
    ];
    for (name, text, needles) in cases {
        env.write(name, text);
        fails(&env, &["encrypt", "--in-place", "-r", r, name], 1, needles);
        assert_eq!(env.read(name), *text, "{name} changed");
    }
    std::fs::write(env.path("bin.yaml"), b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe").unwrap();
    fails(
        &env,
        &["encrypt", "-r", r, "bin.yaml"],
        1,
        &["bin.yaml", "not text"],
    );
    fails(
        &env,
        &["encrypt", "-r", r, "missing.yaml"],
        1,
        &["missing.yaml", "no such file"],
    );
    fails(
        &env,
        &["encrypt", "-r", r, "notes.txt"],
        2,
        &["cannot tell the format", "--format"],
    );
    fails(
        &env,
        &["encrypt", "-r", "age1bogus", "bad.json"],
        1,
        &["bad.json"],
    );
    env.write("ok.yaml", "a: 1\n");
    fails(
        &env,
        &["encrypt", "-r", "age1bogus", "ok.yaml"],
        1,
        &["invalid recipient", "age1bogus"],
    );
    fails(
        &env,
        &["encrypt", "-r", "ssh-ed25519 AAAAnotakey", "ok.yaml"],
        1,
        &["ssh-ed25519"],
    );
    // Points of small order are nobody's key: for ssh-ed25519 the wrapped
    // data key would be open to anyone. The identity point, and an age key
    // of order 2 (u = p - 1).
    fails(
        &env,
        &[
            "encrypt",
            "-r",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "-o",
            "out.yaml",
            "ok.yaml",
        ],
        1,
        &["small order", "nobody's key"],
    );
    fails(
        &env,
        &[
            "encrypt",
            "-r",
            "age1anlllllllllllllllllllllllllllllllllllllllllllllllals4n2t7m",
            "-o",
            "out.yaml",
            "ok.yaml",
        ],
        1,
        &["small order", "nobody's key"],
    );
    assert!(!env.path("out.yaml").exists());
    fails(
        &env,
        &["decrypt", "-i", key.identity.to_str().unwrap(), "ok.yaml"],
        1,
        &["not sealed", "seal encrypt"],
    );
    fails(&env, &["frobnicate"], 2, &[]);
    fails(
        &env,
        &["encrypt", "--format", "ini", "-r", r, "ok.yaml"],
        2,
        &["unknown format"],
    );
    assert_eq!(env.read("ok.yaml"), "a: 1\n");
    assert!(
        env.files().iter().all(|f| !f.contains("seal-tmp")),
        "{:?}",
        env.files()
    );
}

/// "No identity found" names every place it looked, the -i files too.
#[test]
fn no_identity_names_where_it_looked() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("ok.yaml", "a: 1\n", &[&key]);
    env.write("empty.txt", "# nothing here\n");
    fails(
        &env,
        &["get", "-i", "empty.txt", "ok.yaml", "a"],
        1,
        &["empty.txt (no identity in it)"],
    );
}

#[test]
fn errors_never_quote_secret_values() {
    let env = Env::new();
    let key = env.keygen("k");
    // A syntax error right after a secret must not echo it.
    env.write("leak.yaml", "password: hunter2-secret\nbroken: [\n");
    env.seal()
        .args(["encrypt", "-r", &key.public, "leak.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("hunter2").not());
    env.write("leak.json", "{\"password\": \"hunter2-secret\" \"x\": 1}");
    env.seal()
        .args(["encrypt", "-r", &key.public, "leak.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("hunter2").not());

    // The private key given where a path belongs (SEAL_IDENTITY_FILE set
    // to the key itself, -i KEY, keygen -y KEY) is never echoed.
    env.sealed_for("ok.yaml", "a: 1\n", &[&key]);
    let secret = std::fs::read_to_string(&key.identity)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    let secret_part = &secret["AGE-SECRET-KEY-".len()..];
    env.seal()
        .args(["get", "ok.yaml", "a"])
        .env("SEAL_IDENTITY_FILE", &secret)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SEAL_IDENTITY"))
        .stderr(predicate::str::contains(secret_part).not());
    env.seal()
        .args(["get", "-i", &secret, "ok.yaml", "a"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(secret_part).not());
    env.seal()
        .args(["keygen", "-y", &secret])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(secret_part).not());
}

/// "None of your identities can open this file" names each recipient as
/// `.seal.yaml` does, the key next to the name; a key it does not name is
/// shown alone.
#[test]
fn a_file_you_cannot_open_names_its_recipients() {
    let env = Env::new();
    let [alice, bob, carol, dave] = env.keygens(["alice", "bob", "carol", "dave"]);
    env.write_policy(
        &crate::common::Policy::new()
            .recipients(&[("alice", &alice), ("bob", &bob)])
            .rule("**", &["alice", "bob"]),
    );
    env.sealed_for("app.env", "K=v\n", &[&alice, &bob, &dave]);
    let out = env
        .seal_as(&carol, &["get", "app.env", "K"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "  the file's recipients:\n    alice: {}\n    bob: {}\n    {}\n",
            alice.public, bob.public, dave.public
        )),
        "{stderr}"
    );
}

/// `seal info` says which values are in plaintext under "every value",
/// by key path, and why.
#[test]
fn info_names_each_plaintext_value_and_why() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for(
        "a.yaml",
        "base: &b secret\ncopy: *b\nempty:\nset: x\n",
        &[&key],
    );
    let out = env.seal().args(["info", "a.yaml"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "values:      2 encrypted, 2 plaintext\nencrypts:    every value\nplaintext:   copy (an alias: it only refers to its anchor's value)\n             empty (an empty value: nothing to encrypt)\nrecipients:  1\n"
        ),
        "{stdout}"
    );
    let out = env
        .seal()
        .args(["info", "--json", "a.yaml"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["plaintext"],
        serde_json::json!([
            {"path": "copy", "reason": "alias"},
            {"path": "empty", "reason": "empty"}
        ])
    );
    // Values a rule's patterns leave out are counted, not listed.
    env.seal()
        .args([
            "encrypt",
            "--encrypt",
            "A",
            "-r",
            &key.public,
            "-o",
            "p.env",
        ])
        .arg(env.write("plain.env", "A=1\nB=2\nC=\n"))
        .run_ok();
    let out = env.seal().args(["info", "p.env"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("plaintext:   C (an empty value: nothing to encrypt)\n             1 value(s) the encrypt patterns do not select\n"),
        "{stdout}"
    );
}
