//! age plugin recipients and identities, end to end through the real age
//! plugin protocol: `age-plugin-sealtest` (examples/age-plugin-sealtest.rs)
//! is put on PATH, then the real `seal` binary and the reference `age` CLI
//! spawn it to wrap and unwrap data keys.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine;
use seal::crypto::DataKey;
use seal::format::Format;

use crate::common::{fixture, tool, Env, Key, RunOk};

/// The test plugin as cargo built it.
///
/// It is an example target: plain `cargo test` (what .ci/run and the README
/// run) builds every example, next to the binaries, before it runs any test,
/// so it sits in target/<profile>/examples/ beside target/<profile>/seal.
/// Building it from here (`cargo build --example …`) would run a nested
/// cargo on the same target dir from inside a test, slow and lock-prone;
/// a [[bin]] would be installed by `cargo install`. A run narrowed to
/// `--test integration` skips examples, so that case fails here with the
/// command to run rather than testing nothing.
fn plugin_binary() -> PathBuf {
    let seal = Path::new(env!("CARGO_BIN_EXE_seal"));
    let plugin = seal
        .parent()
        .expect("target dir")
        .join("examples")
        .join("age-plugin-sealtest");
    assert!(
        plugin.is_file(),
        "{} is not built: run plain `cargo test`, which builds examples, \
         or `cargo build --example age-plugin-sealtest` first",
        plugin.display()
    );
    plugin
}

/// A test env with the plugin installed in a bin dir of its own.
struct PluginEnv {
    env: Env,
    /// PATH with the plugin's dir first, then this process's PATH (for `age`).
    with_plugin: OsString,
    /// PATH of an empty dir: no plugin anywhere (seal needs no other program).
    without_plugin: OsString,
    /// This process's PATH, which has `age` but no test plugin.
    system_path: OsString,
}

impl PluginEnv {
    fn new() -> PluginEnv {
        let env = Env::new();
        let bin = env.path("plugin-bin");
        std::fs::create_dir(&bin).expect("mkdir");
        std::os::unix::fs::symlink(plugin_binary(), bin.join("age-plugin-sealtest"))
            .expect("symlink plugin");
        let empty = env.path("empty-bin");
        std::fs::create_dir(&empty).expect("mkdir");
        let system_path = std::env::var_os("PATH").unwrap_or_default();
        assert!(
            std::env::split_paths(&system_path).all(|d| !d.join("age-plugin-sealtest").exists()),
            "age-plugin-sealtest is already on PATH"
        );
        let mut dirs = vec![bin];
        dirs.extend(std::env::split_paths(&system_path));
        PluginEnv {
            with_plugin: std::env::join_paths(dirs).expect("PATH"),
            without_plugin: empty.into_os_string(),
            system_path,
            env,
        }
    }

    /// `seal` that finds the plugin.
    fn seal(&self) -> assert_cmd::Command {
        let mut cmd = self.env.seal();
        cmd.env("PATH", &self.with_plugin);
        cmd
    }

    /// `seal` with no plugin on PATH.
    fn seal_without_plugin(&self) -> assert_cmd::Command {
        let mut cmd = self.env.seal();
        cmd.env("PATH", &self.without_plugin);
        cmd
    }

    /// A fresh plugin key pair from `age-plugin-sealtest --generate`.
    fn plugin_key(&self, name: &str) -> Key {
        let out = std::process::Command::new(plugin_binary())
            .arg("--generate")
            .output()
            .expect("run plugin");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).expect("utf8");
        let public = text
            .lines()
            .find_map(|l| l.strip_prefix("# recipient: "))
            .expect("recipient line")
            .to_owned();
        assert!(public.starts_with("age1sealtest1"), "{public}");
        assert!(
            text.lines().any(|l| l.starts_with("AGE-PLUGIN-SEALTEST-1")),
            "{text}"
        );
        Key {
            identity: self.env.write(&format!("{name}.key"), &text),
            public,
        }
    }

    /// Run `seal` and return stdout, failing with its stderr.
    fn ok(&self, cmd: &mut assert_cmd::Command) -> Vec<u8> {
        cmd.output_ok().stdout
    }

    /// Run `seal`, expect exit code 1 with a message (not a panic); return
    /// stderr.
    fn fails(&self, cmd: &mut assert_cmd::Command) -> String {
        let out = cmd.output().expect("run seal");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty(), "{stderr}");
        stderr
    }
}

/// The secret line of an identity file, to check it never shows up in
/// messages.
fn secret_line(key: &Key) -> String {
    std::fs::read_to_string(&key.identity)
        .expect("read key")
        .lines()
        .find(|l| l.starts_with("AGE-"))
        .expect("secret line")
        .to_owned()
}

/// The wrapped data keys in a sealed YAML file, by recipient.
fn wrapped_keys(sealed: &str) -> Vec<(String, String)> {
    let meta = Format::Yaml
        .scan(sealed)
        .expect("scan")
        .metadata
        .expect("metadata")
        .metadata;
    meta.recipients
        .into_iter()
        .map(|r| (r.recipient, r.data_key))
        .collect()
}

