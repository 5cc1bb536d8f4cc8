//! `seal import` of a dotenvx file: its values opened with the dotenvx
//! private key (`crate::dotenvx`), sealed as dotenv for the recipients of
//! the `.seal.yaml` rule for the file written, as `seal encrypt -o` would.

use std::path::Path;
use std::process::ExitCode;

use zeroize::Zeroizing;

use super::ImportArgs;
use crate::cli::encrypt::recipients_for;
use crate::cli::{display, print_stdout, printable, write_file, CliError};
use crate::document;
use crate::dotenvx::{self, DotenvxError};
use crate::format::Format;
use crate::fsio::Mode;

/// A dotenvx file: its values opened with the dotenvx private key, sealed
/// as dotenv for the recipients of the rule for the file written (as `seal
/// encrypt -o` would), or `-r`.
pub(super) fn run(args: &ImportArgs, file: &Path, text: &str) -> Result<ExitCode, CliError> {
    let name = display(file);
    if file == Path::new("-") {
        return Err(CliError::usage(
            "a dotenvx file is imported from a file, not standard input: its private key is looked for in .env.keys beside it",
        ));
    }
    if args.ignore_mac || !args.identity.identities.is_empty() || args.identity.passphrase {
        return Err(CliError::usage(format!(
            "{name}: --ignore-mac, -i and --passphrase are for SOPS files; a dotenvx file opens with its DOTENV_PRIVATE_KEY"
        )));
    }
    // The file written decides the recipients, as for `seal encrypt -o`.
    let target = args.output.as_deref().unwrap_or(file);
    if let Some(format) = Format::from_path(target).filter(|f| *f != Format::Dotenv) {
        return Err(CliError::usage(format!(
            "{}: a dotenvx file imports as dotenv, but this name is read as {}",
            display(target),
            format.name()
        ))
        .hint("name the output .env, *.env or .env.*"));
    }
    let plain = dotenvx_plaintext(file, text)?;
    let (recipients, patterns) =
        recipients_for(target, &args.recipients, &args.recipients_files, &[])?;
    let sealed = document::parse_plain(Format::Dotenv, &plain.text)
        .and_then(|p| p.seal(&recipients, &patterns))
        .map_err(|e| converted_error(&name, text, &plain, e))?;
    match (args.in_place, &args.output) {
        (true, _) => write_file(file, sealed.as_bytes(), Mode::KeepOr(0o644))?,
        (false, Some(out)) => write_file(out, sealed.as_bytes(), Mode::KeepOr(0o644))?,
        (false, None) => print_stdout(sealed.as_bytes())?,
    }
    let written = if args.in_place || args.output.is_some() {
        display(target)
    } else {
        "standard output".to_owned()
    };
    eprintln!(
        "seal: {name}: {} dotenvx value{} opened with the key from {} and sealed to {written}",
        plain.decrypted,
        if plain.decrypted == 1 { "" } else { "s" },
        printable(&plain.key_source),
    );
    if patterns.is_empty() && !plain.clear.is_empty() {
        eprintln!(
            "seal: {name}: sealed too, as seal seals every value: {} (dotenvx kept {} in clear); to keep values in clear, list the ones to seal under `encrypt:` in the .seal.yaml rule and import again",
            printable(&plain.clear.join(", ")),
            if plain.clear.len() == 1 { "it" } else { "them" },
        );
    }
    for d in &plain.dropped {
        eprintln!("seal: {name}: left out dotenvx's metadata: {d}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The dotenvx file's plaintext, keys looked up in seal's environment.
fn dotenvx_plaintext(file: &Path, text: &str) -> Result<dotenvx::Imported, CliError> {
    let env = |name: &str| std::env::var(name).ok().map(Zeroizing::new);
    dotenvx::import(file, text, &env).map_err(|e| {
        let hint = match &e {
            DotenvxError::NoKey { .. } => {
                "set the variable (as for `dotenvx run`), or put .env.keys beside the file; nothing was written"
            }
            DotenvxError::InvalidKey { .. } | DotenvxError::WrongKey { .. } => {
                "use the file's own private key (`dotenvx decrypt` needs the same one); nothing was written"
            }
            DotenvxError::NoOpen { .. } | DotenvxError::Corrupt { .. } => {
                "restore the file from git, or check that `dotenvx decrypt` opens it; nothing was written"
            }
            DotenvxError::KeysFile { .. } => "make the keys file readable; nothing was written",
        };
        CliError::new(printable(&e.to_string()).into_owned()).hint(hint)
    })
}

/// A failure to seal the converted text, told by the dotenvx file's lines.
fn converted_error(
    name: &str,
    src: &str,
    plain: &dotenvx::Imported,
    e: document::DocError,
) -> CliError {
    match e {
        document::DocError::Parse(p) => CliError::new(format!(
            "{name}:{}: seal's dotenv cannot hold this line: {}",
            plain.source_line(src, p.line),
            p.message
        ))
        .hint("seal reads NAME=value lines (see README, dotenv): rewrite that line (e.g. with dotenvx set) and import again; nothing was written"),
        other => CliError::doc(name, other),
    }
}
