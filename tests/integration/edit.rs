use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;

use crate::common::{Env, Key};

fn setup(name: &str, text: &str) -> (Env, Key) {
    let env = Env::new();
    let key = env.keygen("k");
    env.sealed_for(name, text, &[&key]);
    (env, key)
}

fn edit(env: &Env, key: &Key, file: &str, editor_body: &str) -> assert_cmd::assert::Assert {
    let editor = env.script("editor.sh", editor_body);
    env.seal()
        .args(["edit", "-i"])
        .arg(&key.identity)
        .arg(file)
        .env("SEAL_EDITOR", &editor)
        .assert()
}

/// Nothing from an edit session may remain in the runtime dir.
fn no_leftovers(env: &Env) {
    let left: Vec<_> = std::fs::read_dir(env.runtime_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        env.files().iter().all(|f| !f.contains("seal-tmp")),
        "{:?}",
        env.files()
    );
}

#[test]
fn edit_one_value_keeps_every_other_token() {
    let (env, key) = setup("s.yaml", "# settings\na: one\nb: two\nc: [x, y]\n");
    let before = env.read("s.yaml");
    // The editor sees plaintext in a private file with the right extension.
    edit(
        &env,
        &key,
        "s.yaml",
        &format!(
            "stat -c %a \"$1\" > {d}/mode; stat -c %a \"$(dirname \"$1\")\" > {d}/dirmode; echo \"$1\" > {d}/where\nsed -i 's/^b: two$/b: TWO/' \"$1\"",
            d = env.dir.path().display()
        ),
    )
    .success();
    assert_eq!(env.read("mode").trim(), "600");
    assert_eq!(env.read("dirmode").trim(), "700");
    let where_ = env.read("where");
    assert!(
        where_.trim().ends_with("s.yaml")
            && where_.starts_with(env.runtime_dir().to_str().unwrap()),
        "{where_}"
    );
    let after = env.read("s.yaml");
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b)
        .collect();
    // The value, `mac` and (unless within the same second) `modified` and
    // the value's `changed` date.
    assert!((2..=4).contains(&changed.len()), "{changed:#?}");
    assert!(changed[0].starts_with("b: seal.v1."));
    assert!(
        changed[1..].iter().all(|l| l.contains("modified:")
            || l.contains("mac:")
            || l.trim_start().starts_with("\"/b\": ")),
        "{changed:#?}"
    );
    assert_eq!(
        env.decrypt("s.yaml", &key),
        "# settings\na: one\nb: TWO\nc: [x, y]\n"
    );
    no_leftovers(&env);
}

#[test]
fn edit_adds_and_deletes_keys_and_comments() {
    let (env, key) = setup("s.env", "A=1\nB=2\n");
    edit(
        &env,
        &key,
        "s.env",
        "sed -i '/^A=/d' \"$1\"; printf '# new\\nC=3\\n' >> \"$1\"",
    )
    .success();
    assert_eq!(env.decrypt("s.env", &key), "B=2\n# new\nC=3\n");
    no_leftovers(&env);
}

#[test]
fn no_change_leaves_the_file_byte_identical() {
    let (env, key) = setup("s.json", "{\"a\": \"x\"}\n");
    let before = env.read("s.json");
    edit(&env, &key, "s.json", "true")
        .success()
        .stderr(predicate::str::contains("no changes"));
    assert_eq!(env.read("s.json"), before);
    no_leftovers(&env);
}

#[test]
fn failed_editor_or_invalid_text_writes_nothing() {
    let (env, key) = setup("s.yaml", "a: 1\n");
    let before = env.read("s.yaml");
    edit(&env, &key, "s.yaml", "echo 'a: 2' > \"$1\"; exit 1")
        .code(1)
        .stderr(predicate::str::contains("nothing was written"));
    assert_eq!(env.read("s.yaml"), before);
    // Without a terminal an invalid edit is an error naming the line.
    edit(&env, &key, "s.yaml", "printf 'a: [\\nb: 1\\n' > \"$1\"")
        .code(1)
        .stderr(predicate::str::contains("s.yaml:"))
        .stderr(predicate::str::contains("nothing was written"));
    assert_eq!(env.read("s.yaml"), before);
    // Bytes that are not UTF-8: an error naming the line, not a failure of
    // the editor.
    edit(&env, &key, "s.yaml", "printf 'a: 1\\nb: \\377\\n' > \"$1\"")
        .code(1)
        .stderr(predicate::str::contains(
            "s.yaml: line 2: the edited text is not UTF-8",
        ))
        .stderr(predicate::str::contains("nothing was written"));
    assert_eq!(env.read("s.yaml"), before);
    // Keeping the placeholder of a side that deleted a key (after a merge
    // conflict) is refused: it is not a value.
    edit(
        &env,
        &key,
        "s.yaml",
        "printf 'a: (removed on this side)\\n' > \"$1\"",
    )
    .code(1)
    .stderr(predicate::str::contains(
        "to keep the deletion, delete the key's line",
    ));
    assert_eq!(env.read("s.yaml"), before);
    // An editor that cannot start.
    env.seal()
        .args(["edit", "-i"])
        .arg(&key.identity)
        .arg("s.yaml")
        .env("SEAL_EDITOR", "/nonexistent/editor")
        .assert()
        .code(1);
    assert_eq!(env.read("s.yaml"), before);
    no_leftovers(&env);
}

