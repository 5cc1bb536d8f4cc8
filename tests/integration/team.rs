//! Team onboarding and offboarding: `seal recipients`, `updatekeys`,
//! `rotate`, `exposure`, and passphrase-protected identities. Keys come
//! from `seal keygen`, `age-keygen` and `ssh-keygen`; the exposure report
//! runs over a real git history; passphrase prompts run under tmux.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use seal::format::{Format, LeafKind};

use crate::common::{tool, Env, GitRepo, Key, Policy, RunOk};

fn cannot_decrypt(env: &Env, file: &str, key: &Path) {
    env.seal()
        .args(["decrypt", "-i"])
        .arg(key)
        .arg(file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("none of your identities"));
}

/// Every token of a sealed file, by key path.
fn tokens(env: &Env, file: &str) -> BTreeSet<(String, String)> {
    let text = env.read(file);
    let format = Format::from_path(Path::new(file)).unwrap();
    let scan = format.scan(&text).unwrap();
    scan.leaves
        .iter()
        .filter(|l| l.kind == LeafKind::Scalar)
        .filter_map(|l| {
            format
                .token_in(&text[l.span.clone()])
                .map(|t| (l.path.to_string(), t.to_owned()))
        })
        .collect()
}

fn recipients_of(env: &Env, file: &str) -> Vec<String> {
    let format = Format::from_path(Path::new(file)).unwrap();
    seal::document::inspect(format, &env.read(file))
        .unwrap()
        .metadata
        .recipients
        .into_iter()
        .map(|r| r.recipient)
        .collect()
}

const PLAIN_YAML: &str =
    "# app settings\ndb:\n  password: hunter2   # rotate yearly\n  port: 5432\n";
const PLAIN_JSON: &str = "{\n  \"api\": {\"token\": \"tok-123\"},\n  \"debug\": false\n}\n";
const PLAIN_ENV: &str = "export STRIPE_KEY=sk_live_1\nREDIS_URL='redis://x'\n";

/// A team repo: alice (seal keygen) in group `team`, one rule for `team`,
/// three sealed files.
fn team_repo(env: &Env) -> Key {
    let alice = env.keygen("alice");
    env.write(
        ".seal.yaml",
        &format!(
            "# Who can read our secrets.\nrecipients:\n  alice: {}  # lead\n\ngroups:\n  # everyone on the team\n  team: [alice]\n\nrules:\n  - path: \"**\"\n    recipients: [team]\n",
            alice.public
        ),
    );
    for (file, plain) in FILES {
        env.sealed(file, plain);
    }
    alice
}

const FILES: [(&str, &str); 3] = [
    ("config/app.yaml", PLAIN_YAML),
    ("config/api.json", PLAIN_JSON),
    ("prod.env", PLAIN_ENV),
];

/// `seal recipients add NAME KEY --group team -i ADMIN`.
fn add_to_team(env: &Env, admin: &Key, name: &str, key: &str) -> assert_cmd::Command {
    env.seal_as(admin, &["recipients", "add", name, key, "--group", "team"])
}

/// `seal` reading a passphrase from standard input (SEAL_PASSPHRASE_FD=0),
/// which is `stdin`.
fn with_passphrase(env: &Env, stdin: &str) -> assert_cmd::Command {
    let mut cmd = env.seal();
    cmd.env("SEAL_PASSPHRASE_FD", "0").write_stdin(stdin);
    cmd
}

/// The team repo's files under git, with the keys and the private home
/// ignored.
fn team_git(env: &Env) -> GitRepo {
    let repo = GitRepo::init(env, env.dir.path());
    env.write(".gitignore", "*.key\n*.agekey\nhome/\nrun/\n");
    repo
}

