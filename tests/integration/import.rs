//! `seal import`: SOPS files made by the real `sops` binary at test time,
//! imported, and compared value by value with what `sops decrypt` gives;
//! the sealed result must then work with seal's own commands.

use std::path::PathBuf;

use crate::common::*;

/// A SOPS setup in `env`: an age key (made by age-keygen) and an empty
/// SOPS config, so no `.sops.yaml` of the machine takes part.
struct Sops<'e> {
    env: &'e Env,
    key: Key,
    config: PathBuf,
}

impl<'e> Sops<'e> {
    fn new(env: &'e Env) -> Sops<'e> {
        let key = env.age_keygen("sops");
        let config = env.write("sops-config.yaml", "");
        Sops { env, key, config }
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = tool("sops");
        cmd.current_dir(self.env.dir.path())
            .env("SOPS_AGE_KEY_FILE", &self.key.identity)
            .arg("--config")
            .arg(&self.config);
        cmd
    }

    /// Encrypt `plain` (written as `name.plain.EXT`) with SOPS into `name`,
    /// with extra `sops encrypt` flags.
    fn encrypt(&self, name: &str, plain: &str, flags: &[&str]) -> String {
        let ext = name.rsplit('.').next().unwrap();
        let kind = match ext {
            "yaml" | "yml" => "yaml",
            "json" => "json",
            _ => "dotenv",
        };
        let source = format!("plain-{name}");
        self.env.write(&source, plain);
        let out = self
            .command()
            .args(["encrypt", "--age", &self.key.public])
            .args(["--input-type", kind, "--output-type", kind])
            .args(flags)
            .arg(&source)
            .output_ok();
        std::fs::remove_file(self.env.path(&source)).unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("ENC[AES256_GCM,"), "{text}");
        self.env.write(name, &text);
        text
    }

    /// `sops decrypt FILE`.
    fn decrypt(&self, name: &str) -> String {
        let out = self.command().args(["decrypt", name]).output_ok();
        String::from_utf8(out.stdout).unwrap()
    }

    /// `seal import ARGS` with the SOPS key in SOPS_AGE_KEY_FILE.
    fn import(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.env.seal();
        cmd.env("SOPS_AGE_KEY_FILE", &self.key.identity)
            .arg("import")
            .args(args);
        cmd
    }
}

/// Parse two YAML streams (or JSON texts) with PyYAML and compare their
/// values.
fn same_values(kind: &str, a: &str, b: &str) {
    let script = match kind {
        "json" => "import json,sys\na=json.load(open(sys.argv[1]))\nb=json.load(open(sys.argv[2]))\nprint(a==b)\nif a!=b: print(a, b, sep='\\n')",
        _ => "import yaml,sys\na=list(yaml.safe_load_all(open(sys.argv[1])))\nb=list(yaml.safe_load_all(open(sys.argv[2])))\nprint(a==b)\nif a!=b: print(a, b, sep='\\n')",
    };
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b).unwrap();
    let out = tool("python3")
        .args(["-c", script])
        .arg(&pa)
        .arg(&pb)
        .output_ok();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("True"),
        "values differ:\n{said}\n--- seal:\n{a}\n--- sops:\n{b}"
    );
}

const NESTED_YAML: &str = "\
# Service secrets
database:
  # primary
  host: db.internal
  port: 5432
  password: 'p@ss: w0rd#1'   # rotate quarterly
  ratio: 0.75
  enabled: true
  nothing: null
  empty: \"\"
  created: 2024-01-02T03:04:05Z
  note: |
    line one
    line two
  replicas:
    - name: r1
      weight: 2
    # the backup
    - name: r2
      weight: 1
tokens:
  - ghp_aaaaaaaaaaaaaaaa
  - \"12345\"
  - ünïcödé ✓
public_unencrypted:
  region: eu-west-1
  port: 443
name_unencrypted: app
";

