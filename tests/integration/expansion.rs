//! dotenv expansion as its peers read it: one table of cases
//! (`testdata/dotenv-expansion/cases.json`) through seal, python-dotenv
//! and dotenvx, and every disagreement listed in the README.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{tool, Env, Key, RunOk};

type Values = BTreeMap<String, String>;

fn table() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dotenv-expansion/cases.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("cases.json"))
        .expect("cases.json is JSON")
}

fn as_values(v: &Value) -> Values {
    v.as_object()
        .expect("an object of names")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string value").to_owned()))
        .collect()
}

fn parse_values(json: &str, who: &str) -> Values {
    let v: Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{who} printed no JSON ({e}): {json}"));
    as_values(&v)
}

/// What a loader gives for a case: seal's expectation with the loader's
/// own answers put over it.
fn expected(case: &Value, loader: &str) -> Values {
    let mut want = as_values(&case["seal"]);
    if let Some(theirs) = case.get(loader) {
        want.extend(as_values(theirs));
    }
    want
}

/// Run a peer with nothing in its environment but PATH and the table's.
fn peer(name: &str, env_vars: &Values) -> std::process::Command {
    let mut cmd = tool(name);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env_vars);
    cmd
}

fn seal_values(env: &Env, key: &Key, file: &str, env_vars: &Values) -> Values {
    let out = env
        .seal()
        .env_clear()
        .envs(env_vars)
        .args(["export", "--to", "json", "-i"])
        .arg(&key.identity)
        .arg(file)
        .run_ok();
    parse_values(&out, "seal export")
}

#[test]
fn one_table_through_seal_python_dotenv_and_dotenvx() {
    let table = table();
    let env_vars = as_values(&table["env"]);
    let env = Env::new();
    let key = env.keygen("k");
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut failures = Vec::new();
    for case in table["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let text = case["dotenv"].as_str().expect("dotenv");
        let file = format!("{name}.env");
        let plain = env.write(&format!("plain-{name}.env"), text);

        let python = peer("python3", &env_vars)
            .args([
                "-c",
                "import sys, json, dotenv; print(json.dumps(dotenv.dotenv_values(sys.argv[1])))",
            ])
            .arg(&plain)
            .run_ok();
        let dotenvx = peer("dotenvx", &env_vars)
            .args(["get", "-f"])
            .arg(&plain)
            .run_ok();
        env.sealed_for(&file, text, &[&key]);
        let results = [
            ("seal", seal_values(&env, &key, &file, &env_vars)),
            ("python-dotenv", parse_values(&python, "python-dotenv")),
            ("dotenvx", parse_values(&dotenvx, "dotenvx")),
        ];
        for (who, got) in results {
            let want = expected(case, who);
            if got != want {
                failures.push(format!(
                    "{name}: {who} gives {got:?}, the table says {want:?}"
                ));
            }
        }
        // Every disagreement is explained in the README, by case name.
        if (case.get("python-dotenv").is_some() || case.get("dotenvx").is_some())
            && !readme.contains(&format!("`{name}`"))
        {
            failures.push(format!("{name}: a disagreement README.md does not list"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The stored file stays byte-exact: only what is handed out is expanded;
/// `--no-expand` hands out values as written.
#[test]
fn expansion_only_when_values_are_handed_out() {
    let env = Env::new();
    let key = env.keygen("k");
    let text = "A=alpha\nB=${A}-$FROMENV\nC='${A}'\n";
    env.sealed_for("app.env", text, &[&key]);
    assert_eq!(env.decrypt("app.env", &key), text);
    env.seal_as(&key, &["get", "app.env", "B"])
        .assert()
        .success()
        .stdout("${A}-$FROMENV\n");
    let run = |extra: &[&str]| {
        env.seal()
            .env("FROMENV", "env")
            .args(["exec", "-i"])
            .arg(&key.identity)
            .args(extra)
            .args(["app.env", "--", "sh", "-c", "printf '%s|%s' \"$B\" \"$C\""])
            .run_ok()
    };
    assert_eq!(run(&[]), "alpha-env|${A}");
    assert_eq!(run(&["--no-expand"]), "${A}-$FROMENV|${A}");
    let json = env
        .seal()
        .args(["export", "--to", "json", "--no-expand", "-i"])
        .arg(&key.identity)
        .arg("app.env")
        .run_ok();
    assert_eq!(parse_values(&json, "seal")["B"], "${A}-$FROMENV");
}

/// Layered files: a later file sees the names of earlier ones; a YAML
/// file's values are never expanded (nor do they define names).
#[test]
fn layered_files_and_yaml_values() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("base.env", "HOST=db.internal\nPORT=5432\n", &[&key]);
    env.sealed_for(
        "app.env",
        "URL=postgres://${HOST}:${PORT:-1}/app\n",
        &[&key],
    );
    env.sealed_for("app.yaml", "greeting: \"hello ${HOST}\"\n", &[&key]);
    let out = env
        .seal()
        .args(["export", "--to", "json", "-i"])
        .arg(&key.identity)
        .args(["base.env", "app.env", "app.yaml"])
        .run_ok();
    let got = parse_values(&out, "seal");
    assert_eq!(got["URL"], "postgres://db.internal:5432/app");
    assert_eq!(got["greeting"], "hello ${HOST}");
}

/// A `${` seal cannot read is refused, naming file, line and key, never
/// the value; nothing runs.
#[test]
fn unreadable_references_are_refused() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("app.env", "A=1\nB=hunter2${A:?required}\n", &[&key]);
    let out = env
        .seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(["app.env", "--", "sh", "-c", "echo ran"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("app.env:line 2: B: unsupported `${...}` form"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2") && out.stdout.is_empty(),
        "{stderr}"
    );
    env.seal()
        .args(["exec", "--no-expand", "-i"])
        .arg(&key.identity)
        .args(["app.env", "--", "sh", "-c", "printf %s \"$B\""])
        .assert()
        .success()
        .stdout("hunter2${A:?required}");
}
