//! `seal set` and `seal unset`: change one value and reseal, keeping every
//! other token byte for byte.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{
    check_document, display, lock_file, open_file, write_file, CliError, DocumentArg, FormatArg,
    IdentityArgs,
};
use crate::document::{Opened, Resealed};
use crate::format::EditError;
use crate::fsio::Mode;
use crate::path::PathQuery;

#[derive(Args, Debug)]
pub struct SetArgs {
    /// Write VALUE as source text of the file's format (a number, `true`,
    /// a quoted string) instead of as a string.
    #[arg(long, conflicts_with = "generate")]
    raw: bool,
    /// Set a new random value instead of VALUE: hex:N or base64:N (N random
    /// bytes), alnum:N (N characters of A-Z a-z 0-9), uuid. Drawn from the
    /// OS random source; not printed unless --print.
    #[arg(long, value_name = "KIND", conflicts_with = "value")]
    generate: Option<String>,
    /// With --generate: print the generated value on standard output.
    #[arg(long, requires = "generate")]
    print: bool,
    /// Without any key: seal the value to the file's recipients' public
    /// keys as pending. It is not authenticated until a key holder checks
    /// and folds it in (`seal fold FILE`); readers refuse it until then.
    /// VALUE may be left out: it is read from standard input.
    #[arg(long)]
    public: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    document: DocumentArg,
    /// The sealed file.
    file: PathBuf,
    /// Dotted path or JSON Pointer; a new key is added at the end of its mapping.
    path: String,
    /// The new value; `-` reads it from standard input (one trailing newline
    /// removed). Not with --generate.
    #[arg(required_unless_present_any = ["generate", "public"])]
    value: Option<String>,
}

#[derive(Args, Debug)]
pub struct UnsetArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    document: DocumentArg,
    /// The sealed file.
    file: PathBuf,
    /// Dotted path or JSON Pointer of the value to remove.
    path: String,
}

fn edit_error(name: &str, e: EditError) -> CliError {
    CliError::doc(name, e.into())
}

/// Reseal `edited` and write it over the file unless nothing changed.
fn finish(opened: &Opened, file: &Path, edited: &str) -> Result<ExitCode, CliError> {
    let name = display(file);
    match opened.reseal(edited).map_err(|e| CliError::doc(&name, e))? {
        Resealed::Unchanged => eprintln!("seal: {name}: unchanged"),
        Resealed::Changed(sealed) => write_file(file, sealed.as_bytes(), Mode::KeepOr(0o644))?,
    }
    super::note_pending(&name, &opened.metadata);
    Ok(ExitCode::SUCCESS)
}

