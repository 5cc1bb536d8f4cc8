//! `seal merge-driver %O %A %B %P`: git's `merge.seal.driver`.
//!
//! Decrypts the common ancestor, ours and theirs in memory, merges them
//! (lines first, then key by key; see `crate::merge`), seals the result
//! into `%A` and exits 0. When both sides changed one value differently it
//! still writes a valid sealed file, whose conflicting values decrypt to
//! both candidates between conflict markers, and exits 1 so git reports the
//! conflict. On any error `%A` (ours, sealed) is left as it is and the exit
//! status is 1. Plaintext never touches the disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{
    detect_format, display, load_identities, write_file, CliError, FormatArg, IdentityArgs,
};
use crate::config::Config;
use crate::fsio::{self, Mode, ReadError};
use crate::merge::{self, Inputs, MergeError, Policy};

#[derive(Args, Debug)]
pub struct MergeDriverArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    /// The common ancestor's version (%O; empty when both sides added the file).
    base: PathBuf,
    /// Our version (%A); the merged result is written here.
    ours: PathBuf,
    /// Their version (%B).
    theirs: PathBuf,
    /// The file's path in the repository (%P): its name gives the format,
    /// and `.seal.yaml` rules are matched against it.
    path: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> Result<Option<Zeroizing<String>>, CliError> {
    match fsio::read_document(path) {
        Ok(t) => Ok(Some(t)),
        Err(ReadError::Empty) => Ok(None),
        Err(e) => Err(CliError::new(format!("{what} ({}): {e}", path.display()))),
    }
}

pub fn run(args: MergeDriverArgs) -> Result<ExitCode, CliError> {
    let name = args
        .path
        .as_deref()
        .map(display)
        .unwrap_or_else(|| display(&args.ours));
    let keep_ours = |e: CliError| {
        CliError {
        hint: Some(format!(
            "{}; {name} was left as our (sealed) version: resolve it by hand, e.g. `git checkout --theirs {name}` or re-apply their change with `seal edit`",
            e.hint.clone().unwrap_or_else(|| "nothing was merged".into())
        )),
        ..e
    }
    };
    let base = read(&args.base, "the common ancestor").map_err(keep_ours)?;
    let ours = read(&args.ours, "our version").map_err(keep_ours)?;
    let theirs = read(&args.theirs, "their version").map_err(keep_ours)?;
    let ours = ours.unwrap_or_default();
    let theirs = theirs.unwrap_or_default();

    let format = match &args.path {
        Some(p) => detect_format(p, &args.format).ok(),
        None => detect_format(&args.ours, &args.format).ok(),
    };
    let sealed = |t: &str| format.is_some_and(|f| f.is_sealed(t));
    let any_sealed = sealed(&ours) || sealed(&theirs) || base.as_deref().is_some_and(|b| sealed(b));
    let Some(format) = format.filter(|_| any_sealed) else {
        // Not a seal file: merge lines like git's own text driver.
        let (text, clean) = merge::line_merge_with_markers(
            base.as_deref().map_or("", |b| b.as_str()),
            &ours,
            &theirs,
        );
        write_file(&args.ours, text.as_bytes(), Mode::KeepOr(0o644))?;
        return Ok(if clean {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    };

    let policy = policy_for(args.path.as_deref()).map_err(keep_ours)?;
    let identities = load_identities(&args.identity).map_err(keep_ours)?;
    let inputs = Inputs {
        base: base.as_deref().map(|b| b.as_str()),
        ours: &ours,
        theirs: &theirs,
    };
    let merged = match merge::merge(format, &inputs, &identities, &policy) {
        Ok(m) => m,
        Err(MergeError::Open { side, error }) => {
            let e = CliError::doc(&format!("{name} ({side})"), error);
            return Err(keep_ours(e));
        }
        Err(e) => return Err(keep_ours(CliError::new(format!("{name}: {e}")))),
    };
    for note in &merged.notes {
        eprintln!("seal: {name}: {note}");
    }
    write_file(&args.ours, merged.sealed.as_bytes(), Mode::KeepOr(0o644))?;
    if merged.layout_conflict && merged.conflicts.is_empty() {
        // Like git on a conflicting hunk: the merge stops for a person to
        // look, though the file is whole and sealed (with ours' lines).
        eprintln!(
            "seal: hint: check {name} with `seal edit {name}` (their version: `git show :3:{name} | seal decrypt -`), then `git add {name}`"
        );
        return Ok(ExitCode::from(1));
    }
    if merged.conflicts.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let paths = merged
        .conflicts
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "seal: {name}: merge conflict at {paths}: both sides changed {} differently; the file stays sealed",
        if merged.conflicts.len() == 1 { "it" } else { "them" }
    );
    eprintln!(
        "seal: hint: run `seal edit {name}`, keep one candidate between the `{}` and `{}` lines (and delete the marker lines), then `git add {name}`",
        merge::OURS_MARKER,
        merge::THEIRS_MARKER
    );
    Ok(ExitCode::from(1))
}

/// What `.seal.yaml` says now about the file at `path` (relative to the
/// repository top, where git runs merge drivers).
fn policy_for(path: Option<&Path>) -> Result<Policy, CliError> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let start = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // The directory may not exist in the work tree yet (a new file).
    let start = start
        .ancestors()
        .find(|d| d.as_os_str().is_empty() || d.is_dir())
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let config =
        Config::find(&start).map_err(|e| CliError::new(e.to_string()).hint("fix .seal.yaml"))?;
    let Some(config) = config else {
        return Ok(Policy::default());
    };
    // During a merge the work tree's .seal.yaml is ours: it speaks for the
    // result only when the side coming in has the same one. Otherwise it
    // would undo their removal of a recipient (who could then read the new
    // data key) or drop someone they added; the sides' own changes to the
    // file are merged instead.
    if !policy_settled(&config.file) {
        if config.rule_for(path).is_some() {
            eprintln!(
                "seal: {}: .seal.yaml differs between the two sides; sealed for the recipients both sides' changes to the file give. Once the merge is done, run `seal updatekeys` to apply the merged .seal.yaml",
                display(path)
            );
        }
        return Ok(Policy::default());
    }
    let Some(rule) = config.rule_for(path) else {
        return Ok(Policy::default());
    };
    let resolved = config
        .resolve(&rule.recipients)
        .map_err(|e| CliError::new(e.to_string()))?;
    Ok(Policy {
        recipients: Some(resolved.into_iter().map(|(_, key)| key).collect()),
        encrypt: Some(rule.encrypt.clone()),
    })
}

