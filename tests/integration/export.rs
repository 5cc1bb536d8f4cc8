//! `seal export`: each format read back by a real consumer (PyYAML for the
//! manifest, sh, bash and direnv for `shell`, dotenvx and seal for
//! `dotenv`, the files themselves for compose-secrets, the documented
//! parsing rules of docker's env-file and `$GITHUB_ENV`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::{tool, Env, Key, RunOk};

/// Values that break naive quoting: quotes, line breaks (trailing ones
/// too), `$`, backticks, backslashes, unicode, YAML's extra line breaks.
const TRICKY: &[(&str, &str)] = &[
    ("PLAIN", "hunter2"),
    ("QUOTES", "it's \"quoted\" ''"),
    ("LINES", "line 1\nline 2\n\n"),
    ("DOLLAR", "$HOME ${PATH} $(id) `id` \\ \\n"),
    ("UNICODE", "pâss wörd ✓ 秘密 \u{2028}\u{85}\u{feff}"),
    ("EMPTY", ""),
    ("SPACES", "  padded  "),
    ("TAB", "a\tb"),
];

fn tricky_yaml() -> String {
    let mut s = String::from("tricky:\n");
    for (k, v) in TRICKY {
        // JSON escapes are YAML's too; the characters YAML 1.1 reads as
        // line breaks or a BOM are escaped so no parser folds them.
        let quoted = serde_json::to_string(v)
            .unwrap()
            .replace('\u{2028}', "\\u2028")
            .replace('\u{85}', "\\u0085")
            .replace('\u{feff}', "\\ufeff");
        s.push_str(&format!("  {k}: {quoted}\n"));
    }
    s
}

/// A sealed YAML file holding [`TRICKY`] under `tricky`, so names are
/// `tricky_NAME`.
fn setup() -> (Env, Key) {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("app.yaml", &tricky_yaml(), &[&key]);
    (env, key)
}

fn want() -> BTreeMap<String, String> {
    TRICKY
        .iter()
        .map(|(k, v)| (format!("tricky_{k}"), v.to_string()))
        .collect()
}

fn export(env: &Env, key: &Key, args: &[&str]) -> assert_cmd::assert::Assert {
    env.seal()
        .args(["export", "-i"])
        .arg(&key.identity)
        .args(args)
        .assert()
}

fn export_ok(env: &Env, key: &Key, args: &[&str]) -> String {
    String::from_utf8(export(env, key, args).success().get_output().stdout.clone()).unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// A program that prints the environment's `tricky_*` variables as JSON of
/// hex bytes: exact bytes, whatever they are.
const DUMP_ENV: &str = "import os, json; print(json.dumps({k.decode(): v.hex() for k, v in os.environb.items() if k.startswith(b'tricky_')}))";

fn hex_of(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| {
            let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
            (k.clone(), hex)
        })
        .collect()
}

fn json_map(text: &str) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// Naming is `seal exec`'s: the JSON export is exactly the environment
/// exec gives a command, with `--upper`, `--prefix`, `--only` and layers.
#[test]
fn names_and_values_are_those_seal_exec_injects() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for(
        "app.yaml",
        "database:\n  password: hunter2\n  port: 5432\nkeys:\n  - first\n  - second\n",
        &[&key],
    );
    env.sealed_for("base.env", "A=1\nB=2\n", &[&key]);
    env.sealed_for("override.env", "B=3\nC=4\n", &[&key]);
    let flags = ["--upper", "--prefix", "app_", "--only", "database"];
    let mut args = vec!["--to", "json"];
    args.extend(flags);
    args.push("app.yaml");
    let json = json_map(&export_ok(&env, &key, &args));
    assert_eq!(
        json,
        BTreeMap::from([
            ("APP_DATABASE_PASSWORD".into(), "hunter2".into()),
            ("APP_DATABASE_PORT".into(), "5432".into())
        ])
    );
    let exec_env = env
        .seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(flags)
        .args(["app.yaml", "--", "python3", "-c"])
        .arg("import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('APP_')}))")
        .run_ok();
    assert_eq!(json_map(&exec_env), json);
    let layered = json_map(&export_ok(
        &env,
        &key,
        &["--to", "json", "base.env", "override.env"],
    ));
    let order: Vec<_> = layered.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(order, ["A=1", "B=3", "C=4"]);
}