/// Nested maps, lists, comments, every scalar type and `_unencrypted` keys:
/// after import every value is what `sops decrypt` gives, the comments are
/// plaintext again, what SOPS left in clear stays plaintext (selected out
/// by the file's encrypt patterns), and `seal get` and `seal exec` work.
#[test]
fn yaml_with_nested_maps_lists_and_comments() {
    let env = Env::new();
    let sops = Sops::new(&env);
    sops.encrypt("app.yaml", NESTED_YAML, &[]);
    let out = sops.import(&["app.yaml", "-o", "sealed.yaml"]).output_ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("app.yaml: imported from SOPS, sealed for"),
        "{stderr}"
    );
    assert!(stderr.contains("name_unencrypted"), "{stderr}");
    let sealed = env.read("sealed.yaml");
    assert!(!sealed.contains("ENC["), "{sealed}");
    assert!(!sealed.contains("sops:"), "{sealed}");
    assert!(!sealed.contains("p@ss"), "{sealed}");
    assert!(sealed.contains("name_unencrypted: app\n"), "{sealed}");
    assert!(sealed.contains("region: eu-west-1\n"), "{sealed}");
    let plain = env.decrypt("sealed.yaml", &sops.key);
    same_values("yaml", &plain, &sops.decrypt("app.yaml"));
    for comment in [
        "# Service secrets",
        "# primary",
        "# rotate quarterly",
        "# the backup",
    ] {
        assert!(plain.contains(comment), "{comment}: {plain}");
    }
    // Key order is SOPS's.
    let order: Vec<usize> = [
        "host:",
        "port:",
        "password:",
        "ratio:",
        "replicas:",
        "tokens:",
    ]
    .iter()
    .map(|k| plain.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{plain}");
    let got = env
        .seal_as(&sops.key, &["get", "sealed.yaml", "database.password"])
        .run_ok();
    assert_eq!(got.trim_end(), "p@ss: w0rd#1");
    let printed = env
        .seal()
        .env("SEAL_IDENTITY_FILE", &sops.key.identity)
        .args([
            "exec",
            "--upper",
            "sealed.yaml",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$DATABASE_NOTE\" \"$TOKENS_2\"",
        ])
        .run_ok();
    assert_eq!(printed, "line one\nline two\n|ünïcödé ✓");
    let info = env.seal().args(["info", "sealed.yaml"]).run_ok();
    assert!(info.contains("encrypts:    database, tokens\n"), "{info}");
    assert!(info.contains("3 plaintext"), "{info}");
}

/// JSON and dotenv files, with SOPS's typed values and dotenv comments.
#[test]
fn json_and_dotenv() {
    let env = Env::new();
    let sops = Sops::new(&env);
    let json = "{\n  \"api\": {\"key\": \"sk-live-123\", \"retries\": 3, \"ratio\": 1.5, \"on\": false, \"none\": null},\n  \"list\": [1, \"two\", {\"three\": 3}],\n  \"empty\": \"\",\n  \"id_unencrypted\": \"abc\"\n}\n";
    sops.encrypt("app.json", json, &[]);
    sops.import(&["app.json", "-o", "sealed.json"]).output_ok();
    let plain = env.decrypt("sealed.json", &sops.key);
    same_values("json", &plain, &sops.decrypt("app.json"));
    assert!(env
        .read("sealed.json")
        .contains("\"id_unencrypted\": \"abc\""));

    let dotenv = "# database\nDB_PASSWORD=hunter2 with spaces\nAPI_KEY=sk-123=456\nQUOTES=it's \"quoted\" $HOME\nEMPTY=\n# public\nREGION_unencrypted=eu-west-1\n";
    sops.encrypt("app.env", dotenv, &[]);
    sops.import(&["app.env", "-o", "sealed.env"]).output_ok();
    let sealed = env.read("sealed.env");
    assert!(
        sealed.contains("REGION_unencrypted=eu-west-1\n"),
        "{sealed}"
    );
    assert!(!sealed.contains("sops_"), "{sealed}");
    let plain = env.decrypt("sealed.env", &sops.key);
    assert!(plain.starts_with("# database\n"), "{plain}");
    assert!(plain.contains("# public\n"), "{plain}");
    // Values as seal hands them out, against SOPS's dotenv (KEY=VALUE, literal).
    let exported = env
        .seal_as(
            &sops.key,
            &["export", "--to", "json", "--no-expand", "sealed.env"],
        )
        .run_ok();
    let exported: serde_json::Value = serde_json::from_str(&exported).unwrap();
    for line in sops
        .decrypt("app.env")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let (k, v) = line.split_once('=').unwrap();
        assert_eq!(
            exported[k],
            serde_json::Value::String(v.replace("\\n", "\n")),
            "{k}"
        );
    }
}

/// A YAML stream: every document's values, SOPS's metadata removed from
/// each, seal's block in the last.
#[test]
fn multi_document_yaml() {
    let env = Env::new();
    let sops = Sops::new(&env);
    sops.encrypt(
        "stream.yaml",
        "a: 1\nb: {c: secret}\n---\n# second\nd: [x, y]\n---\ne: last\n",
        &[],
    );
    let expected = sops.decrypt("stream.yaml");
    sops.import(&["--in-place", "stream.yaml"]).output_ok();
    let sealed = env.read("stream.yaml");
    assert_eq!(sealed.matches("\n---\n").count(), 2, "{sealed}");
    assert!(!sealed.contains("sops:"), "{sealed}");
    let plain = env.decrypt("stream.yaml", &sops.key);
    same_values("yaml", &plain, &expected);
    let got = env
        .seal_as(&sops.key, &["get", "--document", "2", "stream.yaml", "d.1"])
        .run_ok();
    assert_eq!(got.trim_end(), "y");
}