#[test]
fn editor_with_arguments() {
    let (env, key) = setup("s.yaml", "a: 1\n");
    let editor = env.script(
        "ed.sh",
        "[ \"$1\" = --wait ] || exit 9; sed -i 's/1/2/' \"$2\"",
    );
    env.seal()
        .args(["edit", "-i"])
        .arg(&key.identity)
        .arg("s.yaml")
        .env("EDITOR", format!("{} --wait", editor.display()))
        .assert()
        .success();
    assert_eq!(env.decrypt("s.yaml", &key), "a: 2\n");
}

#[test]
fn new_file_is_created_for_the_recipients() {
    let env = Env::new();
    let key = env.keygen("k");
    let editor = env.script("ed.sh", "printf 'token: abc\\n' > \"$1\"");
    env.seal()
        .args(["edit", "-r", &key.public, "-i"])
        .arg(&key.identity)
        .arg("new.yaml")
        .env("SEAL_EDITOR", &editor)
        .assert()
        .success();
    assert_eq!(env.decrypt("new.yaml", &key), "token: abc\n");
    no_leftovers(&env);
}

#[test]
fn a_second_edit_of_the_same_file_is_refused() {
    let (env, key) = setup("s.yaml", "a: 1\n");
    let slow = env.script(
        "slow.sh",
        &format!(
            "touch {}/started; sleep 2; sed -i 's/1/2/' \"$1\"",
            env.dir.path().display()
        ),
    );
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("seal"));
    first
        .current_dir(env.dir.path())
        .args(["edit", "-i"])
        .arg(&key.identity)
        .arg("s.yaml")
        .env("SEAL_EDITOR", &slow)
        .env("XDG_RUNTIME_DIR", env.runtime_dir())
        .stderr(Stdio::null());
    let mut child = first.spawn().unwrap();
    while !env.path("started").exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    edit(&env, &key, "s.yaml", "sed -i 's/1/3/' \"$1\"")
        .code(1)
        .stderr(predicate::str::contains("another seal process"));
    assert!(child.wait().unwrap().success());
    assert_eq!(env.decrypt("s.yaml", &key), "a: 2\n");
    no_leftovers(&env);
}

#[test]
fn sigterm_during_edit_removes_the_plaintext() {
    let (env, key) = setup("s.yaml", "a: secret\n");
    let before = env.read("s.yaml");
    // The editor becomes `sleep`, keeping the PID its script had.
    let editor = env.script(
        "wait.sh",
        &format!(
            "echo $$ > {d}/editor.pid; touch {d}/started; exec sleep 30",
            d = env.dir.path().display()
        ),
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("seal"))
        .current_dir(env.dir.path())
        .args(["edit", "-i"])
        .arg(&key.identity)
        .arg("s.yaml")
        .env("SEAL_EDITOR", &editor)
        .env("XDG_RUNTIME_DIR", env.runtime_dir())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !env.path("started").exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_dir(env.runtime_dir()).unwrap().count(),
        1,
        "the session dir exists while editing"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(env.read("s.yaml"), before);
    no_leftovers(&env);
    // The editor got the signal too: no editor is left running on a file
    // that is gone.
    let editor_pid = env.read("editor.pid").trim().to_owned();
    assert!(
        !std::path::Path::new(&format!("/proc/{editor_pid}")).exists(),
        "the editor (pid {editor_pid}) outlived seal"
    );
}

/// `seal edit s.yaml` with the editor script `editor`, run in a tmux
/// pseudo-terminal; its exit code goes to the file `exit`.
struct Terminal {
    socket: String,
    deadline: std::time::Instant,
}

