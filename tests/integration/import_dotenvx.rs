//! `seal import` of dotenvx files made by the real dotenvx (npm
//! `@dotenvx/dotenvx`) at test time: every value equals what `dotenvx get`
//! gives, the layout is kept, and seal's decrypt, get, exec and export work
//! on the result. Unhappy paths change nothing and show no secret.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{tool, Env, Key, Policy, RunOk};

/// A file with the layouts dotenvx encrypts: comments, `export`, quoting of
/// each kind, a multi-line value, an empty value, a comment right after an
/// unquoted value, escapes, a `$` kept literal and one expanded.
const PRODUCTION: &str = r#"# production settings
HELLO=world
export QUOTED="quoted value" # trailing comment
MULTI="-----BEGIN KEY-----
abc/def+ghi=
-----END KEY-----"
SINGLE='pa$$word stays'

EMPTY=
HASH=x#comment
ESCAPED="tab\tnew\nline \"q\" back\\slash"
GREETING="${HELLO} there"
"#;

/// PRODUCTION as seal reads it after the import: dotenvx's header gone,
/// every value where it was, `HASH`'s comment kept a comment. dotenvx
/// reads `\t` and `\n` in double quotes as a tab and a line break and keeps
/// other backslashes, which seal's double quotes then escape. (`{TAB}` is a
/// tab.)
const PRODUCTION_PLAIN: &str = r#"# production settings
HELLO=world
export QUOTED="quoted value" # trailing comment
MULTI="-----BEGIN KEY-----
abc/def+ghi=
-----END KEY-----"
SINGLE='pa$$word stays'

EMPTY=
HASH=x #comment
ESCAPED="tab{TAB}new
line \\\"q\\\" back\\\\slash"
GREETING="${HELLO} there"
"#;

const STAGING: &str = "API_KEY=staging-secret\nDEBUG=true\n";

/// dotenvx run in the test's directory with nothing of the machine's
/// environment but PATH, and a private HOME.
fn dotenvx(env: &Env) -> std::process::Command {
    let mut cmd = tool("dotenvx");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.path("home"))
        .current_dir(env.dir.path());
    cmd
}

/// Write `text` to `name` and encrypt it with `dotenvx encrypt -f NAME`
/// (which adds its private key to `.env.keys`).
fn dotenvx_encrypt(env: &Env, name: &str, text: &str) {
    env.write(name, text);
    dotenvx(env).args(["encrypt", "-f", name]).output_ok();
    assert!(env.read(name).contains("encrypted:"), "{}", env.read(name));
}

/// What `dotenvx get` gives for the file (values expanded), without its
/// public key.
fn dotenvx_values(env: &Env, name: &str) -> BTreeMap<String, String> {
    let out = dotenvx(env)
        .args(["get", "-f", name, "--format", "json"])
        .run_ok();
    let mut map = json_map(&out);
    map.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
    map
}

/// The private key `name` in `.env.keys`.
fn private_key(env: &Env, name: &str) -> String {
    let keys = env.read(".env.keys");
    keys.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in .env.keys:\n{keys}"))
        .trim_matches('"')
        .to_owned()
}

fn json_map(text: &str) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    v.as_object()
        .expect("a JSON object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
        .collect()
}

