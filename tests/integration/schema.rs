//! `schema:` in `.seal.yaml` and what `seal check` makes of it: required
//! names without a key, `--strict`, formats with a key, `--json`,
//! `--same-keys`; and the masked values of `seal get --masked` and `seal
//! decrypt --masked`.

use predicates::prelude::*;

use crate::common::{Env, GitRepo, Key, RunOk};

const API_KEY: &str = "sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyz";

/// A temp dir whose `.seal.yaml` seals every file for alice and holds
/// `schema` (YAML text of the `schema:` list).
fn setup(schema: &str) -> (Env, Key) {
    let env = Env::new();
    let alice = env.keygen("alice");
    env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  alice: {}\nrules:\n  - path: '**'\n    recipients: [alice]\nschema:\n{schema}",
            alice.public
        ),
    );
    (env, alice)
}

const PROD_SCHEMA: &str = "  - path: 'prod*.env'
    required:
      API_KEY:
        format: sk-ant-
        min_length: 40
        required_for: [deploy, billing]
        description: Claude API key
      DB_URL:
        format: {regex: '^postgres://'}
    optional: [SENTRY_DSN]
";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_names_missing_required_names_without_a_key() {
    let (env, _alice) = setup(PROD_SCHEMA);
    env.sealed("prod.env", &format!("API_KEY={API_KEY}\nEXTRA=1\n"));
    let out = env.seal().args(["check", "prod.env"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "prod.env: DB_URL is missing: required by the schema for prod*.env\n"
    );
    assert!(
        stderr(&out).contains("hint: add a missing name with `seal set FILE NAME VALUE`"),
        "{}",
        stderr(&out)
    );
    // No key: the format checks are skipped, and said to be.
    assert!(
        stderr(&out)
            .contains("format checks were skipped for 1 file(s) no identity opens (prod.env)"),
        "{}",
        stderr(&out)
    );

    // --strict: names the schema does not list as well.
    let out = env
        .seal()
        .args(["check", "--strict", "prod.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out)
            .contains("prod.env: EXTRA is not listed in the schema for prod*.env (--strict)"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("API_KEY"), "{}", stdout(&out));

    // The description and what needs the name are in the message.
    env.sealed("prod2.env", "DB_URL=postgres://db/app\n");
    let out = env.seal().args(["check", "prod2.env"]).output().unwrap();
    assert_eq!(
        stdout(&out),
        "prod2.env: API_KEY (Claude API key) is missing: required by the schema for prod*.env, needed for deploy, billing\n"
    );
    // A file no schema entry covers is only checked for being sealed.
    env.sealed("dev.env", "OTHER=1\n");
    env.seal()
        .args(["check", "--strict", "dev.env"])
        .assert()
        .success();
}

#[test]
fn require_key_fails_when_formats_cannot_be_checked() {
    let (env, alice) = setup(PROD_SCHEMA);
    env.sealed(
        "prod.env",
        &format!("API_KEY={API_KEY}\nDB_URL=postgres://db/app\n"),
    );
    env.seal().args(["check", "prod.env"]).assert().success();
    env.seal()
        .args(["check", "--require-key", "prod.env"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "prod.env: format checks of the schema for prod*.env need a key that opens the file (--require-key)",
        ));
    // With a key that opens it, they run and pass.
    let out = env
        .seal_as(&alice, &["check", "--require-key", "prod.env"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("MAC verified for 1"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("skipped"), "{}", stderr(&out));
    // A key that does not open it is no key for this file.
    let bob = env.keygen("bob");
    env.seal_as(&bob, &["check", "--require-key", "prod.env"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("need a key that opens the file"));
}

#[test]
fn formats_are_checked_with_a_key_and_values_shown_masked() {
    let (env, alice) = setup(PROD_SCHEMA);
    let wrong = "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz0123";
    env.sealed(
        "prod.env",
        &format!("API_KEY={wrong}\nDB_URL=mysql://db\nSENTRY_DSN=x\n"),
    );
    let out = env
        .seal_as(&alice, &["check", "prod.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(
        text,
        "prod.env: API_KEY: the value sk-pro…(48 chars) does not have the format (prefix \"sk-ant-\") of the schema for prod*.env, needed for deploy, billing\n\
         prod.env: DB_URL: the value …(hidden) does not have the format (regex \"^postgres://\") of the schema for prod*.env\n"
    );
    assert!(
        !text.contains(&wrong[..7]) && !text.contains("mysql"),
        "{text}"
    );

    // min_length, on a value short enough to show nothing of it.
    env.sealed("prod.env", "API_KEY=sk-ant-abc\nDB_URL=postgres://db/app\n");
    let out = env
        .seal_as(&alice, &["check", "prod.env"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "prod.env: API_KEY: the value …(hidden) is shorter than min_length 40 of the schema for prod*.env, needed for deploy, billing\n"
    );
    assert!(!stdout(&out).contains("sk-ant-abc"));
}

#[test]
fn check_json_reports_file_path_and_rule() {
    let (env, alice) = setup(PROD_SCHEMA);
    env.sealed("prod.env", "API_KEY=sk-ant-abc\nEXTRA=1\n");
    env.write("plain.yaml", "password: hunter2\n");
    let out = env
        .seal()
        .args(["check", "--json", "--strict", "prod.env", "plain.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["checked"], 2);
    assert_eq!(report["verified"], 0);
    assert_eq!(
        report["format_checks_skipped"],
        serde_json::json!(["prod.env"])
    );
    let problems: Vec<(String, Option<String>, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_owned(),
                p["path"].as_str().map(str::to_owned),
                p["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let own =
        |f: &str, p: Option<&str>, r: &str| (f.to_owned(), p.map(str::to_owned), r.to_owned());
    assert_eq!(
        problems,
        [
            own("prod.env", Some("DB_URL"), "required"),
            own("prod.env", Some("EXTRA"), "strict"),
            own("plain.yaml", Some("password"), "encrypted"),
            own("plain.yaml", None, "sealed"),
        ]
    );
    assert!(report["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("DB_URL is missing"));

    // With the key: the format problem, masked, and nothing skipped.
    let out = env
        .seal_as(&alice, &["check", "--json", "prod.env"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], 1);
    assert_eq!(report["format_checks_skipped"], serde_json::json!([]));
    assert_eq!(report["problems"][1]["rule"], "min_length");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-ant-abc"));

    env.sealed(
        "prod.env",
        &format!("API_KEY={API_KEY}\nDB_URL=postgres://x\n"),
    );
    let out = env
        .seal_as(&alice, &["check", "--json", "prod.env"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["fix_hint"], serde_json::Value::Null);
}

#[test]
fn schema_mistakes_name_seal_yaml_line_and_column() {
    for (schema, says) in [
        (
            "  - path: '*.env'\n    requird: [A]\n",
            "line 8, column 5: schema[0]: unknown field \"requird\" (expected path, required, optional)",
        ),
        (
            "  - path: '*.env'\n    required: {A: {format: {regex: 'a(b'}}}\n",
            "line 8, column 36: schema[0].required.A.format.regex: invalid regex: unclosed group",
        ),
    ] {
        let (env, _alice) = setup(schema);
        env.write("x.env", "A=1\n");
        let out = env.seal().arg("check").output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains(".seal.yaml: ") && err.contains(says), "{err}");
    }
}

#[test]
fn same_keys_lists_names_missing_on_either_side() {
    let (env, _alice) = setup(PROD_SCHEMA);
    env.sealed("dev.env", "API_KEY=a\nDEBUG=1\nDB_URL=x\n");
    env.sealed("prod.env", "API_KEY=b\nDB_URL=y\nSENTRY_DSN=z\n");
    let out = env
        .seal()
        .args(["check", "--same-keys", "dev.env", "prod.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "prod.env: DEBUG is missing (present in dev.env)\ndev.env: SENTRY_DSN is missing (present in prod.env)\n"
    );
    assert!(stderr(&out).contains("2 name(s) present in one file and missing in the other"));

    let out = env
        .seal()
        .args(["check", "--json", "--same-keys", "dev.env", "prod.env"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["file"], "prod.env");
    assert_eq!(report["problems"][0]["path"], "DEBUG");
    assert_eq!(report["problems"][0]["rule"], "same-keys");

    // Nested YAML compares key paths; a plaintext file works too.
    env.write("a.yaml", "db:\n  user: u\n  password: p\n");
    env.write("b.yaml", "db:\n  user: v\n  password: q\n");
    env.seal()
        .args(["check", "--same-keys", "a.yaml", "b.yaml"])
        .assert()
        .success()
        .stderr(predicate::str::contains("hold the same 2 name(s)"));
    env.seal()
        .args(["check", "--same-keys", "a.yaml", "missing.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.yaml"));
    env.seal()
        .args(["check", "--same-keys", "a.yaml"])
        .assert()
        .code(2);
}

#[test]
fn get_and_decrypt_masked_show_prefix_and_length_only() {
    let (env, alice) = setup(PROD_SCHEMA);
    let long = format!("sk-ant-{}", "x".repeat(101));
    env.sealed(
        "s.yaml",
        &format!("# keys\napi:\n  key: {long}\n  pin: '1234'\nport: 5432\nempty: []\n"),
    );
    let got = env
        .seal_as(&alice, &["get", "--masked", "s.yaml", "api.key"])
        .run_ok();
    assert_eq!(got, "sk-ant…(108 chars)\n");
    let got = env
        .seal_as(&alice, &["get", "--masked", "s.yaml", "api.pin"])
        .run_ok();
    assert_eq!(got, "…(hidden)\n");
    // A subtree: every value masked, as JSON strings.
    let got = env
        .seal_as(&alice, &["get", "--masked", "s.yaml", "api"])
        .run_ok();
    assert_eq!(
        got,
        "{\n  \"key\": \"sk-ant…(108 chars)\",\n  \"pin\": \"…(hidden)\"\n}\n"
    );
    let whole = env
        .seal_as(&alice, &["decrypt", "--masked", "s.yaml"])
        .run_ok();
    assert_eq!(
        whole,
        "# keys\napi:\n  key: sk-ant…(108 chars)\n  pin: …(hidden)\nport: …(hidden)\nempty: []\n"
    );
    let part = env
        .seal_as(
            &alice,
            &["decrypt", "--masked", "--extract", "api.key", "s.yaml"],
        )
        .run_ok();
    assert_eq!(part, "sk-ant…(108 chars)\n");
    // Without --masked, the values as they are.
    assert!(env.decrypt("s.yaml", &alice).contains(&long));
    // Masked output is for reading: never written over a file.
    env.seal_as(&alice, &["decrypt", "--masked", "--in-place", "s.yaml"])
        .assert()
        .code(2);

    env.sealed("p.json", &format!("{{\"k\": \"{long}\", \"n\": 12}}\n"));
    let whole = env
        .seal_as(&alice, &["decrypt", "--masked", "p.json"])
        .run_ok();
    assert_eq!(
        whole,
        "{\"k\": \"sk-ant…(108 chars)\", \"n\": \"…(hidden)\"}\n"
    );
}

/// The pre-commit hook (`seal check --staged`) applies the schema to what
/// is staged; a plaintext file is reported as such, without a note that
/// its formats went unchecked (no key would help).
#[test]
fn staged_files_are_checked_against_the_schema() {
    let (env, alice) = setup(PROD_SCHEMA);
    let repo = GitRepo::init(&env, env.dir.path());
    env.write(".gitignore", "*.key\nhome/\nrun/\n");
    env.sealed(
        "prod.env",
        &format!("API_KEY={API_KEY}\nDB_URL=postgres://x\n"),
    );
    repo.commit_all("prod");
    env.seal().args(["check", "--staged"]).assert().success();
    env.seal().arg("check").assert().success();

    env.sealed("prod.env", &format!("API_KEY={API_KEY}\n"));
    repo.git_ok(&["add", "prod.env"]);
    env.seal()
        .args(["check", "--staged"])
        .assert()
        .code(1)
        .stdout("prod.env: DB_URL is missing: required by the schema for prod*.env\n");

    env.write("prod.env", "API_KEY=sk-nope\nDB_URL=postgres://x\n");
    repo.git_ok(&["add", "prod.env"]);
    let out = env
        .seal_as(&alice, &["check", "--staged", "--require-key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "prod.env: API_KEY is not encrypted\nprod.env: DB_URL is not encrypted\nprod.env: not sealed (no seal metadata)\n"
    );
    assert!(!stderr(&out).contains("skipped"), "{}", stderr(&out));
}
