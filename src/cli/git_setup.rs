//! `seal git setup`: tell git how to diff and merge sealed files.
//!
//! Writes `diff.seal.textconv` and `merge.seal.*` into the repository's git
//! config (or the global one), makes sure `diff.seal.cachetextconv` is off
//! (it would store decrypted text in git notes), adds `.gitattributes`
//! lines for the paths the `.seal.yaml` rules cover, and with `--hook`
//! installs a pre-commit hook running `seal check --staged` and `seal scan
//! --staged`. Running it again changes nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{print_stdout, write_file, CliError};
use crate::config::Config;
use crate::fsio::{self, Mode, ReadError};
use crate::git::{self, git, git_text, GitError};

#[derive(Args, Debug)]
pub struct GitArgs {
    #[command(subcommand)]
    command: GitCommand,
}

#[derive(Subcommand, Debug)]
enum GitCommand {
    /// Configure git to diff and merge sealed files decrypted (idempotent).
    #[command(after_help = "Examples:
  seal git setup --hook     # also a pre-commit hook running `seal check --staged`
  seal git setup --global   # the diff/merge config in ~/.gitconfig")]
    Setup(SetupArgs),
}

#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Write the diff and merge config to your global git config instead of
    /// the repository's .git/config.
    #[arg(long)]
    global: bool,
    /// Print the .gitattributes lines instead of adding them to the
    /// repository's .gitattributes (the git config is still written).
    #[arg(long)]
    print: bool,
    /// Also install a pre-commit hook that runs `seal check --staged` and
    /// `seal scan --staged`.
    #[arg(long)]
    hook: bool,
    /// The seal command git should run (default: `seal` from PATH).
    #[arg(long, value_name = "COMMAND", default_value = "seal")]
    program: String,
}

pub fn run(args: GitArgs) -> Result<ExitCode, CliError> {
    match args.command {
        GitCommand::Setup(a) => setup(a),
    }
}

fn git_err(e: GitError) -> CliError {
    match e {
        GitError::Spawn(_) => {
            CliError::new(e.to_string()).hint("install git and make sure it is on PATH")
        }
        _ => CliError::new(e.to_string()),
    }
}

/// The value of `key` in `scope` (`--local`/`--global`), if set.
fn config_get(dir: &Path, scope: &str, key: &str) -> Option<String> {
    git_text(dir, &["config", scope, "--get", key]).ok()
}

fn setup(args: SetupArgs) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let root = git::toplevel(&cwd);
    if root.is_none() && !args.global {
        return Err(CliError::new("not in a git repository").hint(
            "run `seal git setup` inside the repository, or use --global for the git config only",
        ));
    }
    let scope = if args.global { "--global" } else { "--local" };
    let mut changed: Vec<String> = Vec::new();

    let program = git::shell_quote(&args.program);
    let wanted = [
        ("diff.seal.textconv", format!("{program} textconv")),
        (
            "merge.seal.name",
            "seal: decrypt, merge key by key, re-seal".to_owned(),
        ),
        (
            "merge.seal.driver",
            format!("{program} merge-driver %O %A %B %P"),
        ),
    ];
    for (key, value) in &wanted {
        if config_get(&cwd, scope, key).as_deref() != Some(value.as_str()) {
            git(&cwd, &["config", scope, key, value]).map_err(git_err)?;
            changed.push(format!("git config {scope} {key}"));
        }
    }
    // Cached textconv output is stored in git notes: plaintext in the
    // repository. Never leave it on.
    if config_get(&cwd, scope, "diff.seal.cachetextconv").is_some() {
        git(
            &cwd,
            &["config", scope, "--unset-all", "diff.seal.cachetextconv"],
        )
        .map_err(git_err)?;
        eprintln!("seal: warning: removed diff.seal.cachetextconv ({scope}): it would store decrypted text in git notes");
        changed.push(format!(
            "git config {scope} --unset diff.seal.cachetextconv"
        ));
    }
    if let Ok(v) = git_text(&cwd, &["config", "--get", "diff.seal.cachetextconv"]) {
        eprintln!(
            "seal: warning: diff.seal.cachetextconv is set to {v:?} in another git config file; unset it (`git config --global --unset diff.seal.cachetextconv`): it would store decrypted text in git notes"
        );
    }

    if let Some(root) = &root {
        attributes(&args, &cwd, root, &mut changed)?;
        if args.hook {
            hook(&args, &cwd, &mut changed)?;
        }
    } else if args.hook || args.print {
        eprintln!("seal: not in a git repository: no .gitattributes lines and no hook");
    }

    if changed.is_empty() {
        eprintln!("seal: git is already set up; nothing changed");
    } else {
        for c in &changed {
            eprintln!("seal: {c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn attributes(
    args: &SetupArgs,
    cwd: &Path,
    root: &Path,
    changed: &mut Vec<String>,
) -> Result<(), CliError> {
    let config =
        Config::find(cwd).map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
    let Some(config) = config else {
        eprintln!(
            "seal: no .seal.yaml here or above: add lines like `secrets/**/*.yaml {}` to .gitattributes yourself",
            git::ATTRIBUTES
        );
        return Ok(());
    };
    let root_abs = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if !config.dir.starts_with(&root_abs) {
        eprintln!(
            "seal: {} is outside this repository: add .gitattributes lines yourself",
            config.file.display()
        );
        return Ok(());
    }
    let lines = git::attribute_lines(&config, root);
    if args.print {
        let mut out = String::new();
        for l in &lines {
            out.push_str(l);
            out.push('\n');
        }
        return print_stdout(out.as_bytes());
    }
    let file = root.join(".gitattributes");
    let existing = match fsio::read_document(&file) {
        Ok(t) => t.to_string(),
        Err(ReadError::NotFound | ReadError::Empty) => String::new(),
        Err(e) => return Err(CliError::new(format!("{}: {e}", file.display()))),
    };
    if let Some(updated) = git::add_attribute_lines(&existing, &lines) {
        write_file(&file, updated.as_bytes(), Mode::KeepOr(0o644))?;
        changed.push(format!(
            "added {} line(s) to {}",
            lines.len(),
            file.display()
        ));
    }
    Ok(())
}

fn hook(args: &SetupArgs, cwd: &Path, changed: &mut Vec<String>) -> Result<(), CliError> {
    let hooks = git_text(cwd, &["rev-parse", "--git-path", "hooks"]).map_err(git_err)?;
    let hooks = cwd.join(PathBuf::from(hooks));
    let file = hooks.join("pre-commit");
    let script = git::hook_script(&args.program);
    match std::fs::read_to_string(&file) {
        Ok(existing) if existing == script => return Ok(()),
        Ok(existing) if !existing.contains(git::HOOK_MARKER) => {
            return Err(CliError::new(format!(
                "{}: a pre-commit hook already exists and was not written by seal; it was not changed",
                file.display()
            ))
            .hint(format!(
                "add these lines to it: {0} check --staged || exit 1; {0} scan --staged || exit 1",
                git::shell_quote(&args.program)
            )))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CliError::new(format!(
                "{}: cannot read the existing hook: {e}",
                file.display()
            )))
        }
    }
    std::fs::create_dir_all(&hooks)
        .map_err(|e| CliError::new(format!("{}: cannot create: {e}", hooks.display())))?;
    write_file(&file, script.as_bytes(), Mode::KeepOr(0o755))?;
    changed.push(format!("installed {}", file.display()));
    Ok(())
}
