//! `seal check [PATHS]`: for a pre-commit hook and CI. Every file a
//! `.seal.yaml` rule covers must be sealed: metadata present and every value
//! the rule (or the file) selects a token. That needs no key. Where an
//! identity opens the file, its MAC is verified too and an unresolved merge
//! conflict is reported. Problems name the file and the key path, never a
//! value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{CliError, IdentityArgs};
use crate::config::Config;
use crate::document::{self, DocError};
use crate::envelope::{Identities, IdentitySources};
use crate::format::{Format, LeafKind};
use crate::fsio::{self, ReadError};
use crate::git::{self, git};
use crate::select;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Check the staged version of every staged file (for a pre-commit
    /// hook) instead of files on disk.
    #[arg(long, conflicts_with = "paths")]
    staged: bool,
    /// Also print the `seal updatekeys` command that brings the files
    /// whose recipients differ from their rule in line.
    #[arg(long)]
    fix_hint: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Files or directories to check (default: every file under the
    /// .seal.yaml directory; tracked files only in a git repository).
    /// Files no rule covers are skipped.
    paths: Vec<PathBuf>,
}

/// One file to check: how it is named, where it is (for rule matching),
/// and how to get its contents.
struct Candidate {
    name: String,
    path: PathBuf,
    /// Contents from the index (`--staged`), else read from `path`; `Err`
    /// for staged bytes that are not UTF-8 text.
    staged: Option<Result<Zeroizing<String>, NotText>>,
}

/// Staged bytes that are not UTF-8: no sealed file, so a problem wherever a
/// rule covers the path.
struct NotText;

pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let candidates = if args.staged {
        staged_files(&cwd)?
    } else if args.paths.is_empty() {
        let config = Config::find(&cwd)
            .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?
            .ok_or_else(|| {
                CliError::new("no .seal.yaml in this directory or its parents: no rule says what must be sealed")
                    .hint("run seal check where .seal.yaml is, or name the files")
            })?;
        files_under(&config.dir, &cwd)?
    } else {
        let mut out = Vec::new();
        for p in &args.paths {
            if p.is_dir() {
                out.extend(files_under(p, &cwd)?);
            } else {
                out.push(Candidate {
                    name: p.display().to_string(),
                    path: p.clone(),
                    staged: None,
                });
            }
        }
        out
    };

    let sources = IdentitySources::from_env(args.identity.identities.clone());
    let identities: std::cell::OnceCell<Option<Identities>> = std::cell::OnceCell::new();
    let ids = || {
        identities
            .get_or_init(|| Identities::load(&sources).ok())
            .as_ref()
    };
    let mut configs: HashMap<PathBuf, Option<Config>> = HashMap::new();
    let mut problems: Vec<String> = Vec::new();
    let (mut checked, mut verified) = (0usize, 0usize);
    let mut bad_files = 0usize;
    // Files whose recipients differ from their rule: `seal updatekeys`
    // fixes them.
    let mut to_update: Vec<String> = Vec::new();

    for c in candidates {
        let Some(format) = Format::from_path(&c.path) else {
            continue;
        };
        let dir = c
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let config = match configs.get(&dir) {
            Some(c) => c.clone(),
            None => {
                let found = Config::find(&dir)
                    .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
                configs.insert(dir.clone(), found.clone());
                found
            }
        };
        let Some(config) = config else { continue };
        // The policy file names keys, it holds none.
        if c.path
            .file_name()
            .is_some_and(|n| n == crate::config::FILE_NAME)
        {
            continue;
        }
        let Some(rule) = config.rule_for(&c.path) else {
            continue;
        };
        let text = match c.staged {
            Some(Ok(t)) => t,
            Some(Err(NotText)) => {
                problems.push(format!(
                    "{}: the staged file is not UTF-8 text, so it is not sealed",
                    c.name
                ));
                bad_files += 1;
                continue;
            }
            None => match fsio::read_document(&c.path) {
                Ok(t) => t,
                Err(ReadError::NotFound) => continue,
                Err(e) => {
                    problems.push(format!("{}: {e}", c.name));
                    bad_files += 1;
                    continue;
                }
            },
        };
        checked += 1;
        let before = problems.len();
        if check_file(&c.name, format, &text, &rule.encrypt, ids, &mut problems) {
            verified += 1;
        }
        let recipient_problems = problems.len();
        check_recipients(&c.name, format, &text, &config, rule, &mut problems);
        if problems.len() > recipient_problems {
            to_update.push(git::shell_quote(&shown(&c.path, &cwd)));
        }
        if problems.len() > before {
            bad_files += 1;
        }
    }

    for p in &problems {
        // Key paths, names and keys come from the files checked.
        println!("{}", super::printable(p));
    }
    if args.fix_hint && !to_update.is_empty() {
        println!("seal updatekeys {}", to_update.join(" "));
    }
    if problems.is_empty() {
        eprintln!(
            "seal: {checked} file(s) covered by .seal.yaml rules, all sealed{}",
            if verified > 0 {
                format!(" (MAC verified for {verified})")
            } else {
                String::new()
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    Err(CliError::new(format!(
        "{} problem(s) in {bad_files} file(s) that must be sealed",
        problems.len()
    ))
    .hint(if to_update.is_empty() || args.fix_hint {
        "seal a plaintext file with `seal encrypt --in-place FILE`; for a sealed one whose rule now selects more values or names other recipients, `seal updatekeys FILE`; restore a damaged one from git"
    } else {
        "seal a plaintext file with `seal encrypt --in-place FILE`; for a sealed one whose rule now selects more values or names other recipients, `seal updatekeys FILE` (`--fix-hint` prints the command); restore a damaged one from git"
    }))
}

/// A sealed file must be wrapped for exactly the recipients its rule names
/// now: a file restored from an old commit, or from a branch made before
/// someone was removed, still opens for them. Names each one, in both
/// directions; needs no key.
fn check_recipients(
    name: &str,
    format: Format,
    text: &str,
    config: &Config,
    rule: &crate::config::Rule,
    problems: &mut Vec<String>,
) {
    let Ok(info) = document::inspect(format, text) else {
        // Not sealed, or not readable: reported already.
        return;
    };
    let wanted = match config.resolve(&rule.recipients) {
        Ok(w) => w,
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            return;
        }
    };
    let keys: Vec<String> = wanted.iter().map(|(_, k)| k.clone()).collect();
    let d = crate::team::diff(&info.metadata.recipients, &keys);
    if !d.removed.is_empty() {
        let names: Vec<String> = d
            .removed
            .iter()
            .map(|k| crate::team::label(Some(config), k))
            .collect();
        problems.push(format!(
            "{name}: wrapped for {}, whom its rule ({}) does not name: they can still open it",
            names.join(", "),
            rule.path
        ));
    }
    if !d.added.is_empty() {
        let names: Vec<String> = d
            .added
            .iter()
            .map(|k| crate::team::label(Some(config), k))
            .collect();
        problems.push(format!(
            "{name}: not wrapped for {}, whom its rule ({}) names",
            names.join(", "),
            rule.path
        ));
    }
}

/// Check one document; returns whether its MAC was verified.
fn check_file<'i>(
    name: &str,
    format: Format,
    text: &str,
    rule_encrypt: &[String],
    identities: impl FnOnce() -> Option<&'i Identities>,
    problems: &mut Vec<String>,
) -> bool {
    let scan = match format.scan(text) {
        Ok(s) => s,
        Err(e) => {
            problems.push(match crate::conflict::git_conflicts(format, text) {
                Some(c) => super::git_conflict_error(name, &c).message,
                None => format!("{name}: cannot be parsed: {e}"),
            });
            return false;
        }
    };
    let file_encrypt: &[String] = scan
        .metadata
        .as_ref()
        .map_or(&[], |m| m.metadata.encrypt.as_slice());
    let mut plaintext_values = false;
    for leaf in &scan.leaves {
        if leaf.kind != LeafKind::Scalar || format.token_in(&text[leaf.span.clone()]).is_some() {
            continue;
        }
        let should = select::selected(rule_encrypt, &leaf.path)
            || (!file_encrypt.is_empty() && select::selected(file_encrypt, &leaf.path));
        if should {
            problems.push(format!("{name}: {} is not encrypted", leaf.path));
            plaintext_values = true;
        }
    }
    if scan.metadata.is_none() {
        problems.push(format!("{name}: not sealed (no seal metadata)"));
        return false;
    }
    if plaintext_values {
        return false;
    }
    let Some(ids) = identities() else {
        return false;
    };
    match document::open(format, text, ids) {
        Ok(opened) => {
            let conflicted = opened.conflicted_paths();
            if !conflicted.is_empty() {
                let paths: Vec<String> = conflicted.iter().map(|p| p.to_string()).collect();
                problems.push(format!(
                    "{name}: unresolved merge conflict at {}; resolve it with `seal edit {name}`",
                    paths.join(", ")
                ));
            }
            true
        }
        Err(DocError::Unwrap(crate::envelope::UnwrapError::NoMatch { .. })) => false,
        Err(DocError::Tampered) => {
            problems.push(format!(
                "{name}: the MAC does not match: the file was changed outside seal"
            ));
            false
        }
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            false
        }
    }
}

