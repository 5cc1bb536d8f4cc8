//! `seal encrypt`: seal a plaintext file for its recipients.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{
    detect_format, display, load_identities, print_stdout, read_input, write_file, CliError,
    FormatArg, IdentityArgs,
};
use crate::config::Config;
use crate::document::{self, GroupSpec, NextVersion, Opened};
use crate::envelope::{read_recipients_file, Recipient, RecipientError};
use crate::format::Format;
use crate::fsio::Mode;

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Recipient: age1…, "ssh-ed25519 …", "ssh-rsa …" or a plugin
    /// recipient; repeatable. Default: the matching rule of .seal.yaml.
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    recipients: Vec<String>,
    /// File with one recipient per line; repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_files: Vec<PathBuf>,
    /// Only encrypt values under these key paths (e.g. `stringData.*`);
    /// repeatable. Default: the rule's `encrypt`, else every value.
    #[arg(long = "encrypt", value_name = "PATTERN")]
    encrypt: Vec<String>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE", conflicts_with = "in_place")]
    output: Option<PathBuf>,
    /// Replace the input file.
    #[arg(long)]
    in_place: bool,
    /// A new data key and a new token for every value, even when the
    /// committed version of the file could lend its key (see README,
    /// "Encrypting again").
    #[arg(long)]
    fresh: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    /// The plaintext file (`-` for standard input).
    file: PathBuf,
}

/// Recipients and encrypt patterns for `file`: from the command line, else
/// from the nearest `.seal.yaml`.
pub(crate) fn recipients_for(
    file: &Path,
    explicit: &[String],
    files: &[PathBuf],
    encrypt: &[String],
) -> Result<(Vec<Recipient>, Vec<String>), CliError> {
    let mut texts: Vec<String> = explicit.to_vec();
    for f in files {
        let more = read_recipients_file(f).map_err(|e| {
            CliError::new(format!("{}: cannot read recipients file: {e}", f.display()))
        })?;
        if more.is_empty() {
            return Err(CliError::new(format!(
                "{}: no recipients in this file",
                f.display()
            )));
        }
        texts.extend(more);
    }
    let start = if file == Path::new("-") {
        PathBuf::from(".")
    } else {
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    let config =
        Config::find(&start).map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
    let rule = match (&config, file == Path::new("-")) {
        (Some(c), false) => c.rule_for(file).map(|r| (c, r)),
        _ => None,
    };
    let patterns = if !encrypt.is_empty() {
        encrypt.to_vec()
    } else {
        rule.map(|(_, r)| r.encrypt.clone()).unwrap_or_default()
    };
    if texts.is_empty() {
        let Some((config, rule)) = rule else {
            let why = match &config {
                Some(c) => format!("no rule in {} matches {}", c.file.display(), display(file)),
                None => "no .seal.yaml found in this directory or its parents".to_owned(),
            };
            return Err(
                CliError::new(format!("{}: no recipients: {why}", display(file)))
                    .hint("pass -r RECIPIENT / -R FILE, or add a rule for this path to .seal.yaml"),
            );
        };
        let resolved = config
            .resolve(&rule.recipients)
            .map_err(|e| CliError::new(e.to_string()))?;
        texts = resolved.into_iter().map(|(_, key)| key).collect();
    }
    let recipients = texts
        .iter()
        .map(|t| Recipient::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            let hint = match &e {
                RecipientError::MissingPlugin { binary_name, .. } => {
                    format!(
                        "install {binary_name} or add its directory to PATH; nothing was written"
                    )
                }
                _ => "fix the recipient; nothing was written".to_owned(),
            };
            CliError::new(e.to_string()).hint(hint)
        })?;
    Ok((recipients, patterns))
}

/// The key groups of `file` (format version 5): the `access:` entries of
/// its `.seal.yaml` rule, each resolved to its recipients. None when the
/// recipients come from the command line, which names no groups.
pub(crate) fn groups_for(file: &Path, explicit: bool) -> Result<Vec<GroupSpec>, CliError> {
    if explicit || file == Path::new("-") {
        return Ok(Vec::new());
    }
    let config = Config::find(&dir_of(file))
        .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
    let Some(config) = config else {
        return Ok(Vec::new());
    };
    let Some(rule) = config.rule_for(file) else {
        return Ok(Vec::new());
    };
    rule.access
        .iter()
        .map(|a| {
            let resolved = config
                .resolve(&a.recipients)
                .map_err(|e| CliError::new(e.to_string()))?;
            let recipients = resolved
                .iter()
                .map(|(_, key)| Recipient::parse(key))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    CliError::new(format!("key group {}: {e}", a.name))
                        .hint("fix the recipient in .seal.yaml; nothing was written")
                })?;
            Ok(GroupSpec {
                name: a.name.clone(),
                keys: a.keys.clone(),
                recipients,
            })
        })
        .collect()
}

