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
//! exec:
//!   allow: [PATH]   # variables `seal exec` may set although they change how programs start
//! schema:           # names sealed files must hold (see schema.rs)
//!   - path: "prod/*.env"
//!     required: {API_KEY: {format: sk-ant-}}
//! policy:          # owners and rotation schedules (see policy.rs)
//!   - path: "prod/*.env"
//!     keys: ["STRIPE_*"]
//!     rotate_every: 90d
//! scan:
//!   allow: ["tests/fixtures/**"]   # paths `seal scan` skips
//! ```
//!
//! Rule paths are globs relative to the directory holding `.seal.yaml`; `*`
//! stays within one directory, `**` crosses directories.

mod edit;
mod policy;
mod schema;

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use saphyr::{LoadableYamlNode, Yaml};

use crate::envelope::Recipient;

pub use edit::{add_recipient, remove_recipient, RecipientEditError};
pub use policy::{parse_interval, Applied, Interval, PolicyEntry, DEFAULT_WARN_BEFORE};
pub use schema::SchemaEntry;

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
    /// `require_signed: true`: decrypt, exec, get and edit refuse a file
    /// whose signature is missing, invalid, or by a key not in `signers`.
    pub require_signed: bool,
    /// `access:`: key paths sealed for other recipients than the rule's,
    /// each a key group of the file (format version 5), in order.
    pub access: Vec<Access>,
}

/// One `access:` entry of a rule: the key paths its `keys` select (first
/// matching entry wins) are readable only by its `recipients`.
///
/// ```yaml
/// rules:
///   - path: "secrets/prod.yaml"
///     recipients: [backend]
///     access:
///       - keys: ["database.*"]
///         recipients: [dba]      # the group is named `dba`
/// ```
#[derive(Debug, Clone)]
pub struct Access {
    /// The key group's name in the file: `name:`, else the single name in
    /// `recipients`.
    pub name: String,
    /// Key-path patterns, as `encrypt`'s.
    pub keys: Vec<String>,
    /// Recipient and group names as written.
    pub recipients: Vec<String>,
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
    /// `exec.allow`: variable names `seal exec` may set from files this
    /// config covers although they change how programs start.
    pub exec_allow: Vec<String>,
    /// `schema:`: the names sealed files must hold, per file glob.
    pub schema: Vec<SchemaEntry>,
    /// `policy:`: owners, tiers and rotation schedules of values.
    pub policy: Vec<PolicyEntry>,
    /// `scan.allow`: globs (relative to the directory) `seal scan` skips.
    pub scan_allow: Vec<String>,
    /// `signers:`: names and the SSH ed25519 public keys whose signatures
    /// are trusted, in file order.
    pub signers: Vec<(String, String)>,
    scan_allow_set: globset::GlobSet,
}

/// A problem with `.seal.yaml`, naming the file; `kind` says what and
/// where in it (key path, line and column).
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", .file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    pub kind: ConfigErrorKind,
}

