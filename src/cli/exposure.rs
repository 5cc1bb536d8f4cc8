//! `seal exposure NAME`: every file and key path NAME could decrypt in the
//! git history, and which of those values are unchanged since (so the
//! credentials must be rotated where they were issued). Also printed by
//! `seal recipients remove`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{load_identities, print_stdout, CliError, IdentityArgs};
use crate::config::Config;
use crate::envelope::{Identities, Recipient};
use crate::exposure::{self, FileReport, Status, Version};
use crate::fsio;
use crate::team;

#[derive(Args, Debug)]
pub struct ExposureArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Compare plaintexts too (when tokens changed, e.g. after a rotation)
    /// with these identities; by default the usual identities are used if
    /// there are any. Without a key, only tokens are compared.
    #[command(flatten)]
    identity: IdentityArgs,
    /// A recipient name from .seal.yaml (now or in its git history), or a
    /// public key.
    name: String,
}

/// Who the report is about.
pub(crate) struct Subject {
    pub name: String,
    pub keys: Vec<String>,
}

/// The report and where it came from.
pub(crate) struct Built {
    pub files: Vec<FileReport>,
    pub versions: usize,
    pub git: bool,
}

fn add_key(keys: &mut Vec<String>, key: &str) {
    if !keys.iter().any(|k| Recipient::same_key(k, key)) {
        keys.push(key.trim().to_owned());
    }
}

/// Every key `name` had in `.seal.yaml`, now and in its git history; or
/// `name` itself when it is a key.
pub(crate) fn keys_for(name: &str, config: Option<&Config>) -> Vec<String> {
    let mut keys = Vec::new();
    if Recipient::parse(name).is_ok() {
        add_key(&mut keys, name);
        return keys;
    }
    let Some(config) = config else {
        return keys;
    };
    if let Some((_, k)) = config.recipients.iter().find(|(n, _)| n == name) {
        add_key(&mut keys, k);
    }
    if let Some(root) = exposure::repo_root(&config.dir) {
        if let Some(rel) = exposure::relative_to(&root, &config.file) {
            for text in exposure::file_history(&root, &rel).unwrap_or_default() {
                if let Ok(old) = Config::parse(&text, &config.file, &config.dir) {
                    if let Some((_, k)) = old.recipients.iter().find(|(n, _)| n == name) {
                        add_key(&mut keys, k);
                    }
                }
            }
        }
    }
    keys
}

/// Build the report for `subject` over the files under `dir`; `extra` are
/// versions not in git (files as they were before this run changed them).
pub(crate) fn build(
    subject: &Subject,
    dir: &Path,
    extra: &[(PathBuf, Zeroizing<String>)],
    ids: Option<&Identities>,
) -> Result<Built, CliError> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let (root, git) = match exposure::repo_root(&dir) {
        Some(r) => (r, true),
        None => (dir.clone(), false),
    };
    let mut versions: Vec<Version> = Vec::new();
    // What is readable now: the work tree's sealed files, and (in git) the
    // tips of all branches.
    let work_tree: Vec<(String, Zeroizing<String>)> = team::find_sealed_files(&dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|path| {
            Some((
                exposure::relative_to(&root, &path)?,
                fsio::read_document(&path).ok()?,
            ))
        })
        .collect();
    for (path, text) in extra {
        if let Some(file) = exposure::relative_to(&root, path) {
            versions.push(Version {
                file,
                label: "before this removal".to_owned(),
                text: text.clone(),
            });
        }
    }
    let now_anywhere;
    if git {
        let under = exposure::relative_to(&root, &dir)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ".".to_owned());
        let history = exposure::history(&root, Path::new(&under))
            .map_err(|e| CliError::new(format!("cannot read the git history: {e}")))?;
        versions.extend(history);
        now_anywhere = exposure::readable_now(&root, Path::new(&under), &work_tree, ids)
            .map_err(|e| CliError::new(format!("cannot read the git history: {e}")))?;
    } else {
        now_anywhere =
            exposure::readable_now(&root, Path::new("."), &work_tree, ids).unwrap_or_default();
        versions.extend(work_tree.iter().map(|(file, text)| Version {
            file: file.clone(),
            label: "working tree".to_owned(),
            text: text.clone(),
        }));
    }
    let current = |file: &str| fsio::read_document(&root.join(file)).ok();
    let files = exposure::analyze(&subject.keys, &versions, current, &now_anywhere, ids);
    Ok(Built {
        files,
        versions: versions.len(),
        git,
    })
}

fn counts(built: &Built) -> [(Status, usize); 5] {
    let mut out = [
        (Status::Unchanged, 0),
        (Status::Unknown, 0),
        (Status::StillRecipient, 0),
        (Status::Changed, 0),
        (Status::Removed, 0),
    ];
    for v in built.files.iter().flat_map(|f| &f.values) {
        if let Some(slot) = out.iter_mut().find(|(s, _)| *s == v.status) {
            slot.1 += 1;
        }
    }
    out
}

