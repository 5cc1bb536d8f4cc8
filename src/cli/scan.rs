//! `seal scan [PATHS...] [--staged] [--history [RANGE]] [--json]`: find
//! plaintext secrets that should have been sealed, in files, in what is
//! staged, or in every blob of the git history. Findings show the match
//! masked; exit 1 when there are any. Nothing is ever changed.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{print_stdout, printable, CliError};
use crate::config::Config;
use crate::fsio::{self, ReadError};
use crate::git::{self, git, Blob};
use crate::scan::{Finding, Outcome, Scanner, MAX_FILE_SIZE, MAX_LINE_LEN};

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Scan the staged version of every staged file (for a pre-commit
    /// hook) instead of files on disk.
    #[arg(long, conflicts_with_all = ["paths", "history"])]
    staged: bool,
    /// Scan every blob reachable in RANGE (a revision or range for `git
    /// rev-list`; default: all refs) once, so a secret that was committed
    /// and later removed is found.
    #[arg(long, value_name = "RANGE", num_args = 0..=1, conflicts_with = "paths")]
    history: Option<Option<String>>,
    /// Print the findings as a JSON array of {file, line, column, rule,
    /// match} (and commit, with --history).
    #[arg(long)]
    json: bool,
    /// Files or directories to scan (default: the current directory). In
    /// a git work tree a directory means its tracked and untracked files,
    /// without those .gitignore excludes.
    paths: Vec<PathBuf>,
}

/// One scanned file's findings, as reported.
struct Reported {
    file: String,
    commit: Option<String>,
    findings: Vec<Finding>,
}

/// What the scan saw, for the summary and the exit code.
struct Run<'a> {
    scanner: Scanner,
    json: bool,
    cwd: &'a Path,
    configs: HashMap<PathBuf, Option<Config>>,
    reported: Vec<Reported>,
    scanned: usize,
    unreadable: usize,
}

pub fn run(args: ScanArgs) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let scanner = Scanner::new().map_err(|e| CliError::new(e.to_string()))?;
    let mut run = Run {
        scanner,
        json: args.json,
        cwd: &cwd,
        configs: HashMap::new(),
        reported: Vec::new(),
        scanned: 0,
        unreadable: 0,
    };
    if args.staged {
        scan_staged(&mut run)?;
    } else if let Some(range) = &args.history {
        scan_history(&mut run, range.as_deref())?;
    } else {
        let paths = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        for p in &paths {
            scan_path(&mut run, p)?;
        }
    }
    finish(run)
}

impl Run<'_> {
    /// Whether `.seal.yaml` `scan.allow` exempts `path`.
    fn allowed(&mut self, path: &Path) -> Result<bool, CliError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let config = match self.configs.get(&dir) {
            Some(c) => c,
            None => {
                let found = Config::find(&dir)
                    .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
                self.configs.entry(dir).or_insert(found)
            }
        };
        Ok(config.as_ref().is_some_and(|c| c.scan_allows(path)))
    }

    /// Scan one file's bytes; print its notes and (as text) its findings.
    fn bytes(&mut self, name: &str, commit: Option<&str>, bytes: &[u8]) -> Result<(), CliError> {
        let outcome: Outcome = self.scanner.scan(bytes);
        if outcome.binary {
            return Ok(());
        }
        self.scanned += 1;
        let shown = printable(name).into_owned();
        if outcome.invalid_utf8 {
            note(&format!(
                "{shown}: not valid UTF-8; scanned as bytes (columns count bytes)"
            ));
        }
        if let Some((line, n)) = outcome.long_lines {
            note(&format!(
                "{shown}:{line}: {n} line(s) longer than {} KiB: only the token rules were applied to them",
                MAX_LINE_LEN / 1024
            ));
        }
        if outcome.findings.is_empty() {
            return Ok(());
        }
        let report = Reported {
            file: name.to_owned(),
            commit: commit.map(str::to_owned),
            findings: outcome.findings,
        };
        self.reported.push(report);
        Ok(())
    }

    fn unreadable(&mut self, name: &str, why: impl std::fmt::Display) {
        note(&format!("{}: {why}; not scanned", printable(name)));
        self.unreadable += 1;
    }
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "seal: note: {text}");
}

