//! `seal verify`: whether each file is signed, by whom, whether the signer
//! is trusted (`signers:` of `.seal.yaml`), and whether the signature
//! covers the current content. Needs no key. Also the check that makes
//! `decrypt`, `exec`, `get` and `edit` refuse a file its rule says must be
//! signed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{detect_format, display, print_stdout, read_input, CliError, FormatArg};
use crate::config::Config;
use crate::document::{self, Sealed};
use crate::signing::Verification;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Print JSON instead of text.
    #[arg(long, conflicts_with_all = ["signed_data", "signature"])]
    json: bool,
    /// Write the bytes the signature covers (the MAC input) to standard
    /// output, for `ssh-keygen -Y verify -n seal`; one file.
    #[arg(long, conflicts_with = "signature")]
    signed_data: bool,
    /// Write the file's armored signature to standard output, for
    /// `ssh-keygen -Y verify -s`; one file.
    #[arg(long)]
    signature: bool,
    #[command(flatten)]
    format: FormatArg,
    /// Files or directories (default: the tracked files the rules of
    /// .seal.yaml cover).
    paths: Vec<PathBuf>,
}

/// `--allow-unsigned`, for the commands that refuse an unsigned file.
#[derive(Args, Debug, Clone, Default)]
pub struct SignedArgs {
    /// Use the file although its rule says `require_signed` and its
    /// signature is missing, invalid or by a key not in `signers`.
    #[arg(long)]
    pub allow_unsigned: bool,
}

/// What `seal verify` says about one sealed file.
struct Report {
    file: String,
    verification: Verification,
    /// The name `signers:` gives the signer, when it lists the key.
    signer_name: Option<String>,
    /// The rule's `require_signed`.
    required: bool,
    /// The glob of the rule that covers the file, if any.
    rule: Option<String>,
}

impl Report {
    fn trusted(&self) -> bool {
        matches!(self.verification, Verification::Valid { .. }) && self.signer_name.is_some()
    }

    fn ok(&self) -> bool {
        match self.verification {
            Verification::Invalid { .. } => false,
            _ => !self.required || self.trusted(),
        }
    }
}

fn report(file: &Path, name: &str, sealed: &Sealed<'_>) -> Result<Report, CliError> {
    let config = config_for(file)?;
    let rule = config.as_ref().and_then(|c| c.rule_for(file));
    let verification = sealed.verification();
    let signer_name = verification
        .signer()
        .and_then(|s| config.as_ref()?.signer_name(s).map(str::to_owned));
    Ok(Report {
        file: name.to_owned(),
        required: rule.is_some_and(|r| r.require_signed),
        rule: rule.map(|r| r.path.clone()),
        verification,
        signer_name,
    })
}

/// The `.seal.yaml` that governs `file` (none for standard input).
fn config_for(file: &Path) -> Result<Option<Config>, CliError> {
    if file.as_os_str() == "-" {
        return Ok(None);
    }
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Config::find(dir).map_err(|e| {
        CliError::new(e.to_string()).hint("fix .seal.yaml, then run the command again")
    })
}

/// A signer as people read it: its `signers` name, else its fingerprint.
fn who(signer: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => n.to_owned(),
        None => crate::signing::fingerprint(signer).unwrap_or_else(|| "an unreadable key".into()),
    }
}

/// Refuse `sealed` (the file `file`) when its rule says `require_signed`
/// and its signature is missing, invalid or untrusted, unless
/// `--allow-unsigned`. `outcome` says what did not happen.
pub fn require_signature(
    file: &Path,
    sealed: &Sealed<'_>,
    signed: &SignedArgs,
    outcome: &str,
) -> Result<(), CliError> {
    if signed.allow_unsigned {
        return Ok(());
    }
    let name = display(file);
    let r = report(file, &name, sealed)?;
    if !r.required || r.trusted() {
        return Ok(());
    }
    let why = match &r.verification {
        Verification::Unsigned => "it is not signed".to_owned(),
        Verification::Invalid { reason, .. } => format!("its signature is invalid: {reason}"),
        Verification::Valid { signer } => format!(
            "it is signed by {}, a key `signers` does not list",
            who(signer, None)
        ),
    };
    Err(CliError::new(format!(
        "{name}: its rule ({}) requires a signature by one of `signers`, and {why}; {outcome}",
        r.rule.as_deref().unwrap_or("?")
    ))
    .hint(format!(
        "see who changed it with `seal log {name}` and `seal verify {name}`; if you trust its content, pass --allow-unsigned (writing it again signs it with your key)"
    )))
}

