//! The secret inventory (`seal status`), per-value last-changed dates
//! (format version 2's `changed`), and generated secrets.

use std::path::Path;

use crate::common::*;

fn vectors_identity() -> Key {
    let identity = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors/identity.txt");
    let text = std::fs::read_to_string(&identity).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    Key { identity, public }
}

fn history_fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/history")
            .join(name),
    )
    .unwrap()
}

/// `git commit` with author and committer dates set to `date`.
fn commit_at(repo: &GitRepo, message: &str, date: &str) {
    repo.git_ok(&["add", "-A"]);
    repo.git_command(None, &["commit", "-q", "-m", message])
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output_ok();
}

/// `seal ARGS` in the repository at `now` (SEAL_TEST_NOW), with `key`.
fn seal_at(env: &Env, repo: &GitRepo, key: &Key, now: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = env.seal();
    cmd.current_dir(&repo.root)
        .env("SEAL_TEST_NOW", now)
        .env("SEAL_IDENTITY_FILE", &key.identity)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args);
    cmd
}

fn json_rows(out: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
        .as_array()
        .unwrap()
        .clone()
}

fn row<'a>(rows: &'a [serde_json::Value], file: &str, path: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["file"] == file && r["path"] == path)
        .unwrap_or_else(|| panic!("no row {file} {path} in {rows:?}"))
}

/// The `changed` lines of a sealed dotenv file.
fn changed(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("# seal: changed="))
        .collect()
}

fn config_text(key: &Key, policy: &str) -> String {
    format!(
        "recipients:\n  alice: {}\nrules:\n  - path: \"**\"\n    recipients: [alice]\npolicy:\n{policy}",
        key.public
    )
}

