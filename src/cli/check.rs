//! `seal check [PATHS]`: for a pre-commit hook and CI. Every file a
//! `.seal.yaml` rule covers must be sealed: metadata present and every value
//! the rule (or the file) selects a token. That needs no key. Where an
//! identity opens the file, its MAC is verified too and an unresolved merge
//! conflict is reported. Problems name the file and the key path, never a
//! value.
//!
//! Where a `.seal.yaml` `schema:` entry covers a file, its names are checked
//! without a key (required ones present; with `--strict`, no others), and
//! value formats with one. A value in a message is only ever masked
//! ([`crate::mask::mask`]). `--same-keys A B` compares the names of two files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{CliError, IdentityArgs};
use crate::config::{Config, SchemaEntry};
use crate::document::{self, DocError, Opened};
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
    /// Also report names that the file's `schema:` entry does not list.
    #[arg(long)]
    strict: bool,
    /// Fail when the schema's format checks cannot run because no
    /// identity opens a file (they are skipped with a note otherwise).
    #[arg(long)]
    require_key: bool,
    /// Print the result as JSON on standard output (see the README).
    #[arg(long)]
    json: bool,
    /// List the names present in one of two files and missing in the
    /// other (dev/prod parity); needs no key.
    #[arg(
        long,
        num_args = 2,
        value_names = ["A", "B"],
        conflicts_with_all = ["paths", "staged", "strict", "require_key", "fix_hint"]
    )]
    same_keys: Option<Vec<PathBuf>>,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Files or directories to check (default: every file under the
    /// .seal.yaml directory; tracked files only in a git repository).
    /// Files no rule covers are skipped.
    paths: Vec<PathBuf>,
}

/// One file to check: how it is named, where it is (for rule matching),
/// and how to get its contents.
pub(super) struct Candidate {
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// Contents from the index (`--staged`), else read from `path`; `Err`
    /// for staged bytes that are not UTF-8 text.
    staged: Option<Result<Zeroizing<String>, NotText>>,
}

/// Staged bytes that are not UTF-8: no sealed file, so a problem wherever a
/// rule covers the path.
struct NotText;

/// One problem: the file, the key path when there is one, the rule broken
/// (a fixed word, for `--json`) and the message after the file name.
#[derive(serde::Serialize)]
struct Problem {
    file: String,
    path: Option<String>,
    rule: &'static str,
    message: String,
}

impl Problem {
    fn new(file: &str, rule: &'static str, message: String) -> Problem {
        Problem {
            file: file.to_owned(),
            path: None,
            rule,
            message,
        }
    }

    fn at(file: &str, path: String, rule: &'static str, message: String) -> Problem {
        Problem {
            file: file.to_owned(),
            path: Some(path),
            rule,
            message,
        }
    }
}

/// `seal check --json`: documented in the README.
#[derive(serde::Serialize)]
struct Report<'p> {
    ok: bool,
    checked: usize,
    verified: usize,
    problems: &'p [Problem],
    format_checks_skipped: &'p [String],
    fix_hint: Option<String>,
}

pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    if let Some(pair) = &args.same_keys {
        return same_keys(&pair[0], &pair[1], args.json);
    }
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
    let mut problems: Vec<Problem> = Vec::new();
    // Files whose schema has format checks that no identity could run.
    let mut skipped: Vec<String> = Vec::new();
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
                problems.push(Problem::new(
                    &c.name,
                    "not-text",
                    "the staged file is not UTF-8 text, so it is not sealed".to_owned(),
                ));
                bad_files += 1;
                continue;
            }
            None => match fsio::read_document(&c.path) {
                Ok(t) => t,
                Err(ReadError::NotFound) => continue,
                Err(e) => {
                    problems.push(Problem::new(&c.name, "unreadable", e.to_string()));
                    bad_files += 1;
                    continue;
                }
            },
        };
        checked += 1;
        let before = problems.len();
        let opened = check_file(&c.name, format, &text, &rule.encrypt, ids, &mut problems);
        if opened.is_some() {
            verified += 1;
        }
        // Not sealed, damaged or tampered with: reported already, and no
        // key would let its formats be checked.
        let unopenable = problems.len() > before;
        if let Some(schema) = config.schema_for(&c.path) {
            let names = SchemaCheck {
                name: &c.name,
                schema,
                strict: args.strict,
            };
            names.names(format, &text, &mut problems);
            if schema
                .names()
                .any(|n| n.format.is_some() || n.min_length.is_some())
            {
                match &opened {
                    Some(opened) => names.values(opened, &mut problems),
                    None if unopenable => {}
                    None if args.require_key => problems.push(Problem::new(
                        &c.name,
                        "require-key",
                        format!(
                            "format checks of the schema for {} need a key that opens the file (--require-key)",
                            schema.path
                        ),
                    )),
                    None => skipped.push(c.name.clone()),
                }
            }
        }
        drop(opened);
        let recipient_problems = problems.len();
        check_recipients(&c.name, format, &text, &config, rule, &mut problems);
        if problems.len() > recipient_problems {
            to_update.push(git::shell_quote(&shown(&c.path, &cwd)));
        }
        if problems.len() > before {
            bad_files += 1;
        }
    }

    let fix_hint = (args.fix_hint && !to_update.is_empty())
        .then(|| format!("seal updatekeys {}", to_update.join(" ")));
    if args.json {
        print_json(&Report {
            ok: problems.is_empty(),
            checked,
            verified,
            problems: &problems,
            format_checks_skipped: &skipped,
            fix_hint,
        })?;
    } else {
        print_problems(&problems);
        if let Some(hint) = &fix_hint {
            println!("{hint}");
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "seal: note: format checks were skipped for {} file(s) no identity opens ({}); pass -i FILE, and --require-key to fail instead",
            skipped.len(),
            super::printable(&skipped.join(", "))
        );
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
    .hint(if problems.iter().all(|p| SCHEMA_RULES.contains(&p.rule)) {
        "add a missing name with `seal set FILE NAME VALUE` and fix a value with `seal edit FILE`; the schema is in .seal.yaml"
    } else if to_update.is_empty() || args.fix_hint {
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
    problems: &mut Vec<Problem>,
) {
    let Ok(info) = document::inspect(format, text) else {
        // Not sealed, or not readable: reported already.
        return;
    };
    let wanted = match config.resolve(&rule.recipients) {
        Ok(w) => w,
        Err(e) => {
            problems.push(Problem::new(name, "config", e.to_string()));
            return;
        }
    };
    let keys: Vec<String> = wanted.iter().map(|(_, k)| k.clone()).collect();
    let d = crate::team::diff(&info.metadata.recipients, &keys);
    let drift = [
        (
            &d.removed,
            "wrapped for",
            "does not name: they can still open it",
        ),
        (&d.added, "not wrapped for", "names"),
    ];
    for (keys, wrapped, rule_says) in drift {
        if keys.is_empty() {
            continue;
        }
        let names: Vec<String> = keys
            .iter()
            .map(|k| crate::team::label(Some(config), k))
            .collect();
        problems.push(Problem::new(
            name,
            "recipients",
            format!(
                "{wrapped} {}, whom its rule ({}) {rule_says}",
                names.join(", "),
                rule.path
            ),
        ));
    }
}

/// Check one document; returns it opened when its MAC was verified.
fn check_file<'i>(
    name: &str,
    format: Format,
    text: &str,
    rule_encrypt: &[String],
    identities: impl FnOnce() -> Option<&'i Identities>,
    problems: &mut Vec<Problem>,
) -> Option<Opened> {
    let scan = match format.scan(text) {
        Ok(s) => s,
        Err(e) => {
            problems.push(match crate::conflict::git_conflicts(format, text) {
                Some(c) => {
                    let message = super::git_conflict_error(name, &c).message;
                    let message = message
                        .strip_prefix(&format!("{name}: "))
                        .map_or(message.clone(), str::to_owned);
                    Problem::new(name, "merge-conflict", message)
                }
                None => Problem::new(name, "parse", format!("cannot be parsed: {e}")),
            });
            return None;
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
            problems.push(Problem::at(
                name,
                leaf.path.to_string(),
                "encrypted",
                format!("{} is not encrypted", leaf.path),
            ));
            plaintext_values = true;
        }
    }
    if scan.metadata.is_none() {
        problems.push(Problem::new(
            name,
            "sealed",
            "not sealed (no seal metadata)".to_owned(),
        ));
        return None;
    }
    if plaintext_values {
        return None;
    }
    let ids = identities()?;
    match document::open(format, text, ids) {
        Ok(opened) => {
            let conflicted = opened.conflicted_paths();
            if !conflicted.is_empty() {
                let paths: Vec<String> = conflicted.iter().map(|p| p.to_string()).collect();
                problems.push(Problem::new(
                    name,
                    "merge-conflict",
                    format!(
                        "unresolved merge conflict at {}; resolve it with `seal edit {name}`",
                        paths.join(", ")
                    ),
                ));
            }
            Some(opened)
        }
        Err(DocError::Unwrap(crate::envelope::UnwrapError::NoMatch { .. })) => None,
        Err(DocError::Tampered) => {
            problems.push(Problem::new(
                name,
                "mac",
                "the MAC does not match: the file was changed outside seal".to_owned(),
            ));
            None
        }
        Err(e) => {
            problems.push(Problem::new(name, "open", e.to_string()));
            None
        }
    }
}

/// The `rule` of the problems a schema finds: fixed by changing names and
/// values, not by sealing.
const SCHEMA_RULES: [&str; 5] = ["required", "strict", "min_length", "format", "require-key"];

/// One file against its `schema:` entry.
struct SchemaCheck<'a> {
    name: &'a str,
    schema: &'a SchemaEntry,
    strict: bool,
}

