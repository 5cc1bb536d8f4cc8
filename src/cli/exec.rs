//! `seal exec`: run a command with sealed values in its environment.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{open_all, variables_error, CliError, FormatArg, IdentityArgs, NameArgs};
use crate::exec::{self, ExecError, RunOptions};

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    names: NameArgs,
    /// Keep an existing environment variable rather than override it.
    #[arg(long)]
    no_override: bool,
    /// Write each value to a 0600 file in a private tmpfs directory and pass
    /// NAME_FILE=path instead of NAME (removed when the command exits).
    #[arg(long)]
    files: bool,
    /// Replace the values in the command's output with `***`, except those
    /// that cannot be secrets: booleans, numbers under 6 digits and values
    /// under 6 characters (a warning names each sealed one left visible).
    #[arg(long)]
    mask: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    signed: super::SignedArgs,
    #[command(flatten)]
    pending: super::PendingArgs,
    #[command(flatten)]
    format: FormatArg,
    /// Sealed files; later files override earlier ones.
    #[arg(required = true, value_name = "FILE")]
    sealed_files: Vec<PathBuf>,
    /// The command and its arguments, after `--`. No shell is involved.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

pub fn run(args: ExecArgs) -> Result<ExitCode, CliError> {
    let options = args.names.options(&args.sealed_files, args.files)?;
    let opened = open_all(
        &args.sealed_files,
        &args.format,
        &args.identity,
        &args.signed,
        &args.pending,
        "nothing was run",
    )?;
    let vars = exec::variables(&opened, &options).map_err(variables_error)?;
    drop(opened);
    if args.mask {
        for origin in vars.iter().filter_map(|v| v.unmasked_secret.as_deref()) {
            eprintln!(
                "seal: warning: --mask leaves the value of {} visible: booleans, numbers under 6 digits and values under 6 characters are never masked",
                super::printable(origin)
            );
        }
    }
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::usage("no command given after --"));
    };
    let program = program.to_string_lossy().into_owned();
    let run_options = RunOptions {
        no_override: args.no_override,
        files: args.files,
        mask: args.mask,
    };
    match exec::run(&program, rest, &vars, &run_options) {
        Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        Err(ExecError::NotFound(name)) => Err(CliError {
            message: format!("command not found: {name}"),
            hint: None,
            code: 127,
        }),
        Err(e @ ExecError::NotExecutable(_)) => Err(CliError {
            message: e.to_string(),
            hint: None,
            code: 126,
        }),
        Err(e) => Err(CliError::new(e.to_string())),
    }
}