/// Version-1 files record no dates: they come from the back-dated
/// commits, and a rotation (new data key, every token new) is not taken
/// for a change of value.
#[test]
fn dates_of_version_1_files_come_from_git_history() {
    let env = Env::new();
    let key = vectors_identity();
    let repo = GitRepo::init(&env, &env.path("repo"));
    repo.write(
        ".seal.yaml",
        &config_text(
            &key,
            "  - rotate_every: 90d\n    owner: ops@example.com\n  - keys: [STRIPE_*]\n    tier: critical\n    note: https://wiki.example.com/stripe\n",
        ),
    );
    repo.write("app.env", &history_fixture("app.v1-1.env"));
    commit_at(&repo, "first", "2026-01-01T10:00:00Z");
    repo.write("app.env", &history_fixture("app.v1-2.env"));
    commit_at(&repo, "stripe rotated", "2026-03-01T10:00:00Z");
    repo.write("app.env", &history_fixture("app.v1-3.env"));
    commit_at(&repo, "seal rotate", "2026-03-20T10:00:00Z");

    let out = seal_at(
        &env,
        &repo,
        &key,
        "2026-04-05T00:00:00Z",
        &["status", "--json"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_rows(&out);
    let db = row(&rows, "app.env", "DB_PASSWORD");
    assert_eq!(db["last_changed"], "2026-01-01T10:00:00Z");
    assert_eq!(db["next_due"], "2026-04-01T10:00:00Z");
    assert_eq!(db["state"], "overdue");
    assert_eq!(db["owner"], "ops@example.com");
    assert_eq!(db["tier"], serde_json::Value::Null);
    let stripe = row(&rows, "app.env", "STRIPE_KEY");
    assert_eq!(stripe["last_changed"], "2026-03-01T10:00:00Z");
    assert_eq!(stripe["state"], "ok");
    assert_eq!(stripe["tier"], "critical");
    assert_eq!(stripe["readers"], serde_json::json!(["alice"]));

    // --check fails on the overdue value, names the count; the table says
    // where each date came from.
    let check = seal_at(
        &env,
        &repo,
        &key,
        "2026-04-05T00:00:00Z",
        &["status", "--check"],
    )
    .output()
    .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let table = String::from_utf8_lossy(&check.stdout);
    assert!(table.starts_with("FILE "), "{table}");
    assert!(table.contains("2026-01-01 (git)"), "{table}");
    assert!(String::from_utf8_lossy(&check.stderr).contains("2 value(s) overdue"));
    // Ten days earlier DB_PASSWORD is due soon: --check passes.
    let soon = seal_at(
        &env,
        &repo,
        &key,
        "2026-03-25T00:00:00Z",
        &["status", "--check", "--json"],
    )
    .output()
    .unwrap();
    assert_eq!(soon.status.code(), Some(0));
    assert_eq!(
        row(&json_rows(&soon), "app.env", "DB_PASSWORD")["state"],
        "due soon"
    );

    // Writing the file makes it version 2: the changed value gets today's
    // date, the others keep theirs from history.
    seal_at(
        &env,
        &repo,
        &key,
        "2026-04-06T00:00:00Z",
        &["set", "app.env", "DB_PASSWORD", "n3w"],
    )
    .output_ok();
    let text = repo.read("app.env");
    assert!(text.contains("# seal: version=4\n"), "{text}");
    assert_eq!(
        changed(&text),
        ["# seal: changed=/DB_PASSWORD 2026-04-06T00:00:00Z"]
    );
    commit_at(&repo, "new db password", "2026-04-06T00:00:00Z");
    let rows = json_rows(
        &seal_at(
            &env,
            &repo,
            &key,
            "2026-04-07T00:00:00Z",
            &["status", "--json"],
        )
        .output_ok(),
    );
    assert_eq!(
        row(&rows, "app.env", "DB_PASSWORD")["last_changed"],
        "2026-04-06T00:00:00Z"
    );
    assert_eq!(row(&rows, "app.env", "DB_PASSWORD")["state"], "ok");
    assert_eq!(
        row(&rows, "app.env", "STRIPE_KEY")["last_changed"],
        "2026-03-01T10:00:00Z"
    );
    assert_eq!(
        row(&rows, "app.env", "LEGACY")["last_changed"],
        "2026-01-01T10:00:00Z"
    );
}

/// Every state, exactly the documented JSON fields, --all, and a file
/// outside git with no recorded date.
#[test]
fn each_state_and_the_json_fields() {
    let env = Env::new();
    let key = env.keygen("alice");
    env.write(
        ".seal.yaml",
        &config_text(
            &key,
            "  - keys: [OVERDUE]\n    rotate_every: 30d\n  - keys: [SOON]\n    rotate_every: 40d\n    warn_before: 2w\n  - keys: [FINE]\n    rotate_every: 1y\n    owner: Bob <bob@example.com>\n  - path: \"old.env\"\n    rotate_every: 6 months\n",
        ),
    );
    env.write("a.env", "OVERDUE=1\nSOON=2\nFINE=3\nOTHER=4\n");
    env.seal()
        .env("SEAL_TEST_NOW", "2026-01-01T00:00:00Z")
        .args(["encrypt", "--in-place", "a.env"])
        .output_ok();
    // A version-1 file outside git: no date anywhere.
    std::fs::write(env.path("old.env"), history_fixture("app.v1-1.env")).unwrap();
    let status = |args: &[&str]| {
        env.seal()
            .env("SEAL_TEST_NOW", "2026-02-01T00:00:00Z")
            .arg("status")
            .args(args)
            .output()
            .unwrap()
    };
    let out = status(&["--json", "--all", "a.env", "old.env"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_rows(&out);
    for r in &rows {
        let mut fields: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "file",
                "last_changed",
                "next_due",
                "owner",
                "path",
                "pending",
                "readers",
                "rotate_every",
                "state",
                "tier"
            ]
        );
    }
    let state =
        |file: &str, path: &str| row(&rows, file, path)["state"].as_str().unwrap().to_owned();
    assert_eq!(state("a.env", "OVERDUE"), "overdue");
    assert_eq!(state("a.env", "SOON"), "due soon");
    assert_eq!(state("a.env", "FINE"), "ok");
    assert_eq!(state("a.env", "OTHER"), "no policy");
    assert_eq!(state("old.env", "DB_PASSWORD"), "no date known");
    let fine = row(&rows, "a.env", "FINE");
    assert_eq!(fine["rotate_every"], "1y");
    assert_eq!(fine["owner"], "Bob <bob@example.com>");
    assert_eq!(fine["last_changed"], "2026-01-01T00:00:00Z");
    assert_eq!(fine["next_due"], "2027-01-01T00:00:00Z");
    assert_eq!(
        row(&rows, "a.env", "OTHER")["next_due"],
        serde_json::Value::Null
    );
    assert_eq!(
        row(&rows, "old.env", "LEGACY")["last_changed"],
        serde_json::Value::Null
    );
    // old.env is sealed for the test identity, which .seal.yaml does not name.
    assert!(row(&rows, "old.env", "LEGACY")["readers"][0]
        .as_str()
        .unwrap()
        .starts_with("age1"));

    // Without --all, values no policy covers are left out.
    let rows = json_rows(&status(&["--json", "a.env"]));
    assert!(rows.iter().all(|r| r["path"] != "OTHER"));
    assert_eq!(rows.len(), 3);
    assert_eq!(status(&["--check", "a.env"]).status.code(), Some(1));
    assert_eq!(status(&["--check", "old.env"]).status.code(), Some(0));
    // A path that does not exist is an error; a bad SEAL_TEST_NOW too.
    let missing = status(&["nope.env"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.env"));
    let bad_now = env
        .seal()
        .env("SEAL_TEST_NOW", "yesterday")
        .args(["status", "a.env"])
        .output()
        .unwrap();
    assert_eq!(bad_now.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_now.stderr).contains("SEAL_TEST_NOW"));
}

/// Dates change only with the plaintext: rotate, updatekeys, recipients
/// add, `set` of the same value, `edit` without a change and decrypt then
/// encrypt (also --fresh) keep them; an edit of one value changes that
/// value's date line only.
#[test]
fn dates_follow_the_plaintext_only() {
    let env = Env::new();
    let [alice, bob] = env.keygens(["alice", "bob"]);
    let repo = GitRepo::init(&env, &env.path("repo"));
    repo.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  alice: {}\ngroups:\n  team: [alice]\nrules:\n  - path: \"**\"\n    recipients: [team]\npolicy:\n  - rotate_every: 90d\n",
            alice.public
        ),
    );
    repo.write("s.env", "A=1\nB=2\nC=3\n");
    let at = |now: &str, args: &[&str]| seal_at(&env, &repo, &alice, now, args).output_ok();
    at("2026-01-01T00:00:00Z", &["encrypt", "--in-place", "s.env"]);
    let first = repo.read("s.env");
    let dates = changed(&first)
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        dates,
        // One date for all three values, written once.
        ["# seal: changed=* 2026-01-01T00:00:00Z"]
    );
    commit_at(&repo, "sealed", "2026-01-01T00:00:00Z");

    at("2026-01-02T00:00:00Z", &["rotate", "s.env"]);
    let rotated = repo.read("s.env");
    assert_ne!(rotated, first);
    assert_eq!(changed(&rotated), changed(&first), "rotate keeps the dates");
    assert!(rotated.contains("modified=2026-01-02T00:00:00Z"));

    // An edit of one value: its token, its date, modified and mac change.
    let editor = env.script("editor.sh", "sed -i 's/^B=2$/B=20/' \"$1\"");
    seal_at(
        &env,
        &repo,
        &alice,
        "2026-01-03T00:00:00Z",
        &["edit", "s.env"],
    )
    .env("SEAL_EDITOR", &editor)
    .output_ok();
    let edited = repo.read("s.env");
    assert_eq!(changed_lines(&rotated, &edited), 4, "{rotated}\n{edited}");
    assert_eq!(
        changed(&edited),
        [
            "# seal: changed=* 2026-01-01T00:00:00Z",
            "# seal: changed=/B 2026-01-03T00:00:00Z"
        ]
    );
    // No change writes nothing.
    let noop = env.script("noop.sh", "true");
    seal_at(
        &env,
        &repo,
        &alice,
        "2026-01-04T00:00:00Z",
        &["edit", "s.env"],
    )
    .env("SEAL_EDITOR", &noop)
    .output_ok();
    at("2026-01-04T00:00:00Z", &["set", "s.env", "A", "1"]);
    assert_eq!(repo.read("s.env"), edited);
    commit_at(&repo, "b", "2026-01-03T00:00:00Z");

    // Through plaintext and back: the committed key, tokens and dates.
    at("2026-01-05T00:00:00Z", &["decrypt", "--in-place", "s.env"]);
    at("2026-01-05T00:00:00Z", &["encrypt", "--in-place", "s.env"]);
    assert_eq!(repo.read("s.env"), edited);
    at("2026-01-05T00:00:00Z", &["decrypt", "--in-place", "s.env"]);
    at(
        "2026-01-06T00:00:00Z",
        &["encrypt", "--in-place", "--fresh", "s.env"],
    );
    let fresh = repo.read("s.env");
    assert_ne!(fresh, edited, "--fresh: a new data key");
    assert_eq!(changed(&fresh), changed(&edited), "--fresh keeps the dates");

    // A new recipient, then updatekeys: wrappings change, dates do not.
    at(
        "2026-01-07T00:00:00Z",
        &["recipients", "add", "bob", &bob.public, "--group", "team"],
    );
    let added = repo.read("s.env");
    assert!(added.contains(&bob.public));
    assert_eq!(changed(&added), changed(&edited));
    at("2026-01-08T00:00:00Z", &["updatekeys"]);
    assert_eq!(changed(&repo.read("s.env")), changed(&edited));
    // A new value gets today's date; the others keep theirs.
    at("2026-01-09T00:00:00Z", &["set", "s.env", "D", "4"]);
    let grown = repo.read("s.env");
    assert_eq!(
        changed(&grown).last().copied(),
        Some("# seal: changed=/D 2026-01-09T00:00:00Z")
    );
    assert_eq!(changed(&grown)[..2], changed(&edited)[..]);
    // info shows each value's date, without a key.
    let info = env
        .seal()
        .current_dir(&repo.root)
        .args(["info", "s.env"])
        .run_ok();
    assert!(info.contains("2026-01-03T00:00:00Z  B"), "{info}");
}