/// Staged files (added, copied, modified, renamed) with their staged text.
fn staged_files(cwd: &Path) -> Result<Vec<Candidate>, CliError> {
    let root = git::toplevel(cwd).ok_or_else(|| {
        CliError::new("--staged: not in a git repository").hint("name the files to check instead")
    })?;
    let list = git(
        &root,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ],
    )
    .map_err(|e| CliError::new(e.to_string()))?;
    let mut out = Vec::new();
    for rel in list.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let rel = String::from_utf8_lossy(rel).into_owned();
        let path = root.join(&rel);
        if Format::from_path(&path).is_none() {
            continue;
        }
        let blob = git(&root, &["cat-file", "blob", &format!(":{rel}")])
            .map_err(|e| CliError::new(e.to_string()))?;
        let blob = Zeroizing::new(blob);
        let staged = match std::str::from_utf8(&blob) {
            Ok(text) => Ok(Zeroizing::new(text.to_owned())),
            Err(_) => Err(NotText),
        };
        out.push(Candidate {
            name: rel.clone(),
            path,
            staged: Some(staged),
        });
    }
    Ok(out)
}

/// How a path is shown: relative to the current directory when below it.
fn shown(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd).unwrap_or(path).display().to_string()
}

/// Every file under `dir`: tracked files in a git repository, else all
/// files (skipping `.git`).
fn files_under(dir: &Path, cwd: &Path) -> Result<Vec<Candidate>, CliError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut paths: Vec<PathBuf> = Vec::new();
    if git::toplevel(&dir).is_some() {
        let list =
            git(&dir, &["ls-files", "-z", "--cached"]).map_err(|e| CliError::new(e.to_string()))?;
        paths.extend(
            list.split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| dir.join(String::from_utf8_lossy(s).as_ref())),
        );
        // An unmerged file is listed once per stage.
        paths.dedup();
    } else {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d)
                .map_err(|e| CliError::new(format!("{}: cannot list: {e}", d.display())))?;
            for entry in entries.flatten() {
                let p = entry.path();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    if entry.file_name() != ".git" {
                        stack.push(p);
                    }
                } else if kind.is_file() {
                    paths.push(p);
                }
            }
        }
        paths.sort();
    }
    let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    Ok(paths
        .into_iter()
        .map(|p| Candidate {
            name: shown(&p, &cwd),
            path: p,
            staged: None,
        })
        .collect())
}
