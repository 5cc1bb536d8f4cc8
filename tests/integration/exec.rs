use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;

use crate::common::{Env, Key, RunOk};

fn setup() -> (Env, Key) {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("app.yaml", "database:\n  password: hunter2\n  port: 5432\nkeys:\n  - first\n  - second\ntoken: abcdef\n", &[&key]);
    env.sealed_for("base.env", "A=1\nB=2\n", &[&key]);
    env.sealed_for("override.env", "B=3\nC=4\n", &[&key]);
    (env, key)
}

fn exec(env: &Env, key: &Key, args: &[&str]) -> assert_cmd::assert::Assert {
    env.seal()
        .arg("exec")
        .arg("-i")
        .arg(&key.identity)
        .args(args)
        .assert()
}

#[test]
fn values_reach_the_child_environment() {
    let (env, key) = setup();
    exec(
        &env,
        &key,
        &[
            "app.yaml",
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s|%s' \"$database_password\" \"$database_port\" \"$keys_1\" \"$token\"",
        ],
    )
    .success()
    .stdout("hunter2|5432|second|abcdef");
    exec(
        &env,
        &key,
        &[
            "--upper",
            "--prefix",
            "app_",
            "app.yaml",
            "--",
            "sh",
            "-c",
            "printf %s \"$APP_DATABASE_PASSWORD\"",
        ],
    )
    .success()
    .stdout("hunter2");
    exec(
        &env,
        &key,
        &[
            "--only",
            "database",
            "app.yaml",
            "--",
            "sh",
            "-c",
            "printf '%s-%s' \"$database_port\" \"${token:-unset}\"",
        ],
    )
    .success()
    .stdout("5432-unset");
}

#[test]
fn later_files_override_and_existing_variables_are_kept_on_request() {
    let (env, key) = setup();
    exec(
        &env,
        &key,
        &[
            "base.env",
            "override.env",
            "--",
            "sh",
            "-c",
            "printf '%s%s%s' \"$A\" \"$B\" \"$C\"",
        ],
    )
    .success()
    .stdout("134");
    env.seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(["base.env", "--", "sh", "-c", "printf %s \"$B\""])
        .env("B", "outer")
        .assert()
        .stdout("2");
    env.seal()
        .args(["exec", "--no-override", "-i"])
        .arg(&key.identity)
        .args(["base.env", "--", "sh", "-c", "printf %s \"$B\""])
        .env("B", "outer")
        .assert()
        .stdout("outer");
}

#[test]
fn exit_codes_and_signals_come_from_the_child() {
    let (env, key) = setup();
    exec(&env, &key, &["base.env", "--", "sh", "-c", "exit 7"]).code(7);
    // Without --files/--mask seal becomes the command (exec), so its status
    // is the child's exactly: killed by TERM, which a shell shows as 143.
    let out = env
        .seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(["base.env", "--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(15)
    );
    let shell = format!(
        "{} exec -i {} base.env -- sh -c 'kill -TERM $$'; echo $?",
        assert_cmd::cargo::cargo_bin("seal").display(),
        key.identity.display()
    );
    env.seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(["base.env", "--", "sh", "-c", &shell])
        .assert()
        .stdout("143\n");
    exec(
        &env,
        &key,
        &["--mask", "base.env", "--", "sh", "-c", "kill -TERM $$"],
    )
    .code(143);
    exec(
        &env,
        &key,
        &["--files", "base.env", "--", "sh", "-c", "exit 5"],
    )
    .code(5);
    exec(
        &env,
        &key,
        &["--files", "base.env", "--", "sh", "-c", "kill -KILL $$"],
    )
    .code(137);
    exec(&env, &key, &["base.env", "--", "no-such-command-xyz"])
        .code(127)
        .stderr("seal: command not found: no-such-command-xyz\n");
}

#[test]
fn sigterm_to_seal_reaches_the_child() {
    let (env, key) = setup();
    for mode in [None, Some("--files"), Some("--mask")] {
        let marker = env.path("ready");
        let _ = std::fs::remove_file(&marker);
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("seal"));
        cmd.current_dir(env.dir.path())
            .env("XDG_RUNTIME_DIR", env.runtime_dir())
            .arg("exec")
            .arg("-i")
            .arg(&key.identity);
        if let Some(m) = mode {
            cmd.arg(m);
        }
        cmd.args(["base.env", "--", "sh", "-c"])
            .arg(format!(
                "trap 'echo got-term; exit 3' TERM; touch {}; while :; do sleep 0.05; done",
                marker.display()
            ))
            .stdout(Stdio::piped());
        let child = cmd.spawn().unwrap();
        while !marker.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{mode:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "got-term\n",
            "{mode:?}"
        );
    }
}

