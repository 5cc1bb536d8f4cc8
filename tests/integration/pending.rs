//! Write-only additions (spec/FORMAT.md, section 13): `seal set --public`
//! without any key, the pending value refused by readers until a key
//! holder folds it in, and what tampering with it does.

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{Env, Key, Policy, RunOk};

const APP: &str =
    "# app\ndatabase:\n  host: db.internal\n  password: hunter2\napi_url: https://api\n";

/// `seal set --public FILE PATH` run by someone with no identity at all,
/// the value on standard input.
fn set_public(env: &Env, file: &str, path: &str, value: &str) -> assert_cmd::Command {
    let mut cmd = env.seal();
    cmd.args(["set", "--public", file, path]).write_stdin(value);
    cmd
}

fn sealed_app(env: &Env, keys: &[&Key]) -> String {
    env.sealed_for("app.yaml", APP, keys)
}

/// A body line of the sealed file: everything before the metadata block.
fn body(sealed: &str) -> &str {
    &sealed[..sealed.find("\nseal:\n").expect("metadata block")]
}

#[test]
fn a_public_write_is_pending_until_a_key_holder_folds_it_in() {
    let env = Env::new();
    let [alice, bob] = env.keygens(["alice", "bob"]);
    let before = sealed_app(&env, &[&alice, &bob]);

    // A writer with no key: the body stays byte for byte, one entry is
    // added to the metadata, and it says how the value gets in.
    set_public(&env, "app.yaml", "database.password", "n3w-secret\n")
        .assert()
        .success()
        .stderr(contains("seal fold app.yaml"));
    let pending = env.read("app.yaml");
    assert_eq!(body(&pending), body(&before));
    assert!(pending.contains("  pending:\n    - path: \"/database/password\"\n      value: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n"), "{pending}");
    assert!(!pending.contains("n3w-secret"));

    // Readers: info and status name it, decrypt shows the authenticated
    // value and says one is pending.
    env.seal()
        .args(["info", "app.yaml"])
        .assert()
        .success()
        .stdout(contains("pending:     1").and(contains("  database.password\n")));
    let info: serde_json::Value =
        serde_json::from_str(&env.seal().args(["info", "--json", "app.yaml"]).run_ok()).unwrap();
    assert_eq!(info["pending"], serde_json::json!(["database.password"]));
    env.seal_as(&bob, &["decrypt", "app.yaml"])
        .assert()
        .success()
        .stdout(contains("password: hunter2"))
        .stderr(contains("pending").and(contains("database.password")));

    // The diff view names it; the inventory marks it.
    env.seal_as(&bob, &["textconv", "app.yaml"])
        .assert()
        .success()
        .stdout(contains("# seal: pending database.password (").and(contains("n3w-secret").not()));
    let rows: serde_json::Value = serde_json::from_str(
        &env.seal()
            .args(["status", "--json", "--all", "app.yaml"])
            .run_ok(),
    )
    .unwrap();
    let flagged: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pending"] == true)
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, ["database.password"]);

    // exec refuses the file and runs nothing; get refuses the path only.
    let marker = env.path("ran");
    env.seal()
        .args(["exec", "-i"])
        .arg(&bob.identity)
        .args(["app.yaml", "--", "touch"])
        .arg(&marker)
        .assert()
        .code(1)
        .stderr(
            contains("a value is pending at database.password").and(contains("nothing was run")),
        );
    assert!(!marker.exists());
    env.seal_as(&bob, &["export", "--to", "dotenv", "app.yaml"])
        .assert()
        .code(1)
        .stdout("");
    env.seal_as(&bob, &["get", "app.yaml", "database.password"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("--allow-pending"));
    env.seal_as(&bob, &["get", "app.yaml", "database"])
        .assert()
        .code(1);
    assert_eq!(
        env.seal_as(&bob, &["get", "app.yaml", "api_url"]).run_ok(),
        "https://api\n"
    );
    env.seal_as(&bob, &["decrypt", "--in-place", "app.yaml"])
        .assert()
        .code(1);
    assert_eq!(env.read("app.yaml"), pending);

    // --allow-pending uses it, in memory: nothing is written.
    env.seal_as(
        &bob,
        &["get", "--allow-pending", "app.yaml", "database.password"],
    )
    .assert()
    .success()
    .stdout("n3w-secret\n")
    .stderr(contains("used unchecked"));
    let env_out = env
        .seal()
        .args(["exec", "--allow-pending", "-i"])
        .arg(&bob.identity)
        .args(["app.yaml", "--", "env"])
        .run_ok();
    assert!(
        env_out.contains("database_password=n3w-secret\n"),
        "{env_out}"
    );
    assert_eq!(env.read("app.yaml"), pending);

    // fold asks first; with no terminal and no --yes it writes nothing.
    env.seal_as(&bob, &["fold", "app.yaml"])
        .assert()
        .code(1)
        .stderr(contains("no terminal"));
    assert_eq!(env.read("app.yaml"), pending);
    env.seal_as(&bob, &["fold", "--yes", "app.yaml"])
        .assert()
        .success()
        .stderr(contains("folded in database.password"));
    let folded = env.read("app.yaml");
    assert!(!folded.contains("pending"), "{folded}");
    // The folded value is a token under the MAC, for every recipient;
    // the other values kept their tokens.
    assert_eq!(
        env.seal_as(&alice, &["get", "app.yaml", "database.password"])
            .run_ok(),
        "n3w-secret\n"
    );
    let host = |t: &str| t.lines().find(|l| l.contains("host:")).unwrap().to_owned();
    assert_eq!(host(&folded), host(&before));
    let tampered = folded.replacen("password: seal.v1.", "password: seal.v1.A", 1);
    env.write("t.yaml", &tampered);
    env.seal_as(&alice, &["get", "t.yaml", "database.password"])
        .assert()
        .code(1);
}

