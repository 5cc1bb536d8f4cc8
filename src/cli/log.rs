//! `seal log`: who changed which key path of a sealed file, commit by
//! commit, from git history and without a key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{print_stdout, printable, CliError};
use crate::config::Config;
use crate::history::{self, Entry, LogQuery};
use crate::signing::Verification;

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Only commits since DATE (as git reads it: `2026-11-01`, `2 weeks ago`).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// The sealed file, followed across renames (default: every sealed file).
    file: Option<PathBuf>,
    /// Only changes at or below this key path (dotted or a JSON Pointer).
    path: Option<String>,
}

pub fn run(args: LogArgs) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    if crate::git::toplevel(&cwd).is_none() {
        return Err(
            CliError::new("seal log reads git history: this is not a git repository")
                .hint("run it inside the repository that holds the sealed files"),
        );
    }
    let query = args
        .path
        .as_deref()
        .map(|p| {
            crate::path::PathQuery::parse(p)
                .map_err(|e| CliError::usage(format!("invalid path {p:?}: {e}")))
        })
        .transpose()?;
    let entries = history::log(&LogQuery {
        dir: &cwd,
        file: args.file.as_deref(),
        path: query.as_ref(),
        since: args.since.as_deref(),
    })
    .map_err(|e| CliError::new(format!("seal log: {e}")))?;
    // Names for keys come from the .seal.yaml that governs the files now.
    let config = Config::find(&cwd).ok().flatten();
    let names = Names {
        config: config.as_ref(),
    };
    let out = if args.json {
        let list: Vec<serde_json::Value> = entries.iter().map(|e| json(e, &names)).collect();
        format!(
            "{}\n",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        )
    } else {
        text(&entries, &names)
    };
    print_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

struct Names<'a> {
    config: Option<&'a Config>,
}

impl Names<'_> {
    fn recipient(&self, key: &str) -> String {
        match self.config.and_then(|c| c.name_of(key)) {
            Some(n) => n.to_owned(),
            None => short(key),
        }
    }

    fn signer(&self, key: &str) -> Option<String> {
        self.config
            .and_then(|c| c.signer_name(key))
            .map(str::to_owned)
    }

    fn requires_signature(&self, file: &str) -> bool {
        self.config.is_some_and(|c| {
            c.rule_for(&c.dir.join(file))
                .is_some_and(|r| r.require_signed)
                || c.rule_for(Path::new(file))
                    .is_some_and(|r| r.require_signed)
        })
    }
}

/// A key too long to read in a line: its type and the start of its body.
fn short(key: &str) -> String {
    let key = key.trim();
    let mut fields = key.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(kind), Some(body)) if kind.starts_with("ssh-") => {
            format!("{kind} {}…", body.chars().take(16).collect::<String>())
        }
        // A file's text: cut on a character, not a byte.
        _ if key.chars().count() > 24 => format!("{}…", key.chars().take(20).collect::<String>()),
        _ => key.to_owned(),
    }
}

/// Whether the verified signer is the commit's author: its `signers` name
/// is the author's name, email or email's local part, or the key's comment
/// is the author's email.
fn signer_is_author(entry: &Entry, signer: &str, name: Option<&str>) -> bool {
    let email = entry.author_email.to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_owned();
    let comment = signer.split_whitespace().nth(2).map(str::to_lowercase);
    name.is_some_and(|n| {
        let n = n.to_lowercase();
        n == entry.author_name.to_lowercase() || n == email || n == local
    }) || comment.is_some_and(|c| c == email)
}

/// The signature line of the text output, when there is something to say.
fn signature_note(e: &Entry, names: &Names<'_>) -> Option<String> {
    match &e.signature {
        Verification::Valid { signer } => {
            let name = names.signer(signer);
            if signer_is_author(e, signer, name.as_deref()) && name.is_some() {
                return None;
            }
            Some(match name {
                Some(n) => format!("signed by {n}, who is not the author"),
                None => format!(
                    "signed by an untrusted key (not in signers): {}",
                    crate::signing::fingerprint(signer).unwrap_or_default()
                ),
            })
        }
        Verification::Invalid { reason, .. } => Some(format!("signature INVALID: {reason}")),
        Verification::Unsigned if e.change != "deleted" && names.requires_signature(&e.file) => {
            Some("UNSIGNED, and its rule requires a signature".into())
        }
        Verification::Unsigned => None,
    }
}