#[test]
fn collisions_are_errors_naming_both_paths() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("app.yaml", "db:\n  url: a\ndb_url: b\n", &[&key]);
    let a = export(
        &env,
        &key,
        &["--to", "k8s-secret", "--name", "app", "app.yaml"],
    )
    .failure();
    let err = stderr(&a);
    assert!(
        err.contains("app.yaml:db.url and app.yaml:db_url both become the variable db_url"),
        "{err}"
    );
    assert!(a.get_output().stdout.is_empty());
    // A key no name can be made of is refused, naming its path.
    env.sealed_for("spaced.yaml", "my key: v\n", &[&key]);
    let a = export(
        &env,
        &key,
        &["--to", "k8s-secret", "--name", "app", "spaced.yaml"],
    )
    .failure();
    assert!(
        stderr(&a).contains("spaced.yaml:/my key: \"my key\" is not a usable"),
        "{}",
        stderr(&a)
    );
}

/// The manifest read by a YAML parser (PyYAML): the Secret's fields, and
/// `data` decoding back to every byte; `stringData` as plain strings.
#[test]
fn k8s_secret_reads_back_through_a_yaml_parser() {
    let (env, key) = setup();
    let to_json = "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let manifest = export_ok(
        &env,
        &key,
        &[
            "--to",
            "k8s-secret",
            "--name",
            "app-secrets",
            "--namespace",
            "prod",
            "--label",
            "app.kubernetes.io/name=web",
            "--label",
            "tier=",
            "--only",
            "tricky",
            "app.yaml",
        ],
    );
    let path = env.write("secret.yaml", &manifest);
    let doc: Value =
        serde_json::from_str(&tool("python3").args(["-c", to_json]).arg(&path).run_ok()).unwrap();
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Secret");
    assert_eq!(doc["type"], "Opaque");
    assert_eq!(doc["metadata"]["name"], "app-secrets");
    assert_eq!(doc["metadata"]["namespace"], "prod");
    assert_eq!(doc["metadata"]["labels"]["app.kubernetes.io/name"], "web");
    assert_eq!(doc["metadata"]["labels"]["tier"], "");
    assert!(doc.get("stringData").is_none());
    let decode = "import sys, json, yaml, base64; d = yaml.safe_load(open(sys.argv[1]))['data']; print(json.dumps({k: base64.b64decode(v).hex() for k, v in d.items()}))";
    let decoded = json_map(&tool("python3").args(["-c", decode]).arg(&path).run_ok());
    assert_eq!(decoded, hex_of(&want()));

    let manifest = export_ok(
        &env,
        &key,
        &[
            "--to",
            "k8s-secret",
            "--name",
            "app",
            "--string-data",
            "--only",
            "tricky",
            "app.yaml",
        ],
    );
    let path = env.write("string.yaml", &manifest);
    let strings = "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['stringData']))";
    let got = json_map(&tool("python3").args(["-c", strings]).arg(&path).run_ok());
    assert_eq!(got, want());
}

