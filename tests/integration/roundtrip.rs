use saphyr::{LoadableYamlNode, Yaml};

use crate::common::{fixture, Env, RunOk};

/// Seal `text` as `name`, check it is valid in its format and hides
/// `secrets`, then check decryption gives `text` back byte for byte.
fn round_trip(name: &str, text: &str, secrets: &[&str]) -> String {
    let env = Env::new();
    let key = env.keygen("k");
    env.write(name, text);
    let sealed = env
        .seal()
        .args(["encrypt", "-r", &key.public, name])
        .run_ok();
    // stdout mode leaves the input alone.
    assert_eq!(env.read(name), text);
    for s in secrets {
        assert!(
            !sealed.contains(s),
            "{name}: {s:?} visible in sealed output:\n{sealed}"
        );
    }
    assert!(sealed.contains("seal.v1."), "{name}: no tokens");
    still_valid(name, &sealed);
    env.write(&format!("sealed-{name}"), &sealed);
    assert_eq!(
        env.decrypt(&format!("sealed-{name}"), &key),
        text,
        "{name}: not byte-identical"
    );
    sealed
}

fn still_valid(name: &str, sealed: &str) {
    if name.ends_with(".yaml") {
        Yaml::load_from_str(sealed)
            .unwrap_or_else(|e| panic!("{name}: sealed YAML does not parse: {e:?}\n{sealed}"));
    } else if name.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(sealed)
            .unwrap_or_else(|e| panic!("{name}: sealed JSON does not parse: {e}\n{sealed}"));
    } else if name.ends_with(".toml") {
        tomllib_reads(name, sealed);
    } else {
        for item in dotenvy::from_read_iter(sealed.as_bytes()) {
            item.unwrap_or_else(|e| panic!("{name}: sealed dotenv does not parse: {e}\n{sealed}"));
        }
    }
}

/// Python's tomllib (TOML 1.0, independent of seal's parser) reads `text`.
fn tomllib_reads(name: &str, text: &str) {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, tomllib; tomllib.loads(sys.stdin.read())"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().map(|mut s| s.write_all(text.as_bytes()));
            child.wait_with_output()
        })
        .expect("python3 runs (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{name}: tomllib refuses the sealed file: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tricky_toml() {
    let sealed = round_trip(
        "tricky.toml",
        &fixture("tricky.toml"),
        &[
            "payments",
            "s3cr3t-p@ss",
            "postgres://user:pw@replica/db",
            "Roses are red",
            "C:\\Users",
            "DEAD_BEEF",
            "10.0.0.1",
            "/health",
        ],
    );
    for kept in [
        "# Service configuration",
        "   # trailing comment",
        "\"quoted key\" = \"seal.v1.",
        "site.\"google.com\" = \"seal.v1.",
        "\tpassword = \"seal.v1.",
        "\tconnection.timeout = \"seal.v1.",
        "  { x = \"seal.v1.",
        "empty_array = []\nempty_table = {}\n",
        "[[servers.checks]]\npath = \"seal.v1.",
        "[empty]\n\n[a.b.c]\n",
        "\n\n[seal]\nversion = ",
    ] {
        assert!(sealed.contains(kept), "{kept:?} lost:\n{sealed}");
    }
}

#[test]
fn tricky_yaml() {
    let sealed = round_trip(
        "tricky.yaml",
        &fixture("tricky.yaml"),
        &[
            "db.internal",
            "MIIBszCCAVmgAwIBAgIUTest",
            "shared-secret",
            "sk-live-0123456789abcdef",
            "日本語",
            "it''s me",
        ],
    );
    // Layout survives: comments, anchors, aliases, merge keys, markers.
    for kept in [
        "# inline comment",
        "&base",
        "<<: *base",
        "*tok",
        "%YAML 1.2",
        "\n...\n---\n",
        "\"quoted key\":",
        "!!str",
    ] {
        assert!(sealed.contains(kept), "{kept:?} lost:\n{sealed}");
    }
}

#[test]
fn kubernetes_yaml() {
    round_trip(
        "k8s.yaml",
        &fixture("k8s.yaml"),
        &["hunter2", "tok_live_abcdef"],
    );
}

