//! `seal export`: the variables `seal exec` would inject (same names, same
//! layering, same collisions) written in the form another tool reads: a
//! Kubernetes `Secret`, a `docker run --env-file` file, Docker secrets files
//! for compose, dotenv, JSON, POSIX shell and `$GITHUB_ENV` blocks.
//!
//! Every renderer writes into one buffer reserved up front and zeroized
//! when dropped, so the plaintext leaves no unwiped copies behind.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::exec::Variable;
use crate::fsio;

/// The text formats `seal export` writes to standard output or `-o`.
/// `compose-secrets` writes files instead: see [`compose_secrets`].
#[derive(Clone, Debug)]
pub enum Target {
    /// A `v1` `Secret` manifest.
    K8sSecret(K8sSecret),
    /// `NAME=value` lines as `docker run --env-file` reads them.
    DockerEnv,
    /// A dotenv file seal (and dotenvx) read back to the same values.
    Dotenv,
    /// One JSON object, names in order.
    Json,
    /// `export NAME='value'` lines for `eval` in POSIX sh or bash.
    Shell,
    /// `NAME<<DELIM` blocks for `$GITHUB_ENV`.
    GithubEnv,
}

/// The fields of a Kubernetes `Secret` besides its data.
#[derive(Clone, Debug, Default)]
pub struct K8sSecret {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: Vec<(String, String)>,
    /// Plain `stringData` instead of base64 `data`.
    pub string_data: bool,
}

