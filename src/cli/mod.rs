//! The `seal` command line: argument definitions and one module per
//! command. `src/main.rs` only parses arguments and calls [`run`].
//!
//! Exit codes: 0 success, 1 failure, 2 usage error.

mod check;
mod decrypt;
mod edit;
mod encrypt;
mod exec;
mod exposure;
mod get;
mod git_setup;
mod info;
mod keygen;
mod merge_driver;
mod recipients;
mod rotate;
mod scan;
mod set;
mod textconv;
mod updatekeys;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use zeroize::Zeroizing;

use crate::document::{self, DocError, Opened};
use crate::envelope::{Identities, IdentityError, IdentitySources, UnwrapError};
use crate::format::Format;
use crate::fsio::{self, ReadError};

/// Keep secrets in git: encrypt only the values of YAML, JSON and dotenv
/// files, so sealed files still read, diff and merge like config.
#[derive(Parser, Debug)]
#[command(name = "seal", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where to find identities for decryption.
#[derive(Args, Debug, Clone, Default)]
pub struct IdentityArgs {
    /// Identity file (age identity or OpenSSH private key); repeatable. Also
    /// read, in order: SEAL_IDENTITY_FILE (colon-separated), SEAL_IDENTITY
    /// (the key text), then $XDG_CONFIG_HOME/seal/identity.txt.
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Also try a passphrase, for files with a `scrypt:LABEL` recipient
    /// (read from SEAL_PASSPHRASE_FD, else asked on the terminal).
    #[arg(long = "passphrase")]
    pub passphrase: bool,
}

/// `text` with control characters other than line breaks and tabs shown
/// as escapes: messages quote file names and metadata that a committed file
/// controls, and raw escape sequences would drive the reader's terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let shown = |c: char| !c.is_control() || c == '\n' || c == '\t';
    if text.chars().all(shown) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if shown(c) {
                    c.to_string()
                } else {
                    c.escape_unicode().to_string()
                }
            })
            .collect(),
    )
}

/// How to read the file.
#[derive(Args, Debug, Clone, Default)]
pub struct FormatArg {
    /// File format: yaml, json or dotenv (default: from the file name).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

/// Which document of a YAML stream (`---`) a path is in.
#[derive(Args, Debug, Clone, Default)]
pub struct DocumentArg {
    /// For a YAML file of several documents: the one PATH is in, counted
    /// from 1 (default 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub document: Option<u32>,
}

impl DocumentArg {
    /// `path` as typed (dotted or a JSON Pointer), in the chosen document.
    pub fn query(&self, path: &str) -> Result<crate::path::PathQuery, CliError> {
        let mut query = crate::path::PathQuery::parse(path)
            .map_err(|e| CliError::usage(format!("invalid path {path:?}: {e}")))?;
        query.doc = self.document.map_or(0, |n| n as usize - 1);
        Ok(query)
    }
}

/// Only YAML has documents after the first; elsewhere `--document 2` would
/// quietly mean the only one.
pub fn check_document(
    file: &str,
    query: &crate::path::PathQuery,
    format: crate::format::Format,
) -> Result<(), CliError> {
    if query.doc > 0 && format != crate::format::Format::Yaml {
        return Err(CliError::usage(format!(
            "{file}: --document {} is for YAML files of several documents; a {} file has one",
            query.doc + 1,
            format.name()
        )));
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new age identity (same file format as age-keygen).
    Keygen(keygen::KeygenArgs),
    /// Seal a plaintext file: encrypt every value (or those the rule selects).
    Encrypt(encrypt::EncryptArgs),
    /// Print (or write) the plaintext of a sealed file.
    Decrypt(decrypt::DecryptArgs),
    /// Decrypt into a private temp file, open $EDITOR, reseal what changed.
    Edit(edit::EditArgs),
    /// Run a command with the sealed values in its environment.
    Exec(exec::ExecArgs),
    /// Print one decrypted value.
    Get(get::GetArgs),
    /// Set one value (added at the end of its mapping if new) and reseal.
    Set(set::SetArgs),
    /// Remove one value and reseal.
    Unset(set::UnsetArgs),
    /// Show a sealed file's recipients, dates and value counts (no key needed).
    Info(info::InfoArgs),
    /// Print a sealed file decrypted, for git's diff.seal.textconv (never fails).
    Textconv(textconv::TextconvArgs),
    /// Git merge driver for sealed files: seal merge-driver %O %A %B %P.
    MergeDriver(merge_driver::MergeDriverArgs),
    /// Git integration: `seal git setup` configures diff, merge and the hook.
    Git(git_setup::GitArgs),
    /// Check that every file a .seal.yaml rule covers is sealed (pre-commit, CI).
    Check(check::CheckArgs),
    /// List, add or remove the recipients of .seal.yaml (or list a file's).
    Recipients(recipients::RecipientsArgs),
    /// Re-wrap sealed files for the recipients their rule names now.
    Updatekeys(updatekeys::UpdatekeysArgs),
    /// Give files a new data key and re-encrypt every value (same recipients).
    Rotate(rotate::RotateArgs),
    /// Find plaintext secrets that should have been sealed (files, staged, history).
    Scan(scan::ScanArgs),
    /// What a recipient could decrypt in the git history, and what is unchanged.
    Exposure(exposure::ExposureArgs),
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Encrypt(a) => encrypt::run(a),
        Command::Decrypt(a) => decrypt::run(a),
        Command::Edit(a) => edit::run(a),
        Command::Exec(a) => exec::run(a),
        Command::Get(a) => get::run(a),
        Command::Set(a) => set::run_set(a),
        Command::Unset(a) => set::run_unset(a),
        Command::Info(a) => info::run(a),
        Command::Textconv(a) => textconv::run(a),
        Command::MergeDriver(a) => merge_driver::run(a),
        Command::Git(a) => git_setup::run(a),
        Command::Check(a) => check::run(a),
        Command::Recipients(a) => recipients::run(a),
        Command::Updatekeys(a) => updatekeys::run(a),
        Command::Rotate(a) => rotate::run(a),
        Command::Exposure(a) => exposure::run(a),
        Command::Scan(a) => scan::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            e.print();
            ExitCode::from(e.code)
        }
    }
}