#[test]
fn pretty_and_compact_json() {
    round_trip(
        "pretty.json",
        &fixture("pretty.json"),
        &["db.internal", "sk-live-1", "\\ud83d", "dotted key"],
    );
    round_trip(
        "compact.json",
        &fixture("compact.json"),
        &["\\u0041", "2.5e3"],
    );
}

#[test]
fn dotenv() {
    let sealed = round_trip(
        "app.env",
        &fixture("app.env"),
        &[
            "hunter2",
            "sk-live-0123456789",
            "NOT_EXPANDED",
            "line two",
            "abc\n",
            "a=b=c",
            "日本語",
        ],
    );
    assert!(sealed.contains("export DATABASE_URL=seal.v1."));
    assert!(sealed.contains("# inline comment"));
}

#[test]
fn crlf_and_missing_final_newline() {
    for (name, text) in [
        ("crlf.yaml", fixture("tricky.yaml").replace('\n', "\r\n")),
        ("crlf.json", fixture("pretty.json").replace('\n', "\r\n")),
        ("crlf.env", fixture("app.env").replace('\n', "\r\n")),
        ("crlf.toml", fixture("tricky.toml").replace('\n', "\r\n")),
        ("nofinal.toml", "a = 1\nb = 'two'".to_owned()),
        ("nofinal.yaml", "a: 1\nb: two".to_owned()),
        ("nofinal.json", "{\"a\": 1}".to_owned()),
        ("nofinal.env", "A=1\nB=two".to_owned()),
    ] {
        let sealed = round_trip(name, &text, &[]);
        if name.starts_with("crlf") {
            assert!(
                !sealed.replace("\r\n", "").contains('\n'),
                "{name}: mixed line endings:\n{sealed:?}"
            );
        }
    }
}

#[test]
fn yaml_block_scalars_and_flow_collections() {
    let text = "a: |2\n   indented\n  text\nb: >+\n  folded\n\n\nc: {x: [1, {y: \"z\"}], w: ''}\nd: [\"q\", r, 3.5]\ne: |-\n  strip\nf: 'multi\n  line'\n";
    round_trip("blocks.yaml", text, &["indented", "folded", "strip"]);
}

#[test]
fn sealing_again_writes_new_tokens_but_set_keeps_them() {
    let env = Env::new();
    let key = env.keygen("k");
    let sealed = env.sealed_for("a.yaml", "a: 1\nb: 2\n", &[&key]);
    let tokens: Vec<&str> = sealed.lines().filter(|l| l.contains("seal.v1.")).collect();
    assert_eq!(tokens.len(), 2);
    // An already sealed file is refused, not double-sealed.
    env.seal()
        .args(["encrypt", "--in-place", "-r", &key.public, "a.yaml"])
        .assert()
        .code(1);
    assert_eq!(env.read("a.yaml"), sealed);
}

#[test]
fn stdin_and_output_file() {
    let env = Env::new();
    let key = env.keygen("k");
    env.seal()
        .args([
            "encrypt",
            "--format",
            "json",
            "-r",
            &key.public,
            "-o",
            "out.json",
            "-",
        ])
        .write_stdin("{\"a\": \"b\"}\n")
        .run_ok();
    assert_eq!(env.decrypt("out.json", &key), "{\"a\": \"b\"}\n");
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .args(["--format", "json", "-"])
        .write_stdin(env.read("out.json"))
        .assert()
        .success()
        .stdout("{\"a\": \"b\"}\n");
}

