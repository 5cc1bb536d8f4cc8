//! Shell integration: completion scripts, the man page, and the examples
//! at the end of every command's --help.

use predicates::prelude::*;

use crate::common::{Env, RunOk};

/// What bash completes for `line` (the word under the cursor is the last
/// one; a trailing space starts a new, empty word) with the script seal
/// prints loaded.
fn bash_completes(env: &Env, line: &str) -> Vec<String> {
    let script = env.path("seal.bash");
    if !script.exists() {
        let text = env.seal().args(["completions", "bash"]).run_ok();
        std::fs::write(&script, text).unwrap();
    }
    let mut words: Vec<&str> = line.split(' ').collect();
    if words.is_empty() {
        words.push("");
    }
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "set -eu; source '{script}'; complete -p seal >/dev/null; \
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _seal seal '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display(),
        words = quoted.join(" "),
        cur = words[cword],
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash failed on {line:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_loads_and_completes_commands_and_flags() {
    let env = Env::new();
    assert_eq!(bash_completes(&env, "seal en"), ["encrypt"]);
    let ex = bash_completes(&env, "seal ex");
    assert!(
        ex.contains(&"exec".to_owned()) && ex.contains(&"exposure".to_owned()),
        "{ex:?}"
    );
    let all = bash_completes(&env, "seal ");
    for command in [
        "keygen",
        "decrypt",
        "edit",
        "recipients",
        "completions",
        "man",
    ] {
        assert!(all.contains(&command.to_owned()), "{command}: {all:?}");
    }
    assert_eq!(bash_completes(&env, "seal exec --allow-v"), ["--allow-var"]);
    assert_eq!(bash_completes(&env, "seal decrypt --in"), ["--in-place"]);
    // Nested commands and a value list.
    assert_eq!(bash_completes(&env, "seal recipients ad"), ["add"]);
    assert_eq!(bash_completes(&env, "seal git setup --ho"), ["--hook"]);
    let shells = bash_completes(&env, "seal completions ");
    assert!(
        shells.ends_with(&["bash".into(), "zsh".into(), "fish".into()]),
        "{shells:?}"
    );
}

#[test]
fn zsh_and_fish_scripts_know_the_commands() {
    let env = Env::new();
    let zsh = env.seal().args(["completions", "zsh"]).run_ok();
    assert!(zsh.starts_with("#compdef seal"), "{}", &zsh[..40]);
    let fish = env.seal().args(["completions", "fish"]).run_ok();
    for script in [&zsh, &fish] {
        for word in ["encrypt", "allow-var", "merge-driver"] {
            assert!(script.contains(word), "{word}");
        }
    }
    assert!(fish.contains("complete -c seal"));
    env.seal()
        .args(["completions", "powershell"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("possible values: bash, zsh, fish"));
}

#[test]
fn man_pages_cover_every_command() {
    let env = Env::new();
    let page = env.seal().arg("man").run_ok();
    assert!(page.contains(".TH seal 1"), "{page}");
    for command in ["encrypt", "exec", "merge\\-driver", "completions"] {
        assert!(page.contains(&format!("seal\\-{command}(1)")), "{command}");
    }
    std::fs::create_dir(env.path("man1")).unwrap();
    env.seal().args(["man", "--dir", "man1"]).run_ok();
    let exec = env.read("man1/seal-exec.1");
    assert!(exec.contains(".TH seal-exec 1"), "{exec}");
    assert!(exec.contains("\\-\\-allow\\-var"), "{exec}");
    assert!(exec.contains("Examples:"), "{exec}");
    for page in [
        "seal.1",
        "seal-git-setup.1",
        "seal-recipients-add.1",
        "seal-man.1",
    ] {
        assert!(env.path(&format!("man1/{page}")).is_file(), "{page}");
    }
    env.seal()
        .args(["man", "--dir", "missing"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing: not a directory"));
}

/// Every command's --help ends with its examples: a heading, then lines
/// that show seal (or what git runs) being used.
#[test]
fn every_help_ends_with_examples() {
    let env = Env::new();
    let commands = [
        "",
        "keygen",
        "encrypt",
        "decrypt",
        "edit",
        "exec",
        "get",
        "set",
        "unset",
        "info",
        "textconv",
        "merge-driver",
        "git",
        "git setup",
        "check",
        "recipients",
        "recipients add",
        "recipients remove",
        "updatekeys",
        "rotate",
        "exposure",
        "completions",
        "man",
    ];
    for command in commands {
        for flag in ["--help", "-h"] {
            let help = env
                .seal()
                .args(command.split_whitespace())
                .arg(flag)
                .run_ok();
            let lines: Vec<&str> = help.trim_end().lines().collect();
            let heading = lines
                .iter()
                .rposition(|l| l.starts_with("Example"))
                .unwrap_or_else(|| panic!("seal {command} {flag}: no examples\n{help}"));
            let examples = &lines[heading + 1..];
            assert!(
                (1..=2).contains(&examples.len())
                    && examples.iter().all(|l| l.starts_with("  seal ")
                        || l.starts_with("  git ")
                        || l.starts_with("  SEAL_")),
                "seal {command} {flag}: {examples:?}"
            );
        }
    }
}
