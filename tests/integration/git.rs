//! Git integration in real temporary repositories with the real `git`:
//! textconv diffs, the merge driver, `seal git setup` and `seal check`.

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Output;

use predicates::prelude::*;

use crate::common::{changed_lines, recipient_args, Env, GitRepo, Key, Policy, RunOk};

/// A temporary repository set up with `seal git setup`, with one identity
/// (`me`) that `.seal.yaml` seals `secrets/**` for. Git commands run with
/// `me` as seal's identity unless they say otherwise.
struct Repo {
    env: Env,
    me: Key,
    git: GitRepo,
}

fn seal_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("seal")
}

impl Deref for Repo {
    type Target = GitRepo;

    fn deref(&self) -> &GitRepo {
        &self.git
    }
}

impl Repo {
    fn new() -> Repo {
        let env = Env::new();
        let me = env.keygen("me");
        let git = GitRepo::init(&env, &env.path("repo")).with_identity(&me);
        let repo = Repo { env, me, git };
        repo.write_policy(&repo.policy().rule("secrets/**", &["me"]));
        repo.setup(&[]).run_ok();
        repo
    }

    /// A `.seal.yaml` that names `me`, for a test to add rules to.
    fn policy(&self) -> Policy {
        Policy::new().recipient("me", &self.me)
    }

    /// `seal git setup EXTRA --program SEAL`, in the repository.
    fn setup(&self, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.seal(None);
        cmd.args(["git", "setup"])
            .args(extra)
            .arg("--program")
            .arg(seal_bin());
        cmd
    }

    /// `seal` in the repository, with `key` as its only identity.
    fn seal(&self, key: Option<&Key>) -> assert_cmd::Command {
        let mut cmd = self.env.seal();
        cmd.current_dir(&self.root);
        if let Some(k) = key {
            cmd.env("SEAL_IDENTITY_FILE", &k.identity);
        }
        cmd
    }

    /// `seal` in the repository as `me`.
    fn seal_me(&self) -> assert_cmd::Command {
        self.seal(Some(&self.me))
    }

    /// `seal edit FILE` as `me` with `editor` as SEAL_EDITOR.
    fn edit(&self, file: &str, editor: impl AsRef<OsStr>) -> assert_cmd::Command {
        let mut cmd = self.seal_me();
        cmd.args(["edit", file]).env("SEAL_EDITOR", editor);
        cmd
    }

    /// An editor script (for `edit`) that replaces the file with `text`.
    fn editor_writing(&self, name: &str, text: &str) -> PathBuf {
        self.env
            .script(name, &format!("cat > \"$1\" <<'EOF'\n{text}EOF"))
    }

    /// Write `text` to `name` and seal it in place (rules of .seal.yaml).
    fn sealed(&self, name: &str, text: &str) {
        self.write(name, text);
        self.seal(None)
            .args(["encrypt", "--in-place", name])
            .run_ok();
    }

    /// Write `text` to `name` and seal it in place for `keys`.
    fn sealed_for(&self, name: &str, text: &str, keys: &[&Key]) {
        self.write(name, text);
        self.seal(None)
            .args(["encrypt", "--in-place"])
            .args(recipient_args(keys))
            .arg(name)
            .run_ok();
    }

    fn set(&self, name: &str, path: &str, value: &str) {
        self.seal_me().args(["set", name, path, value]).run_ok();
    }

    fn decrypt(&self, name: &str) -> String {
        self.seal_me().args(["decrypt", name]).run_ok()
    }

    /// Commit everything as `message`, branch `theirs` there and check out
    /// a new branch `ours` from the same commit.
    fn fork(&self, message: &str) {
        self.commit_all(message);
        self.git_ok(&["branch", "theirs"]);
        self.git_ok(&["checkout", "-q", "-b", "ours"]);
    }

    /// Merge `branch` into the current branch.
    fn merge(&self, branch: &str) -> Output {
        self.git(&["merge", "--no-edit", "-q", branch])
    }

