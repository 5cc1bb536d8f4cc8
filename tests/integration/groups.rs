//! Key groups (format version 5): a `.seal.yaml` rule's `access:` entry
//! seals some key paths for other recipients; each reader opens what its
//! keys open, and the locked values stay tokens.

use predicates::str::contains;

use crate::common::Env;

const APP: &str = "api_key: abc123\ndatabase:\n  password: hunter2\n";

/// Three identities: `be` (default scope), `dba` (the database group) and
/// `both`; the file sealed by the `.seal.yaml` rule.
fn sealed(env: &Env) -> [crate::common::Key; 3] {
    let [be, dba, both] = env.keygens(["be", "dba", "both"]);
    env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  be: {}\n  dba: {}\n  both: {}\nrules:\n  - path: \"*.yaml\"\n    recipients: [be, both]\n    access:\n      - name: database\n        keys: [\"database.*\"]\n        recipients: [dba, both]\n",
            be.public, dba.public, both.public
        ),
    );
    env.write("app.yaml", APP);
    env.seal()
        .args(["encrypt", "--in-place", "app.yaml"])
        .assert()
        .success();
    [be, dba, both]
}

fn decrypt(env: &Env, key: &crate::common::Key, file: &str) -> assert_cmd::assert::Assert {
    env.seal()
        .arg("decrypt")
        .arg("-i")
        .arg(&key.identity)
        .arg(file)
        .assert()
}

#[test]
fn each_reader_opens_only_its_scopes_and_the_rest_stays_tokens() {
    let env = Env::new();
    let [be, dba, both] = sealed(&env);
    let text = env.read("app.yaml");
    assert!(text.contains("  version: 5\n"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("abc123"));

    let out = decrypt(&env, &both, "app.yaml").success();
    assert_eq!(String::from_utf8_lossy(&out.get_output().stdout), APP);

    let out = decrypt(&env, &be, "app.yaml").success();
    let shown = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(shown.contains("api_key: abc123\n"), "{shown}");
    assert!(
        !shown.contains("hunter2") && shown.contains("  password: seal.v1."),
        "{shown}"
    );

    let out = decrypt(&env, &dba, "app.yaml").success();
    let shown = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(shown.contains("  password: hunter2\n"), "{shown}");
    assert!(
        !shown.contains("abc123") && shown.contains("api_key: seal.v1."),
        "{shown}"
    );

    // `get` of a locked path says so; of an open one, gives it.
    env.seal()
        .args(["get", "-i"])
        .arg(&dba.identity)
        .args(["app.yaml", "api_key"])
        .assert()
        .failure()
        .stderr(contains("you are not a recipient of api_key"));
    env.seal()
        .args(["get", "-i"])
        .arg(&be.identity)
        .args(["app.yaml", "database.password"])
        .assert()
        .failure()
        .stderr(contains("key group database"));
    env.seal()
        .args(["get", "-i"])
        .arg(&dba.identity)
        .args(["app.yaml", "database.password"])
        .assert()
        .success()
        .stdout("hunter2\n");

    // `exec` leaves the locked values out and says so.
    env.seal()
        .args(["exec", "-i"])
        .arg(&dba.identity)
        .args([
            "app.yaml",
            "--",
            "sh",
            "-c",
            "echo \"${api_key:-absent} $database_password\"",
        ])
        .assert()
        .success()
        .stdout("absent hunter2\n")
        .stderr(contains("left out 1 value(s)"));
}

#[test]
fn a_group_member_cannot_change_the_default_scope_and_tampering_is_seen_by_all() {
    let env = Env::new();
    let [be, dba, both] = sealed(&env);
    let text = env.read("app.yaml");
    // Swap the two tokens: every reader refuses the file.
    let token = |key: &str| {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap();
        line.split_once(": ").unwrap().1.to_owned()
    };
    let (a, p) = (token("api_key:"), token("password:"));
    let swapped = text.replace(&a, "@A@").replace(&p, &a).replace("@A@", &p);
    env.write("swapped.yaml", &swapped);
    for key in [&be, &dba, &both] {
        decrypt(&env, key, "swapped.yaml").failure();
    }
    // A dba member edits its own value: the default value keeps its token
    // byte for byte and everyone still opens the file.
    env.seal()
        .args(["set", "-i"])
        .arg(&dba.identity)
        .args(["app.yaml", "database.password", "s3cret"])
        .assert()
        .success();
    let after = env.read("app.yaml");
    assert!(after.contains(&a), "the locked token changed");
    let out = decrypt(&env, &both, "app.yaml").success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        "api_key: abc123\ndatabase:\n  password: s3cret\n"
    );
    // It cannot change a value of the default scope.
    env.seal()
        .args(["set", "-i"])
        .arg(&dba.identity)
        .args(["app.yaml", "api_key", "evil"])
        .assert()
        .failure();
    assert_eq!(env.read("app.yaml"), after);
}
