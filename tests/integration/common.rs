//! Shared fixtures: a private home, keys and files for each test, the
//! `.seal.yaml` a test wants, sealed files, and git repositories.
//!
//! Every helper that runs a command panics naming that command (and what it
//! printed) when it fails, so a broken set-up reads as such.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
}

#[derive(Clone)]
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
            // No signing unless a test asks: not the developer's agent.
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SEAL_SIGNING_KEY")
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"));
        cmd
    }

    /// A new identity from `seal keygen -o`.
    pub fn keygen(&self, name: &str) -> Key {
        let identity = self.path(&format!("{name}.key"));
        let public = self
            .seal()
            .args(["keygen", "-o"])
            .arg(&identity)
            .run_ok()
            .trim()
            .to_owned();
        assert!(public.starts_with("age1"), "{public}");
        Key { identity, public }
    }

    /// Several identities from `seal keygen -o`, one per name, in order.
    pub fn keygens<const N: usize>(&self, names: [&str; N]) -> [Key; N] {
        names.map(|name| self.keygen(name))
    }

    /// An identity from the reference `age-keygen -o NAME.agekey`.
    pub fn age_keygen(&self, name: &str) -> Key {
        let identity = self.path(&format!("{name}.agekey"));
        let out = tool("age-keygen").arg("-o").arg(&identity).output_ok();
        let public = String::from_utf8_lossy(&out.stderr)
            .trim()
            .trim_start_matches("Public key: ")
            .to_owned();
        assert!(public.starts_with("age1"), "{public}");
        Key { identity, public }
    }

    /// An OpenSSH key pair from `ssh-keygen -t KIND` at `file` (comment
    /// `FILE@test`), protected by `passphrase` ("" for none), with `extra`
    /// arguments such as `["-b", "2048"]`; `public` is the .pub line.
    pub fn ssh_keygen(&self, file: &str, kind: &str, extra: &[&str], passphrase: &str) -> Key {
        let identity = self.path(file);
        tool("ssh-keygen")
            .args(["-q", "-t", kind, "-N", passphrase, "-C"])
            .arg(format!("{file}@test"))
            .arg("-f")
            .arg(&identity)
            .args(extra)
            .output_ok();
        let pub_file = format!("{}.pub", identity.display());
        let public = std::fs::read_to_string(&pub_file)
            .unwrap_or_else(|e| panic!("ssh-keygen wrote no {pub_file}: {e}"))
            .trim()
            .to_owned();
        Key { identity, public }
    }

    /// `seal ARGS -i KEY`: `seal` with `key` as its identity, given last.
    pub fn seal_as(&self, key: &Key, args: &[&str]) -> Command {
        let mut cmd = self.seal();
        cmd.args(args).arg("-i").arg(&key.identity);
        cmd
    }

    /// Write `policy` as `.seal.yaml` in the temp dir.
    pub fn write_policy(&self, policy: &Policy) -> PathBuf {
        self.write(".seal.yaml", &policy.yaml())
    }

    /// Write `text` to `name` and seal it in place as `.seal.yaml`'s rules
    /// say (`seal encrypt --in-place NAME`); returns the sealed text.
    pub fn sealed(&self, name: &str, text: &str) -> String {
        self.write(name, text);
        self.seal().args(["encrypt", "--in-place", name]).run_ok();
        self.read(name)
    }

    /// Write `text` to `name` and seal it in place for `keys`
    /// (`seal encrypt --in-place -r K1 -r K2 … NAME`); returns the sealed text.
    pub fn sealed_for(&self, name: &str, text: &str, keys: &[&Key]) -> String {
        self.write(name, text);
        self.seal()
            .args(["encrypt", "--in-place"])
            .args(recipient_args(keys))
            .arg(name)
            .run_ok();
        self.read(name)
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
            .run_ok();
        self.read(name)
    }

    /// Decrypt `name` with `key` (`seal decrypt -i KEY NAME`) and return stdout.
    pub fn decrypt(&self, name: &str, key: &Key) -> String {
        self.seal()
            .args(["decrypt", "-i"])
            .arg(&key.identity)
            .arg(name)
            .run_ok()
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

/// `-r PUBLIC` for each key, in order.
pub fn recipient_args(keys: &[&Key]) -> Vec<String> {
    keys.iter()
        .flat_map(|k| ["-r".to_owned(), k.public.clone()])
        .collect()
}

/// The text of a `.seal.yaml`, built up a line at a time in the layout the
/// tests have always written by hand:
///
/// ```text
/// recipients:
///   alice: age1…
/// groups:
///   ops: [alice]
/// rules:
///   - path: "prod/**"
///     recipients: [ops]
///     encrypt: ["stringData.*"]
/// ```
#[derive(Clone, Default)]
pub struct Policy {
    recipients: Vec<(String, String)>,
    groups: Vec<(String, Vec<String>)>,
    rules: Vec<(String, Vec<String>, Vec<String>)>,
}

impl Policy {
    pub fn new() -> Policy {
        Policy::default()
    }

    /// `name: PUBLIC` under `recipients:`.
    pub fn recipient(self, name: &str, key: &Key) -> Policy {
        self.recipient_value(name, &key.public)
    }

    /// `name: PUBLIC` under `recipients:` for each named key, in order.
    pub fn recipients(self, named: &[(&str, &Key)]) -> Policy {
        named
            .iter()
            .fold(self, |policy, (name, key)| policy.recipient(name, key))
    }

    /// `name: VALUE` under `recipients:`, VALUE as YAML text (for a
    /// recipient that is not a key of the test's, e.g. `"scrypt:…"`).
    pub fn recipient_value(mut self, name: &str, value: &str) -> Policy {
        self.recipients.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `name: [a, b]` under `groups:`.
    pub fn group(mut self, name: &str, members: &[&str]) -> Policy {
        self.groups.push((name.to_owned(), to_strings(members)));
        self
    }

    /// A rule `- path: "PATH"` with `recipients: [a, b]`.
    pub fn rule(mut self, path: &str, recipients: &[&str]) -> Policy {
        self.rules
            .push((path.to_owned(), to_strings(recipients), Vec::new()));
        self
    }

    /// `encrypt: ["p", "q"]` on the last rule.
    pub fn encrypt(mut self, patterns: &[&str]) -> Policy {
        let rule = self.rules.last_mut().expect("encrypt() follows a rule()");
        rule.2 = to_strings(patterns);
        self
    }

    pub fn yaml(&self) -> String {
        let mut y = String::from("recipients:\n");
        for (name, value) in &self.recipients {
            y += &format!("  {name}: {value}\n");
        }
        if !self.groups.is_empty() {
            y += "groups:\n";
            for (name, members) in &self.groups {
                y += &format!("  {name}: [{}]\n", members.join(", "));
            }
        }
        y += "rules:\n";
        for (path, recipients, encrypt) in &self.rules {
            y += &format!(
                "  - path: \"{path}\"\n    recipients: [{}]\n",
                recipients.join(", ")
            );
            if !encrypt.is_empty() {
                let quoted: Vec<String> = encrypt.iter().map(|p| format!("\"{p}\"")).collect();
                y += &format!("    encrypt: [{}]\n", quoted.join(", "));
            }
        }
        y
    }
}

fn to_strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Running a command a test builds, for set-up steps that must work.
pub trait RunOk {
    /// Runs the command; panics naming it, its exit status and what it
    /// printed unless it succeeds. Returns the whole output.
    fn output_ok(&mut self) -> Output;

    /// As `output_ok`, and returns standard output as text.
    fn run_ok(&mut self) -> String {
        let out = self.output_ok();
        String::from_utf8(out.stdout).expect("standard output is not UTF-8")
    }
}

impl RunOk for Command {
    fn output_ok(&mut self) -> Output {
        let line = command_line(self.get_program(), self.get_args());
        checked(&line, self.output())
    }
}

impl RunOk for std::process::Command {
    fn output_ok(&mut self) -> Output {
        let line = command_line(self.get_program(), self.get_args());
        checked(&line, self.output())
    }
}

/// The program's file name and its arguments, for messages.
fn command_line<'a>(program: &OsStr, args: impl Iterator<Item = &'a OsStr>) -> String {
    let name = Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy()
        .into_owned();
    std::iter::once(name)
        .chain(args.map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `out` of the command `line`: it must have run and succeeded.
fn checked(line: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("`{line}` did not run: {e}"));
    assert!(
        out.status.success(),
        "`{line}` failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A git repository for a test: made by `git init -b main` with a test
/// author and no signing, and every git command isolated from the
/// machine's git config (a private HOME, no system config).
pub struct GitRepo {
    pub root: PathBuf,
    home: PathBuf,
    runtime: PathBuf,
    identity: Option<Key>,
}

impl GitRepo {
    /// A new repository at `root` (made if missing), using `env`'s home.
    pub fn init(env: &Env, root: &Path) -> GitRepo {
        tool("git");
        std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("mkdir {}: {e}", root.display()));
        let repo = GitRepo {
            root: root.to_owned(),
            home: env.path("home"),
            runtime: env.runtime_dir(),
            identity: None,
        };
        repo.git_ok(&["init", "-q", "-b", "main"]);
        repo.git_ok(&["config", "user.name", "Test"]);
        repo.git_ok(&["config", "user.email", "test@example.com"]);
        repo.git_ok(&["config", "commit.gpgsign", "false"]);
        repo
    }

    /// Give every git command `key` as seal's identity (for textconv, the
    /// merge driver and hooks), unless a call says otherwise.
    pub fn with_identity(mut self, key: &Key) -> GitRepo {
        self.identity = Some(key.clone());
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Write `text` to `name` in the work tree, making its directories.
    pub fn write(&self, name: &str, text: &str) {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().expect("a file in the repository"))
            .unwrap_or_else(|e| panic!("mkdir for {name}: {e}"));
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Write `policy` as the repository's top `.seal.yaml`.
    pub fn write_policy(&self, policy: &Policy) {
        self.write(".seal.yaml", &policy.yaml());
    }

    /// `git ARGS` in the repository, with `key` (or none) as seal's identity.
    pub fn git_command(&self, key: Option<&Key>, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new("git");
        cmd.args(args)
            .current_dir(&self.root)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("SEAL_IDENTITY")
            .env_remove("SEAL_IDENTITY_FILE")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SEAL_SIGNING_KEY")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE");
        if let Some(k) = key {
            cmd.env("SEAL_IDENTITY_FILE", &k.identity);
        }
        cmd
    }

    /// `git ARGS` with `key` (or none) as seal's identity; may fail.
    pub fn git_as(&self, key: Option<&Key>, args: &[&str]) -> Output {
        self.git_command(key, args)
            .output()
            .unwrap_or_else(|e| panic!("`git {}` did not run: {e}", args.join(" ")))
    }

    /// `git ARGS` with the repository's identity; may fail.
    pub fn git(&self, args: &[&str]) -> Output {
        self.git_as(self.identity.as_ref(), args)
    }

    /// `git ARGS` with the repository's identity; must succeed. Returns stdout.
    pub fn git_ok(&self, args: &[&str]) -> String {
        self.git_command(self.identity.as_ref(), args).run_ok()
    }

    /// `git add -A` and `git commit -q -m MESSAGE`.
    pub fn commit_all(&self, message: &str) {
        self.git_ok(&["add", "-A"]);
        self.git_ok(&["commit", "-q", "-m", message]);
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
    // A line diff, so that an added line (a new `changed` entry) counts
    // once instead of shifting every line after it.
    let diff = similar::TextDiff::from_lines(a, b);
    let count = |tag| diff.iter_all_changes().filter(|c| c.tag() == tag).count();
    count(similar::ChangeTag::Insert).max(count(similar::ChangeTag::Delete))
}
