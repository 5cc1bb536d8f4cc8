//! `seal status`: the secret inventory, read without a key.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;

use super::check::files_under;
use super::{print_stdout, printable, CliError};
use crate::config::Config;
use crate::document;
use crate::format::Format;
use crate::path::KeyPath;
use crate::status::{assess, history, rfc3339, DateSource, Row, State};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print a JSON array of values instead of a table.
    #[arg(long)]
    json: bool,
    /// Exit 1 when any value is overdue (for a scheduled CI job).
    #[arg(long)]
    check: bool,
    /// List every sealed value, not only those a policy covers.
    #[arg(long)]
    all: bool,
    /// Files or directories (default: the files under .seal.yaml's directory;
    /// tracked files only in a git repository).
    paths: Vec<PathBuf>,
}

/// A sealed file read for the inventory.
struct FileValues {
    name: String,
    path: PathBuf,
    format: Format,
    text: String,
    config: Option<Config>,
    /// Each sealed value with its recorded date.
    dates: Vec<(KeyPath, Option<String>)>,
    readers: Vec<String>,
    /// Changed-paths of the values pending (spec section 13).
    pending: Vec<String>,
}

pub fn run(args: StatusArgs) -> Result<ExitCode, CliError> {
    let now = crate::clock::now().map_err(|e| CliError::usage(e.to_string()))?;
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let whole = args.paths.is_empty();
    let candidates = if whole {
        let config = Config::find(&cwd)
            .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?
            .ok_or_else(|| {
                CliError::new(
                    "no .seal.yaml in this directory or its parents: no policy to report on",
                )
                .hint("run seal status where .seal.yaml is, or name the files (with --all)")
            })?;
        listed(&config.dir, &cwd)?
    } else {
        let mut out = Vec::new();
        for p in &args.paths {
            if p.is_dir() {
                out.extend(listed(p, &cwd)?);
            } else if p.is_file() {
                out.push(Listed {
                    name: p.display().to_string(),
                    path: p.clone(),
                });
            } else {
                return Err(
                    CliError::new(format!("{}: no such file or directory", p.display()))
                        .hint("check the path"),
                );
            }
        }
        out
    };

    let mut failed = false;
    let mut configs: HashMap<PathBuf, Option<Config>> = HashMap::new();
    let mut files = Vec::new();
    for c in candidates {
        let Some(format) = Format::from_path(&c.path) else {
            continue;
        };
        if c.path
            .file_name()
            .is_some_and(|n| n == crate::config::FILE_NAME)
        {
            continue;
        }
        let dir = parent_dir(&c.path);
        let config = match configs.get(&dir) {
            Some(found) => found.clone(),
            None => {
                let found = Config::find(&dir)
                    .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
                configs.insert(dir, found.clone());
                found
            }
        };
        let Ok(text) = std::fs::read_to_string(&c.path) else {
            if !whole {
                eprintln!("seal: error: {}: cannot read as UTF-8 text", c.name);
                failed = true;
            }
            continue;
        };
        if !format.looks_sealed(&text) {
            continue;
        }
        let info = match document::inspect(format, &text) {
            Ok(info) => info,
            Err(e) => {
                let e = CliError::doc(&c.name, e);
                eprintln!("seal: error: {}", printable(&e.message));
                failed = true;
                continue;
            }
        };
        let readers = info
            .metadata
            .recipients
            .iter()
            .map(|w| crate::team::label(config.as_ref(), &w.recipient))
            .collect();
        files.push(FileValues {
            name: c.name,
            path: c.path,
            format,
            text,
            config,
            dates: info.dates,
            readers,
            pending: info
                .metadata
                .pending
                .iter()
                .map(|p| p.path.clone())
                .collect(),
        });
    }

    let mut rows = Vec::new();
    let mut matched: HashMap<PathBuf, HashSet<usize>> = HashMap::new();
    // Values without a recorded date, per file, for the git history.
    let mut undated: Vec<Vec<KeyPath>> = vec![Vec::new(); files.len()];
    #[allow(clippy::type_complexity)]
    let mut pending: Vec<(
        usize,
        KeyPath,
        Option<SystemTime>,
        Option<crate::config::Applied>,
    )> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let relative = f.config.as_ref().and_then(|c| c.relative(&f.path));
        // A pending addition is listed like a value with no date yet.
        let additions: Vec<(KeyPath, Option<String>)> = f
            .pending
            .iter()
            .filter(|p| !f.dates.iter().any(|(path, _)| path.pointer() == **p))
            .filter_map(|p| crate::path::PathQuery::from_changed_path(p))
            .map(|q| (query_path(&q), None))
            .collect();
        for (path, date) in f.dates.iter().chain(&additions) {
            let applied = match (&f.config, &relative) {
                (Some(c), Some(rel)) => c.policy_for_relative(rel, path),
                _ => None,
            };
            if let (Some(a), Some(c)) = (&applied, &f.config) {
                matched
                    .entry(c.file.clone())
                    .or_default()
                    .extend(a.entries.iter().copied());
            }
            if applied.is_none() && !args.all {
                continue;
            }
            let recorded = date
                .as_deref()
                .and_then(|d| humantime::parse_rfc3339(d).ok());
            if recorded.is_none() {
                undated[i].push(path.clone());
            }
            pending.push((i, path.clone(), recorded, applied));
        }
    }
    let from_git = history_dates(&files, &undated);
    for (i, path, recorded, applied) in pending {
        let f = &files[i];
        let (last_changed, source) = match recorded {
            Some(t) => (Some(t), DateSource::Metadata),
            None => match from_git.get(&(i, path.clone())) {
                Some(t) => (Some(*t), DateSource::History),
                None => (None, DateSource::None),
            },
        };
        let (state, next_due) = assess(now, last_changed, applied.as_ref());
        let applied = applied.unwrap_or_default();
        rows.push(Row {
            file: f.name.clone(),
            path: path.to_string(),
            owner: applied.owner,
            tier: applied.tier,
            last_changed,
            source,
            rotate_every: applied.rotate_every.map(|r| r.text),
            next_due,
            state,
            readers: f.readers.clone(),
            note: applied.note,
            // Most files have nothing pending: no pointer is built for them.
            pending: !f.pending.is_empty() && f.pending.contains(&path.pointer()),
        });
    }

    if whole {
        warn_unmatched(&configs, &matched);
    }
    let out = if args.json { json(&rows) } else { table(&rows) };
    print_stdout(out.as_bytes())?;
    let overdue = rows.iter().filter(|r| r.state == State::Overdue).count();
    if args.check && overdue > 0 {
        eprintln!("seal: {overdue} value(s) overdue for rotation");
        return Ok(ExitCode::from(1));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A file to report on: as shown, and where it is.
struct Listed {
    name: String,
    path: PathBuf,
}

fn listed(dir: &Path, cwd: &Path) -> Result<Vec<Listed>, CliError> {
    Ok(files_under(dir, cwd)?
        .into_iter()
        .map(|c| Listed {
            name: c.name,
            path: c.path,
        })
        .collect())
}

fn parent_dir(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Dates from git history for the values whose files record none, by
/// (file index, key path). Files outside git get none.
fn history_dates(
    files: &[FileValues],
    undated: &[Vec<KeyPath>],
) -> HashMap<(usize, KeyPath), SystemTime> {
    let mut out = HashMap::new();
    // Files grouped by repository.
    let mut repos: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    let mut roots: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        if undated[i].is_empty() {
            continue;
        }
        let dir = parent_dir(&f.path);
        let root = roots
            .entry(dir.clone())
            .or_insert_with(|| crate::exposure::repo_root(&dir))
            .clone();
        if let Some(root) = root {
            repos.entry(root).or_default().push(i);
        }
    }
    for (root, indices) in repos {
        let mut wanted = Vec::new();
        let mut which = Vec::new();
        for i in indices {
            let Some(rel) = crate::exposure::relative_to(&root, &files[i].path) else {
                continue;
            };
            wanted.push(history::Wanted {
                file: rel,
                format: files[i].format,
                text: &files[i].text,
                paths: undated[i].clone(),
            });
            which.push(i);
        }
        match history::dates(&root, &wanted) {
            Ok(dates) => {
                let by_file: HashMap<&str, usize> = wanted
                    .iter()
                    .zip(&which)
                    .map(|(w, i)| (w.file.as_str(), *i))
                    .collect();
                for ((file, path), t) in dates {
                    if let Some(&i) = by_file.get(file.as_str()) {
                        out.insert((i, path), t);
                    }
                }
            }
            Err(e) => eprintln!(
                "seal: warning: {}: cannot read the git history ({e}); values without a recorded date show \"no date known\"",
                root.display()
            ),
        }
    }
    out
}

/// A policy entry that matched no sealed value is probably a typo.
fn warn_unmatched(
    configs: &HashMap<PathBuf, Option<Config>>,
    matched: &HashMap<PathBuf, HashSet<usize>>,
) {
    let mut seen = HashSet::new();
    for config in configs.values().flatten() {
        if !seen.insert(config.file.clone()) {
            continue;
        }
        let hit = matched.get(&config.file);
        for e in &config.policy {
            if hit.is_some_and(|h| h.contains(&e.index)) {
                continue;
            }
            let keys = if e.keys.is_empty() {
                String::new()
            } else {
                format!(", keys {:?}", e.keys)
            };
            eprintln!(
                "seal: warning: {}:{}: policy[{}] (path {:?}{keys}) matches no sealed value",
                printable(&config.file.display().to_string()),
                e.line,
                e.index,
                e.path,
            );
        }
    }
}

fn date(t: Option<SystemTime>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| rfc3339(t)[..10].to_owned())
}

fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no sealed values covered by a policy (--all lists every sealed value)\n"
            .to_owned();
    }
    let header = [
        "FILE",
        "PATH",
        "OWNER",
        "TIER",
        "LAST CHANGED",
        "ROTATE EVERY",
        "NEXT DUE",
        "STATE",
        "READERS",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            let last = match r.source {
                DateSource::History => format!("{} (git)", date(r.last_changed)),
                _ => date(r.last_changed),
            };
            [
                r.file.clone(),
                r.path.clone(),
                r.owner.clone().unwrap_or_else(|| "-".into()),
                r.tier.clone().unwrap_or_else(|| "-".into()),
                last,
                r.rotate_every.clone().unwrap_or_else(|| "-".into()),
                date(r.next_due),
                r.state.name().to_owned(),
                r.readers.join(", "),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header.map(String::from));
    for row in &cells {
        out.push_str(&line(row));
    }
    // How to rotate what is due.
    for r in rows {
        if let (State::Overdue | State::DueSoon, Some(note)) = (r.state, &r.note) {
            out.push_str(&format!(
                "{} {} ({}): {note}\n",
                r.file,
                r.path,
                r.state.name()
            ));
        }
    }
    for r in rows.iter().filter(|r| r.pending) {
        out.push_str(&format!(
            "{} {}: pending (added with `seal set --public`, not authenticated); `seal fold {}` folds it in\n",
            r.file, r.path, r.file
        ));
    }
    printable(&out).into_owned()
}

/// The key path a pending changed-path names: segments are keys, except
/// where a pointer segment is an index (`/keys/0`), which no sealed file
/// can tell apart without the value; as shown, both print the same.
fn query_path(q: &crate::path::PathQuery) -> KeyPath {
    use crate::path::Segment;
    KeyPath::new(
        q.doc,
        q.segments
            .iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) if !s.starts_with('0') || s == "0" => Segment::Index(i),
                _ => Segment::Key(s.clone()),
            })
            .collect(),
    )
}

fn json(rows: &[Row]) -> String {
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.file,
                "path": r.path,
                "owner": r.owner,
                "tier": r.tier,
                "last_changed": r.last_changed.map(rfc3339),
                "rotate_every": r.rotate_every,
                "next_due": r.next_due.map(rfc3339),
                "state": r.state.name(),
                "readers": r.readers,
                "pending": r.pending,
            })
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&items).unwrap_or_default()
    )
}