/// A TERM at any moment of seal's start, before or while the child starts,
/// either stops seal before the child runs or reaches the child: no
/// secrets directory is left behind and no child outlives seal.
#[test]
fn sigterm_during_start_leaves_no_secrets_dir_and_no_orphan() {
    let (env, key) = setup();
    let run = env.runtime_dir();
    for round in 0..24u64 {
        let pidfile = env.path(&format!("child-{round}"));
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("seal"));
        cmd.current_dir(env.dir.path())
            .env("XDG_RUNTIME_DIR", &run)
            .args(["exec", "-i"])
            .arg(&key.identity)
            .args(["--files", "base.env", "--", "sh", "-c"])
            .arg(format!(
                "echo $$ > {}; trap 'exit 3' TERM; while :; do sleep 0.05; done",
                pidfile.display()
            ))
            .stdout(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(round % 12));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: seal did not exit after TERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // Killed before its handlers existed, or 143, or the child's 3.
        assert!(
            matches!(status.code(), Some(3 | 143) | None),
            "round {round}: {status:?}"
        );
        let left: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".seal-exec-"))
            .collect();
        assert!(left.is_empty(), "round {round}: {left:?} left behind");
        if let Ok(text) = std::fs::read_to_string(&pidfile) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                // The shell may take a moment to run its trap and exit.
                let gone = (0..200).any(|_| {
                    let alive =
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
                    if alive {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    !alive
                });
                assert!(gone, "round {round}: the child {pid} outlived seal");
            }
        }
    }
}

/// With --mask, output ends when every writer closes it, which a process
/// the child left in the background may put off. A signal to seal then
/// has no child to go to: it stops seal, which does not hang on.
#[test]
fn masked_output_held_open_does_not_deafen_seal() {
    let (env, key) = setup();
    let marker = env.path("ready");
    let pid_file = env.path("sleeper.pid");
    let mut seal = std::process::Command::new(assert_cmd::cargo::cargo_bin("seal"))
        .current_dir(env.dir.path())
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args(["--mask", "base.env", "--", "sh", "-c"])
        .arg(format!(
            "sleep 30 & echo $! > {}; touch {}",
            pid_file.display(),
            marker.display()
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while !marker.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the shell exit; the background sleep keeps the output open.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        seal.try_wait().unwrap().is_none(),
        "seal waits for the output"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(seal.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = seal.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let sleeper: i32 = env.read("sleeper.pid").trim().parse().unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper),
        nix::sys::signal::Signal::SIGKILL,
    );
    let status = status.expect("seal ignored SIGTERM while its output was held open");
    assert_eq!(status.code(), Some(143));
}

#[test]
fn files_mode_uses_private_files_that_vanish() {
    let (env, key) = setup();
    let stdout = env
        .seal()
        .args(["exec", "--files", "-i"])
        .arg(&key.identity)
        .args([
            "app.yaml",
            "--",
            "sh",
            "-c",
            "printf '%s\\n' \"$database_password_FILE\"; cat \"$database_password_FILE\"; echo; stat -c %a \"$database_password_FILE\" \"$(dirname \"$database_password_FILE\")\"; printf '%s' \"${database_password:-none}\"",
        ])
        .run_ok();
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(&lines[1..], ["hunter2", "600", "700", "none"], "{stdout}");
    assert!(lines[0].starts_with(env.runtime_dir().to_str().unwrap()));
    assert!(
        !std::path::Path::new(lines[0]).exists(),
        "secret file left behind"
    );
    assert_eq!(std::fs::read_dir(env.runtime_dir()).unwrap().count(), 0);
}

#[test]
fn mask_hides_values_in_output() {
    let (env, key) = setup();
    exec(&env, &key, &["--mask", "app.yaml", "--", "sh", "-c", "echo \"pw=$database_password t=$token\"; echo \"err $token\" >&2; echo \"port=$database_port k=$keys_0\""])
        .success()
        .stdout("pw=*** t=***\nport=5432 k=first\n")
        .stderr(predicate::str::ends_with("err ***\n"));
}

/// Values that cannot be secrets stay readable in ordinary log lines:
/// booleans, numbers under 6 digits, anything under 6 characters. Each
/// sealed one left visible is named by key path in a warning, never shown.
#[test]
fn mask_leaves_booleans_short_numbers_and_short_values_visible() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for(
        "app.yaml",
        "debug: true
port: 5432
user: alice
big: 1234567
pw: hunter2
",
        &[&key],
    );
    let out = exec(
        &env,
        &key,
        &[
            "--mask",
            "app.yaml",
            "--",
            "sh",
            "-c",
            "echo \"$debug $port $user $big $pw\"",
        ],
    )
    .success()
    .stdout("true 5432 alice *** ***\n");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let warnings: Vec<&str> = stderr.lines().collect();
    assert_eq!(warnings.len(), 3, "{stderr}");
    for (line, path) in warnings.iter().zip(["debug", "port", "user"]) {
        assert_eq!(
            *line,
            format!("seal: warning: --mask leaves the value of app.yaml:{path} visible: booleans, numbers under 6 digits and values under 6 characters are never masked")
        );
    }
    // Plaintext values (not selected for sealing) get no warning.
    env.write(".seal.yaml", &format!("recipients:\n  k: {}\nrules:\n  - path: \"**\"\n    recipients: [k]\n    encrypt: [pw]\n", key.public));
    env.sealed("plain.yaml", "port: 5432\npw: hunter2\n");
    exec(
        &env,
        &key,
        &[
            "--mask",
            "plain.yaml",
            "--",
            "sh",
            "-c",
            "echo \"$port $pw\"",
        ],
    )
    .success()
    .stdout("5432 ***\n")
    .stderr("");
}

