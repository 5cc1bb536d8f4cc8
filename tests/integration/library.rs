//! The library example (examples/library.rs) against the real binary: a
//! file it changes is what `seal` reads, with identities from the default
//! places.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::common::{Env, RunOk};

/// The example as plain `cargo test` builds it (see plugin.rs for why it
/// is not built from here).
fn example() -> PathBuf {
    let seal = Path::new(env!("CARGO_BIN_EXE_seal"));
    let example = seal
        .parent()
        .expect("target dir")
        .join("examples")
        .join("library");
    assert!(
        example.is_file(),
        "{} is not built: run plain `cargo test`, or `cargo build --example library` first",
        example.display()
    );
    example
}

#[test]
fn the_library_example_reads_and_changes_a_sealed_file() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for(
        "app.yaml",
        "db:\n  password: hunter2\n  user: app\n",
        &[&key],
    );
    let before = env.read("app.yaml");
    let run = |args: &[&str]| {
        assert_cmd::Command::new(example())
            .current_dir(env.dir.path())
            .env("SEAL_IDENTITY_FILE", &key.identity)
            .env_remove("SEAL_IDENTITY")
            .env("XDG_CONFIG_HOME", env.path("home/.config"))
            .args(args)
            .assert()
    };
    run(&["app.yaml", "db.password"])
        .success()
        .stdout(predicate::str::contains(
            "db.password (7 bytes)\ndb.user (3 bytes)\ndb.password = hunter2\n",
        ));
    assert_eq!(env.read("app.yaml"), before);

    run(&["app.yaml", "db.password", "n3w"]).success();
    let after = env.read("app.yaml");
    assert_ne!(after, before);
    assert!(!after.contains("n3w"));
    let user_line = |text: &str| {
        text.lines()
            .find(|l| l.contains("user:"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        user_line(&after),
        user_line(&before),
        "an unchanged value kept its token"
    );
    let got = env
        .seal_as(&key, &["get", "app.yaml", "db.password"])
        .run_ok();
    assert_eq!(got, "n3w\n");

    // Errors name the file and say what is wrong, without a value.
    run(&["missing.yaml", "db.password"])
        .failure()
        .stderr(predicate::str::contains("missing.yaml: no such file"));
    env.write("plain.yaml", "db:\n  password: hunter2\n");
    run(&["plain.yaml", "db.password"])
        .failure()
        .stderr(predicate::str::contains(
            "plain.yaml: the file is not sealed",
        ))
        .stderr(predicate::str::contains("hunter2").not());

    // Without arguments it runs on a copy of a test vector.
    assert_cmd::Command::new(example())
        .assert()
        .success()
        .stdout(predicate::str::contains("API_KEY = sk-live-rotated"));
}