/// What is wrong with `.seal.yaml` (or with an edit of it). The texts are
/// the ones users see after the file name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigErrorKind {
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    #[error("{0}")]
    Syntax(YamlSyntaxError),
    #[error("the file is empty; it needs `recipients:` and `rules:`")]
    Empty,
    #[error("expected one YAML document")]
    SeveralDocuments,
    #[error("the top level must be a mapping with `recipients`, `groups` and `rules`")]
    TopLevelNotMapping,
    #[error(
        "unknown top-level key {0:?} (expected recipients, groups, rules, exec, schema, policy, scan, signers)"
    )]
    UnknownTopLevelKey(String),
    #[error("`exec` must be a mapping with `allow`")]
    ExecNotMapping,
    #[error("exec: unknown key {0:?} (expected allow)")]
    ExecUnknownKey(String),
    #[error("exec.allow: expected a list of variable names")]
    ExecAllowNotList,
    #[error("`recipients` must map names to public keys")]
    RecipientsNotMapping,
    #[error("recipients: a name must be text")]
    RecipientNameNotText,
    #[error("recipients.{name}: expected a public key (age1…, ssh-ed25519 …, ssh-rsa …)")]
    RecipientKeyNotText { name: String },
    #[error("`groups` must map group names to lists of recipient names")]
    GroupsNotMapping,
    #[error("groups: a group name must be text")]
    GroupNameNotText,
    #[error("groups.{group}: expected a list of names")]
    GroupMembersNotList { group: String },
    #[error("`rules` must be a list of {{path, recipients, encrypt}}")]
    RulesNotList,
    #[error("rules[{index}]: expected a mapping with path and recipients")]
    RuleNotMapping { index: usize },
    #[error("rules[{index}].path: expected a glob")]
    RulePathNotText { index: usize },
    #[error("rules[{index}].recipients: expected a list of names")]
    RuleRecipientsNotList { index: usize },
    #[error("rules[{index}].encrypt: expected a list of key-path patterns")]
    RuleEncryptNotList { index: usize },
    #[error("rules[{index}].encrypt: {error}")]
    RulePattern {
        index: usize,
        error: crate::select::PatternError,
    },
    #[error("rules[{index}].access[{entry}]: {message}")]
    RuleAccess {
        index: usize,
        entry: usize,
        message: String,
    },
    #[error(
        "rules[{index}]: unknown key {key:?} (expected path, recipients, encrypt, access, require_signed)"
    )]
    RuleUnknownKey { index: usize, key: String },
    #[error("rules[{index}].require_signed: expected true or false")]
    RuleRequireSignedNotBool { index: usize },
    #[error("`signers` must map names to SSH ed25519 public keys (or list recipient names whose key is one)")]
    SignersNotMapping,
    #[error("signers.{name}: expected an ssh-ed25519 public key line, or the name of a recipient whose key is one")]
    SignerKey { name: String },
    #[error("rules[{index}]: missing `path`")]
    RuleMissingPath { index: usize },
    #[error("rules[{index}].path: invalid glob: {error}")]
    RuleGlob { index: usize, error: globset::Error },
    #[error("`scan` must be a mapping with `allow: [GLOB, ...]`")]
    ScanNotMapping,
    #[error("scan: unknown key {0:?} (expected allow)")]
    ScanUnknownKey(String),
    #[error("scan.allow: expected a list of globs")]
    ScanAllowNotList,
    #[error("scan.allow: invalid glob: {0}")]
    ScanAllowGlob(globset::Error),
    #[error("recipients {first:?} and {second:?} have the same key; keep one name per key, so that removing a name removes the key")]
    SameKey { first: String, second: String },
    #[error("the name {0:?} is used twice (recipient and group names share one namespace)")]
    NameTwice(String),
    #[error("groups.{group}: unknown recipient or group {member:?}")]
    GroupUnknownMember { group: String, member: String },
    #[error("rules[{index}] ({path}): no recipients")]
    RuleNoRecipients { index: usize, path: String },
    #[error("rules[{index}] ({path}): unknown recipient or group {name:?}")]
    RuleUnknownName {
        index: usize,
        path: String,
        name: String,
    },
    #[error("rules[{index}] ({path}): {error}")]
    RuleResolve {
        index: usize,
        path: String,
        error: Box<ConfigErrorKind>,
    },
    #[error("unknown recipient or group {0:?}")]
    UnknownName(String),
    #[error(transparent)]
    Field(FieldError),
    #[error("group {0:?} contains itself")]
    GroupCycle(String),
    /// The rest are refused edits (`seal recipients add/remove`).
    #[error(transparent)]
    Edit(#[from] RecipientEditError),
}

/// Where the YAML parser stopped and why, as `.seal.yaml` and `.sops.yaml`
/// (`seal import --sops-config`) both report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlSyntaxError {
    pub line: usize,
    /// 1-based (saphyr counts from 0).
    pub column: usize,
    pub message: String,
}

impl From<saphyr::ScanError> for YamlSyntaxError {
    fn from(e: saphyr::ScanError) -> Self {
        YamlSyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        }
    }
}