/// The summary and exit code: 1 with any finding or unread file.
fn finish(run: Run) -> Result<ExitCode, CliError> {
    if run.json {
        let items: Vec<serde_json::Value> = run
            .reported
            .iter()
            .flat_map(|r| {
                r.findings.iter().map(move |f| {
                    let mut item = serde_json::json!({
                        "file": r.file,
                        "line": f.line,
                        "column": f.column,
                        "rule": f.rule,
                        "match": f.masked,
                    });
                    if let (Some(c), Some(map)) = (&r.commit, item.as_object_mut()) {
                        map.insert("commit".into(), c.clone().into());
                    }
                    item
                })
            })
            .collect();
        let mut text = serde_json::Value::Array(items).to_string();
        text.push('\n');
        print_stdout(text.as_bytes())?;
    } else {
        print_text(&run)?;
    }
    let found: usize = run.reported.iter().map(|r| r.findings.len()).sum();
    if found == 0 && run.unreadable == 0 {
        eprintln!("seal: no secrets found in {} file(s)", run.scanned);
        return Ok(ExitCode::SUCCESS);
    }
    let mut message = format!(
        "{found} possible secret(s) in {} file(s) ({} scanned)",
        run.reported.len(),
        run.scanned
    );
    if run.unreadable > 0 {
        message.push_str(&format!("; {} file(s) could not be read", run.unreadable));
    }
    let hint = if found > 0 {
        "seal the value (`seal encrypt --in-place FILE` or `seal set FILE PATH -`); for a false positive, add `seal:allow` to the line or the path to `scan.allow` in .seal.yaml"
    } else {
        "fix the permissions of the files named above, or add them to `scan.allow` in .seal.yaml"
    };
    Err(CliError::new(message).hint(hint))
}

/// A file or a directory on disk.
fn scan_path(run: &mut Run, path: &Path) -> Result<(), CliError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                CliError::new(format!("{}: no such file or directory", path.display()))
                    .hint("check the path"),
            )
        }
        Err(e) => {
            run.unreadable(&path.display().to_string(), format!("cannot read: {e}"));
            return Ok(());
        }
    };
    if meta.is_dir() {
        for file in files_under(path, run.cwd)? {
            scan_file(run, &file, None)?;
        }
        return Ok(());
    }
    scan_file(run, path, Some(meta))
}

/// Read and scan one file on disk, unless it is exempt, special or too big.
fn scan_file(run: &mut Run, path: &Path, meta: Option<std::fs::Metadata>) -> Result<(), CliError> {
    let name = shown(path, run.cwd);
    let meta = match meta.map_or_else(|| std::fs::metadata(path), Ok) {
        Ok(m) => m,
        // Listed by git but deleted in the work tree: nothing to scan.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            run.unreadable(&name, format!("cannot read: {e}"));
            return Ok(());
        }
    };
    if !meta.is_file() {
        note(&format!(
            "{}: not a regular file; skipped",
            printable(&name)
        ));
        return Ok(());
    }
    if run.allowed(path)? {
        return Ok(());
    }
    if meta.len() > MAX_FILE_SIZE {
        note(&format!(
            "{}: skipped: {} bytes, over the {} MiB limit",
            printable(&name),
            meta.len(),
            MAX_FILE_SIZE / (1024 * 1024)
        ));
        return Ok(());
    }
    match fsio::read_bytes(path) {
        Ok(bytes) => run.bytes(&name, None, &bytes),
        Err(ReadError::NotFound) => Ok(()),
        Err(e) => {
            run.unreadable(&name, e);
            Ok(())
        }
    }
}

/// How a path is shown: relative to the current directory when below it.
fn shown(path: &Path, cwd: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match abs.strip_prefix(cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// The files under `dir`: in a git work tree the tracked and untracked
/// ones .gitignore does not exclude (so build output and dependencies are
/// left out), else every regular file, skipping `.git` and symbolic links.
fn files_under(dir: &Path, cwd: &Path) -> Result<Vec<PathBuf>, CliError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if git::toplevel(&dir).is_some() {
        let list = git(
            &dir,
            &[
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
        )
        .map_err(|e| CliError::new(e.to_string()))?;
        let mut paths: Vec<PathBuf> = list
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| dir.join(String::from_utf8_lossy(s).as_ref()))
            .collect();
        // An unmerged file is listed once per stage.
        paths.dedup();
        return Ok(paths);
    }
    let mut paths = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                note(&format!(
                    "{}: cannot list: {e}; not scanned",
                    shown(&d, cwd)
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(entry.path());
                }
            } else if kind.is_file() {
                paths.push(entry.path());
            }
        }
    }
    paths.sort();
    Ok(paths)
}

/// The repository root, or a clear error naming the flag.
fn repository(cwd: &Path, flag: &str) -> Result<PathBuf, CliError> {
    git::toplevel(cwd).ok_or_else(|| {
        CliError::new(format!("{flag}: not in a git repository"))
            .hint("run it inside the repository, or name the files to scan instead")
    })
}