/// A removal that meets a file the remover cannot open (no rule covers it)
/// says who can finish it and how; that command, run by a recipient of the
/// file whose .seal.yaml no longer names the leaver, takes the key out.
#[test]
fn a_removal_someone_else_must_finish() {
    let env = Env::new();
    let [alice, bob, carol] = env.keygens(["alice", "bob", "carol"]);
    env.write_policy(
        &Policy::new()
            .recipients(&[("alice", &alice), ("bob", &bob)])
            .rule("team/**", &["alice", "bob"]),
    );
    env.sealed("team/t.yaml", "a: 1\n");
    env.sealed_for("adhoc/c.yaml", "c: 3\n", &[&bob, &carol]);
    let out = env
        .seal_as(&alice, &["recipients", "remove", "bob"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let finish = format!("seal updatekeys --drop-key {} adhoc/c.yaml", bob.public);
    assert!(stderr.contains(&finish), "{stderr}");
    assert!(!stderr.contains("run the same command again"), "{stderr}");
    cannot_decrypt(&env, "team/t.yaml", &bob.identity);

    env.seal_as(
        &carol,
        &["updatekeys", "--drop-key", &bob.public, "adhoc/c.yaml"],
    )
    .assert()
    .success();
    cannot_decrypt(&env, "adhoc/c.yaml", &bob.identity);
    assert_eq!(env.decrypt("adhoc/c.yaml", &carol), "c: 3\n");
}

/// Onboarding gives the newcomer's key to the files their rules name and
/// touches nothing else: a file whose recipients differ from its rule
/// (sealed by hand for one more person) keeps them, byte for byte.
#[test]
fn adding_a_recipient_leaves_other_files_and_people_alone() {
    let env = Env::new();
    let [alice, bob, dave] = env.keygens(["alice", "bob", "dave"]);
    env.write_policy(
        &Policy::new()
            .recipient("alice", &alice)
            .group("ops", &["alice"])
            .rule("prod/**", &["ops"])
            .rule("**", &["alice"]),
    );
    env.sealed("prod/p.yaml", "a: 1\n");
    let drift = env.sealed_for("drift.yaml", "b: 2\n", &[&alice, &dave]);
    let prod_tokens = tokens(&env, "prod/p.yaml");
    env.seal_as(
        &alice,
        &["recipients", "add", "bob", &bob.public, "--group", "ops"],
    )
    .assert()
    .success();
    assert_eq!(
        env.read("drift.yaml"),
        drift,
        "a file bob's rules do not cover changed"
    );
    assert_eq!(tokens(&env, "prod/p.yaml"), prod_tokens);
    assert_eq!(env.decrypt("prod/p.yaml", &bob), "a: 1\n");
    assert_eq!(env.decrypt("drift.yaml", &dave), "b: 2\n");
}

#[test]
fn adding_a_recipient_to_a_group_is_the_whole_onboarding() {
    let env = Env::new();
    let alice = team_repo(&env);
    let bob = env.age_keygen("bob");
    let carol = env.ssh_keygen("carol_ed25519", "ed25519", &[], "");
    let dave = env.ssh_keygen("dave_rsa", "rsa", &["-b", "2048"], "");
    let before: Vec<_> = FILES.iter().map(|(f, _)| tokens(&env, f)).collect();

    add_to_team(&env, &alice, "bob", &bob.public)
        .assert()
        .success()
        .stdout(predicate::str::contains("added bob"))
        .stdout(predicate::str::contains("3 files: 3 updated, 0 rotated"));
    let config = env.read(".seal.yaml");
    assert!(
        config.starts_with("# Who can read our secrets.\n"),
        "{config}"
    );
    assert!(config.contains("# lead") && config.contains("# everyone on the team"));
    assert!(config.contains("bob"), "{config}");

    // carol from her .pub file, dave (ssh-rsa) from standard input.
    let pub_file = format!("{}.pub", carol.identity.display());
    add_to_team(&env, &alice, "carol", &pub_file)
        .assert()
        .success();
    add_to_team(&env, &alice, "dave", "-")
        .write_stdin(format!("{}\n", dave.public))
        .assert()
        .success();

    for ((file, plain), old) in FILES.iter().zip(&before) {
        // Only metadata changed: every token is the same.
        assert_eq!(&tokens(&env, file), old, "{file}");
        for key in [&alice, &bob, &carol, &dave] {
            assert_eq!(env.decrypt(file, key), *plain, "{file}");
        }
    }

    // Listing shows names, types, fingerprints, groups and rules.
    let out = env.seal().arg("recipients").output().unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    for want in [
        "alice",
        "bob",
        "carol",
        "dave",
        "age",
        "ssh-ed25519",
        "ssh-rsa",
        "team",
        "**",
    ] {
        assert!(list.contains(want), "{want}: {list}");
    }
    // The ssh fingerprint is the one ssh-keygen -l prints.
    let fp = tool("ssh-keygen")
        .arg("-lf")
        .arg(format!("{}.pub", carol.identity.display()))
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout);
    let fp = fp.split_whitespace().nth(1).unwrap();
    assert!(list.contains(fp), "{fp}: {list}");
    let json: serde_json::Value = serde_json::from_slice(
        &env.seal()
            .args(["recipients", "--json", "prod.env"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(json["up_to_date"], true, "{json}");
    assert_eq!(json["recipients"].as_array().unwrap().len(), 4);

    // Nothing left to do: files stay byte-identical.
    let snapshot: Vec<String> = FILES.iter().map(|(f, _)| env.read(f)).collect();
    env.seal_as(&alice, &["updatekeys"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 up to date"));
    let again: Vec<String> = FILES.iter().map(|(f, _)| env.read(f)).collect();
    assert_eq!(snapshot, again);
}

#[test]
fn adding_refuses_bad_keys_duplicates_and_unknown_groups() {
    let env = Env::new();
    let alice = team_repo(&env);
    let bob = env.keygen("bob");
    let config = env.read(".seal.yaml");
    let cases: [(&[&str], &str); 5] = [
        (
            &["alice", &bob.public],
            "already a recipient named \"alice\"",
        ),
        (&["bob", "age1notakey"], "invalid recipient"),
        (
            &["bob", &alice.public],
            "already a recipient, named \"alice\"",
        ),
        (&["team", &bob.public], "group name"),
        (
            &["bob", &bob.public, "--group", "nope"],
            "no group \"nope\"",
        ),
    ];
    for (args, message) in cases {
        env.seal()
            .args(["recipients", "add"])
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message))
            .stderr(predicate::str::contains("not changed"));
        assert_eq!(env.read(".seal.yaml"), config);
    }
    // A private key is refused with a hint, never echoed.
    env.seal()
        .args(["recipients", "add", "bob"])
        .arg(&bob.identity)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("private key"))
        .stderr(predicate::str::contains("AGE-SECRET-KEY").not());
}

#[test]
fn removing_a_recipient_rotates_so_their_old_key_opens_nothing_new() {
    let env = Env::new();
    let alice = team_repo(&env);
    let bob = env.age_keygen("bob");
    let carol = env.keygen("carol");
    for (n, k) in [("bob", &bob.public), ("carol", &carol.public)] {
        add_to_team(&env, &alice, n, k).run_ok();
    }
    // bob keeps the data keys he could unwrap with the age CLI.
    let mut kept = Vec::new();
    for (file, _) in FILES {
        let format = Format::from_path(Path::new(file)).unwrap();
        let meta = seal::document::inspect(format, &env.read(file))
            .unwrap()
            .metadata;
        let wrapped = meta
            .recipients
            .iter()
            .find(|r| r.recipient == bob.public)
            .unwrap();
        let armored = env.write("wrapped.age", &wrapped.data_key);
        let out = tool("age")
            .arg("-d")
            .arg("-i")
            .arg(&bob.identity)
            .arg(&armored)
            .output_ok();
        kept.push(seal::crypto::DataKey::from_bytes(&out.stdout).unwrap());
    }
    // The old key opens the file as it is now.
    let format = Format::from_path(Path::new(FILES[0].0)).unwrap();
    assert!(seal::document::open_with_key(format, &env.read(FILES[0].0), kept[0].clone()).is_ok());

    env.seal_as(&alice, &["recipients", "remove", "bob"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rotated"))
        .stderr(predicate::str::contains("removed bob"));
    let config = env.read(".seal.yaml");
    assert!(
        !config.contains("bob") && !config.contains(&bob.public),
        "{config}"
    );
    assert!(config.contains("# lead"), "{config}");

    for ((file, plain), old_key) in FILES.iter().zip(kept) {
        cannot_decrypt(&env, file, &bob.identity);
        let format = Format::from_path(Path::new(file)).unwrap();
        assert!(
            seal::document::open_with_key(format, &env.read(file), old_key).is_err(),
            "{file}: the old data key still opens it"
        );
        assert_eq!(env.decrypt(file, &alice), *plain);
        assert_eq!(env.decrypt(file, &carol), *plain);
        assert!(!recipients_of(&env, file).contains(&bob.public));
    }
}

#[test]
fn removal_is_refused_when_a_rule_or_you_would_be_left_out() {
    let env = Env::new();
    let [alice, bob] = env.keygens(["alice", "bob"]);
    // The catch-all's recipients as a block list: the forced removal below
    // edits that layout too.
    env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  alice: {}\n  bob: {}\nrules:\n  - path: \"bob/**\"\n    recipients: [bob]\n  - path: \"**\"\n    recipients:\n      - alice\n      - bob\n",
            alice.public, bob.public
        ),
    );
    // bob's own file is readable by alice too (sealed by hand), so she can
    // rewrite it once its rule is gone.
    env.sealed_for("bob/x.json", "{\"a\": \"1\"}\n", &[&alice, &bob]);
    env.sealed("all.json", "{\"b\": \"2\"}\n");
    let config = env.read(".seal.yaml");
    env.seal_as(&alice, &["recipients", "remove", "bob"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("rules[0] (bob/**)"))
        .stderr(predicate::str::contains("--force"));
    assert_eq!(env.read(".seal.yaml"), config);

    // Removing yourself where you are the last one left is refused too.
    env.seal_as(&alice, &["recipients", "remove", "alice"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no longer be able to open"));
    assert_eq!(env.read(".seal.yaml"), config);

    // Forced: the empty rule goes, bob/x.json falls to "**" (alice only).
    env.seal_as(&alice, &["recipients", "remove", "bob", "--force"])
        .assert()
        .success()
        .stderr(predicate::str::contains("deleted rule \"bob/**\""));
    for f in ["bob/x.json", "all.json"] {
        assert_eq!(recipients_of(&env, f), vec![alice.public.clone()]);
        cannot_decrypt(&env, f, &bob.identity);
    }
}

#[test]
fn updatekeys_skips_files_it_cannot_open_and_never_damages_them() {
    let env = Env::new();
    let [alice, bob, carol] = env.keygens(["alice", "bob", "carol"]);
    env.write_policy(
        &Policy::new()
            .recipients(&[("alice", &alice), ("bob", &bob), ("carol", &carol)])
            .rule("**", &["alice", "bob"]),
    );
    let mine = env.sealed_for("mine.json", "{\"k\": \"v\"}\n", &[&alice]);
    let theirs = env.sealed_for("theirs.env", "K=v\n", &[&carol]);

    // A dry run writes nothing.
    env.seal_as(&alice, &["updatekeys", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "would update mine.json: added bob",
        ))
        .stdout(predicate::str::contains(
            "would rotate theirs.env: added alice, bob; removed carol",
        ));
    assert_eq!(env.read("mine.json"), mine);

    env.seal_as(&alice, &["updatekeys"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("theirs.env: skipped"))
        .stderr(predicate::str::contains("not one of its recipients"))
        .stdout(predicate::str::contains("updated     mine.json: added bob"));
    assert_eq!(env.read("theirs.env"), theirs);
    assert_eq!(env.decrypt("mine.json", &bob), "{\"k\": \"v\"}\n");

    // carol can do it (she would lose access: refused unless forced).
    env.seal_as(&carol, &["updatekeys", "theirs.env"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("lose access"));
    assert_eq!(env.read("theirs.env"), theirs);
    env.seal_as(&carol, &["updatekeys", "--force", "theirs.env"])
        .assert()
        .success();
    cannot_decrypt(&env, "theirs.env", &carol.identity);
    assert_eq!(env.decrypt("theirs.env", &bob), "K=v\n");
}

#[test]
fn no_rotate_keeps_tokens_and_warns_and_rotate_changes_them_all() {
    let env = Env::new();
    let [alice, bob] = env.keygens(["alice", "bob"]);
    env.write_policy(
        &Policy::new()
            .recipients(&[("alice", &alice), ("bob", &bob)])
            .rule("**", &["alice"]),
    );
    env.sealed_for("s.env", "A=1\nB=2\n", &[&alice, &bob]);
    let before = tokens(&env, "s.env");
    env.seal_as(&alice, &["updatekeys", "--no-rotate"])
        .assert()
        .success()
        .stderr(predicate::str::contains("WARNING"))
        .stderr(predicate::str::contains("seal rotate s.env"));
    assert_eq!(tokens(&env, "s.env"), before);
    cannot_decrypt(&env, "s.env", &bob.identity);

    let recipients = recipients_of(&env, "s.env");
    env.seal_as(&alice, &["rotate", "s.env"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rotated     s.env"));
    let after = tokens(&env, "s.env");
    assert_eq!(after.len(), before.len());
    assert!(after.is_disjoint(&before));
    assert_eq!(recipients_of(&env, "s.env"), recipients);
    assert_eq!(env.decrypt("s.env", &alice), "A=1\nB=2\n");
}

fn exposure_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.seal().arg("exposure").args(args).output_ok();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v = Vec::new();
    for f in report["files"].as_array().unwrap() {
        for val in f["values"].as_array().unwrap() {
            v.push((
                f["file"].as_str().unwrap().to_owned(),
                val["path"].as_str().unwrap().to_owned(),
                val["status"].as_str().unwrap().to_owned(),
            ));
        }
    }
    v.sort();
    v
}

#[test]
fn exposure_report_over_real_git_history() {
    let env = Env::new();
    let repo = team_git(&env);
    let alice = team_repo(&env);
    let config = env.read(".seal.yaml").replace(
        "rules:\n",
        "rules:\n  - path: \"only-alice.json\"\n    recipients: [alice]\n",
    );
    env.write(".seal.yaml", &config);
    env.sealed_for("only-alice.json", "{\"x\": \"never-bob\"}\n", &[&alice]);
    repo.commit_all("start");

    // bob joins in one commit ...
    let bob = env.age_keygen("bob");
    add_to_team(&env, &alice, "bob", &bob.public).run_ok();
    repo.git_ok(&["commit", "-qam", "add bob"]);
    // ... a value changes while he is in ...
    env.seal_as(&alice, &["set", "config/api.json", "api.token", "tok-456"])
        .run_ok();
    repo.git_ok(&["commit", "-qam", "new token"]);

    // ... and leaves in a later one (the report comes with the removal).
    let stdout = env
        .seal_as(&alice, &["recipients", "remove", "bob"])
        .run_ok();
    let table = &stdout[stdout.find("Values bob could decrypt").expect("report")..];
    assert!(
        table.contains("db.password") && table.contains("UNCHANGED"),
        "{table}"
    );
    assert!(table.contains("before this removal"), "{table}");
    assert!(!table.contains("only-alice.json"), "{table}");
    repo.git_ok(&["commit", "-qam", "remove bob"]);

    // One value changes after he left.
    env.seal_as(&alice, &["set", "prod.env", "STRIPE_KEY", "sk_live_2"])
        .run_ok();
    repo.git_ok(&["commit", "-qam", "rotate stripe"]);

    // With a key: plaintexts compared across the rotation.
    let with_key = exposure_json(
        &env,
        &["bob", "--json", "-i", alice.identity.to_str().unwrap()],
    );
    assert_eq!(with_key["source"], "git");
    assert_eq!(
        statuses(&with_key),
        vec![
            (
                "config/api.json".into(),
                "api.token".into(),
                "unchanged".into()
            ),
            ("config/api.json".into(), "debug".into(), "unchanged".into()),
            (
                "config/app.yaml".into(),
                "db.password".into(),
                "unchanged".into()
            ),
            (
                "config/app.yaml".into(),
                "db.port".into(),
                "unchanged".into()
            ),
            ("prod.env".into(), "REDIS_URL".into(), "unchanged".into()),
            ("prod.env".into(), "STRIPE_KEY".into(), "changed".into()),
        ]
    );
    // bob could read two versions of api.token (tok-123, tok-456): only the
    // latest is current, and that is what counts.
    let token = &with_key["files"][0]["values"][0];
    assert_eq!(token["versions"], 2, "{with_key}");

    // Without a key (a fresh home, bob's name resolved from .seal.yaml's
    // history): the rotation changed every token, so it cannot tell.
    let without = exposure_json(&env, &["bob", "--json"]);
    assert!(
        statuses(&without).iter().all(|(_, _, s)| s == "unknown"),
        "{without}"
    );
    assert_eq!(without["keys"][0], bob.public.as_str());

    // A value kept under the same data key is recognised by its token alone.
    let carol = env.keygen("carol");
    add_to_team(&env, &alice, "carol", &carol.public).run_ok();
    repo.git_ok(&["commit", "-qam", "add carol"]);
    let text = env.read(".seal.yaml");
    env.write(
        ".seal.yaml",
        &text
            .replace(&format!("  carol: {}\n", carol.public), "")
            .replace(", carol]", "]"),
    );
    env.seal_as(&alice, &["updatekeys", "--no-rotate"]).run_ok();
    let report = exposure_json(&env, &[&carol.public, "--json"]);
    let st = statuses(&report);
    assert!(
        st.iter()
            .any(|(f, p, s)| f == "prod.env" && p == "REDIS_URL" && s == "unchanged"),
        "{report}"
    );
    let table = env
        .seal()
        .args(["exposure", &carol.public])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("FILE") && table.contains("UNCHANGED: rotate at its source"),
        "{table}"
    );
}

/// A rule made stricter (`encrypt:` selects more) is applied to files
/// sealed under the old one by updatekeys, keeping every token; a rule
/// made looser is not (that would turn sealed values into plaintext).
#[test]
fn updatekeys_applies_a_stricter_selection() {
    let env = Env::new();
    let alice = env.keygen("alice");
    let rules = |patterns: &[&str]| {
        Policy::new()
            .recipient("alice", &alice)
            .rule("k8s/*.yaml", &["alice"])
            .encrypt(patterns)
    };
    env.write_policy(&rules(&["stringData.*"]));
    env.sealed(
        "k8s/s.yaml",
        "metadata:\n  name: app\n  token: t0k\nstringData:\n  pw: p4ss\n",
    );
    let before = tokens(&env, "k8s/s.yaml");
    env.write_policy(&rules(&["stringData.*", "metadata.token"]));
    env.seal().args(["check", "k8s/s.yaml"]).assert().code(1);
    env.seal_as(&alice, &["updatekeys"]).assert().success();
    env.seal().args(["check", "k8s/s.yaml"]).assert().success();
    let sealed = env.read("k8s/s.yaml");
    assert!(
        sealed.contains("name: app") && !sealed.contains("t0k"),
        "{sealed}"
    );
    let after = tokens(&env, "k8s/s.yaml");
    assert!(before.iter().all(|t| after.contains(t)), "a token changed");
    assert_eq!(
        env.decrypt("k8s/s.yaml", &alice),
        "metadata:\n  name: app\n  token: t0k\nstringData:\n  pw: p4ss\n"
    );
    // Looser again: nothing is decrypted into the file.
    env.write_policy(&rules(&["stringData.*"]));
    env.seal_as(&alice, &["updatekeys"]).assert().success();
    assert_eq!(env.read("k8s/s.yaml"), sealed);
}

/// A secret the leaver saw is still to rotate when its file was renamed
/// since, or when it lives on another branch: it is as readable as before.
#[test]
fn exposure_follows_renames_and_other_branches() {
    let env = Env::new();
    let repo = team_git(&env);
    let [alice, carol] = env.keygens(["alice", "carol"]);
    env.write_policy(
        &Policy::new()
            .recipients(&[("alice", &alice), ("carol", &carol)])
            .rule("**", &["alice", "carol"]),
    );
    env.sealed("top.yaml", "other: o1\n");
    repo.commit_all("start");
    repo.git_ok(&["checkout", "-q", "-b", "feature"]);
    env.sealed("feat.yaml", "f: only-on-feature\n");
    repo.commit_all("feature");
    repo.git_ok(&["checkout", "-q", "main"]);
    env.seal_as(&alice, &["recipients", "remove", "carol"])
        .assert()
        .success();
    repo.git_ok(&["commit", "-qam", "remove carol"]);
    repo.git_ok(&["mv", "top.yaml", "config-top.yaml"]);
    repo.git_ok(&["commit", "-qm", "rename"]);

    let report = exposure_json(
        &env,
        &["carol", "--json", "-i", alice.identity.to_str().unwrap()],
    );
    let st = statuses(&report);
    assert!(
        st.contains(&("top.yaml".into(), "other".into(), "unchanged".into())),
        "{report}"
    );
    assert!(
        st.contains(&("feat.yaml".into(), "f".into(), "unchanged".into())),
        "{report}"
    );
}

#[test]
fn interrupted_updatekeys_leaves_valid_files_and_a_rerun_finishes() {
    let env = Env::new();
    let [alice, bob] = env.keygens(["alice", "bob"]);
    let policy = |readers: &[&str]| {
        Policy::new()
            .recipients(&[("alice", &alice), ("bob", &bob)])
            .rule("**", readers)
    };
    env.write_policy(&policy(&["alice", "bob"]));
    let body: String = (0..60)
        .map(|i| format!("  \"key{i}\": \"value {i}\",\n"))
        .collect();
    let plain = format!("{{\n{body}  \"last\": true\n}}\n");
    let n = 120;
    let name = |i: usize| format!("s/f{i:03}.json");
    for i in 0..n {
        env.sealed(&name(i), &plain);
    }
    // Drop bob: every file gets a new data key.
    env.write_policy(&policy(&["alice"]));
    let bin = assert_cmd::cargo::cargo_bin("seal");
    let mut child = Command::new(&bin)
        .current_dir(env.dir.path())
        .env("HOME", env.path("home"))
        .env("XDG_CONFIG_HOME", env.path("home/.config"))
        .env_remove("SEAL_IDENTITY")
        .env_remove("SEAL_IDENTITY_FILE")
        .args(["updatekeys", "-i"])
        .arg(&alice.identity)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = env.path(&name(0));
    let start = Instant::now();
    while !std::fs::read_to_string(&first)
        .unwrap()
        .contains("\"seal\"")
        || std::fs::read_to_string(&first)
            .unwrap()
            .contains(&bob.public)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "updatekeys never wrote"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();

    let mut done = 0;
    for i in 0..n {
        let f = name(i);
        // Every file is old or new, and valid either way.
        assert_eq!(env.decrypt(&f, &alice), plain, "{f}");
        if !recipients_of(&env, &f).contains(&bob.public) {
            done += 1;
        }
    }
    assert!(done >= 1, "nothing was done before the kill");
    assert!(done < n, "the run finished before it could be interrupted");

    env.seal_as(&alice, &["updatekeys"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{} rotated, {} up to date",
            n - done,
            done
        )));
    for i in 0..n {
        let f = name(i);
        assert_eq!(env.decrypt(&f, &alice), plain);
        assert_eq!(recipients_of(&env, &f), vec![alice.public.clone()]);
    }
    cannot_decrypt(&env, &name(n - 1), &bob.identity);
}

/// A tmux session on a private socket running `command`.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(env: &Env, command: &str) -> Tmux {
        let socket = env.path("tmux.sock");
        // A tmux server starting under heavy parallel load occasionally
        // exits before the client connects ("server exited unexpectedly").
        for attempt in 0..5 {
            let out = tool("tmux")
                .arg("-S")
                .arg(&socket)
                .args([
                    "-f",
                    "/dev/null",
                    "new-session",
                    "-d",
                    "-x",
                    "200",
                    "-y",
                    "50",
                    command,
                ])
                .output()
                .unwrap();
            if out.status.success() {
                return Tmux { socket };
            }
            assert!(
                attempt < 4,
                "tmux: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = std::fs::remove_file(&socket);
            std::thread::sleep(Duration::from_millis(200));
        }
        unreachable!()
    }

    fn screen(&self) -> String {
        let out = tool("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["capture-pane", "-p", "-S", "-100"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "waiting for {text:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_line(&self, text: &str) {
        // The prompt is printed just before echo is turned off: a human
        // never types within that instant, a script can.
        std::thread::sleep(Duration::from_millis(300));
        let status = tool("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["send-keys", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
        tool("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["send-keys", "Enter"])
            .status()
            .unwrap();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

fn shell_command(env: &Env, args: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("seal");
    format!(
        "cd '{}' && env -u SEAL_IDENTITY -u SEAL_IDENTITY_FILE -u SEAL_PASSPHRASE_FD -u PINENTRY_PROGRAM HOME='{}' XDG_CONFIG_HOME='{}' '{}' {args}; echo \"EXIT=$?\"; sleep 60",
        env.dir.path().display(),
        env.path("home").display(),
        env.path("home/.config").display(),
        bin.display()
    )
}

#[test]
fn passphrase_protected_identity_under_a_terminal() {
    let env = Env::new();
    let passphrase = "correct horse battery";
    // keygen --passphrase: asked twice, never echoed.
    let tmux = Tmux::start(
        &env,
        &shell_command(&env, "keygen --passphrase -o prot.key"),
    );
    tmux.wait_for("Passphrase to protect the new identity");
    tmux.type_line(passphrase);
    tmux.wait_for("Repeat the passphrase");
    tmux.type_line(passphrase);
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains(passphrase),
        "the passphrase was echoed:\n{screen}"
    );
    drop(tmux);
    let key_text = env.read("prot.key");
    assert!(
        key_text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{key_text}"
    );
    assert!(!key_text.contains("AGE-SECRET-KEY"));
    let public = screen
        .lines()
        .find(|l| l.trim().starts_with("age1"))
        .unwrap()
        .trim()
        .to_owned();
    let protected = Key {
        identity: env.path("prot.key"),
        public: public.clone(),
    };
    env.sealed_for("s.env", "PASSWORD=hunter2\n", &[&protected]);

    // Right passphrase on the terminal.
    let tmux = Tmux::start(&env, &shell_command(&env, "get -i prot.key s.env PASSWORD"));
    tmux.wait_for("Passphrase for identity file prot.key");
    tmux.type_line(passphrase);
    let screen = tmux.wait_for("EXIT=");
    assert!(
        screen.contains("hunter2") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert!(!screen.contains(passphrase), "{screen}");
    drop(tmux);

    // Wrong passphrase: a clear error.
    let tmux = Tmux::start(&env, &shell_command(&env, "get -i prot.key s.env PASSWORD"));
    tmux.wait_for("Passphrase for identity file prot.key");
    tmux.type_line("wrong one");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(
        screen.contains("wrong passphrase for identity file prot.key"),
        "{screen}"
    );
    assert!(
        !screen.contains("hunter2") && !screen.contains("wrong one"),
        "{screen}"
    );
    drop(tmux);

    // SEAL_PASSPHRASE_FD, here standard input (fd 0); no terminal needed.
    with_passphrase(&env, &format!("{passphrase}\n"))
        .args(["get", "-i", "prot.key", "s.env", "PASSWORD"])
        .assert()
        .success()
        .stdout("hunter2\n");
    with_passphrase(&env, &format!("{passphrase}\n"))
        .args(["keygen", "-y", "prot.key"])
        .assert()
        .success()
        .stdout(format!("{public}\n"));
    with_passphrase(&env, "nope\n")
        .args(["get", "-i", "prot.key", "s.env", "PASSWORD"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("wrong passphrase"))
        .stderr(predicate::str::contains("nope").not());
    // No terminal and no SEAL_PASSPHRASE_FD: says how to give it.
    env.seal()
        .args(["get", "-i", "prot.key", "s.env", "PASSWORD"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SEAL_PASSPHRASE_FD"));
}

/// A passphrase-protected OpenSSH key takes its passphrase the way a
/// protected age identity does: from SEAL_PASSPHRASE_FD, and without it
/// and a terminal, an error that says so (not "none of your identities").
#[test]
fn a_protected_ssh_key_reads_its_passphrase_like_any_identity() {
    let env = Env::new();
    let Key { identity, public } = env.ssh_keygen("id_pw", "ed25519", &[], "ssh-pass-1");
    env.write("plain.env", "A=1\n");
    env.seal()
        .args(["encrypt", "-r", &public, "-o", "s.env", "plain.env"])
        .assert()
        .success();
    // `seal get -i id_pw s.env A`
    let get_a = |stdin: Option<&str>| {
        let mut cmd = match stdin {
            Some(text) => with_passphrase(&env, text),
            None => env.seal(),
        };
        cmd.args(["get", "-i"]).arg(&identity).args(["s.env", "A"]);
        cmd
    };
    get_a(Some("ssh-pass-1\n")).assert().success().stdout("1\n");
    get_a(None)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SEAL_PASSPHRASE_FD"))
        .stderr(predicate::str::contains("none of your identities").not());
    get_a(Some("wrong\n"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("wrong passphrase"))
        .stderr(predicate::str::contains("id_pw"));
}

/// The default identity file is optional: a broken one, or a protected one
/// that is not a recipient, does not stand in the way of a key given with
/// -i, whatever the order of the file's recipients.
#[test]
fn the_default_identity_never_blocks_an_explicit_one() {
    let env = Env::new();
    let [mate, good] = env.keygens(["mate", "good"]);
    env.write("plain.yaml", "a: 1\n");
    env.seal()
        .args([
            "encrypt",
            "-r",
            &mate.public,
            "-r",
            &good.public,
            "-o",
            "s.yaml",
            "plain.yaml",
        ])
        .assert()
        .success();
    // `seal get -i good.key s.yaml a`
    let get_with_good = || {
        let mut cmd = env.seal();
        cmd.args(["get", "-i"])
            .arg(&good.identity)
            .args(["s.yaml", "a"]);
        cmd
    };
    let default = env.path("home/.config/seal/identity.txt");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::write(&default, "junk\n").unwrap();
    get_with_good().assert().success().stdout("1\n");
    // Without -i the broken default file is still an error that names it.
    env.seal()
        .args(["get", "s.yaml", "a"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("identity.txt"));
    // A passphrase-protected default identity (not a recipient) is not
    // asked for when -i opens the file: no terminal, no passphrase given.
    std::fs::remove_file(&default).unwrap();
    let made = with_passphrase(&env, "pass-phrase-1\npass-phrase-1\n")
        .args(["keygen", "--passphrase"])
        .output()
        .unwrap();
    assert!(made.status.success());
    assert!(default.exists());
    // The same identity un-armored (as `age -p` writes it without -a):
    // keygen -y reads it too.
    use base64::Engine as _;
    let armored = std::fs::read_to_string(&default).unwrap();
    let body: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let binary = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    std::fs::write(env.path("binary.age"), binary).unwrap();
    with_passphrase(&env, "pass-phrase-1\n")
        .args(["keygen", "-y", "binary.age"])
        .assert()
        .success()
        .stdout(String::from_utf8(made.stdout).unwrap());
    get_with_good().assert().success().stdout("1\n");
}

#[test]
fn a_passphrase_recipient_for_break_glass_recovery() {
    let env = Env::new();
    let alice = env.keygen("alice");
    env.write_policy(
        &Policy::new()
            .recipient("alice", &alice)
            .recipient_value("recovery", "\"scrypt:break-glass\"")
            .rule("**", &["alice", "recovery"]),
    );
    env.write("s.json", "{\"root\": \"pw\"}\n");
    with_passphrase(&env, "offline secret\n")
        .args(["encrypt", "--in-place", "s.json"])
        .assert()
        .success();
    assert!(recipients_of(&env, "s.json").contains(&"scrypt:break-glass".to_owned()));
    // Recovery with the passphrase alone, no identity file at all.
    with_passphrase(&env, "offline secret\n")
        .args(["decrypt", "--passphrase", "s.json"])
        .assert()
        .success()
        .stdout("{\"root\": \"pw\"}\n");
    with_passphrase(&env, "guess\n")
        .args(["decrypt", "--passphrase", "s.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("wrong passphrase"));
    // Adding someone keeps the passphrase wrap as it is: no passphrase needed.
    let bob = env.keygen("bob");
    env.seal_as(&alice, &["recipients", "add", "bob", &bob.public])
        .assert()
        .success();
    let text = env.read(".seal.yaml");
    env.write(
        ".seal.yaml",
        &text.replace("[alice, recovery]", "[alice, recovery, bob]"),
    );
    env.seal_as(&alice, &["updatekeys"]).assert().success();
    assert_eq!(env.decrypt("s.json", &bob), "{\"root\": \"pw\"}\n");
    let list = env.seal().args(["recipients", "s.json"]).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("recovery") && list.contains("scrypt"),
        "{list}"
    );
}

/// A sealed file restored from before an offboarding still opens for the
/// person who left: `seal check` (no key needed) compares each file's
/// recipients with its rule and names who is there and should not be, and
/// who should be there and is not; `--fix-hint` prints the command.
#[test]
fn check_names_recipients_a_file_has_and_its_rule_does_not() {
    let env = Env::new();
    let alice = team_repo(&env);
    let bob = env.keygen("bob");
    add_to_team(&env, &alice, "bob", &bob.public).run_ok();
    let repo = team_git(&env);
    repo.commit_all("bob joins");
    env.seal().arg("check").assert().success();
    env.seal_as(&alice, &["recipients", "remove", "bob"])
        .run_ok();
    repo.commit_all("bob leaves");
    env.seal().arg("check").assert().success();

    // prod.env comes back from the commit before bob left.
    repo.git_ok(&["checkout", "HEAD~1", "--", "prod.env"]);
    assert!(env.decrypt("prod.env", &bob).contains("STRIPE_KEY"));
    let bob_short = &bob.public[..10];
    let out = env.seal().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("prod.env: wrapped for {bob_short}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("whom its rule (**) does not name"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--fix-hint"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The pre-commit check of what is staged notices it too.
    repo.git_ok(&["add", "prod.env"]);
    env.seal()
        .args(["check", "--staged"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("prod.env: wrapped for"));

    // Someone the rule names who is missing: added to .seal.yaml by hand.
    let carol = env.keygen("carol");
    let policy = env
        .read(".seal.yaml")
        .replace("  team: [alice]", "  team: [alice, carol]")
        .replace(
            "recipients:\n",
            &format!("recipients:\n  carol: {}\n", carol.public),
        );
    env.write(".seal.yaml", &policy);
    let out = env.seal().args(["check", "--fix-hint"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (file, _) in FILES {
        assert!(
            stdout.contains(&format!(
                "{file}: not wrapped for carol, whom its rule (**) names"
            )),
            "{stdout}"
        );
    }
    let command = stdout.lines().last().unwrap();
    assert_eq!(
        command, "seal updatekeys config/api.json config/app.yaml prod.env",
        "{stdout}"
    );

    // Running it fixes every file: bob is out (a new data key), carol in.
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    env.seal_as(&alice, &args).run_ok();
    env.seal().arg("check").assert().success();
    cannot_decrypt(&env, "prod.env", &bob.identity);
    assert!(env.decrypt("prod.env", &carol).contains("STRIPE_KEY"));

    // A recipient still named in .seal.yaml but no longer by the rule is
    // shown by name.
    env.write(
        ".seal.yaml",
        &policy.replace("recipients: [team]", "recipients: [alice]"),
    );
    env.seal()
        .args(["check", "prod.env"])
        .assert()
        .code(1)
        .stdout(
        "prod.env: wrapped for carol, whom its rule (**) does not name: they can still open it\n",
    );
}
