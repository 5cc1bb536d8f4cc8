//! `seal textconv FILE`: the decrypted file for git's `diff.seal.textconv`,
//! so `git diff`, `git log -p` and `git show` show plaintext changes.
//!
//! It never fails a git command: a file it cannot open is printed as it is,
//! with one comment line on top saying why (no identity, not a recipient,
//! or TAMPERED when the MAC does not match: then nothing is decrypted).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{detect_format, print_stdout, CliError, FormatArg, IdentityArgs};
use crate::envelope::{Identities, IdentitySources};

#[derive(Args, Debug)]
pub struct TextconvArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    /// The file git hands over (a temporary copy of one revision).
    file: PathBuf,
}

pub fn run(args: TextconvArgs) -> Result<ExitCode, CliError> {
    let mut bytes = Zeroizing::new(Vec::new());
    let read = if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(&args.file).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    if let Err(e) = read {
        // git shows nothing useful for a file it cannot read either; say
        // why in the diff instead of failing the whole command.
        let line = format!("# seal: cannot read the file: {e}\n");
        print_stdout(line.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        print_stdout(&bytes)?;
        return Ok(ExitCode::SUCCESS);
    };
    let format = detect_format(&args.file, &args.format).ok();
    // Identities are only loaded for sealed files, and a missing one is no
    // error here.
    let sources = IdentitySources::from_env(args.identity.identities.clone());
    let out = Zeroizing::new(crate::git::textconv(format, text, || {
        Identities::load(&sources).ok()
    }));
    print_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