fn text(entries: &[Entry], names: &Names<'_>) -> String {
    let mut out = String::new();
    let mut last_commit = "";
    for e in entries {
        if e.commit != last_commit {
            if !last_commit.is_empty() {
                out.push('\n');
            }
            let merge = if e.parents.len() > 1 { " (merge)" } else { "" };
            out.push_str(&format!(
                "commit {}{merge}\nAuthor: {} <{}>\nDate:   {}\n    {}\n",
                e.commit,
                printable(&e.author_name),
                printable(&e.author_email),
                e.date,
                printable(&e.subject)
            ));
            last_commit = &e.commit;
        }
        let renamed = e
            .renamed_from
            .as_ref()
            .map(|r| format!(", renamed from {}", printable(r)))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}: {}{renamed}\n",
            printable(&e.file),
            e.change
        ));
        for (mark, list) in [("+", &e.added), ("~", &e.changed), ("-", &e.removed)] {
            for p in list {
                out.push_str(&format!("    {mark} {}\n", printable(p)));
            }
        }
        if e.rotated {
            out.push_str("    data key rotated: every value re-encrypted (which values also changed needs a key to tell)\n");
        }
        let people = |list: &[String], mark: &str| {
            list.iter()
                .map(|r| format!("{mark}{}", printable(&names.recipient(r))))
                .collect::<Vec<_>>()
        };
        let mut who = people(&e.recipients_added, "+");
        who.extend(people(&e.recipients_removed, "-"));
        if !who.is_empty() {
            out.push_str(&format!("    recipients: {}\n", who.join(" ")));
        }
        if let Some(r) = &e.restores {
            out.push_str(&format!(
                "    restores the file as commit {} left it (a rollback: its old signature still verifies)\n",
                &r[..r.len().min(12)]
            ));
        }
        if let Some(note) = signature_note(e, names) {
            out.push_str(&format!("    {note}\n"));
        }
    }
    out
}

fn json(e: &Entry, names: &Names<'_>) -> serde_json::Value {
    let (status, signer, reason) = match &e.signature {
        Verification::Unsigned => ("unsigned", None, None),
        Verification::Valid { signer } => ("valid", Some(signer.as_str()), None),
        Verification::Invalid { signer, reason } => {
            ("invalid", Some(signer.as_str()), Some(*reason))
        }
    };
    let signer_name = signer.and_then(|s| names.signer(s));
    let recipients = |list: &[String]| {
        list.iter()
            .map(|r| serde_json::json!({"recipient": r, "name": names.config.and_then(|c| c.name_of(r))}))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "commit": e.commit,
        "parents": e.parents,
        "author": {"name": e.author_name, "email": e.author_email},
        "date": e.date,
        "subject": e.subject,
        "file": e.file,
        "renamed_from": e.renamed_from,
        "change": e.change,
        "added": e.added,
        "changed": e.changed,
        "removed": e.removed,
        "recipients_added": recipients(&e.recipients_added),
        "recipients_removed": recipients(&e.recipients_removed),
        "rotated": e.rotated,
        "restores": e.restores,
        "signature": {
            "status": status,
            "signer": signer,
            "signer_name": signer_name,
            "fingerprint": signer.and_then(crate::signing::fingerprint),
            "trusted": status == "valid" && signer_name.is_some(),
            "reason": reason,
            "is_author": signer.is_some_and(|s| signer_is_author(e, s, signer_name.as_deref())),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_shortened_on_characters() {
        assert_eq!(
            short("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOzM c"),
            "ssh-ed25519 AAAAC3NzaC1lZDI1…"
        );
        assert_eq!(short("age1short"), "age1short");
        let long = "é".repeat(30);
        assert_eq!(short(&long), format!("{}…", "é".repeat(20)));
    }

    #[test]
    fn the_signer_is_the_author_by_name_email_or_key_comment() {
        let entry = |name: &str, email: &str| Entry {
            commit: String::new(),
            parents: vec![],
            author_name: name.into(),
            author_email: email.into(),
            date: String::new(),
            subject: String::new(),
            file: String::new(),
            renamed_from: None,
            change: "modified",
            added: vec![],
            changed: vec![],
            removed: vec![],
            recipients_added: vec![],
            recipients_removed: vec![],
            rotated: false,
            signature: Verification::Unsigned,
            restores: None,
        };
        let key = "ssh-ed25519 AAAA alice@example.com";
        assert!(signer_is_author(&entry("Alice", "a@x"), key, Some("alice")));
        assert!(signer_is_author(
            &entry("A. L.", "alice@corp"),
            key,
            Some("alice")
        ));
        assert!(signer_is_author(
            &entry("Someone", "alice@example.com"),
            key,
            None
        ));
        assert!(!signer_is_author(
            &entry("Bob", "bob@x"),
            key,
            Some("alice")
        ));
    }
}
