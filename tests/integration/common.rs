//! A private home, keys and files for each test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
}

pub struct Key {
    pub identity: PathBuf,
    pub public: String,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A private runtime dir, so tests can see what temp files remain.
    pub fn runtime_dir(&self) -> PathBuf {
        use std::os::unix::fs::DirBuilderExt;
        let p = self.path("run");
        if !p.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&p)
                .expect("runtime dir");
        }
        p
    }

    /// An executable shell script (for $EDITOR and friends).
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(name, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `seal` with a clean environment: no identities except what the test
    /// passes, config in the temp dir, run from the temp dir.
    pub fn seal(&self) -> Command {
        let mut cmd = Command::cargo_bin("seal").expect("seal binary");
        cmd.current_dir(self.dir.path())
            .env_remove("SEAL_IDENTITY")
            .env_remove("SEAL_IDENTITY_FILE")
            .env_remove("SEAL_EDITOR")
            .env_remove("VISUAL")
            .env_remove("EDITOR")
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"));
        cmd
    }

    /// A new identity from `seal keygen -o`.
    pub fn keygen(&self, name: &str) -> Key {
        let identity = self.path(&format!("{name}.key"));
        let out = self
            .seal()
            .args(["keygen", "-o"])
            .arg(&identity)
            .output()
            .expect("run keygen");
        assert!(
            out.status.success(),
            "keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public = String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned();
        assert!(public.starts_with("age1"), "{public}");
        Key { identity, public }
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(&p, contents).expect("write");
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read")
    }

    /// Seal `name` in place for `key`; returns the sealed text.
    pub fn seal_in_place(&self, name: &str, key: &Key) -> String {
        self.seal()
            .args(["encrypt", "--in-place", "-r", &key.public, name])
            .assert()
            .success();
        self.read(name)
    }

    /// Decrypt `name` with `key` and return stdout.
    pub fn decrypt(&self, name: &str, key: &Key) -> String {
        let out = self
            .seal()
            .args(["decrypt", "-i"])
            .arg(&key.identity)
            .arg(name)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "decrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// Names of the files in the temp dir (to check nothing is left behind).
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// A peer tool the tests drive (age, ssh-keygen, git, tmux): fail clearly
/// when it is missing rather than skip.
pub fn tool(name: &str) -> std::process::Command {
    let probe = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .expect("sh");
    assert!(
        probe.status.success(),
        "{name} is not installed: run scripts/install-test-deps.sh"
    );
    std::process::Command::new(name)
}

pub fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/roundtrip")
        .join(name);
    std::fs::read_to_string(p).expect("fixture")
}

/// Lines that differ between two texts (same line count assumed where it matters).
pub fn changed_lines(a: &str, b: &str) -> usize {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let common = la.iter().zip(&lb).filter(|(x, y)| x != y).count();
    common + la.len().abs_diff(lb.len())
}