/// `seal` without any dotenvx key of the machine's environment, so that
/// each test gives exactly the keys it means to.
fn seal(env: &Env) -> assert_cmd::Command {
    let mut cmd = env.seal();
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DOTENV_") {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// A test directory with a seal key and a `.seal.yaml` rule for `.env*`.
fn setup() -> (Env, Key) {
    let env = Env::new();
    let key = env.keygen("k");
    env.write_policy(&Policy::new().recipient("k", &key).rule(".env*", &["k"]));
    (env, key)
}

fn seal_export(env: &Env, key: &Key, name: &str) -> BTreeMap<String, String> {
    json_map(&env.seal_as(key, &["export", name, "--to", "json"]).run_ok())
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn production_and_staging_with_keys_from_env_keys() {
    let (env, key) = setup();
    dotenvx_encrypt(&env, ".env.production", PRODUCTION);
    dotenvx_encrypt(&env, ".env.staging", STAGING);
    let want_production = dotenvx_values(&env, ".env.production");
    let want_staging = dotenvx_values(&env, ".env.staging");
    assert_eq!(want_production["GREETING"], "world there");

    let out = seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .output_ok();
    let note = stderr(&out);
    assert!(
        note.contains(
            "8 dotenvx values opened with the key from .env.keys (DOTENV_PRIVATE_KEY_PRODUCTION)"
        ),
        "{note}"
    );
    assert!(
        note.contains("DOTENV_PUBLIC_KEY_PRODUCTION (line 5)"),
        "{note}"
    );
    seal(&env)
        .args(["import", "--in-place", ".env.staging"])
        .output_ok();

    // Sealed for the rule's recipient; nothing of dotenvx is left.
    let sealed = env.read(".env.production");
    assert!(!sealed.contains("encrypted:") && !sealed.contains("DOTENV_PUBLIC_KEY"));
    assert!(sealed.contains(&key.public));
    assert_eq!(
        env.decrypt(".env.production", &key),
        PRODUCTION_PLAIN.replace("{TAB}", "\t")
    );

    assert_eq!(seal_export(&env, &key, ".env.production"), want_production);
    assert_eq!(seal_export(&env, &key, ".env.staging"), want_staging);
    for (name, value) in &want_production {
        if name == "GREETING" {
            continue; // get shows the value as written, unexpanded
        }
        let got = env
            .seal_as(&key, &["get", ".env.production", name])
            .run_ok();
        assert_eq!(got.strip_suffix('\n').unwrap_or(&got), value, "{name}");
    }
    let exec = env
        .seal()
        .arg("exec")
        .arg("-i")
        .arg(&key.identity)
        .args([
            ".env.production",
            "--",
            "sh",
            "-c",
            "printf %s \"$MULTI|$GREETING\"",
        ])
        .run_ok();
    assert_eq!(exec, format!("{}|world there", want_production["MULTI"]));
}

#[test]
fn key_from_the_environment_and_output_elsewhere() {
    let (env, key) = setup();
    dotenvx_encrypt(&env, ".env.production", PRODUCTION);
    let want = dotenvx_values(&env, ".env.production");
    let private = private_key(&env, "DOTENV_PRIVATE_KEY_PRODUCTION");
    std::fs::remove_file(env.path(".env.keys")).unwrap();
    let before = env.read(".env.production");

    let out = seal(&env)
        .args(["import", ".env.production", "-o", ".env.sealed"])
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", &private)
        .output_ok();
    assert!(
        stderr(&out).contains("$DOTENV_PRIVATE_KEY_PRODUCTION"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read(".env.production"), before, "-o leaves FILE alone");
    assert_eq!(seal_export(&env, &key, ".env.sealed"), want);
    assert!(!stderr(&out).contains(&private));
}

#[test]
fn dot_env_uses_dotenv_private_key_and_stdout_with_recipient() {
    let env = Env::new();
    let key = env.keygen("k");
    dotenvx_encrypt(&env, ".env", STAGING);
    let want = dotenvx_values(&env, ".env");
    let private = private_key(&env, "DOTENV_PRIVATE_KEY");
    std::fs::remove_file(env.path(".env.keys")).unwrap();

    // No .seal.yaml: -r names the recipient; the sealed file goes to stdout.
    let sealed = seal(&env)
        .args(["import", "-r", &key.public, ".env"])
        .env("DOTENV_PRIVATE_KEY", &private)
        .run_ok();
    env.write("out.env", &sealed);
    assert_eq!(seal_export(&env, &key, "out.env"), want);
}

#[test]
fn a_wrong_key_is_refused_and_nothing_changes() {
    let (env, key) = setup();
    dotenvx_encrypt(&env, ".env.production", PRODUCTION);
    dotenvx_encrypt(&env, ".env.staging", STAGING);
    let staging_key = private_key(&env, "DOTENV_PRIVATE_KEY_STAGING");
    std::fs::remove_file(env.path(".env.keys")).unwrap();
    let before = env.read(".env.production");

    let out = seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", &staging_key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the private key from $DOTENV_PRIVATE_KEY_PRODUCTION is not the key of .env.production: it does not match DOTENV_PUBLIC_KEY_PRODUCTION"),
        "{err}"
    );
    assert!(!err.contains(&staging_key));
    assert_eq!(env.read(".env.production"), before);
    let _ = key;
}

#[test]
fn a_tampered_value_names_its_line_and_nothing_changes() {
    let (env, _key) = setup();
    dotenvx_encrypt(&env, ".env.production", PRODUCTION);
    let text = env.read(".env.production");
    let (line_no, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("SINGLE="))
        .unwrap();
    // Change one base64 character in the middle of the ciphertext.
    let at = line.len() / 2;
    let c = line.as_bytes()[at];
    let swapped = if c == b'A' { 'B' } else { 'A' };
    let tampered_line = format!("{}{swapped}{}", &line[..at], &line[at + 1..]);
    let tampered = text.replace(line, &tampered_line);
    env.write(".env.production", &tampered);

    let out = seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            ".env.production:{}: SINGLE: the encrypted value",
            line_no + 1
        )),
        "{err}"
    );
    assert!(err.contains("changed or damaged"), "{err}");
    assert!(!err.contains("pa$$word"));
    assert_eq!(env.read(".env.production"), tampered);
}

