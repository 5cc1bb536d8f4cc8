//! `.seal.yaml`: named recipients, groups, and path rules (first match
//! wins) that say who a file is sealed for and which values are encrypted.
//!
//! ```yaml
//! recipients:
//!   alice: age1...
//!   ci: ssh-ed25519 AAAA...
//! groups:
//!   ops: [alice]
//! rules:
//!   - path: "prod/**"
//!     recipients: [ops]
//!   - path: "k8s/*.yaml"
//!     recipients: [alice, ci]
//!     encrypt: ["stringData.*", "data.*"]
//!   - path: "**"
//!     recipients: [alice, ci]
//! ```
//!
//! Rule paths are globs relative to the directory holding `.seal.yaml`; `*`
//! stays within one directory, `**` crosses directories.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use saphyr::{LoadableYamlNode, Yaml};

/// The config file name, looked up from a file's directory upwards.
pub const FILE_NAME: &str = ".seal.yaml";

/// A path rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The glob as written.
    pub path: String,
    matcher: GlobMatcher,
    /// Recipient and group names as written.
    pub recipients: Vec<String>,
    /// Key-path patterns to encrypt; empty means every value.
    pub encrypt: Vec<String>,
}

/// A parsed `.seal.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `.seal.yaml` file itself.
    pub file: PathBuf,
    /// Its directory: rule paths are relative to it.
    pub dir: PathBuf,
    /// Named recipients in file order: (name, recipient text).
    pub recipients: Vec<(String, String)>,
    /// Groups in file order: (name, member names).
    pub groups: Vec<(String, Vec<String>)>,
    pub rules: Vec<Rule>,
}

/// A problem with `.seal.yaml`, naming the file and the key path in it.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