impl SchemaCheck<'_> {
    /// `schema for prod/*.env`, and what needs the name.
    fn rule(&self, required_for: &[String]) -> String {
        let mut out = format!("the schema for {}", self.schema.path);
        if !required_for.is_empty() {
            out.push_str(&format!(", needed for {}", required_for.join(", ")));
        }
        out
    }

    /// Required names present and, with `--strict`, no others: needs no
    /// key, as names are not encrypted.
    fn names(&self, format: Format, text: &str, problems: &mut Vec<Problem>) {
        // Unparsable files are reported already.
        let Ok(scan) = format.scan(text) else { return };
        for n in &self.schema.required {
            if !scan.leaves.iter().any(|l| l.path.matches(&n.query)) {
                let about = n
                    .description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                problems.push(Problem::at(
                    self.name,
                    n.name.clone(),
                    "required",
                    format!(
                        "{}{about} is missing: required by {}",
                        n.name,
                        self.rule(&n.required_for)
                    ),
                ));
            }
        }
        if self.strict {
            let mut seen = std::collections::HashSet::new();
            for leaf in &scan.leaves {
                if self.schema.names().any(|n| leaf.path.matches(&n.query))
                    || !seen.insert(&leaf.path)
                {
                    continue;
                }
                problems.push(Problem::at(
                    self.name,
                    leaf.path.to_string(),
                    "strict",
                    format!(
                        "{} is not listed in the schema for {} (--strict)",
                        leaf.path, self.schema.path
                    ),
                ));
            }
        }
    }

    /// `min_length` and `format` of each value the schema names, on the
    /// decrypted values; a value is shown only masked.
    fn values(&self, opened: &Opened, problems: &mut Vec<Problem>) {
        let Ok(values) = opened.format.values(&opened.plaintext) else {
            return;
        };
        for n in self.schema.names() {
            if n.format.is_none() && n.min_length.is_none() {
                continue;
            }
            // A dotenv name may repeat; the last one counts (spec 4.3).
            let Some((path, value)) = values.iter().rev().find(|(p, _)| p.matches(&n.query)) else {
                continue;
            };
            let length = value.chars().count();
            let shown = crate::mask::mask(value);
            if let Some(min) = n.min_length.filter(|&min| length < min) {
                problems.push(Problem::at(
                    self.name,
                    path.to_string(),
                    "min_length",
                    format!(
                        "{path}: the value {shown} is shorter than min_length {min} of {}",
                        self.rule(&n.required_for)
                    ),
                ));
            }
            if let Some(f) = n.format.as_ref().filter(|f| !f.accepts(value)) {
                problems.push(Problem::at(
                    self.name,
                    path.to_string(),
                    "format",
                    format!(
                        "{path}: the value {shown} does not have the format ({}) of {}",
                        f.describe(),
                        self.rule(&n.required_for)
                    ),
                ));
            }
        }
    }
}

