//! `seal updatekeys`: re-wrap sealed files for the recipients their rule
//! names now. The work is [`crate::team::reconcile`]'s; this module loads
//! identities, prints a line per file and the summary, for this command
//! and for `seal rotate` and `seal recipients add/remove`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{display, load_identities, CliError, IdentityArgs};
use crate::config::Config;
use crate::envelope::{Identities, Recipient};
use crate::team::reconcile::{Action, Options, Outcome, Reconciler, Skip, Step};
use crate::team::{self, TeamError};

#[derive(Args, Debug)]
#[command(
    after_help = "For each file, compares its recipients with what its rule in .seal.yaml \
says now. Recipients only added: the data key is wrapped for them and every value and token \
stays as it is. A recipient dropped: a new data key and every value re-encrypted (unless \
--no-rotate). Files already up to date are not touched. A file you cannot decrypt is reported \
and skipped, and the exit status is 1. Each file is written atomically: after an interruption, \
run the command again. A progress line is shown on a terminal for more than 10 files."
)]
pub struct UpdatekeysArgs {
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When a recipient is dropped, keep the data key instead of making a
    /// new one. NOT recommended: whoever was dropped may have kept the old
    /// key and can then read every future change to the file.
    #[arg(long)]
    pub no_rotate: bool,
    /// Also rewrite files that none of your identities could open afterwards.
    #[arg(long)]
    pub force: bool,
    /// Also take this recipient key out of files that no rule covers, as
    /// `seal recipients remove` does (to finish a removal someone else
    /// started, on files they could not open). Repeatable.
    #[arg(long = "drop-key", value_name = "KEY")]
    pub drop_keys: Vec<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Sealed files or directories. Default: every sealed file under the
    /// directory of the nearest .seal.yaml.
    pub paths: Vec<PathBuf>,
}

/// The reconcile engine with what the command line adds: identities
/// loaded on first use, and a line printed for each file.
pub(crate) struct Engine<'a> {
    reconciler: Reconciler,
    identity: &'a IdentityArgs,
    ids: Option<Identities>,
    /// Print the per-file lines on stderr (stdout carries JSON).
    lines_to_stderr: bool,
}

/// Counts for the summary line and the exit code.
#[derive(Default, Debug)]
pub(crate) struct Summary {
    pub updated: usize,
    pub rotated: usize,
    pub up_to_date: usize,
    pub no_rule: usize,
    pub skipped: usize,
}

/// The fatal errors of a run, with the hints users see.
fn team_error(e: TeamError) -> CliError {
    match e {
        TeamError::Config(_) => CliError::new(e.to_string()).hint("fix .seal.yaml"),
        other => CliError::new(other.to_string()),
    }
}

/// The identities in `slot`, loaded into it on first use.
fn loaded<'s>(
    slot: &'s mut Option<Identities>,
    args: &IdentityArgs,
) -> Result<&'s Identities, CliError> {
    Ok(match slot {
        Some(ids) => ids,
        None => slot.insert(load_identities(args)?),
    })
}

