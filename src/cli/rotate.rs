//! `seal rotate`: a new data key for each file and every value re-encrypted,
//! for the same recipients.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::updatekeys::{collect_files, finish, Engine};
use super::{CliError, IdentityArgs};
use crate::team::reconcile::{Action, Options};

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// Show what would be rotated; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Sealed files (or directories to search for sealed files).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: RotateArgs) -> Result<ExitCode, CliError> {
    let files = collect_files(&args.files)?;
    let mut engine = Engine::new(
        Options {
            mode: Action::Rotate,
            dry_run: args.dry_run,
            rotate_on_removal: true,
            force: false,
            drop_keys: Vec::new(),
            new_key: None,
            keep_old: false,
        },
        &args.identity,
        false,
    );
    let sum = engine.run(&files)?;
    finish(&sum)
}
