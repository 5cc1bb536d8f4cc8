//! The `seal` binary: parse arguments, run the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    seal::run_cli(seal::Cli::parse())
}