/// Why `file` was skipped, and what to do about it.
fn skip_reason(file: &Path, skip: Skip) -> (String, Option<String>) {
    let name = &display(file);
    let from = |e: CliError| (e.message, e.hint);
    match skip {
        Skip::UnknownFormat => (
            "not a YAML, JSON, TOML or dotenv file name".to_owned(),
            Some("seal recognises .yaml/.yml, .json, .toml, .env, *.env and .env.*".to_owned()),
        ),
        Skip::Read(e) => (CliError::read(name, e).message, None),
        Skip::Doc(e) => from(CliError::doc(name, e)),
        Skip::Lock(e) => from(CliError::lock(name, e)),
        Skip::NoRecipientsLeft => (
            "it would be left with no recipients; a sealed file needs at least one".to_owned(),
            Some("add a recipient to its rule first, or decrypt the file if it should no longer be sealed".to_owned()),
        ),
        Skip::NotARecipient { drop_keys } => {
            let drops: String = drop_keys
                .iter()
                .map(|k| format!(" --drop-key {}", crate::git::shell_quote(k)))
                .collect();
            (
                "none of your identities can decrypt it (you are not one of its recipients); left unchanged".to_owned(),
                Some(format!(
                    "ask one of its recipients to run `seal updatekeys{drops} {}`",
                    crate::git::shell_quote(name)
                )),
            )
        }
        Skip::Wrap { recipient, error } => (
            format!(
                "cannot wrap the data key for {}: {error}",
                Recipient::short_key(&recipient)
            ),
            Some("check that recipient in .seal.yaml; the file was not changed".to_owned()),
        ),
        Skip::WouldLoseAccess => (
            "none of your identities would be a recipient afterwards, so you would lose access; left unchanged".to_owned(),
            Some("pass --force to do it anyway".to_owned()),
        ),
        Skip::PendingValues(paths) => (
            format!(
                "values added with `seal set --public` are pending at {}, sealed to every recipient including the one to be removed; left unchanged",
                paths.join(", ")
            ),
            Some(format!(
                "a key holder folds them in first (`seal fold {}`), then run this again",
                crate::git::shell_quote(name)
            )),
        ),
        Skip::Write(e) => from(CliError::write(file, e)),
    }
}

impl<'a> Engine<'a> {
    pub(crate) fn new(opts: Options, identity: &'a IdentityArgs, lines_to_stderr: bool) -> Self {
        Engine {
            reconciler: Reconciler::new(opts),
            identity,
            ids: None,
            lines_to_stderr,
        }
    }

    /// The identities, loaded on first use (a dry run needs none).
    pub(crate) fn identities(&mut self) -> Result<&Identities, CliError> {
        loaded(&mut self.ids, self.identity)
    }

    /// Take the loaded identities (for the exposure report).
    pub(crate) fn take_identities(&mut self) -> Option<Identities> {
        self.ids.take()
    }

    /// (file, text before the change) for every file rewritten.
    pub(crate) fn take_old_texts(&mut self) -> Vec<(PathBuf, Zeroizing<String>)> {
        self.reconciler.take_old_texts()
    }

    fn process(&mut self, file: &Path) -> Result<Outcome, CliError> {
        match self.reconciler.prepare(file).map_err(team_error)? {
            Step::Done(outcome) => Ok(outcome),
            Step::Ready(pending) => {
                let ids = loaded(&mut self.ids, self.identity)?;
                Ok(self.reconciler.apply(*pending, ids))
            }
        }
    }