/// Why values could not be exported. Messages name variables and files,
/// never values.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{name}: the value has a line break, which {format} cannot hold (it has no quoting)")]
    LineBreak { name: String, format: &'static str },
    #[error("{name}: the value has a carriage return, which {format} reads as a line break")]
    CarriageReturn { name: String, format: &'static str },
    #[error("{name}: the value is too long for {format} (a line holds at most 64 KiB)")]
    TooLong { name: String, format: &'static str },
    #[error("{name:?} is not a shell variable name (letters, digits and `_`, not starting with a digit)")]
    ShellName { name: String },
    #[error("{name:?} cannot be a Kubernetes Secret key (letters, digits, `-`, `_` and `.`, at most 253 characters, not `.` or `..`)")]
    K8sKey { name: String },
    #[error("--name {0:?} is not a valid Kubernetes object name (lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters)")]
    K8sName(String),
    #[error("--namespace {0:?} is not a valid Kubernetes namespace (lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters)")]
    K8sNamespace(String),
    #[error("--label {0:?} is not a valid Kubernetes label (KEY=VALUE: a key of letters, digits, `-`, `_` and `.` with an optional DNS prefix/, a value of at most 63 such characters)")]
    K8sLabel(String),
    #[error("{name}: cannot be a file name in {dir} (it would be {reason})")]
    FileName {
        name: String,
        dir: String,
        reason: &'static str,
    },
    #[error("{dir}: {reason}; nothing was written")]
    UnsafeDir { dir: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("could not draw a delimiter that occurs in no value (please report this)")]
    Delimiter,
}

/// Render `vars` as `target`.
pub fn render(vars: &[Variable], target: &Target) -> Result<Zeroizing<String>, ExportError> {
    let mut out = Zeroizing::new(String::with_capacity(capacity(vars)));
    match target {
        Target::K8sSecret(k8s) => k8s_secret(vars, k8s, &mut out)?,
        Target::DockerEnv => docker_env(vars, &mut out)?,
        Target::Dotenv => dotenv(vars, &mut out),
        Target::Json => json(vars, &mut out),
        Target::Shell => shell(vars, &mut out)?,
        Target::GithubEnv => github_env(vars, &mut out)?,
    }
    Ok(out)
}

/// Enough for every format without growing (a grown buffer leaves its old
/// copy unwiped): escapes at most sextuple a byte (`\u00XX`).
fn capacity(vars: &[Variable]) -> usize {
    vars.iter()
        .map(|v| 2 * v.name.len() + 6 * v.value.len() + 96)
        .sum::<usize>()
        + 256
}

/// A string as JSON text, which is also a YAML double-quoted scalar: every
/// control character, and the characters YAML 1.1 reads as line breaks or
/// a byte-order mark, are escaped, so both parsers read the same string.
fn quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json(vars: &[Variable], out: &mut String) {
    out.push('{');
    for (i, v) in vars.iter().enumerate() {
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        quoted(&v.name, out);
        out.push_str(": ");
        quoted(&v.value, out);
    }
    out.push_str(if vars.is_empty() { "}\n" } else { "\n}\n" });
}

/// `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`
/// (Kubernetes' rule for ConfigMap and Secret keys).
pub fn valid_k8s_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An RFC 1123 subdomain: labels joined by `.`, at most 253.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// A label name or value part: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn label_part(s: &str, may_be_empty: bool) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return may_be_empty;
    }
    b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Check the manifest's own fields before any value is read.
pub fn check_k8s(k8s: &K8sSecret) -> Result<(), ExportError> {
    if !dns_subdomain(&k8s.name) {
        return Err(ExportError::K8sName(k8s.name.clone()));
    }
    if let Some(ns) = &k8s.namespace {
        if !dns_label(ns) {
            return Err(ExportError::K8sNamespace(ns.clone()));
        }
    }
    for (key, value) in &k8s.labels {
        let (prefix, name) = match key.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        if prefix.is_some_and(|p| !dns_subdomain(p))
            || !label_part(name, false)
            || !label_part(value, true)
        {
            return Err(ExportError::K8sLabel(format!("{key}={value}")));
        }
    }
    Ok(())
}

fn k8s_secret(vars: &[Variable], k8s: &K8sSecret, out: &mut String) -> Result<(), ExportError> {
    check_k8s(k8s)?;
    out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ");
    quoted(&k8s.name, out);
    if let Some(ns) = &k8s.namespace {
        out.push_str("\n  namespace: ");
        quoted(ns, out);
    }
    if !k8s.labels.is_empty() {
        out.push_str("\n  labels:");
        for (key, value) in &k8s.labels {
            out.push_str("\n    ");
            quoted(key, out);
            out.push_str(": ");
            quoted(value, out);
        }
    }
    out.push_str("\ntype: Opaque\n");
    out.push_str(if k8s.string_data {
        "stringData:"
    } else {
        "data:"
    });
    if vars.is_empty() {
        out.push_str(" {}");
    }
    for v in vars {
        // exec's names are already valid keys; checked so a change there
        // cannot produce a manifest the API server refuses.
        if !valid_k8s_key(&v.name) {
            return Err(ExportError::K8sKey {
                name: v.name.clone(),
            });
        }
        out.push_str("\n  ");
        quoted(&v.name, out);
        out.push_str(": ");
        if k8s.string_data {
            quoted(&v.value, out);
        } else {
            out.push('"');
            base64::engine::general_purpose::STANDARD.encode_string(v.value.as_bytes(), out);
            out.push('"');
        }
    }
    out.push('\n');
    Ok(())
}

/// Docker's env-file: `NAME=VALUE` per line, the value taken literally to
/// the end of the line (no quotes, no escapes), `#` lines are comments.
fn docker_env(vars: &[Variable], out: &mut String) -> Result<(), ExportError> {
    const FORMAT: &str = "docker's --env-file format";
    for v in vars {
        if v.value.contains('\n') {
            return Err(ExportError::LineBreak {
                name: v.name.clone(),
                format: FORMAT,
            });
        }
        // Docker reads lines with Go's ScanLines, which drops a `\r`
        // before the line break: a value ending in one would lose it.
        if v.value.ends_with('\r') {
            return Err(ExportError::CarriageReturn {
                name: v.name.clone(),
                format: FORMAT,
            });
        }
        // Go's bufio.Scanner, which docker reads with, stops at a line of
        // 64 KiB: longer ones fail to load.
        if v.name.len() + 1 + v.value.len() >= DOCKER_MAX_LINE {
            return Err(ExportError::TooLong {
                name: v.name.clone(),
                format: FORMAT,
            });
        }
        out.push_str(&v.name);
        out.push('=');
        out.push_str(&v.value);
        out.push('\n');
    }
    Ok(())
}

/// bufio.MaxScanTokenSize: the longest line docker's env-file reader takes.
const DOCKER_MAX_LINE: usize = 64 * 1024;

/// Source text that reads back as `value`, expanded or not: bare when
/// nothing in it is special, else single quotes, which seal, dotenvx and
/// docker compose read literally (line breaks and `\` included). A value
/// with a `'` (or a carriage return, which a file cannot hold raw) gets
/// double quotes with `\\`, `\"`, `\$`, `\n` and `\r` escaped, as seal
/// reads them; README.md says which peers read those differently.
fn dotenv_literal(value: &str, out: &mut String) {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c);
    if !value.is_empty() && value.chars().all(bare) {
        out.push_str(value);
    } else if !value.contains(['\'', '\r']) {
        out.push('\'');
        out.push_str(value);
        out.push('\'');
    } else {
        out.push('"');
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '$' => out.push_str("\\$"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

fn dotenv(vars: &[Variable], out: &mut String) {
    for v in vars {
        out.push_str(&v.name);
        out.push('=');
        dotenv_literal(&v.value, out);
        out.push('\n');
    }
}

/// A POSIX shell name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_shell_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `export NAME='value'`: inside single quotes every byte is literal, so
/// only `'` needs care (`'\''`). Line breaks stay as they are, and `$(…)`
/// keeps the value's trailing line breaks because the quote follows them.
fn shell(vars: &[Variable], out: &mut String) -> Result<(), ExportError> {
    for v in vars {
        if !valid_shell_name(&v.name) {
            return Err(ExportError::ShellName {
                name: v.name.clone(),
            });
        }
        out.push_str("export ");
        out.push_str(&v.name);
        out.push_str("='");
        for (i, part) in v.value.split('\'').enumerate() {
            if i > 0 {
                out.push_str("'\\''");
            }
            out.push_str(part);
        }
        out.push_str("'\n");
    }
    Ok(())
}

/// `NAME<<DELIM`, the value's lines, `DELIM`: the GitHub Actions runner
/// reads lines up to one equal to DELIM and joins them with `\n`. The
/// delimiter is random, drawn again if it occurs anywhere in the value.
fn github_env(vars: &[Variable], out: &mut String) -> Result<(), ExportError> {
    const FORMAT: &str = "$GITHUB_ENV";
    for v in vars {
        // The runner's line reader also ends a line at a lone `\r`.
        if v.value.contains('\r') {
            return Err(ExportError::CarriageReturn {
                name: v.name.clone(),
                format: FORMAT,
            });
        }
        let delimiter = (0..8)
            .map(|_| random_delimiter())
            .find(|d| !v.value.contains(d.as_str()) && !v.name.contains(d.as_str()))
            .ok_or(ExportError::Delimiter)?;
        out.push_str(&v.name);
        out.push_str("<<");
        out.push_str(&delimiter);
        out.push('\n');
        out.push_str(&v.value);
        out.push('\n');
        out.push_str(&delimiter);
        out.push('\n');
    }
    Ok(())
}

fn random_delimiter() -> String {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut bytes = [0u8; 16];
    chacha20poly1305::aead::OsRng.fill_bytes(&mut bytes);
    let mut d = String::from("ghadelimiter_");
    for b in bytes {
        let _ = write!(d, "{b:02x}");
    }
    d
}

/// Docker secrets as files: each value in `dir/NAME` (0600, written
/// atomically), `dir` created 0700. An existing `dir` must be a real
/// directory of this user's with no group or other permissions. Returns
/// a compose snippet for `service` that mounts the files and points
/// `NAME_FILE` at them.
pub fn compose_secrets(
    vars: &[Variable],
    dir: &Path,
    service: &str,
) -> Result<String, ExportError> {
    let shown = dir.display().to_string();
    for v in vars {
        // A name is one path component: exec's names have no `/`; `.` and
        // `..` cannot start one, checked so the file lands inside `dir`.
        let reason = if v.name.contains('/') {
            Some("a path, not a name")
        } else if v.name == "." || v.name == ".." {
            Some("the directory itself or its parent")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ExportError::FileName {
                name: v.name.clone(),
                dir: shown,
                reason,
            });
        }
    }
    private_dir(dir)?;
    for v in vars {
        let path = dir.join(&v.name);
        fsio::write_atomic(&path, v.value.as_bytes(), fsio::Mode::Private).map_err(|source| {
            ExportError::Io {
                path: path.display().to_string(),
                source,
            }
        })?;
    }
    Ok(compose_snippet(vars, &shown, service))
}

/// Create `dir` 0700, or check that an existing one is as private.
fn private_dir(dir: &Path) -> Result<(), ExportError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let unsafe_dir = |reason: String| ExportError::UnsafeDir {
        dir: dir.display().to_string(),
        reason,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(unsafe_dir(
            "is a symbolic link; give the real directory".into(),
        )),
        Ok(m) if !m.is_dir() => Err(unsafe_dir("exists and is not a directory".into())),
        Ok(m) if m.uid() != nix::unistd::geteuid().as_raw() => {
            Err(unsafe_dir("belongs to another user".into()))
        }
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Err(unsafe_dir(format!(
            "has mode {:04o}, readable or writable by others; `chmod 700` it first",
            m.permissions().mode() & 0o7777
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .and_then(|()| {
                // The umask may have taken bits away, never added them;
                // set the mode anyway so it is exactly 0700.
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|source| ExportError::Io {
                path: dir.display().to_string(),
                source,
            }),
        Err(source) => Err(ExportError::Io {
            path: dir.display().to_string(),
            source,
        }),
    }
}

/// The compose file lines that mount each secret at `/run/secrets/NAME`
/// and set `NAME_FILE` to it. No values in it.
fn compose_snippet(vars: &[Variable], dir: &str, service: &str) -> String {
    let mut s = String::new();
    s.push_str("# docker compose: merge into your compose file\nservices:\n  ");
    quoted(service, &mut s);
    s.push_str(":\n");
    if vars.is_empty() {
        s.push_str("    secrets: []\n    environment: {}\nsecrets: {}\n");
        return s;
    }
    s.push_str("    secrets:\n");
    for v in vars {
        s.push_str("      - ");
        quoted(&v.name, &mut s);
        s.push('\n');
    }
    s.push_str("    environment:\n");
    for v in vars {
        s.push_str("      ");
        quoted(&format!("{}_FILE", v.name), &mut s);
        s.push_str(": ");
        quoted(&format!("/run/secrets/{}", v.name), &mut s);
        s.push('\n');
    }
    s.push_str("secrets:\n");
    for v in vars {
        s.push_str("  ");
        quoted(&v.name, &mut s);
        s.push_str(":\n    file: ");
        // compose reads a relative path from the compose file's directory;
        // `./` makes it one even when DIR is a bare name.
        let mut file: PathBuf = Path::new(dir).join(&v.name);
        if file.is_relative() && !dir.starts_with('.') {
            file = Path::new(".").join(file);
        }
        quoted(&file.display().to_string(), &mut s);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<Variable> {
        list.iter()
            .map(|(n, v)| Variable {
                name: n.to_string(),
                value: Zeroizing::new(v.to_string()),
                unmasked_secret: None,
            })
            .collect()
    }

    #[test]
    fn json_escapes_what_yaml_would_read_as_a_break() {
        let mut out = String::new();
        quoted("a\"\\\n\u{1}\u{85}\u{2028}é", &mut out);
        assert_eq!(out, "\"a\\\"\\\\\\n\\u0001\\u0085\\u2028é\"");
        let v = vars(&[("A", "x\ny"), ("B", "")]);
        let text = render(&v, &Target::Json).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, serde_json::json!({"A": "x\ny", "B": ""}));
        assert_eq!(&*render(&[], &Target::Json).unwrap(), "{}\n");
    }

    #[test]
    fn docker_env_refuses_line_breaks_naming_the_key() {
        let err = render(
            &vars(&[("OK", "a b"), ("PEM", "l1\nl2")]),
            &Target::DockerEnv,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("PEM:") && !err.contains("l1"), "{err}");
        let out = render(&vars(&[("A", " spaced ='\"$x ")]), &Target::DockerEnv).unwrap();
        assert_eq!(&*out, "A= spaced ='\"$x \n");
    }

    #[test]
    fn shell_names_and_quotes() {
        let out = render(&vars(&[("A", "it's")]), &Target::Shell).unwrap();
        assert_eq!(&*out, "export A='it'\\''s'\n");
        assert!(matches!(
            render(&vars(&[("a.b", "x")]), &Target::Shell),
            Err(ExportError::ShellName { .. })
        ));
    }

    #[test]
    fn github_env_delimiter_is_not_in_the_value() {
        let out = render(&vars(&[("A", "x\ny")]), &Target::GithubEnv).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let delim = lines[0].strip_prefix("A<<").unwrap();
        assert!(delim.starts_with("ghadelimiter_") && delim.len() == 13 + 32);
        assert_eq!(lines[1..], ["x", "y", delim]);
        assert!(render(&vars(&[("A", "x\ry")]), &Target::GithubEnv).is_err());
    }

    #[test]
    fn k8s_fields_are_checked() {
        let ok = K8sSecret {
            name: "app-secrets".into(),
            namespace: Some("prod".into()),
            labels: vec![("app.kubernetes.io/name".into(), "web".into())],
            string_data: false,
        };
        assert!(check_k8s(&ok).is_ok());
        for bad in [
            K8sSecret {
                name: "App".into(),
                ..ok.clone()
            },
            K8sSecret {
                namespace: Some("a.b".into()),
                ..ok.clone()
            },
            K8sSecret {
                labels: vec![("-x".into(), "v".into())],
                ..ok.clone()
            },
            K8sSecret {
                labels: vec![("x".into(), "a b".into())],
                ..ok.clone()
            },
        ] {
            assert!(check_k8s(&bad).is_err(), "{bad:?}");
        }
        assert!(valid_k8s_key("tls.crt") && !valid_k8s_key("..") && !valid_k8s_key("a b"));
    }
}
