//! `seal import`: move a file encrypted by another tool to seal, and
//! `seal import --sops-config` to turn `.sops.yaml` into `.seal.yaml`.
//!
//! The source kind is detected from the file ([`detect_source`]); each kind
//! has its own function here and its own library module (`crate::sops`,
//! `crate::dotenvx`). The plaintext only ever exists in memory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{
    detect_format, display, print_stdout, read_input, write_file, CliError, FormatArg, IdentityArgs,
};
use crate::document;
use crate::dotenvx;
use crate::envelope::{Identities, IdentityError, IdentitySources, Recipient, UnwrapError};
use crate::format::Format;
use crate::fsio::Mode;
use crate::sops::{self, SopsError};

mod from_dotenvx;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Seal for this recipient instead of the source file's age recipients
    /// (SOPS) or the .seal.yaml rule for the file written (dotenvx: OUT,
    /// else FILE); repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    recipients: Vec<String>,
    /// File with one recipient per line; repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_files: Vec<PathBuf>,
    /// Write to FILE instead of standard output (with --sops-config:
    /// instead of .seal.yaml beside .sops.yaml; `-` for standard output).
    #[arg(short, long, value_name = "FILE", conflicts_with = "in_place")]
    output: Option<PathBuf>,
    /// Replace the input file with the sealed one.
    #[arg(long)]
    in_place: bool,
    /// Import a SOPS file although its MAC does not match (it was changed
    /// outside SOPS).
    #[arg(long)]
    ignore_mac: bool,
    /// Convert this .sops.yaml into a .seal.yaml instead of importing a file.
    #[arg(long, value_name = "SOPS_YAML", conflicts_with_all = ["file", "in_place", "ignore_mac", "recipients", "recipients_files"])]
    sops_config: Option<PathBuf>,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    /// The file to import (`-` for standard input).
    #[arg(required_unless_present = "sops_config")]
    file: Option<PathBuf>,
}

/// What encrypted a file given to `seal import`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Sops,
    Dotenvx,
}

/// Tell the source tool from the file's text (cheap checks; the source's
/// own parser then reads it fully).
fn detect_source(format: Format, text: &str) -> Option<Source> {
    if sops::looks_like_sops(format, text) {
        return Some(Source::Sops);
    }
    if format == Format::Dotenv && dotenvx::is_dotenvx(text) {
        return Some(Source::Dotenvx);
    }
    None
}

pub fn run(args: ImportArgs) -> Result<ExitCode, CliError> {
    if let Some(config) = &args.sops_config {
        return convert_sops_config(config, args.output.as_deref());
    }
    let Some(file) = args.file.clone() else {
        return Err(CliError::usage("seal import needs FILE or --sops-config"));
    };
    if args.in_place && file == Path::new("-") {
        return Err(CliError::usage(
            "--in-place needs a file, not standard input",
        ));
    }
    let format = detect_format(&file, &args.format)?;
    let name = display(&file);
    let text = read_input(&file)?;
    match detect_source(format, &text) {
        Some(Source::Sops) => import_sops(&args, &file, format, &text),
        Some(Source::Dotenvx) => from_dotenvx::run(&args, &file, &text),
        None => Err(CliError::new(format!(
            "{name}: not a file seal can import: no SOPS metadata (a top-level `sops` key, or `sops_` variables in dotenv) and no dotenvx value (`encrypted:…`, DOTENV_PUBLIC_KEY)"
        ))
        .hint(format!(
            "to seal a plaintext file: seal encrypt --in-place {name}"
        ))),
    }
}

