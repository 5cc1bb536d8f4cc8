//! `seal log` in a real repository: key paths added, changed and removed
//! per commit, across a rename, a merge, a rotation, a recipient added and
//! a rollback, with signers; `--json`, `PATH` and `--since`.

use crate::common::{Env, GitRepo, Key, RunOk};

struct Repo {
    env: Env,
    me: Key,
    alice: Key,
    mallory: Key,
    git: GitRepo,
}

impl Repo {
    fn new() -> Repo {
        let env = Env::new();
        let me = env.keygen("me");
        let alice = env.ssh_keygen("alice", "ed25519", &[], "");
        let mallory = env.ssh_keygen("mallory", "ed25519", &[], "");
        let git = GitRepo::init(&env, &env.path("repo")).with_identity(&me);
        git.write(
            ".seal.yaml",
            &format!(
                "recipients:\n  me: {}\ngroups:\n  team: [me]\nsigners:\n  alice: {}\nrules:\n  - path: \"secrets/**\"\n    recipients: [team]\n",
                me.public, alice.public
            ),
        );
        let repo = Repo {
            env,
            me,
            alice,
            mallory,
            git,
        };
        let seal = assert_cmd::cargo::cargo_bin("seal");
        repo.seal(None)
            .args(["git", "setup", "--program"])
            .arg(seal)
            .run_ok();
        repo
    }

    /// `seal ARGS` in the repository as `me`, signing with `signer`.
    fn seal(&self, signer: Option<&Key>) -> assert_cmd::Command {
        let mut cmd = self.env.seal();
        cmd.current_dir(&self.git.root)
            .env("SEAL_IDENTITY_FILE", &self.me.identity);
        if let Some(k) = signer {
            cmd.env("SEAL_SIGNING_KEY", &k.identity);
        }
        cmd
    }