#[test]
fn k8s_secret_flags_are_checked() {
    let (env, key) = setup();
    for (args, expect) in [
        (vec!["--to", "k8s-secret", "app.yaml"], "needs --name"),
        (
            vec!["--to", "k8s-secret", "--name", "App_1", "app.yaml"],
            "not a valid Kubernetes object name",
        ),
        (
            vec![
                "--to",
                "k8s-secret",
                "--name",
                "a",
                "--namespace",
                "a.b",
                "app.yaml",
            ],
            "not a valid Kubernetes namespace",
        ),
        (
            vec![
                "--to",
                "k8s-secret",
                "--name",
                "a",
                "--label",
                "novalue",
                "app.yaml",
            ],
            "expected K=V",
        ),
        (
            vec![
                "--to",
                "k8s-secret",
                "--name",
                "a",
                "--label",
                "k=a b",
                "app.yaml",
            ],
            "not a valid Kubernetes label",
        ),
        (
            vec!["--to", "json", "--name", "a", "app.yaml"],
            "--name goes with --to k8s-secret",
        ),
        (
            vec!["--to", "json", "--dir", "d", "app.yaml"],
            "--dir goes with --to compose-secrets",
        ),
        (
            vec!["--to", "compose-secrets", "app.yaml"],
            "needs --dir DIR",
        ),
    ] {
        let a = export(&env, &key, &args).code(2);
        assert!(stderr(&a).contains(expect), "{args:?}: {}", stderr(&a));
    }
}

/// `eval "$(seal export --to shell …)"` in sh and bash gives back every
/// byte.
#[test]
fn shell_reads_back_exactly_in_sh_and_bash() {
    let (env, key) = setup();
    let out = export_ok(
        &env,
        &key,
        &["--to", "shell", "--only", "tricky", "app.yaml"],
    );
    env.write("exported.sh", &out);
    for shell in ["sh", "bash"] {
        let got = tool(shell)
            .current_dir(env.path(""))
            .args([
                "-c",
                &format!("eval \"$(cat exported.sh)\" && exec python3 -c \"{DUMP_ENV}\""),
            ])
            .run_ok();
        assert_eq!(json_map(&got), hex_of(&want()), "{shell}");
    }
    // A name a shell cannot hold is refused, naming it.
    env.sealed_for("dots.env", "a.b=1\n", &[&key]);
    let a = export(&env, &key, &["--to", "shell", "dots.env"]).failure();
    assert!(
        stderr(&a).contains("\"a.b\" is not a shell variable name"),
        "{}",
        stderr(&a)
    );
}

/// The real direnv, through an `.envrc` that evals seal's output.
#[test]
fn shell_through_direnv() {
    let (env, key) = setup();
    let seal = assert_cmd::cargo::cargo_bin("seal");
    let project = env.path("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::copy(env.path("app.yaml"), project.join("app.yaml")).unwrap();
    env.write(
        "project/.envrc",
        &format!(
            "eval \"$('{}' export --to shell -i '{}' --only tricky app.yaml)\"\n",
            seal.display(),
            key.identity.display()
        ),
    );
    let direnv = |args: &[&str]| {
        let mut cmd = tool("direnv");
        cmd.current_dir(&project)
            .env("HOME", env.path("home"))
            .env("XDG_CONFIG_HOME", env.path("home/.config"))
            .env("XDG_DATA_HOME", env.path("home/.local/share"))
            .env("XDG_CACHE_HOME", env.path("home/.cache"))
            .env_remove("DIRENV_DIR")
            .env_remove("DIRENV_FILE")
            .env_remove("DIRENV_DIFF")
            .env_remove("DIRENV_WATCHES")
            .args(args);
        cmd
    };
    direnv(&["allow", "."]).output_ok();
    let got = direnv(&["exec", ".", "python3", "-c", DUMP_ENV]).run_ok();
    assert_eq!(json_map(&got), hex_of(&want()));
}

/// Docker secrets: one 0600 file per value in a 0700 directory, each
/// byte for byte the value, and a compose snippet naming them.
#[test]
fn compose_secrets_files_byte_for_byte() {
    let (env, key) = setup();
    let snippet = export_ok(
        &env,
        &key,
        &[
            "--to",
            "compose-secrets",
            "--dir",
            "secrets",
            "--service",
            "web",
            "--only",
            "tricky",
            "app.yaml",
        ],
    );
    let dir = env.path("secrets");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o700);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, want().keys().cloned().collect::<Vec<_>>());
    for (name, value) in want() {
        assert_eq!(
            std::fs::read(dir.join(&name)).unwrap(),
            value.as_bytes(),
            "{name}"
        );
        assert_eq!(mode(&dir.join(&name)), 0o600);
    }
    // The snippet, read by a YAML parser: secrets, their files, NAME_FILE.
    let path = env.write("compose.yaml", &snippet);
    let to_json = "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let doc: Value =
        serde_json::from_str(&tool("python3").args(["-c", to_json]).arg(&path).run_ok()).unwrap();
    let web = &doc["services"]["web"];
    assert_eq!(web["secrets"][0], "tricky_PLAIN");
    assert_eq!(
        web["environment"]["tricky_PLAIN_FILE"],
        "/run/secrets/tricky_PLAIN"
    );
    assert_eq!(
        doc["secrets"]["tricky_PLAIN"]["file"],
        "./secrets/tricky_PLAIN"
    );
    assert!(!snippet.contains("hunter2"));
    // Again into the same (private) directory: files replaced, still 0600.
    env.sealed_for("new.yaml", "tricky:\n  PLAIN: changed\n", &[&key]);
    export_ok(
        &env,
        &key,
        &["--to", "compose-secrets", "--dir", "secrets", "new.yaml"],
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("tricky_PLAIN")).unwrap(),
        "changed"
    );
    assert_eq!(mode(&dir.join("tricky_PLAIN")), 0o600);
}