/// A version-1 file opens as it is and stays byte-identical until written.
#[test]
fn version_1_files_stay_as_they_are_until_written() {
    let env = Env::new();
    let key = vectors_identity();
    let v1 = history_fixture("app.v1-1.env");
    env.write("app.env", &v1);
    env.seal_as(&key, &["set", "app.env", "LEGACY", "x1"])
        .output_ok();
    assert_eq!(env.read("app.env"), v1, "the same value writes nothing");
    assert_eq!(
        env.decrypt("app.env", &key),
        "DB_PASSWORD=hunter2\nSTRIPE_KEY=sk_live_one\nLEGACY=x1\n"
    );
    let info = env.seal().args(["info", "--json", "app.env"]).run_ok();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["version"], 1);
    assert_eq!(info["changed"][0]["date"], serde_json::Value::Null);
    env.seal_as(&key, &["set", "app.env", "LEGACY", "x2"])
        .env("SEAL_TEST_NOW", "2026-05-01T00:00:00Z")
        .output_ok();
    let v2 = env.read("app.env");
    assert!(v2.contains("# seal: version=4\n"));
    assert_eq!(
        changed(&v2),
        ["# seal: changed=/LEGACY 2026-05-01T00:00:00Z"]
    );
    let new_lines = v2.lines().filter(|l| !v1.lines().any(|m| m == *l)).count();
    assert_eq!(
        new_lines, 5,
        "token, version, modified, changed, mac:\n{v2}"
    );
}

