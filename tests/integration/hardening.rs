//! Process hardening: no core file while seal holds plaintext, the command
//! `seal exec` runs gets its core limit back, and sealed files cannot set
//! the variables that change how programs start.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use predicates::prelude::*;

use crate::common::{Env, Key};

/// `sh -c 'ulimit -c unlimited; exec "$@"'`: PROGRAM ARGS with core dumps
/// enabled, in `dir` (where a `core_pattern` of `core` puts the file).
fn with_core_dumps(dir: &Path, program: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -c unlimited || exit 99; exec \"$@\"")
        .arg("sh")
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env_remove("SEAL_IDENTITY")
        .env_remove("SEAL_IDENTITY_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The soft "Max core file size" of a running process, once it is `program`.
fn core_limit_once_running(pid: u32, program: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Sleeping (`S`) in the program itself: waiting on its editor or its
        // input, past any start-up.
        let sleeping = state
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'));
        if exe.as_deref() == Some(program) && sleeping {
            let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
            let line = limits
                .lines()
                .find(|l| l.starts_with("Max core file size"))
                .expect("a core limit line")
                .to_owned();
            return line
                .split_whitespace()
                .nth(4)
                .unwrap_or_default()
                .to_owned();
        }
        assert!(Instant::now() < deadline, "pid {pid} never waited");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Send `signal` until the process dies of it (Rust's runtime catches the
/// first SIGSEGV that is not a stack overflow and only resets the handler).
fn kill_with(child: &mut Child, signal: Signal) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{signal} did not end the process"
        );
    }
}

fn core_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("core"))
        .collect()
}

/// Whether `sleep` under the same wrapper dumps core here: a `core_pattern`
/// that pipes to a handler, or none at all, writes no file to look for.
fn machine_writes_core_files(dir: &Path, signal: Signal) -> bool {
    let mut sleep = with_core_dumps(dir, Path::new("/bin/sleep"), &["30"])
        .spawn()
        .unwrap();
    core_limit_once_running(sleep.id(), &std::fs::canonicalize("/bin/sleep").unwrap());
    let status = kill_with(&mut sleep, signal);
    let wrote = status.core_dumped() && !core_files(dir).is_empty();
    for core in core_files(dir) {
        std::fs::remove_file(dir.join(core)).unwrap();
    }
    wrote
}

/// What a process killed by `signal` must show: the limit was 0 while it
/// waited, it died of the signal without dumping core, no core file.
fn assert_no_core(what: &str, dir: &Path, mut child: Child, signal: Signal, seal: &Path) {
    let limit = core_limit_once_running(child.id(), seal);
    assert_eq!(limit, "0", "{what}: the soft core limit while waiting");
    // Non-dumpable: /proc/PID belongs to root (visible when not root).
    let owner = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(format!("/proc/{}/status", child.id())).unwrap(),
    );
    assert_eq!(owner, 0, "{what}: /proc/PID/status is owned by {owner}");
    let status = kill_with(&mut child, signal);
    assert_eq!(status.signal(), Some(signal as i32), "{what}: {status:?}");
    assert!(!status.core_dumped(), "{what}: dumped core");
    assert_eq!(core_files(dir), Vec::<String>::new(), "{what}");
}