pub fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
    if args.signed_data || args.signature {
        return export(&args);
    }
    let files = targets(&args.paths)?;
    let mut reports = Vec::new();
    for (path, name) in &files {
        let format = detect_format(path, &args.format)?;
        let text = read_input(path)?;
        let sealed = document::parse_sealed(format, &text).map_err(|e| CliError::doc(name, e))?;
        reports.push(report(path, name, &sealed)?);
    }
    if args.json {
        let list: Vec<serde_json::Value> = reports.iter().map(json).collect();
        let text = serde_json::to_string_pretty(&list).unwrap_or_default();
        print_stdout(format!("{text}\n").as_bytes())?;
    } else {
        let text: String = reports.iter().map(|r| format!("{}\n", line(r))).collect();
        print_stdout(text.as_bytes())?;
    }
    Ok(if reports.iter().all(Report::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn line(r: &Report) -> String {
    let required = if r.required {
        " (its rule requires a trusted signature)"
    } else {
        ""
    };
    match &r.verification {
        Verification::Unsigned => format!("{}: unsigned{required}", r.file),
        Verification::Valid { signer } => match &r.signer_name {
            Some(n) => format!("{}: signed by {n} (trusted), signature valid", r.file),
            None => format!(
                "{}: signed by {} ({}), which `signers` does not list: untrusted, signature valid{required}",
                r.file,
                who(signer, None),
                super::printable(signer)
            ),
        },
        Verification::Invalid { signer, reason } => format!(
            "{}: signature INVALID ({reason}); the signer field names {}",
            r.file,
            who(signer, r.signer_name.as_deref())
        ),
    }
}

fn json(r: &Report) -> serde_json::Value {
    let (signed, valid, reason) = match &r.verification {
        Verification::Unsigned => (false, None, None),
        Verification::Valid { .. } => (true, Some(true), None),
        Verification::Invalid { reason, .. } => (true, Some(false), Some(*reason)),
    };
    let signer = r.verification.signer();
    serde_json::json!({
        "file": r.file,
        "signed": signed,
        "signer": signer,
        "signer_name": r.signer_name,
        "fingerprint": signer.and_then(crate::signing::fingerprint),
        "trusted": r.trusted(),
        "valid": valid,
        "reason": reason,
        "require_signed": r.required,
        "ok": r.ok(),
    })
}

/// `--signed-data` or `--signature` for one file.
fn export(args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let [file] = args.paths.as_slice() else {
        return Err(CliError::usage(
            "--signed-data and --signature take exactly one file",
        ));
    };
    let name = display(file);
    let format = detect_format(file, &args.format)?;
    let text = read_input(file)?;
    let sealed = document::parse_sealed(format, &text).map_err(|e| CliError::doc(&name, e))?;
    if args.signed_data {
        print_stdout(&sealed.signed_message())?;
    } else {
        let Some(signed) = &sealed.metadata().signed else {
            return Err(CliError::new(format!("{name}: the file is not signed")));
        };
        print_stdout(signed.signature.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The sealed files to verify: those named (directories: their sealed
/// files), else the tracked files a rule of `.seal.yaml` covers.
fn targets(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let sealed_only = |candidates: Vec<super::check::Candidate>, covered: Option<&Config>| {
        candidates
            .into_iter()
            .filter(|c| crate::format::Format::from_path(&c.path).is_some())
            .filter(|c| {
                c.path
                    .file_name()
                    .is_none_or(|n| n != crate::config::FILE_NAME)
            })
            .filter(|c| covered.is_none_or(|cfg| cfg.rule_for(&c.path).is_some()))
            .filter(|c| {
                crate::fsio::read_document(&c.path).is_ok_and(|t| {
                    crate::format::Format::from_path(&c.path)
                        .and_then(|f| f.scan(&t).ok())
                        .is_some_and(|s| s.metadata.is_some())
                })
            })
            .map(|c| (c.path, c.name))
            .collect::<Vec<_>>()
    };
    if paths.is_empty() {
        let config = Config::find(&cwd)
            .map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?
            .ok_or_else(|| {
                CliError::new("no .seal.yaml in this directory or its parents")
                    .hint("run seal verify where .seal.yaml is, or name the files")
            })?;
        return Ok(sealed_only(
            super::check::files_under(&config.dir, &cwd)?,
            Some(&config),
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            out.extend(sealed_only(super::check::files_under(p, &cwd)?, None));
        } else {
            out.push((p.clone(), display(p)));
        }
    }
    Ok(out)
}