/// An error for the user: what went wrong (naming the file and where),
/// and what to do about it. Never contains secret values.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: u8,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hint: None,
            code: 1,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hint: None,
            code: 2,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn print(&self) {
        let mut err = std::io::stderr().lock();
        // Like a shell: `seal: command not found: NAME`; and a stop by a
        // signal (128 + its number) is no error of seal's.
        let label = if matches!(self.code, 126 | 127) || self.code >= 128 {
            ""
        } else {
            "error: "
        };
        let _ = writeln!(err, "seal: {label}{}", printable(&self.message));
        if let Some(h) = &self.hint {
            let _ = writeln!(err, "seal: hint: {}", printable(h));
        }
    }

    /// Describe a document error for `file`.
    pub fn doc(file: &str, e: DocError) -> Self {
        match e {
            DocError::Parse(p) => {
                let hint = if p.concerns_metadata() {
                    "the top-level key `seal` holds seal's metadata: in a plain file, rename your key of that name; in a sealed file, the metadata was changed outside seal (restore it from version control)"
                } else {
                    "fix the syntax at that line and column, then run the command again"
                };
                CliError::new(format!("{file}:{}:{}: {}", p.line, p.column, p.message)).hint(hint)
            }
            DocError::NotSealed => CliError::new(format!("{file}: the file is not sealed (no seal metadata)"))
                .hint(format!("to seal it: seal encrypt --in-place {file}")),
            DocError::AlreadySealed { at } => CliError::new(format!(
                "{file}: already sealed{}",
                at.map(|p| format!(" (a sealed value is at {p})")).unwrap_or_default()
            ))
            .hint("change values with `seal set` or `seal edit`; see the plaintext with `seal decrypt`"),
            DocError::UnsupportedVersion(v) => {
                CliError::new(format!("{file}: sealed with format version {v}; this seal reads version 1"))
                    .hint("upgrade seal")
            }
            DocError::Unwrap(UnwrapError::NoMatch { sources, recipients }) => CliError::new(format!(
                "{file}: none of your identities can open this file\n  your identities: {sources}\n  the file's recipients:\n{}",
                recipients.iter().map(|r| format!("    {r}")).collect::<Vec<_>>().join("\n")
            ))
            .hint("ask someone who can open it to add your public key (`seal keygen -y IDENTITY` prints it), or pass the right key with -i"),
            DocError::Unwrap(e @ UnwrapError::Damaged { .. }) => CliError::new(format!("{file}: {e}"))
                .hint("restore the file from git (`git checkout -- FILE`) or ask who changed it"),
            DocError::Tampered => CliError::new(format!(
                "{file}: the file's MAC does not match: a value, a key path or the metadata was changed outside seal; nothing was decrypted"
            ))
            .hint("restore the file from git (`git checkout -- FILE`) or ask who changed it"),
            DocError::Value { path, source } => CliError::new(format!("{file}: the value at {path} cannot be decrypted: {source}"))
                .hint("restore the file from git or ask who changed it"),
            DocError::Edit(e) => CliError::new(format!("{file}: {e}")),
            DocError::Recipient(e) => CliError::new(format!("{file}: {e}"))
                .hint("check the recipient; `seal keygen -y IDENTITY` prints the public key of an identity"),
            DocError::NoRecipients => CliError::new(format!("{file}: no recipients to seal for"))
                .hint("pass -r RECIPIENT / -R FILE, or add a rule to .seal.yaml"),
            other => CliError::new(format!("{file}: {other}")),
        }
    }

    /// Describe a failure to lock `file`.
    pub fn lock(file: &str, e: fsio::LockError) -> Self {
        match e {
            fsio::LockError::NotFound => CliError::read(file, ReadError::NotFound),
            other => CliError::new(format!("{file}: {other}")),
        }
    }

    /// Describe a failure to write `path`.
    pub fn write(path: &Path, e: std::io::Error) -> Self {
        let error = CliError::new(format!("{}: cannot write: {e}", path.display()));
        if fsio::is_special(path) {
            // Written into a device or pipe: part may have gone through.
            error.hint("it is not a regular file: part of the output may have reached it")
        } else {
            error.hint("the file was not changed")
        }
    }

    /// Describe a read error for `file`.
    pub fn read(file: &str, e: ReadError) -> Self {
        let err = CliError::new(format!("{file}: {e}"));
        match e {
            ReadError::NotFound => err.hint("check the path"),
            ReadError::NotText(_) => err.hint("seal works on YAML, JSON and dotenv text files"),
            ReadError::Empty => {
                err.hint("add some values first (or use `seal set FILE PATH VALUE`)")
            }
            _ => err,
        }
    }
}