    fn commit(&self, message: &str) -> String {
        self.git.commit_all(message);
        self.git.git_ok(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    fn log_json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let out = self.seal(None).arg("log").arg("--json").args(args).run_ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn log_across_a_rename_a_merge_a_rotation_and_a_rollback() {
    let r = Repo::new();
    let g = &r.git;
    g.write("secrets/app.yaml", "db:\n  user: app\n  password: one\n");
    r.seal(Some(&r.alice))
        .args(["encrypt", "--in-place", "secrets/app.yaml"])
        .run_ok();
    g.git_ok(&["add", "-A"]);
    g.git_ok(&[
        "commit",
        "-q",
        "-m",
        "create",
        "--author",
        "alice <alice@example.com>",
    ]);
    let created = g.git_ok(&["rev-parse", "HEAD"]).trim().to_owned();
    r.seal(Some(&r.mallory))
        .args(["set", "secrets/app.yaml", "db.password", "two"])
        .run_ok();
    let changed = r.commit("change the password");
    g.git_ok(&["mv", "secrets/app.yaml", "secrets/prod.yaml"]);
    let renamed = r.commit("rename");
    g.git_ok(&["checkout", "-q", "-b", "side"]);
    r.seal(Some(&r.alice))
        .args(["set", "secrets/prod.yaml", "db.host", "db.internal"])
        .run_ok();
    r.commit("side adds the host");
    g.git_ok(&["checkout", "-q", "main"]);
    r.seal(Some(&r.alice))
        .args(["unset", "secrets/prod.yaml", "db.user"])
        .run_ok();
    r.commit("main removes the user");
    // The merge driver signs the file it writes, with the key git's
    // environment gives it.
    let merge = g
        .git_command(Some(&r.me), &["merge", "--no-edit", "-q", "side"])
        .env("SEAL_SIGNING_KEY", &r.alice.identity)
        .output()
        .unwrap();
    assert!(
        merge.status.success(),
        "{}",
        String::from_utf8_lossy(&merge.stderr)
    );
    let merged = g.git_ok(&["rev-parse", "HEAD"]).trim().to_owned();
    r.seal(Some(&r.alice))
        .args(["rotate", "secrets/prod.yaml"])
        .run_ok();
    let rotated = r.commit("rotate");
    let bob = r.env.keygen("bob");
    r.seal(Some(&r.alice))
        .args(["recipients", "add", "bob", &bob.public, "--group", "team"])
        .run_ok();
    let added = r.commit("add bob");
    let old = g.git_ok(&["show", &format!("{changed}:secrets/app.yaml")]);
    g.write("secrets/prod.yaml", &old);
    let rolled_back = r.commit("roll back");

    let log = r.log_json(&["secrets/prod.yaml"]);
    let commits: Vec<&str> = log.iter().map(|e| e["commit"].as_str().unwrap()).collect();
    assert_eq!(log.len(), 9, "{commits:?}");
    let entry = |hash: &str| {
        log.iter()
            .find(|e| e["commit"] == hash)
            .unwrap_or_else(|| panic!("no entry for {hash}"))
    };
    // Newest first.
    assert_eq!(commits[0], rolled_back);
    assert_eq!(*commits.last().unwrap(), created);

    let e = entry(&created);
    assert_eq!(e["change"], "created");
    assert_eq!(strings(&e["added"]), ["db.user", "db.password"]);
    assert_eq!(e["recipients_added"][0]["name"], "me");
    assert_eq!(e["author"]["name"], "alice");
    assert_eq!(e["signature"]["status"], "valid");
    assert_eq!(e["signature"]["signer_name"], "alice");
    assert_eq!(e["signature"]["is_author"], true);

    let e = entry(&changed);
    assert_eq!(strings(&e["changed"]), ["db.password"]);
    assert!(strings(&e["added"]).is_empty() && strings(&e["removed"]).is_empty());
    assert_eq!(e["signature"]["trusted"], false);
    assert_eq!(e["signature"]["signer"], r.mallory.public.as_str());
    assert_eq!(e["file"], "secrets/app.yaml");

    let e = entry(&renamed);
    assert_eq!(e["file"], "secrets/prod.yaml");
    assert_eq!(e["renamed_from"], "secrets/app.yaml");
    assert!(strings(&e["changed"]).is_empty());

    let e = entry(&merged);
    assert_eq!(e["parents"].as_array().unwrap().len(), 2);
    // Against its first parent (main): what the side branch brought.
    assert_eq!(strings(&e["added"]), ["db.host"]);
    assert!(strings(&e["removed"]).is_empty());
    assert_eq!(e["signature"]["signer_name"], "alice");

    let e = entry(&rotated);
    assert_eq!(e["rotated"], true);
    assert!(strings(&e["changed"]).is_empty());

    let e = entry(&added);
    assert_eq!(e["recipients_added"][0]["name"], "bob");
    assert_eq!(e["rotated"], false);
    assert!(strings(&e["changed"]).is_empty(), "{e}");

    // The rollback: exactly the file as the password change left it, whose
    // signature still verifies.
    let e = entry(&rolled_back);
    assert_eq!(e["restores"], changed.as_str());
    assert_eq!(e["signature"]["status"], "valid");
    assert_eq!(strings(&e["added"]), ["db.user"]);
    assert_eq!(strings(&e["removed"]), ["db.host"]);
    assert_eq!(e["recipients_removed"][0]["name"], "bob");

    let text = r.seal(None).args(["log", "secrets/prod.yaml"]).run_ok();
    for line in [
        "  secrets/prod.yaml: modified, renamed from secrets/app.yaml\n",
        "  secrets/app.yaml: modified\n    ~ db.password\n    signed by an untrusted key (not in signers): SHA256:",
        &format!("commit {merged} (merge)\n"),
        "    + db.host\n",
        "    data key rotated",
        "    recipients: +bob\n",
        &format!("    restores the file as commit {}", &changed[..12]),
        "    signed by alice, who is not the author\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // The creation was signed by its author: nothing to say.
    let created_part = text.split(&format!("commit {created}")).nth(1).unwrap();
    assert!(!created_part.contains("signed by"), "{created_part}");

    // One key path: the commits that touched it (and rotations).
    let password = r.log_json(&["secrets/prod.yaml", "db.password"]);
    let touched: Vec<&str> = password
        .iter()
        .map(|e| e["commit"].as_str().unwrap())
        .collect();
    assert!(touched.contains(&created.as_str()) && touched.contains(&changed.as_str()));
    assert!(touched.contains(&rotated.as_str()));
    assert!(!touched.contains(&merged.as_str()) && !touched.contains(&renamed.as_str()));

    assert!(r
        .log_json(&["--since", "2090-01-01", "secrets/prod.yaml"])
        .is_empty());
    assert_eq!(
        r.log_json(&["--since", "2000-01-01", "secrets/prod.yaml"])
            .len(),
        9
    );
    // Without FILE: every sealed file, under the path it had.
    let all = r.log_json(&[]);
    assert!(all
        .iter()
        .any(|e| e["file"] == "secrets/app.yaml" && e["commit"] == changed.as_str()));
    assert!(all.iter().all(|e| e["file"] != ".seal.yaml"));
}

#[test]
fn log_outside_git_and_bad_paths_fail_clearly() {
    let env = Env::new();
    let out = env.seal().args(["log"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a git repository"));
    // A repository without commits has no history yet.
    let r = Repo::new();
    assert!(r.log_json(&[]).is_empty());
    let out = r.seal(None).args(["log", "x.yaml", ""]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