impl Terminal {
    fn start(env: &Env, key: &Key, editor: &Path, tag: &str) -> Terminal {
        let d = env.dir.path().display().to_string();
        let inner = format!(
            "cd {d} && env -u SEAL_IDENTITY -u SEAL_IDENTITY_FILE XDG_RUNTIME_DIR={run} SEAL_EDITOR={ed} {seal} edit -i {id} s.yaml; echo $? > {d}/exit; sleep 2",
            run = env.runtime_dir().display(),
            ed = editor.display(),
            seal = assert_cmd::cargo::cargo_bin("seal").display(),
            id = key.identity.display(),
        );
        let term = Terminal {
            socket: format!("seal-test-{}-{tag}", std::process::id()),
            deadline: std::time::Instant::now() + Duration::from_secs(20),
        };
        let started = std::process::Command::new("tmux")
            .arg("-L")
            .arg(&term.socket)
            .args(["new-session", "-d", "-x", "150", "-y", "40", &inner])
            .output();
        assert!(
            started.is_ok_and(|o| o.status.success()),
            "tmux is not installed: run scripts/install-test-deps.sh"
        );
        term
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// The screen once it shows the reopen prompt.
    fn at_prompt(&self) -> String {
        let mut screen = String::new();
        while std::time::Instant::now() < self.deadline && !screen.contains("reopen the editor") {
            std::thread::sleep(Duration::from_millis(100));
            screen =
                String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p"]).stdout).into_owned();
        }
        assert!(screen.contains("reopen the editor"), "no prompt:\n{screen}");
        screen
    }

    /// seal's exit code, once it has exited; the terminal is closed.
    fn exit_code(self, env: &Env) -> String {
        while std::time::Instant::now() < self.deadline && !env.path("exit").exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.tmux(&["kill-server"]);
        env.read("exit").trim().to_owned()
    }
}

/// On a terminal an invalid edit offers to reopen the editor on the same
/// text, so nothing typed is lost. Driven through a real pseudo-terminal.
#[test]
fn invalid_edit_reopens_the_editor_on_a_terminal() {
    let (env, key) = setup("s.yaml", "a: 1\nb: 2\n");
    let d = env.dir.path().display().to_string();
    // First run: break the YAML. Second run: the broken text is still
    // there; fix it.
    let editor = env.script(
        "ed.sh",
        &format!(
            "if [ ! -e {d}/once ]; then touch {d}/once; printf 'a: [broken\\nb: 3\\n' > \"$1\"; else grep -q 'b: 3' \"$1\" && touch {d}/kept; printf 'a: 1\\nb: 3\\n' > \"$1\"; fi"
        ),
    );
    let term = Terminal::start(&env, &key, &editor, "reopen");
    let screen = term.at_prompt();
    assert!(
        screen.contains("s.yaml:"),
        "error should name the file and line:\n{screen}"
    );
    term.tmux(&["send-keys", "y", "Enter"]);
    assert_eq!(term.exit_code(&env), "0");
    assert!(
        env.path("kept").exists(),
        "the editor was not reopened on the same text"
    );
    assert_eq!(env.decrypt("s.yaml", &key), "a: 1\nb: 3\n");
    no_leftovers(&env);
}

/// A signal at the reopen prompt ends the session like one during the
/// editor: exit 128+signal, nothing written, the plaintext removed. Ctrl-C
/// is typed on a real pseudo-terminal; TERM comes from another process.
#[test]
fn a_signal_at_the_reopen_prompt_removes_the_plaintext() {
    for (how, code) in [("ctrl-c", 130), ("term", 143)] {
        let (env, key) = setup("s.yaml", "a: 1\n");
        let before = env.read("s.yaml");
        let editor = env.script("ed.sh", "printf 'a: [broken\\n' > \"$1\"");
        let term = Terminal::start(&env, &key, &editor, how);
        term.at_prompt();
        assert_eq!(
            std::fs::read_dir(env.runtime_dir()).unwrap().count(),
            1,
            "the session dir exists at the prompt"
        );
        if how == "ctrl-c" {
            term.tmux(&["send-keys", "C-c"]);
        } else {
            let pid = seal_pid_with_arg(&key.identity.display().to_string());
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
        }
        assert_eq!(term.exit_code(&env), code.to_string(), "{how}");
        assert_eq!(env.read("s.yaml"), before);
        no_leftovers(&env);
    }
}

/// The PID of the running seal whose command line holds `arg`.
fn seal_pid_with_arg(arg: &str) -> i32 {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("/seal"))
            && args.iter().any(|a| a == "edit")
            && args.iter().any(|a| a == arg)
        {
            return pid;
        }
    }
    panic!("no seal process with {arg}");
}
