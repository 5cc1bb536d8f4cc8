//! Git integration helpers: running `git`, the `.gitattributes` lines that
//! `.seal.yaml` rules imply, the pre-commit hook, and what `seal textconv`
//! prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Config;
use crate::document::{self, DocError};
use crate::envelope::Identities;
use crate::format::Format;

/// The attributes given to sealed files.
pub const ATTRIBUTES: &str = "diff=seal merge=seal";

/// The comment line above the lines `seal git setup` adds.
pub const ATTRIBUTES_HEADER: &str =
    "# seal: sealed files diff and merge decrypted (written by `seal git setup`)";

/// Marks a hook file as written by seal.
pub const HOOK_MARKER: &str = "# seal: pre-commit hook (written by `seal git setup --hook`)";

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("git cat-file: {0}")]
    CatFile(std::io::Error),
}

/// Run `git ARGS` in `dir` and return its standard output.
pub fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

/// One answer of `git cat-file --batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blob<'a> {
    Contents(&'a [u8]),
    /// Missing, or not a blob.
    Missing,
    /// A blob over the caller's size limit, skipped unread: its size.
    TooLarge(u64),
}

impl<'a> Blob<'a> {
    pub fn contents(self) -> Option<&'a [u8]> {
        match self {
            Blob::Contents(bytes) => Some(bytes),
            Blob::Missing | Blob::TooLarge(_) => None,
        }
    }
}

/// Read `specs` (`REV:PATH` or object names) with one `git cat-file
/// --batch`, in order: `each(index, blob)`. A blob over `max_size` bytes is
/// skipped, not read into memory. Nothing is kept: the one buffer, which
/// may have held plaintext (the leak scanner reads any file), is zeroized.
pub fn cat_file_batch<S: AsRef<str>>(
    dir: &Path,
    specs: &[S],
    max_size: u64,
    mut each: impl FnMut(usize, Blob<'_>),
) -> Result<(), GitError> {
    use std::io::{BufRead, BufReader, Read, Write};
    if specs.is_empty() {
        return Ok(());
    }
    let mut child = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(GitError::Spawn)?;
    let no_pipe = || GitError::CatFile(std::io::Error::other("no pipe to git"));
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(no_pipe());
    };
    let mut input = String::new();
    for spec in specs {
        input.push_str(spec.as_ref());
        input.push('\n');
    }
    // Written from another thread: git answers while it reads, and a full
    // pipe each way would otherwise stall both.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    let mut read_all = || -> std::io::Result<()> {
        for index in 0..specs.len() {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let fields: Vec<&str> = header.split_whitespace().collect();
            let [_, kind, size] = fields.as_slice() else {
                // `SPEC missing`: nothing follows it.
                each(index, Blob::Missing);
                continue;
            };
            let size: u64 = size
                .parse()
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad size"))?;
            let mut body = (&mut reader).take(size + 1);
            if size > max_size {
                let skipped = std::io::copy(&mut body, &mut std::io::sink())?;
                if skipped != size + 1 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                each(index, Blob::TooLarge(size));
                continue;
            }
            buf.clear();
            body.read_to_end(&mut buf)?;
            if buf.len() as u64 != size + 1 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.pop();
            let blob = if *kind == "blob" {
                Blob::Contents(&buf[..])
            } else {
                Blob::Missing
            };
            each(index, blob);
        }
        Ok(())
    };
    let result = read_all().map_err(GitError::CatFile);
    drop(reader);
    let _ = writer.join();
    let _ = child.wait();
    result
}

/// The paths, relative to `root`, of every file staged as added, copied,
/// modified or renamed: what a pre-commit check reads from the index.
pub fn staged_paths(root: &Path) -> Result<Vec<String>, GitError> {
    let list = git(
        root,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ],
    )?;
    Ok(list
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|rel| String::from_utf8_lossy(rel).into_owned())
        .collect())
}

/// Run `git ARGS` and return trimmed text output.
pub fn git_text(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    git(dir, args).map(|o| {
        String::from_utf8_lossy(&o)
            .trim_end_matches(['\n', '\r'])
            .to_owned()
    })
}

