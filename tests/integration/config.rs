use predicates::prelude::*;

use crate::common::{fixture, Env, Policy};

#[test]
fn rules_pick_recipients_and_selected_values() {
    let env = Env::new();
    let [alice, ci, bob] = env.keygens(["alice", "ci", "bob"]);
    env.write_policy(
        &Policy::new()
            .recipients(&[("alice", &alice), ("ci", &ci), ("bob", &bob)])
            .group("ops", &["alice"])
            .rule("prod/**", &["ops"])
            .rule("k8s/*.yaml", &["alice", "ci"])
            .encrypt(&["stringData.*", "data.*"])
            .rule("**", &["alice", "ci"]),
    );
    env.sealed("prod/db/secrets.env", "PASSWORD=hunter2\n");
    env.sealed("k8s/app.yaml", &fixture("k8s.yaml"));
    env.sealed("dev.json", "{\"token\": \"abc\"}\n");

    // prod: only ops (alice).
    let prod = env.read("prod/db/secrets.env");
    assert!(prod.contains(&alice.public) && !prod.contains(&ci.public));
    env.seal()
        .args(["get", "-i"])
        .arg(&alice.identity)
        .args(["prod/db/secrets.env", "PASSWORD"])
        .assert()
        .stdout("hunter2\n");
    env.seal()
        .args(["get", "-i"])
        .arg(&ci.identity)
        .args(["prod/db/secrets.env", "PASSWORD"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("none of your identities"))
        .stderr(predicate::str::contains("hunter2").not());

    // k8s: only stringData/data encrypted; the rest stays readable.
    let k8s = env.read("k8s/app.yaml");
    assert!(k8s.contains("name: app-secrets") && k8s.contains("kind: Secret"));
    assert!(!k8s.contains("hunter2") && !k8s.contains("LS0tLS1CRUdJTi=="));
    assert!(
        k8s.contains("  encrypt:\n    - \"stringData.*\"\n    - \"data.*\"\n"),
        "{k8s}"
    );
    assert_eq!(env.decrypt("k8s/app.yaml", &ci), fixture("k8s.yaml"));
    // The plaintext part is covered by the MAC too.
    env.write(
        "k8s/app.yaml",
        &k8s.replace("namespace: prod", "namespace: evil"),
    );
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&alice.identity)
        .arg("k8s/app.yaml")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("MAC"));
    env.write("k8s/app.yaml", &k8s);

    // Catch-all: alice and ci, not bob.
    assert_eq!(env.decrypt("dev.json", &alice), "{\"token\": \"abc\"}\n");
    assert_eq!(env.decrypt("dev.json", &ci), "{\"token\": \"abc\"}\n");
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&bob.identity)
        .arg("dev.json")
        .assert()
        .code(1);

    // A set on a selective file keeps the selection.
    env.seal()
        .args(["set", "-i"])
        .arg(&ci.identity)
        .args(["k8s/app.yaml", "stringData.NEW", "v"])
        .assert()
        .success();
    env.seal()
        .args(["set", "-i"])
        .arg(&ci.identity)
        .args(["k8s/app.yaml", "metadata.labels", "app"])
        .assert()
        .success();
    let k8s = env.read("k8s/app.yaml");
    assert!(
        k8s.contains("  NEW: seal.v1.") && k8s.contains("  labels: app"),
        "{k8s}"
    );
}

#[test]
fn no_recipients_is_a_clear_error() {
    let env = Env::new();
    env.write("a.yaml", "a: 1\n");
    env.seal()
        .args(["encrypt", "a.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no .seal.yaml"))
        .stderr(predicate::str::contains("-r RECIPIENT"));
    env.write(
        ".seal.yaml",
        "recipients:\n  a: age1xyz\nrules:\n  - path: \"prod/**\"\n    recipients: [a]\n",
    );
    env.seal()
        .args(["encrypt", "a.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no rule"));
    env.write(
        ".seal.yaml",
        "recipients: {a: age1xyz}\nrules: [{path: '**', recipients: [nobody]}]\n",
    );
    env.seal()
        .args(["encrypt", "a.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(".seal.yaml"))
        .stderr(predicate::str::contains("nobody"));
    env.write(
        ".seal.yaml",
        "recipients: {a: age1xyz}\nrules: [{path: '**', recipients: [a]}]\n",
    );
    env.seal()
        .args(["encrypt", "a.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid recipient"));
    assert_eq!(env.read("a.yaml"), "a: 1\n");
}

#[test]
fn identity_sources_in_order() {
    let env = Env::new();
    let [a, b] = env.keygens(["a", "b"]);
    env.sealed_for("x.env", "K=v\n", &[&b]);

    // SEAL_IDENTITY_FILE with a colon list: the second entry opens it.
    let list = format!("{}:{}", a.identity.display(), b.identity.display());
    env.seal()
        .args(["get", "x.env", "K"])
        .env("SEAL_IDENTITY_FILE", &list)
        .assert()
        .success()
        .stdout("v\n");
    // SEAL_IDENTITY holds the key text itself.
    let text = std::fs::read_to_string(&b.identity).unwrap();
    env.seal()
        .args(["get", "x.env", "K"])
        .env("SEAL_IDENTITY", &text)
        .assert()
        .success()
        .stdout("v\n");
    // An explicit -i is the only identity for the run: the right key in
    // the environment (or the default file) is not used behind its back.
    let default = env.path("home/.config/seal/identity.txt");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::copy(&b.identity, &default).unwrap();
    env.seal()
        .args(["get", "-i"])
        .arg(&a.identity)
        .args(["x.env", "K"])
        .env("SEAL_IDENTITY", &text)
        .env("SEAL_IDENTITY_FILE", &b.identity)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("none of your identities"))
        .stderr(predicate::str::contains(a.identity.display().to_string()))
        .stderr(predicate::str::contains("SEAL_IDENTITY").not())
        .stderr(predicate::str::contains(b.identity.display().to_string()).not());
    std::fs::remove_file(&default).unwrap();
    // No identity anywhere.
    env.seal()
        .args(["get", "x.env", "K"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no identity found"))
        .stderr(predicate::str::contains("seal keygen"));
    // A missing -i file is an error, not silently skipped.
    env.seal()
        .args(["get", "-i", "nope.txt", "x.env", "K"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nope.txt"));
    // A recipients file works for encryption.
    env.write(
        "team.txt",
        &format!("# team\n{}\n\n{}\n", a.public, b.public),
    );
    env.write("y.env", "K=w\n");
    env.seal()
        .args(["encrypt", "--in-place", "-R", "team.txt", "y.env"])
        .assert()
        .success();
    assert_eq!(env.decrypt("y.env", &a), "K=w\n");
    assert_eq!(env.decrypt("y.env", &b), "K=w\n");
}