fn import_sops(
    args: &ImportArgs,
    file: &Path,
    format: Format,
    text: &str,
) -> Result<ExitCode, CliError> {
    let name = display(file);
    let sops_file = sops::parse(format, text).map_err(|e| sops_error(&name, format, e))?;
    // Refuse what cannot be opened before asking for identities.
    let meta = &sops_file.metadata;
    if meta.key_groups > 1 {
        return Err(sops_error(
            &name,
            format,
            SopsError::Shamir(meta.key_groups),
        ));
    }
    if meta.age.is_empty() {
        return Err(sops_error(
            &name,
            format,
            SopsError::NoAgeKeys(meta.other_keys.clone()),
        ));
    }
    let ids = identities(&args.identity)?;
    let key = sops_file
        .data_key(&ids)
        .map_err(|e| sops_error(&name, format, e))?;
    let imported = sops_file
        .decrypt(&key, args.ignore_mac)
        .map_err(|e| sops_error(&name, format, e))?;
    drop(key);
    if imported.mac_mismatch_ignored {
        eprintln!(
            "seal: warning: {name}: SOPS's MAC does not match; imported anyway (--ignore-mac)"
        );
    }
    for line in &imported.undecrypted_comments {
        eprintln!(
            "seal: warning: {name}: line {line}: an encrypted comment does not decrypt with the file's key; kept as written (SOPS keeps it too)"
        );
    }
    let recipients = if args.recipients.is_empty() && args.recipients_files.is_empty() {
        imported
            .recipients
            .iter()
            .map(|r| Recipient::parse(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                CliError::new(format!("{name}: the SOPS file's age recipient: {e}"))
                    .hint("pass the recipients to seal for with -r RECIPIENT; nothing was written")
            })?
    } else {
        super::encrypt::recipients_for(file, &args.recipients, &args.recipients_files, &[])?.0
    };
    let plain = document::parse_plain(format, &imported.plaintext)
        .map_err(|e| CliError::doc(&format!("{name} (decrypted)"), e))?;
    if plain.sops_metadata().is_some() {
        return Err(CliError::new(format!(
            "{name}: SOPS metadata is left after removing it (several `sops` entries?); nothing was written"
        )));
    }
    let sealed = plain
        .seal(&recipients, &imported.encrypt)
        .map_err(|e| CliError::doc(&name, e))?;
    let sealed = Zeroizing::new(sealed);
    match (args.in_place, &args.output) {
        (true, _) => write_file(file, sealed.as_bytes(), Mode::KeepOr(0o644))?,
        (false, Some(out)) => write_file(out, sealed.as_bytes(), Mode::KeepOr(0o644))?,
        (false, None) => print_stdout(sealed.as_bytes())?,
    }
    let whom: Vec<&str> = recipients.iter().map(Recipient::as_str).collect();
    eprintln!(
        "seal: {name}: imported from SOPS, sealed for {}",
        super::printable(&whom.join(", "))
    );
    if !imported.clear.is_empty() {
        let paths: Vec<String> = imported.clear.iter().map(ToString::to_string).collect();
        eprintln!(
            "seal: {name}: {} value{} SOPS left in clear stay{} plaintext ({}): the file records the encrypt patterns [{}]; for new files, put `encrypt: [{}]` in the .seal.yaml rule",
            paths.len(),
            if paths.len() == 1 { "" } else { "s" },
            if paths.len() == 1 { "s" } else { "" },
            super::printable(&paths.join(", ")),
            super::printable(&imported.encrypt.join(", ")),
            super::printable(&imported.encrypt.join(", ")),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// seal's identities (`-i`, or SEAL_IDENTITY_FILE, SEAL_IDENTITY and the
/// default file) and, without `-i`, SOPS's: SOPS_AGE_KEY_FILE,
/// SOPS_AGE_KEY and `$XDG_CONFIG_HOME/sops/age/keys.txt`.
fn identities(args: &IdentityArgs) -> Result<Identities, CliError> {
    let sources = IdentitySources::from_env(args.identities.clone());
    let fail = |e: IdentityError| {
        CliError::new(e.to_string())
            .hint("pass -i FILE, or set SOPS_AGE_KEY_FILE or SEAL_IDENTITY_FILE")
    };
    let (mut ids, mut tried) = match Identities::load(&sources) {
        Ok(ids) => (ids, String::new()),
        Err(IdentityError::NoneFound { tried }) => (Identities::empty(), tried),
        Err(e) => return Err(fail(e)),
    };
    if args.identities.is_empty() {
        let mut also = Vec::new();
        match std::env::var_os("SOPS_AGE_KEY_FILE").filter(|v| !v.is_empty()) {
            Some(f) => ids.add_file(Path::new(&f)).map_err(fail)?,
            None => also.push("SOPS_AGE_KEY_FILE (unset)".to_owned()),
        }
        match std::env::var("SOPS_AGE_KEY").ok().filter(|v| !v.is_empty()) {
            Some(text) => {
                let text = Zeroizing::new(text);
                ids.add_text(&text, "SOPS_AGE_KEY").map_err(fail)?
            }
            None => also.push("SOPS_AGE_KEY (unset)".to_owned()),
        }
        if let Some(f) = sops_keys_file() {
            if f.is_file() {
                match ids.add_file(&f) {
                    Err(_) if !ids.is_empty() => {}
                    other => other.map_err(fail)?,
                }
            } else {
                also.push(format!("{} (missing)", f.display()));
            }
        }
        if !also.is_empty() {
            if !tried.is_empty() {
                tried.push_str(", ");
            }
            tried.push_str(&also.join(", "));
        }
    }
    if args.passphrase {
        let pass = crate::passphrase::for_decryption().map_err(|e| CliError::new(e.to_string()))?;
        ids.add_passphrase(pass);
    }
    if ids.is_empty() {
        return Err(fail(IdentityError::NoneFound { tried }));
    }
    Ok(ids)
}

/// SOPS's default age identity file.
fn sops_keys_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("sops").join("age").join("keys.txt"))
}

/// The command that gets a file seal cannot open itself into seal, with
/// the plaintext only in a pipe.
fn sops_decrypt_hint(name: &str, format: Format) -> String {
    format!(
        "decrypt it with SOPS and seal the plaintext from the pipe: `sops decrypt {name} | seal encrypt --format {} -r RECIPIENT -o {name} -`; nothing was written",
        format.name()
    )
}

fn sops_error(name: &str, format: Format, e: SopsError) -> CliError {
    let restore = "restore the file from git (`git checkout -- FILE`) or ask who changed it; nothing was written";
    match e {
        SopsError::Parse(p) => CliError::new(format!("{name}:{}:{}: {}", p.line, p.column, p.message))
            .hint("fix the syntax at that line and column; nothing was written"),
        SopsError::NoAgeKeys(kinds) => CliError::new(format!(
            "{name}: its SOPS data key is held only by {} keys, none of them age: seal opens SOPS files through age keys",
            if kinds.is_empty() { "other".to_owned() } else { kinds.join(", ") }
        ))
        .hint(sops_decrypt_hint(name, format)),
        e @ (SopsError::Shamir(_) | SopsError::CommentRules) => {
            CliError::new(format!("{name}: {e}")).hint(sops_decrypt_hint(name, format))
        }
        SopsError::Unwrap(UnwrapError::NoMatch { sources, recipients }) => CliError::new(format!(
            "{name}: none of your identities opens this SOPS file\n  your identities: {sources}\n  the file's age recipients:\n{}",
            recipients.iter().map(|r| format!("    {r}")).collect::<Vec<_>>().join("\n")
        ))
        .hint("pass the age identity with -i FILE or SOPS_AGE_KEY_FILE; nothing was written"),
        SopsError::MacMismatch => CliError::new(format!(
            "{name}: SOPS's MAC does not match: a value was changed, added or removed outside SOPS; nothing was written"
        ))
        .hint(format!("{restore}; if you trust the file as it is, pass --ignore-mac")),
        e @ SopsError::NothingEncrypted => CliError::new(format!("{name}: {e}; nothing was written"))
            .hint(format!("to seal some of its values, decrypt it (`sops decrypt {name} | seal encrypt --format {} --encrypt PATTERN -r RECIPIENT -o {name} -`)", format.name())),
        e @ (SopsError::MacUnreadable(_) | SopsError::Value { .. }) => {
            CliError::new(format!("{name}: {e}")).hint(restore)
        }
        e => CliError::new(format!("{name}: {e}; nothing was written")),
    }
}

/// `seal import --sops-config`: write the equivalent `.seal.yaml`.
fn convert_sops_config(config: &Path, output: Option<&Path>) -> Result<ExitCode, CliError> {
    let name = config.display().to_string();
    let text = std::fs::read_to_string(config)
        .map_err(|e| CliError::new(format!("{name}: cannot read: {e}")).hint("check the path"))?;
    let converted = sops::config::convert(&text).map_err(|e| {
        CliError::new(format!("{name}: {e}")).hint("fix .sops.yaml; nothing was written")
    })?;
    let target = match output {
        Some(o) => o.to_path_buf(),
        None => config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(crate::config::FILE_NAME),
    };
    // The new file must read as a .seal.yaml.
    let dir = target.parent().unwrap_or(Path::new("."));
    crate::config::Config::parse(&converted.text, &target, dir).map_err(|e| {
        CliError::new(format!(
            "{name}: the converted .seal.yaml does not load ({e}); nothing was written"
        ))
        .hint("a recipient in .sops.yaml is not a key seal reads; fix or remove it")
    })?;
    if target == Path::new("-") {
        print_stdout(converted.text.as_bytes())?;
    } else {
        if target.exists() {
            return Err(CliError::new(format!(
                "{}: exists already; nothing was written",
                target.display()
            ))
            .hint("move it away, or pass -o OTHER_FILE (or -o - for standard output) and merge by hand"));
        }
        write_file(&target, converted.text.as_bytes(), Mode::KeepOr(0o644))?;
        eprintln!(
            "seal: wrote {} from {name}: {} rule{}",
            target.display(),
            converted.rules,
            if converted.rules == 1 { "" } else { "s" }
        );
    }
    for line in &converted.unmapped {
        eprintln!("seal: not mapped: {}", super::printable(line));
    }
    Ok(ExitCode::SUCCESS)
}
