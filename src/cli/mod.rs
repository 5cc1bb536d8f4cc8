//! The `seal` command line: argument definitions and one module per
//! command. `src/main.rs` only parses arguments and calls [`run`].
//!
//! Exit codes: 0 success, 1 failure, 2 usage error.

mod check;
mod completions;
mod decrypt;
mod edit;
mod encrypt;
mod exec;
mod export;
mod exposure;
mod fold;
mod get;
mod git_setup;
mod import;
mod info;
mod keygen;
mod log;
mod man;
mod merge_driver;
mod recipients;
mod rotate;
mod scan;
mod set;
mod status;
mod textconv;
mod updatekeys;
mod verify;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use verify::SignedArgs;
use zeroize::Zeroizing;

use crate::document::{self, DocError, Opened};
use crate::envelope::{Identities, IdentityError, IdentitySources, UnwrapError};
use crate::format::Format;
use crate::fsio::{self, ReadError};

/// Keep secrets in git: encrypt only the values of YAML, JSON, TOML and
/// dotenv files, so sealed files still read, diff and merge like config.
#[derive(Parser, Debug)]
#[command(
    name = "seal",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 success, 1 failure, 2 usage error.

Examples:
  seal encrypt --in-place -r age1... secrets.yaml
  seal exec secrets.yaml -- ./deploy.sh"
)]
pub struct Cli {
    /// Sign what this run writes with this SSH ed25519 key: an OpenSSH
    /// private key, or a public key (or passphrase-protected key) whose
    /// private half ssh-agent holds. Without it (and SEAL_SIGNING_KEY), a
    /// running ssh-agent's ed25519 key signs, preferring one `signers` lists.
    #[arg(
        long = "sign-key",
        global = true,
        value_name = "FILE",
        env = "SEAL_SIGNING_KEY"
    )]
    pub sign_key: Option<PathBuf>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where this run's signing key comes from (see `Cli::sign_key`).
fn signing_source(sign_key: Option<PathBuf>) -> crate::signing::KeySource {
    use crate::signing::KeySource;
    let agent = std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    match (sign_key, agent) {
        (Some(path), agent) => KeySource::File { path, agent },
        (None, Some(socket)) => KeySource::Agent {
            socket,
            prefer_from: PathBuf::from("."),
        },
        (None, None) => KeySource::None,
    }
}