pub fn run_set(args: SetArgs) -> Result<ExitCode, CliError> {
    if args.file.as_os_str() == "-" {
        return Err(CliError::usage(
            "seal set changes a file in place; give a file, not `-`",
        ));
    }
    let query = args.document.query(&args.path)?;
    if args.print && args.generate.is_none() {
        return Err(CliError::usage(
            "--print shows a value made by --generate; give --generate KIND",
        ));
    }
    let generated = match &args.generate {
        Some(kind) => Some(
            crate::generate::parse(kind)
                .map_err(|e| CliError::usage(format!("--generate: {e}")))?,
        ),
        None => None,
    };
    let typed = match (&args.value, args.public) {
        (None, true) => "-",
        (value, _) => value.as_deref().unwrap_or_default(),
    };
    let value = if let Some(kind) = generated {
        crate::generate::generate(kind)
    } else if typed == "-" {
        let mut v = Zeroizing::new(String::new());
        std::io::stdin().read_to_string(&mut v).map_err(|e| {
            CliError::new(format!("cannot read the value from standard input: {e}"))
        })?;
        let trimmed = v
            .strip_suffix("\r\n")
            .or_else(|| v.strip_suffix('\n'))
            .unwrap_or(&v);
        Zeroizing::new(trimmed.to_owned())
    } else {
        Zeroizing::new(typed.to_owned())
    };
    let _lock = lock_file(&args.file)?;
    if args.public {
        return set_public(&args, &query, &value);
    }
    let opened = open_file(&args.file, &args.format, &args.identity)?;
    let name = display(&args.file);
    check_document(&name, &query, opened.format)?;
    let literal = literal_for(&args, opened.format, &value);
    let edited = Zeroizing::new(
        opened
            .format
            .set_value(&opened.plaintext, &query, &literal)
            .map_err(|e| edit_error(&name, e))?,
    );
    if opened.format == crate::format::Format::Yaml {
        // A tag stays with the key when its value changes: `!!int` on a
        // word parses, but tools that apply tags refuse the file.
        let misfit = crate::format::yaml::misfit_tag(&edited, &query)
            .map_err(|e| CliError::doc(&name, e.into()))?;
        if let Some(tag) = misfit {
            return Err(CliError::new(format!(
                "{name}: {query} is tagged {tag}, which the new value is not"
            ))
            .hint("nothing was written; give a value of that type (--raw for YAML text), or change the tag with `seal edit`"));
        }
    }
    if args.raw {
        // Raw text must still be one value at that path, not new structure.
        let values = opened.format.values(&edited).map_err(|e| {
            CliError::new(format!("{name}: --raw value is not valid here: {e}"))
                .hint("nothing was written")
        })?;
        if !values.iter().any(|(p, _)| p.matches(&query)) {
            return Err(CliError::new(format!(
                "{name}: --raw value does not form a single value at {query}"
            ))
            .hint("nothing was written"));
        }
    }
    finish(&opened, &args.file, &edited)?;
    report_generated(&args, &value, |kind| {
        format!("seal: {name}: {query} set to a new {kind} value (not shown; `seal get` or --print shows it)")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// VALUE as the source text `set` splices: as it is with --raw, else as a
/// string of `format`.
fn literal_for(args: &SetArgs, format: crate::format::Format, value: &str) -> Zeroizing<String> {
    if args.raw {
        Zeroizing::new(value.to_owned())
    } else {
        Zeroizing::new(format.string_literal(value))
    }
}

/// With --generate: print the value (--print) or say, by `note(kind)`,
/// that it is not shown.
fn report_generated(
    args: &SetArgs,
    value: &str,
    note: impl Fn(&str) -> String,
) -> Result<(), CliError> {
    let Some(kind) = &args.generate else {
        return Ok(());
    };
    if args.print {
        let mut line = Zeroizing::new(value.to_owned());
        line.push('\n');
        super::print_stdout(line.as_bytes())?;
    } else {
        eprintln!("{}", note(kind));
    }
    Ok(())
}

/// `seal set --public`: add `value` as pending, with no key.
fn set_public(args: &SetArgs, query: &PathQuery, value: &str) -> Result<ExitCode, CliError> {
    let name = display(&args.file);
    let format = super::detect_format(&args.file, &args.format)?;
    check_document(&name, query, format)?;
    let text = super::read_input(&args.file)?;
    let literal = literal_for(args, format, value);
    let added = crate::pending::add(format, &text, query, &literal)
        .map_err(|e| super::pending_error(&name, e))?;
    write_file(&args.file, added.text.as_bytes(), Mode::KeepOr(0o644))?;
    for r in &added.skipped {
        eprintln!(
            "seal: {name}: not sealed to {r} (a passphrase recipient needs the passphrase); it sees the value once a key holder folds it in"
        );
    }
    let verb = if added.replaced {
        "replaced the value pending"
    } else {
        "added a value pending"
    };
    eprintln!(
        "seal: {name}: {verb} at {query}; a key holder checks and folds it in with `seal fold {name}` (until then `exec`, `get` and `export` refuse it)"
    );
    report_generated(args, value, |kind| {
        format!(
            "seal: {name}: the pending value is a new {kind} value (not shown; --print shows it)"
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_unset(args: UnsetArgs) -> Result<ExitCode, CliError> {
    let query = args.document.query(&args.path)?;
    let _lock = lock_file(&args.file)?;
    let opened = open_file(&args.file, &args.format, &args.identity)?;
    let name = display(&args.file);
    check_document(&name, &query, opened.format)?;
    let edited = Zeroizing::new(
        opened
            .format
            .remove_value(&opened.plaintext, &query)
            .map_err(|e| edit_error(&name, e))?,
    );
    finish(&opened, &args.file, &edited)
}