/// The text of `file` as committed at HEAD (`git show HEAD:./NAME`, run in
/// its directory), if that is in a git work tree, `file` is tracked at HEAD
/// and the blob is UTF-8. Zeroized on drop: the committed version may be
/// plaintext.
pub fn committed_text(file: &Path) -> Option<zeroize::Zeroizing<String>> {
    let name = file.file_name()?.to_str()?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let blob = zeroize::Zeroizing::new(git(dir, &["show", &format!("HEAD:./{name}")]).ok()?);
    std::str::from_utf8(&blob)
        .ok()
        .map(|text| zeroize::Zeroizing::new(text.to_owned()))
}

/// The top of the work tree containing `dir`, if it is in one.
pub fn toplevel(dir: &Path) -> Option<PathBuf> {
    git_text(dir, &["rev-parse", "--show-toplevel"])
        .ok()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// A `.seal.yaml` rule glob as `.gitattributes` patterns relative to the
/// repository root. `prefix` is the config directory relative to the root
/// (`""` at the root). Globs whose last segment does not name a seal file
/// (`secrets/**`, `prod/*`) are narrowed to the file names seal reads, so
/// other files keep git's own diff and merge.
pub fn attribute_patterns(prefix: &str, glob: &str) -> Vec<String> {
    // git's patterns have no `{a,b}` alternatives, which the rules' globs
    // may use: one pattern per alternative.
    let mut out: Vec<String> = Vec::new();
    for one in expand_braces(glob) {
        for pattern in attribute_patterns_for(prefix, &one) {
            if !out.contains(&pattern) {
                out.push(pattern);
            }
        }
    }
    out
}

/// `glob` with each `{a,b,...}` replaced by each alternative in turn
/// (globset does not nest them; a brace escaped with `\` is literal).
fn expand_braces(glob: &str) -> Vec<String> {
    let bytes = glob.as_bytes();
    let open = (0..bytes.len()).find(|&i| bytes[i] == b'{' && (i == 0 || bytes[i - 1] != b'\\'));
    let Some(open) = open else {
        return vec![glob.to_owned()];
    };
    let Some(close) = glob[open..].find('}').map(|i| open + i) else {
        return vec![glob.to_owned()];
    };
    let (head, rest) = (&glob[..open], &glob[close + 1..]);
    let tails = expand_braces(rest);
    glob[open + 1..close]
        .split(',')
        .flat_map(|alternative| {
            tails
                .iter()
                .map(move |tail| format!("{head}{alternative}{tail}"))
        })
        .collect()
}

fn attribute_patterns_for(prefix: &str, glob: &str) -> Vec<String> {
    let glob = glob.trim_start_matches("./").trim_start_matches('/');
    let full = if prefix.is_empty() {
        glob.to_owned()
    } else {
        format!("{}/{glob}", prefix.trim_end_matches('/'))
    };
    let (dir, last) = match full.rsplit_once('/') {
        Some((d, l)) => (Some(d.to_owned()), l.to_owned()),
        None => (None, full.clone()),
    };
    let names_seal_file = !last.contains('*') || Format::from_path(Path::new(&last)).is_some();
    let lasts: Vec<String> = if names_seal_file {
        vec![last]
    } else {
        let base = if last == "**" {
            "**/".to_owned()
        } else if last == "*" {
            String::new()
        } else {
            // e.g. `secrets*`: cannot be narrowed by name; keep it.
            return vec![anchor(&full)];
        };
        [
            "*.yaml", "*.yml", "*.json", "*.toml", "*.env", ".env", ".env.*",
        ]
        .iter()
        .map(|n| format!("{base}{n}"))
        .collect()
    };
    lasts
        .into_iter()
        .map(|l| match &dir {
            Some(d) => anchor(&format!("{d}/{l}")),
            None => anchor(&l),
        })
        .collect()
}

/// `.seal.yaml` globs are relative to its directory, so a pattern without a
/// slash must not match at every depth as it would in `.gitattributes`.
fn anchor(pattern: &str) -> String {
    if pattern.contains('/') {
        pattern.to_owned()
    } else {
        format!("/{pattern}")
    }
}

/// The `.gitattributes` lines for every rule of `config`, in rule order,
/// without duplicates. `root` is the repository's top directory.
pub fn attribute_lines(config: &Config, root: &Path) -> Vec<String> {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let prefix = config
        .dir
        .strip_prefix(&root)
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for rule in &config.rules {
        for p in attribute_patterns(&prefix, &rule.path) {
            let line = format!("{p} {ATTRIBUTES}");
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// `existing` with every line of `lines` it lacks added at the end (under
/// the seal header). Returns `None` when nothing needs adding.
pub fn add_attribute_lines(existing: &str, lines: &[String]) -> Option<String> {
    let have: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&String> = lines
        .iter()
        .filter(|l| !have.contains(&l.as_str()))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = existing.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !have.contains(&ATTRIBUTES_HEADER) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(ATTRIBUTES_HEADER);
        out.push('\n');
    }
    for l in missing {
        out.push_str(l);
        out.push('\n');
    }
    Some(out)
}

/// Quote a word for `sh` (only when needed).
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@+".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The pre-commit hook: `seal check --staged` and `seal scan --staged` on
/// what is about to be committed.
pub fn hook_script(program: &str) -> String {
    let program = shell_quote(program);
    format!(
        "#!/bin/sh\n{HOOK_MARKER}\n# Refuses a commit that would add a plaintext value to a file a\n# .seal.yaml rule covers, or a plaintext secret to any file.\n# Bypass once with `git commit --no-verify`.\n{program} check --staged || exit 1\nexec {program} scan --staged\n"
    )
}

/// What `seal textconv` prints for a file: the plaintext when it opens,
/// else the file unchanged with one comment line saying why. Never fails.
/// `identities` is only called for a sealed file.
pub fn textconv(
    format: Option<Format>,
    text: &str,
    identities: impl FnOnce() -> Option<Identities>,
) -> String {
    let Some(format) = format else {
        return text.to_owned();
    };
    let lead = if format == Format::Json { "//" } else { "#" };
    let comment = |what: &str| format!("{lead} seal: {what}\n{text}");
    // One parse: a file that is not sealed (or not parseable) is shown as
    // it is.
    let sealed = match document::parse_sealed(format, text) {
        Ok(s) => s,
        // Git's conflict markers, not damage (they break the metadata's
        // layout when both sides rewrote the MAC).
        Err(_) if crate::conflict::git_conflicts(format, text).is_some() => {
            return comment(
                "unresolved git merge conflict (showing the file with git's conflict markers)",
            )
        }
        // Metadata laid out other than seal writes it: changed by hand.
        Err(DocError::Parse(e)) if e.concerns_metadata() => {
            return comment(&format!(
                "TAMPERED: line {}: {} (showing the sealed file)",
                e.line, e.message
            ))
        }
        Err(DocError::Parse(_) | DocError::NotSealed) => return text.to_owned(),
        Err(DocError::UnsupportedVersion(v)) => {
            return comment(&format!(
            "cannot decrypt: format version {v} is newer than this seal (showing the sealed file)"
        ))
        }
        Err(_) => {
            return comment("cannot decrypt: damaged seal metadata (showing the sealed file)")
        }
    };
    let Some(ids) = identities() else {
        return comment("cannot decrypt: no identity (showing the sealed file)");
    };
    match sealed.open(&ids) {
        Ok(opened) => {
            // Who can read it is part of the change under review.
            let mut out = opened.plaintext.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            for r in &opened.metadata.recipients {
                out.push_str(&format!("{lead} seal: recipient {}\n", r.recipient));
            }
            // Proposed, not authenticated: named, never shown as a value.
            for p in crate::pending::paths(&opened.metadata) {
                out.push_str(&format!(
                    "{lead} seal: pending {p} (added with `seal set --public`, not authenticated; `seal fold` shows it)\n"
                ));
            }
            out
        }
        Err(DocError::Tampered) | Err(DocError::Value { .. }) => comment(
            "TAMPERED: the MAC does not match; this revision was changed outside seal (showing the sealed file)",
        ),
        Err(DocError::Unwrap(_)) => {
            comment("cannot decrypt: none of your identities is a recipient (showing the sealed file)")
        }
        Err(_) => comment("cannot decrypt (showing the sealed file)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A revision whose metadata block was edited by hand is flagged, not
    /// shown as if it were a plain file.
    /// A file git left conflict markers in is shown as such, not as
    /// tampered or as a plain file.
    #[test]
    fn textconv_names_git_conflict_markers() {
        let text = "a: seal.v1.x\nseal:\n  version: 1\n<<<<<<< HEAD\n  mac: \"a\"\n=======\n  mac: \"b\"\n>>>>>>> theirs\n";
        let out = textconv(Some(Format::Yaml), text, || None);
        assert!(
            out.starts_with("# seal: unresolved git merge conflict"),
            "{out}"
        );
        assert!(out.ends_with(text));
    }

    #[test]
    fn textconv_flags_hand_edited_metadata() {
        let (_, public) = crate::envelope::generate_identity();
        let recipient = crate::envelope::Recipient::parse(&public).unwrap();
        let sealed = document::seal(Format::Yaml, "a: 1\n", &[recipient], &[]).unwrap();
        let edited = sealed.replace("  mac: ", "  mac: 12 ");
        assert_ne!(edited, sealed);
        let shown = textconv(Some(Format::Yaml), &edited, || None);
        assert!(shown.starts_with("# seal: TAMPERED: line "), "{shown}");
        assert!(shown.ends_with(&edited));
        let plain = "a: [\n";
        assert_eq!(textconv(Some(Format::Yaml), plain, || None), plain);
    }

    #[test]
    fn patterns_from_rule_globs() {
        assert_eq!(
            attribute_patterns("", "prod/secrets.yaml"),
            ["prod/secrets.yaml"]
        );
        assert_eq!(attribute_patterns("", "*.env"), ["/*.env"]);
        assert_eq!(attribute_patterns("cfg", "*.env"), ["cfg/*.env"]);
        assert_eq!(
            attribute_patterns("", "secrets/**"),
            [
                "secrets/**/*.yaml",
                "secrets/**/*.yml",
                "secrets/**/*.json",
                "secrets/**/*.toml",
                "secrets/**/*.env",
                "secrets/**/.env",
                "secrets/**/.env.*"
            ]
        );
        assert_eq!(attribute_patterns("", "**")[0], "**/*.yaml");
        assert_eq!(attribute_patterns("", "k8s/*")[2], "k8s/*.json");
        assert_eq!(
            attribute_patterns("", "**/*.sealed.yaml"),
            ["**/*.sealed.yaml"]
        );
        assert_eq!(attribute_patterns("", "s/secret*"), ["s/secret*"]);
        // git has no `{a,b}`: one pattern per alternative.
        assert_eq!(
            attribute_patterns("", "{dev,prod}/*.yaml"),
            ["dev/*.yaml", "prod/*.yaml"]
        );
        assert_eq!(
            attribute_patterns("", "a/{x,y}.{yaml,json}"),
            ["a/x.yaml", "a/x.json", "a/y.yaml", "a/y.json"]
        );
        assert_eq!(attribute_patterns("", "{a,a}.env"), ["/a.env"]);
    }

    #[test]
    fn adding_lines_is_idempotent() {
        let lines = vec!["a/*.yaml diff=seal merge=seal".to_owned()];
        let once = add_attribute_lines("*.png binary", &lines).unwrap();
        assert_eq!(
            once,
            format!("*.png binary\n\n{ATTRIBUTES_HEADER}\na/*.yaml diff=seal merge=seal\n")
        );
        assert_eq!(add_attribute_lines(&once, &lines), None);
        assert!(add_attribute_lines("", &lines)
            .unwrap()
            .starts_with(ATTRIBUTES_HEADER));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/seal"), "/usr/bin/seal");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
