//! `seal recipients`: list the recipients of `.seal.yaml` (or of a sealed
//! file), add one (onboarding) or remove one (offboarding, with a new data
//! key for every file they could open and an exposure report).
//!
//! `.seal.yaml` is edited in place, keeping its comments and layout, and
//! checked again before it is written atomically.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::exposure::{build, keys_for, render_json, render_table, Subject};
use super::updatekeys::{finish, sealed_files_under, Engine};
use super::{
    detect_format, display, lock_file, print_stdout, read_input, write_file, CliError, FormatArg,
    IdentityArgs,
};
use crate::config::Config;
use crate::document;
use crate::envelope::Recipient;
use crate::fsio::{self, Mode};
use crate::team;
use crate::team::reconcile::{self, Action, Lockout, Options};

/// How `seal recipients` shows fingerprints.
const FINGERPRINTS: &str =
    "Fingerprints are SHA256: and base64 without padding: for SSH keys the same \
as `ssh-keygen -l` prints (SHA-256 of the key blob, the comment ignored); for age, plugin and \
scrypt: recipients SHA-256 of the recipient text.

Examples:
  seal recipients                    # .seal.yaml's recipients, groups and rules
  seal recipients add bob \"$(cat bob.pub)\" --group team";

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, after_help = FINGERPRINTS)]
pub struct RecipientsArgs {
    #[command(subcommand)]
    action: Option<Action2>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    format: FormatArg,
    /// A sealed file: list the recipients it is actually wrapped for, and
    /// how they compare with its rule.
    file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Action2 {
    /// Add a recipient to .seal.yaml, then update every sealed file.
    ///
    /// KEY is an age public key (age1…), an ssh-ed25519 or ssh-rsa public
    /// key line, an age plugin recipient, or scrypt:LABEL (a passphrase,
    /// asked for when wrapping); `-` reads it from standard input and a
    /// path reads a .pub or recipients file holding exactly one key.
    #[command(after_help = "Examples:
  seal recipients add bob age1... --group ops
  seal recipients add ci ~/.ssh/ci_ed25519.pub")]
    Add(AddArgs),
    /// Remove a recipient from .seal.yaml (and its groups and rules), give
    /// every file they could open a new data key, and report what they
    /// could decrypt in the git history.
    #[command(after_help = "Example:
  seal recipients remove bob       # rotates, then reports what bob could read")]
    Remove(RemoveArgs),
}

#[derive(Args, Debug)]
struct AddArgs {
    /// Also put them in group G (repeatable): every rule naming G covers them.
    #[arg(long = "group", value_name = "G")]
    groups: Vec<String>,
    /// Edit .seal.yaml only; do not update the sealed files now.
    #[arg(long)]
    no_update: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    /// The recipient's name in .seal.yaml.
    name: String,
    /// The public key, `-` for standard input, or a .pub/recipients file.
    key: String,
}

#[derive(Args, Debug)]
struct RemoveArgs {
    /// Delete rules that would be left with no recipients, and rewrite
    /// files you would lose access to yourself.
    #[arg(long)]
    force: bool,
    /// Print the exposure report as JSON (the per-file lines go to stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    /// The recipient's name in .seal.yaml.
    name: String,
}

pub fn run(args: RecipientsArgs) -> Result<ExitCode, CliError> {
    match args.action {
        Some(Action2::Add(a)) => add(a),
        Some(Action2::Remove(a)) => remove(a),
        None => match &args.file {
            Some(f) => list_file(f, &args.format, args.json),
            None => list_config(args.json),
        },
    }
}

fn find_config() -> Result<Config, CliError> {
    Config::find(Path::new("."))
        .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?
        .ok_or_else(|| {
            CliError::new("no .seal.yaml found in this directory or its parents")
                .hint("create one with a `recipients:` mapping and `rules:`")
        })
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    (*c).to_owned()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        s.push_str(text.join("  ").trim_end());
        s.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    s
}

fn list_config(json: bool) -> Result<ExitCode, CliError> {
    let config = find_config()?;
    let mut entries = Vec::new();
    for (name, key) in &config.recipients {
        let groups: Vec<String> = config
            .groups
            .iter()
            .filter(|(_, m)| m.iter().any(|x| x == name))
            .map(|(g, _)| g.clone())
            .collect();
        let rules: Vec<String> = config
            .rules
            .iter()
            .filter(|r| {
                config
                    .resolve(&r.recipients)
                    .is_ok_and(|l| l.iter().any(|(n, _)| n == name))
            })
            .map(|r| r.path.clone())
            .collect();
        entries.push((name, key, groups, rules));
    }
    let out = if json {
        let v: Vec<serde_json::Value> = entries
            .iter()
            .map(|(n, k, g, r)| {
                serde_json::json!({
                    "name": n, "type": Recipient::key_type(k), "fingerprint": Recipient::fingerprint(k),
                    "recipient": k, "groups": g, "rules": r,
                })
            })
            .collect();
        format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "config": config.file.display().to_string(),
                "recipients": v,
            }))
            .unwrap_or_default()
        )
    } else {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|(n, k, g, r)| {
                vec![
                    (*n).clone(),
                    Recipient::key_type(k),
                    Recipient::fingerprint(k),
                    if g.is_empty() {
                        "-".into()
                    } else {
                        g.join(",")
                    },
                    if r.is_empty() {
                        "- (no rule)".into()
                    } else {
                        r.join(", ")
                    },
                ]
            })
            .collect();
        table(&["NAME", "TYPE", "FINGERPRINT", "GROUPS", "RULES"], &rows)
    };
    print_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn list_file(file: &Path, fmt: &FormatArg, json: bool) -> Result<ExitCode, CliError> {
    let format = detect_format(file, fmt)?;
    let name = display(file);
    let text = read_input(file)?;
    let info = document::inspect(format, &text).map_err(|e| CliError::doc(&name, e))?;
    let start = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let config = Config::find(start).map_err(|e| CliError::new(e.to_string()))?;
    let rule = config
        .as_ref()
        .and_then(|c| c.rule_for(file).map(|r| (c, r)));
    let wanted: Option<Vec<(String, String)>> = match rule {
        Some((c, r)) => Some(
            c.resolve(&r.recipients)
                .map_err(|e| CliError::new(e.to_string()))?,
        ),
        None => None,
    };
    let name_of = |key: &str| {
        config
            .as_ref()
            .and_then(|c| {
                c.recipients
                    .iter()
                    .find(|(_, k)| Recipient::same_key(k, key))
            })
            .map(|(n, _)| n.clone())
    };
    let mut rows: Vec<(Option<String>, String, &'static str)> = Vec::new();
    for w in &info.metadata.recipients {
        let status = match &wanted {
            None => "no rule",
            Some(list)
                if list
                    .iter()
                    .any(|(_, k)| Recipient::same_key(k, &w.recipient)) =>
            {
                "ok"
            }
            Some(_) => "not in rule: updatekeys removes it",
        };
        rows.push((name_of(&w.recipient), w.recipient.clone(), status));
    }
    for (n, k) in wanted.iter().flatten() {
        if !info
            .metadata
            .recipients
            .iter()
            .any(|w| Recipient::same_key(&w.recipient, k))
        {
            rows.push((Some(n.clone()), k.clone(), "missing: updatekeys adds it"));
        }
    }
    let up_to_date = rows.iter().all(|r| r.2 == "ok" || r.2 == "no rule");
    let out = if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, k, s)| {
                serde_json::json!({
                    "name": n, "type": Recipient::key_type(k), "fingerprint": Recipient::fingerprint(k),
                    "recipient": k, "status": s,
                })
            })
            .collect();
        format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "file": name,
                "rule": rule.map(|(_, r)| r.path.clone()),
                "up_to_date": up_to_date,
                "recipients": v,
            }))
            .unwrap_or_default()
        )
    } else {
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(n, k, s)| {
                vec![
                    n.clone().unwrap_or_else(|| "-".into()),
                    Recipient::key_type(k),
                    Recipient::fingerprint(k),
                    (*s).to_owned(),
                ]
            })
            .collect();
        let mut s = format!(
            "{name}: {} recipient{}{}\n",
            info.metadata.recipients.len(),
            if info.metadata.recipients.len() == 1 {
                ""
            } else {
                "s"
            },
            match rule {
                Some((_, r)) => format!(" (rule {:?})", r.path),
                None => " (no rule in .seal.yaml matches it)".to_owned(),
            }
        );
        s.push_str(&table(
            &["NAME", "TYPE", "FINGERPRINT", "STATUS"],
            &table_rows,
        ));
        s
    };
    print_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn read_config_text(config: &Config) -> Result<String, CliError> {
    let name = config.file.display().to_string();
    fsio::read_document(&config.file)
        .map(|t| t.to_string())
        .map_err(|e| CliError::read(&name, e))
}

