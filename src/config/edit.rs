//! Text edits of `.seal.yaml`: adding or removing a recipient in place,
//! keeping comments and layout, and checking the result parses to what
//! was meant before anyone writes it.

use std::path::PathBuf;

use super::{Config, ConfigError, ConfigErrorKind};
use crate::envelope::{Recipient, RecipientError};
use crate::format::{self, Format};
use crate::path::PathQuery;

/// Why `seal recipients add/remove` will not edit `.seal.yaml`. Shown
/// after the file's name.
#[derive(Debug, thiserror::Error)]
pub enum RecipientEditError {
    #[error("invalid recipient name {0:?}: use letters, digits, _ - @ + (starting with a letter or digit)")]
    InvalidName(String),
    #[error("there is already a recipient named {0:?}")]
    NameTaken(String),
    #[error("{0:?} is a group name; recipient and group names share one namespace")]
    NameIsGroup(String),
    #[error("{0}")]
    Key(#[from] RecipientError),
    #[error("this key is already a recipient, named {0:?}")]
    KeyTaken(String),
    #[error("no group {group:?} in {} (groups: {})", .file.display(), or_none(.known))]
    NoGroup {
        group: String,
        file: PathBuf,
        known: Vec<String>,
    },
    #[error("{0:?} is a group, not a recipient")]
    IsGroup(String),
    #[error("no recipient named {name:?} in {} (recipients: {})", .file.display(), .known.join(", "))]
    NoRecipient {
        name: String,
        file: PathBuf,
        known: Vec<String>,
    },
    #[error("{name:?} is the only recipient in {}; nobody could open the files afterwards", .file.display())]
    OnlyRecipient { name: String, file: PathBuf },
    /// Rules (index, path) that removing `name` would leave with nobody.
    #[error("removing {name:?} would leave {} with no recipients; add someone to them first, or pass --force to delete those rules", rule_list(.rules))]
    RulesLeftEmpty {
        name: String,
        rules: Vec<(usize, String)>,
    },
    #[error("cannot edit {what} automatically ({error}); change it by hand")]
    CannotEdit {
        what: String,
        error: format::EditError,
    },
    #[error("the edited file would not be valid ({0}); nothing was written")]
    WouldBeInvalid(Box<ConfigErrorKind>),
    #[error("the edit did not add the recipient as expected; nothing was written")]
    NotAdded,
    #[error("the edit did not remove every mention of the recipient; nothing was written")]
    NotRemoved,
}

fn or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn rule_list(rules: &[(usize, String)]) -> String {
    rules
        .iter()
        .map(|(i, path)| format!("rules[{i}] ({path})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Config {
    /// `e` as an error of this config file.
    fn refuse(&self, e: RecipientEditError) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            kind: ConfigErrorKind::Edit(e),
        }
    }

    /// Parse edited text again, as the check before writing it.
    fn reparse(&self, text: &str) -> Result<Config, RecipientEditError> {
        Config::parse(text, &self.file, &self.dir)
            .map_err(|e| RecipientEditError::WouldBeInvalid(Box::new(e.kind)))
    }
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

fn edit_err(what: &str, error: format::EditError) -> RecipientEditError {
    RecipientEditError::CannotEdit {
        what: what.to_owned(),
        error,
    }
}

/// Replace a list value wholesale (when it cannot be edited item by item).
fn replace_list(text: &str, path: &[&str], items: &[String]) -> Result<String, RecipientEditError> {
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
) -> Result<String, ConfigError> {
    add(config, text, name, key, groups).map_err(|e| config.refuse(e))
}

fn add(
    config: &Config,
    text: &str,
    name: &str,
    key: &str,
    groups: &[String],
) -> Result<String, RecipientEditError> {
    if !valid_name(name) {
        return Err(RecipientEditError::InvalidName(name.to_owned()));
    }
    if config.recipients.iter().any(|(n, _)| n == name) {
        return Err(RecipientEditError::NameTaken(name.to_owned()));
    }
    if config.groups.iter().any(|(g, _)| g == name) {
        return Err(RecipientEditError::NameIsGroup(name.to_owned()));
    }
    Recipient::parse(key)?;
    if let Some((other, _)) = config
        .recipients
        .iter()
        .find(|(_, k)| Recipient::same_key(k, key))
    {
        return Err(RecipientEditError::KeyTaken(other.clone()));
    }
    for g in groups {
        if !config.groups.iter().any(|(n, _)| n == g) {
            return Err(RecipientEditError::NoGroup {
                group: g.clone(),
                file: config.file.clone(),
                known: config.groups.iter().map(|(n, _)| n.clone()).collect(),
            });
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
    let check = config.reparse(&out)?;
    if !check
        .recipients
        .iter()
        .any(|(n, k)| n == name && k == key.trim())
    {
        return Err(RecipientEditError::NotAdded);
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
) -> Result<Removal, ConfigError> {
    remove(config, text, name, force).map_err(|e| config.refuse(e))
}

fn remove(
    config: &Config,
    text: &str,
    name: &str,
    force: bool,
) -> Result<Removal, RecipientEditError> {
    let Some((_, key)) = config.recipients.iter().find(|(n, _)| n == name) else {
        if config.groups.iter().any(|(g, _)| g == name) {
            return Err(RecipientEditError::IsGroup(name.to_owned()));
        }
        return Err(RecipientEditError::NoRecipient {
            name: name.to_owned(),
            file: config.file.clone(),
            known: config.recipients.iter().map(|(n, _)| n.clone()).collect(),
        });
    };
    if config.recipients.len() == 1 {
        return Err(RecipientEditError::OnlyRecipient {
            name: name.to_owned(),
            file: config.file.clone(),
        });
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
        return Err(RecipientEditError::RulesLeftEmpty {
            name: name.to_owned(),
            rules: empty_rules
                .iter()
                .map(|&i| (i, config.rules[i].path.clone()))
                .collect(),
        });
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
    let check = config.reparse(&out)?;
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
        return Err(RecipientEditError::NotRemoved);
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
) -> Result<String, RecipientEditError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("bob"));
        assert!(valid_name("ci-2@prod"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a.b"));
        assert!(!valid_name(""));
    }
}