/// Where to find identities for decryption.
#[derive(Args, Debug, Clone, Default)]
pub struct IdentityArgs {
    /// Identity file (age identity or OpenSSH private key); repeatable.
    /// Given, it is the only source for this run; without it seal reads, in
    /// order: SEAL_IDENTITY_FILE (colon-separated), SEAL_IDENTITY (the key
    /// text), then $XDG_CONFIG_HOME/seal/identity.txt.
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
    /// File format: yaml, json, toml or dotenv (default: from the file name).
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
    #[command(after_help = "Examples:
  seal keygen                      # ~/.config/seal/identity.txt, prints the public key
  seal keygen -y ~/.ssh/id_ed25519 # the public key of an identity")]
    Keygen(keygen::KeygenArgs),
    /// Seal a plaintext file: encrypt every value (or those the rule selects).
    #[command(after_help = "Examples:
  seal encrypt --in-place secrets.yaml            # for the recipients of .seal.yaml
  seal encrypt -r age1... -o app.env.sealed app.env")]
    Encrypt(encrypt::EncryptArgs),
    /// Print (or write) the plaintext of a sealed file.
    #[command(after_help = "Examples:
  seal decrypt secrets.yaml
  seal decrypt --extract database.password secrets.yaml")]
    Decrypt(decrypt::DecryptArgs),
    /// Decrypt into a private temp file, open $EDITOR, reseal what changed.
    #[command(after_help = "Examples:
  seal edit secrets.yaml
  SEAL_EDITOR=\"code --wait\" seal edit prod.env")]
    Edit(edit::EditArgs),
    /// Run a command with the sealed values in its environment.
    #[command(after_help = "Examples:
  seal exec --upper secrets.yaml -- ./server      # database.password -> DATABASE_PASSWORD
  seal exec --files prod.env -- docker compose up # DB_PASSWORD_FILE=/path")]
    Exec(exec::ExecArgs),
    /// Write the values `seal exec` would inject for another tool (k8s, docker, shell, CI).
    Export(export::ExportArgs),
    /// Print one decrypted value.
    #[command(after_help = "Examples:
  seal get secrets.yaml database.password
  seal get secrets.json /api/keys/0")]
    Get(get::GetArgs),
    /// Set one value (added at the end of its mapping if new) and reseal.
    #[command(after_help = "Examples:
  seal set secrets.yaml database.password 'n3w-p4ss'
  seal set --raw secrets.yaml database.port 5432")]
    Set(set::SetArgs),
    /// Remove one value and reseal.
    #[command(after_help = "Example:
  seal unset secrets.yaml old.api_key")]
    Unset(set::UnsetArgs),
    /// Show a sealed file's recipients, dates and value counts (no key needed).
    #[command(after_help = "Examples:
  seal info secrets.yaml
  seal info --json secrets.yaml")]
    Info(info::InfoArgs),
    /// Print a sealed file decrypted, for git's diff.seal.textconv (never fails).
    #[command(after_help = "Example (what git runs, set up by `seal git setup`):
  git config diff.seal.textconv \"seal textconv\"")]
    Textconv(textconv::TextconvArgs),
    /// Git merge driver for sealed files: seal merge-driver %O %A %B %P.
    #[command(after_help = "Example (what git runs, set up by `seal git setup`):
  git config merge.seal.driver \"seal merge-driver %O %A %B %P\"")]
    MergeDriver(merge_driver::MergeDriverArgs),
    /// Git integration: `seal git setup` configures diff, merge and the hook.
    #[command(after_help = "Examples:
  seal git setup --hook
  seal git setup --print")]
    Git(git_setup::GitArgs),
    /// Check that every file a .seal.yaml rule covers is sealed and fits its schema (pre-commit, CI).
    #[command(after_help = "Examples:
  seal check                # every tracked file under .seal.yaml
  seal check --staged       # what is about to be committed")]
    Check(check::CheckArgs),
    /// The secret inventory: owner, last change, rotation due date and state of each value (no key needed).
    #[command(after_help = "Examples:
  seal status               # every value a policy covers, under .seal.yaml
  seal status --check       # exit 1 when a value is overdue (scheduled CI)
  seal status --all --json prod/")]
    Status(status::StatusArgs),
    /// Move a SOPS or dotenvx file to seal (same layout and comments), or convert .sops.yaml.
    #[command(
        after_help = "Without -i, SOPS's age identities are tried too: SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, \
then $XDG_CONFIG_HOME/sops/age/keys.txt. A dotenvx file opens with DOTENV_PRIVATE_KEY_<ENV>, \
DOTENV_PRIVATE_KEY or .env.keys beside it, and is sealed for the .seal.yaml rule of the file written.

