//! YAML values as loaders see them: `get`, `exec`, `export` and
//! `decrypt --extract` follow aliases and resolve merge keys (`<<`) as PyYAML does, checked
//! against PyYAML itself; and layouts from the YAML test suite
//! (yaml/yaml-test-suite cases UGM3, CN3R, EHF6, F3CP, M7A3, written out
//! here by hand) seal byte-exact or are refused by name.

use predicates::prelude::*;
use serde_json::{json, Value};

use crate::common::{tool, Env, Key, RunOk};

/// PyYAML reading a plaintext from stdin. `env`: the first document
/// flattened the way `seal exec` names values (keys joined with `_`, list
/// items by index), with plain scalars kept as their text, as seal passes
/// them; `json`: `yaml.safe_load` of the document as JSON.
const PYYAML: &str = r#"
import json, sys, yaml

class Strings(yaml.SafeLoader):
    pass

# Only the merge resolver: plain scalars stay text, `<<` still merges.
Strings.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:merge"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

text = sys.stdin.read()
if sys.argv[1] == "env":
    out = {}
    def flat(path, node):
        if isinstance(node, dict):
            for k, v in node.items():
                flat(path + [str(k)], v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                flat(path + [str(i)], v)
        else:
            out["_".join(path)] = "" if node is None else str(node)
    flat([], yaml.load(text, Loader=Strings))
    print(json.dumps(out))
else:
    # Dates as their text, as seal reads them.
    print(json.dumps(yaml.safe_load(text), default=str))
"#;

fn pyyaml(mode: &str, plaintext: &str) -> Value {
    use std::io::Write;
    let mut child = tool("python3")
        .args(["-c", PYYAML, mode])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(plaintext.as_bytes())
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "PyYAML failed (scripts/install-test-deps.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("PyYAML's JSON")
}

/// What `seal exec` gives a command, as a JSON object of name → value.
fn exec_env(env: &Env, key: &Key, file: &str) -> Value {
    let dump = "import json, os; print(json.dumps({k[6:]: v for k, v in os.environ.items() if k.startswith('SEALT_')}))";
    let out = seal_as(
        env,
        key,
        &[
            "exec", "--prefix", "SEALT_", file, "--", "python3", "-c", dump,
        ],
    )
    .run_ok();
    serde_json::from_str(&out).expect("the child's JSON")
}

/// `seal ARGS` with `key` as its identity.
fn seal_as(env: &Env, key: &Key, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = env.seal();
    cmd.env("SEAL_IDENTITY_FILE", &key.identity).args(args);
    cmd
}

fn get(env: &Env, key: &Key, file: &str, path: &str) -> String {
    seal_as(env, key, &["get", file, path]).run_ok()
}

fn get_json(env: &Env, key: &Key, file: &str, path: &str) -> Value {
    let out = get(env, key, file, path);
    serde_json::from_str(&out).unwrap_or_else(|_| Value::String(out.trim_end().to_owned()))
}

fn sealed(env: &Env, name: &str, text: &str) -> Key {
    let key = env.keygen(&format!("key-{name}"));
    env.sealed_for(name, text, &[&key]);
    key
}

/// `exec`, `export`, `get` and `decrypt --extract` give what PyYAML gives
/// for the same plaintext, for each top-level key.
fn assert_like_pyyaml(env: &Env, key: &Key, file: &str, plaintext: &str) {
    assert_eq!(
        exec_env(env, key, file),
        pyyaml("env", plaintext),
        "exec of {file}"
    );
    let exported = seal_as(env, key, &["export", "--to", "json", file]).run_ok();
    assert_eq!(
        serde_json::from_str::<Value>(&exported).expect("export's JSON"),
        pyyaml("env", plaintext),
        "export of {file}"
    );
    let loaded = pyyaml("json", plaintext);
    for (top, want) in loaded.as_object().expect("a mapping") {
        assert_eq!(&get_json(env, key, file, top), want, "get {file} {top}");
        let extracted = env
            .seal_as(key, &["decrypt", "--extract", top, file])
            .run_ok();
        assert_eq!(extracted, get(env, key, file, top), "--extract {top}");
    }
}

/// Merge keys in the shapes people write them: the Rails `database.yml`
/// defaults, a list of mappings, an inline mapping, merges of merges, one
/// in a list item, and the `!!merge <<:` that `sops decrypt` writes.
const MERGES: &str = "\
defaults: &defaults
  adapter: postgres
  timeout: 3
  pool: 5
tuning: &tuning
  pool: 20
  timeout: 9
development:
  <<: *defaults
  database: dev_db
production:
  database: prod_db
  <<: [*tuning, *defaults]
  password: \"s3cr3t: with # signs\"
  timeout: 30
inline:
  <<: {region: eu-west-1, zone: b}
  zone: c
layered: &layered
  <<: *defaults
  adapter: mysql
on_layered:
  <<: *layered
  extra: 1.5
workers:
  - <<: *defaults
    name: first
  - name: second
from_sops:
  !!merge <<:
    adapter: postgres
    timeout: 3
  timeout: 5
";

#[test]
fn merge_keys_read_as_pyyaml_reads_them() {
    let env = Env::new();
    let key = sealed(&env, "db.yaml", MERGES);
    assert_like_pyyaml(&env, &key, "db.yaml", MERGES);
    let vars = exec_env(&env, &key, "db.yaml");
    // What the issue saw: values lost, or a name with `<<` in it.
    assert_eq!(vars["from_sops_adapter"], "postgres");
    assert_eq!(vars["from_sops_timeout"], "5");
    assert_eq!(vars["production_pool"], "20");
    assert!(
        vars.as_object().unwrap().keys().all(|k| !k.contains("<<")),
        "{vars}"
    );
    assert_eq!(
        get(&env, &key, "db.yaml", "development.adapter"),
        "postgres\n"
    );
    // The stored file is as it was: `<<` and the aliases are still there,
    // and decrypting gives back exactly the input.
    let stored = env.read("db.yaml");
    assert!(stored.contains("  <<: [*tuning, *defaults]\n"));
    assert_eq!(env.decrypt("db.yaml", &key), MERGES);
}

/// Spec example 2.27 (suite case UGM3): `ship-to: *id001` has the values
/// of the `bill-to` mapping, as the suite's own JSON of the case says.
#[test]
fn an_alias_gives_the_values_of_the_mapping_it_names() {
    let ugm3 = "\
--- !<tag:clarkevans.com,2002:invoice>
invoice: 34843
date   : 2001-01-23
bill-to: &id001
    given  : Chris
    family : Dumars
    address:
        lines: |
            458 Walkman Dr.
            Suite #292
        city    : Royal Oak
        state   : MI
        postal  : 48046
ship-to: *id001
product:
    - sku         : BL394D
      quantity    : 4
      description : Basketball
      price       : 450.00
    - sku         : BL4438H
      quantity    : 1
      description : Super Hoop
      price       : 2392.00
tax  : 251.42
total: 4443.52
comments:
    Late afternoon is best.
    Backup contact is Nancy
    Billsmer @ 338-4338.
";
    let env = Env::new();
    let key = sealed(&env, "invoice.yaml", ugm3);
    assert_eq!(env.decrypt("invoice.yaml", &key), ugm3);
    // From the suite's in.json of UGM3.
    let address = json!({
        "given": "Chris",
        "family": "Dumars",
        "address": {
            "lines": "458 Walkman Dr.\nSuite #292\n",
            "city": "Royal Oak",
            "state": "MI",
            "postal": 48046
        }
    });
    assert_eq!(get_json(&env, &key, "invoice.yaml", "ship-to"), address);
    assert_eq!(get_json(&env, &key, "invoice.yaml", "bill-to"), address);
    seal_as(
        &env,
        &key,
        &[
            "decrypt",
            "--extract",
            "ship-to.address.city",
            "invoice.yaml",
        ],
    )
    .assert()
    .success()
    .stdout("Royal Oak\n");
    let vars = exec_env(&env, &key, "invoice.yaml");
    assert_eq!(vars["ship-to_given"], "Chris");
    assert_eq!(vars["ship-to_family"], "Dumars");
    assert_eq!(
        vars["ship-to_address_lines"],
        "458 Walkman Dr.\nSuite #292\n"
    );
    // PyYAML's safe_load refuses the application tag on the document, so
    // the comparison with it is made without that line.
    let untagged = ugm3.split_once('\n').unwrap().1;
    let key2 = sealed(&env, "untagged.yaml", untagged);
    assert_like_pyyaml(&env, &key2, "untagged.yaml", untagged);
}

/// Aliases to sequences and scalars, typed as what they name, and an
/// alias inside a merged mapping.
#[test]
fn aliases_to_sequences_and_scalars_read_as_pyyaml_reads_them() {
    let text = "\
hosts: &hosts [a.example, b.example]
port: &port 5432
ratio: &ratio 0.5
flag: &flag true
empty: &empty {}
service:
  hosts: *hosts
  port: *port
  ratio: *ratio
  flag: *flag
  nothing: *empty
copy:
  <<: {more: *hosts}
";
    let env = Env::new();
    let key = sealed(&env, "svc.yaml", text);
    assert_like_pyyaml(&env, &key, "svc.yaml", text);
    assert_eq!(
        get_json(&env, &key, "svc.yaml", "service"),
        json!({"hosts": ["a.example", "b.example"], "port": 5432, "ratio": 0.5, "flag": true, "nothing": {}})
    );
}

/// A view that cannot be built (a merge of something not a mapping, a
/// structure that contains itself) is an error naming the file and the
/// line, with no value in it; nothing is run.
#[test]
fn unreadable_merges_and_recursive_aliases_are_refused_with_a_position() {
    let env = Env::new();
    let key = sealed(&env, "bad.yaml", "base: hunter2\napp:\n  <<: notamap\n");
    let ran = env.path("ran");
    seal_as(&env, &key, &["exec", "bad.yaml", "--", "touch"])
        .arg(&ran)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.yaml:3:3:"))
        .stderr(predicate::str::contains("merge key"))
        .stderr(predicate::str::contains("hunter2").not());
    assert!(!ran.exists());
    seal_as(&env, &key, &["get", "bad.yaml", "base"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("merge key"));
    let key = sealed(&env, "loop.yaml", "a: &a\n  b: *a\n  c: pw\n");
    seal_as(&env, &key, &["get", "loop.yaml", "a"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("loop.yaml:2:6:"))
        .stderr(predicate::str::contains("recursive"));
}

/// Suite cases that were refused as "cannot locate this value": each
/// construct seals byte-exact under a key and reads as the suite's JSON;
/// as a whole document (a top level that cannot hold seal's metadata) it
/// is refused with a message that names the top level.
#[test]
fn test_suite_layouts_seal_or_are_refused_by_name() {
    let env = Env::new();
    let key = env.keygen("k");
    let cases = [
        (
            "cn3r.yaml",
            "&flowseq [\n a: b,\n &c c: d,\n { &e e: f },\n &g { g: h }\n]\n",
            "a flow sequence",
            json!([{"a": "b"}, {"c": "d"}, {"e": "f"}, {"g": "h"}]),
        ),
        (
            "ehf6.yaml",
            "!!map {\n  k: !!seq\n  [ a, !!str b]\n}\n",
            "a flow mapping",
            json!({"k": ["a", "b"]}),
        ),
        (
            "f3cp.yaml",
            "{ a: [b, c, { d: [e, f] } ] }\n",
            "a flow mapping",
            json!({"a": ["b", "c", {"d": ["e", "f"]}]}),
        ),
    ];
    for (file, text, named, want) in cases {
        env.write(file, text);
        env.seal()
            .args(["encrypt", "--in-place", "-r", &key.public, file])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(named))
            .stderr(predicate::str::contains("cannot locate").not());
        assert_eq!(env.read(file), text, "{file} was changed");
        // The same construct under a key.
        let nested = format!("x: {}", text.replace('\n', "\n "));
        let nested = nested.trim_end().to_owned() + "\n";
        let name = format!("nested-{file}");
        env.sealed_for(&name, &nested, &[&key]);
        assert_eq!(env.decrypt(&name, &key), nested, "{name}");
        assert_eq!(get_json(&env, &key, &name, "x"), want, "{name}");
    }
    // M7A3 (spec example 9.3): bare documents, `...` closing no document.
    let m7a3 = "Bare\ndocument\n...\n# No document\n...\n|\n%!PS-Adobe-2.0 # Not the first line\n";
    env.write("m7a3.yaml", m7a3);
    env.seal()
        .args(["encrypt", "--in-place", "-r", &key.public, "m7a3.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("a scalar"));
    // With a mapping last, the stream seals.
    let stream =
        "Bare\ndocument\n...\n# No document\n...\nps: |\n  %!PS-Adobe-2.0 # Not the first line\n";
    env.sealed_for("stream.yaml", stream, &[&key]);
    assert_eq!(env.decrypt("stream.yaml", &key), stream);
    seal_as(&env, &key, &["get", "--document", "2", "stream.yaml", "ps"])
        .assert()
        .success()
        .stdout("%!PS-Adobe-2.0 # Not the first line\n\n");
}

/// A value shown through a merge key or alias is as sealed as the value
/// it shows: `--mask` masks it and warns about a short one, as it does
/// where it is written (here only inside the merge, under `<<`).
#[test]
fn values_shown_through_merges_and_aliases_are_treated_as_sealed() {
    let env = Env::new();
    let key = sealed(
        &env,
        "m.yaml",
        "db:\n  <<: {pin: \"1234\", password: long-secret-value}\n  host: &h db.internal\nother: *h\n",
    );
    let out = seal_as(
        &env,
        &key,
        &[
            "exec",
            "--mask",
            "m.yaml",
            "--",
            "sh",
            "-c",
            "echo \"$db_password $other\"",
        ],
    )
    .output()
    .expect("seal");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "*** ***\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--mask leaves the value of m.yaml:db.pin visible"),
        "{stderr}"
    );
}