#[test]
fn compose_secrets_refuses_loose_or_linked_directories() {
    let (env, key) = setup();
    let loose = env.path("loose");
    std::fs::create_dir(&loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
    let a = export(
        &env,
        &key,
        &["--to", "compose-secrets", "--dir", "loose", "app.yaml"],
    )
    .failure();
    assert!(
        stderr(&a).contains("loose: has mode 0755"),
        "{}",
        stderr(&a)
    );
    let private = env.path("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&private, env.path("link")).unwrap();
    let a = export(
        &env,
        &key,
        &["--to", "compose-secrets", "--dir", "link", "app.yaml"],
    )
    .failure();
    assert!(
        stderr(&a).contains("link: is a symbolic link"),
        "{}",
        stderr(&a)
    );
    env.write("file", "x");
    export(
        &env,
        &key,
        &["--to", "compose-secrets", "--dir", "file", "app.yaml"],
    )
    .failure();
    // Nothing was written anywhere.
    assert_eq!(std::fs::read_dir(&loose).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&private).unwrap().count(), 0);
}

/// `$GITHUB_ENV` read by the runner's documented rule: `NAME<<DELIM`, then
/// lines up to one equal to DELIM, joined with `\n`.
fn parse_github_env(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (name, delim) = line.split_once("<<").expect("NAME<<DELIM");
        let mut value = Vec::new();
        loop {
            let l = lines.next().expect("the delimiter line");
            if l == delim {
                break;
            }
            value.push(l);
        }
        out.insert(name.to_owned(), value.join("\n"));
    }
    out
}

#[test]
fn github_env_by_its_documented_rule() {
    let env = Env::new();
    let key = env.keygen("k");
    let mut yaml = tricky_yaml();
    yaml.push_str("  DELIMITERS: \"ghadelimiter_\\nEOF\\nghadelimiter_0\\n\"\n");
    env.sealed_for("app.yaml", &yaml, &[&key]);
    let out = export_ok(
        &env,
        &key,
        &["--to", "github-env", "--only", "tricky", "app.yaml"],
    );
    let mut expected = want();
    expected.insert(
        "tricky_DELIMITERS".into(),
        "ghadelimiter_\nEOF\nghadelimiter_0\n".into(),
    );
    assert_eq!(parse_github_env(&out), expected);
    // Each block has its own delimiter.
    let delims: std::collections::BTreeSet<_> = out
        .lines()
        .filter_map(|l| l.split_once("<<").map(|(_, d)| d))
        .collect();
    assert_eq!(delims.len(), expected.len());
}

