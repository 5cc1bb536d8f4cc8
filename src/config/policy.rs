//! `policy:` in `.seal.yaml`: who owns each secret, how critical it is,
//! how often it must be rotated and how. `seal status` reads it.
//!
//! ```yaml
//! policy:
//!   - path: "**"                  # file glob, as for rules (default: every file)
//!     warn_before: 30d
//!     owner: platform@example.com
//!   - path: "prod/*.env"
//!     keys: ["STRIPE_*", "db.password"]   # key-path patterns (default: every value)
//!     rotate_every: 90d
//!     tier: critical
//!     note: https://wiki.example.com/rotate-stripe
//! ```
//!
//! Every entry that matches a value applies, field by field, and where
//! several set a field the last of them wins: write general entries first
//! and specific ones after. Parsed from the text with positions, like
//! `schema:`, so a mistake is reported with its line and column.

use globset::{GlobBuilder, GlobMatcher};
use saphyr::{MarkedYaml, YamlData};

use super::schema::text_of;
use super::{Config, ConfigErrorKind, FieldError};
use crate::path::KeyPath;

/// `warn_before` when no entry sets it.
pub const DEFAULT_WARN_BEFORE: &str = "14d";

/// One `policy:` entry.
#[derive(Debug, Clone)]
pub struct PolicyEntry {
    /// `policy[N]`, for messages.
    pub index: usize,
    /// The file glob as written (`**` when left out).
    pub path: String,
    matcher: GlobMatcher,
    /// Key-path patterns (spec/FORMAT.md section 5 syntax); empty = all.
    pub keys: Vec<String>,
    pub rotate_every: Option<Interval>,
    pub warn_before: Option<Interval>,
    pub owner: Option<String>,
    pub tier: Option<String>,
    pub note: Option<String>,
    /// Where the entry starts in `.seal.yaml`.
    pub line: usize,
}

/// A duration as written (`90d`, `6 months`) and in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub text: String,
    pub seconds: u64,
}

/// What the policy says about one value: each field from the last
/// matching entry that sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub rotate_every: Option<Interval>,
    pub warn_before: Option<Interval>,
    pub owner: Option<String>,
    pub tier: Option<String>,
    pub note: Option<String>,
    /// Indices of the entries that matched.
    pub entries: Vec<usize>,
}

impl Config {
    /// What the policy says about the value at `path` of `file`; `None`
    /// when no entry matches it.
    #[cfg(test)]
    pub fn policy_for(&self, file: &std::path::Path, path: &KeyPath) -> Option<Applied> {
        let relative = self.relative(file)?;
        self.policy_for_relative(&relative, path)
    }

    /// [`Config::policy_for`] for a file named relative to the config
    /// directory.
    pub fn policy_for_relative(&self, relative: &str, path: &KeyPath) -> Option<Applied> {
        let mut out = Applied::default();
        for e in &self.policy {
            if !e.matcher.is_match(relative) || !crate::select::selected(&e.keys, path) {
                continue;
            }
            out.entries.push(e.index);
            set(&mut out.rotate_every, &e.rotate_every);
            set(&mut out.warn_before, &e.warn_before);
            set(&mut out.owner, &e.owner);
            set(&mut out.tier, &e.tier);
            set(&mut out.note, &e.note);
        }
        (!out.entries.is_empty()).then_some(out)
    }
}

/// A field of a later entry overrides an earlier one's.
fn set<T: Clone>(slot: &mut Option<T>, v: &Option<T>) {
    if v.is_some() {
        slot.clone_from(v);
    }
}

/// Parse a duration: a whole number and a unit, with or without a space:
/// `h`/`hours`, `d`/`days`, `w`/`weeks`, `mo`/`months` (30 days),
/// `y`/`years` (365 days). `m` alone is refused (minutes or months?).
pub fn parse_interval(text: &str) -> Result<Interval, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let unit = unit.trim_start();
    let hint = "write a whole number and a unit: 12h, 90d, 2w, 6 months, 1y";
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; {hint}"))?;
    let day = 86_400;
    let per = match unit.to_ascii_lowercase().as_str() {
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => day,
        "w" | "week" | "weeks" => 7 * day,
        "mo" | "month" | "months" => 30 * day,
        "y" | "year" | "years" => 365 * day,
        "m" => {
            return Err(format!(
                "{text:?}: `m` could be minutes or months; write `mo` or `months`"
            ))
        }
        "" => return Err(format!("{text:?} has no unit; {hint}")),
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; {hint}")),
    };
    if n == 0 {
        return Err(format!("{text:?} is zero; {hint}"));
    }
    let seconds = n
        .checked_mul(per)
        .filter(|s| *s <= 1000 * 365 * day)
        .ok_or_else(|| format!("{text:?} is more than 1000 years"))?;
    Ok(Interval {
        text: t.to_owned(),
        seconds,
    })
}

