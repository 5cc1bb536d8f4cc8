//! `seal edit`: decrypt into a private temp file, open the editor, reseal
//! only what changed.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::encrypt::recipients_for;
use super::{
    detect_format, display, doc_error_in, load_identities, lock_file, write_file, CliError,
    FormatArg, IdentityArgs,
};
use crate::document::{self, DocError, Resealed};
use crate::edit::{editor_command, Outcome, Session};
use crate::format::Format;
use crate::fsio::{self, Mode, ReadError};

#[derive(Args, Debug)]
pub struct EditArgs {
    /// Recipients for a new file (default: the matching rule of .seal.yaml).
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    recipients: Vec<String>,
    /// Recipients file for a new file; repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_files: Vec<PathBuf>,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    signed: super::SignedArgs,
    #[command(flatten)]
    format: FormatArg,
    /// The sealed file; a file that does not exist is created.
    file: PathBuf,
}

/// What to do with the edited text.
enum Target {
    Existing {
        opened: Box<document::Opened>,
        sealed: Zeroizing<String>,
    },
    New {
        recipients: Vec<crate::envelope::Recipient>,
        encrypt: Vec<String>,
    },
}

pub fn run(args: EditArgs) -> Result<ExitCode, CliError> {
    let name = display(&args.file);
    if args.file.as_os_str() == "-" {
        return Err(CliError::usage("seal edit needs a file, not `-`"));
    }
    let format = detect_format(&args.file, &args.format)?;
    let _lock;
    // Whether the text given to the editor has pending values applied:
    // saving a change then folds them in.
    let mut folding = false;
    let (target, plaintext) = match fsio::read_document(&args.file) {
        Ok(sealed) => {
            _lock = Some(lock_file(&args.file)?);
            let scan = format
                .scan(&sealed)
                .map_err(|e| doc_error_in(&name, format, &sealed, e.into()))?;
            if scan.metadata.is_none() {
                return Err(CliError::doc(&name, DocError::NotSealed));
            }
            let parsed = document::parse_sealed(format, &sealed)
                .map_err(|e| doc_error_in(&name, format, &sealed, e))?;
            super::verify::require_signature(
                &args.file,
                &parsed,
                &args.signed,
                "nothing was decrypted and no editor was started",
            )?;
            let ids = load_identities(&args.identity)?;
            let opened = document::open(format, &sealed, &ids)
                .map_err(|e| doc_error_in(&name, format, &sealed, e))?;
            let plaintext = match with_pending(&name, &opened, &ids) {
                Some(applied) => {
                    folding = true;
                    applied
                }
                None => opened.plaintext.clone(),
            };
            (
                Target::Existing {
                    opened: Box::new(opened),
                    sealed,
                },
                plaintext,
            )
        }
        Err(ReadError::NotFound) => {
            let (recipients, encrypt) =
                recipients_for(&args.file, &args.recipients, &args.recipients_files, &[])?;
            (
                Target::New {
                    recipients,
                    encrypt,
                },
                Zeroizing::new(format.empty_document().to_owned()),
            )
        }
        Err(e) => return Err(CliError::read(&name, e)),
    };

    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| Format::from_path(Path::new(n)) == Some(format))
        .unwrap_or_else(|| format!("secrets.{}", format.extension()));
    let session = Session::new(&file_name, &plaintext)
        .map_err(|e| CliError::new(format!("cannot create a private temporary file: {e}")))?;
    let editor = editor_command();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();

    loop {
        let edited = match session.run_editor(&editor) {
            Ok(Outcome::Saved(text)) => text,
            Ok(Outcome::EditorFailed(status)) => {
                return Err(CliError::new(format!("{name}: the editor ({editor}) exited with {status}; nothing was written")))
            }
            Ok(Outcome::Interrupted(code)) => return Err(interrupted(&name, code)),
            Ok(Outcome::NotText { line }) => {
                let err = CliError::new(format!(
                    "{name}: line {line}: the edited text is not UTF-8"
                ));
                // The file still holds the bytes as the editor left them.
                reopen_or_fail(interactive, &session, &name, None, err)?;
                continue;
            }
            Err(e) => {
                return Err(CliError::new(format!("{name}: cannot run the editor ({editor}): {e}"))
                    .hint("set SEAL_EDITOR, VISUAL or EDITOR to an editor that waits until you close the file (e.g. `code --wait`)"))
            }
        };
        if edited.as_str() == plaintext.as_str() {
            eprintln!("seal: {name}: no changes");
            if folding {
                eprintln!("seal: {name}: the pending values stay pending (`seal fold {name}` folds them in)");
            }
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(line) = crate::merge::conflict_marker_line(&edited) {
            let err = CliError::new(format!(
                "{name}: line {line}: unresolved merge conflict: keep one candidate between the `{}` and `{}` lines and delete the marker lines",
                crate::merge::OURS_MARKER,
                crate::merge::THEIRS_MARKER
            ));
            reopen_or_fail(interactive, &session, &name, Some(&edited), err)?;
            continue;
        }
        // Kept the candidate of a side that deleted the key: that is not a
        // value, and sealing it would store the placeholder as one.
        let kept_removal = format.values(&edited).ok().and_then(|values| {
            values
                .iter()
                .find(|(_, v)| v.as_str() == crate::merge::REMOVED)
                .map(|(path, _)| path.to_string())
        });
        if let Some(path) = kept_removal {
            let err = CliError::new(format!(
                "{name}: {path}: `{}` stands for a side that deleted this key: to keep the deletion, delete the key's line",
                crate::merge::REMOVED
            ));
            reopen_or_fail(interactive, &session, &name, Some(&edited), err)?;
            continue;
        }
        let result = match &target {
            Target::Existing { opened, .. } if folding => opened.fold(&edited, true).map(Some),
            Target::Existing { opened, .. } => opened.reseal(&edited).map(|r| match r {
                Resealed::Unchanged => None,
                Resealed::Changed(s) => Some(s),
            }),
            Target::New { .. } if edited.trim().is_empty() => {
                eprintln!("seal: {name}: empty; no file created");
                return Ok(ExitCode::SUCCESS);
            }
            Target::New {
                recipients,
                encrypt,
            } => document::seal(format, &edited, recipients, encrypt).map(Some),
        };
        let sealed = match result {
            Ok(Some(s)) => s,
            Ok(None) => {
                eprintln!("seal: {name}: no changes");
                return Ok(ExitCode::SUCCESS);
            }
            Err(e @ (DocError::Parse(_) | DocError::Edit(_) | DocError::AlreadySealed { .. })) => {
                let err = CliError::doc(&name, e);
                reopen_or_fail(interactive, &session, &name, Some(&edited), err)?;
                continue;
            }
            Err(e) => return Err(CliError::doc(&name, e)),
        };
        // Refuse to overwrite a change made on disk since we read it.
        let now = fsio::read_document(&args.file).ok();
        let unchanged_on_disk = match &target {
            Target::Existing { sealed, .. } => {
                now.as_deref().map(|s| s.as_str()) == Some(sealed.as_str())
            }
            Target::New { .. } => now.is_none(),
        };
        if !unchanged_on_disk {
            return Err(CliError::new(format!(
                "{name}: the file changed on disk while you were editing; your edit was not saved"
            ))
            .hint("run `seal edit` again on the new version"));
        }
        write_file(&args.file, sealed.as_bytes(), Mode::KeepOr(0o644))?;
        return Ok(ExitCode::SUCCESS);
    }
}