/// `--encrypt` patterns pick the values to seal; one that picks nothing
/// (a typo, or a JSON Pointer) is warned about, since what it meant stays
/// in plaintext.
#[test]
fn encrypt_patterns_select_and_warn_when_they_select_nothing() {
    let env = Env::new();
    let key = env.keygen("k");
    env.write("s.yaml", "kind: Secret\nstringData:\n  pw: p4ss\n");
    let out = env
        .seal()
        .args(["encrypt", "-r", &key.public, "--encrypt", "stringData.*"])
        .args(["--encrypt", "/stringData/pw", "s.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sealed = String::from_utf8(out.stdout).unwrap();
    assert!(
        sealed.contains("kind: Secret") && !sealed.contains("p4ss"),
        "{sealed}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--encrypt \"/stringData/pw\" selects no value"),
        "{stderr}"
    );
    assert!(!stderr.contains("\"stringData.*\" selects"), "{stderr}");
}

#[test]
fn decrypt_to_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("a.env", "A=1\n", &[&key]);
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .args(["-o", "plain.env", "a.env"])
        .assert()
        .success();
    assert_eq!(env.read("plain.env"), "A=1\n");
    let mode = std::fs::metadata(env.path("plain.env"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // A sealed file may be group-readable; encrypting keeps its mode, and
    // its plaintext loses the group and other bits.
    let mode_of = |name: &str| {
        std::fs::metadata(env.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    std::fs::set_permissions(env.path("a.env"), std::fs::Permissions::from_mode(0o640)).unwrap();
    env.seal()
        .args(["decrypt", "--in-place", "-i"])
        .arg(&key.identity)
        .arg("a.env")
        .assert()
        .success();
    assert_eq!(env.read("a.env"), "A=1\n");
    assert_eq!(mode_of("a.env"), 0o600);
    std::fs::set_permissions(env.path("a.env"), std::fs::Permissions::from_mode(0o640)).unwrap();
    env.seal_in_place("a.env", &key);
    assert_eq!(mode_of("a.env"), 0o640);
}

/// `-o` naming something that is not a file (`/dev/stdout`, a FIFO) writes
/// into it: the atomic write's rename would replace the device or pipe with
/// a regular file (as root, even `/dev/null`).
#[test]
fn decrypt_output_into_a_device_or_a_pipe() {
    use std::os::unix::fs::FileTypeExt;
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("a.env", "A=1\n", &[&key]);
    // assert_cmd's stdout is a pipe, which /dev/stdout leads to. Through a
    // link of the test's own, so a regression replaces that link, never the
    // machine's /dev/stdout.
    let stdout = env.path("stdout");
    std::os::unix::fs::symlink("/dev/stdout", &stdout).unwrap();
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .arg("-o")
        .arg(&stdout)
        .arg("a.env")
        .assert()
        .success()
        .stdout("A=1\n");
    let fifo = env.path("out.fifo");
    assert!(crate::common::tool("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    env.seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .arg("-o")
        .arg(&fifo)
        .arg("a.env")
        .assert()
        .success();
    assert_eq!(reader.join().unwrap(), "A=1\n");
    let kind = std::fs::metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
    assert_eq!(
        env.files()
            .iter()
            .filter(|f| f.contains("seal-tmp"))
            .count(),
        0
    );
}

/// Files large enough to be decrypted on several threads round-trip, and a
/// set on one value keeps every other token.
#[test]
fn large_files_round_trip() {
    let n = 1500;
    let yaml: String = (0..n)
        .map(|i| format!("key_{i}:\n  secret: \"value {i} é\"\n  port: {i}\n"))
        .collect();
    let json = format!(
        "{{\n{}\n}}\n",
        (0..n)
            .map(|i| format!("  \"k{i}\": {{\"s\": \"v{i}\", \"n\": {i}}}"))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let dotenv: String = (0..n)
        .map(|i| format!("KEY_{i}='value {i}'\nNUM_{i}={i}\n"))
        .collect();
    for (name, text, path) in [
        ("big.yaml", yaml, "key_1499.secret"),
        ("big.json", json, "k1499.s"),
        ("big.env", dotenv, "KEY_1499"),
    ] {
        let sealed = round_trip(name, &text, &[]);
        let env = Env::new();
        let key = env.keygen("k");
        env.sealed_for(name, &text, &[&key]);
        let before = env.read(name);
        // A later time than the encrypt's, so the set value always gets
        // its own `changed` entry, however fast or slow the machine is.
        env.seal()
            .env("SEAL_TEST_NOW", "2099-01-01T00:00:00Z")
            .args(["set", "-i"])
            .arg(&key.identity)
            .args([name, path, "changed"])
            .assert()
            .success();
        let after = env.read(name);
        let changed = crate::common::changed_lines(&before, &after);
        // The token, `modified`, the value's new `changed` entry and `mac`;
        // in JSON also the `*` entry's line, which gains a comma.
        let expected = if name.ends_with(".json") { 5 } else { 4 };
        assert_eq!(changed, expected, "{name}: {changed} lines changed");
        assert!(sealed.matches("seal.v1.").count() >= 2 * n, "{name}");
    }
}
