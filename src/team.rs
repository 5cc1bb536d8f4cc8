//! Team changes: comparing a file's recipients with what `.seal.yaml`
//! says, key fingerprints, finding sealed files, and editing `.seal.yaml`
//! in place (comments and layout kept) to add or remove a recipient.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::envelope::Recipient;
use crate::format::Format;
use crate::metadata::WrappedKey;
use crate::passphrase::SCRYPT_PREFIX;
use crate::path::PathQuery;

/// The identity of a recipient for comparisons: SSH keys by type and key
/// (the comment is ignored), age and plugin keys in lower case, everything
/// else by its trimmed text.
pub fn normalize_key(text: &str) -> String {
    let text = text.trim();
    if text.starts_with("ssh-") {
        let mut fields = text.split_whitespace();
        if let (Some(kind), Some(body)) = (fields.next(), fields.next()) {
            return format!("{kind} {body}");
        }
    }
    // Bech32 (age keys, plugin recipients) is case-insensitive.
    if text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("age1"))
    {
        return text.to_ascii_lowercase();
    }
    text.to_owned()
}

/// Whether two recipient texts name the same key.
pub fn same_key(a: &str, b: &str) -> bool {
    normalize_key(a) == normalize_key(b)
}

/// The kind of a recipient: `age`, `ssh-ed25519`, `ssh-rsa`,
/// `plugin:NAME` or `scrypt`.
pub fn key_type(text: &str) -> String {
    let text = text.trim();
    if text.starts_with(SCRYPT_PREFIX) {
        return "scrypt".into();
    }
    if let Some(kind) = text.strip_prefix("ssh-") {
        return format!("ssh-{}", kind.split_whitespace().next().unwrap_or(""));
    }
    if let Some(rest) = text.strip_prefix("age1") {
        // Bech32: the separator is the last `1`; X25519 keys have the
        // human-readable part `age`, plugins `age1NAME`.
        return match rest.rfind('1') {
            Some(i) if i > 0 => format!("plugin:{}", &rest[..i]),
            _ => "age".into(),
        };
    }
    "unknown".into()
}

/// A key fingerprint, as `seal recipients` shows it: for SSH keys the same
/// `SHA256:…` as `ssh-keygen -l` (base64 of SHA-256 of the key blob); for
/// other recipients `SHA256:` and the base64 (no padding) of SHA-256 of
/// the recipient text.
pub fn fingerprint(text: &str) -> String {
    let norm = normalize_key(text);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let digest = match norm.split_once(' ') {
        Some((_, blob)) if norm.starts_with("ssh-") => {
            match base64::engine::general_purpose::STANDARD.decode(blob) {
                Ok(bytes) => Sha256::digest(bytes),
                Err(_) => Sha256::digest(norm.as_bytes()),
            }
        }
        _ => Sha256::digest(norm.as_bytes()),
    };
    format!("SHA256:{}", b64.encode(digest))
}

/// A short form of a recipient for messages: `age1abcdef…uvwxyz`,
/// `ssh-ed25519 …comment`.
pub fn short_key(text: &str) -> String {
    let text = text.trim();
    if text.starts_with("ssh-") {
        let fields: Vec<&str> = text.split_whitespace().collect();
        return match fields.as_slice() {
            [kind, _, comment, ..] => format!("{kind} …{comment}"),
            [kind, body] => format!("{kind} …{}", &body[body.len().saturating_sub(8)..]),
            _ => text.to_owned(),
        };
    }
    if text.len() > 20 && text.is_ascii() {
        return format!("{}…{}", &text[..10], &text[text.len() - 6..]);
    }
    text.to_owned()
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

/// Compare `current` with `wanted` (recipient texts, SSH comments ignored).
pub fn diff(current: &[WrappedKey], wanted: &[String]) -> Diff {
    let mut d = Diff::default();
    let mut seen = Vec::new();
    for w in current {
        let norm = normalize_key(&w.recipient);
        if wanted.iter().any(|k| normalize_key(k) == norm) && !seen.contains(&norm) {
            d.kept.push(w.clone());
            seen.push(norm);
        } else {
            d.removed.push(w.recipient.clone());
        }
    }
    for k in wanted {
        let norm = normalize_key(k);
        if !seen.contains(&norm) {
            d.added.push(k.clone());
            seen.push(norm);
        }
    }
    d
}

/// Every file under `root` (recursively, not following symlinks, skipping
/// `.git`) whose name is a YAML, JSON or dotenv file and that looks sealed,
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
                    if format.is_sealed(&text) {
                        out.push(path);
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a recipient name is acceptable in `.seal.yaml`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'+'))
}

