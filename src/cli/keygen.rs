//! `seal keygen`: a new age X25519 identity, or the public key of one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{print_stdout, CliError};
use crate::envelope::{default_identity_path, generate_identity, public_keys};
use crate::fsio;

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the new identity (mode 0600, never overwritten; `-`
    /// prints it). Default: $XDG_CONFIG_HOME/seal/identity.txt.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the public key(s) of an existing identity file instead.
    #[arg(short = 'y', value_name = "FILE", conflicts_with = "output")]
    public_of: Option<PathBuf>,
    /// Protect the new identity with a passphrase (the file is age-encrypted
    /// with scrypt). The passphrase is read from SEAL_PASSPHRASE_FD, else
    /// asked twice on the terminal; seal asks for it whenever it uses the key.
    #[arg(long, conflicts_with = "public_of")]
    passphrase: bool,
}

pub fn run(args: KeygenArgs) -> Result<ExitCode, CliError> {
    if let Some(file) = args.public_of {
        let name = file.display().to_string();
        if crate::envelope::looks_like_key_text(&name) {
            return Err(CliError::usage(
                "-y takes the path of an identity file, and was given key text (not shown)",
            ));
        }
        // A protected identity may be binary (`age -p` without -a), which is
        // no text to read as a document.
        let bytes = fsio::read_bytes(&file).map_err(|e| CliError::read(&name, e))?;
        let text = if crate::passphrase::is_age_encrypted(&bytes) {
            crate::passphrase::decrypt_identity_text(&bytes, &name)
                .map_err(|e| CliError::new(format!("{name}: {e}")))?
        } else {
            fsio::text_from_bytes(bytes).map_err(|e| CliError::read(&name, e))?
        };
        let keys = public_keys(&text).map_err(|e| CliError::new(format!("{name}: {e}")))?;
        print_stdout(format!("{}\n", keys.join("\n")).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }

    let (mut secret, public) = generate_identity();
    if args.passphrase {
        let pass = crate::passphrase::obtain(
            "Passphrase to protect the new identity: ",
            Some("Repeat the passphrase: "),
            "a passphrase for the new identity",
        )
        .map_err(|e| CliError::new(e.to_string()).hint("nothing was written"))?;
        secret = zeroize::Zeroizing::new(
            crate::passphrase::protect_identity(&secret, &pass)
                .map_err(|e| CliError::new(format!("cannot encrypt the identity: {e}")))?,
        );
    }
    let path = match args.output {
        Some(p) if p.as_os_str() == "-" => {
            print_stdout(secret.as_bytes())?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(p) => p,
        None => default_identity_path().ok_or_else(|| {
            CliError::new(
                "cannot find a home for the identity: neither XDG_CONFIG_HOME nor HOME is set",
            )
            .hint("pass -o FILE")
        })?,
    };
    if path.exists() {
        return Err(CliError::new(format!(
            "{}: already exists; seal never overwrites an identity",
            path.display()
        ))
        .hint(format!(
            "see its public key with `seal keygen -y {}`, or choose another path with -o",
            path.display()
        )));
    }
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                CliError::new(format!("{}: cannot create directory: {e}", dir.display()))
            })?;
    }
    fsio::create_new(&path, secret.as_bytes(), 0o600)
        .map_err(|e| CliError::new(format!("{}: cannot write identity: {e}", path.display())))?;
    eprintln!("seal: wrote a new identity to {}", path.display());
    print_stdout(format!("{public}\n").as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