/// Parse the `policy:` section of `.seal.yaml` text (already known to be
/// one valid YAML document whose top level is a mapping).
pub(super) fn parse(docs: &[MarkedYaml]) -> Result<Vec<PolicyEntry>, ConfigErrorKind> {
    super::marked_list(
        docs,
        "policy",
        "expected a list of entries: `- path: GLOB` with keys, rotate_every, warn_before, owner, tier, note",
        parse_entry,
    )
}

const FIELDS: &str = "path, keys, rotate_every, warn_before, owner, tier, note";

fn parse_entry(node: &MarkedYaml, index: usize) -> Result<PolicyEntry, FieldError> {
    let at = format!("policy[{index}]");
    let YamlData::Mapping(map) = &node.data else {
        return Err(error(
            node,
            &at,
            &format!("expected a mapping with {FIELDS}"),
        ));
    };
    let mut entry = PolicyEntry {
        index,
        path: "**".to_owned(),
        matcher: glob("**").map_err(|e| error(node, &at, &e))?,
        keys: Vec::new(),
        rotate_every: None,
        warn_before: None,
        owner: None,
        tier: None,
        note: None,
        line: node.span.start.line(),
    };
    for (k, v) in map {
        let field = text_of(k).unwrap_or_default();
        let here = format!("{at}.{field}");
        let text = || text_of(v).ok_or_else(|| error(v, &here, "expected text"));
        match field.as_str() {
            "path" => {
                let g = text_of(v).ok_or_else(|| error(v, &here, "expected a file glob"))?;
                entry.matcher = glob(&g).map_err(|e| error(v, &here, &e))?;
                entry.path = g;
            }
            "keys" => entry.keys = parse_keys(v, &here)?,
            "rotate_every" => {
                entry.rotate_every =
                    Some(parse_interval(&text()?).map_err(|e| error(v, &here, &e))?)
            }
            "warn_before" => {
                entry.warn_before = Some(parse_interval(&text()?).map_err(|e| error(v, &here, &e))?)
            }
            "owner" => entry.owner = Some(text()?),
            "tier" => entry.tier = Some(text()?),
            "note" => entry.note = Some(text()?),
            other => {
                return Err(error(
                    k,
                    &at,
                    &format!("unknown field {other:?} (expected {FIELDS})"),
                ))
            }
        }
    }
    Ok(entry)
}

/// A file glob relative to the config directory; one that names an
/// absolute path or leaves the directory can never match.
fn glob(g: &str) -> Result<GlobMatcher, String> {
    if g.starts_with('/') || g.split('/').any(|s| s == "..") {
        return Err(format!(
            "{g:?} can never match: globs are relative to the directory of .seal.yaml and stay below it; write e.g. \"prod/*.env\" or \"**\""
        ));
    }
    if g.is_empty() {
        return Err("an empty glob matches no file; write \"**\" for every file".into());
    }
    GlobBuilder::new(g)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid glob: {e}"))
}

