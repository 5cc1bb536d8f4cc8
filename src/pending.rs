//! Write-only additions (spec/FORMAT.md, section 13): a value sealed with
//! nothing but the recipients' public keys, held in the metadata block's
//! `pending` list until a key holder checks it and folds it into a token.
//!
//! Its writer has no data key, so it cannot compute the MAC: a pending
//! value is not authenticated, and whoever can write the file can write
//! one. Readers therefore never use it unasked (`--allow-pending`), and a
//! fold shows it to the key holder first.

use zeroize::Zeroizing;

use crate::document::{self, DocError};
use crate::envelope::{Identities, OpenArmoredError, Recipient, RecipientError};
use crate::format::{EditError, Format};
use crate::metadata::{Metadata, Pending, PENDING_SINCE};
use crate::path::PathQuery;

/// The largest payload a fold decrypts: a value is config, not a disk image.
const MAX_PAYLOAD: u64 = 1 << 20;

/// Why a pending value could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("{0}")]
    Doc(#[from] DocError),
    #[error("the file is format version {0}, and pending values need version {PENDING_SINCE}: a key holder must write it once first (`seal fold FILE` does, changing nothing else)")]
    OldVersion(u64),
    #[error("{path} cannot take this value: {source}")]
    Edit { path: String, source: EditError },
    #[error("{0}")]
    Recipient(#[from] RecipientError),
    #[error("the pending value at {path} does not open: {source}")]
    Open {
        path: String,
        source: OpenArmoredError,
    },
    #[error("the pending value at {path} was sealed for {sealed_for}: it was moved in the metadata, so it is refused")]
    Moved { path: String, sealed_for: String },
    #[error("the pending value at {path} is not UTF-8 text of a path and a value")]
    Malformed { path: String },
    #[error("the pending value at {path} is tagged {tag} in the file, which the new value is not")]
    Misfit { path: String, tag: String },
    #[error("the pending value at {path} does not form a single value there")]
    NotOneValue { path: String },
}

/// What [`add`] wrote.
pub struct Added {
    /// The new text of the sealed file.
    pub text: String,
    /// Whether a value was already pending at the path (and is replaced).
    pub replaced: bool,
    /// Passphrase recipients, which a pending value cannot be sealed to:
    /// they see it once a key holder folds it.
    pub skipped: Vec<String>,
}

/// Add `literal` (the value's source text in `format`, as `seal set`
/// splices it) as pending at `query` of the sealed file `src`, or replace
/// the value pending there. Needs no key: the value is sealed to the
/// file's recipients' public keys, and nothing of the body changes.
pub fn add(
    format: Format,
    src: &str,
    query: &PathQuery,
    literal: &str,
) -> Result<Added, PendingError> {
    let sealed = document::parse_sealed(format, src)?;
    let mut meta = sealed.metadata().clone();
    if meta.version < PENDING_SINCE {
        return Err(PendingError::OldVersion(meta.version));
    }
    let body = sealed.body().concat();
    // The edit a fold will make, tried on the sealed body: it says whether
    // the path can take a value and the literal reads as one, without the
    // plaintext. Its result is thrown away.
    let path = query.changed_path();
    let edit_error = |source| PendingError::Edit {
        path: query.to_string(),
        source,
    };
    let tried = format
        .set_value(&body, query, literal)
        .map_err(edit_error)?;
    one_value_at(format, &tried, query, &path)?;
    let mut skipped = Vec::new();
    let mut recipients = Vec::new();
    for w in &meta.recipients {
        let r = Recipient::parse(&w.recipient)?;
        if r.is_passphrase() {
            skipped.push(w.recipient.clone());
        } else {
            recipients.push(r);
        }
    }
    let payload = Zeroizing::new(format!("{path}\n{literal}"));
    let value = crate::envelope::seal_to_public_keys(&recipients, payload.as_bytes())?;
    let entry = Pending { path, value };
    let replaced = match meta.pending.iter_mut().find(|p| p.path == entry.path) {
        Some(p) => {
            *p = entry;
            true
        }
        None => {
            meta.pending.push(entry);
            false
        }
    };
    let text = format
        .attach_metadata(&body, &meta)
        .map_err(DocError::from)?;
    // The result must read back as the same file with one more entry.
    let check = document::parse_sealed(format, &text)?;
    if check.metadata() != &meta {
        return Err(DocError::Internal("a pending value did not read back").into());
    }
    Ok(Added {
        text,
        replaced,
        skipped,
    })
}

/// A pending value opened by a key holder.
pub struct OpenPending {
    /// Where it goes, as a changed-path.
    pub path: String,
    pub query: PathQuery,
    /// Its source text in the file's format.
    pub literal: Zeroizing<String>,
}

/// Decrypt every pending value of `meta` with `ids`. A value that does not
/// open, or that names another path than its entry, is an error: none is
/// used then.
pub fn open_all(meta: &Metadata, ids: &Identities) -> Result<Vec<OpenPending>, PendingError> {
    meta.pending.iter().map(|p| open_one(p, ids)).collect()
}

fn open_one(p: &Pending, ids: &Identities) -> Result<OpenPending, PendingError> {
    let bytes = crate::envelope::open_armored(&p.value, ids, MAX_PAYLOAD).map_err(|source| {
        PendingError::Open {
            path: p.path.clone(),
            source,
        }
    })?;
    let malformed = || PendingError::Malformed {
        path: p.path.clone(),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| malformed())?;
    let (sealed_for, literal) = text.split_once('\n').ok_or_else(malformed)?;
    // The path inside the ciphertext binds the value to where its writer
    // put it: an entry moved to another path is refused.
    if sealed_for != p.path {
        return Err(PendingError::Moved {
            path: p.path.clone(),
            sealed_for: sealed_for.to_owned(),
        });
    }
    let query = PathQuery::from_changed_path(&p.path).ok_or_else(malformed)?;
    Ok(OpenPending {
        path: p.path.clone(),
        query,
        literal: Zeroizing::new(literal.to_owned()),
    })
}

/// `plaintext` with every pending value set at its path, in order, each
/// checked as `seal set` checks a value: one value at the path, and in
/// YAML no tag it does not fit.
pub fn apply(
    format: Format,
    plaintext: &str,
    pending: &[OpenPending],
) -> Result<Zeroizing<String>, PendingError> {
    let mut text = Zeroizing::new(plaintext.to_owned());
    for p in pending {
        let edited = Zeroizing::new(
            format
                .set_value(&text, &p.query, &p.literal)
                .map_err(|source| PendingError::Edit {
                    path: p.query.to_string(),
                    source,
                })?,
        );
        one_value_at(format, &edited, &p.query, &p.path)?;
        if format == Format::Yaml {
            let misfit = crate::format::yaml::misfit_tag(&edited, &p.query)
                .map_err(DocError::Parse)?;
            if let Some(tag) = misfit {
                return Err(PendingError::Misfit {
                    path: p.query.to_string(),
                    tag,
                });
            }
        }
        text = edited;
    }
    Ok(text)
}

/// Refuse an edit whose literal did not become one value at `query` (a
/// literal that spilled into new structure).
fn one_value_at(
    format: Format,
    text: &str,
    query: &PathQuery,
    path: &str,
) -> Result<(), PendingError> {
    let values = format.values(text).map_err(DocError::Parse)?;
    if values.iter().any(|(p, _)| p.matches(query)) {
        Ok(())
    } else {
        Err(PendingError::NotOneValue {
            path: path.to_owned(),
        })
    }
}

/// The paths of `meta`'s pending values, as a user types them.
pub fn paths(meta: &Metadata) -> Vec<String> {
    meta.pending
        .iter()
        .map(|p| match PathQuery::from_changed_path(&p.path) {
            Some(q) => q.to_string(),
            None => p.path.clone(),
        })
        .collect()
}
