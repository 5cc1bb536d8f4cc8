//! `seal decrypt`: the plaintext of a sealed file, or one part of it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::get::extract;
use super::{print_stdout, write_file, CliError, DocumentArg, FormatArg, IdentityArgs};
use crate::fsio::Mode;

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// Write the plaintext to FILE (created 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE", conflicts_with = "in_place")]
    output: Option<PathBuf>,
    /// Replace the sealed file with its plaintext.
    #[arg(long, conflicts_with = "extract")]
    in_place: bool,
    /// Print only the value (or the subtree, as JSON) at PATH: dotted
    /// (`db.password`) or a JSON Pointer (`/db/password`).
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,
    /// Print every value masked (`sk-ant…(108 chars)`; nothing of a value
    /// under 12 characters), keys and layout as they are.
    #[arg(long, conflicts_with_all = ["in_place", "output"])]
    masked: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    signed: super::SignedArgs,
    #[command(flatten)]
    pending: super::PendingArgs,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    document: DocumentArg,
    /// The sealed file (`-` for standard input).
    file: PathBuf,
}

pub fn run(args: DecryptArgs) -> Result<ExitCode, CliError> {
    if args.in_place && args.file.as_os_str() == "-" {
        return Err(CliError::usage(
            "--in-place needs a file, not standard input",
        ));
    }
    if args.document.document.is_some() && args.extract.is_none() {
        return Err(CliError::usage("--document goes with --extract PATH"));
    }
    let query = args
        .extract
        .as_deref()
        .map(|path| args.document.query(path))
        .transpose()?;
    // Pending values are not shown unless asked for; a plaintext that
    // replaces the file would lose them, and --extract of one must not
    // give the authenticated value it replaces as if it were current.
    let opened = super::open_reading(
        &args.file,
        &args.format,
        &args.identity,
        &args.signed,
        &args.pending,
        "nothing was decrypted",
        |p| match &query {
            Some(query) => super::get::overlaps(p, query),
            None => args.in_place,
        },
    )?;
    if !args.pending.allow_pending {
        super::note_pending(&super::display(&args.file), &opened.metadata);
    }
    let extracted = match &query {
        Some(query) => Some(extract(&opened, &args.file, query, args.masked)?),
        None if args.masked => Some(Zeroizing::new(
            crate::mask::mask_document(opened.format, &opened.plaintext)
                .map_err(|e| CliError::doc(&super::display(&args.file), e.into()))?
                .into_bytes(),
        )),
        None => None,
    };
    let output = extracted
        .as_deref()
        .map_or(opened.plaintext.as_bytes(), |v| v.as_slice());
    match (args.in_place, &args.output) {
        (true, _) => write_file(&args.file, output, Mode::Private)?,
        (false, Some(out)) => write_file(out, output, Mode::Private)?,
        (false, None) => print_stdout(output)?,
    }
    drop(extracted);
    drop(opened);
    Ok(ExitCode::SUCCESS)
}