#[test]
fn no_key_names_where_it_looked() {
    let (env, _key) = setup();
    dotenvx_encrypt(&env, ".env.production", STAGING);
    std::fs::remove_file(env.path(".env.keys")).unwrap();
    let out = seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no dotenvx private key for .env.production: looked for $DOTENV_PRIVATE_KEY_PRODUCTION, $DOTENV_PRIVATE_KEY and DOTENV_PRIVATE_KEY_PRODUCTION, DOTENV_PRIVATE_KEY in .env.keys"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_dotenvx_or_outputs_that_are_not_dotenv() {
    let (env, _key) = setup();
    env.write(".env.plain", "A=1\n");
    let out = seal(&env).args(["import", ".env.plain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a file seal can import"),
        "{}",
        stderr(&out)
    );

    dotenvx_encrypt(&env, ".env.production", STAGING);
    let out = seal(&env)
        .args(["import", ".env.production", "-o", "out.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("imports as dotenv"),
        "{}",
        stderr(&out)
    );
    assert!(!env.path("out.yaml").exists());
}

/// A line dotenvx reads but seal's dotenv does not is named by its line in
/// the dotenvx file (below the dropped header), and nothing is written.
#[test]
fn a_line_seal_cannot_hold_is_named_in_the_dotenvx_file() {
    let (env, _key) = setup();
    dotenvx_encrypt(&env, ".env.production", "A=1\nB-C=2\n");
    let text = env.read(".env.production");
    let line = 1 + text.lines().position(|l| l.starts_with("B-C=")).unwrap();
    let out = seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!(".env.production:{line}: ")), "{err}");
    assert_eq!(env.read(".env.production"), text);
}

