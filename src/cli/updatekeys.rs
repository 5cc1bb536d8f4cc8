//! `seal updatekeys`: re-wrap sealed files for the recipients their rule
//! names now; also the engine behind `seal rotate` and `seal recipients
//! add/remove`.
//!
//! Each file is read, checked, re-sealed in memory and written atomically
//! under its lock, one at a time: an interrupted run leaves every file
//! either old or new, and running it again finishes the job (a file that
//! already matches its rule is left byte-identical).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use clap::Args;
use zeroize::Zeroizing;

use super::{display, load_identities, lock_file, write_file, CliError, IdentityArgs};
use crate::config::Config;
use crate::crypto::DataKey;
use crate::document::{self, DocError, Resealed};
use crate::envelope::{unwrap_data_key, Identities, Recipient, UnwrapError};
use crate::format::Format;
use crate::fsio::{self, Mode};
use crate::team;

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

/// What the engine does to each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Make the recipients match the rule.
    Update,
    /// New data key, same recipients.
    Rotate,
    /// Wrap the same data key for `Options::new_key` in every file whose
    /// rule names it, and change nothing else: onboarding is not the place
    /// to settle other differences between a file and its rule.
    Add,
}

/// How the engine runs.
pub(crate) struct Options {
    pub mode: Action,
    pub dry_run: bool,
    /// Rotate the data key when a recipient is dropped.
    pub rotate_on_removal: bool,
    pub force: bool,
    /// Keys to drop from files that no rule covers (`recipients remove`).
    pub drop_keys: Vec<String>,
    /// The key `Action::Add` gives to the files its rules name it for.
    pub new_key: Option<String>,
    /// Keep the text of every file before it is rewritten.
    pub keep_old: bool,
    /// Print the per-file lines on stderr (stdout carries JSON).
    pub lines_to_stderr: bool,
}

enum Outcome {
    UpToDate,
    NoRule(String),
    Changed {
        added: Vec<String>,
        removed: Vec<String>,
        rotated: bool,
    },
    Skipped {
        reason: String,
        hint: Option<String>,
    },
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

pub(crate) struct Engine<'a> {
    opts: Options,
    identity: &'a IdentityArgs,
    ids: Option<Identities>,
    configs: HashMap<PathBuf, Option<Rc<Config>>>,
    /// (file, text before the change) for every file rewritten.
    pub old_texts: Vec<(PathBuf, Zeroizing<String>)>,
}

fn skipped(reason: impl Into<String>, hint: Option<&str>) -> Outcome {
    Outcome::Skipped {
        reason: reason.into(),
        hint: hint.map(str::to_owned),
    }
}

impl<'a> Engine<'a> {
    pub(crate) fn new(opts: Options, identity: &'a IdentityArgs) -> Self {
        Engine {
            opts,
            identity,
            ids: None,
            configs: HashMap::new(),
            old_texts: Vec::new(),
        }
    }

    /// The identities, loaded on first use (a dry run needs none).
    pub(crate) fn identities(&mut self) -> Result<&Identities, CliError> {
        if self.ids.is_none() {
            self.ids = Some(load_identities(self.identity)?);
        }
        self.ids
            .as_ref()
            .ok_or_else(|| CliError::new("internal error: identities not loaded"))
    }

    /// Take the loaded identities (for the exposure report).
    pub(crate) fn take_identities(&mut self) -> Option<Identities> {
        self.ids.take()
    }

    fn config_for(&mut self, file: &Path) -> Result<Option<Rc<Config>>, CliError> {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if let Some(c) = self.configs.get(&dir) {
            return Ok(c.clone());
        }
        let found = Config::find(&dir)
            .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?
            .map(Rc::new);
        self.configs.insert(dir, found.clone());
        Ok(found)
    }