/// The stanza tags in an armored age file's header (`-> TAG args…`),
/// less the random `…-grease` stanzas the age crate adds.
fn stanza_tags(armored: &str) -> Vec<String> {
    let b64: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("armor is base64");
    let header_end = bytes
        .windows(5)
        .position(|w| w == b"\n--- ")
        .expect("header end");
    String::from_utf8_lossy(&bytes[..header_end])
        .lines()
        .filter_map(|l| l.strip_prefix("-> "))
        .filter_map(|l| l.split(' ').next())
        .filter(|tag| !tag.ends_with("-grease"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_plugin_recipient_seals_and_opens_through_the_plugin() {
    let p = PluginEnv::new();
    let key = p.plugin_key("plugin");
    let plain = fixture("tricky.yaml");
    p.env.write("s.yaml", &plain);
    p.ok(p
        .seal()
        .args(["encrypt", "--in-place", "-r", &key.public, "s.yaml"]));
    let sealed = p.env.read("s.yaml");
    assert_ne!(sealed, plain);
    assert!(!sealed.contains("db.internal"), "{sealed}");

    // The data key was wrapped by the plugin: one stanza of its own type.
    let wrapped = wrapped_keys(&sealed);
    assert_eq!(wrapped.len(), 1);
    assert_eq!(wrapped[0].0, key.public);
    assert_eq!(stanza_tags(&wrapped[0].1), ["sealtest"]);

    let out = p.ok(p
        .seal()
        .args(["decrypt", "-i"])
        .arg(&key.identity)
        .arg("s.yaml"));
    assert_eq!(String::from_utf8(out).unwrap(), plain);

    let out = p.ok(p
        .seal()
        .args(["get", "-i"])
        .arg(&key.identity)
        .args(["s.yaml", "database.host"]));
    assert_eq!(out, b"db.internal\n");

    // The identity works from SEAL_IDENTITY too.
    let out = p.ok(p
        .seal()
        .env(
            "SEAL_IDENTITY",
            std::fs::read_to_string(&key.identity).unwrap(),
        )
        .args(["get", "s.yaml", "database.port"]));
    assert_eq!(out, b"5432\n");
}

#[test]
fn a_file_for_an_x25519_key_and_a_plugin_recipient_opens_with_either() {
    let p = PluginEnv::new();
    let plugin = p.plugin_key("plugin");
    let x25519 = p.env.keygen("x25519");
    let plain = fixture("tricky.yaml");
    p.env.write("s.yaml", &plain);
    p.ok(p.seal().args([
        "encrypt",
        "--in-place",
        "-r",
        &x25519.public,
        "-r",
        &plugin.public,
        "s.yaml",
    ]));
    let sealed = p.env.read("s.yaml");
    let wrapped = wrapped_keys(&sealed);
    let recipients: Vec<&str> = wrapped.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(recipients, [x25519.public.as_str(), plugin.public.as_str()]);
    assert_eq!(stanza_tags(&wrapped[0].1), ["X25519"]);
    assert_eq!(stanza_tags(&wrapped[1].1), ["sealtest"]);

    for key in [&plugin, &x25519] {
        let out = p.ok(p
            .seal()
            .args(["decrypt", "-i"])
            .arg(&key.identity)
            .arg("s.yaml"));
        assert_eq!(String::from_utf8(out).unwrap(), plain, "{}", key.public);
    }
    // The X25519 key needs no plugin.
    let out = p.ok(p
        .seal_without_plugin()
        .args(["get", "-i"])
        .arg(&x25519.identity)
        .args(["s.yaml", "database.host"]));
    assert_eq!(out, b"db.internal\n");
}

#[test]
fn the_age_cli_unwraps_the_plugin_wrapped_data_key() {
    let p = PluginEnv::new();
    let plugin = p.plugin_key("plugin");
    let x25519 = p.env.keygen("x25519");
    let plain = "db:\n  password: hunter2\n  port: 5432\n";
    p.env.write("s.yaml", plain);
    p.ok(p.seal().args([
        "encrypt",
        "--in-place",
        "-r",
        &plugin.public,
        "-r",
        &x25519.public,
        "s.yaml",
    ]));
    let sealed = p.env.read("s.yaml");
    let wrapped = wrapped_keys(&sealed);
    assert_eq!(wrapped.len(), 2);

    // `age -d` opens each wrapped copy: the plugin's through the plugin it
    // finds on PATH, the X25519 one natively. Both hold the same key.
    let mut keys = Vec::new();
    for ((recipient, armored), key) in wrapped.iter().zip([&plugin, &x25519]) {
        assert_eq!(recipient, &key.public);
        let file = p.env.write("wrapped.age", armored);
        let out = tool("age")
            .env("PATH", &p.with_plugin)
            .arg("-d")
            .arg("-i")
            .arg(&key.identity)
            .arg(&file)
            .output_ok();
        assert_eq!(out.stdout.len(), 32);
        keys.push(out.stdout);
    }
    assert_eq!(keys[0], keys[1]);

    // That key opens the file: the MAC verifies and the values decrypt.
    let key = DataKey::from_bytes(&keys[0]).unwrap();
    let opened = seal::document::open_with_key(Format::Yaml, &sealed, key).unwrap();
    assert_eq!(opened.plaintext.as_str(), plain);

    // Without the plugin, age cannot use the plugin identity either.
    let file = p.env.write("wrapped.age", &wrapped[0].1);
    let out = tool("age")
        .env("PATH", &p.system_path)
        .arg("-d")
        .arg("-i")
        .arg(&plugin.identity)
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("age-plugin-sealtest"),
        "{out:?}"
    );
}

#[test]
fn encrypting_to_a_plugin_recipient_without_the_plugin_fails_and_writes_nothing() {
    let p = PluginEnv::new();
    let key = p.plugin_key("plugin");
    let plain = "api_key: s3cr3t\n";
    p.env.write("s.yaml", plain);
    p.env.runtime_dir();
    let before = p.env.files();

    for args in [
        &["encrypt", "--in-place", "-r", &key.public, "s.yaml"][..],
        &["encrypt", "-r", &key.public, "-o", "out.yaml", "s.yaml"][..],
        &["encrypt", "-r", &key.public, "s.yaml"][..],
    ] {
        let stderr = p.fails(p.seal_without_plugin().args(args));
        assert!(
            stderr.contains(&format!(
                "recipient \"{}\" needs the age plugin age-plugin-sealtest, which is not on PATH",
                key.public
            )),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("hint: install age-plugin-sealtest or add its directory to PATH"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("nothing was written"), "{args:?}: {stderr}");
        assert_eq!(p.env.read("s.yaml"), plain, "{args:?}");
        assert_eq!(p.env.files(), before, "{args:?}");
        let runtime: Vec<_> = std::fs::read_dir(p.env.runtime_dir()).unwrap().collect();
        assert!(runtime.is_empty(), "{args:?}: {runtime:?}");
    }
}

#[test]
fn decrypting_with_a_plugin_identity_without_the_plugin_fails_clearly() {
    let p = PluginEnv::new();
    let key = p.plugin_key("plugin");
    p.env.write("s.yaml", "api_key: s3cr3t\n");
    p.ok(p
        .seal()
        .args(["encrypt", "--in-place", "-r", &key.public, "s.yaml"]));
    let secret = secret_line(&key);
    let name = key.identity.display().to_string();

    for (how, cmd) in [
        (
            "decrypt -i",
            p.seal_without_plugin()
                .args(["decrypt", "-i"])
                .arg(&key.identity)
                .arg("s.yaml"),
        ),
        (
            "get -i",
            p.seal_without_plugin()
                .args(["get", "-i"])
                .arg(&key.identity)
                .args(["s.yaml", "api_key"]),
        ),
        (
            "SEAL_IDENTITY_FILE",
            p.seal_without_plugin()
                .env("SEAL_IDENTITY_FILE", &key.identity)
                .args(["decrypt", "s.yaml"]),
        ),
    ] {
        let stderr = p.fails(cmd);
        assert!(
            stderr.contains(&format!(
                "identity {name} needs the age plugin age-plugin-sealtest, which is not on PATH"
            )),
            "{how}: {stderr}"
        );
        assert!(
            stderr.contains("hint: install age-plugin-sealtest or add its directory to PATH"),
            "{how}: {stderr}"
        );
        assert!(!stderr.contains(&secret), "{how}: {stderr}");
        assert!(!stderr.contains("s3cr3t"), "{how}: {stderr}");
    }

    // Identity text in SEAL_IDENTITY is named by the variable, not shown.
    let stderr = p.fails(
        p.seal_without_plugin()
            .env(
                "SEAL_IDENTITY",
                std::fs::read_to_string(&key.identity).unwrap(),
            )
            .args(["decrypt", "s.yaml"]),
    );
    assert!(
        stderr.contains(
            "identity SEAL_IDENTITY needs the age plugin age-plugin-sealtest, which is not on PATH"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(&secret), "{stderr}");
}

#[test]
fn another_plugin_key_is_not_a_matching_identity() {
    let p = PluginEnv::new();
    let key = p.plugin_key("plugin");
    let other = p.plugin_key("other");
    assert_ne!(key.public, other.public);
    p.env.write("s.yaml", "api_key: s3cr3t\n");
    p.ok(p
        .seal()
        .args(["encrypt", "--in-place", "-r", &key.public, "s.yaml"]));

    let stderr = p.fails(
        p.seal()
            .args(["decrypt", "-i"])
            .arg(&other.identity)
            .arg("s.yaml"),
    );
    assert!(
        stderr.contains("s.yaml: none of your identities can open this file"),
        "{stderr}"
    );
    assert!(stderr.contains(&key.public), "{stderr}");
    assert!(!stderr.contains(&secret_line(&other)), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");

    // The right key still opens it afterwards.
    let out = p.ok(p
        .seal()
        .args(["get", "-i"])
        .arg(&key.identity)
        .args(["s.yaml", "api_key"]));
    assert_eq!(out, b"s3cr3t\n");
}