/// `dotenvx encrypt -fk keys/.env.keys` keeps the key elsewhere and says so
/// on the public key line (`# -fk ../keys/.env.keys`): seal looks there,
/// and the file sits in a subdirectory under its own rule.
#[test]
fn the_keys_file_dotenvx_was_told_to_use() {
    let env = Env::new();
    let key = env.keygen("k");
    env.write_policy(&Policy::new().recipient("k", &key).rule("app/.env*", &["k"]));
    env.write("app/.env.ci", STAGING);
    std::fs::create_dir_all(env.path("keys")).unwrap();
    dotenvx(&env)
        .args(["encrypt", "-f", "app/.env.ci", "-fk", "keys/.env.keys"])
        .output_ok();
    assert!(env.read("app/.env.ci").contains("# -fk ../keys/.env.keys"));
    let want = dotenvx(&env)
        .args([
            "get",
            "-f",
            "app/.env.ci",
            "-fk",
            "keys/.env.keys",
            "--format",
            "json",
        ])
        .run_ok();
    let mut want = json_map(&want);
    want.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));

    let out = seal(&env)
        .args(["import", "--in-place", "app/.env.ci"])
        .output_ok();
    assert!(
        stderr(&out).contains("app/../keys/.env.keys (DOTENV_PRIVATE_KEY_CI)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(seal_export(&env, &key, "app/.env.ci"), want);
}

/// The SOPS-only flags mean nothing for a dotenvx file: refused, not ignored.
#[test]
fn sops_flags_are_refused_for_dotenvx_files() {
    let (env, key) = setup();
    dotenvx_encrypt(&env, ".env.production", STAGING);
    let before = env.read(".env.production");
    for extra in [
        &["--ignore-mac"][..],
        &["-i", key.identity.to_str().unwrap()][..],
    ] {
        let out = seal(&env)
            .args(["import", "--in-place", ".env.production"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(
            stderr(&out).contains("are for SOPS files"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(env.read(".env.production"), before);
}

/// A CRLF file keeps its line endings; a value dotenvx read across lines
/// (it reads CRLF as LF) is still the same value.
#[test]
fn crlf_files_keep_their_line_endings() {
    let (env, key) = setup();
    dotenvx_encrypt(
        &env,
        ".env.production",
        "A=1\r\nB=\"two\r\nlines\"\r\n# c\r\nC=x\r\n",
    );
    let want = dotenvx_values(&env, ".env.production");
    assert_eq!(want["B"], "two\nlines");
    seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .output_ok();
    assert_eq!(
        env.decrypt(".env.production", &key),
        "A=1\r\nB=\"two\nlines\"\r\n# c\r\nC=x\r\n"
    );
    assert_eq!(seal_export(&env, &key, ".env.production"), want);
}

/// Standard input has no directory to find `.env.keys` in: refused.
#[test]
fn standard_input_is_refused_for_dotenvx() {
    let (env, _key) = setup();
    dotenvx_encrypt(&env, ".env.production", STAGING);
    let out = seal(&env)
        .args(["import", "--format", "dotenv", "-"])
        .write_stdin(env.read(".env.production"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not standard input"),
        "{}",
        stderr(&out)
    );
}

/// Values `dotenvx set` encrypted, quoted as dotenvx chooses, beside a
/// plain value it left alone: quotes, `$NAME` from the environment, `#`,
/// a backslash, a line break and a leading blank all arrive intact.
#[test]
fn values_dotenvx_set_wrote() {
    let (env, key) = setup();
    env.write(".env.production", "PLAIN=kept as written\n");
    for (name, value) in [
        ("TRICKY", "it's \"q\" $HOME #x \\ end"),
        ("PEM", "l1\nl2"),
        ("LEAD", " lead"),
    ] {
        dotenvx(&env)
            .args(["set", name, value, "-f", ".env.production"])
            .output_ok();
    }
    let want = dotenvx_values(&env, ".env.production");
    assert_eq!(want["PLAIN"], "kept as written");
    assert!(want["TRICKY"].ends_with("#x \\ end") && !want["TRICKY"].contains('$'));
    let out = seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .env("HOME", env.path("home"))
        .output_ok();
    assert_eq!(seal_export(&env, &key, ".env.production"), want);
    // The value dotenvx kept in clear is sealed too, and seal says so.
    assert!(
        stderr(&out)
            .contains("sealed too, as seal seals every value: PLAIN (dotenvx kept it in clear)"),
        "{}",
        stderr(&out)
    );
    assert!(!env.read(".env.production").contains("kept as written"));
}

/// With `encrypt:` patterns in the rule, the rule decides what is sealed,
/// as for `seal encrypt`: a value it does not name stays in clear.
#[test]
fn the_rules_encrypt_patterns_decide() {
    let env = Env::new();
    let key = env.keygen("k");
    env.write_policy(
        &Policy::new()
            .recipient("k", &key)
            .rule(".env*", &["k"])
            .encrypt(&["*_KEY"]),
    );
    dotenvx_encrypt(&env, ".env.production", "API_KEY=s3cret\nREGION=eu\n");
    let want = dotenvx_values(&env, ".env.production");
    seal(&env)
        .args(["import", "--in-place", ".env.production"])
        .output_ok();
    let sealed = env.read(".env.production");
    assert!(
        sealed.contains("REGION=eu\n") && !sealed.contains("s3cret"),
        "{sealed}"
    );
    assert_eq!(seal_export(&env, &key, ".env.production"), want);
}