/// The format of `file`, from `--format` or its name.
pub fn detect_format(file: &Path, arg: &FormatArg) -> Result<Format, CliError> {
    if let Some(name) = &arg.format {
        return Format::from_name(name).ok_or_else(|| {
            CliError::usage(format!("unknown format {name:?}: use yaml, json or dotenv"))
        });
    }
    Format::from_path(file).ok_or_else(|| {
        CliError::usage(format!("cannot tell the format of {}", file.display())).hint(
            "name it .yaml/.yml, .json, .env, *.env or .env.*, or pass --format yaml|json|dotenv",
        )
    })
}

/// Read a document argument (`-` is standard input).
pub fn read_input(file: &Path) -> Result<Zeroizing<String>, CliError> {
    let name = display(file);
    if file == Path::new("-") {
        fsio::read_stdin().map_err(|e| CliError::read(&name, e))
    } else {
        fsio::read_document(file).map_err(|e| CliError::read(&name, e))
    }
}

/// How a path is named in messages.
pub fn display(file: &Path) -> String {
    if file == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        file.display().to_string()
    }
}

/// Load identities from `-i`, the environment and the default file.
pub fn load_identities(args: &IdentityArgs) -> Result<Identities, CliError> {
    let loaded = Identities::load(&IdentitySources::from_env(args.identities.clone()));
    let mut ids = match loaded {
        Ok(ids) => ids,
        Err(IdentityError::NoneFound { .. }) if args.passphrase => Identities::empty(),
        Err(e) => {
            let hint = match &e {
                IdentityError::MissingPlugin { binary_name, .. } => {
                    format!("install {binary_name} or add its directory to PATH")
                }
                _ => "create one with `seal keygen`, or pass -i FILE / set SEAL_IDENTITY_FILE"
                    .to_owned(),
            };
            return Err(CliError::new(e.to_string()).hint(hint));
        }
    };
    if args.passphrase {
        let pass = crate::passphrase::for_decryption().map_err(|e| CliError::new(e.to_string()))?;
        ids.add_passphrase(pass);
    }
    Ok(ids)
}

/// Read, open and decrypt a sealed file.
pub fn open_file(file: &Path, fmt: &FormatArg, ids: &IdentityArgs) -> Result<Opened, CliError> {
    let format = detect_format(file, fmt)?;
    let name = display(file);
    let text = read_input(file)?;
    let sealed = document::parse_sealed_owned(format, text).map_err(|e| CliError::doc(&name, e))?;
    // Identities are asked for only once the file is known to be sealed.
    let identities = load_identities(ids)?;
    sealed
        .open(&identities)
        .map_err(|e| CliError::doc(&name, e))
}

/// Take the advisory lock on a sealed file for a read-modify-write, so two
/// seal processes never overwrite each other's change.
pub fn lock_file(file: &Path) -> Result<std::fs::File, CliError> {
    fsio::lock(file).map_err(|e| CliError::lock(&display(file), e))
}

/// Write `text` to stdout, treating a closed pipe as success.
pub fn print_stdout(text: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Write a file atomically, naming it in the error.
pub fn write_file(path: &Path, contents: &[u8], mode: fsio::Mode) -> Result<(), CliError> {
    fsio::write_atomic(path, contents, mode).map_err(|e| CliError::write(path, e))
}
