//! `seal exec`: run a command with sealed values in its environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{display, open_file, CliError, FormatArg, IdentityArgs};
use crate::config::Config;
use crate::exec::{self, ExecError, NameOptions, RunOptions};
use crate::path::PathQuery;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Upper-case variable names (`database.password` → `DATABASE_PASSWORD`).
    #[arg(long)]
    upper: bool,
    /// Prefix for every variable name.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    prefix: String,
    /// Only inject values at or below PATH; repeatable.
    #[arg(long, value_name = "PATH")]
    only: Vec<String>,
    /// Keep an existing environment variable rather than override it.
    #[arg(long)]
    no_override: bool,
    /// Write each value to a 0600 file in a private tmpfs directory and pass
    /// NAME_FILE=path instead of NAME (removed when the command exits).
    #[arg(long)]
    files: bool,
    /// Replace sealed values longer than 3 characters in the command's
    /// output with `***`.
    #[arg(long)]
    mask: bool,
    /// Let the files set NAME although it changes how programs start
    /// (PATH, LD_PRELOAD, BASH_ENV, NODE_OPTIONS, …); repeatable. Also
    /// `exec: {allow: [NAME]}` in .seal.yaml.
    #[arg(long = "allow-var", value_name = "NAME")]
    allow_var: Vec<String>,
    #[command(flatten)]
    identity: IdentityArgs,
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
    let only = args
        .only
        .iter()
        .map(|p| {
            PathQuery::parse(p)
                .map_err(|e| CliError::usage(format!("invalid --only path {p:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Every file must open before anything runs: never a partial set.
    let mut opened = Vec::new();
    for f in &args.sealed_files {
        let name = display(f);
        let file = open_file(f, &args.format, &args.identity)?;
        // A merge conflict is stored as a value holding both candidates:
        // never hand that to a command.
        if let Some(line) = crate::merge::conflict_marker_line(&file.plaintext) {
            return Err(CliError::new(format!(
                "{name}: unresolved merge conflict (decrypted line {line}); nothing was run"
            ))
            .hint(format!("resolve it with `seal edit {name}`")));
        }
        opened.push((name, file));
    }
    let options = NameOptions {
        upper: args.upper,
        prefix: args.prefix.clone(),
        only,
        file_names: args.files,
        allowed: allowed_names(&args)?,
    };
    let vars = exec::variables(&opened, &options).map_err(|e| match &e {
        ExecError::StartupVariable { name, .. } => CliError::new(e.to_string()).hint(format!(
            "if the file should set it, allow it in .seal.yaml (`exec: {{allow: [{name}]}}`) or pass --allow-var {name}"
        )),
        _ => CliError::new(e.to_string()).hint("rename a key, or narrow with --only / --prefix"),
    })?;
    drop(opened);
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

/// Per sealed file: `--allow-var` and the `exec.allow` of the `.seal.yaml`
/// that covers it (for standard input, the one of the working directory).
/// A sealed value can change unseen; `.seal.yaml` is reviewed in plain text.
fn allowed_names(args: &ExecArgs) -> Result<Vec<Vec<String>>, CliError> {
    args.sealed_files
        .iter()
        .map(|file| {
            let dir = match file.parent() {
                _ if file.as_os_str() == "-" => Path::new("."),
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let config = Config::find(dir).map_err(|e| {
                CliError::new(e.to_string()).hint("fix .seal.yaml, then run the command again")
            })?;
            let mut names = args.allow_var.clone();
            names.extend(config.map(|c| c.exec_allow).unwrap_or_default());
            Ok(names)
        })
        .collect()
}