#[test]
fn a_new_key_and_a_second_write_replace_the_pending_entry() {
    let env = Env::new();
    let alice = env.keygen("alice");
    env.sealed_for("app.env", "A=1\n", &[&alice]);
    set_public(&env, "app.env", "API_KEY", "first")
        .assert()
        .success();
    set_public(&env, "app.env", "API_KEY", "second")
        .assert()
        .success()
        .stderr(contains("replaced"));
    let text = env.read("app.env");
    assert_eq!(
        text.matches("# seal: pending=/API_KEY\n").count(),
        1,
        "{text}"
    );
    // An addition is in the inventory before it has a value in the file.
    let rows: serde_json::Value = serde_json::from_str(
        &env.seal()
            .args(["status", "--json", "--all", "app.env"])
            .run_ok(),
    )
    .unwrap();
    let row = |path: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == path)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("API_KEY")["pending"], true);
    assert_eq!(row("API_KEY")["last_changed"], serde_json::Value::Null);
    assert_eq!(row("A")["pending"], false);
    assert_eq!(
        env.seal_as(&alice, &["get", "--allow-pending", "app.env", "API_KEY"])
            .run_ok(),
        "second\n"
    );
    // A key holder's own write carries the pending value untouched.
    env.seal_as(&alice, &["set", "app.env", "A", "2"])
        .assert()
        .success()
        .stderr(contains("pending"));
    assert!(env.read("app.env").contains("# seal: pending=/API_KEY\n"));
    env.seal_as(&alice, &["fold", "--yes", "app.env"]).run_ok();
    let plain = env.decrypt("app.env", &alice);
    assert_eq!(plain, "A=2\nAPI_KEY=second\n");
}

#[test]
fn edit_shows_pending_values_and_saving_a_change_folds_them() {
    let env = Env::new();
    let alice = env.keygen("alice");
    sealed_app(&env, &[&alice]);
    set_public(&env, "app.yaml", "token", "t0k3n")
        .assert()
        .success();
    // The editor sees the pending value and changes something else.
    let editor = env.script(
        "editor.sh",
        "grep -q 't0k3n' \"$1\" || exit 3\nsed -i 's/db.internal/db2.internal/' \"$1\"",
    );
    env.seal_as(&alice, &["edit", "app.yaml"])
        .env("SEAL_EDITOR", &editor)
        .assert()
        .success()
        .stderr(contains("pending"));
    let text = env.read("app.yaml");
    assert!(!text.contains("pending:"), "{text}");
    let plain = env.decrypt("app.yaml", &alice);
    assert!(
        plain.contains("host: db2.internal\n") && plain.contains("token: t0k3n"),
        "{plain}"
    );
}