#[test]
fn nothing_runs_when_a_file_does_not_open() {
    let (env, key) = setup();
    let sealed = env.read("override.env");
    env.write(
        "override.env",
        &sealed.replacen("B=seal.v1.", "B=seal.v1.AAAA", 1),
    );
    let marker = env.path("ran");
    exec(
        &env,
        &key,
        &[
            "base.env",
            "override.env",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
    )
    .code(1)
    .stderr(predicate::str::contains("override.env"));
    assert!(!marker.exists());
    let other = env.keygen("other");
    env.seal()
        .args(["exec", "-i"])
        .arg(&other.identity)
        .args(["base.env", "--", "touch", marker.to_str().unwrap()])
        .assert()
        .code(1);
    assert!(!marker.exists());
    exec(&env, &key, &["missing.env", "--", "true"])
        .code(1)
        .stderr(predicate::str::contains("missing.env"));
}

#[test]
fn colliding_names_are_an_error() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("c.yaml", "a_b: 1\na:\n  b: 2\n", &[&key]);
    exec(&env, &key, &["c.yaml", "--", "true"])
        .code(1)
        .stderr(predicate::str::contains("a_b"))
        .stderr(predicate::str::contains("a.b"));
    // Two dotenv names that meet only after --upper are two values, not a
    // repeat of one.
    env.sealed_for("case.env", "foo=lower\nFOO=upper\n", &[&key]);
    exec(&env, &key, &["--upper", "case.env", "--", "true"])
        .code(1)
        .stderr(predicate::str::contains("case.env:foo"))
        .stderr(predicate::str::contains("case.env:FOO"));
    exec(&env, &key, &["case.env", "--", "true"]).success();
    env.sealed_for("bad.yaml", "\"has space\": 1\n", &[&key]);
    exec(&env, &key, &["bad.yaml", "--", "true"])
        .code(1)
        .stderr(predicate::str::contains(
            "not a usable environment variable name",
        ));
}

/// seal becomes the command: the command starts with SIGPIPE at its default
/// (Rust ignores it) and no blocked signals, keeps the rest of seal's
/// environment, and a sealed PATH is the one searched, as a shell would.
#[test]
fn the_command_starts_like_a_shell_would_start_it() {
    let (env, key) = setup();
    let status = exec(
        &env,
        &key,
        &[
            "base.env",
            "--",
            "sh",
            "-c",
            "grep -E '^Sig(Ign|Blk):' /proc/self/status",
        ],
    )
    .success();
    let out = String::from_utf8_lossy(&status.get_output().stdout).into_owned();
    for line in out.lines() {
        let (name, mask) = line.split_once(':').expect("status line");
        let mask = u64::from_str_radix(mask.trim(), 16).expect("hex mask");
        match name {
            // SIGPIPE is signal 13: bit 12 of SigIgn.
            "SigIgn" => assert_eq!(mask & (1 << 12), 0, "SIGPIPE is ignored: {out}"),
            _ => assert_eq!(mask, 0, "signals are blocked: {out}"),
        }
    }
    assert_eq!(out.lines().count(), 2, "{out}");

    let bin = env.path("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let tool = env.script("bin/only-here", "printf 'found %s' \"$A\"");
    assert!(tool.exists());
    env.sealed_for(
        "path.env",
        &format!("PATH={}:/usr/bin:/bin\nA=1\n", bin.display()),
        &[&key],
    );
    exec(
        &env,
        &key,
        &["--allow-var", "PATH", "path.env", "--", "only-here"],
    )
    .success()
    .stdout("found 1");
    exec(&env, &key, &["base.env", "--", "only-here"])
        .code(127)
        .stderr(predicate::str::contains("command not found: only-here"));
    // A script without a #! line runs under /bin/sh, as execvp runs it.
    let plain = env.write("bin/no-shebang", "printf 'sh ran %s' \"$A\"\n");
    std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    exec(
        &env,
        &key,
        &["--allow-var", "PATH", "path.env", "--", "no-shebang"],
    )
    .success()
    .stdout("sh ran 1");
    // Found but not executable: 126, like a shell.
    env.write("bin/not-exec", "#!/bin/sh\necho no\n");
    exec(
        &env,
        &key,
        &["--allow-var", "PATH", "path.env", "--", "not-exec"],
    )
    .code(126)
    .stderr(predicate::str::contains("permission denied"));
    // Variables seal does not set reach the command unchanged.
    env.seal()
        .args(["exec", "-i"])
        .arg(&key.identity)
        .args([
            "base.env",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$OUTER\" \"$A\"",
        ])
        .env("OUTER", "kept = as is")
        .assert()
        .success()
        .stdout("kept = as is|1");
}
