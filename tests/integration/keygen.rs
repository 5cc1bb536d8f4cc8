use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;

use crate::common::Env;

#[test]
fn keygen_writes_a_private_identity_and_never_overwrites() {
    let env = Env::new();
    let key = env.keygen("alice");
    let text = std::fs::read_to_string(&key.identity).unwrap();
    assert!(text.contains(&format!("# public key: {}", key.public)));
    assert!(text.lines().any(|l| l.starts_with("AGE-SECRET-KEY-1")));
    let mode = std::fs::metadata(&key.identity)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    env.seal()
        .args(["keygen", "-o"])
        .arg(&key.identity)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read_to_string(&key.identity).unwrap(), text);

    env.seal()
        .args(["keygen", "-y"])
        .arg(&key.identity)
        .assert()
        .success()
        .stdout(format!("{}\n", key.public));
}

#[test]
fn keygen_default_path_is_under_xdg_config_home() {
    let env = Env::new();
    let out = env.seal().arg("keygen").output().unwrap();
    assert!(out.status.success());
    let path = env.path("home/.config/seal/identity.txt");
    assert!(path.exists());
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    // The default identity is found without -i.
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    env.write("a.env", "TOKEN=abc\n");
    env.seal()
        .args(["encrypt", "--in-place", "-r", &public, "a.env"])
        .assert()
        .success();
    env.seal()
        .args(["get", "a.env", "TOKEN"])
        .assert()
        .success()
        .stdout("abc\n");
    env.seal().arg("keygen").assert().code(1);
}

#[test]
fn keygen_y_rejects_garbage() {
    let env = Env::new();
    env.write("junk.txt", "hello\n");
    env.seal()
        .args(["keygen", "-y", "junk.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("junk.txt"));
}