fn scalar_text(node: &Yaml) -> Option<String> {
    match node {
        Yaml::Value(s) => Some(match s {
            saphyr::Scalar::String(v) => v.to_string(),
            saphyr::Scalar::Integer(i) => i.to_string(),
            saphyr::Scalar::FloatingPoint(f) => f.to_string(),
            saphyr::Scalar::Boolean(b) => b.to_string(),
            saphyr::Scalar::Null => return None,
        }),
        Yaml::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

impl Config {
    /// The nearest `.seal.yaml` in `start` or one of its parents.
    pub fn find(start: &Path) -> Result<Option<Config>, ConfigError> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load(&candidate).map(Some);
            }
        }
        Ok(None)
    }

    /// Read and check a config file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: name.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let dir = file
            .parent()
            .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, file, &dir)
    }

    /// Parse config text; `file` and `dir` are used for messages and rule
    /// matching.
    pub fn parse(text: &str, file: &Path, dir: &Path) -> Result<Config, ConfigError> {
        let name = file.display().to_string();
        let err = |message: String| ConfigError {
            file: name.clone(),
            message,
        };
        let docs = Yaml::load_from_str(text).map_err(|e| {
            err(format!(
                "line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            ))
        })?;
        let root = match docs.as_slice() {
            [root] => root,
            [] => {
                return Err(err(
                    "the file is empty; it needs `recipients:` and `rules:`".into(),
                ))
            }
            _ => return Err(err("expected one YAML document".into())),
        };
        let Some(map) = root.as_mapping() else {
            return Err(err(
                "the top level must be a mapping with `recipients`, `groups` and `rules`".into(),
            ));
        };
        let mut cfg = Config {
            file: file.to_path_buf(),
            dir: dir.to_path_buf(),
            recipients: Vec::new(),
            groups: Vec::new(),
            rules: Vec::new(),
        };
        for (k, v) in map {
            let key = scalar_text(k).unwrap_or_default();
            match key.as_str() {
                "recipients" => cfg.recipients = parse_named(v, "recipients").map_err(err)?,
                "groups" => {
                    let Some(groups) = v.as_mapping() else {
                        return Err(err(
                            "`groups` must map group names to lists of recipient names".into(),
                        ));
                    };
                    for (g, members) in groups {
                        let gname = scalar_text(g)
                            .ok_or_else(|| err("groups: a group name must be text".into()))?;
                        let members = string_list(members).ok_or_else(|| {
                            err(format!("groups.{gname}: expected a list of names"))
                        })?;
                        cfg.groups.push((gname, members));
                    }
                }
                "rules" => {
                    let Some(rules) = v.as_sequence() else {
                        return Err(err(
                            "`rules` must be a list of {path, recipients, encrypt}".into()
                        ));
                    };
                    for (i, rule) in rules.iter().enumerate() {
                        cfg.rules.push(parse_rule(rule, i).map_err(err)?);
                    }
                }
                other => {
                    return Err(err(format!(
                        "unknown top-level key {other:?} (expected recipients, groups, rules)"
                    )))
                }
            }
        }
        cfg.check().map_err(err)?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        // One key under two names would survive removing either name.
        let mut keys = std::collections::HashMap::new();
        for (name, key) in &self.recipients {
            if let Some(other) = keys.insert(crate::envelope::Recipient::normalize_key(key), name) {
                return Err(format!(
                    "recipients {other:?} and {name:?} have the same key; keep one name per key, so that removing a name removes the key"
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for n in self
            .recipients
            .iter()
            .map(|(n, _)| n)
            .chain(self.groups.iter().map(|(n, _)| n))
        {
            if !names.insert(n.as_str()) {
                return Err(format!(
                    "the name {n:?} is used twice (recipient and group names share one namespace)"
                ));
            }
        }
        for (g, members) in &self.groups {
            for m in members {
                if !names.contains(m.as_str()) {
                    return Err(format!("groups.{g}: unknown recipient or group {m:?}"));
                }
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.recipients.is_empty() {
                return Err(format!("rules[{i}] ({}): no recipients", rule.path));
            }
            for m in &rule.recipients {
                if !names.contains(m.as_str()) {
                    return Err(format!(
                        "rules[{i}] ({}): unknown recipient or group {m:?}",
                        rule.path
                    ));
                }
            }
            self.resolve(&rule.recipients)
                .map_err(|e| format!("rules[{i}] ({}): {e}", rule.path))?;
        }
        Ok(())
    }

    /// The first rule whose glob matches `file`, if `file` is under the
    /// config's directory.
    pub fn rule_for(&self, file: &Path) -> Option<&Rule> {
        let relative = self.relative(file)?;
        self.rules.iter().find(|r| r.matcher.is_match(&relative))
    }

    /// `file` relative to the config directory, with `/` separators.
    pub fn relative(&self, file: &Path) -> Option<String> {
        let abs = std::path::absolute(file).ok()?;
        let parent = abs.parent()?;
        let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        let full = parent.join(abs.file_name()?);
        let rel = full.strip_prefix(&self.dir).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// Expand recipient and group names to (name, recipient text), in order,
    /// without duplicates.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for n in names {
            self.expand(n, &mut Vec::new(), &mut out)?;
        }
        Ok(out)
    }

    fn expand(
        &self,
        name: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        if let Some((_, key)) = self.recipients.iter().find(|(n, _)| n == name) {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.to_owned(), key.clone()));
            }
            return Ok(());
        }
        let Some((_, members)) = self.groups.iter().find(|(g, _)| g == name) else {
            return Err(format!("unknown recipient or group {name:?}"));
        };
        if stack.iter().any(|s| s == name) {
            return Err(format!("group {name:?} contains itself"));
        }
        stack.push(name.to_owned());
        for m in members {
            self.expand(m, stack, out)?;
        }
        stack.pop();
        Ok(())
    }
}

fn string_list(node: &Yaml) -> Option<Vec<String>> {
    if let Some(single) = scalar_text(node) {
        return Some(vec![single]);
    }
    node.as_sequence()?.iter().map(scalar_text).collect()
}

fn parse_named(node: &Yaml, what: &str) -> Result<Vec<(String, String)>, String> {
    let map = node
        .as_mapping()
        .ok_or_else(|| format!("`{what}` must map names to public keys"))?;
    let mut out = Vec::new();
    for (k, v) in map {
        let name = scalar_text(k).ok_or_else(|| format!("{what}: a name must be text"))?;
        let key = scalar_text(v).ok_or_else(|| {
            format!("{what}.{name}: expected a public key (age1…, ssh-ed25519 …, ssh-rsa …)")
        })?;
        out.push((name, key.trim().to_owned()));
    }
    Ok(out)
}

fn parse_rule(node: &Yaml, index: usize) -> Result<Rule, String> {
    let map = node
        .as_mapping()
        .ok_or_else(|| format!("rules[{index}]: expected a mapping with path and recipients"))?;
    let mut path = None;
    let mut recipients = Vec::new();
    let mut encrypt = Vec::new();
    for (k, v) in map {
        match scalar_text(k).unwrap_or_default().as_str() {
            "path" => {
                path = Some(
                    scalar_text(v)
                        .ok_or_else(|| format!("rules[{index}].path: expected a glob"))?,
                )
            }
            "recipients" => {
                recipients = string_list(v)
                    .ok_or_else(|| format!("rules[{index}].recipients: expected a list of names"))?
            }
            "encrypt" => {
                encrypt = string_list(v).ok_or_else(|| {
                    format!("rules[{index}].encrypt: expected a list of key-path patterns")
                })?;
                for p in &encrypt {
                    crate::select::validate(p)
                        .map_err(|e| format!("rules[{index}].encrypt: {e}"))?;
                }
            }
            other => {
                return Err(format!(
                    "rules[{index}]: unknown key {other:?} (expected path, recipients, encrypt)"
                ))
            }
        }
    }
    let path = path.ok_or_else(|| format!("rules[{index}]: missing `path`"))?;
    let matcher = GlobBuilder::new(&path)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("rules[{index}].path: invalid glob: {e}"))?
        .compile_matcher();
    Ok(Rule {
        path,
        matcher,
        recipients,
        encrypt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
recipients:
  alice: age1aaa
  ci: age1ccc
groups:
  ops: [alice]
  everyone: [ops, ci]
rules:
  - path: "prod/**"
    recipients: [ops]
  - path: "k8s/*.yaml"
    recipients: [alice, ci]
    encrypt: ["stringData.*", "data.*"]
  - path: "**"
    recipients: [everyone]
"#;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/repo/.seal.yaml"), Path::new("/repo"))
    }

    #[test]
    fn rules_match_in_order() {
        let c = cfg(EXAMPLE).unwrap();
        assert_eq!(
            c.rule_for(Path::new("/repo/prod/db/secrets.yaml"))
                .unwrap()
                .path,
            "prod/**"
        );
        let k8s = c.rule_for(Path::new("/repo/k8s/app.yaml")).unwrap();
        assert_eq!(k8s.encrypt, ["stringData.*", "data.*"]);
        assert_eq!(
            c.rule_for(Path::new("/repo/k8s/sub/app.yaml"))
                .unwrap()
                .path,
            "**"
        );
        assert!(c.rule_for(Path::new("/elsewhere/x.yaml")).is_none());
    }

    #[test]
    fn groups_expand_without_duplicates() {
        let c = cfg(EXAMPLE).unwrap();
        let names: Vec<_> = c
            .resolve(&["everyone".into(), "alice".into()])
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["alice", "ci"]);
    }

    #[test]
    fn bad_configs_say_where() {
        let unknown = cfg("recipients: {a: age1x}\nrules:\n  - path: '**'\n    recipients: [b]\n")
            .unwrap_err();
        assert!(
            unknown.message.contains("rules[0]") && unknown.message.contains("\"b\""),
            "{unknown}"
        );
        let cycle = cfg("recipients: {a: age1x}\ngroups: {g: [h], h: [g]}\nrules: [{path: '**', recipients: [g]}]\n").unwrap_err();
        assert!(cycle.message.contains("contains itself"), "{cycle}");
        assert!(cfg("rules: [{path: '**', recipients: []}]").is_err());
        assert!(cfg("bogus: 1")
            .unwrap_err()
            .message
            .contains("unknown top-level key"));
        assert!(cfg("recipients: [").unwrap_err().message.contains("line"));
        assert!(cfg("").is_err());
        let bad_glob =
            cfg("recipients: {a: age1x}\nrules: [{path: 'a[', recipients: [a]}]\n").unwrap_err();
        assert!(bad_glob.message.contains("invalid glob"), "{bad_glob}");
        // One key under two names: removing one name would keep the key.
        for keys in [
            "{a: age1xyz, b: age1xyz}",
            "{a: age1xyz, b: AGE1XYZ}",
            "{a: 'ssh-ed25519 AAAAC3Nz laptop', b: 'ssh-ed25519 AAAAC3Nz ci'}",
        ] {
            let twice = cfg(&format!(
                "recipients: {keys}\nrules: [{{path: '**', recipients: [a]}}]\n"
            ))
            .unwrap_err();
            assert!(twice.message.contains("the same key"), "{twice}");
        }
    }
}