/// A mistake in a section read with positions (`schema:`, `policy:`), at
/// a line and column of `.seal.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {at}: {message}")]
pub struct FieldError {
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Where in the section (`schema[0].required.API_KEY.format`,
    /// `policy[0].rotate_every`).
    pub at: String,
    pub message: String,
}

impl FieldError {
    pub(crate) fn at(node: &saphyr::MarkedYaml, at: &str, message: &str) -> Self {
        FieldError {
            line: node.span.start.line(),
            column: node.span.start.col() + 1,
            at: at.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// The entries of the top-level list `name` in `.seal.yaml` (`docs`, read
/// with positions for errors; one document whose top level is a mapping),
/// each turned into a `T` by `entry(node, index)`; none when the key is
/// absent. `expected` says what the list should be when it is not.
fn marked_list<T>(
    docs: &[saphyr::MarkedYaml],
    name: &str,
    expected: &str,
    entry: impl Fn(&saphyr::MarkedYaml, usize) -> Result<T, FieldError>,
) -> Result<Vec<T>, ConfigErrorKind> {
    use saphyr::{Scalar, YamlData};
    let Some(YamlData::Mapping(root)) = docs.first().map(|d| &d.data) else {
        return Ok(Vec::new());
    };
    let Some((key, node)) = root
        .iter()
        .find(|(k, _)| schema::text_of(k).as_deref() == Some(name))
    else {
        return Ok(Vec::new());
    };
    let YamlData::Sequence(entries) = &node.data else {
        // `name:` with nothing after it: point at the key.
        let at = if matches!(node.data, YamlData::Value(Scalar::Null)) {
            key
        } else {
            node
        };
        return Err(ConfigErrorKind::Field(FieldError::at(at, name, expected)));
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| entry(e, i))
        .collect::<Result<_, _>>()
        .map_err(ConfigErrorKind::Field)
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
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            kind: ConfigErrorKind::Read(e),
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
        let err = |kind: ConfigErrorKind| ConfigError {
            file: file.to_path_buf(),
            kind,
        };
        let docs = Yaml::load_from_str(text).map_err(|e| err(ConfigErrorKind::Syntax(e.into())))?;
        let root = match docs.as_slice() {
            [root] => root,
            [] => return Err(err(ConfigErrorKind::Empty)),
            _ => return Err(err(ConfigErrorKind::SeveralDocuments)),
        };
        let Some(map) = root.as_mapping() else {
            return Err(err(ConfigErrorKind::TopLevelNotMapping));
        };
        // `schema:` and `policy:` are read again with positions for their
        // errors; the text is loaded so once, and only when one is there.
        let marked_docs: std::cell::OnceCell<Vec<saphyr::MarkedYaml>> = std::cell::OnceCell::new();
        let marked = || -> Result<&[saphyr::MarkedYaml], ConfigError> {
            if let Some(docs) = marked_docs.get() {
                return Ok(docs);
            }
            let docs = saphyr::MarkedYaml::load_from_str(text)
                .map_err(|e| err(ConfigErrorKind::Syntax(e.into())))?;
            Ok(marked_docs.get_or_init(|| docs))
        };
        let mut cfg = Config {
            file: file.to_path_buf(),
            dir: dir.to_path_buf(),
            recipients: Vec::new(),
            groups: Vec::new(),
            rules: Vec::new(),
            exec_allow: Vec::new(),
            schema: Vec::new(),
            policy: Vec::new(),
            scan_allow: Vec::new(),
            scan_allow_set: globset::GlobSet::empty(),
            signers: Vec::new(),
        };
        let mut signers = None;
        for (k, v) in map {
            let key = scalar_text(k).unwrap_or_default();
            match key.as_str() {
                "recipients" => cfg.recipients = parse_recipients(v).map_err(err)?,
                "groups" => {
                    let Some(groups) = v.as_mapping() else {
                        return Err(err(ConfigErrorKind::GroupsNotMapping));
                    };
                    for (g, members) in groups {
                        let group = scalar_text(g).ok_or(err(ConfigErrorKind::GroupNameNotText))?;
                        let Some(members) = string_list(members) else {
                            return Err(err(ConfigErrorKind::GroupMembersNotList { group }));
                        };
                        cfg.groups.push((group, members));
                    }
                }
                "rules" => {
                    let Some(rules) = v.as_sequence() else {
                        return Err(err(ConfigErrorKind::RulesNotList));
                    };
                    for (i, rule) in rules.iter().enumerate() {
                        cfg.rules.push(parse_rule(rule, i).map_err(err)?);
                    }
                }
                "exec" => cfg.exec_allow = parse_exec(v).map_err(err)?,
                "schema" => cfg.schema = schema::parse(marked()?).map_err(err)?,
                "policy" => cfg.policy = policy::parse(marked()?).map_err(err)?,
                "scan" => {
                    (cfg.scan_allow, cfg.scan_allow_set) = parse_scan(v).map_err(err)?;
                }
                "signers" => signers = Some(v),
                other => return Err(err(ConfigErrorKind::UnknownTopLevelKey(other.to_owned()))),
            }
        }
        if let Some(node) = signers {
            cfg.signers = parse_signers(node, &cfg.recipients).map_err(err)?;
        }
        cfg.check().map_err(err)?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigErrorKind> {
        // One key under two names would survive removing either name.
        let mut keys = std::collections::HashMap::new();
        for (name, key) in &self.recipients {
            if let Some(other) = keys.insert(Recipient::normalize_key(key), name) {
                return Err(ConfigErrorKind::SameKey {
                    first: other.clone(),
                    second: name.clone(),
                });
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
                return Err(ConfigErrorKind::NameTwice(n.clone()));
            }
        }
        for (g, members) in &self.groups {
            for m in members {
                if !names.contains(m.as_str()) {
                    return Err(ConfigErrorKind::GroupUnknownMember {
                        group: g.clone(),
                        member: m.clone(),
                    });
                }
            }
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let path = || rule.path.clone();
            if rule.recipients.is_empty() {
                return Err(ConfigErrorKind::RuleNoRecipients {
                    index,
                    path: path(),
                });
            }
            for m in &rule.recipients {
                if !names.contains(m.as_str()) {
                    return Err(ConfigErrorKind::RuleUnknownName {
                        index,
                        path: path(),
                        name: m.clone(),
                    });
                }
            }
            self.resolve(&rule.recipients)
                .map_err(|e| ConfigErrorKind::RuleResolve {
                    index,
                    path: path(),
                    error: Box::new(e.kind),
                })?;
            for a in &rule.access {
                self.resolve(&a.recipients)
                    .map_err(|e| ConfigErrorKind::RuleResolve {
                        index,
                        path: path(),
                        error: Box::new(e.kind),
                    })?;
            }
        }
        Ok(())
    }

    /// The name `.seal.yaml` gives the recipient `key` (SSH comments
    /// ignored), if it names it.
    pub fn name_of(&self, key: &str) -> Option<&str> {
        self.recipients
            .iter()
            .find(|(_, k)| Recipient::same_key(k, key))
            .map(|(n, _)| n.as_str())
    }

    /// The name `signers:` gives the SSH key `key` (comments ignored).
    pub fn signer_name(&self, key: &str) -> Option<&str> {
        self.signers
            .iter()
            .find(|(_, k)| crate::signing::same_key(k, key))
            .map(|(n, _)| n.as_str())
    }

    /// The first rule whose glob matches `file`, if `file` is under the
    /// config's directory.
    pub fn rule_for(&self, file: &Path) -> Option<&Rule> {
        let relative = self.relative(file)?;
        self.rules.iter().find(|r| r.matcher.is_match(&relative))
    }

    /// Whether `seal scan` skips `file` (a `scan.allow` glob matches it).
    pub fn scan_allows(&self, file: &Path) -> bool {
        !self.scan_allow.is_empty()
            && self
                .relative(file)
                .is_some_and(|r| self.scan_allow_set.is_match(&r))
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
    pub fn resolve(&self, names: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for n in names {
            self.expand(n, &mut Vec::new(), &mut out)
                .map_err(|kind| ConfigError {
                    file: self.file.clone(),
                    kind,
                })?;
        }
        Ok(out)
    }

    fn expand(
        &self,
        name: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), ConfigErrorKind> {
        if let Some((_, key)) = self.recipients.iter().find(|(n, _)| n == name) {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.to_owned(), key.clone()));
            }
            return Ok(());
        }
        let Some((_, members)) = self.groups.iter().find(|(g, _)| g == name) else {
            return Err(ConfigErrorKind::UnknownName(name.to_owned()));
        };
        if stack.iter().any(|s| s == name) {
            return Err(ConfigErrorKind::GroupCycle(name.to_owned()));
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

fn parse_exec(node: &Yaml) -> Result<Vec<String>, ConfigErrorKind> {
    let map = node.as_mapping().ok_or(ConfigErrorKind::ExecNotMapping)?;
    let mut allow = Vec::new();
    for (k, v) in map {
        match scalar_text(k).unwrap_or_default().as_str() {
            "allow" => allow = string_list(v).ok_or(ConfigErrorKind::ExecAllowNotList)?,
            other => return Err(ConfigErrorKind::ExecUnknownKey(other.to_owned())),
        }
    }
    Ok(allow)
}

fn parse_recipients(node: &Yaml) -> Result<Vec<(String, String)>, ConfigErrorKind> {
    let map = node
        .as_mapping()
        .ok_or(ConfigErrorKind::RecipientsNotMapping)?;
    let mut out = Vec::new();
    for (k, v) in map {
        let name = scalar_text(k).ok_or(ConfigErrorKind::RecipientNameNotText)?;
        let Some(key) = scalar_text(v) else {
            return Err(ConfigErrorKind::RecipientKeyNotText { name });
        };
        out.push((name, key.trim().to_owned()));
    }
    Ok(out)
}

/// The `scan:` section: `allow:` globs for `seal scan` to skip.
fn parse_scan(node: &Yaml) -> Result<(Vec<String>, globset::GlobSet), ConfigErrorKind> {
    let map = node.as_mapping().ok_or(ConfigErrorKind::ScanNotMapping)?;
    let mut allow = Vec::new();
    for (k, v) in map {
        match scalar_text(k).unwrap_or_default().as_str() {
            "allow" => allow = string_list(v).ok_or(ConfigErrorKind::ScanAllowNotList)?,
            other => return Err(ConfigErrorKind::ScanUnknownKey(other.to_owned())),
        }
    }
    let mut set = globset::GlobSetBuilder::new();
    for glob in &allow {
        set.add(
            GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(ConfigErrorKind::ScanAllowGlob)?,
        );
    }
    let set = set.build().map_err(ConfigErrorKind::ScanAllowGlob)?;
    Ok((allow, set))
}

fn parse_rule(node: &Yaml, index: usize) -> Result<Rule, ConfigErrorKind> {
    let map = node
        .as_mapping()
        .ok_or(ConfigErrorKind::RuleNotMapping { index })?;
    let mut path = None;
    let mut recipients = Vec::new();
    let mut encrypt = Vec::new();
    let mut require_signed = false;
    let mut access = Vec::new();
    for (k, v) in map {
        match scalar_text(k).unwrap_or_default().as_str() {
            "access" => access = parse_access(v, index)?,
            "require_signed" => {
                require_signed = match v {
                    Yaml::Value(saphyr::Scalar::Boolean(b)) => *b,
                    _ => return Err(ConfigErrorKind::RuleRequireSignedNotBool { index }),
                }
            }
            "path" => {
                path = Some(scalar_text(v).ok_or(ConfigErrorKind::RulePathNotText { index })?)
            }
            "recipients" => {
                recipients =
                    string_list(v).ok_or(ConfigErrorKind::RuleRecipientsNotList { index })?
            }
            "encrypt" => {
                encrypt = string_list(v).ok_or(ConfigErrorKind::RuleEncryptNotList { index })?;
                for p in &encrypt {
                    crate::select::validate(p)
                        .map_err(|error| ConfigErrorKind::RulePattern { index, error })?;
                }
            }
            other => {
                return Err(ConfigErrorKind::RuleUnknownKey {
                    index,
                    key: other.to_owned(),
                })
            }
        }
    }
    let path = path.ok_or(ConfigErrorKind::RuleMissingPath { index })?;
    let matcher = GlobBuilder::new(&path)
        .literal_separator(true)
        .build()
        .map_err(|error| ConfigErrorKind::RuleGlob { index, error })?
        .compile_matcher();
    Ok(Rule {
        path,
        matcher,
        recipients,
        encrypt,
        require_signed,
        access,
    })
}

fn parse_access(node: &Yaml, index: usize) -> Result<Vec<Access>, ConfigErrorKind> {
    let fail = |entry: usize, message: &str| ConfigErrorKind::RuleAccess {
        index,
        entry,
        message: message.to_owned(),
    };
    let entries = node
        .as_sequence()
        .ok_or_else(|| fail(0, "expected a list of {keys, recipients, name}"))?;
    let mut out: Vec<Access> = Vec::new();
    for (entry, item) in entries.iter().enumerate() {
        let map = item
            .as_mapping()
            .ok_or_else(|| fail(entry, "expected a mapping with keys and recipients"))?;
        let (mut name, mut keys, mut recipients) = (None, Vec::new(), Vec::new());
        for (k, v) in map {
            match scalar_text(k).unwrap_or_default().as_str() {
                "name" => name = Some(scalar_text(v).ok_or_else(|| fail(entry, "name: expected text"))?),
                "keys" => {
                    keys = string_list(v)
                        .ok_or_else(|| fail(entry, "keys: expected a list of key-path patterns"))?
                }
                "recipients" => {
                    recipients = string_list(v)
                        .ok_or_else(|| fail(entry, "recipients: expected a list of names"))?
                }
                other => {
                    return Err(fail(
                        entry,
                        &format!("unknown key {other:?} (expected keys, recipients, name)"),
                    ))
                }
            }
        }
        if keys.is_empty() {
            return Err(fail(entry, "keys: list at least one key-path pattern"));
        }
        for p in &keys {
            crate::select::validate(p).map_err(|e| fail(entry, &format!("keys: {e}")))?;
        }
        if recipients.is_empty() {
            return Err(fail(entry, "recipients: list at least one name"));
        }
        let name = match (name, recipients.as_slice()) {
            (Some(n), _) => n,
            (None, [one]) => one.clone(),
            (None, _) => return Err(fail(entry, "name: needed when recipients lists several names")),
        };
        if !crate::document::valid_group_name(&name) {
            return Err(fail(
                entry,
                "name: a key group's name is 1 to 64 characters of A-Z a-z 0-9 . _ - (give one with `name:`)",
            ));
        }
        if out.iter().any(|a| a.name == name) {
            return Err(fail(entry, &format!("name {name:?} is used by an earlier entry")));
        }
        out.push(Access {
            name,
            keys,
            recipients,
        });
    }
    Ok(out)
}

/// `signers:` maps names to SSH ed25519 key lines; a value (or, in the
/// list form, an item) that is a recipient's name takes that recipient's
/// key, which must be an ssh-ed25519 key.
fn parse_signers(
    node: &Yaml,
    recipients: &[(String, String)],
) -> Result<Vec<(String, String)>, ConfigErrorKind> {
    let entries: Vec<(String, String)> = if let Some(map) = node.as_mapping() {
        let mut out = Vec::new();
        for (k, v) in map {
            let name = scalar_text(k).ok_or(ConfigErrorKind::SignersNotMapping)?;
            let value = scalar_text(v).unwrap_or_else(|| name.clone());
            out.push((name, value));
        }
        out
    } else if let Some(names) = string_list(node) {
        names.into_iter().map(|n| (n.clone(), n)).collect()
    } else {
        return Err(ConfigErrorKind::SignersNotMapping);
    };
    entries
        .into_iter()
        .map(|(name, value)| {
            let key = match recipients.iter().find(|(n, _)| *n == value) {
                Some((_, key)) => key.clone(),
                None => value.trim().to_owned(),
            };
            if !key.starts_with("ssh-ed25519 ") || crate::signing::fingerprint(&key).is_none() {
                return Err(ConfigErrorKind::SignerKey { name });
            }
            Ok((name, key))
        })
        .collect()
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
            unknown.to_string().contains("rules[0]") && unknown.to_string().contains("\"b\""),
            "{unknown}"
        );
        let cycle = cfg("recipients: {a: age1x}\ngroups: {g: [h], h: [g]}\nrules: [{path: '**', recipients: [g]}]\n").unwrap_err();
        assert!(cycle.to_string().contains("contains itself"), "{cycle}");
        assert!(cfg("rules: [{path: '**', recipients: []}]").is_err());
        assert!(cfg("bogus: 1")
            .unwrap_err()
            .to_string()
            .contains("unknown top-level key"));
        assert!(cfg("recipients: [")
            .unwrap_err()
            .to_string()
            .contains("line"));
        assert!(cfg("").is_err());
        let exec = cfg("recipients: {a: age1x}\nrules: [{path: '**', recipients: [a]}]\nexec:\n  allow: [PATH, LD_LIBRARY_PATH]\n").unwrap();
        assert_eq!(exec.exec_allow, ["PATH", "LD_LIBRARY_PATH"]);
        for (bad, says) in [
            ("exec: [PATH]", "`exec` must be a mapping"),
            ("exec: {alow: [PATH]}", "unknown key \"alow\""),
            ("exec: {allow: {PATH: 1}}", "exec.allow: expected a list"),
        ] {
            let e = cfg(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let allow = cfg("scan:\n  allow: ['fixtures/**', '*.md']\n").unwrap();
        assert!(allow.scan_allows(Path::new("/repo/fixtures/a/b.env")));
        assert!(allow.scan_allows(Path::new("/repo/README.md")));
        assert!(!allow.scan_allows(Path::new("/repo/docs/README.md")));
        assert!(!allow.scan_allows(Path::new("/repo/.env")));
        for bad in [
            "scan: [a]",
            "scan: {deny: [a]}",
            "scan: {allow: {a: 1}}",
            "scan: {allow: ['a[']}",
        ] {
            assert!(cfg(bad).is_err(), "{bad}");
        }
        let bad_glob =
            cfg("recipients: {a: age1x}\nrules: [{path: 'a[', recipients: [a]}]\n").unwrap_err();
        assert!(bad_glob.to_string().contains("invalid glob"), "{bad_glob}");
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
            assert!(twice.to_string().contains("the same key"), "{twice}");
        }
    }
}