/// Whether the commit being merged in (merge, cherry-pick or rebase) has
/// the same `.seal.yaml` as the work tree, so the merge leaves it as it is.
/// Unknown (no such commit, or no git) counts as no.
fn policy_settled(config_file: &Path) -> bool {
    let Some(dir) = config_file.parent() else {
        return false;
    };
    let (Some(top), Ok(prefix), Ok(ours)) = (
        crate::git::toplevel(dir),
        crate::git::git_text(dir, &["rev-parse", "--show-prefix"]),
        std::fs::read(config_file),
    ) else {
        return false;
    };
    // The config's path in a commit: its directory's prefix in the tree.
    let relative = format!("{prefix}{}", crate::config::FILE_NAME);
    // `git merge` names the commits it merges in GITHEAD_<id> variables
    // (MERGE_HEAD is written only after the drivers ran); a cherry-pick or
    // rebase that stopped has its head in a ref.
    let mut heads: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| {
            let name = name.to_str()?;
            let id = name.strip_prefix("GITHEAD_")?;
            id.bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| id.to_owned())
        })
        .collect();
    if heads.is_empty() {
        heads = ["MERGE_HEAD", "CHERRY_PICK_HEAD", "REBASE_HEAD"]
            .into_iter()
            .filter(|head| crate::git::git(&top, &["rev-parse", "-q", "--verify", head]).is_ok())
            .map(str::to_owned)
            .collect();
    }
    !heads.is_empty()
        && heads.iter().all(|head| {
            crate::git::git(&top, &["show", &format!("{head}:{relative}")])
                .is_ok_and(|theirs| theirs == ours)
        })
}
