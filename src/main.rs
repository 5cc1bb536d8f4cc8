//! The `seal` binary: parse arguments, run the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    seal::cli::run(seal::cli::Cli::parse())
}