fn query(segments: &[&str]) -> PathQuery {
    PathQuery {
        doc: 0,
        segments: segments.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn yaml_str(s: &str) -> String {
    Format::Yaml.string_literal(s)
}

fn flow_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| yaml_str(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn edit_err(what: &str, e: impl std::fmt::Display) -> String {
    format!("cannot edit {what} automatically ({e}); change it by hand")
}

/// Replace a list value wholesale (when it cannot be edited item by item).
fn replace_list(text: &str, path: &[&str], items: &[String]) -> Result<String, String> {
    let q = query(path);
    if let Ok(t) = Format::Yaml.set_value(text, &q, &flow_list(items)) {
        return Ok(t);
    }
    let removed = Format::Yaml
        .remove_value(text, &q)
        .map_err(|e| edit_err(&path.join("."), e))?;
    Format::Yaml
        .set_value(&removed, &q, &flow_list(items))
        .map_err(|e| edit_err(&path.join("."), e))
}

/// `.seal.yaml` text with recipient `name` = `key` added, and `name`
/// appended to each of `groups`. Checks the name, the key and the result.
pub fn add_recipient(
    config: &Config,
    text: &str,
    name: &str,
    key: &str,
    groups: &[String],
) -> Result<String, String> {
    if !valid_name(name) {
        return Err(format!(
            "invalid recipient name {name:?}: use letters, digits, _ - @ + (starting with a letter or digit)"
        ));
    }
    if config.recipients.iter().any(|(n, _)| n == name) {
        return Err(format!("there is already a recipient named {name:?}"));
    }
    if config.groups.iter().any(|(g, _)| g == name) {
        return Err(format!(
            "{name:?} is a group name; recipient and group names share one namespace"
        ));
    }
    Recipient::parse(key).map_err(|e| e.to_string())?;
    if let Some((other, _)) = config.recipients.iter().find(|(_, k)| same_key(k, key)) {
        return Err(format!("this key is already a recipient, named {other:?}"));
    }
    for g in groups {
        if !config.groups.iter().any(|(n, _)| n == g) {
            let known: Vec<&str> = config.groups.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!(
                "no group {g:?} in {} (groups: {})",
                config.file.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    let mut out = Format::Yaml
        .set_value(text, &query(&["recipients", name]), &yaml_str(key.trim()))
        .map_err(|e| edit_err("recipients", e))?;
    let mut done: Vec<&String> = Vec::new();
    for g in groups {
        if done.contains(&g) {
            continue;
        }
        done.push(g);
        let members = config
            .groups
            .iter()
            .find(|(n, _)| n == g)
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        let index = members.len().to_string();
        out = match Format::Yaml.set_value(&out, &query(&["groups", g, &index]), &yaml_str(name)) {
            Ok(t) => t,
            Err(_) => {
                let mut all = members;
                all.push(name.to_owned());
                replace_list(&out, &["groups", g], &all)?
            }
        };
    }
    let check = Config::parse(&out, &config.file, &config.dir).map_err(|e| {
        format!(
            "the edited file would not be valid ({}); nothing was written",
            e.message
        )
    })?;
    if !check
        .recipients
        .iter()
        .any(|(n, k)| n == name && k == key.trim())
    {
        return Err("the edit did not add the recipient as expected; nothing was written".into());
    }
    Ok(out)
}

/// What removing a recipient from `.seal.yaml` does.
#[derive(Debug)]
pub struct Removal {
    /// The new `.seal.yaml` text.
    pub text: String,
    /// The removed recipient's key.
    pub key: String,
    /// Groups the name was removed from.
    pub groups: Vec<String>,
    /// Rules (by path) the name was removed from.
    pub rules: Vec<String>,
    /// Rules deleted because no recipient was left (only with force).
    pub deleted_rules: Vec<String>,
}

/// `.seal.yaml` text with recipient `name` removed from `recipients`, from
/// every group and from every rule. A rule left with no recipients is
/// refused, or with `force` deleted.
pub fn remove_recipient(
    config: &Config,
    text: &str,
    name: &str,
    force: bool,
) -> Result<Removal, String> {
    let Some((_, key)) = config.recipients.iter().find(|(n, _)| n == name) else {
        if config.groups.iter().any(|(g, _)| g == name) {
            return Err(format!("{name:?} is a group, not a recipient"));
        }
        let known: Vec<&str> = config.recipients.iter().map(|(n, _)| n.as_str()).collect();
        return Err(format!(
            "no recipient named {name:?} in {} (recipients: {})",
            config.file.display(),
            known.join(", ")
        ));
    };
    if config.recipients.len() == 1 {
        return Err(format!(
            "{name:?} is the only recipient in {}; nobody could open the files afterwards",
            config.file.display()
        ));
    }

    // The model after the change, to find rules left with nobody.
    let mut after = config.clone();
    after.recipients.retain(|(n, _)| n != name);
    for (_, members) in &mut after.groups {
        members.retain(|m| m != name);
    }
    for rule in &mut after.rules {
        rule.recipients.retain(|m| m != name);
    }
    let empty_rules: Vec<usize> = after
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.recipients.is_empty() || after.resolve(&r.recipients).map_or(true, |v| v.is_empty())
        })
        .map(|(i, _)| i)
        .collect();
    if !empty_rules.is_empty() && !force {
        let list: Vec<String> = empty_rules
            .iter()
            .map(|&i| format!("rules[{i}] ({})", config.rules[i].path))
            .collect();
        return Err(format!(
            "removing {name:?} would leave {} with no recipients; add someone to them first, or pass --force to delete those rules",
            list.join(", ")
        ));
    }

    let mut out = Format::Yaml
        .remove_value(text, &query(&["recipients", name]))
        .map_err(|e| edit_err("recipients", e))?;
    let mut groups = Vec::new();
    for (g, members) in &config.groups {
        if !members.iter().any(|m| m == name) {
            continue;
        }
        groups.push(g.clone());
        let left: Vec<String> = members.iter().filter(|m| *m != name).cloned().collect();
        out = remove_items(&out, &["groups", g], members, name, &left)?;
    }
    let mut rules = Vec::new();
    for (i, rule) in config.rules.iter().enumerate() {
        if empty_rules.contains(&i) || !rule.recipients.iter().any(|m| m == name) {
            continue;
        }
        rules.push(rule.path.clone());
        let left: Vec<String> = rule
            .recipients
            .iter()
            .filter(|m| *m != name)
            .cloned()
            .collect();
        let index = i.to_string();
        out = remove_items(
            &out,
            &["rules", &index, "recipients"],
            &rule.recipients,
            name,
            &left,
        )?;
    }
    let mut deleted_rules = Vec::new();
    for &i in empty_rules.iter().rev() {
        out = Format::Yaml
            .remove_value(&out, &query(&["rules", &i.to_string()]))
            .map_err(|e| edit_err(&format!("rules[{i}]"), e))?;
        deleted_rules.insert(0, config.rules[i].path.clone());
    }
    let check = Config::parse(&out, &config.file, &config.dir).map_err(|e| {
        format!(
            "the edited file would not be valid ({}); nothing was written",
            e.message
        )
    })?;
    let mentioned = check.recipients.iter().any(|(n, _)| n == name)
        || check
            .groups
            .iter()
            .any(|(_, m)| m.iter().any(|x| x == name))
        || check
            .rules
            .iter()
            .any(|r| r.recipients.iter().any(|x| x == name));
    if mentioned {
        return Err(
            "the edit did not remove every mention of the recipient; nothing was written".into(),
        );
    }
    Ok(Removal {
        text: out,
        key: key.clone(),
        groups,
        rules,
        deleted_rules,
    })
}

/// Remove every `name` item from the list at `path` (whose items are
/// `items`); an emptied list becomes `[]`.
fn remove_items(
    text: &str,
    path: &[&str],
    items: &[String],
    name: &str,
    left: &[String],
) -> Result<String, String> {
    if left.is_empty() {
        return replace_list(text, path, left);
    }
    let mut out = text.to_owned();
    for (i, _) in items.iter().enumerate().rev().filter(|(_, m)| *m == name) {
        let index = i.to_string();
        let mut segs: Vec<&str> = path.to_vec();
        segs.push(&index);
        match Format::Yaml.remove_value(&out, &query(&segs)) {
            Ok(t) => out = t,
            Err(_) => return replace_list(text, path, left),
        }
    }
    Ok(out)
}

/// Read a `KEY` argument: `-` is standard input, an existing file is a
/// `.pub` or recipients file (exactly one recipient in it), anything else
/// is the key itself.
pub fn read_key_argument(arg: &str) -> Result<String, String> {
    let from_text = |text: &str, what: &str| -> Result<String, String> {
        let keys: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        match keys.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => Err(format!("{what}: no public key in it")),
            more => Err(format!(
                "{what}: {} keys in it; add them one at a time, each with its own name",
                more.len()
            )),
        }
    };
    if arg == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin(), 1 << 16),
            &mut text,
        )
        .map_err(|e| format!("cannot read standard input: {e}"))?;
        return from_text(&text, "standard input");
    }
    let path = Path::new(arg);
    if !arg.starts_with("age1") && !arg.starts_with("ssh-") && path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        if text.contains("PRIVATE KEY") || text.contains("AGE-SECRET-KEY-") {
            return Err(format!(
                "{}: this is a private key; give the public key (`seal keygen -y FILE`, or the .pub file)",
                path.display()
            ));
        }
        return from_text(&text, &path.display().to_string());
    }
    Ok(arg.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_keys_compare_without_comment() {
        assert!(same_key(
            "ssh-ed25519 AAAAC3Nz alice@laptop",
            "ssh-ed25519  AAAAC3Nz bob"
        ));
        assert!(!same_key("ssh-ed25519 AAAAC3Nz", "ssh-ed25519 AAAAC3Ny"));
        assert!(same_key(" age1abc ", "age1abc"));
    }

    #[test]
    fn key_types() {
        assert_eq!(key_type("age1qqqqqqqq"), "age");
        assert_eq!(key_type("age1yubikey1qqqq"), "plugin:yubikey");
        assert_eq!(key_type("ssh-ed25519 AAAA x"), "ssh-ed25519");
        assert_eq!(key_type("ssh-rsa AAAA"), "ssh-rsa");
        assert_eq!(key_type("scrypt:recovery"), "scrypt");
    }

    #[test]
    fn fingerprints_match_ssh_keygen_style() {
        // SHA-256 of the decoded blob "abc" (YWJj).
        assert_eq!(
            fingerprint("ssh-ed25519 YWJj comment"),
            "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        );
        assert_eq!(
            fingerprint("ssh-ed25519 YWJj"),
            fingerprint("ssh-ed25519 YWJj other")
        );
        assert!(fingerprint("age1abc").starts_with("SHA256:"));
    }

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

    #[test]
    fn names() {
        assert!(valid_name("bob"));
        assert!(valid_name("ci-2@prod"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a.b"));
        assert!(!valid_name(""));
    }
}
