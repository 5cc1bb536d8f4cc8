use predicates::prelude::*;

use crate::common::Env;

const PLAIN: &str =
    "# config\ndb:\n  user: admin\n  password: hunter2-secret\napi: tok-abcdef-123\n";

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '=')
        .filter(|w| w.starts_with("seal.v1."))
        .map(str::to_owned)
        .collect()
}

/// Every tampered variant must be refused with exit 1, show no plaintext
/// and leave the file as it was.
fn assert_refused(env: &Env, key: &crate::common::Key, name: &str, tampered: &str, expect: &str) {
    env.write(name, tampered);
    let out = env
        .seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .arg(name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{expect}: accepted:\n{tampered}"
    );
    assert!(out.stdout.is_empty(), "{expect}: printed output");
    assert!(stderr.contains(expect), "{expect}: stderr was {stderr}");
    for secret in ["hunter2", "tok-abcdef", "admin"] {
        assert!(!stderr.contains(secret), "secret in stderr: {stderr}");
    }
    assert_eq!(env.read(name), tampered, "file changed");
}

#[test]
fn tampering_is_detected_before_any_plaintext_is_shown() {
    let env = Env::new();
    let key = env.keygen("k");
    let sealed = env.sealed_for("s.yaml", PLAIN, &[&key]);
    let t = tokens(&sealed);
    assert_eq!(t.len(), 3);

    // A changed character in a token.
    let mut flipped = t[1].clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replace(&t[1], &flipped),
        "MAC",
    );
    // Two tokens swapped between keys.
    let swapped = sealed
        .replace(&t[1], "@@")
        .replace(&t[2], &t[1])
        .replace("@@", &t[2]);
    assert_refused(&env, &key, "s.yaml", &swapped, "MAC");
    // A value removed.
    let removed: String = sealed
        .lines()
        .filter(|l| !l.starts_with("  user:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_refused(&env, &key, "s.yaml", &removed, "MAC");
    // A value added (copy of an existing token under a new key).
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replacen("api:", &format!("extra: {}\napi:", t[2]), 1),
        "MAC",
    );
    // A comment or key renamed.
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replace("# config", "# c0nfig"),
        "MAC",
    );
    assert_refused(&env, &key, "s.yaml", &sealed.replace("api:", "apj:"), "MAC");
    // Metadata edits.
    let other = env.keygen("other");
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replace("modified: \"20", "modified: \"19"),
        "MAC",
    );
    // A value's last-changed date edited, or passed off as version 1.
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replace("\"*\": \"20", "\"*\": \"19"),
        "MAC",
    );
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replace("version: 4", "version: 1"),
        "MAC",
    );
    let two = sealed.replace(
        "  recipients:\n",
        &format!("  recipients:\n    - recipient: \"{}\"\n      data_key: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        YWdl\n        -----END AGE ENCRYPTED FILE-----\n", other.public),
    );
    assert_refused(&env, &key, "s.yaml", &two, "");
    // Truncation.
    assert_refused(&env, &key, "s.yaml", &sealed[..sealed.len() / 2], "s.yaml");
    let no_mac: String = sealed
        .lines()
        .filter(|l| !l.contains("mac:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_refused(&env, &key, "s.yaml", &no_mac, "s.yaml");
    // A future version.
    assert_refused(
        &env,
        &key,
        "s.yaml",
        &sealed.replace("version: 4", "version: 6"),
        "version 6; needs seal 0.6 or later",
    );
}

#[test]
fn the_same_checks_hold_for_json_and_dotenv() {
    for (name, plain) in [
        ("s.json", "{\"a\": \"hunter2-x\", \"b\": \"tok-abcdef\"}\n"),
        ("s.env", "A=hunter2-x\nB=tok-abcdef\n"),
    ] {
        let env = Env::new();
        let key = env.keygen("k");
        let sealed = env.sealed_for(name, plain, &[&key]);
        let t = tokens(&sealed);
        assert_eq!(t.len(), 2, "{sealed}");
        let swapped = sealed
            .replace(&t[0], "@@")
            .replace(&t[1], &t[0])
            .replace("@@", &t[1]);
        assert_refused(&env, &key, name, &swapped, "MAC");
        assert_refused(
            &env,
            &key,
            name,
            &sealed.replacen(&t[0][10..20], "AAAAAAAAAA", 1),
            "",
        );
    }
}

#[test]
fn wrong_key_names_the_recipients() {
    let env = Env::new();
    let key = env.keygen("k");
    let other = env.keygen("other");
    env.sealed_for("s.env", "A=hunter2\n", &[&key]);
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&other.identity)
        .arg("s.env")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("none of your identities"))
        .stderr(predicate::str::contains(&key.public))
        .stderr(predicate::str::contains("hunter2").not());
}
