//! `.sops.yaml` → `.seal.yaml` (`seal import --sops-config`): each
//! `creation_rules` entry becomes a rule, its `path_regex` a glob, its age
//! keys recipients, and `encrypted_regex` / `encrypted_suffix` encrypt
//! patterns where they map. Everything that does not map is reported.
//! SOPS matches `path_regex` against the path relative to `.sops.yaml`'s
//! directory and takes the first rule that matches, as seal does with its
//! globs relative to `.seal.yaml`'s.

use saphyr::{LoadableYamlNode, Yaml};

use crate::config::YamlSyntaxError;

/// The `.seal.yaml` text and what could not be carried over.
pub struct Converted {
    pub text: String,
    /// One line per thing left out or changed in meaning, naming the rule.
    pub unmapped: Vec<String>,
    pub rules: usize,
}

/// Why `.sops.yaml` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Syntax(YamlSyntaxError),
    #[error("{0}")]
    Shape(String),
}

struct Rule {
    glob: String,
    recipients: Vec<usize>,
    encrypt: Vec<String>,
}

/// Convert `.sops.yaml` text.
pub fn convert(text: &str) -> Result<Converted, ConfigError> {
    let docs = Yaml::load_from_str(text).map_err(|e| ConfigError::Syntax(e.into()))?;
    let root = match docs.as_slice() {
        [root] => root,
        _ => return Err(ConfigError::Shape("expected one YAML document".into())),
    };
    let rules_node = root
        .as_mapping_get("creation_rules")
        .and_then(Yaml::as_sequence)
        .ok_or_else(|| ConfigError::Shape("no `creation_rules` list".into()))?;
    let mut keys: Vec<String> = Vec::new();
    let mut rules = Vec::new();
    let mut unmapped = Vec::new();
    for (i, node) in rules_node.iter().enumerate() {
        let at = format!("creation_rules[{i}]");
        if node.as_mapping().is_none() {
            return Err(ConfigError::Shape(format!("{at} is not a mapping")));
        }
        let get = |k: &str| node.as_mapping_get(k);
        let text_of = |k: &str| get(k).and_then(scalar);
        let regex = text_of("path_regex").or_else(|| text_of("filename_regex"));
        let glob = match &regex {
            None => "**".to_owned(),
            Some(re) => match regex_to_glob(re) {
                Some((glob, exact)) => {
                    if !exact {
                        unmapped.push(format!(
                            "{at}: path_regex {re:?} became the glob {glob:?}, which matches fewer paths (a glob's `*` stops at `/`); check it"
                        ));
                    }
                    glob
                }
                None => {
                    unmapped.push(format!(
                        "{at}: path_regex {re:?} has no glob equivalent; the rule was left out"
                    ));
                    continue;
                }
            },
        };
        let mut ages = get("age").map(age_list).unwrap_or_default();
        if let Some(groups) = get("key_groups").and_then(Yaml::as_sequence) {
            unmapped.push(format!(
                "{at}: key_groups ({} group{}) are not mapped: seal has no key groups; every age key in them became a recipient who alone can open the files",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" }
            ));
            for g in groups {
                if let Some(a) = g.as_mapping_get("age") {
                    ages.extend(age_list(a));
                }
                for kind in other_kinds(g) {
                    unmapped.push(format!("{at}: key_groups: {kind} keys are not mapped"));
                }
            }
        }
        if get("shamir_threshold").is_some() {
            unmapped.push(format!(
                "{at}: shamir_threshold is not mapped: seal has no threshold; any one recipient opens a file"
            ));
        }
        for kind in other_kinds(node) {
            unmapped.push(format!(
                "{at}: {kind} keys are not mapped (seal uses age keys only)"
            ));
        }
        let mut encrypt = Vec::new();
        if let Some(re) = text_of("encrypted_regex") {
            match regex_to_key_patterns(&re) {
                Some(p) => encrypt = p,
                None => unmapped.push(format!(
                    "{at}: encrypted_regex {re:?} has no seal pattern equivalent; seal encrypts every value of these files"
                )),
            }
        }
        if let Some(suffix) = text_of("encrypted_suffix") {
            if suffix.contains(['.', '*']) {
                unmapped.push(format!(
                    "{at}: encrypted_suffix {suffix:?} has no seal pattern equivalent; seal encrypts every value of these files"
                ));
            } else {
                encrypt = vec![format!("**.*{suffix}")];
            }
        }
        for field in [
            "unencrypted_regex",
            "unencrypted_suffix",
            "encrypted_comment_regex",
            "unencrypted_comment_regex",
        ] {
            if let Some(v) = text_of(field) {
                unmapped.push(format!(
                    "{at}: {field} {v:?} is not mapped: seal patterns name what to encrypt, not what to leave out; seal encrypts those values too (`seal import FILE` keeps one file's clear values with patterns of its own)"
                ));
            }
        }
        if text_of("mac_only_encrypted").is_some_and(|v| v == "true") {
            unmapped.push(format!(
                "{at}: mac_only_encrypted is not mapped: seal's MAC always covers every value"
            ));
        }
        if ages.is_empty() {
            unmapped.push(format!(
                "{at}: no age keys, so no rule: files it covers need recipients (`seal recipients add`)"
            ));
            continue;
        }
        let mut recipients = Vec::new();
        for age in ages {
            let index = match keys.iter().position(|k| *k == age) {
                Some(i) => i,
                None => {
                    keys.push(age);
                    keys.len() - 1
                }
            };
            if !recipients.contains(&index) {
                recipients.push(index);
            }
        }
        rules.push(Rule {
            glob,
            recipients,
            encrypt,
        });
    }
    if root.as_mapping_get("destination_rules").is_some() {
        unmapped.push("destination_rules are not mapped (seal does not publish files)".into());
    }
    if rules.is_empty() {
        return Err(ConfigError::Shape(format!(
            "no creation rule with age keys to convert{}",
            if unmapped.is_empty() {
                String::new()
            } else {
                format!(":\n  {}", unmapped.join("\n  "))
            }
        )));
    }
    Ok(Converted {
        text: render(&keys, &rules),
        unmapped,
        rules: rules.len(),
    })
}

fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::Value(saphyr::Scalar::String(s)) => Some(s.to_string()),
        Yaml::Value(saphyr::Scalar::Integer(i)) => Some(i.to_string()),
        Yaml::Value(saphyr::Scalar::Boolean(b)) => Some(b.to_string()),
        Yaml::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

/// `age:` is a comma-separated string (SOPS's usual form) or a list.
fn age_list(node: &Yaml) -> Vec<String> {
    let parts: Vec<String> = match node.as_sequence() {
        Some(items) => items.iter().filter_map(scalar).collect(),
        None => scalar(node).into_iter().collect(),
    };
    parts
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn other_kinds(node: &Yaml) -> Vec<&'static str> {
    [
        ("pgp", "PGP"),
        ("kms", "AWS KMS"),
        ("gcp_kms", "GCP KMS"),
        ("azure_keyvault", "Azure Key Vault"),
        ("azure_kv", "Azure Key Vault"),
        ("hc_vault_transit_uri", "HashiCorp Vault"),
        ("hc_vault", "HashiCorp Vault"),
        ("hckms", "HuaweiCloud KMS"),
    ]
    .into_iter()
    .filter(|(k, _)| {
        node.as_mapping_get(k).is_some_and(|v| {
            !matches!(v, Yaml::Value(saphyr::Scalar::Null))
                && scalar(v).is_none_or(|s| !s.is_empty())
        })
    })
    .map(|(_, name)| name)
    .collect()
}

/// One piece of a simple regex: literal text, or a choice of literals.
enum Piece {
    Lit(String),
    Choice(Vec<String>),
    AnyRun,
}