/// `--encrypted-regex` (a Kubernetes Secret): only `data`/`stringData`
/// were encrypted; the rest stays readable under the file's patterns.
#[test]
fn encrypted_regex_keeps_the_rest_in_clear() {
    let env = Env::new();
    let sops = Sops::new(&env);
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  labels:\n    tier: web\nstringData:\n  password: s3cret\n  token: tok\ndata:\n  cert: Y2VydA==\n";
    sops.encrypt(
        "secret.yaml",
        secret,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    sops.import(&["secret.yaml", "-o", "sealed.yaml"])
        .output_ok();
    let sealed = env.read("sealed.yaml");
    assert!(sealed.contains("kind: Secret\n"), "{sealed}");
    assert!(sealed.contains("    tier: web\n"), "{sealed}");
    assert!(!sealed.contains("s3cret"), "{sealed}");
    assert!(
        sealed.contains("  encrypt:\n    - \"stringData\"\n    - \"data\"\n"),
        "{sealed}"
    );
    same_values(
        "yaml",
        &env.decrypt("sealed.yaml", &sops.key),
        &sops.decrypt("secret.yaml"),
    );
    // `seal set` keeps the selection: a new stringData value is sealed.
    env.seal_as(
        &sops.key,
        &["set", "sealed.yaml", "stringData.new", "v4lue"],
    )
    .run_ok();
    assert!(!env.read("sealed.yaml").contains("v4lue"));
}

/// A clear timestamp that is not in RFC 3339 form: SOPS hashes the time it
/// reads, as Go writes it, so the MAC still matches for both tools.
#[test]
fn clear_values_hash_as_sops_types_them() {
    let env = Env::new();
    let sops = Sops::new(&env);
    let text = sops.encrypt(
        "t.yaml",
        "when_unencrypted: 2001-12-14T21:59:43.1Z\nday_unencrypted: 2001-12-14T00:00:00Z\nmode_unencrypted: 15\nratio_unencrypted: 1\nsecret: x\n",
        &[],
    );
    let edited = text
        .replace(
            "when_unencrypted: 2001-12-14T21:59:43.1Z",
            "when_unencrypted: 2001-12-14 21:59:43.10",
        )
        .replace(
            "day_unencrypted: 2001-12-14T00:00:00Z",
            "day_unencrypted: 2001-12-14",
        )
        .replace("mode_unencrypted: 15", "mode_unencrypted: 0o17")
        .replace("ratio_unencrypted: 1\n", "ratio_unencrypted: 1.0\n");
    assert_ne!(edited, text);
    env.write("t.yaml", &edited);
    sops.decrypt("t.yaml");
    sops.import(&["t.yaml", "-o", "sealed.yaml"]).output_ok();
    let sealed = env.read("sealed.yaml");
    assert!(sealed.contains("day_unencrypted: 2001-12-14\n"), "{sealed}");
    // A clear value changed for real is caught.
    env.write(
        "t.yaml",
        &edited.replace("mode_unencrypted: 0o17", "mode_unencrypted: 0o16"),
    );
    let out = sops.import(&["t.yaml", "-o", "x.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// Identities from SOPS_AGE_KEY, `$XDG_CONFIG_HOME/sops/age/keys.txt`
/// and seal's own `-i`; without any, a clear error.
#[test]
fn identities_from_sops_and_seal_sources() {
    let env = Env::new();
    let sops = Sops::new(&env);
    sops.encrypt("a.yaml", "k: v\n", &[]);
    let key_text = std::fs::read_to_string(&sops.key.identity).unwrap();
    env.seal()
        .env("SOPS_AGE_KEY", &key_text)
        .args(["import", "a.yaml", "-o", "1.yaml"])
        .run_ok();
    env.write("home/.config/sops/age/keys.txt", &key_text);
    env.seal()
        .args(["import", "a.yaml", "-o", "2.yaml"])
        .run_ok();
    std::fs::remove_file(env.path("home/.config/sops/age/keys.txt")).unwrap();
    env.seal_as(&sops.key, &["import", "a.yaml", "-o", "3.yaml"])
        .run_ok();
    let out = env
        .seal()
        .args(["import", "a.yaml", "-o", "4.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SOPS_AGE_KEY_FILE (unset)"), "{stderr}");
    assert!(!env.path("4.yaml").exists());
    // -r seals for someone else.
    let other = env.keygen("other");
    sops.import(&["a.yaml", "-o", "5.yaml", "-r", &other.public])
        .run_ok();
    assert_eq!(env.decrypt("5.yaml", &other), "k: v\n");
}

/// Unhappy paths: each names the file (and the key path where there is
/// one), prints no value, exits 1 and changes nothing.
#[test]
fn tampered_wrong_key_pgp_only_and_malformed_files_are_refused() {
    let env = Env::new();
    let sops = Sops::new(&env);
    let text = sops.encrypt(
        "a.yaml",
        "secret: hunter2\nother: swordfish\nnote_unencrypted: hi\n",
        &[],
    );
    let refused = |name: &str, args: &[&str], needles: &[&str]| {
        let before = env.read(name);
        let out = sops.import(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{n:?} not in: {stderr}");
        }
        for secret in ["hunter2", "swordfish"] {
            assert!(!stderr.contains(secret), "{stderr}");
        }
        assert_eq!(env.read(name), before, "{name} changed");
        stderr
    };
    // A clear value changed: the MAC catches it; --ignore-mac imports.
    env.write(
        "a.yaml",
        &text.replace("note_unencrypted: hi", "note_unencrypted: ho"),
    );
    refused(
        "a.yaml",
        &["--in-place", "a.yaml"],
        &["a.yaml: SOPS's MAC does not match", "--ignore-mac"],
    );
    let out = sops
        .import(&["--ignore-mac", "a.yaml", "-o", "forced.yaml"])
        .output_ok();
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported anyway (--ignore-mac)"));
    // Two encrypted values swapped: bound to their key paths.
    let value = |k: &str| {
        let line = text.lines().find(|l| l.starts_with(k)).unwrap();
        line.split_once(": ").unwrap().1.to_owned()
    };
    let swapped = text
        .replace(&value("secret:"), "@S@")
        .replace(&value("other:"), &value("secret:"))
        .replace("@S@", &value("other:"));
    env.write("a.yaml", &swapped);
    refused(
        "a.yaml",
        &["--in-place", "a.yaml"],
        &["a.yaml: the value at secret cannot be decrypted"],
    );
    // The wrong key.
    env.write("a.yaml", &text);
    let stranger = env.keygen("stranger");
    let out = env
        .seal_as(&stranger, &["import", "a.yaml", "-o", "w.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("a.yaml: none of your identities opens this SOPS file"),
        "{stderr}"
    );
    assert!(stderr.contains(&sops.key.public), "{stderr}");
    // PGP only: the command to run first.
    let start = text.find("    age:").unwrap();
    let end = text.find("    lastmodified:").unwrap();
    let pgp = format!(
        "{}    pgp:\n        - created_at: \"2026-01-01T00:00:00Z\"\n          enc: |\n            -----BEGIN PGP MESSAGE-----\n            AAAA\n            -----END PGP MESSAGE-----\n          fp: 0123456789ABCDEF\n{}",
        &text[..start],
        &text[end..]
    );
    env.write("p.yaml", &pgp);
    refused(
        "p.yaml",
        &["p.yaml"],
        &[
            "p.yaml: its SOPS data key is held only by pgp keys",
            "sops decrypt p.yaml | seal encrypt --format yaml",
        ],
    );
    // Malformed: bad YAML, a damaged ENC value, no SOPS metadata at all.
    env.write("m.yaml", "a: [1\nsops: x\n");
    refused("m.yaml", &["m.yaml"], &["m.yaml:"]);
    env.write("d.yaml", &text.replace("type:str]", "type:bogus]"));
    refused(
        "d.yaml",
        &["d.yaml"],
        &["d.yaml: the value at secret cannot be decrypted: unknown value type"],
    );
    // A selector that matched nothing: SOPS encrypted no value.
    sops.encrypt(
        "none.json",
        "{\"a\": 1, \"b\": \"x\"}\n",
        &["--encrypted-suffix", "_secret"],
    );
    refused(
        "none.json",
        &["none.json"],
        &["none.json: SOPS left every value of the file in clear"],
    );
    env.write("plain.yaml", "a: 1\n");
    refused(
        "plain.yaml",
        &["plain.yaml"],
        &[
            "plain.yaml: not a file seal can import",
            "seal encrypt --in-place plain.yaml",
        ],
    );
}

/// `.sops.yaml` → `.seal.yaml`: rules, recipients and encrypt patterns,
/// and a list of what does not map; an existing `.seal.yaml` is kept.
#[test]
fn sops_config_becomes_seal_config() {
    let env = Env::new();
    let a = env.keygen("a");
    let b = env.keygen("b");
    env.write(
        "conf/.sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: \\.prod\\.yaml$\n    age: >-\n      {},\n      {}\n    encrypted_regex: ^(data|stringData)$\n  - path_regex: ^dev/.*$\n    age: {}\n    pgp: 0123456789ABCDEF\n  - path_regex: ^legacy/\n    kms: arn:aws:kms:eu-west-1:1:key/x\n  - key_groups:\n      - age: [{}]\n      - age: [{}]\n    shamir_threshold: 2\n",
            a.public, b.public, a.public, a.public, b.public
        ),
    );
    let out = env
        .seal()
        .args(["import", "--sops-config", "conf/.sops.yaml"])
        .output_ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "wrote conf/.seal.yaml",
        "not mapped: creation_rules[1]: PGP",
        "creation_rules[2]: no age keys",
        "key_groups (2 groups)",
        "shamir_threshold",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    let config = env.read("conf/.seal.yaml");
    assert!(
        config.contains(&format!("sops-age-1: {}\n", a.public)),
        "{config}"
    );
    assert!(config.contains("- path: \"**/*.prod.yaml\"\n    recipients: [sops-age-1, sops-age-2]\n    encrypt: [\"**.data\", \"**.stringData\"]\n"), "{config}");
    assert!(config.contains("- path: dev/**\n"), "{config}");
    // seal uses it: a prod file is sealed for both, with the selection.
    env.write("conf/app.prod.yaml", "kind: Secret\nstringData:\n  k: v\n");
    env.seal()
        .args(["encrypt", "--in-place", "conf/app.prod.yaml"])
        .run_ok();
    let sealed = env.read("conf/app.prod.yaml");
    assert!(
        sealed.contains("kind: Secret\n") && !sealed.contains("k: v"),
        "{sealed}"
    );
    assert_eq!(
        env.decrypt("conf/app.prod.yaml", &b),
        "kind: Secret\nstringData:\n  k: v\n"
    );
    // Again: .seal.yaml exists, nothing is overwritten.
    let out = env
        .seal()
        .args(["import", "--sops-config", "conf/.sops.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    assert_eq!(env.read("conf/.seal.yaml"), config);
}

/// `unencrypted_regex`, `encrypted_suffix` and `mac_only_encrypted`
/// (set through a SOPS config): the values SOPS left in clear stay so,
/// and with `mac_only_encrypted` a clear value may change without
/// failing the MAC, for SOPS and seal alike.
#[test]
fn other_sops_selectors_and_mac_only_encrypted() {
    let env = Env::new();
    let sops = Sops::new(&env);
    let plain = "db:\n  host: db.internal\n  password: pw\nport: 5432\nlist: [a, b]\n";
    sops.encrypt("u.yaml", plain, &["--unencrypted-regex", "^(host|port)$"]);
    sops.import(&["u.yaml", "-o", "u.sealed.yaml"]).output_ok();
    let sealed = env.read("u.sealed.yaml");
    assert!(
        sealed.contains("  host: db.internal\n") && sealed.contains("port: 5432\n"),
        "{sealed}"
    );
    assert!(!sealed.contains("pw\n"), "{sealed}");
    same_values(
        "yaml",
        &env.decrypt("u.sealed.yaml", &sops.key),
        &sops.decrypt("u.yaml"),
    );

    sops.encrypt(
        "s.json",
        "{\"api_secret\": \"k\", \"name\": \"n\"}\n",
        &["--encrypted-suffix", "_secret"],
    );
    sops.import(&["s.json", "-o", "s.sealed.json"]).output_ok();
    let sealed = env.read("s.sealed.json");
    assert!(
        sealed.contains("\"name\": \"n\"") && !sealed.contains("\"k\""),
        "{sealed}"
    );

    env.write(
        "mac-only.yaml",
        "creation_rules:\n  - mac_only_encrypted: true\n",
    );
    let mac_only = Sops {
        env: &env,
        key: sops.key.clone(),
        config: env.path("mac-only.yaml"),
    };
    let text = mac_only.encrypt("m.yaml", "secret: s\nnote_unencrypted: a\n", &[]);
    assert!(text.contains("mac_only_encrypted: true"), "{text}");
    env.write(
        "m.yaml",
        &text.replace("note_unencrypted: a", "note_unencrypted: b"),
    );
    mac_only.decrypt("m.yaml");
    mac_only
        .import(&["m.yaml", "-o", "m.sealed.yaml"])
        .output_ok();
    assert!(env.read("m.sealed.yaml").contains("note_unencrypted: b\n"));
}