#[test]
fn a_signalled_edit_or_decrypt_leaves_no_core_file() {
    let env = Env::new();
    let key = env.keygen("k");
    let sealed = env.sealed_for("s.yaml", "password: hunter2\n", &[&key]);
    let seal = std::fs::canonicalize(assert_cmd::cargo::cargo_bin("seal")).unwrap();
    let cores = env.path("cores");
    std::fs::create_dir(&cores).unwrap();
    for signal in [Signal::SIGABRT, Signal::SIGSEGV] {
        // The control: the same wrapper makes an ordinary program dump core
        // (skipped where core_pattern writes no file to the directory).
        let files_expected = machine_writes_core_files(&cores, signal);
        if !files_expected {
            eprintln!("note: this machine's core_pattern writes no core file here");
        }

        // `seal edit` waiting on its editor.
        let editor = env.script(
            "wait.sh",
            &format!(
                "echo $$ > {d}/editor.pid; exec sleep 30",
                d = env.dir.path().display()
            ),
        );
        let identity = key.identity.to_str().unwrap();
        let file = env.path("s.yaml");
        let edit = with_core_dumps(
            &cores,
            &seal,
            &["edit", "-i", identity, file.to_str().unwrap()],
        )
        .env("SEAL_EDITOR", &editor)
        .env("XDG_RUNTIME_DIR", env.runtime_dir())
        .spawn()
        .unwrap();
        // seal is waiting once its editor runs.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !env.path("editor.pid").exists() {
            assert!(Instant::now() < deadline, "the editor never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_no_core("seal edit", &cores, edit, signal, &seal);
        let editor_pid: i32 = env.read("editor.pid").trim().parse().unwrap();
        let _ = kill(Pid::from_raw(editor_pid), Signal::SIGKILL);
        std::fs::remove_file(env.path("editor.pid")).unwrap();
        assert_eq!(env.read("s.yaml"), sealed);

        // `seal decrypt` reading a slow pipe: half the file is there.
        let mut decrypt = with_core_dumps(
            &cores,
            &seal,
            &["decrypt", "--format", "yaml", "-i", identity, "-"],
        )
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
        let mut input = decrypt.stdin.take().unwrap();
        input
            .write_all(&sealed.as_bytes()[..sealed.len() / 2])
            .unwrap();
        assert_no_core("seal decrypt", &cores, decrypt, signal, &seal);
        drop(input);
        if files_expected {
            // The control still dumps: the directory was writable all along.
            assert!(machine_writes_core_files(&cores, signal));
        }
    }
}

/// `seal exec` starts the command with the core limit seal was started
/// with, in both ways of running it; seal itself keeps 0 meanwhile.
#[test]
fn exec_gives_the_command_its_core_limit_back() {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for("a.env", "A=1\n", &[&key]);
    let seal = assert_cmd::cargo::cargo_bin("seal");
    let run = |extra: &str, command: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -S -c 2048 || exit 99; exec \"$0\" exec {extra} -i \"$1\" a.env -- sh -c '{command}'"
            ))
            .arg(&seal)
            .arg(&key.identity)
            .current_dir(env.dir.path())
            .env_remove("SEAL_IDENTITY")
            .env_remove("SEAL_IDENTITY_FILE")
            .env("XDG_RUNTIME_DIR", env.runtime_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run("", "ulimit -c"), "2048\n");
    assert_eq!(run("--files", "ulimit -c"), "2048\n");
    // With --files seal waits for the command, back at 0 itself once the
    // command has started (it lowers its limit again right after the spawn).
    let parent = run(
        "--files",
        "for i in $(seq 100); do l=$(grep \"Max core file size\" /proc/$PPID/limits | tr -s \" \" | cut -d\" \" -f5); [ \"$l\" = 0 ] && break; sleep 0.05; done; echo $l",
    );
    assert_eq!(parent, "0\n");
}