pub fn run(args: EncryptArgs) -> Result<ExitCode, CliError> {
    let format = detect_format(&args.file, &args.format)?;
    let name = display(&args.file);
    if args.in_place && args.file == Path::new("-") {
        return Err(CliError::usage(
            "--in-place needs a file, not standard input",
        ));
    }
    let text = read_input(&args.file)?;
    // Refuse an already sealed or malformed file before looking at keys.
    let plain = document::parse_plain(format, &text).map_err(|e| CliError::doc(&name, e))?;
    if let Some(at) = plain.sops_metadata() {
        return Err(CliError::new(format!(
            "{name}: this is a SOPS-encrypted file (SOPS metadata at {at}); sealing it would encrypt it a second time"
        ))
        .hint(format!(
            "import it into seal with `seal import --in-place {name}` (or decrypt it with `sops decrypt` first); nothing was written"
        )));
    }
    // A pattern typed on the command line that selects nothing is most
    // likely a typo (or a JSON Pointer, which patterns are not): the value
    // it meant would be left in plaintext.
    for pattern in &args.encrypt {
        let one = std::slice::from_ref(pattern);
        if !plain
            .leaves()
            .iter()
            .any(|l| crate::select::selected(one, &l.path))
        {
            eprintln!(
                "seal: warning: {name}: --encrypt {pattern:?} selects no value (patterns are dotted key paths, e.g. stringData.*)"
            );
        }
    }
    let (recipients, patterns) = recipients_for(
        &args.file,
        &args.recipients,
        &args.recipients_files,
        &args.encrypt,
    )?;
    // The file being replaced: the output file, else the input.
    let target = args.output.as_deref().unwrap_or(&args.file);
    let explicit = !args.recipients.is_empty() || !args.recipients_files.is_empty();
    let groups = groups_for(target, explicit)?;
    // The committed version lends its key, and its `changed` dates even
    // under --fresh: a new key does not change a value.
    let previous = if target == Path::new("-") {
        None
    } else {
        committed_version(target, format, &args.identity, !args.fresh)
    };
    let prior = previous.as_ref().map(Opened::prior_dates);
    let fresh = || {
        let prior: &dyn document::PriorDates = match &prior {
            Some(p) => p,
            None => &document::NoPrior,
        };
        plain
            .seal_with_groups(&recipients, &patterns, &groups, prior)
            .map_err(|e| CliError::doc(&name, e))
    };
    // The committed version lends its keys only when it has the same key
    // groups, every one of which this identity opens.
    let lends = |p: &&Opened| {
        document::groups_match(&p.metadata.groups, &groups)
            && p.keys.holds_all(p.metadata.groups.len())
    };
    let sealed = match previous.as_ref().filter(|_| !args.fresh).filter(lends) {
        None => fresh()?,
        Some(previous) => match previous
            .seal_next_version(&text, &recipients, &patterns)
            .map_err(|e| CliError::doc(&name, e))?
        {
            NextVersion::Sealed { text, added } => {
                let wrapped = if added.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; the key is now also wrapped for {}",
                        super::printable(&added.join(", "))
                    )
                };
                eprintln!(
                    "seal: {}: sealed with the data key of its committed version (HEAD): unchanged values keep their tokens (--fresh for a new key){wrapped}",
                    display(target)
                );
                text
            }
            NextVersion::RecipientsRemoved(removed) => {
                let config = Config::find(&dir_of(target)).ok().flatten();
                let names: Vec<String> = removed
                    .iter()
                    .map(|k| crate::team::label(config.as_ref(), k))
                    .collect();
                eprintln!(
                    "seal: {}: new data key: its committed version (HEAD) is also wrapped for {}, who is no longer a recipient",
                    display(target),
                    super::printable(&names.join(", "))
                );
                fresh()?
            }
        },
    };
    match (args.in_place, &args.output) {
        (true, _) => write_file(&args.file, sealed.as_bytes(), Mode::KeepOr(0o644))?,
        (false, Some(out)) => write_file(out, sealed.as_bytes(), Mode::KeepOr(0o644))?,
        (false, None) => print_stdout(sealed.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The directory of `file`, `.` for a bare name.
fn dir_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The committed version (HEAD) of `file`, opened, when it is a sealed file
/// the caller can open: its data key can then seal the new version so that
/// unchanged values keep their tokens. When it is sealed but cannot be
/// opened, a note says why every token will change.
fn committed_version(
    file: &Path,
    format: Format,
    identity: &IdentityArgs,
    explain: bool,
) -> Option<Opened> {
    let text = crate::git::committed_text(file)?;
    let sealed = document::parse_sealed_owned(format, text).ok()?;
    let why = match load_identities(identity) {
        Ok(ids) => match sealed.open(&ids) {
            Ok(opened) => return Some(opened),
            Err(document::DocError::Unwrap(crate::envelope::UnwrapError::NoMatch { .. })) => {
                "none of your identities opens it".to_owned()
            }
            Err(e) => e.to_string(),
        },
        Err(e) => e.message,
    };
    if !explain {
        return None;
    }
    eprintln!(
        "seal: {}: new data key, every value gets a new token: its committed version (HEAD) cannot lend its key: {}",
        display(file),
        super::printable(&why)
    );
    None
}
