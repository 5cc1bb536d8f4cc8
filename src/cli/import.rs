//! `seal import`: turn a file another tool encrypted into a sealed file,
//! losing nothing. dotenvx files (`encrypted:` values) are opened with the
//! dotenvx private key (`crate::dotenvx`) and sealed as dotenv for the
//! recipients of the output path's `.seal.yaml` rule, as `seal encrypt`
//! would seal them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::encrypt::recipients_for;
use super::{display, print_stdout, read_input, write_file, CliError};
use crate::document;
use crate::dotenvx::{self, DotenvxError};
use crate::format::Format;
use crate::fsio::Mode;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Recipient: age1…, "ssh-ed25519 …", "ssh-rsa …" or a plugin
    /// recipient; repeatable. Default: the rule of .seal.yaml for the file
    /// written (OUT, else FILE).
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    recipients: Vec<String>,
    /// File with one recipient per line; repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_files: Vec<PathBuf>,
    /// Write the sealed file to OUT instead of standard output.
    #[arg(short, long, value_name = "OUT", conflicts_with = "in_place")]
    output: Option<PathBuf>,
    /// Replace FILE with the sealed file.
    #[arg(long)]
    in_place: bool,
    /// The file to import: a dotenvx-encrypted dotenv file.
    file: PathBuf,
}

pub fn run(args: ImportArgs) -> Result<ExitCode, CliError> {
    let name = display(&args.file);
    if args.file == Path::new("-") {
        return Err(CliError::usage(
            "seal import reads a file, not standard input: the file's directory is where its keys are looked for",
        ));
    }
    let text = read_input(&args.file)?;
    // The file written decides the recipients, as for `seal encrypt -o`.
    let target = args.output.as_deref().unwrap_or(&args.file);
    if !dotenvx::is_dotenvx(&text) {
        return Err(CliError::new(format!(
            "{name}: not a file seal can import: it has no dotenvx `encrypted:` value or DOTENV_PUBLIC_KEY"
        ))
        .hint(format!(
            "seal import reads dotenvx files; to seal a plaintext file use `seal encrypt --in-place {name}`"
        )));
    }
    if let Some(format) = Format::from_path(target).filter(|f| *f != Format::Dotenv) {
        return Err(CliError::usage(format!(
            "{}: a dotenvx file imports as dotenv, but this name is read as {}",
            display(target),
            format.name()
        ))
        .hint("name the output .env, *.env or .env.*"));
    }
    let plain = dotenvx_plaintext(&args.file, &text)?;
    let (recipients, patterns) =
        recipients_for(target, &args.recipients, &args.recipients_files, &[])?;
    let sealed = document::parse_plain(Format::Dotenv, &plain.text)
        .and_then(|p| p.seal(&recipients, &patterns))
        .map_err(|e| converted_error(&name, &text, &plain, e))?;
    match (args.in_place, &args.output) {
        (true, _) => write_file(&args.file, sealed.as_bytes(), Mode::KeepOr(0o644))?,
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
        super::printable(&plain.key_source),
    );
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
        CliError::new(super::printable(&e.to_string()).into_owned()).hint(hint)
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