Examples:
  seal import --in-place secrets.yaml            # a SOPS file, sealed for its age recipients
  seal import --in-place .env.production         # dotenvx, key from .env.keys or the environment
  seal import --sops-config .sops.yaml           # writes .seal.yaml next to it"
    )]
    Import(import::ImportArgs),
    /// List, add or remove the recipients of .seal.yaml (or list a file's).
    Recipients(recipients::RecipientsArgs),
    /// Re-wrap sealed files for the recipients their rule names now.
    #[command(after_help = "Examples:
  seal updatekeys --dry-run
  seal updatekeys prod/")]
    Updatekeys(updatekeys::UpdatekeysArgs),
    /// Check the values added with `set --public` and fold them into the file's tokens.
    #[command(after_help = "Examples:
  seal fold secrets.yaml          # shows each pending value and asks
  seal fold --yes secrets.yaml    # for scripts that checked them")]
    Fold(fold::FoldArgs),
    /// Give files a new data key and re-encrypt every value (same recipients).
    #[command(after_help = "Example:
  seal rotate prod/secrets.yaml prod/app.env")]
    Rotate(rotate::RotateArgs),
    /// Find plaintext secrets that should have been sealed (files, staged, history).
    Scan(scan::ScanArgs),
    /// What a recipient could decrypt in the git history, and what is unchanged.
    #[command(after_help = "Examples:
  seal exposure bob
  seal exposure bob --json")]
    Exposure(exposure::ExposureArgs),
    /// Say whether files are signed, by whom, and whether the signature holds (no key needed).
    #[command(after_help = "Examples:
  seal verify                  # every tracked file .seal.yaml covers
  seal verify --json prod/
  seal verify --signed-data f.yaml | ssh-keygen -Y verify -f allowed_signers -I alice -n seal -s sig")]
    Verify(verify::VerifyArgs),
    /// Key-level history from git: who added, changed or removed which key path (no key needed).
    #[command(after_help = "Examples:
  seal log secrets.yaml
  seal log secrets.yaml database.password --since 2026-11-01
  seal log --json")]
    Log(log::LogArgs),
    /// Print a shell completion script for bash, zsh or fish.
    #[command(after_help = "Examples:
  seal completions bash > ~/.local/share/bash-completion/completions/seal
  seal completions zsh > ~/.zfunc/_seal")]
    Completions(completions::CompletionsArgs),
    /// Print seal's man page, or write one page per command with --dir.
    #[command(after_help = "Examples:
  seal man | man -l -
  seal man --dir ~/.local/share/man/man1")]
    Man(man::ManArgs),
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // Before any key or value is read: a core file would hold them.
    if let Err(e) = crate::hardening::disable_core_dumps() {
        let e = CliError::new(format!("{e}; nothing was done"));
        e.print();
        return ExitCode::from(e.code);
    }
    crate::signing::configure(signing_source(cli.sign_key));
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Encrypt(a) => encrypt::run(a),
        Command::Decrypt(a) => decrypt::run(a),
        Command::Edit(a) => edit::run(a),
        Command::Exec(a) => exec::run(a),
        Command::Export(a) => export::run(a),
        Command::Get(a) => get::run(a),
        Command::Set(a) => set::run_set(a),
        Command::Unset(a) => set::run_unset(a),
        Command::Info(a) => info::run(a),
        Command::Textconv(a) => textconv::run(a),
        Command::MergeDriver(a) => merge_driver::run(a),
        Command::Git(a) => git_setup::run(a),
        Command::Check(a) => check::run(a),
        Command::Status(a) => status::run(a),
        Command::Import(a) => import::run(a),
        Command::Recipients(a) => recipients::run(a),
        Command::Updatekeys(a) => updatekeys::run(a),
        Command::Fold(a) => fold::run(a),
        Command::Rotate(a) => rotate::run(a),
        Command::Exposure(a) => exposure::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Log(a) => log::run(a),
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
                CliError::new(format!("{file}: {}", crate::metadata::unsupported_version(v)))
                    .hint("upgrade seal")
            }
            DocError::Sign(e) => CliError::new(format!("{file}: cannot sign: {e}; nothing was written"))
                .hint("pass --sign-key FILE (an ssh-ed25519 key), or fix SEAL_SIGNING_KEY / ssh-agent"),
            DocError::Unwrap(UnwrapError::NoMatch { sources, recipients }) => CliError::new(format!(
                "{file}: none of your identities can open this file\n  your identities: {sources}\n  the file's recipients:\n{}",
                recipient_lines(file, &recipients)
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
            DocError::Changed(_) => CliError::new(format!("{file}: {e}"))
                .hint("the metadata was changed outside seal; restore the file from version control"),
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
            ReadError::NotText(_) => {
                err.hint("seal works on YAML, JSON, TOML and dotenv text files")
            }
            ReadError::Empty => {
                err.hint("add some values first (or use `seal set FILE PATH VALUE`)")
            }
            _ => err,
        }
    }
}