/// The opened text with the file's pending values applied, for the editor,
/// after saying on stderr which they are; `None` when there are none, or
/// when they cannot be opened or applied (said too: they stay pending).
fn with_pending(
    name: &str,
    opened: &document::Opened,
    ids: &crate::envelope::Identities,
) -> Option<Zeroizing<String>> {
    if opened.metadata.pending.is_empty() {
        return None;
    }
    let paths = crate::pending::paths(&opened.metadata).join(", ");
    let applied = crate::pending::open_all(&opened.metadata, ids)
        .and_then(|open| crate::pending::apply(opened.format, &opened.plaintext, &open));
    match applied {
        Ok(text) => {
            eprintln!(
                "seal: {name}: the editor shows the pending values at {paths} (added with `seal set --public`, not authenticated): check them; saving a change folds them in"
            );
            Some(text)
        }
        Err(e) => {
            eprintln!(
                "seal: warning: {name}: the pending values at {paths} are not shown and stay pending: {e}"
            );
            None
        }
    }
}

/// seal was stopped by signal `code - 128` before anything was written.
fn interrupted(name: &str, code: i32) -> CliError {
    CliError {
        message: format!("{name}: interrupted; nothing was written"),
        hint: None,
        code: code as u8,
    }
}

/// An edit that cannot be saved: on a terminal, offer to reopen the editor
/// on the same text (`text`, or the file as the editor left it; `Ok`: go
/// round again); otherwise fail, writing nothing.
fn reopen_or_fail(
    interactive: bool,
    session: &Session,
    name: &str,
    text: Option<&str>,
    err: CliError,
) -> Result<(), CliError> {
    if interactive {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "seal: error: {}", super::printable(&err.message));
        drop(stderr);
        match session.ask("seal: reopen the editor to fix it? [Y/n] ") {
            Err(code) => return Err(interrupted(name, code)),
            Ok(Some(answer))
                if !matches!(answer.trim().to_ascii_lowercase().as_str(), "n" | "no") =>
            {
                if let Some(text) = text {
                    session.rewrite(text).map_err(|e| {
                        CliError::new(format!("cannot rewrite the temporary file: {e}"))
                    })?;
                }
                return Ok(());
            }
            Ok(_) => {}
        }
    }
    Err(CliError {
        hint: Some("nothing was written".into()),
        ..err
    })
}
