//! `seal man [--dir DIR]`: the man page, generated from the argument
//! definitions (each command's options, and its examples).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory};

use super::{print_stdout, write_file, Cli, CliError};
use crate::fsio::Mode;

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write seal.1 and one page per command (seal-encrypt.1, …) into DIR
    /// instead of printing seal.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: ManArgs) -> Result<ExitCode, CliError> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Built, subcommands get their full names (seal-git-setup) and the
    // options they inherit.
    cmd.build();
    let Some(dir) = args.dir else {
        print_stdout(&render(&cmd)?)?;
        return Ok(ExitCode::SUCCESS);
    };
    if !dir.is_dir() {
        return Err(CliError::new(format!("{}: not a directory", dir.display()))
            .hint("create it first (e.g. mkdir -p ~/.local/share/man/man1)"));
    }
    let mut pending = vec![cmd];
    while let Some(cmd) = pending.pop() {
        pending.extend(cmd.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
        let page = clap_mangen::Man::new(cmd.clone());
        write_file(
            &dir.join(page.get_filename()),
            &render(&cmd)?,
            Mode::KeepOr(0o644),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .map_err(|e| CliError::new(format!("cannot render the man page: {e}")))?;
    Ok(page)
}