/// Problems as text, one per line: `FILE: MESSAGE`.
fn print_problems(problems: &[Problem]) {
    for p in problems {
        // Key paths, names and keys come from the files checked.
        println!(
            "{}",
            super::printable(&format!("{}: {}", p.file, p.message))
        );
    }
}

fn print_json(report: &Report) -> Result<(), CliError> {
    let mut out = serde_json::to_vec_pretty(report)
        .map_err(|e| CliError::new(format!("cannot write the report: {e}")))?;
    out.push(b'\n');
    super::print_stdout(&out)
}

/// `--same-keys A B`: the names (key paths) in one file and not the other,
/// from either file sealed or not; values are never read.
fn same_keys(a: &Path, b: &Path, json: bool) -> Result<ExitCode, CliError> {
    let names = |file: &Path| -> Result<Vec<crate::path::KeyPath>, CliError> {
        let shown = super::display(file);
        let format = super::detect_format(file, &super::FormatArg::default())?;
        let text = fsio::read_document(file).map_err(|e| CliError::read(&shown, e))?;
        let scan = format
            .scan(&text)
            .map_err(|e| CliError::doc(&shown, DocError::Parse(e)))?;
        let mut out: Vec<_> = Vec::new();
        for leaf in scan.leaves {
            if !out.contains(&leaf.path) {
                out.push(leaf.path);
            }
        }
        Ok(out)
    };
    let (in_a, in_b) = (names(a)?, names(b)?);
    let (a, b) = (super::display(a), super::display(b));
    let mut problems = Vec::new();
    for (from, to, present, other) in [(&a, &b, &in_a, &in_b), (&b, &a, &in_b, &in_a)] {
        for p in present.iter().filter(|p| !other.contains(p)) {
            problems.push(Problem::at(
                to,
                p.to_string(),
                "same-keys",
                format!("{p} is missing (present in {from})"),
            ));
        }
    }
    if json {
        print_json(&Report {
            ok: problems.is_empty(),
            checked: 2,
            verified: 0,
            problems: &problems,
            format_checks_skipped: &[],
            fix_hint: None,
        })?;
    } else {
        print_problems(&problems);
    }
    if problems.is_empty() {
        eprintln!(
            "seal: {} and {} hold the same {} name(s)",
            super::printable(&a),
            super::printable(&b),
            in_a.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    Err(CliError::new(format!(
        "{} name(s) present in one file and missing in the other",
        problems.len()
    ))
    .hint("add the missing names (`seal set FILE NAME VALUE`), or remove those no longer used"))
}

/// Staged files (added, copied, modified, renamed) with their staged text.
fn staged_files(cwd: &Path) -> Result<Vec<Candidate>, CliError> {
    let root = git::toplevel(cwd).ok_or_else(|| {
        CliError::new("--staged: not in a git repository").hint("name the files to check instead")
    })?;
    let staged = crate::git::staged_paths(&root).map_err(|e| CliError::new(e.to_string()))?;
    let mut out = Vec::new();
    for rel in staged {
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
pub(super) fn files_under(dir: &Path, cwd: &Path) -> Result<Vec<Candidate>, CliError> {
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
