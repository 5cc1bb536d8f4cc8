//! TOML through every command that reads or changes values: get, set,
//! unset, edit, exec, info, and their refusals.

use crate::common::{changed_lines, Env, RunOk};

const APP: &str = "# service config\ntitle = \"payments\"\n\n[database]\nhost = \"db.internal\" # primary\npassword = \"hunter2\"\nport = 5432\nreplicas = [\"r1\", \"r2\"]\nopts = { tls = true, timeout = 1.5 }\n\n[[servers]]\nname = \"alpha\"\nstarted = 1979-05-27T07:32:00Z\n";

/// Lines that differ, besides the metadata's `modified`, `mac` and
/// `changed` dates (which move with the clock's second).
fn changed_value_lines(a: &str, b: &str) -> usize {
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| {
                !l.starts_with("modified = ")
                    && !l.starts_with("mac = ")
                    && !l.starts_with("  { path = ")
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    changed_lines(&strip(a), &strip(b))
}

fn sealed_app(env: &Env) -> crate::common::Key {
    let key = env.keygen("k");
    env.write("app.toml", APP);
    env.seal_in_place("app.toml", &key);
    key
}

#[test]
fn get_prints_values_and_tables_with_their_types() {
    let env = Env::new();
    let key = sealed_app(&env);
    let get = |path: &str| env.seal_as(&key, &["get", "app.toml", path]).run_ok();
    assert_eq!(get("database.password"), "hunter2\n");
    assert_eq!(get("database.port"), "5432\n");
    assert_eq!(get("servers.0.started"), "1979-05-27T07:32:00Z\n");
    assert_eq!(get("database.replicas.1"), "r2\n");
    let table: serde_json::Value = serde_json::from_str(&get("database")).unwrap();
    assert_eq!(
        table,
        serde_json::json!({
            "host": "db.internal", "password": "hunter2", "port": 5432,
            "replicas": ["r1", "r2"], "opts": {"tls": true, "timeout": 1.5}
        })
    );
    env.seal_as(&key, &["get", "app.toml", "database.nope"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no value at database.nope"));
}

#[test]
fn set_and_unset_change_one_line_and_keep_the_other_tokens() {
    let env = Env::new();
    let key = sealed_app(&env);
    let before = env.read("app.toml");
    env.seal_as(&key, &["set", "app.toml", "database.password", "n3w"])
        .run_ok();
    let after = env.read("app.toml");
    assert_eq!(changed_value_lines(&before, &after), 1, "{after}");
    env.seal_as(&key, &["set", "--raw", "app.toml", "database.port", "6543"])
        .run_ok();
    env.seal_as(&key, &["set", "app.toml", "cache.url", "redis://x"])
        .run_ok();
    env.seal_as(&key, &["unset", "app.toml", "database.replicas.0"])
        .run_ok();
    env.seal_as(&key, &["unset", "app.toml", "database.opts.tls"])
        .run_ok();
    assert_eq!(
        env.decrypt("app.toml", &key),
        "# service config\ntitle = \"payments\"\ncache.url = \"redis://x\"\n\n[database]\nhost = \"db.internal\" # primary\npassword = \"n3w\"\nport = 6543\nreplicas = [\"r2\"]\nopts = { timeout = 1.5 }\n\n[[servers]]\nname = \"alpha\"\nstarted = 1979-05-27T07:32:00Z\n"
    );
    let sealed = env.read("app.toml");
    // Refusals change nothing.
    for (args, says) in [
        (
            &["set", "app.toml", "seal.version", "2"][..],
            "reserved for seal metadata",
        ),
        (&["unset", "app.toml", "database"], "is a table"),
        (&["set", "app.toml", "database", "x"], "not a single value"),
        (
            &["set", "--raw", "app.toml", "title", "not toml"],
            "not one TOML value",
        ),
        (
            &["set", "app.toml", "servers.1.name", "beta"],
            "array of tables",
        ),
        (&["set", "app.toml", "title.x", "y"], "is not a mapping"),
    ] {
        env.seal_as(&key, args)
            .assert()
            .code(1)
            .stderr(predicates::str::contains(says));
        assert_eq!(env.read("app.toml"), sealed, "{args:?} changed the file");
    }
}

#[test]
fn edit_reseals_only_what_changed() {
    let env = Env::new();
    let key = sealed_app(&env);
    let before = env.read("app.toml");
    let editor = env.script("editor", "sed -i 's/port = 5432/port = 5433/' \"$1\"");
    env.seal_as(&key, &["edit", "app.toml"])
        .env("SEAL_EDITOR", &editor)
        .run_ok();
    let after = env.read("app.toml");
    assert_eq!(changed_value_lines(&before, &after), 1, "{after}");
    assert!(env.decrypt("app.toml", &key).contains("port = 5433\n"));
    // An edit that breaks the TOML is refused with its line, and nothing is written.
    let breaking = env.script("breaking", "printf 'a = [1\\n' > \"$1\"");
    env.seal_as(&key, &["edit", "app.toml"])
        .env("SEAL_EDITOR", &breaking)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("invalid TOML"));
    assert_eq!(env.read("app.toml"), after);
}

#[test]
fn exec_and_export_name_values_by_their_paths() {
    let env = Env::new();
    let key = sealed_app(&env);
    let out = env
        .seal()
        .env("SEAL_IDENTITY_FILE", &key.identity)
        .args(["exec", "app.toml", "--", "sh", "-c"])
        .arg("printf '%s|%s|%s' \"$database_password\" \"$database_port\" \"$servers_0_name\"")
        .run_ok();
    assert_eq!(out, "hunter2|5432|alpha");
    let json = env
        .seal_as(&key, &["export", "app.toml", "--to", "json"])
        .run_ok();
    assert!(
        json.contains("\"database_password\": \"hunter2\""),
        "{json}"
    );
}

#[test]
fn a_tampered_or_hand_edited_toml_file_is_refused() {
    let env = Env::new();
    let key = sealed_app(&env);
    let sealed = env.read("app.toml");
    for (name, text) in [
        ("comment.toml", sealed.replace("# primary", "# primarY")),
        (
            "block.toml",
            sealed.replace("\n[seal]\n", "\n[seal]\n# note\n"),
        ),
        ("after.toml", format!("{sealed}[late]\nx = 1\n")),
    ] {
        env.write(name, &text);
        env.seal_as(&key, &["decrypt", name]).assert().code(1);
    }
    // A plaintext file that uses the reserved key cannot be sealed.
    env.write("reserved.toml", "[seal]\nmine = 1\n");
    env.seal_as(&key, &["encrypt", "-r", &key.public, "reserved.toml"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("seal metadata"));
}
