//! `seal fold`: check the values added with `seal set --public` and fold
//! them into regular tokens, authenticated by the file MAC again.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{display, lock_file, pending_error, write_file, CliError, FormatArg, IdentityArgs};
use crate::fsio::Mode;
use crate::metadata::VERSION;

#[derive(Args, Debug)]
pub struct FoldArgs {
    /// Fold without asking (scripts): the pending paths are listed, their
    /// values are not shown.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    /// The sealed file.
    file: PathBuf,
}

pub fn run(args: FoldArgs) -> Result<ExitCode, CliError> {
    let name = display(&args.file);
    let _lock = lock_file(&args.file)?;
    let (opened, ids) = super::open_file_ids(&args.file, &args.format, &args.identity, None)?;
    if opened.metadata.pending.is_empty() {
        if opened.metadata.version == VERSION {
            eprintln!("seal: {name}: nothing is pending; unchanged");
            return Ok(ExitCode::SUCCESS);
        }
        // A file of an older version cannot take pending values: writing
        // it once at the current version lets it.
        let sealed = opened
            .fold(&opened.plaintext, true)
            .map_err(|e| CliError::doc(&name, e))?;
        write_file(&args.file, sealed.as_bytes(), Mode::KeepOr(0o644))?;
        eprintln!(
            "seal: {name}: nothing was pending; rewritten at format version {VERSION}, so `seal set --public` can add to it"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let open =
        crate::pending::open_all(&opened.metadata, &ids).map_err(|e| pending_error(&name, e))?;
    let applied = crate::pending::apply(opened.format, &opened.plaintext, &open)
        .map_err(|e| pending_error(&name, e))?;
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(CliError::new(format!(
                "{name}: pending values are folded in only once a key holder has seen them, and there is no terminal to show them on; nothing was written"
            ))
            .hint(format!("run it on a terminal, or `seal edit {name}`; a script that has checked them passes --yes")));
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "seal: {name}: {} pending (added with `seal set --public`, not authenticated):",
            open.len()
        );
        for p in &open {
            let line = Zeroizing::new(format!("  {} = {}", p.query, p.literal.as_str()));
            // An escaped copy holds the value too: wiped like the line.
            let shown = match super::printable(&line) {
                std::borrow::Cow::Borrowed(_) => None,
                std::borrow::Cow::Owned(escaped) => Some(Zeroizing::new(escaped)),
            };
            let _ = writeln!(
                err,
                "{}",
                shown.as_deref().map_or(line.as_str(), |s| s.as_str())
            );
        }
        let _ = write!(err, "seal: fold them into {name}? [y/N] ");
        let _ = err.flush();
        drop(err);
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("seal: {name}: not folded; nothing was written");
            return Ok(ExitCode::from(1));
        }
    }
    let sealed = opened
        .fold(&applied, true)
        .map_err(|e| CliError::doc(&name, e))?;
    write_file(&args.file, sealed.as_bytes(), Mode::KeepOr(0o644))?;
    let paths: Vec<String> = open.iter().map(|p| p.query.to_string()).collect();
    eprintln!("seal: {name}: folded in {}", paths.join(", "));
    Ok(ExitCode::SUCCESS)
}