/// Mistakes in `policy:` name .seal.yaml, the line and column and what to
/// write; a policy that matches no sealed value is a warning.
#[test]
fn policy_errors_name_line_and_column() {
    let env = Env::new();
    let key = env.keygen("alice");
    env.write(
        ".seal.yaml",
        &config_text(&key, "  - keys: [A]\n    rotate_every: 3 moons\n"),
    );
    let out = env.seal().arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            ".seal.yaml: line 8, column 19: policy[0].rotate_every: \"3 moons\": unknown unit"
        ),
        "{err}"
    );
    assert!(err.contains("90d"), "says what to write: {err}");
    env.write(
        ".seal.yaml",
        &config_text(&key, "  - keys: [A]\n    rotate: 90d\n"),
    );
    let err =
        String::from_utf8_lossy(&env.seal().arg("status").output().unwrap().stderr).into_owned();
    assert!(
        err.contains("line 8, column 5: policy[0]: unknown field \"rotate\" (expected path, keys, rotate_every"),
        "{err}"
    );
    env.write(
        ".seal.yaml",
        &config_text(&key, "  - path: /etc/app.env\n    owner: x\n"),
    );
    let err =
        String::from_utf8_lossy(&env.seal().arg("status").output().unwrap().stderr).into_owned();
    assert!(
        err.contains("line 7, column 11: policy[0].path: \"/etc/app.env\" can never match"),
        "{err}"
    );
    // Any command reading .seal.yaml reports it.
    env.write("x.env", "A=1\n");
    let enc = env
        .seal()
        .args(["encrypt", "--in-place", "x.env"])
        .output()
        .unwrap();
    assert_eq!(enc.status.code(), Some(1));
    assert_eq!(env.read("x.env"), "A=1\n", "nothing written");

    env.write(
        ".seal.yaml",
        &config_text(
            &key,
            "  - keys: [A]\n    rotate_every: 90d\n  - path: \"nothing/**\"\n    owner: x\n",
        ),
    );
    env.seal()
        .args(["encrypt", "--in-place", "x.env"])
        .output_ok();
    let out = env.seal().arg("status").output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".seal.yaml:9: policy[1] (path \"nothing/**\") matches no sealed value"),
        "{err}"
    );
    assert!(!err.contains("policy[0]"), "{err}");
}