fn setup() -> (Env, Key) {
    let env = Env::new();
    let key = env.keygen("k");
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
fn exec_refuses_variables_that_change_how_programs_start() {
    let (env, key) = setup();
    for (file, text, key_path, name) in [
        (
            "preload.env",
            "A=1\nLD_PRELOAD=/tmp/evil.so\n",
            "LD_PRELOAD",
            "LD_PRELOAD",
        ),
        (
            "bash.env",
            "BASH_ENV=$(touch pwned)\n",
            "BASH_ENV",
            "BASH_ENV",
        ),
        (
            "node.yaml",
            "NODE_OPTIONS: --require /tmp/x.js\n",
            "NODE_OPTIONS",
            "NODE_OPTIONS",
        ),
        (
            "git.json",
            "{\"GIT_SSH_COMMAND\": \"sh -c x\"}\n",
            "GIT_SSH_COMMAND",
            "GIT_SSH_COMMAND",
        ),
        ("path.env", "PATH=/tmp/evil:/usr/bin\n", "PATH", "PATH"),
        // The name the command would get counts, after --upper.
        (
            "nested.yaml",
            "ld:\n  preload: x\n",
            "ld.preload",
            "LD_PRELOAD",
        ),
    ] {
        env.sealed_for(file, text, &[&key]);
        let mut args = vec![file, "--", "sh", "-c", "touch ran"];
        if file == "nested.yaml" {
            args.insert(0, "--upper");
        }
        exec(&env, &key, &args)
            .failure()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "{file}: the key {key_path} would set {name}, which changes how programs start"
            )))
            .stderr(predicate::str::contains(format!("--allow-var {name}")))
            .stderr(predicate::str::contains("exec: {allow:"));
        assert!(!env.path("ran").exists(), "{file}: the command ran");
        assert!(!env.path("pwned").exists());
    }
    // Lower case is not what the loader reads; with --files the command
    // gets PATH_FILE, which changes nothing.
    env.sealed_for("lower.env", "path=x\n", &[&key]);
    exec(&env, &key, &["lower.env", "--", "true"]).success();
    exec(
        &env,
        &key,
        &[
            "--files",
            "path.env",
            "--",
            "sh",
            "-c",
            "test -f \"$PATH_FILE\"",
        ],
    )
    .success();
}

#[test]
fn exec_allows_named_variables_from_the_flag_or_seal_yaml() {
    let (env, key) = setup();
    let bin = env.path("bin");
    std::fs::create_dir(&bin).unwrap();
    env.script("bin/here", "echo found");
    env.sealed_for(
        "path.env",
        &format!(
            "PATH={}:/usr/bin:/bin\nLD_LIBRARY_PATH=/opt/lib\n",
            bin.display()
        ),
        &[&key],
    );
    // Each name must be allowed; one is not enough.
    exec(
        &env,
        &key,
        &["--allow-var", "PATH", "path.env", "--", "here"],
    )
    .failure()
    .stderr(predicate::str::contains("would set LD_LIBRARY_PATH"));
    exec(
        &env,
        &key,
        &[
            "--allow-var",
            "PATH",
            "--allow-var",
            "LD_LIBRARY_PATH",
            "path.env",
            "--",
            "here",
        ],
    )
    .success()
    .stdout("found\n");

    // .seal.yaml's exec.allow covers the files under it.
    env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  k: {}\nrules:\n  - path: \"**\"\n    recipients: [k]\nexec:\n  allow: [PATH, LD_LIBRARY_PATH]\n",
            key.public
        ),
    );
    exec(
        &env,
        &key,
        &["path.env", "--", "sh", "-c", "echo $LD_LIBRARY_PATH"],
    )
    .success()
    .stdout("/opt/lib\n");
    // ...and only those: a file in a directory with its own .seal.yaml
    // that allows nothing is refused.
    env.write(
        "other/.seal.yaml",
        &format!(
            "recipients:\n  k: {}\nrules:\n  - path: \"**\"\n    recipients: [k]\n",
            key.public
        ),
    );
    std::fs::copy(env.path("path.env"), env.path("other/path.env")).unwrap();
    exec(&env, &key, &["path.env", "other/path.env", "--", "true"])
        .failure()
        .stderr(predicate::str::contains(
            "other/path.env: the key PATH would set PATH",
        ));
    // A broken exec section is reported, and nothing runs.
    env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  k: {}\nrules:\n  - path: \"**\"\n    recipients: [k]\nexec:\n  allow: {{PATH: yes}}\n",
            key.public
        ),
    );
    exec(&env, &key, &["path.env", "--", "touch", "ran"])
        .failure()
        .stderr(predicate::str::contains(
            "exec.allow: expected a list of variable names",
        ));
    assert!(!env.path("ran").exists());
}