    /// Name of a recipient for messages: its name in `.seal.yaml`, else a
    /// short form of the key.
    fn label(config: Option<&Config>, key: &str) -> String {
        config
            .and_then(|c| {
                c.recipients
                    .iter()
                    .find(|(_, k)| Recipient::same_key(k, key))
            })
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| Recipient::short_key(key))
    }

    fn process(&mut self, file: &Path) -> Result<Outcome, CliError> {
        let name = display(file);
        let Some(format) = Format::from_path(file) else {
            return Ok(skipped(
                "not a YAML, JSON or dotenv file name",
                Some("seal recognises .yaml/.yml, .json, .env, *.env and .env.*"),
            ));
        };
        let text = match fsio::read_document(file) {
            Ok(t) => t,
            Err(e) => return Ok(skipped(CliError::read(&name, e).message, None)),
        };
        let sealed = match document::parse_sealed(format, &text) {
            Ok(s) => s,
            Err(e) => {
                let err = CliError::doc(&name, e);
                return Ok(Outcome::Skipped {
                    reason: err.message,
                    hint: err.hint,
                });
            }
        };
        let current = sealed.metadata().recipients.clone();
        let config = self.config_for(file)?;
        let wanted: Vec<String> = match self.opts.mode {
            Action::Rotate => current.iter().map(|w| w.recipient.clone()).collect(),
            Action::Add => {
                let Some(new_key) = &self.opts.new_key else {
                    return Err(CliError::new("internal error: no key to add"));
                };
                let named = match config
                    .as_deref()
                    .and_then(|c| c.rule_for(file).map(|r| (c, r)))
                {
                    Some((c, rule)) => c
                        .resolve(&rule.recipients)
                        .map_err(|e| CliError::new(e.to_string()))?
                        .iter()
                        .any(|(_, k)| Recipient::same_key(k, new_key)),
                    None => false,
                };
                let has = current
                    .iter()
                    .any(|w| Recipient::same_key(&w.recipient, new_key));
                if !named || has {
                    return Ok(Outcome::UpToDate);
                }
                current
                    .iter()
                    .map(|w| w.recipient.clone())
                    .chain([new_key.clone()])
                    .collect()
            }
            Action::Update => match config
                .as_deref()
                .and_then(|c| c.rule_for(file).map(|r| (c, r)))
            {
                Some((c, rule)) => match c.resolve(&rule.recipients) {
                    Ok(list) => list.into_iter().map(|(_, k)| k).collect(),
                    Err(e) => return Err(CliError::new(e.to_string())),
                },
                None => {
                    let drops = &self.opts.drop_keys;
                    if current
                        .iter()
                        .any(|w| drops.iter().any(|d| Recipient::same_key(d, &w.recipient)))
                    {
                        current
                            .iter()
                            .filter(|w| !drops.iter().any(|d| Recipient::same_key(d, &w.recipient)))
                            .map(|w| w.recipient.clone())
                            .collect()
                    } else {
                        let why = match &config {
                            Some(c) => format!("no rule in {} matches it", c.file.display()),
                            None => "no .seal.yaml governs it".to_owned(),
                        };
                        return Ok(Outcome::NoRule(why));
                    }
                }
            },
        };
        let d = team::diff(&current, &wanted);
        // A rule that now selects more values than the file encrypts (a
        // stricter `encrypt:`) is applied too; one that selects fewer is
        // not: turning sealed values into plaintext is no key update.
        let recorded = &sealed.metadata().encrypt;
        let stricter: Option<Vec<String>> = match self.opts.mode {
            Action::Update => config
                .as_deref()
                .and_then(|c| c.rule_for(file))
                .map(|rule| rule.encrypt.clone())
                .filter(|patterns| patterns != recorded)
                .filter(|patterns| {
                    let values = || {
                        sealed
                            .leaves()
                            .iter()
                            .filter(|l| l.kind == crate::format::LeafKind::Scalar)
                    };
                    let now = |l: &crate::format::Leaf| crate::select::selected(recorded, &l.path);
                    let rule = |l: &crate::format::Leaf| crate::select::selected(patterns, &l.path);
                    values().any(|l| rule(l) && !now(l)) && values().all(|l| rule(l) || !now(l))
                }),
            _ => None,
        };
        if self.opts.mode != Action::Rotate && d.is_empty() && stricter.is_none() {
            return Ok(Outcome::UpToDate);
        }
        if wanted.is_empty() {
            return Ok(skipped(
                "it would be left with no recipients; a sealed file needs at least one",
                Some("add a recipient to its rule first, or decrypt the file if it should no longer be sealed"),
            ));
        }
        let rotated = self.opts.mode == Action::Rotate
            || (!d.removed.is_empty() && self.opts.rotate_on_removal);
        let added: Vec<String> = d
            .added
            .iter()
            .map(|k| Self::label(config.as_deref(), k))
            .collect();
        let removed: Vec<String> = d
            .removed
            .iter()
            .map(|k| Self::label(config.as_deref(), k))
            .collect();
        if self.opts.dry_run {
            return Ok(Outcome::Changed {
                added,
                removed,
                rotated,
            });
        }

        let _lock = match lock_file(file) {
            Ok(l) => l,
            Err(e) => return Ok(skipped(e.message, e.hint.as_deref())),
        };
        let force = self.opts.force;
        let ids = self.identities()?;
        let opened = match sealed.open(ids) {
            Ok(o) => o,
            Err(DocError::Unwrap(UnwrapError::NoMatch { .. })) => {
                // The keys being dropped go in the command too: the person
                // who runs it may have a .seal.yaml that no longer names them.
                let drops: String = self
                    .opts
                    .drop_keys
                    .iter()
                    .filter(|k| d.removed.iter().any(|r| Recipient::same_key(r, k)))
                    .map(|k| format!(" --drop-key {}", crate::git::shell_quote(k)))
                    .collect();
                return Ok(skipped(
                    "none of your identities can decrypt it (you are not one of its recipients); left unchanged",
                    Some(&format!(
                        "ask one of its recipients to run `seal updatekeys{drops} {}`",
                        crate::git::shell_quote(&name)
                    )),
                ));
            }
            Err(e) => {
                let err = CliError::doc(&name, e);
                return Ok(Outcome::Skipped {
                    reason: err.message,
                    hint: err.hint,
                });
            }
        };
        let wrap_err = |key: &str, e: String| {
            skipped(
                format!(
                    "cannot wrap the data key for {}: {e}",
                    Recipient::short_key(key)
                ),
                Some("check that recipient in .seal.yaml; the file was not changed"),
            )
        };
        let (key, wraps) = if rotated {
            let key = DataKey::generate();
            let mut wraps = Vec::with_capacity(wanted.len());
            for k in &wanted {
                match Recipient::parse(k).and_then(|r| r.wrap(&key)) {
                    Ok(w) => wraps.push(w),
                    Err(e) => return Ok(wrap_err(k, e.to_string())),
                }
            }
            (key, wraps)
        } else {
            let key = opened.data_key.clone();
            let mut wraps = d.kept.clone();
            for k in &d.added {
                match Recipient::parse(k).and_then(|r| r.wrap(&key)) {
                    Ok(w) => wraps.push(w),
                    Err(e) => return Ok(wrap_err(k, e.to_string())),
                }
            }
            (key, wraps)
        };
        if !force && unwrap_data_key(&wraps, ids).is_err() {
            return Ok(skipped(
                "none of your identities would be a recipient afterwards, so you would lose access; left unchanged",
                Some("pass --force to do it anyway"),
            ));
        }
        let patterns = stricter.as_ref().unwrap_or(&opened.metadata.encrypt);
        let new_text = match opened.reseal_for(&opened.plaintext, wraps, &key, patterns) {
            Ok(Resealed::Changed(t)) => t,
            Ok(Resealed::Unchanged) => return Ok(Outcome::UpToDate),
            Err(e) => {
                let err = CliError::doc(&name, e);
                return Ok(Outcome::Skipped {
                    reason: err.message,
                    hint: err.hint,
                });
            }
        };
        if let Err(e) = write_file(file, new_text.as_bytes(), Mode::KeepOr(0o644)) {
            return Ok(skipped(e.message, e.hint.as_deref()));
        }
        if self.opts.keep_old {
            self.old_texts.push((file.to_path_buf(), text));
        }
        Ok(Outcome::Changed {
            added,
            removed,
            rotated,
        })
    }

    fn line(&self, text: &str) {
        if self.opts.lines_to_stderr {
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
        let dry = self.opts.dry_run;
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
                Outcome::NoRule(why) => {
                    sum.no_rule += 1;
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
                Outcome::Skipped { reason, hint } => {
                    sum.skipped += 1;
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
            lines_to_stderr: false,
        },
        &args.identity,
    );
    let sum = engine.run(&files)?;
    finish(&sum)
}