/// Split a regex made only of literals, escaped punctuation, `.*` and
/// `(a|b)` groups; `None` for anything else.
fn pieces(body: &str) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = body.chars().peekable();
    let flush = |lit: &mut String, out: &mut Vec<Piece>| {
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(lit)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('.' | '-' | '_' | '/' | '+' | '(' | ')' | '[' | ']' | '{' | '}' | '$'
                | '^' | '|' | '?' | '*') => lit.push(e),
                _ => return None,
            },
            '.' if chars.peek() == Some(&'*') => {
                chars.next();
                flush(&mut lit, &mut out);
                out.push(Piece::AnyRun);
            }
            '(' => {
                flush(&mut lit, &mut out);
                let mut group = String::new();
                loop {
                    match chars.next()? {
                        ')' => break,
                        '\\' => group.push(chars.next()?),
                        c @ ('(' | '[' | '.' | '*' | '+' | '?' | '{' | '^' | '$') => {
                            let _ = c;
                            return None;
                        }
                        c => group.push(c),
                    }
                }
                let group = group.strip_prefix("?:").unwrap_or(&group).to_owned();
                out.push(Piece::Choice(group.split('|').map(str::to_owned).collect()));
            }
            c if c.is_alphanumeric() || "/-_ =@,:%~".contains(c) => lit.push(c),
            _ => return None,
        }
    }
    flush(&mut lit, &mut out);
    Some(out)
}

/// Anchors of a regex: (starts with `^`, ends with `$`, body).
fn anchors(re: &str) -> (bool, bool, &str) {
    let (start, rest) = match re.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, re),
    };
    let end = rest.ends_with('$') && !rest.ends_with("\\$");
    (start, end, if end { &rest[..rest.len() - 1] } else { rest })
}