    /// Merge `branch` into the current branch: it must succeed.
    fn merge_ok(&self, branch: &str) {
        let out = self.merge(branch);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every file in the work tree (outside .git) and every index entry.
    fn all_text_in_tree_and_index(&self) -> String {
        let mut out = String::new();
        let mut stack = vec![self.root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_name() == ".git" {
                    continue;
                }
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        for line in self.git_ok(&["ls-files", "-s"]).lines() {
            let blob = line.split_whitespace().nth(1).unwrap();
            out.push_str(&self.git_ok(&["cat-file", "-p", blob]));
        }
        out
    }
}

/// The token of `key: token` in a sealed YAML file.
fn token_of(sealed: &str, key: &str) -> String {
    sealed
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in {sealed}"))
        .to_owned()
}

const APP: &str = "# database\ndb:\n  host: localhost\n  password: hunter2\n  port: 5432\n\n# third parties\napi:\n  key: abc123\n  url: https://api.example.com\n";

/// Two branches `ours` (checked out) and `theirs` from one sealed commit.
fn branches(repo: &Repo, name: &str, text: &str) {
    repo.sealed(name, text);
    repo.fork("base");
}

fn on(repo: &Repo, branch: &str, change: impl FnOnce()) {
    repo.git_ok(&["checkout", "-q", branch]);
    change();
    repo.commit_all(branch);
}

// ---------------------------------------------------------------- diff

#[test]
fn diff_log_and_show_are_plaintext_with_an_identity() {
    let repo = Repo::new();
    repo.sealed("secrets/app.yaml", APP);
    repo.commit_all("one");
    repo.set("secrets/app.yaml", "db.password", "hunter3");
    let diff = repo.git_ok(&["diff"]);
    assert!(diff.contains("-  password: hunter2\n"), "{diff}");
    assert!(diff.contains("+  password: hunter3\n"), "{diff}");
    // Only the value's line changed, not the metadata or other tokens.
    let changed: Vec<_> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(changed.len(), 2, "{diff}");
    repo.commit_all("two");
    let log = repo.git_ok(&["log", "-p", "--", "secrets/app.yaml"]);
    assert!(
        log.contains("+  password: hunter3") && log.contains("+  password: hunter2"),
        "{log}"
    );
    assert!(!log.contains("+  password: seal.v1."), "{log}");
    let show = repo.git_ok(&["show", "HEAD"]);
    assert!(show.contains("-  password: hunter2"), "{show}");
    // textconv output is never cached in notes.
    assert!(
        repo.git(&["config", "--get", "diff.seal.cachetextconv"])
            .status
            .code()
            == Some(1)
    );
    assert!(repo
        .git_ok(&["notes", "--ref=textconv/seal", "list"])
        .is_empty());
}

#[test]
fn diff_without_an_identity_shows_the_sealed_file_and_says_so() {
    let repo = Repo::new();
    repo.sealed("secrets/app.yaml", APP);
    repo.commit_all("one");
    repo.set("secrets/app.yaml", "db.password", "hunter3");
    for key in [None, Some(&repo.env.keygen("stranger"))] {
        let diff = repo.git_command(key, &["diff", "-U1000"]).run_ok();
        assert!(diff.contains(" # seal: cannot decrypt: "), "{diff}");
        assert!(diff.contains("+  password: seal.v1."), "{diff}");
        assert!(!diff.contains("hunter"), "{diff}");
    }
    // A JSON file gets a `//` line (textconv output is only shown).
    repo.sealed("secrets/c.json", "{\"token\": \"t0k3n\"}\n");
    let out = repo
        .seal(None)
        .args(["textconv", "secrets/c.json"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.starts_with("// seal: cannot decrypt"), "{text}");
    assert!(text.ends_with(&repo.read("secrets/c.json")), "{text}");
}

#[test]
fn textconv_marks_a_tampered_revision_and_shows_no_plaintext() {
    let repo = Repo::new();
    repo.sealed("secrets/app.yaml", APP);
    repo.commit_all("one");
    let sealed = repo.read("secrets/app.yaml");
    let tok = token_of(&sealed, "password");
    // Swap two tokens: each is valid, the MAC is not.
    let other = token_of(&sealed, "host");
    let tampered = sealed
        .replace(&tok, "@@")
        .replace(&other, &tok)
        .replace("@@", &other);
    repo.write("secrets/app.yaml", &tampered);
    repo.commit_all("evil");
    let out = repo.git(&["show", "-U1000", "HEAD"]);
    assert!(out.status.success());
    let show = String::from_utf8(out.stdout).unwrap();
    assert!(show.contains("+# seal: TAMPERED"), "{show}");
    assert!(!show.contains("+  password: hunter2"), "{show}");
    assert!(!show.contains("+  host: localhost"), "{show}");
    // Non-UTF-8 or unknown files pass through unchanged.
    std::fs::write(repo.path("blob.bin"), b"\xff\x00\x01").unwrap();
    repo.seal(None)
        .args(["textconv", "blob.bin"])
        .assert()
        .success()
        .stdout(predicate::eq(&b"\xff\x00\x01"[..]));
}

// ---------------------------------------------------------------- merge

#[test]
fn merge_of_different_keys_is_clean_and_keeps_tokens_and_comments() {
    let repo = Repo::new();
    branches(&repo, "secrets/app.yaml", APP);
    let base = repo.read("secrets/app.yaml");
    on(&repo, "theirs", || {
        // Adjacent to ours' change: git's line merge alone would conflict.
        repo.set("secrets/app.yaml", "db.port", "6543");
        // A comment far from everything else.
        let t = repo
            .decrypt("secrets/app.yaml")
            .replace("# third parties", "# third parties (rotated yearly)");
        let editor = repo.editor_writing("put.sh", &t);
        repo.edit("secrets/app.yaml", &editor).assert().success();
    });
    on(&repo, "ours", || {
        repo.set("secrets/app.yaml", "db.password", "s3cret")
    });
    repo.merge_ok("theirs");
    assert_eq!(
        repo.decrypt("secrets/app.yaml"),
        APP.replace("hunter2", "s3cret")
            .replace("5432", "\"6543\"")
            .replace("# third parties", "# third parties (rotated yearly)")
    );
    let merged = repo.read("secrets/app.yaml");
    for unchanged in ["host", "key", "url"] {
        assert_eq!(token_of(&merged, unchanged), token_of(&base, unchanged));
    }
    repo.seal_me().arg("check").assert().success();
}

/// Values added with `seal set --public` on two branches (spec section 13)
/// are both pending after the merge, and both fold in.
#[test]
fn merge_keeps_the_pending_values_of_both_sides() {
    let repo = Repo::new();
    branches(&repo, "secrets/app.yaml", APP);
    let public = |path: &str, value: &str| {
        repo.seal(None)
            .args(["set", "--public", "secrets/app.yaml", path])
            .write_stdin(value.to_owned())
            .assert()
            .success();
    };
    on(&repo, "theirs", || public("vendor.token", "v-1"));
    on(&repo, "ours", || public("ci.token", "c-1"));
    repo.merge_ok("theirs");
    let merged = repo.read("secrets/app.yaml");
    assert!(
        merged.contains("- path: \"/ci/token\"") && merged.contains("- path: \"/vendor/token\""),
        "{merged}"
    );
    repo.seal_me()
        .args(["fold", "--yes", "secrets/app.yaml"])
        .assert()
        .success();
    let plain = repo.decrypt("secrets/app.yaml");
    assert!(
        plain.contains("token: c-1") && plain.contains("token: v-1"),
        "{plain}"
    );
}

/// The merge driver keeps each side's `changed` dates for the values it
/// took from that side; the merge itself dates nothing.
#[test]
fn merge_keeps_each_sides_dates() {
    let repo = Repo::new();
    let at = |now: &str, args: &[&str]| {
        repo.seal_me().env("SEAL_TEST_NOW", now).args(args).run_ok();
    };
    repo.write("secrets/s.env", "A=1\nB=2\nC=3\n");
    at(
        "2026-01-01T00:00:00Z",
        &["encrypt", "--in-place", "secrets/s.env"],
    );
    repo.fork("base");
    on(&repo, "theirs", || {
        at("2026-02-01T00:00:00Z", &["set", "secrets/s.env", "C", "30"])
    });
    on(&repo, "ours", || {
        at("2026-03-01T00:00:00Z", &["set", "secrets/s.env", "A", "10"])
    });
    repo.git_command(Some(&repo.me), &["merge", "--no-edit", "-q", "theirs"])
        .env("SEAL_TEST_NOW", "2026-04-01T00:00:00Z")
        .run_ok();
    assert_eq!(repo.decrypt("secrets/s.env"), "A=10\nB=2\nC=30\n");
    let merged = repo.read("secrets/s.env");
    let dates: Vec<&str> = merged
        .lines()
        .filter(|l| l.starts_with("# seal: changed="))
        .collect();
    assert_eq!(
        dates,
        [
            // Three dates, one each: the latest is written once as `*`.
            "# seal: changed=* 2026-03-01T00:00:00Z",
            "# seal: changed=/B 2026-01-01T00:00:00Z",
            "# seal: changed=/C 2026-02-01T00:00:00Z"
        ]
    );
    assert!(merged.contains("# seal: modified=2026-04-01T00:00:00Z"));
}

#[test]
fn merge_of_the_same_change_on_both_sides_is_clean() {
    let repo = Repo::new();
    branches(&repo, "secrets/app.yaml", APP);
    on(&repo, "theirs", || {
        repo.set("secrets/app.yaml", "db.password", "same");
        repo.set("secrets/app.yaml", "api.url", "https://theirs.example.com");
    });
    on(&repo, "ours", || {
        repo.set("secrets/app.yaml", "db.password", "same")
    });
    repo.merge_ok("theirs");
    assert_eq!(
        repo.decrypt("secrets/app.yaml"),
        APP.replace("hunter2", "same")
            .replace("https://api.example.com", "https://theirs.example.com")
    );
}

#[test]
fn merge_adds_and_removes_keys() {
    let repo = Repo::new();
    branches(&repo, "secrets/app.yaml", APP);
    on(&repo, "theirs", || {
        repo.seal_me()
            .args(["unset", "secrets/app.yaml", "api.url"])
            .assert()
            .success();
        repo.set("secrets/app.yaml", "db.user", "admin");
    });
    on(&repo, "ours", || {
        repo.set("secrets/app.yaml", "api.secret", "xyz");
        repo.set("secrets/app.yaml", "db.password", "ours-pw");
    });
    repo.merge_ok("theirs");
    let merged = repo.decrypt("secrets/app.yaml");
    for (path, want) in [
        ("db.user", Some("admin")),
        ("api.secret", Some("xyz")),
        ("db.password", Some("ours-pw")),
        ("api.url", None),
        ("api.key", Some("abc123")),
    ] {
        let got = repo
            .seal(Some(&repo.me))
            .args(["get", "secrets/app.yaml", path])
            .output()
            .unwrap();
        match want {
            Some(v) => assert_eq!(
                String::from_utf8_lossy(&got.stdout).trim(),
                v,
                "{path}: {merged}"
            ),
            None => assert!(!got.status.success(), "{path} should be gone: {merged}"),
        }
    }
    assert!(
        merged.contains("# database") && merged.contains("# third parties"),
        "{merged}"
    );
}

/// A comment both sides changed differently stops the merge, as git would
/// stop on the line; the file stays sealed, with ours' line.
#[test]
fn merge_stops_on_a_comment_changed_on_both_sides() {
    let repo = Repo::new();
    branches(&repo, "secrets/app.yaml", APP);
    let edit = |from: &str, to: &str| {
        repo.edit("secrets/app.yaml", format!("sed -i 's/{from}/{to}/'"))
            .env("XDG_RUNTIME_DIR", repo.env.runtime_dir())
            .assert()
            .success();
    };
    on(&repo, "theirs", || edit("third parties", "vendors"));
    on(&repo, "ours", || {
        edit("third parties", "partners");
        repo.set("secrets/app.yaml", "db.port", "1");
    });
    let out = repo.merge("theirs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed differently on both sides"),
        "{stderr}"
    );
    let merged = repo.decrypt("secrets/app.yaml");
    assert!(
        merged.contains("# partners") && !merged.contains("# vendors"),
        "{merged}"
    );
    assert!(merged.contains("port: \"1\""), "{merged}");
}

#[test]
fn merge_of_dotenv_and_json_files() {
    let repo = Repo::new();
    repo.sealed("secrets/.env", "# app\nA=1\nB=2\nC=3\n");
    branches(
        &repo,
        "secrets/app.json",
        "{\n  \"a\": \"1\",\n  \"b\": \"2\",\n  \"c\": \"3\"\n}\n",
    );
    on(&repo, "theirs", || {
        repo.set("secrets/.env", "C", "33");
        repo.set("secrets/app.json", "b", "22");
    });
    on(&repo, "ours", || {
        repo.set("secrets/.env", "B", "22");
        repo.set("secrets/.env", "D", "4");
        repo.set("secrets/app.json", "a", "11");
    });
    repo.merge_ok("theirs");
    assert_eq!(
        repo.decrypt("secrets/.env"),
        "# app\nA=1\nB=22\nC=33\nD=4\n"
    );
    assert_eq!(
        repo.decrypt("secrets/app.json"),
        "{\n  \"a\": \"11\",\n  \"b\": \"22\",\n  \"c\": \"3\"\n}\n"
    );
}

#[test]
fn conflicting_changes_stay_sealed_and_edit_resolves_them() {
    let repo = Repo::new();
    branches(&repo, "secrets/app.yaml", APP);
    on(&repo, "theirs", || {
        repo.set("secrets/app.yaml", "db.password", "theirs-pw");
        repo.set("secrets/app.yaml", "api.key", "theirs-key");
    });
    on(&repo, "ours", || {
        repo.set("secrets/app.yaml", "db.password", "ours-pw")
    });
    let out = repo.merge("theirs");
    assert!(!out.status.success(), "the conflict must fail the merge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("merge conflict at db.password"), "{stderr}");
    assert!(!stderr.contains("-pw"), "{stderr}");
    assert!(repo
        .git_ok(&["status", "--porcelain"])
        .contains("UU secrets/app.yaml"));

    // Still a valid sealed file; no plaintext in the tree or the index.
    let everything = repo.all_text_in_tree_and_index();
    for secret in ["ours-pw", "theirs-pw", "theirs-key", "hunter2", "abc123"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    let left: Vec<_> = std::fs::read_dir(repo.env.runtime_dir()).unwrap().collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    let plain = repo.decrypt("secrets/app.yaml");
    assert!(
        plain.contains("  password: <<<<<<< ours\nours-pw\n=======\ntheirs-pw\n>>>>>>> theirs\n"),
        "{plain}"
    );
    // The non-conflicting change from theirs is in.
    assert!(plain.contains("  key: theirs-key\n"), "{plain}");
    repo.seal_me()
        .args(["check", "secrets/app.yaml"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unresolved merge conflict"));
    // seal exec never hands both candidates to a command.
    let ran = repo.env.path("ran");
    repo.seal_me()
        .args(["exec", "secrets/app.yaml", "--", "sh", "-c"])
        .arg(format!("touch '{}'", ran.display()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unresolved merge conflict"))
        .stderr(predicate::str::contains("nothing was run"))
        .stderr(predicate::str::contains("-pw").not());
    assert!(!ran.exists(), "the command ran");

    // seal edit shows both and refuses to save while markers remain.
    let before = repo.read("secrets/app.yaml");
    let keep = repo
        .env
        .script("keep.sh", "echo '# looked at it' >> \"$1\"");
    repo.edit("secrets/app.yaml", &keep)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unresolved merge conflict"));
    assert_eq!(repo.read("secrets/app.yaml"), before);

    // Resolving (keep theirs) is accepted.
    let resolved = APP
        .replace("hunter2", "theirs-pw")
        .replace("abc123", "theirs-key");
    let fix = repo.editor_writing("fix.sh", &resolved);
    repo.edit("secrets/app.yaml", &fix).assert().success();
    assert_eq!(repo.decrypt("secrets/app.yaml"), resolved);
    repo.seal_me().arg("check").assert().success();
    repo.git_ok(&["add", "secrets/app.yaml"]);
    repo.git_ok(&["commit", "-q", "--no-edit"]);
}

#[test]
fn merge_with_a_branch_that_changed_recipients() {
    let repo = Repo::new();
    let [bob, carol] = repo.env.keygens(["bob", "carol"]);
    // Not covered by .seal.yaml: recipients come from the two sides.
    repo.write(
        ".gitattributes",
        &format!(
            "{}other/*.yaml diff=seal merge=seal\n",
            repo.read(".gitattributes")
        ),
    );
    repo.sealed_for("other/app.yaml", APP, &[&repo.me, &bob]);
    repo.fork("base");
    let base = repo.read("other/app.yaml");

    // Theirs adds carol (same data key: tokens kept).
    on(&repo, "theirs", || {
        rewrap(&repo, "other/app.yaml", &[&repo.me, &bob, &carol], false)
    });
    // Ours changes a value.
    on(&repo, "ours", || repo.set("other/app.yaml", "db.port", "1"));
    repo.merge_ok("theirs");
    let merged = repo.read("other/app.yaml");
    for k in [&repo.me, &bob, &carol] {
        assert!(merged.contains(&k.public));
    }
    assert_eq!(token_of(&merged, "password"), token_of(&base, "password"));
    assert_eq!(repo.decrypt("other/app.yaml"), APP.replace("5432", "\"1\""));

    // Now theirs removes bob and rotates the key; ours changes a value.
    repo.git_ok(&["checkout", "-q", "-B", "theirs", "ours"]);
    on(&repo, "theirs", || {
        rewrap(&repo, "other/app.yaml", &[&repo.me, &carol], true)
    });
    on(&repo, "ours", || {
        repo.set("other/app.yaml", "api.key", "k2")
    });
    let before = repo.read("other/app.yaml");
    repo.merge_ok("theirs");
    let merged = repo.read("other/app.yaml");
    assert!(!merged.contains(&bob.public), "bob was removed on theirs");
    assert!(merged.contains(&carol.public));
    assert_ne!(token_of(&merged, "password"), token_of(&before, "password"));
    assert_eq!(
        repo.decrypt("other/app.yaml"),
        APP.replace("5432", "\"1\"").replace("abc123", "k2")
    );
    repo.seal(Some(&bob))
        .args(["decrypt", "other/app.yaml"])
        .assert()
        .code(1);

    // A file a .seal.yaml rule covers is sealed as the rule says now.
    repo.sealed("secrets/x.yaml", "a: 1\nb: 2\n");
    repo.commit_all("x");
    repo.git_ok(&["branch", "-f", "theirs"]);
    on(&repo, "theirs", || {
        rewrap(&repo, "secrets/x.yaml", &[&repo.me, &bob], false);
        repo.set("secrets/x.yaml", "a", "11");
    });
    on(&repo, "ours", || repo.set("secrets/x.yaml", "b", "22"));
    repo.merge_ok("theirs");
    let merged = repo.read("secrets/x.yaml");
    assert!(
        !merged.contains(&bob.public),
        "the rule only names me: {merged}"
    );
    assert_eq!(repo.decrypt("secrets/x.yaml"), "a: \"11\"\nb: \"22\"\n");
}

/// A branch that removed or added a recipient with `seal recipients`,
/// merged into one that changed a value: the work tree's .seal.yaml is
/// still ours while the driver runs, and must not undo theirs. The removed
/// person opens nothing of the result; the added one opens it.
#[test]
fn merging_a_recipient_change_made_on_the_other_branch() {
    let repo = Repo::new();
    let [bob, carol] = repo.env.keygens(["bob", "carol"]);
    repo.write_policy(
        &repo
            .policy()
            .recipient("bob", &bob)
            .group("team", &["me", "bob"])
            .rule("secrets/**", &["team"]),
    );
    repo.sealed("secrets/s.yaml", "a: 1\nb: 2\n");
    repo.fork("base");
    on(&repo, "theirs", || {
        repo.seal_me()
            .args(["recipients", "remove", "bob"])
            .assert()
            .success();
    });
    on(&repo, "ours", || repo.set("secrets/s.yaml", "a", "11"));
    repo.merge_ok("theirs");
    let merged = repo.read("secrets/s.yaml");
    assert!(!merged.contains(&bob.public), "bob came back: {merged}");
    assert_eq!(repo.decrypt("secrets/s.yaml"), "a: \"11\"\nb: 2\n");
    repo.seal(Some(&bob))
        .args(["decrypt", "secrets/s.yaml"])
        .assert()
        .code(1);

    // Now theirs adds carol to the team; ours changes a value again.
    repo.git_ok(&["checkout", "-q", "-B", "theirs", "ours"]);
    on(&repo, "theirs", || {
        repo.seal_me()
            .args([
                "recipients",
                "add",
                "carol",
                &carol.public,
                "--group",
                "team",
            ])
            .assert()
            .success();
    });
    on(&repo, "ours", || repo.set("secrets/s.yaml", "b", "22"));
    repo.merge_ok("theirs");
    let merged = repo.read("secrets/s.yaml");
    assert!(
        merged.contains(&carol.public),
        "carol was dropped: {merged}"
    );
    repo.seal(Some(&carol))
        .args(["get", "secrets/s.yaml", "b"])
        .assert()
        .success()
        .stdout("22\n");
}

/// Re-wrap `file` for `keys` with the library: same data key, or a new one.
fn rewrap(repo: &Repo, file: &str, keys: &[&Key], rotate: bool) {
    use seal::document::{self, Resealed};
    use seal::envelope::{Identities, IdentitySources, Recipient};
    use seal::format::Format;
    let path = repo.path(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let ids = Identities::load(&IdentitySources {
        files: vec![repo.me.identity.clone()],
        ..Default::default()
    })
    .unwrap();
    let format = Format::from_path(Path::new(file)).unwrap();
    let opened = document::open(format, &text, &ids).unwrap();
    let recipients: Vec<Recipient> = keys
        .iter()
        .map(|k| Recipient::parse(&k.public).unwrap())
        .collect();
    let fresh;
    let key = if rotate {
        fresh = seal::crypto::DataKey::generate();
        &fresh
    } else {
        opened.data_key().unwrap()
    };
    let wrapped = document::wrap_for(key, &recipients).unwrap();
    match opened
        .reseal_for(
            &opened.plaintext,
            wrapped,
            key,
            &opened.metadata.encrypt.clone(),
        )
        .unwrap()
    {
        Resealed::Changed(s) => std::fs::write(&path, s).unwrap(),
        Resealed::Unchanged => panic!("expected a change"),
    }
}

// ---------------------------------------------------------------- setup, check, hook

#[test]
fn git_setup_is_idempotent_and_never_caches_textconv() {
    let repo = Repo::new();
    let attrs = repo.read(".gitattributes");
    assert!(
        attrs.contains("secrets/**/*.yaml diff=seal merge=seal\n"),
        "{attrs}"
    );
    assert!(
        attrs.contains("secrets/**/.env diff=seal merge=seal\n"),
        "{attrs}"
    );
    let config = std::fs::read_to_string(repo.path(".git/config")).unwrap();
    assert!(
        config.contains("[diff \"seal\"]") && config.contains("[merge \"seal\"]"),
        "{config}"
    );
    repo.setup(&[])
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing changed"));
    assert_eq!(repo.read(".gitattributes"), attrs);
    assert_eq!(
        std::fs::read_to_string(repo.path(".git/config")).unwrap(),
        config
    );

    // cachetextconv would put plaintext in git notes: setup removes it.
    repo.git_ok(&["config", "diff.seal.cachetextconv", "true"]);
    repo.setup(&[])
        .assert()
        .success()
        .stderr(predicate::str::contains("removed diff.seal.cachetextconv"));
    assert_eq!(
        repo.git(&["config", "--get", "diff.seal.cachetextconv"])
            .status
            .code(),
        Some(1)
    );

    // --print prints the lines without touching .gitattributes.
    std::fs::remove_file(repo.path(".gitattributes")).unwrap();
    repo.setup(&["--print"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "secrets/**/*.yaml diff=seal merge=seal\n",
        ));
    assert!(!repo.path(".gitattributes").exists());

    // Rules in a .seal.yaml below the top are made relative to the top.
    repo.write(
        "deploy/.seal.yaml",
        &repo.policy().rule("*.env", &["me"]).yaml(),
    );
    repo.setup(&["--print"])
        .current_dir(repo.path("deploy"))
        .assert()
        .success()
        .stdout("deploy/*.env diff=seal merge=seal\n");

    // Outside a repository without --global: a clear error.
    repo.env
        .seal()
        .args(["git", "setup"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not in a git repository"));
}

#[test]
fn pre_commit_hook_refuses_plaintext() {
    let repo = Repo::new();
    repo.setup(&["--hook"]).assert().success();
    let hook = std::fs::read_to_string(repo.path(".git/hooks/pre-commit")).unwrap();
    assert!(hook.contains("check --staged"), "{hook}");
    // Idempotent with the hook too.
    repo.setup(&["--hook"])
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing changed"));

    repo.write("secrets/prod.env", "TOKEN=plain-secret-value\nOK=1\n");
    repo.write("README.md", "not a secret\n");
    repo.git_ok(&["add", "-A"]);
    let out = repo.git(&["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "the hook must refuse");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("secrets/prod.env: TOKEN is not encrypted"),
        "{said}"
    );
    assert!(!said.contains("plain-secret-value"), "{said}");

    // Sealing it on disk is not enough: the staged version is checked.
    repo.seal(None)
        .args(["encrypt", "--in-place", "secrets/prod.env"])
        .assert()
        .success();
    assert!(!repo
        .git(&["commit", "-q", "-m", "still staged plaintext"])
        .status
        .success());
    repo.git_ok(&["add", "secrets/prod.env"]);
    repo.git_ok(&["commit", "-q", "-m", "sealed"]);

    // A hook that is not ours is never overwritten.
    std::fs::write(repo.path(".git/hooks/pre-commit"), "#!/bin/sh\necho mine\n").unwrap();
    repo.seal(None)
        .args(["git", "setup", "--hook"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(repo.path(".git/hooks/pre-commit")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
}

#[test]
fn check_names_each_plaintext_value_and_verifies_macs() {
    let repo = Repo::new();
    repo.write_policy(
        &repo
            .policy()
            .rule("k8s/*.yaml", &["me"])
            .encrypt(&["stringData.*"])
            .rule("secrets/**", &["me"]),
    );
    repo.sealed("secrets/ok.yaml", "a: 1\n");
    repo.write("secrets/plain.yaml", "db:\n  password: p4ssw0rd-value\n");
    repo.write(
        "k8s/app.yaml",
        "kind: Secret\nstringData:\n  token: t0ken-value\n",
    );
    repo.write("docs/notes.yaml", "not: covered\n");
    repo.commit_all("files");
    let out = repo.seal(None).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("secrets/plain.yaml: db.password is not encrypted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("k8s/app.yaml: stringData.token is not encrypted"),
        "{stdout}"
    );
    assert!(!stdout.contains("kind"), "{stdout}");
    assert!(
        !stdout.contains("docs/notes.yaml") && !stdout.contains("secrets/ok.yaml"),
        "{stdout}"
    );
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !all.contains("p4ssw0rd") && !all.contains("t0ken-value"),
        "{all}"
    );

    // Sealed with only stringData encrypted: passes, no key needed.
    repo.seal(None)
        .args(["encrypt", "--in-place", "k8s/app.yaml"])
        .assert()
        .success();
    repo.seal(None)
        .args(["check", "k8s/app.yaml", "secrets/ok.yaml"])
        .assert()
        .success();

    // With an identity the MAC is checked: a hand edit is caught.
    let ok = repo.read("secrets/ok.yaml");
    repo.write("secrets/ok.yaml", &format!("# hand edit\n{ok}"));
    repo.seal(None)
        .args(["check", "secrets/ok.yaml"])
        .assert()
        .success();
    repo.seal_me()
        .args(["check", "secrets/ok.yaml"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "secrets/ok.yaml: the MAC does not match",
        ));
}

/// Under a rule for everything (`**`), the policy file itself is not a
/// secret file, and staged bytes that are not UTF-8 are not a sealed file:
/// the hook lets the first through and stops the second.
#[test]
fn check_staged_passes_the_policy_file_and_stops_non_text() {
    let repo = Repo::new();
    repo.write_policy(&repo.policy().rule("**", &["me"]));
    repo.sealed("ok.yaml", "a: 1\n");
    repo.git_ok(&["add", "-A"]);
    repo.seal(None)
        .args(["check", "--staged"])
        .assert()
        .success();
    repo.seal(None).args(["check"]).assert().success();
    std::fs::write(repo.path("latin.yaml"), b"pw: caf\xe9\n").unwrap();
    repo.git_ok(&["add", "latin.yaml"]);
    repo.seal(None)
        .args(["check", "--staged"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "latin.yaml: the staged file is not UTF-8 text",
        ));
}

#[test]
fn both_sides_adding_the_file_and_merging_without_an_identity() {
    let repo = Repo::new();
    repo.write("README.md", "base\n");
    repo.fork("base");
    // No common ancestor for the file: the same values merge, different
    // ones conflict.
    on(&repo, "theirs", || {
        repo.sealed("secrets/new.yaml", "a: 1\nb: theirs\nc: 3\n")
    });
    on(&repo, "ours", || {
        repo.sealed("secrets/new.yaml", "a: 1\nb: ours\n")
    });
    let ours_sealed = repo.read("secrets/new.yaml");

    // Without an identity the driver fails and leaves ours, sealed.
    let out = repo.git_as(None, &["merge", "--no-edit", "-q", "theirs"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no identity found"), "{stderr}");
    assert_eq!(repo.read("secrets/new.yaml"), ours_sealed);
    repo.git_ok(&["merge", "--abort"]);

    let out = repo.merge("theirs");
    assert!(!out.status.success());
    let plain = repo.decrypt("secrets/new.yaml");
    assert_eq!(
        plain,
        "a: 1\nb: <<<<<<< ours\nours\n=======\ntheirs\n>>>>>>> theirs\nc: 3\n"
    );
}

/// `decrypt --in-place` then `encrypt --in-place` of a committed sealed
/// file reuses its data key: unchanged values keep their tokens byte for
/// byte, so the diff is the changed value and the MAC. `--fresh` gives a
/// new key; so does a committed version the caller cannot open, and one
/// wrapped for someone the rule no longer names.
#[test]
fn a_plaintext_round_trip_keeps_the_tokens_of_unchanged_values() {
    let repo = Repo::new();
    let bob = repo.env.keygen("bob");
    let plain: String = (1..=20).map(|i| format!("k{i}: value-{i}\n")).collect();
    repo.write("secrets/app.yaml", &plain);
    repo.seal_me()
        .args(["encrypt", "--in-place", "secrets/app.yaml"])
        .assert()
        .success();
    repo.commit_all("sealed");
    let committed = repo.read("secrets/app.yaml");
    let round_trip = |edit: &dyn Fn(&str) -> String, extra: &[&str], key: &Key| {
        repo.seal(Some(key))
            .args(["decrypt", "--in-place", "secrets/app.yaml"])
            .assert()
            .success();
        let text = repo.read("secrets/app.yaml");
        repo.write("secrets/app.yaml", &edit(&text));
        let out = repo
            .seal(Some(key))
            .args(["encrypt", "--in-place"])
            .args(extra)
            .arg("secrets/app.yaml")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            repo.read("secrets/app.yaml"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let same = |t: &str| t.to_owned();

    // Nothing changed: the file is its committed version, byte for byte.
    let (sealed, stderr) = round_trip(&same, &[], &repo.me);
    assert_eq!(sealed, committed);
    assert!(
        stderr.contains("sealed with the data key of its committed version (HEAD)"),
        "{stderr}"
    );

    // One value changed: its line, the MAC, `modified` and its `changed`
    // date only (the last two stay when the clock did not tick).
    let (sealed, _) = round_trip(&|t| t.replace("value-3\n", "changed\n"), &[], &repo.me);
    assert!(
        changed_lines(&committed, &sealed) <= 4,
        "{}",
        changed_lines(&committed, &sealed)
    );
    assert_ne!(token_of(&sealed, "k3"), token_of(&committed, "k3"));
    for k in ["k1", "k2", "k4", "k20"] {
        assert_eq!(token_of(&sealed, k), token_of(&committed, k), "{k}");
    }
    assert_eq!(
        repo.seal_me()
            .args(["get", "secrets/app.yaml", "k3"])
            .run_ok(),
        "changed\n"
    );
    repo.git_ok(&["checkout", "--", "secrets/app.yaml"]);

    // --fresh: a new data key, every token new.
    let (sealed, _) = round_trip(&same, &["--fresh"], &repo.me);
    assert_eq!(
        token_of(&sealed, "k1").len(),
        token_of(&committed, "k1").len()
    );
    for k in ["k1", "k2", "k20"] {
        assert_ne!(token_of(&sealed, k), token_of(&committed, k), "{k}");
    }
    repo.git_ok(&["checkout", "--", "secrets/app.yaml"]);

    // Bob joins: the same key is wrapped for him too; every token stays.
    let both = repo
        .policy()
        .recipient("bob", &bob)
        .rule("secrets/**", &["me", "bob"]);
    repo.write_policy(&both);
    let (sealed, _) = round_trip(&same, &[], &repo.me);
    for k in ["k1", "k2", "k20"] {
        assert_eq!(token_of(&sealed, k), token_of(&committed, k), "{k}");
    }
    assert_eq!(
        repo.seal(Some(&bob))
            .args(["get", "secrets/app.yaml", "k1"])
            .run_ok(),
        "value-1\n"
    );
    repo.commit_all("bob joins");
    let with_bob = repo.read("secrets/app.yaml");

    // `me` leaves: the committed version is wrapped for `me`, so its key
    // must not seal what only bob may read now.
    repo.write_policy(
        &repo
            .policy()
            .recipient("bob", &bob)
            .rule("secrets/**", &["bob"]),
    );
    let (sealed, stderr) = round_trip(&same, &[], &bob);
    assert!(
        stderr.contains("new data key: its committed version (HEAD) is also wrapped for me, who is no longer a recipient"),
        "{stderr}"
    );
    for k in ["k1", "k2", "k20"] {
        assert_ne!(token_of(&sealed, k), token_of(&with_bob, k), "{k}");
    }
    repo.seal_me()
        .args(["get", "secrets/app.yaml", "k1"])
        .assert()
        .code(1);
    repo.commit_all("me leaves");
    let bobs = repo.read("secrets/app.yaml");

    // Someone who cannot open the committed version seals with a new key
    // (as a recipient named by -r), and says why.
    repo.seal(Some(&bob))
        .args(["decrypt", "--in-place", "secrets/app.yaml"])
        .assert()
        .success();
    let out = repo
        .seal(Some(&repo.me))
        .args([
            "encrypt",
            "--in-place",
            "-r",
            &bob.public,
            "secrets/app.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot lend its key: none of your identities opens it"),
        "{stderr}"
    );
    assert_ne!(
        token_of(&repo.read("secrets/app.yaml"), "k1"),
        token_of(&bobs, "k1")
    );
}

// ------------------------------------------------------ conflict messages

/// A sealed file that git merged line by line (no `merge=seal` for it)
/// holds git's conflict markers: every command that opens it says so,
/// naming the key paths and the lines, and how to finish the merge, in
/// every format; it is not reported as a syntax error. Following the hint
/// (`seal git setup`'s attribute, `git checkout -m`) leaves a value-level
/// conflict, which `get`, `decrypt --extract` and `exec` refuse by key path.
#[test]
fn a_git_conflict_in_a_sealed_file_is_named_with_its_key_paths_and_how_to_finish() {
    let repo = Repo::new();
    let me = repo.me.clone();
    // A rule for `plain/**` added after `seal git setup`, so `seal check`
    // covers these files but no `merge=seal` attribute does.
    repo.write_policy(
        &repo
            .policy()
            .rule("secrets/**", &["me"])
            .rule("plain/**", &["me"]),
    );
    let files = [
        ("plain/app.yaml", APP, "db.password"),
        (
            "plain/app.json",
            "{\n  \"db\": {\n    \"password\": \"hunter2\",\n    \"port\": 5432\n  },\n  \"api\": \"abc123\"\n}\n",
            "db.password",
        ),
        ("plain/app.env", "DB_PASSWORD=hunter2\nPORT=5432\nAPI=abc123\n", "DB_PASSWORD"),
    ];
    for (file, text, _) in files {
        repo.sealed_for(file, text, &[&me]);
    }
    repo.fork("base");
    on(&repo, "theirs", || {
        for (file, _, path) in files {
            repo.set(file, path, "theirs-pw");
        }
    });
    on(&repo, "ours", || {
        for (file, _, path) in files {
            repo.set(file, path, "ours-pw");
        }
    });
    let out = repo.merge("theirs");
    assert!(!out.status.success());
    for (file, _, path) in files {
        let text = repo.read(file);
        assert!(text.contains("<<<<<<< "), "{file}: {text}");
        let marker_line = text.lines().position(|l| l.starts_with("<<<<<<<")).unwrap() + 1;
        for args in [
            vec!["get", file, path],
            vec!["decrypt", file],
            vec!["exec", file, "--", "true"],
            vec!["set", file, path, "x"],
            vec!["edit", file],
        ] {
            repo.seal_me()
                .env("SEAL_EDITOR", "true")
                .args(&args)
                .assert()
                .code(1)
                .stderr(predicate::str::contains(format!(
                    "{file}: unresolved git merge conflict at {path} and in seal's metadata block"
                )))
                .stderr(predicate::str::contains(format!("lines {marker_line}-")))
                .stderr(predicate::str::contains(format!(
                    "git checkout --ours {file}"
                )))
                .stderr(predicate::str::contains("seal git setup"))
                .stderr(predicate::str::contains(format!("git checkout -m {file}")))
                .stderr(predicate::str::contains("expect").not())
                .stderr(predicate::str::contains("-pw").not());
        }
        repo.seal_me()
            .args(["check", file])
            .assert()
            .code(1)
            .stdout(predicate::str::contains(format!(
                "{file}: unresolved git merge conflict at {path} and in seal's metadata block"
            )));
    }

    // The hint's way: seal's merge driver for these files, merge again.
    let attrs = repo.read(".gitattributes");
    repo.write(
        ".gitattributes",
        &format!("{attrs}plain/** diff=seal merge=seal\n"),
    );
    for (file, _, path) in files {
        let again = repo.git(&["checkout", "-m", file]);
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
        let plain = repo.decrypt(file);
        // Both candidates as source text (JSON: with their quotes).
        assert!(
            plain.contains("<<<<<<< ours\n")
                && plain.contains("ours-pw")
                && plain.contains("theirs-pw"),
            "{plain}"
        );
        let other = if file.ends_with(".env") {
            "PORT"
        } else {
            "db.port"
        };
        for args in [
            vec!["get", file, path],
            vec!["get", file, other],
            vec!["decrypt", "--extract", other, file],
            vec!["exec", file, "--", "true"],
        ] {
            repo.seal_me()
                .args(&args)
                .assert()
                .code(1)
                .stderr(predicate::str::contains(format!(
                    "{file}: unresolved merge conflict at {path}: it holds both sides' candidates"
                )))
                .stderr(predicate::str::contains(format!("seal edit {file}")))
                .stderr(predicate::str::contains("expect").not())
                .stderr(predicate::str::contains("-pw").not());
        }
    }
}

#[test]
fn toml_files_diff_and_merge_decrypted() {
    let repo = Repo::new();
    let base = "# service\n[database]\nhost = \"localhost\"\npassword = \"hunter2\"\nport = 5432\n\n[api]\nkey = 'abc123'\n";
    branches(&repo, "secrets/app.toml", base);
    // .gitattributes from `seal git setup` covers TOML files.
    assert!(repo.read(".gitattributes").contains("secrets/**/*.toml"));
    on(&repo, "theirs", || {
        repo.set("secrets/app.toml", "database.password", "s3cret");
    });
    repo.git_ok(&["checkout", "-q", "ours"]);
    repo.set("secrets/app.toml", "api.key", "xyz789");
    repo.seal_me()
        .args(["set", "--raw", "secrets/app.toml", "database.pool", "10"])
        .run_ok();
    let diff = repo.git_ok(&["diff"]);
    assert!(
        diff.contains("-key = 'abc123'") && diff.contains("+key = \"xyz789\""),
        "{diff}"
    );
    assert!(diff.contains("+pool = 10"), "{diff}");
    assert!(!diff.contains("seal.v1."), "{diff}");
    repo.commit_all("ours");
    repo.merge_ok("theirs");
    assert_eq!(
        repo.decrypt("secrets/app.toml"),
        "# service\n[database]\nhost = \"localhost\"\npassword = \"s3cret\"\nport = 5432\npool = 10\n\n[api]\nkey = \"xyz789\"\n"
    );
    repo.seal_me().args(["check"]).run_ok();
}