/// Every staged file (added, copied, modified, renamed), as staged.
fn scan_staged(run: &mut Run) -> Result<(), CliError> {
    let root = repository(run.cwd, "--staged")?;
    let staged = crate::git::staged_paths(&root).map_err(|e| CliError::new(e.to_string()))?;
    let mut files: Vec<(String, String)> = Vec::new();
    for rel in staged {
        // `git cat-file --batch` reads one name per line.
        if rel.contains('\n') {
            run.unreadable(&rel, "a newline in the file name");
            continue;
        }
        if run.allowed(&root.join(&rel))? {
            continue;
        }
        files.push((format!(":{rel}"), rel));
    }
    let specs: Vec<String> = files.iter().map(|(spec, _)| spec.clone()).collect();
    let names: HashMap<String, String> = files.into_iter().collect();
    cat_blobs(&root, &specs, |spec, blob| {
        let name = names.get(spec).map_or(spec, String::as_str);
        match blob {
            Blob::Contents(bytes) => return run.bytes(name, None, bytes),
            Blob::TooLarge(_) => too_big(name),
            Blob::Missing => run.unreadable(name, "not in git's object store"),
        }
        Ok(())
    })
}

/// Every blob reachable in `range` (default: all refs), each once.
fn scan_history(run: &mut Run, range: Option<&str>) -> Result<(), CliError> {
    let root = repository(run.cwd, "--history")?;
    let range_args: Vec<&str> = match range {
        // A range that starts with `-` would be read as an option.
        Some(r) if r.starts_with('-') => {
            return Err(CliError::usage(format!(
                "--history {r:?}: expected a revision or range like main or v1.0..HEAD"
            )))
        }
        Some(r) => vec![r],
        None => vec!["--all"],
    };
    let mut args = vec!["rev-list", "--objects", "--filter=object:type=blob"];
    args.extend(&range_args);
    args.push("--");
    let list = git(&root, &args).map_err(|e| {
        CliError::new(format!("--history: {e}"))
            .hint("pass a revision or range git knows (`git log RANGE` must work)")
    })?;
    let list = String::from_utf8_lossy(&list);
    let mut specs: Vec<String> = Vec::new();
    let mut paths: HashMap<String, String> = HashMap::new();
    for line in list.lines() {
        // `OID PATH`; a blob is listed once, with the first path seen.
        let Some((oid, path)) = line.split_once(' ') else {
            continue;
        };
        if run.allowed(&root.join(path))? {
            continue;
        }
        specs.push(oid.to_owned());
        paths.insert(oid.to_owned(), path.to_owned());
    }
    let mut leaks: Vec<(usize, String)> = Vec::new();
    cat_blobs(&root, &specs, |oid, blob| {
        let path = paths.get(oid).map_or(oid, String::as_str);
        let bytes = match blob {
            Blob::Contents(bytes) => bytes,
            Blob::TooLarge(_) => {
                too_big(&format!("{path} (blob {oid})"));
                return Ok(());
            }
            Blob::Missing => {
                run.unreadable(&format!("{path} (blob {oid})"), "not in git's object store");
                return Ok(());
            }
        };
        let before = run.reported.len();
        let result = run.bytes(path, Some(oid), bytes);
        if run.reported.len() > before {
            leaks.push((before, oid.to_owned()));
        }
        result
    })?;
    // Name the commit that added each leaking blob: what an incident
    // review starts from.
    for (index, oid) in leaks {
        let find = format!("--find-object={oid}");
        let mut args = vec!["log", "--format=%H", find.as_str()];
        args.extend(&range_args);
        let commits = git(&root, &args).map_err(|e| CliError::new(e.to_string()))?;
        let first = String::from_utf8_lossy(&commits)
            .lines()
            .last()
            .map(str::to_owned);
        run.reported[index].commit = first;
    }
    Ok(())
}

/// The findings as text, one per line: `FILE:LINE:COLUMN: RULE: MASKED`
/// (`COMMIT:FILE:…` from the history).
fn print_text(run: &Run) -> Result<(), CliError> {
    let mut out = String::new();
    for r in &run.reported {
        let place = match &r.commit {
            Some(c) => format!("{}:{}", &c[..c.len().min(12)], printable(&r.file)),
            None => printable(&r.file).to_string(),
        };
        for f in &r.findings {
            out.push_str(&format!(
                "{place}:{}:{}: {}: {}\n",
                f.line, f.column, f.rule, f.masked
            ));
        }
    }
    print_stdout(out.as_bytes())
}

fn too_big(name: &str) {
    note(&format!(
        "{}: skipped: over the {} MiB limit",
        printable(name),
        MAX_FILE_SIZE / (1024 * 1024)
    ));
}

/// Feed `specs` to one `git cat-file --batch` and call `each` with every
/// answer, until `each` fails.
fn cat_blobs(
    root: &Path,
    specs: &[String],
    mut each: impl FnMut(&str, Blob<'_>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut result = Ok(());
    git::cat_file_batch(root, specs, MAX_FILE_SIZE, |index, blob| {
        if result.is_ok() {
            result = each(&specs[index], blob);
        }
    })
    .map_err(|e| match e {
        git::GitError::Spawn(_) => {
            CliError::new(e.to_string()).hint("install git and make sure it is on PATH")
        }
        _ => CliError::new(format!("cannot read from `git cat-file`: {e}")),
    })?;
    result
}
