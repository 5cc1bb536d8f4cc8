//! Team changes: comparing a file's recipients with what `.seal.yaml`
//! says, finding sealed files, reading a recipient key argument, and
//! reconciling sealed files with `.seal.yaml` ([`reconcile`]).

pub mod reconcile;

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::envelope::Recipient;
use crate::format::Format;
use crate::metadata::WrappedKey;

/// Why a team operation stopped (problems with single files are reported
/// per file, see [`reconcile::Skip`]).
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The `.seal.yaml` governing a file cannot be read or parsed.
    #[error(transparent)]
    Config(ConfigError),
    /// A rule's recipients cannot be resolved.
    #[error(transparent)]
    Resolve(ConfigError),
    #[error("internal error: no key to add")]
    NoKeyToAdd,
    #[error("{source_name}: no public key in it")]
    NoKey { source_name: String },
    #[error("{source_name}: {count} keys in it; add them one at a time, each with its own name")]
    SeveralKeys { source_name: String, count: usize },
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
    #[error("{}: cannot read: {error}", .path.display())]
    KeyFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: this is a private key; give the public key (`seal keygen -y FILE`, or the .pub file)", .path.display())]
    PrivateKey { path: PathBuf },
}

/// How a file's recipients compare with the ones it should have.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    /// Current wrapped keys that stay, in file order, unchanged.
    pub kept: Vec<WrappedKey>,
    /// Current recipients that are no longer wanted.
    pub removed: Vec<String>,
    /// Wanted recipients the file does not have yet, in rule order.
    pub added: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// Name of a recipient for messages: its name in `.seal.yaml`, else a
/// short form of the key.
pub fn label(config: Option<&Config>, key: &str) -> String {
    config
        .and_then(|c| c.name_of(key))
        .map(str::to_owned)
        .unwrap_or_else(|| Recipient::short_key(key))
}

/// Compare `current` with `wanted` (recipient texts, SSH comments ignored).
pub fn diff(current: &[WrappedKey], wanted: &[String]) -> Diff {
    let mut d = Diff::default();
    let mut seen = Vec::new();
    for w in current {
        let norm = Recipient::normalize_key(&w.recipient);
        if wanted.iter().any(|k| Recipient::normalize_key(k) == norm) && !seen.contains(&norm) {
            d.kept.push(w.clone());
            seen.push(norm);
        } else {
            d.removed.push(w.recipient.clone());
        }
    }
    for k in wanted {
        let norm = Recipient::normalize_key(k);
        if !seen.contains(&norm) {
            d.added.push(k.clone());
            seen.push(norm);
        }
    }
    d
}

/// Every file under `root` (recursively, not following symlinks, skipping
/// `.git`) whose name is a YAML, JSON, TOML or dotenv file and that looks sealed,
/// sorted.
pub fn find_sealed_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
            } else if kind.is_file() {
                let Some(format) = Format::from_path(&path) else {
                    continue;
                };
                if path
                    .file_name()
                    .is_some_and(|n| n == crate::config::FILE_NAME)
                {
                    continue;
                }
                if let Ok(text) = std::fs::read_to_string(&path) {
                    if format.looks_sealed(&text) {
                        out.push(path);
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Read a `KEY` argument: `-` is standard input, an existing file is a
/// `.pub` or recipients file (exactly one recipient in it), anything else
/// is the key itself.
pub fn read_key_argument(arg: &str) -> Result<String, TeamError> {
    let from_text = |text: &str, source_name: String| -> Result<String, TeamError> {
        let keys: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        match keys.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => Err(TeamError::NoKey { source_name }),
            more => Err(TeamError::SeveralKeys {
                source_name,
                count: more.len(),
            }),
        }
    };
    if arg == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin(), 1 << 16),
            &mut text,
        )
        .map_err(TeamError::Stdin)?;
        return from_text(&text, "standard input".to_owned());
    }
    let path = Path::new(arg);
    if !arg.starts_with("age1") && !arg.starts_with("ssh-") && path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|error| TeamError::KeyFile {
            path: path.to_path_buf(),
            error,
        })?;
        if text.contains("PRIVATE KEY") || text.contains("AGE-SECRET-KEY-") {
            return Err(TeamError::PrivateKey {
                path: path.to_path_buf(),
            });
        }
        return from_text(&text, path.display().to_string());
    }
    Ok(arg.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_keeps_order_and_finds_changes() {
        let w = |r: &str| WrappedKey {
            recipient: r.into(),
            data_key: format!("k-{r}"),
        };
        let d = diff(
            &[w("age1a"), w("ssh-ed25519 K old"), w("age1c")],
            &["ssh-ed25519 K new".into(), "age1a".into(), "age1d".into()],
        );
        assert_eq!(d.kept, vec![w("age1a"), w("ssh-ed25519 K old")]);
        assert_eq!(d.removed, vec!["age1c".to_owned()]);
        assert_eq!(d.added, vec!["age1d".to_owned()]);
        assert!(diff(&[w("age1a")], &["age1a".into()]).is_empty());
    }
}