    fn line(&self, text: &str) {
        if self.lines_to_stderr {
            eprintln!("{text}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    /// Process `files` in order, printing one line per file and a summary.
    pub(crate) fn run(&mut self, files: &[PathBuf]) -> Result<Summary, CliError> {
        let mut sum = Summary::default();
        let progress = std::io::stderr().is_terminal() && files.len() > 10;
        let dry = self.reconciler.options().dry_run;
        for (i, file) in files.iter().enumerate() {
            let name = display(file);
            if progress {
                eprint!("\r\x1b[K[{}/{}] {name}", i + 1, files.len());
                let _ = std::io::stderr().flush();
            }
            let outcome = self.process(file);
            if progress {
                eprint!("\r\x1b[K");
            }
            match outcome? {
                Outcome::UpToDate => {
                    sum.up_to_date += 1;
                    self.line(&format!("up to date  {name}"));
                }
                Outcome::NoRule { config } => {
                    sum.no_rule += 1;
                    let why = match config {
                        Some(c) => format!("no rule in {} matches it", c.display()),
                        None => "no .seal.yaml governs it".to_owned(),
                    };
                    eprintln!("seal: note: {name}: {why}; left unchanged");
                }
                Outcome::Changed {
                    added,
                    removed,
                    rotated,
                } => {
                    let mut parts = Vec::new();
                    if !added.is_empty() {
                        parts.push(format!("added {}", added.join(", ")));
                    }
                    if !removed.is_empty() {
                        parts.push(format!("removed {}", removed.join(", ")));
                    }
                    if rotated {
                        parts.push("new data key, every value re-encrypted".to_owned());
                        sum.rotated += 1;
                    } else {
                        parts.push("same data key, values untouched".to_owned());
                        sum.updated += 1;
                    }
                    let verb = match (dry, rotated) {
                        (true, true) => "would rotate",
                        (true, false) => "would update",
                        (false, true) => "rotated    ",
                        (false, false) => "updated    ",
                    };
                    self.line(&format!("{verb} {name}: {}", parts.join("; ")));
                    if !removed.is_empty() && !rotated {
                        eprintln!(
                            "seal: WARNING: {name}: --no-rotate kept the old data key: {} may have kept it and can still decrypt every future change to this file.\nseal: WARNING: run `seal rotate {name}` as soon as you can.",
                            removed.join(", ")
                        );
                    }
                }
                Outcome::Skipped(skip) => {
                    sum.skipped += 1;
                    let (reason, hint) = skip_reason(file, skip);
                    let reason = reason
                        .strip_prefix(&format!("{name}: "))
                        .map(str::to_owned)
                        .unwrap_or(reason);
                    eprintln!("seal: error: {name}: skipped: {reason}");
                    if let Some(h) = hint {
                        eprintln!("seal: hint: {h}");
                    }
                }
            }
        }
        let mut summary = format!(
            "{} file{}: {} updated, {} rotated, {} up to date",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            sum.updated,
            sum.rotated,
            sum.up_to_date
        );
        if sum.no_rule > 0 {
            summary.push_str(&format!(", {} without a rule", sum.no_rule));
        }
        if sum.skipped > 0 {
            summary.push_str(&format!(", {} skipped", sum.skipped));
        }
        if dry {
            summary.push_str(" (dry run: nothing was written)");
        }
        self.line(&summary);
        Ok(sum)
    }
}

/// Files named on the command line (directories searched), or every sealed
/// file under the nearest `.seal.yaml`.
pub(crate) fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    if paths.is_empty() {
        let config = Config::find(Path::new("."))
            .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?
            .ok_or_else(|| {
                CliError::new("no .seal.yaml found in this directory or its parents")
                    .hint("name the files to update, or create .seal.yaml")
            })?;
        return sealed_files_under(&config.dir);
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            out.extend(sealed_files_under(p)?);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(CliError::usage(format!("{}: no such file", p.display())));
        }
    }
    Ok(out)
}

pub(crate) fn sealed_files_under(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let here = std::env::current_dir().ok();
    let files = team::find_sealed_files(dir)
        .map_err(|e| CliError::new(format!("{}: cannot list files: {e}", dir.display())))?;
    // Show paths relative to the current directory where possible.
    Ok(files
        .into_iter()
        .map(
            |f| match here.as_deref().and_then(|h| f.strip_prefix(h).ok()) {
                Some(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
                _ => f,
            },
        )
        .collect())
}

/// The exit status after a run: non-zero when a file was skipped.
pub(crate) fn finish(sum: &Summary) -> Result<ExitCode, CliError> {
    finish_with(
        sum,
        "fix what is reported, then run the same command again: files already done are left as they are",
    )
}

/// [`finish`] with the hint for skipped files.
pub(crate) fn finish_with(sum: &Summary, hint: &str) -> Result<ExitCode, CliError> {
    if sum.skipped > 0 {
        return Err(CliError::new(format!(
            "{} file{} could not be updated (see above)",
            sum.skipped,
            if sum.skipped == 1 { "" } else { "s" }
        ))
        .hint(hint));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: UpdatekeysArgs) -> Result<ExitCode, CliError> {
    let files = collect_files(&args.paths)?;
    let mut engine = Engine::new(
        Options {
            mode: Action::Update,
            dry_run: args.dry_run,
            rotate_on_removal: !args.no_rotate,
            force: args.force,
            drop_keys: args.drop_keys.iter().map(|k| k.trim().to_owned()).collect(),
            new_key: None,
            keep_old: false,
        },
        &args.identity,
        false,
    );
    let sum = engine.run(&files)?;
    finish(&sum)
}