/// docker's env-file rule: `NAME=VALUE` per line, the value literal to the
/// end of the line; a value with a line break is refused, naming its key.
#[test]
fn docker_env_by_its_rule_and_refuses_line_breaks() {
    let (env, key) = setup();
    let a = export(
        &env,
        &key,
        &["--to", "docker-env", "--only", "tricky", "app.yaml"],
    )
    .failure();
    assert!(
        stderr(&a).contains("tricky_LINES: the value has a line break"),
        "{}",
        stderr(&a)
    );
    assert!(!stderr(&a).contains("line 1") && a.get_output().stdout.is_empty());
    let out = export_ok(
        &env,
        &key,
        &[
            "--to",
            "docker-env",
            "--only",
            "tricky.PLAIN",
            "--only",
            "tricky.QUOTES",
            "--only",
            "tricky.DOLLAR",
            "--only",
            "tricky.SPACES",
            "--only",
            "tricky.EMPTY",
            "app.yaml",
        ],
    );
    let parsed: BTreeMap<String, String> = out
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let mut expected = want();
    expected.retain(|k, _| {
        ["PLAIN", "QUOTES", "DOLLAR", "SPACES", "EMPTY"]
            .iter()
            .any(|n| k.ends_with(n))
    });
    assert_eq!(parsed, expected);
}

/// The dotenv output read back to the same values by seal (sealed, then
/// exported as JSON: expansion does not apply twice) and, for every value
/// without a `'` (written single-quoted), by dotenvx.
#[test]
fn dotenv_reads_back_through_dotenvx_and_seal() {
    let (env, key) = setup();
    let out = export_ok(
        &env,
        &key,
        &["--to", "dotenv", "--only", "tricky", "app.yaml"],
    );
    env.sealed_for("again.env", &out, &[&key]);
    let json = export_ok(&env, &key, &["--to", "json", "again.env"]);
    assert_eq!(json_map(&json), want());

    let mut single = want();
    single.retain(|_, v| !v.contains('\''));
    let mut args = vec!["--to", "dotenv"];
    let paths: Vec<String> = single.keys().map(|k| k.replacen('_', ".", 1)).collect();
    for p in &paths {
        args.extend(["--only", p]);
    }
    args.push("app.yaml");
    let plain = env.write("exported.env", &export_ok(&env, &key, &args));
    let dotenvx = tool("dotenvx")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["get", "-f"])
        .arg(&plain)
        .run_ok();
    assert_eq!(json_map(&dotenvx), single);
    assert!(single.contains_key("tricky_DOLLAR") && single.contains_key("tricky_LINES"));
}

/// `-o` writes a 0600 file atomically, also over a looser existing one.
#[test]
fn output_file_is_private() {
    let (env, key) = setup();
    let out = env.write("out.json", "old");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    export(&env, &key, &["--to", "json", "-o", "out.json", "app.yaml"])
        .success()
        .stdout("");
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(json_map(&env.read("out.json")), want());
    let names = env.files();
    assert!(!names.iter().any(|n| n.contains("seal-tmp")), "{names:?}");
}

#[test]
fn variables_that_change_how_programs_start_are_refused_unless_allowed() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("app.env", "LD_PRELOAD=/tmp/evil.so\nTOKEN=abc\n", &[&key]);
    let a = export(&env, &key, &["--to", "json", "app.env"]).failure();
    let err = stderr(&a);
    assert!(
        err.contains("LD_PRELOAD") && err.contains("app.env"),
        "{err}"
    );
    assert!(err.contains("--allow-var LD_PRELOAD"), "{err}");
    assert!(a.get_output().stdout.is_empty());
    let out = export_ok(
        &env,
        &key,
        &["--to", "json", "--allow-var", "LD_PRELOAD", "app.env"],
    );
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["LD_PRELOAD"], "/tmp/evil.so");
    assert_eq!(got["TOKEN"], "abc");
}