/// A path regex as a glob, and whether the glob matches exactly the same
/// paths.
fn regex_to_glob(re: &str) -> Option<(String, bool)> {
    let (start, end, body) = anchors(re);
    let mut exact = true;
    let mut glob = String::new();
    let parts = pieces(body)?;
    if !start {
        glob.push_str(match parts.first() {
            Some(Piece::Lit(l)) if l.starts_with('/') => "**",
            Some(Piece::AnyRun) | None => "",
            _ => "**/*",
        });
    }
    let n = parts.len();
    for (i, p) in parts.iter().enumerate() {
        match p {
            Piece::Lit(l) => glob.push_str(&glob_escape(l)),
            Piece::Choice(c) => {
                glob.push('{');
                glob.push_str(
                    &c.iter()
                        .map(|s| glob_escape(s))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                glob.push('}');
            }
            Piece::AnyRun => {
                let before_ok = i == 0 || glob.ends_with('/');
                let after_ok = i + 1 == n
                    || matches!(parts.get(i + 1), Some(Piece::Lit(l)) if l.starts_with('/'));
                if before_ok && after_ok {
                    glob.push_str("**");
                } else if i == 0 {
                    // A leading `.*` then the last component's text.
                    glob.push_str("**/*");
                } else {
                    glob.push('*');
                    exact = false;
                }
            }
        }
    }
    if !end && !matches!(parts.last(), Some(Piece::AnyRun)) {
        if glob.ends_with('/') {
            glob.push_str("**");
        } else {
            glob.push('*');
            exact = false;
        }
    }
    if glob.is_empty() {
        glob.push_str("**");
    }
    Some((glob, exact))
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "*?[]{}\\".contains(c) {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

/// `encrypted_regex` (matched against each key on a value's path) as seal
/// patterns: `^(data|stringData)$` → `**.data`, `**.stringData`.
fn regex_to_key_patterns(re: &str) -> Option<Vec<String>> {
    let (start, end, body) = anchors(re);
    let parts = pieces(body)?;
    let mut names = vec![String::new()];
    for p in &parts {
        match p {
            Piece::Lit(l) => names.iter_mut().for_each(|n| n.push_str(l)),
            Piece::Choice(c) => {
                names = names
                    .iter()
                    .flat_map(|n| c.iter().map(move |alt| format!("{n}{alt}")))
                    .collect()
            }
            Piece::AnyRun => names.iter_mut().for_each(|n| n.push('*')),
        }
    }
    if names.iter().any(|n| n.is_empty() || n.contains('.')) {
        return None;
    }
    Some(
        names
            .into_iter()
            .map(|n| {
                let n = if start { n } else { format!("*{n}") };
                let n = if end { n } else { format!("{n}*") };
                format!("**.{}", n.replace("**", "*"))
            })
            .collect(),
    )
}

fn render(keys: &[String], rules: &[Rule]) -> String {
    let q = |s: &str| crate::format::Format::Yaml.string_literal(s);
    let name = |i: usize| format!("sops-age-{}", i + 1);
    let mut out =
        String::from("# Converted from .sops.yaml by `seal import --sops-config`.\nrecipients:\n");
    for (i, k) in keys.iter().enumerate() {
        out.push_str(&format!("  {}: {}\n", name(i), q(k)));
    }
    out.push_str("rules:\n");
    for r in rules {
        out.push_str(&format!("  - path: {}\n", q(&r.glob)));
        let names: Vec<String> = r.recipients.iter().map(|&i| name(i)).collect();
        out.push_str(&format!("    recipients: [{}]\n", names.join(", ")));
        if !r.encrypt.is_empty() {
            let pats: Vec<String> = r.encrypt.iter().map(|p| q(p)).collect();
            out.push_str(&format!("    encrypt: [{}]\n", pats.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_regexes_become_globs() {
        for (re, glob, exact) in [
            (r"\.dev\.yaml$", "**/*.dev.yaml", true),
            (r"^secrets/.*$", "secrets/**", true),
            (r"^prod/.*\.(yaml|yml)$", "prod/*.{yaml,yml}", false),
            (r".*", "**", true),
            (r"^k8s/", "k8s/**", true),
            (r".*\.enc\.json$", "**/*.enc.json", true),
        ] {
            assert_eq!(regex_to_glob(re), Some((glob.to_owned(), exact)), "{re}");
        }
        assert_eq!(regex_to_glob(r"^a[0-9]+$"), None);
    }

    #[test]
    fn encrypted_regex_becomes_key_patterns() {
        assert_eq!(
            regex_to_key_patterns("^(data|stringData)$").unwrap(),
            ["**.data", "**.stringData"]
        );
        assert_eq!(regex_to_key_patterns("^pass").unwrap(), ["**.pass*"]);
        assert_eq!(
            regex_to_key_patterns("password").unwrap(),
            ["**.*password*"]
        );
        assert_eq!(regex_to_key_patterns("^a[bc]$"), None);
    }

    #[test]
    fn a_sops_config_converts_and_lists_what_does_not_map() {
        let converted = convert(
            "creation_rules:\n  - path_regex: \\.prod\\.yaml$\n    age: age1aaa,age1bbb\n    encrypted_regex: ^(data|stringData)$\n    pgp: ABCDEF\n  - path_regex: ^dev/\n    key_groups:\n      - age: [age1aaa]\n        kms: [{arn: x}]\n    shamir_threshold: 1\n  - kms: arn:aws:kms:x\n",
        )
        .unwrap();
        assert_eq!(converted.rules, 2);
        assert!(
            converted
                .text
                .contains("sops-age-1: age1aaa\n  sops-age-2: age1bbb\n"),
            "{}",
            converted.text
        );
        assert!(converted.text.contains("- path: \"**/*.prod.yaml\"\n    recipients: [sops-age-1, sops-age-2]\n    encrypt: [\"**.data\", \"**.stringData\"]\n"), "{}", converted.text);
        let notes = converted.unmapped.join("\n");
        for needle in [
            "PGP",
            "key_groups",
            "shamir_threshold",
            "AWS KMS",
            "creation_rules[2]: no age keys",
        ] {
            assert!(notes.contains(needle), "{needle}: {notes}");
        }
        let cfg = crate::config::Config::parse(
            &converted.text,
            std::path::Path::new(".seal.yaml"),
            std::path::Path::new("/x"),
        )
        .unwrap();
        assert!(cfg
            .rule_for(std::path::Path::new("/x/a/b.prod.yaml"))
            .is_some());
    }

    #[test]
    fn a_syntax_error_is_placed_as_in_seal_yaml() {
        let text = "creation_rules:\n  - path_regex: [unclosed\n";
        let Err(ConfigError::Syntax(e)) = convert(text) else {
            panic!("expected a syntax error");
        };
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        let seal = crate::config::Config::parse(
            text,
            std::path::Path::new(".seal.yaml"),
            std::path::Path::new("/x"),
        )
        .err()
        .unwrap();
        assert_eq!(seal.kind.to_string(), e.to_string());
    }
}