fn update_all(
    config: &Config,
    identity: &IdentityArgs,
    opts: Options,
) -> Result<super::updatekeys::Summary, CliError> {
    let files = sealed_files_under(&config.dir)?;
    Engine::new(opts, identity, false).run(&files)
}

fn add(args: AddArgs) -> Result<ExitCode, CliError> {
    let config = find_config()?;
    let cfg_name = config.file.display().to_string();
    let key = team::read_key_argument(&args.key)
        .map_err(|e| CliError::new(e.to_string()).hint("nothing was changed"))?;
    let _lock = lock_file(&config.file)?;
    let text = read_config_text(&config)?;
    let new_text = crate::config::add_recipient(&config, &text, &args.name, &key, &args.groups)
        .map_err(|e| CliError::new(e.to_string()).hint(".seal.yaml was not changed"))?;
    write_file(&config.file, new_text.as_bytes(), Mode::KeepOr(0o644))?;
    let groups = if args.groups.is_empty() {
        String::new()
    } else {
        format!(", in group {}", args.groups.join(", "))
    };
    eprintln!(
        "seal: added {} ({} {}) to {cfg_name}{groups}",
        args.name,
        Recipient::key_type(&key),
        Recipient::fingerprint(&key)
    );
    if args.no_update {
        eprintln!("seal: run `seal updatekeys` to wrap the sealed files for them");
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(&config.file).map_err(|e| CliError::new(e.to_string()))?;
    // Only the files whose rules now name them get their key, the same data
    // key wrapped once more: no token changes, nobody else is touched.
    let sum = update_all(
        &config,
        &args.identity,
        Options {
            mode: Action::Add,
            dry_run: false,
            rotate_on_removal: false,
            force: false,
            drop_keys: Vec::new(),
            new_key: Some(key.clone()),
            keep_old: false,
        },
    )?;
    finish(&sum)
}

fn remove(args: RemoveArgs) -> Result<ExitCode, CliError> {
    let config = find_config()?;
    let cfg_name = config.file.display().to_string();
    let lock = lock_file(&config.file)?;
    let text = read_config_text(&config)?;
    let removal = crate::config::remove_recipient(&config, &text, &args.name, args.force)
        .map_err(|e| CliError::new(e.to_string()).hint(".seal.yaml was not changed"))?;
    let after = Config::parse(&removal.text, &config.file, &config.dir)
        .map_err(|e| CliError::new(e.to_string()))?;

    // Before changing anything: would the person running this lose access
    // to a file, or would a file be left with nobody?
    let files = sealed_files_under(&config.dir)?;
    let mut engine = Engine::new(
        Options {
            mode: Action::Update,
            dry_run: false,
            rotate_on_removal: true,
            force: args.force,
            drop_keys: vec![removal.key.clone()],
            new_key: None,
            keep_old: true,
        },
        &args.identity,
        args.json,
    );
    let ids = engine.identities()?;
    let lockouts: Vec<String> =
        reconcile::removal_lockouts(&files, &config, &after, &removal.key, ids, args.force)
            .into_iter()
            .map(|(f, lockout)| match lockout {
                Lockout::OnlyRecipient => {
                    format!("{}: {} is its only recipient", display(&f), args.name)
                }
                Lockout::LoseAccess => {
                    format!("{}: you would no longer be able to open it", display(&f))
                }
            })
            .collect();
    if !lockouts.is_empty() {
        return Err(CliError::new(format!(
            "not removing {}:\n  {}",
            args.name,
            lockouts.join("\n  ")
        ))
        .hint("add another recipient to those files' rules first; pass --force to remove anyway where you would lose access"));
    }

    write_file(&config.file, removal.text.as_bytes(), Mode::KeepOr(0o644))?;
    drop(lock);
    let mut what = vec![format!("recipients")];
    what.extend(removal.groups.iter().map(|g| format!("group {g}")));
    what.extend(removal.rules.iter().map(|r| format!("rule {r:?}")));
    eprintln!(
        "seal: removed {} ({}) from {cfg_name}: {}",
        args.name,
        Recipient::fingerprint(&removal.key),
        what.join(", ")
    );
    for r in &removal.deleted_rules {
        eprintln!("seal: WARNING: deleted rule {r:?}: it had no recipients left (--force)");
    }

    let sum = engine.run(&files)?;
    let old = engine.take_old_texts();
    let ids = engine.take_identities();
    let mut keys = keys_for(&args.name, Some(&config));
    if !keys.iter().any(|k| Recipient::same_key(k, &removal.key)) {
        keys.insert(0, removal.key.clone());
    }
    let subject = Subject {
        name: args.name.clone(),
        keys,
    };
    match build(&subject, &config.dir, &old, ids.as_ref()) {
        Ok(built) => {
            let out = if args.json {
                render_json(&subject, &built)
            } else {
                format!("\n{}", render_table(&subject, &built))
            };
            print_stdout(out.as_bytes())?;
        }
        Err(e) => eprintln!("seal: warning: no exposure report: {}", e.message),
    }
    // .seal.yaml no longer names them: running this again cannot finish
    // the job, the commands shown for each file can.
    super::updatekeys::finish_with(
        &sum,
        &format!(
            "{} is out of .seal.yaml, but the files above still have their key: run the command shown for each (a recipient of that file must)",
            args.name
        ),
    )
}