/// A file's recipients, one per line, each under the name the
/// `.seal.yaml` governing `file` gives it (the key next to it, to compare
/// with `seal keygen -y`).
fn recipient_lines(file: &str, recipients: &[String]) -> String {
    let dir = Path::new(file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && file != "<stdin>")
        .unwrap_or(Path::new("."));
    // Only for naming: a missing or broken .seal.yaml names no one.
    let config = crate::config::Config::find(dir).ok().flatten();
    recipients
        .iter()
        .map(|r| match config.as_ref().and_then(|c| c.name_of(r)) {
            Some(name) => format!("    {name}: {r}"),
            None => format!("    {r}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
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
            "name it .yaml/.yml, .json, .toml, .env, *.env or .env.*, or pass --format yaml|json|toml|dotenv",
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
    open_file_ids(file, fmt, ids, None).map(|(opened, _)| opened)
}

/// `--allow-pending`, for the commands that hand out values.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PendingArgs {
    /// Use the values added with `seal set --public` that no key holder
    /// has folded in yet. They are not authenticated: whoever can write
    /// the file can add one.
    #[arg(long)]
    pub allow_pending: bool,
}

/// [`open_file`], refusing a file its rule says must be signed (and is not
/// by a trusted key) before any key is used; then the pending gate: a file with pending values that
/// `relevant` names is refused (`outcome` ends the error) unless
/// `--allow-pending`, which opens it with them applied.
pub fn open_reading(
    file: &Path,
    fmt: &FormatArg,
    ids: &IdentityArgs,
    signed: &verify::SignedArgs,
    pending: &PendingArgs,
    outcome: &str,
    relevant: impl Fn(&crate::path::PathQuery) -> bool,
) -> Result<Opened, CliError> {
    let (opened, identities) = open_file_ids(file, fmt, ids, Some((signed, outcome)))?;
    let name = display(file);
    let paths: Vec<String> = opened
        .metadata
        .pending
        .iter()
        .filter_map(|p| crate::path::PathQuery::from_changed_path(&p.path))
        .filter(|q| relevant(q))
        .map(|q| q.to_string())
        .collect();
    if paths.is_empty() {
        return Ok(opened);
    }
    let what = match paths.len() {
        1 => format!("a value is pending at {}", and_list(&paths)),
        n => format!("{n} values are pending, at {}", and_list(&paths)),
    };
    if !pending.allow_pending {
        return Err(CliError::new(format!(
            "{name}: {what} (added with `seal set --public`; not authenticated, so not used); {outcome}"
        ))
        .hint(format!(
            "a key holder reviews and folds it in with `seal fold {name}`; or pass --allow-pending to use it unchecked"
        )));
    }
    let open = crate::pending::open_all(&opened.metadata, &identities)
        .map_err(|e| pending_error(&name, e))?;
    eprintln!("seal: warning: {name}: {what}, used unchecked (--allow-pending)");
    opened
        .with_pending(&open)
        .map_err(|e| pending_error(&name, e))
}

/// Say on stderr that `file` still holds pending values (a write that
/// keeps them, or a read that does not show them).
pub fn note_pending(file: &str, meta: &crate::metadata::Metadata) {
    let paths = crate::pending::paths(meta);
    if !paths.is_empty() {
        eprintln!(
            "seal: {file}: pending (added with `seal set --public`, not authenticated, not shown): {}; fold in with `seal fold {file}`",
            and_list(&paths)
        );
    }
}

/// Describe a failure of a pending value of `file`.
pub fn pending_error(file: &str, e: crate::pending::PendingError) -> CliError {
    use crate::pending::PendingError;
    match e {
        PendingError::Doc(e) => CliError::doc(file, e),
        PendingError::OldVersion(_) => CliError::new(format!("{file}: {e}")).hint(format!(
            "a key holder runs `seal fold {file}` and commits it; nothing was written"
        )),
        e => CliError::new(format!("{file}: {e}")).hint("nothing was written or used"),
    }
}

/// [`open_file`], also giving back the identities that opened the file,
/// and with `signed`, the signature check of [`open_reading`] first.
pub fn open_file_ids(
    file: &Path,
    fmt: &FormatArg,
    ids: &IdentityArgs,
    signed: Option<(&verify::SignedArgs, &str)>,
) -> Result<(Opened, Identities), CliError> {
    let format = detect_format(file, fmt)?;
    let name = display(file);
    let text = read_input(file)?;
    // A file git left conflict markers in does not parse or fails its MAC:
    // say it is an unfinished merge, not a syntax error in text the user
    // never saw. Only a file that fails to open is taken for one.
    // (Looked for before parsing: a refused text is wiped.)
    let conflicts = crate::conflict::git_conflicts(format, &text);
    let failed = |e: DocError| match &conflicts {
        Some(c) => git_conflict_error(&name, c),
        None => CliError::doc(&name, e),
    };
    let sealed = document::parse_sealed_owned(format, text).map_err(failed)?;
    if let Some((signed, outcome)) = signed {
        verify::require_signature(file, &sealed, signed, outcome)?;
    }
    // Identities are asked for only once the file is known to be sealed.
    let identities = load_identities(ids)?;
    let opened = sealed.open(&identities).map_err(failed)?;
    Ok((opened, identities))
}

/// Describe a document error for `file`, whose text is `text`: a file
/// holding git's conflict markers is reported as an unfinished merge.
pub fn doc_error_in(file: &str, format: Format, text: &str, e: DocError) -> CliError {
    match crate::conflict::git_conflicts(format, text) {
        Some(c) => git_conflict_error(file, &c),
        None => CliError::doc(file, e),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A file with git's conflict markers in it: where, and how to finish.
pub fn git_conflict_error(name: &str, c: &crate::conflict::GitConflicts) -> CliError {
    let lines: Vec<String> = c
        .hunks
        .iter()
        .map(|h| format!("{}-{}", h.start, h.end))
        .collect();
    let mut at = Vec::new();
    match &c.paths {
        Some(paths) if !paths.is_empty() => at.push(format!("at {}", and_list(paths))),
        Some(_) => {}
        None => at.push("(its key paths cannot be read: neither side's version parses)".into()),
    }
    if c.metadata {
        at.push("in seal's metadata block".into());
    }
    let at = if at.is_empty() {
        String::new()
    } else {
        format!(" {}", at.join(" and "))
    };
    CliError::new(format!(
        "{name}: unresolved git merge conflict{at}: git's conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`) are on lines {}",
        and_list(&lines)
    ))
    .hint(format!(
        "keep one side's file with `git checkout --ours {name}` or `git checkout --theirs {name}`; or merge it value by value with seal's merge driver: `seal git setup`, then `git checkout -m {name}`; then `git add {name}`"
    ))
}

/// Refuse to hand out values while seal's merge driver has left a value
/// holding both candidates. `what` ends the message (`; nothing was run`).
pub fn refuse_value_conflicts(name: &str, opened: &Opened, what: &str) -> Result<(), CliError> {
    let paths: Vec<String> = opened
        .conflicted_paths()
        .iter()
        .map(|p| p.to_string())
        .collect();
    if paths.is_empty() {
        return Ok(());
    }
    Err(CliError::new(format!(
        "{name}: unresolved merge conflict at {}: {} both sides' candidates between `{}` and `{}` lines{what}",
        and_list(&paths),
        if paths.len() == 1 { "it holds" } else { "each holds" },
        crate::merge::OURS_MARKER,
        crate::merge::THEIRS_MARKER,
    ))
    .hint(format!(
        "run `seal edit {name}`, keep one candidate and delete the marker lines (or keep one side's file: `git checkout --ours {name}` or `--theirs`), then `git add {name}`"
    )))
}

/// Open every file before anything is handed out (`seal exec`, `seal
/// export`): never a partial set, and never a file holding an unresolved
/// merge conflict. `outcome` says what did not happen ("nothing was run").
pub fn open_all(
    files: &[PathBuf],
    format: &FormatArg,
    identity: &IdentityArgs,
    signed: &verify::SignedArgs,
    pending: &PendingArgs,
    outcome: &str,
) -> Result<Vec<(String, Opened)>, CliError> {
    let mut opened = Vec::with_capacity(files.len());
    for f in files {
        let name = display(f);
        let file = open_reading(f, format, identity, signed, pending, outcome, |_| true)?;
        // A merge conflict is stored as a value holding both candidates:
        // never hand that out.
        refuse_value_conflicts(&name, &file, &format!("; {outcome}"))?;
        opened.push((name, file));
    }
    Ok(opened)
}

/// `--only` paths (dotted or JSON Pointers) of `seal exec` and `seal export`.
pub fn parse_only(only: &[String]) -> Result<Vec<crate::path::PathQuery>, CliError> {
    only.iter()
        .map(|p| {
            crate::path::PathQuery::parse(p)
                .map_err(|e| CliError::usage(format!("invalid --only path {p:?}: {e}")))
        })
        .collect()
}

/// Describe a failure to name the values of `seal exec` and `seal export`.
pub fn variables_error(e: crate::exec::ExecError) -> CliError {
    use crate::exec::ExecError;
    if let ExecError::Parse { file, source } = e {
        return CliError::doc(&file, source.into());
    }
    let error = CliError::new(e.to_string());
    match &e {
        ExecError::Expand { .. } => error,
        ExecError::StartupVariable { name, .. } => error.hint(format!(
            "if the file should set it, allow it in .seal.yaml (`exec: {{allow: [{name}]}}`) or pass --allow-var {name}"
        )),
        _ => error.hint("rename a key, or narrow with --only / --prefix"),
    }
}

/// How sealed values become variable names, shared by `exec` and `export`.
#[derive(clap::Args, Debug)]
pub struct NameArgs {
    /// Upper-case variable names (`database.password` → `DATABASE_PASSWORD`).
    #[arg(long)]
    upper: bool,
    /// Prefix for every variable name.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    prefix: String,
    /// Only values at or below PATH; repeatable.
    #[arg(long, value_name = "PATH")]
    only: Vec<String>,
    /// Pass `$NAME` and `${NAME}` in dotenv values through as written,
    /// instead of expanding them as dotenv loaders do.
    #[arg(long)]
    no_expand: bool,
    /// Let the files set NAME although it changes how programs start
    /// (PATH, LD_PRELOAD, BASH_ENV, NODE_OPTIONS, …); repeatable. Also
    /// `exec: {allow: [NAME]}` in .seal.yaml.
    #[arg(long = "allow-var", value_name = "NAME")]
    allow_var: Vec<String>,
}

impl NameArgs {
    /// The naming options for `files`; `file_names` when the command gets
    /// `NAME_FILE` (`exec --files`), which the startup check looks at.
    pub fn options(
        &self,
        files: &[PathBuf],
        file_names: bool,
    ) -> Result<crate::exec::NameOptions, CliError> {
        Ok(crate::exec::NameOptions {
            upper: self.upper,
            prefix: self.prefix.clone(),
            only: parse_only(&self.only)?,
            expand: !self.no_expand,
            file_names,
            allowed: allowed_names(files, &self.allow_var)?,
        })
    }
}

/// Per sealed file, the names it may set although they change how programs
/// start: `--allow-var` plus `exec.allow` of the `.seal.yaml` that covers
/// it (for standard input, the working directory's). A sealed value can
/// change unseen; `.seal.yaml` is reviewed in plain text.
fn allowed_names(files: &[PathBuf], allow_var: &[String]) -> Result<Vec<Vec<String>>, CliError> {
    files
        .iter()
        .map(|file| {
            let dir = match file.parent() {
                _ if file.as_os_str() == "-" => Path::new("."),
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let config = crate::config::Config::find(dir).map_err(|e| {
                CliError::new(e.to_string()).hint("fix .seal.yaml, then run the command again")
            })?;
            let mut names = allow_var.to_vec();
            names.extend(config.map(|c| c.exec_allow).unwrap_or_default());
            Ok(names)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conflict::git_conflicts;

    /// The message names what can be known: key paths and the metadata
    /// block, or only lines when neither side parses, or only lines when
    /// the markers hold no value (a comment changed on both sides).
    #[test]
    fn git_conflict_messages_name_paths_or_lines() {
        let message = |format, text| {
            let c = git_conflicts(format, text).expect("a conflict");
            git_conflict_error("f", &c).message
        };
        assert_eq!(
            message(Format::Yaml, "a: 1\n<<<<<<< HEAD\nb: 2\nc: 3\n=======\nb: 4\n>>>>>>> x\n"),
            "f: unresolved git merge conflict at b and c: git's conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`) are on lines 2-7"
        );
        assert!(message(
            Format::Json,
            "{\n<<<<<<< HEAD\n\"a\": [\n=======\n\"a\": {\n>>>>>>> x\n}\n<<<<<<< HEAD\n=======\n>>>>>>> x\n"
        )
        .contains("conflict (its key paths cannot be read: neither side's version parses): git's conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`) are on lines 2-6 and 8-10"));
        assert!(message(
            Format::Dotenv,
            "A=1\n<<<<<<< HEAD\n# ours\n=======\n# theirs\n>>>>>>> x\n"
        )
        .starts_with("f: unresolved git merge conflict: git's conflict markers"));
    }
}