fn describe(status: Status) -> &'static str {
    match status {
        Status::Unchanged => "UNCHANGED: rotate at its source",
        Status::Unknown => "re-encrypted, not compared: rotate unless you know it changed",
        Status::StillRecipient => "still readable (still a recipient)",
        Status::Changed => "changed since",
        Status::Removed => "no longer in the file",
    }
}

pub(crate) fn render_table(subject: &Subject, built: &Built) -> String {
    let mut s = String::new();
    let source = if built.git {
        "the git history"
    } else {
        "the working tree (not a git repository)"
    };
    if built.files.is_empty() {
        s.push_str(&format!(
            "{} could not decrypt any value in {source} ({} file versions checked).\n",
            subject.name, built.versions
        ));
        return s;
    }
    s.push_str(&format!(
        "Values {} could decrypt in {source} ({} file versions checked):\n\n",
        subject.name, built.versions
    ));
    let rows: Vec<[String; 4]> = built
        .files
        .iter()
        .flat_map(|f| {
            f.values.iter().map(move |v| {
                [
                    f.file.clone(),
                    v.path.clone(),
                    v.last_readable.clone(),
                    describe(v.status).to_owned(),
                ]
            })
        })
        .collect();
    let header = [
        "FILE".to_owned(),
        "KEY PATH".to_owned(),
        "LAST READABLE IN".to_owned(),
        "STATUS".to_owned(),
    ];
    let mut widths = [0usize; 3];
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(rows.iter()) {
        s.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
    let c = counts(built);
    let n = |st: Status| c.iter().find(|(s, _)| *s == st).map_or(0, |(_, n)| *n);
    s.push('\n');
    if n(Status::Unchanged) > 0 {
        s.push_str(&format!(
            "{} value(s) are unchanged since {} lost access: rotate those credentials where they were issued, then `seal set` the new ones.\n",
            n(Status::Unchanged),
            subject.name
        ));
    }
    if n(Status::Unknown) > 0 {
        s.push_str(&format!(
            "{} value(s) were re-encrypted and could not be compared; pass -i IDENTITY (a recipient of the old versions) to compare plaintexts.\n",
            n(Status::Unknown)
        ));
    }
    if n(Status::StillRecipient) > 0 {
        s.push_str(&format!(
            "{} value(s) are in files {} can still open; run `seal updatekeys` (or `seal recipients remove {}`).\n",
            n(Status::StillRecipient),
            subject.name,
            subject.name
        ));
    }
    s
}

pub(crate) fn render_json(subject: &Subject, built: &Built) -> String {
    let files: Vec<serde_json::Value> = built
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "file": f.file,
                "still_recipient": f.still_recipient,
                "deleted": f.gone,
                "values": f.values.iter().map(|v| serde_json::json!({
                    "path": v.path,
                    "status": v.status.as_str(),
                    "rotate_at_source": v.status.rotate_at_source(),
                    "last_readable": v.last_readable,
                    "first_readable": v.first_readable,
                    "versions": v.versions,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let summary: serde_json::Map<String, serde_json::Value> = counts(built)
        .iter()
        .map(|(s, n)| (s.as_str().to_owned(), serde_json::json!(n)))
        .collect();
    let v = serde_json::json!({
        "name": subject.name,
        "keys": subject.keys,
        "fingerprints": subject.keys.iter().map(|k| Recipient::fingerprint(k)).collect::<Vec<_>>(),
        "source": if built.git { "git" } else { "working-tree" },
        "versions_checked": built.versions,
        "files": files,
        "summary": summary,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

pub fn run(args: ExposureArgs) -> Result<ExitCode, CliError> {
    let config = Config::find(Path::new("."))
        .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
    let keys = keys_for(&args.name, config.as_ref());
    if keys.is_empty() {
        return Err(CliError::new(format!(
            "no recipient named {:?} in .seal.yaml or in its git history",
            args.name
        ))
        .hint("give the name as it was in .seal.yaml, or the public key itself"));
    }
    let dir = config
        .as_ref()
        .map(|c| c.dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let explicit = !args.identity.identities.is_empty() || args.identity.passphrase;
    let ids = if explicit {
        Some(load_identities(&args.identity)?)
    } else {
        load_identities(&args.identity).ok()
    };
    let subject = Subject {
        name: args.name.clone(),
        keys,
    };
    let built = build(&subject, &dir, &[], ids.as_ref())?;
    let out = if args.json {
        render_json(&subject, &built)
    } else {
        render_table(&subject, &built)
    };
    print_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