#[test]
fn tampering_with_a_pending_value_is_caught_at_fold() {
    let env = Env::new();
    let alice = env.keygen("alice");
    sealed_app(&env, &[&alice]);
    set_public(&env, "app.yaml", "api_url", "https://evil")
        .assert()
        .success();
    let pending = env.read("app.yaml");

    // Moved to another path: the path inside the ciphertext disagrees.
    let moved = pending.replace("- path: \"/api_url\"", "- path: \"/database/host\"");
    env.write("moved.yaml", &moved);
    env.seal_as(&alice, &["fold", "--yes", "moved.yaml"])
        .assert()
        .code(1)
        .stderr(contains("was sealed for /api_url"));
    assert_eq!(env.read("moved.yaml"), moved);

    // A changed ciphertext does not open; nothing is written.
    let at = pending
        .find("-----BEGIN AGE ENCRYPTED FILE-----\n        YWdl")
        .unwrap();
    let line_end = pending[at + 60..].find('\n').unwrap() + at + 60;
    let mut damaged = pending.clone();
    damaged.replace_range(line_end - 2..line_end - 1, "A");
    if damaged == pending {
        damaged.replace_range(line_end - 2..line_end - 1, "B");
    }
    env.write("damaged.yaml", &damaged);
    env.seal_as(&alice, &["fold", "--yes", "damaged.yaml"])
        .assert()
        .code(1);
    assert_eq!(env.read("damaged.yaml"), damaged);

    // The block's layout is checked as for every field: a comment is
    // refused, and so is `pending` in a version-3 block.
    let commented = pending.replace("  pending:\n", "  pending:\n    # ok\n");
    env.write("c.yaml", &commented);
    env.seal().args(["info", "c.yaml"]).assert().code(1);
    let old = pending.replace("version: 4", "version: 3");
    env.write("v3.yaml", &old);
    env.seal()
        .args(["info", "v3.yaml"])
        .assert()
        .code(1)
        .stderr(contains("`pending` needs format version 4"));
    // Removing the entry (or all of `pending`) leaves the authenticated file.
    let start = pending.find("  pending:\n").unwrap();
    let end = pending.find("  mac: ").unwrap();
    let removed = format!("{}{}", &pending[..start], &pending[end..]);
    env.write("r.yaml", &removed);
    assert_eq!(
        env.seal_as(&alice, &["get", "r.yaml", "api_url"]).run_ok(),
        "https://api\n"
    );
}

#[test]
fn a_file_of_an_older_version_is_folded_once_before_public_writes() {
    let env = Env::new();
    let vector = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/testdata/vectors/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    env.write("identity.txt", &vector("identity.txt"));
    env.write("old.env", &vector("v3-app.sealed.env"));
    set_public(&env, "old.env", "NEW", "x")
        .assert()
        .code(1)
        .stderr(contains("format version 3").and(contains("seal fold old.env")));
    env.seal()
        .args(["fold", "-i", "identity.txt", "old.env"])
        .assert()
        .success()
        .stderr(contains("rewritten at format version 4"));
    assert!(env.read("old.env").contains("# seal: version=4\n"));
    set_public(&env, "old.env", "NEW", "x").assert().success();
    // A path the file cannot take is refused with nothing written.
    let text = env.read("old.env");
    set_public(&env, "old.env", "NEW.sub", "x").assert().code(1);
    set_public(&env, "old.env", "1BAD", "x").assert().code(1);
    assert_eq!(env.read("old.env"), text);
}

#[test]
fn a_recipient_is_not_removed_while_values_are_pending() {
    let env = Env::new();
    let [alice, bob] = env.keygens(["alice", "bob"]);
    env.write_policy(
        &Policy::new()
            .recipients(&[("alice", &alice), ("bob", &bob)])
            .rule("*.yaml", &["alice", "bob"]),
    );
    env.sealed("app.yaml", APP);
    set_public(&env, "app.yaml", "token", "t")
        .assert()
        .success();
    let pending = env.read("app.yaml");
    env.seal_as(&alice, &["recipients", "remove", "bob"])
        .assert()
        .code(1)
        .stderr(contains("pending").and(contains("seal fold")));
    assert_eq!(env.read("app.yaml"), pending);
    env.seal_as(&alice, &["fold", "--yes", "app.yaml"]).run_ok();
    env.seal_as(&alice, &["updatekeys"]).assert().success();
    env.seal_as(&bob, &["get", "app.yaml", "token"])
        .assert()
        .code(1);
    assert_eq!(
        env.seal_as(&alice, &["get", "app.yaml", "token"]).run_ok(),
        "t\n"
    );
}