/// `seal set --generate KIND`: the length and alphabet of each kind, never
/// printed unless --print, and a clear error for a bad KIND.
#[test]
fn generated_secrets() {
    let env = Env::new();
    let key = env.keygen("alice");
    env.sealed_for("g.env", "A=1\n", &[&key]);
    let get = |name: &str| {
        env.seal_as(&key, &["get", "g.env", name])
            .run_ok()
            .trim_end()
            .to_owned()
    };
    for (kind, name, ok) in [
        (
            "hex:16",
            "HEX",
            (|v: &str| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                as fn(&str) -> bool,
        ),
        ("base64:24", "B64", |v: &str| {
            v.len() == 32
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        }),
        ("alnum:50", "ALNUM", |v: &str| {
            v.len() == 50 && v.bytes().all(|b| b.is_ascii_alphanumeric())
        }),
        ("uuid", "ID", |v: &str| {
            v.len() == 36 && v.as_bytes()[14] == b'4' && v.matches('-').count() == 4
        }),
    ] {
        let out = env
            .seal_as(&key, &["set", "g.env", name, "--generate", kind])
            .output_ok();
        assert!(out.stdout.is_empty(), "{kind}: printed without --print");
        let value = get(name);
        assert!(ok(&value), "{kind}: {value:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&value));
    }
    let printed = env
        .seal_as(
            &key,
            &["set", "g.env", "P", "--generate", "alnum:32", "--print"],
        )
        .run_ok();
    assert_eq!(printed.trim_end(), get("P"));
    assert_ne!(get("HEX"), {
        env.seal_as(&key, &["set", "g.env", "HEX", "--generate", "hex:16"])
            .output_ok();
        get("HEX")
    });
    let before = env.read("g.env");
    for (bad, says) in [
        ("hex:0", "N must be a whole number from 1 to 4096"),
        ("base32:8", "unknown kind \"base32\""),
        ("alnum", "unknown kind \"alnum\"; use hex:N, base64:N"),
    ] {
        let out = env
            .seal_as(&key, &["set", "g.env", "X", "--generate", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let both = env
        .seal_as(&key, &["set", "g.env", "X", "v", "--generate", "uuid"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    let print_alone = env
        .seal_as(&key, &["set", "g.env", "X", "v", "--print"])
        .output()
        .unwrap();
    assert_eq!(print_alone.status.code(), Some(2));
    assert_eq!(env.read("g.env"), before, "nothing written");
}