/// `keys`: one pattern or a list, each a key-path pattern (dotted, `*`
/// within a segment, `**` across segments) or a dotenv name.
fn parse_keys(node: &MarkedYaml, at: &str) -> Result<Vec<String>, FieldError> {
    let items: Vec<&MarkedYaml> = match &node.data {
        YamlData::Sequence(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for item in items {
        let p = text_of(item).ok_or_else(|| {
            error(
                item,
                at,
                "expected key-path patterns, e.g. [\"db.password\", \"*_KEY\"]",
            )
        })?;
        crate::select::validate(&p).map_err(|e| {
            error(
                item,
                at,
                &format!("{e}: it can never match; write dotted segments such as \"db.*\" or \"**.password\""),
            )
        })?;
        out.push(p);
    }
    Ok(out)
}

fn error(node: &MarkedYaml, at: &str, message: &str) -> FieldError {
    FieldError::at(node, at, message)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cfg(policy: &str) -> Result<Config, super::super::ConfigError> {
        let text =
            format!("recipients: {{a: age1x}}\nrules: [{{path: '**', recipients: [a]}}]\n{policy}");
        Config::parse(&text, Path::new("/repo/.seal.yaml"), Path::new("/repo"))
    }

    #[test]
    fn durations() {
        for (text, days) in [
            ("90d", 90),
            ("90 days", 90),
            ("1 day", 1),
            ("2w", 14),
            ("6 months", 180),
            ("6mo", 180),
            ("1y", 365),
            ("2 years", 730),
        ] {
            assert_eq!(
                parse_interval(text).unwrap().seconds,
                days * 86_400,
                "{text}"
            );
        }
        assert_eq!(parse_interval("12h").unwrap().seconds, 12 * 3600);
        for (bad, says) in [
            ("90", "no unit"),
            ("6m", "`mo`"),
            ("d", "not a duration"),
            ("-1d", "not a duration"),
            ("1.5d", "unknown unit"),
            ("3 fortnights", "unknown unit"),
            ("0d", "zero"),
            ("99999999999y", "more than 1000 years"),
        ] {
            let e = parse_interval(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_last_matching_entry_wins_per_field() {
        let c = cfg("policy:\n  - owner: ops\n    warn_before: 30d\n    rotate_every: 1y\n  - path: 'prod/*.env'\n    keys: ['STRIPE_*']\n    rotate_every: 90d\n    tier: critical\n  - keys: [db]\n    owner: dba\n").unwrap();
        let stripe = c
            .policy_for(Path::new("/repo/prod/app.env"), &KeyPath::key("STRIPE_KEY"))
            .unwrap();
        assert_eq!(stripe.rotate_every.unwrap().text, "90d");
        assert_eq!(stripe.warn_before.unwrap().text, "30d");
        assert_eq!(stripe.owner.as_deref(), Some("ops"));
        assert_eq!(stripe.tier.as_deref(), Some("critical"));
        assert_eq!(stripe.entries, [0, 1]);
        let other = c
            .policy_for(Path::new("/repo/dev/app.env"), &KeyPath::key("STRIPE_KEY"))
            .unwrap();
        assert_eq!(other.rotate_every.unwrap().text, "1y");
        assert_eq!(other.tier, None);
        let db = KeyPath::new(
            0,
            vec![
                crate::path::Segment::Key("db".into()),
                crate::path::Segment::Key("password".into()),
            ],
        );
        let db = c.policy_for(Path::new("/repo/x.yaml"), &db).unwrap();
        assert_eq!(db.owner.as_deref(), Some("dba"));
        assert_eq!(db.entries, [0, 2]);
        let none = cfg("policy:\n  - path: 'prod/**'\n    owner: x\n").unwrap();
        assert!(none
            .policy_for(Path::new("/repo/dev/a.env"), &KeyPath::key("A"))
            .is_none());
    }

    #[test]
    fn mistakes_name_line_and_column() {
        for (bad, says) in [
            (
                "policy: {a: 1}\n",
                "line 3, column 9: policy: expected a list",
            ),
            (
                "policy:\n  - rotate_evry: 90d\n",
                "line 4, column 5: policy[0]: unknown field \"rotate_evry\" (expected path, keys",
            ),
            (
                "policy:\n  - rotate_every: 90\n",
                "line 4, column 19: policy[0].rotate_every: \"90\" has no unit",
            ),
            (
                "policy:\n  - owner: a\n  - warn_before: 3 fortnights\n",
                "line 5, column 18: policy[1].warn_before: \"3 fortnights\": unknown unit",
            ),
            (
                "policy:\n  - path: '/etc/*.env'\n",
                "line 4, column 11: policy[0].path: \"/etc/*.env\" can never match",
            ),
            (
                "policy:\n  - path: '../x/**'\n",
                "policy[0].path: \"../x/**\" can never match",
            ),
            ("policy:\n  - path: 'a['\n", "policy[0].path: invalid glob"),
            (
                "policy:\n  - keys: ['db..password']\n",
                "line 4, column 12: policy[0].keys: invalid key-path pattern",
            ),
            (
                "policy:\n  - owner: [a, b]\n",
                "policy[0].owner: expected text",
            ),
            ("policy:\n  - 1\n", "policy[0]: expected a mapping"),
        ] {
            let e = cfg(bad).unwrap_err().to_string();
            assert!(e.starts_with("/repo/.seal.yaml: "), "{e}");
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
