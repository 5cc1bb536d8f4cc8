//! `seal completions SHELL`: a completion script generated from the same
//! argument definitions as the parser, so it never drifts from them.

use std::process::ExitCode;

use clap::{Args, CommandFactory, ValueEnum};

use super::{print_stdout, Cli, CliError};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: Shell,
}

/// The shells seal writes completions for.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(args: CompletionsArgs) -> Result<ExitCode, CliError> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "seal", &mut script);
    print_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}
