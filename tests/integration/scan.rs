//! `seal scan`: plaintext secrets in files, the index and the history,
//! through the real binary; the pre-commit hooks with the real
//! `pre-commit` tool.

use std::path::Path;

use predicates::prelude::*;

use crate::common::{tool, Env, GitRepo, Policy};

/// A deterministic random-looking string: tests hold no literal secrets,
/// or scanning seal's own tree would report them.
fn random(seed: u64, len: usize) -> String {
    const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            B62[((x >> 33) % 62) as usize] as char
        })
        .collect()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir` with its bytes, to show a scan changed nothing.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if e.file_type().unwrap().is_file() {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn scan_reports_tokens_and_assignments_masked() {
    let env = Env::new();
    let ghp = format!("ghp_{}", random(1, 36));
    let ant = format!("sk-ant-api03-{}AA", random(2, 93));
    let pw = random(3, 20);
    env.write(
        "app.py",
        &format!("import os\nclient = Client(\"{ant}\")\n"),
    );
    env.write(
        "config/dev.yaml",
        &format!("db:\n  host: localhost\n  password: {pw}\n"),
    );
    env.write(".env", &format!("GITHUB_TOKEN={ghp}\nDEBUG=1\n"));
    env.write("README.md", "Set ANTHROPIC_API_KEY=sk-ant-... first.\n");
    let before = snapshot(env.dir.path());
    let out = env.seal().arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let stdout = stdout_of(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    let wanted = [
        ".env:1:14: github: ghp_",
        "app.py:2:18: anthropic: sk-ant",
        "config/dev.yaml:3:13: secret-assignment: ",
    ];
    assert_eq!(lines.len(), wanted.len(), "{stdout}");
    for (line, want) in lines.iter().zip(wanted) {
        assert!(line.starts_with(want), "{line} should start with {want}");
    }
    assert!(stdout.contains("ghp_"), "{stdout}");
    assert!(
        stdout.contains(&format!("[{} chars]", ghp.len())),
        "{stdout}"
    );
    let all = all_output(&out);
    for secret in [&ghp[6..], &ant[6..], &pw[6..]] {
        assert!(!all.contains(secret), "a secret leaked: {all}");
    }
    assert!(all.contains("3 possible secret(s) in 3 file(s)"), "{all}");
    assert_eq!(snapshot(env.dir.path()), before, "scan changed files");

    // --json: the documented fields.
    let out = env
        .seal()
        .args(["scan", "--json", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "file": "config/dev.yaml",
            "line": 3,
            "column": 13,
            "rule": "secret-assignment",
            "match": format!("{}… [20 chars]", &pw[..6]),
        }])
    );

    // A clean file: exit 0, and an empty JSON array.
    env.seal()
        .args(["scan", "--json", "README.md"])
        .assert()
        .success()
        .stdout("[]\n")
        .stderr(predicate::str::contains("no secrets found in 1 file(s)"));
}

#[test]
fn scan_skips_placeholders_sealed_binary_allowed_and_large_files() {
    let env = Env::new();
    let key = env.keygen("me");
    env.write_policy(
        &Policy::new()
            .recipient("me", &key)
            .rule("secrets/**", &["me"]),
    );
    // scan.allow: added to the policy written above.
    let policy = env.read(".seal.yaml");
    env.write(
        ".seal.yaml",
        &format!("{policy}scan:\n  allow: [\"fixtures/**\"]\n"),
    );
    let secret = random(10, 24);
    env.write(
        "placeholders.env",
        "API_KEY=your_api_key_here\nANTHROPIC_API_KEY=sk-ant-...\nTOKEN=<token>\nPASSWORD=changeme\n",
    );
    env.write(
        "secrets/prod.yaml",
        &format!("password: {secret}\napi_key: {}\n", random(11, 32)),
    );
    env.seal()
        .args(["encrypt", "--in-place", "secrets/prod.yaml"])
        .assert()
        .success();
    env.write(
        "secrets/prod.env",
        &format!("TOKEN=ghp_{}\n", random(12, 36)),
    );
    env.seal()
        .args(["encrypt", "--in-place", "secrets/prod.env"])
        .assert()
        .success();
    env.write(
        "fixtures/test.env",
        &format!("TOKEN=ghp_{}\n", random(13, 36)),
    );
    env.write(
        "allowed.yaml",
        &format!("token: {} # seal:allow (a test fixture)\n", random(14, 30)),
    );
    std::fs::create_dir_all(env.path(".git")).unwrap();
    env.write(
        ".git/config.env",
        &format!("TOKEN=ghp_{}\n", random(15, 36)),
    );
    let mut binary = b"\x89PNG\r\n\x1a\n\x00\x00".to_vec();
    binary.extend(format!("ghp_{}", random(16, 36)).as_bytes());
    std::fs::write(env.path("logo.png"), binary).unwrap();
    let mut big = format!("password: {}\n", random(17, 24));
    big.push_str(&"x".repeat(3 * 1024 * 1024));
    env.write("dump.sql", &big);

    // The one finding: the identity `seal keygen` wrote for this test.
    let out = env.seal().arg("scan").output().unwrap();
    let all = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        stdout_of(&out).starts_with("me.key:3:1: age-secret-key: AGE-SE… [74 chars]\n")
            && stdout_of(&out).lines().count() == 1,
        "{all}"
    );
    assert!(
        all.contains("seal: note: dump.sql: skipped: ") && all.contains("over the 2 MiB limit"),
        "{all}"
    );
    std::fs::remove_file(&key.identity).unwrap();
    env.seal()
        .arg("scan")
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("no secrets found"));
}

#[test]
fn scan_history_finds_a_removed_secret_once() {
    let env = Env::new();
    let repo = GitRepo::init(&env, &env.path("repo"));
    let token = format!("glpat-{}", random(20, 20));
    repo.write(
        "deploy.sh",
        &format!("#!/bin/sh\ncurl -H \"PRIVATE-TOKEN: {token}\" x\n"),
    );
    repo.write("copy/deploy.sh", &repo.read("deploy.sh"));
    repo.commit_all("add deploy");
    let leaked_in = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_owned();
    repo.write(
        "deploy.sh",
        "#!/bin/sh\ncurl -H \"PRIVATE-TOKEN: $GITLAB_TOKEN\" x\n",
    );
    std::fs::remove_dir_all(repo.path("copy")).unwrap();
    repo.commit_all("use the environment");

    let scan = |args: &[&str]| {
        let mut cmd = env.seal();
        cmd.current_dir(&repo.root).arg("scan").args(args);
        cmd.output().unwrap()
    };
    let now = scan(&[]);
    assert_eq!(now.status.code(), Some(0), "{}", all_output(&now));

    let out = scan(&["--history"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let stdout = stdout_of(&out);
    // The same blob under two paths is scanned (and reported) once.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!("{}:", &leaked_in[..12]))
            && stdout.contains(":2:25: gitlab: glpat-"),
        "{stdout}"
    );
    assert!(!all_output(&out).contains(&token[8..]));

    let json = scan(&["--history", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json[0]["commit"], leaked_in.as_str());
    assert_eq!(json[0]["rule"], "gitlab");

    // A range: only what it adds.
    assert_eq!(scan(&["--history", "HEAD~1..HEAD"]).status.code(), Some(0));
    assert_eq!(scan(&["--history", "HEAD"]).status.code(), Some(1));
    let bad = scan(&["--history", "no-such-branch"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        all_output(&bad).contains("--history: "),
        "{}",
        all_output(&bad)
    );
    let dash = scan(&["--history=--output=x"]);
    assert_eq!(dash.status.code(), Some(2), "{}", all_output(&dash));
    assert!(!repo.path("x").exists());
}

#[test]
fn git_scans_skip_a_blob_over_the_limit_and_read_the_ones_after_it() {
    // A blob over the size limit is drained from `git cat-file`'s stream
    // unread; the next blob must still be read whole, from its own header.
    let env = Env::new();
    let repo = GitRepo::init(&env, &env.path("repo"));
    let mut big = format!("password: {}\n", random(30, 24));
    big.push_str(&"x".repeat(3 * 1024 * 1024));
    repo.write("a-dump.sql", &big);
    let token = format!("glpat-{}", random(31, 20));
    repo.write("z-deploy.sh", &format!("TOKEN={token}\n"));
    repo.git_ok(&["add", "-A"]);
    let scan = |args: &[&str]| {
        let mut cmd = env.seal();
        cmd.current_dir(&repo.root).arg("scan").args(args);
        cmd.output().unwrap()
    };
    let check = |out: &std::process::Output, what: &str| {
        let all = all_output(out);
        assert_eq!(out.status.code(), Some(1), "{what}: {all}");
        assert_eq!(stdout_of(out).lines().count(), 1, "{what}: {all}");
        assert!(stdout_of(out).contains(": gitlab: glpat-"), "{what}: {all}");
        assert!(
            all.contains("a-dump.sql") && all.contains("over the 2 MiB limit"),
            "{what}: {all}"
        );
        assert!(!all.contains(&token[8..]), "{what}: {all}");
    };
    check(&scan(&["--staged"]), "--staged");
    repo.commit_all("add both");
    check(&scan(&["--history"]), "--history");
}

#[test]
fn scan_staged_reads_the_index_and_the_hook_runs_it() {
    let env = Env::new();
    let repo = GitRepo::init(&env, &env.path("repo"));
    repo.write("README.md", "hello\n");
    repo.commit_all("init");
    env.seal()
        .current_dir(&repo.root)
        .args(["git", "setup", "--hook", "--program"])
        .arg(assert_cmd::cargo::cargo_bin("seal"))
        .assert()
        .success();
    let hook = repo.read(".git/hooks/pre-commit");
    assert!(
        hook.contains("check --staged || exit 1") && hook.contains("scan --staged"),
        "{hook}"
    );

    let key = format!("AIza{}", random(30, 35));
    repo.write("web/main.js", &format!("const maps = \"{key}\";\n"));
    repo.git_ok(&["add", "web/main.js"]);
    // The index holds the key even once the work tree no longer does.
    repo.write("web/main.js", "const maps = process.env.MAPS_KEY;\n");
    let staged = env
        .seal()
        .current_dir(&repo.root)
        .args(["scan", "--staged"])
        .output()
        .unwrap();
    assert_eq!(staged.status.code(), Some(1), "{}", all_output(&staged));
    assert!(stdout_of(&staged).starts_with("web/main.js:1:15: google-api-key: AIza"));
    env.seal()
        .current_dir(&repo.root)
        .args(["scan", "web"])
        .assert()
        .success();

    let commit = repo.git(&["commit", "-q", "-m", "maps"]);
    assert!(!commit.status.success(), "the hook must refuse");
    let said = all_output(&commit);
    assert!(said.contains("web/main.js:1:15: google-api-key"), "{said}");
    assert!(!said.contains(&key[6..]), "{said}");
    repo.git_ok(&["add", "web/main.js"]);
    repo.git_ok(&["commit", "-q", "-m", "maps from the environment"]);

    // A name git cat-file cannot take is named, not silently passed.
    repo.write("odd\nname.env", "A=1\n");
    repo.git_ok(&["add", "-A"]);
    let odd = env
        .seal()
        .current_dir(&repo.root)
        .args(["scan", "--staged"])
        .output()
        .unwrap();
    assert_eq!(odd.status.code(), Some(1));
    assert!(
        all_output(&odd).contains("a newline in the file name; not scanned"),
        "{}",
        all_output(&odd)
    );
}

/// A hook written by an older seal (check only) is brought up to date.
#[test]
fn git_setup_hook_upgrades_a_check_only_hook() {
    let env = Env::new();
    let repo = GitRepo::init(&env, &env.path("repo"));
    let old = "#!/bin/sh\n# seal: pre-commit hook (written by `seal git setup --hook`)\nexec seal check --staged\n";
    repo.write(".git/hooks/pre-commit", old);
    env.seal()
        .current_dir(&repo.root)
        .args(["git", "setup", "--hook"])
        .assert()
        .success()
        .stderr(predicate::str::contains("installed"));
    let hook = repo.read(".git/hooks/pre-commit");
    assert!(
        hook.ends_with("seal check --staged || exit 1\nexec seal scan --staged\n"),
        "{hook}"
    );
}

#[test]
fn scan_bad_input_gets_notes_and_errors_never_a_crash() {
    let env = Env::new();
    let pw = random(40, 24);
    let mut latin1 = b"# caf\xe9\n".to_vec();
    latin1.extend(format!("password = \"{pw}\"\n").as_bytes());
    std::fs::write(env.path("latin1.conf"), latin1).unwrap();
    let long = format!(
        "{};var token=\"ghp_{}\";\n",
        "a=1".repeat(30_000),
        random(41, 36)
    );
    env.write("bundle.min.js", &long);
    let before = snapshot(env.dir.path());
    let out = env.seal().arg("scan").output().unwrap();
    let all = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("seal: note: latin1.conf: not valid UTF-8; scanned as bytes"),
        "{all}"
    );
    assert!(all.contains("latin1.conf:2:13: secret-assignment"), "{all}");
    assert!(
        all.contains("seal: note: bundle.min.js:1: 1 line(s) longer than 64 KiB"),
        "{all}"
    );
    assert!(all.contains("bundle.min.js:1:90013: github"), "{all}");
    assert_eq!(snapshot(env.dir.path()), before);

    // An unreadable file is named, the rest is scanned, and the exit is 1.
    env.write("ok.txt", "fine\n");
    let out = env
        .seal()
        .args(["scan", "ok.txt", "/proc/self/mem"])
        .output()
        .unwrap();
    let all = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("seal: note: /proc/self/mem: cannot read: "),
        "{all}"
    );
    assert!(all.contains("1 file(s) could not be read"), "{all}");

    env.seal()
        .args(["scan", "missing.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "missing.txt: no such file or directory",
        ));
    for flag in ["--staged", "--history"] {
        env.seal()
            .args(["scan", flag])
            .env("GIT_CEILING_DIRECTORIES", env.dir.path().parent().unwrap())
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "{flag}: not in a git repository"
            )));
    }
}

#[test]
fn scan_allow_errors_name_the_config() {
    let env = Env::new();
    env.write(".seal.yaml", "scan:\n  allow: [\"a[\"]\n");
    env.write("x.txt", "x\n");
    env.seal()
        .arg("scan")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            ".seal.yaml: scan.allow: invalid glob",
        ));
}

/// `.pre-commit-hooks.yaml` with the real `pre-commit` tool: a project
/// uses both hooks from a local clone of this repository's hook file.
#[test]
fn pre_commit_framework_runs_seal_check_and_seal_scan() {
    tool("pre-commit");
    let env = Env::new();
    let hooks = GitRepo::init(&env, &env.path("hooks"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    std::fs::copy(&manifest, hooks.path(".pre-commit-hooks.yaml")).unwrap();
    hooks.commit_all("hooks");
    let rev = hooks.git_ok(&["rev-parse", "HEAD"]).trim().to_owned();

    let key = env.keygen("me");
    let project = GitRepo::init(&env, &env.path("project"));
    project.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: seal-check\n      - id: seal-scan\n",
            hooks.root.display()
        ),
    );
    project.write_policy(
        &Policy::new()
            .recipient("me", &key)
            .rule("secrets/**", &["me"]),
    );
    project.write("secrets/prod.env", "DB_PASSWORD=plain-but-short\n");
    project.write(
        "src/client.rb",
        &format!("TOKEN = \"sk_live_{}\"\n", random(50, 24)),
    );
    project.git_ok(&["add", "-A"]);

    let bin = assert_cmd::cargo::cargo_bin("seal");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pre_commit = |args: &[&str]| {
        tool("pre-commit")
            .args(args)
            .current_dir(&project.root)
            .env("PATH", &path)
            .env("HOME", env.path("home"))
            .env("PRE_COMMIT_HOME", env.path("pre-commit-cache"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("SEAL_IDENTITY_FILE")
            .output()
            .unwrap()
    };
    let out = pre_commit(&["run", "--all-files"]);
    let said = all_output(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("secrets/prod.env: DB_PASSWORD is not encrypted"),
        "{said}"
    );
    assert!(
        said.contains("src/client.rb:1:10: stripe: sk_liv"),
        "{said}"
    );

    env.seal()
        .current_dir(&project.root)
        .args(["encrypt", "--in-place", "secrets/prod.env"])
        .assert()
        .success();
    project.write("src/client.rb", "TOKEN = ENV.fetch(\"STRIPE_KEY\")\n");
    project.git_ok(&["add", "-A"]);
    let out = pre_commit(&["run", "--all-files"]);
    assert!(out.status.success(), "{}", all_output(&out));
}
