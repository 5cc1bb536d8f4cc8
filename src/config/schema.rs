//! `schema:` in `.seal.yaml`: per file glob, the names a sealed file must
//! (and may) hold and the format of each value, never a value itself.
//! `seal check` validates sealed files against it.
//!
//! ```yaml
//! schema:
//!   - path: "prod/*.env"
//!     required:
//!       ANTHROPIC_API_KEY:
//!         format: sk-ant-            # a literal prefix
//!         min_length: 40
//!         required_for: [deploy]
//!         description: Claude API key
//!       DATABASE_URL:
//!         format: {regex: "^postgres://"}
//!     optional: [SENTRY_DSN]
//! ```
//!
//! The first entry whose glob matches a file applies, as for `rules:`.
//! This is parsed from the text a second time with positions, so that a
//! mistake is reported with its line and column.

use globset::{GlobBuilder, GlobMatcher};
use saphyr::{MarkedYaml, Scalar, YamlData};

use super::{Config, ConfigErrorKind, FieldError};
use crate::path::PathQuery;

/// One `schema:` entry.
#[derive(Debug, Clone)]
pub struct SchemaEntry {
    /// The glob as written, relative to the `.seal.yaml` directory.
    pub path: String,
    matcher: GlobMatcher,
    /// Names a file must hold.
    pub required: Vec<SchemaName>,
    /// Names a file may hold (for `seal check --strict`), with their rules.
    pub optional: Vec<SchemaName>,
}

/// A name (a key path or a dotenv name) and the rules for its value.
#[derive(Debug, Clone)]
pub struct SchemaName {
    /// As written in `.seal.yaml`.
    pub name: String,
    pub query: PathQuery,
    pub format: Option<ValueFormat>,
    /// Fewest characters the value may have.
    pub min_length: Option<usize>,
    /// What needs it, shown in reports.
    pub required_for: Vec<String>,
    pub description: Option<String>,
}

/// What a value must look like.
#[derive(Debug, Clone)]
pub enum ValueFormat {
    /// The value starts with this text.
    Prefix(String),
    /// The value matches this regex (searched anywhere: anchor it with `^`
    /// and `$` to match the whole value).
    Regex(regex::Regex),
}

impl ValueFormat {
    /// Whether `value` has this format.
    pub fn accepts(&self, value: &str) -> bool {
        match self {
            ValueFormat::Prefix(p) => value.starts_with(p.as_str()),
            ValueFormat::Regex(r) => r.is_match(value),
        }
    }

    /// The rule as shown in messages (the pattern is from `.seal.yaml`).
    pub fn describe(&self) -> String {
        match self {
            ValueFormat::Prefix(p) => format!("prefix {p:?}"),
            ValueFormat::Regex(r) => format!("regex {:?}", r.as_str()),
        }
    }
}

impl Config {
    /// The first `schema:` entry whose glob matches `file`.
    pub fn schema_for(&self, file: &std::path::Path) -> Option<&SchemaEntry> {
        let relative = self.relative(file)?;
        self.schema.iter().find(|s| s.matcher.is_match(&relative))
    }
}

impl SchemaEntry {
    /// Every name the entry lists, required ones first.
    pub fn names(&self) -> impl Iterator<Item = &SchemaName> {
        self.required.iter().chain(&self.optional)
    }
}

/// Parse the `schema:` section of `.seal.yaml` text (already known to be
/// one valid YAML document whose top level is a mapping).
pub(super) fn parse(docs: &[MarkedYaml]) -> Result<Vec<SchemaEntry>, ConfigErrorKind> {
    super::marked_list(
        docs,
        "schema",
        "expected a list of {path, required, optional}",
        |entry, i| parse_entry(entry, &format!("schema[{i}]")),
    )
}

fn parse_entry(node: &MarkedYaml, at: &str) -> Result<SchemaEntry, FieldError> {
    let YamlData::Mapping(map) = &node.data else {
        return Err(error(
            node,
            at,
            "expected a mapping with path, required, optional",
        ));
    };
    let mut path = None;
    let mut required = Vec::new();
    let mut optional = Vec::new();
    for (k, v) in map {
        let field = text_of(k).unwrap_or_default();
        let here = format!("{at}.{field}");
        match field.as_str() {
            "path" => {
                let glob = text_of(v).ok_or_else(|| error(v, &here, "expected a file glob"))?;
                let matcher = GlobBuilder::new(&glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| error(v, &here, &format!("invalid glob: {e}")))?
                    .compile_matcher();
                path = Some((glob, matcher));
            }
            "required" => required = parse_names(v, &here)?,
            "optional" => optional = parse_names(v, &here)?,
            other => {
                return Err(error(
                    k,
                    at,
                    &format!("unknown field {other:?} (expected path, required, optional)"),
                ))
            }
        }
    }
    let (path, matcher) = path.ok_or_else(|| error(node, at, "missing `path` (a file glob)"))?;
    for r in &required {
        if let Some(o) = optional.iter().find(|o| o.query == r.query) {
            return Err(error(
                node,
                &format!("{at}.optional"),
                &format!("{:?} is listed as required and as optional", o.name),
            ));
        }
    }
    Ok(SchemaEntry {
        path,
        matcher,
        required,
        optional,
    })
}

/// `[A, B]`, or a mapping from each name to its rules (or nothing).
fn parse_names(node: &MarkedYaml, at: &str) -> Result<Vec<SchemaName>, FieldError> {
    let mut out: Vec<SchemaName> = Vec::new();
    let mut add = |key: &MarkedYaml, rules: Option<&MarkedYaml>| -> Result<(), FieldError> {
        let name = text_of(key).ok_or_else(|| error(key, at, "a name must be text"))?;
        let query = PathQuery::parse(&name)
            .map_err(|e| error(key, at, &format!("{name:?} is not a key path or name: {e}")))?;
        if out.iter().any(|n| n.query == query) {
            return Err(error(key, at, &format!("{name:?} is listed twice")));
        }
        let mut entry = SchemaName {
            name: name.clone(),
            query,
            format: None,
            min_length: None,
            required_for: Vec::new(),
            description: None,
        };
        if let Some(rules) = rules {
            parse_rules(rules, &format!("{at}.{name}"), &mut entry)?;
        }
        out.push(entry);
        Ok(())
    };
    match &node.data {
        YamlData::Sequence(items) => {
            for item in items {
                add(item, None)?;
            }
        }
        YamlData::Mapping(map) => {
            for (k, v) in map {
                add(k, Some(v))?;
            }
        }
        YamlData::Value(Scalar::Null) => {}
        _ => {
            return Err(error(
                node,
                at,
                "expected a list of names, or a mapping from each name to its rules",
            ))
        }
    }
    Ok(out)
}

fn parse_rules(node: &MarkedYaml, at: &str, entry: &mut SchemaName) -> Result<(), FieldError> {
    let map = match &node.data {
        YamlData::Value(Scalar::Null) => return Ok(()),
        YamlData::Mapping(map) => map,
        _ => {
            return Err(error(
                node,
                at,
                "expected a mapping with format, min_length, required_for, description",
            ))
        }
    };
    for (k, v) in map {
        let field = text_of(k).unwrap_or_default();
        let here = format!("{at}.{field}");
        match field.as_str() {
            "format" => entry.format = Some(parse_format(v, &here)?),
            "min_length" => {
                let n = match &v.data {
                    YamlData::Value(Scalar::Integer(n)) => usize::try_from(*n).ok(),
                    _ => None,
                };
                entry.min_length =
                    Some(n.ok_or_else(|| error(v, &here, "expected a whole number of characters"))?);
            }
            "required_for" => {
                entry.required_for = match &v.data {
                    YamlData::Sequence(items) => items
                        .iter()
                        .map(|i| text_of(i).ok_or_else(|| error(i, &here, "expected text")))
                        .collect::<Result<_, _>>()?,
                    _ => vec![text_of(v)
                        .ok_or_else(|| error(v, &here, "expected a list of names"))?],
                }
            }
            "description" => {
                entry.description =
                    Some(text_of(v).ok_or_else(|| error(v, &here, "expected text"))?)
            }
            other => {
                return Err(error(
                    k,
                    at,
                    &format!(
                        "unknown field {other:?} (expected format, min_length, required_for, description)"
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// `sk-ant-` (a literal prefix), `{prefix: sk-ant-}` or `{regex: "^…$"}`.
fn parse_format(node: &MarkedYaml, at: &str) -> Result<ValueFormat, FieldError> {
    if let Some(prefix) = text_of(node) {
        return Ok(ValueFormat::Prefix(prefix));
    }
    let expected = "expected a literal prefix, {prefix: TEXT} or {regex: PATTERN}";
    let YamlData::Mapping(map) = &node.data else {
        return Err(error(node, at, expected));
    };
    let mut entries = map.iter();
    let (Some((k, v)), None) = (entries.next(), entries.next()) else {
        return Err(error(node, at, expected));
    };
    let kind = text_of(k).unwrap_or_default();
    let here = format!("{at}.{kind}");
    let text = text_of(v).ok_or_else(|| error(v, &here, "expected text"))?;
    match kind.as_str() {
        "prefix" => Ok(ValueFormat::Prefix(text)),
        "regex" => regex::RegexBuilder::new(&text)
            // A pattern from a reviewed file, but still bounded.
            .size_limit(1 << 20)
            .build()
            .map(ValueFormat::Regex)
            .map_err(|e| {
                // The regex error is several lines drawn under the pattern.
                let reason = e.to_string();
                let last = reason.lines().last().unwrap_or("").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last);
                error(v, &here, &format!("invalid regex: {last}"))
            }),
        other => Err(error(
            k,
            at,
            &format!("unknown field {other:?} (expected prefix or regex)"),
        )),
    }
}

/// A scalar's text (a number or boolean as written); `None` for null and
/// for collections. `policy:` reads its fields with it too.
pub(super) fn text_of(node: &MarkedYaml) -> Option<String> {
    match &node.data {
        YamlData::Value(s) => Some(match s {
            Scalar::String(v) => v.to_string(),
            Scalar::Integer(i) => i.to_string(),
            Scalar::FloatingPoint(f) => f.to_string(),
            Scalar::Boolean(b) => b.to_string(),
            Scalar::Null => return None,
        }),
        YamlData::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

fn error(node: &MarkedYaml, at: &str, message: &str) -> FieldError {
    FieldError::at(node, at, message)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cfg(schema: &str) -> Result<Config, super::super::ConfigError> {
        let text =
            format!("recipients: {{a: age1x}}\nrules: [{{path: '**', recipients: [a]}}]\n{schema}");
        Config::parse(&text, Path::new("/repo/.seal.yaml"), Path::new("/repo"))
    }

    #[test]
    fn entries_names_and_rules() {
        let c = cfg("schema:\n  - path: 'prod/*.env'\n    required:\n      API_KEY:\n        format: sk-ant-\n        min_length: 40\n        required_for: [deploy, billing]\n        description: Claude\n      DB_URL: {format: {regex: '^postgres://'}}\n      PLAIN:\n    optional: [SENTRY_DSN]\n").unwrap();
        let s = c.schema_for(Path::new("/repo/prod/app.env")).unwrap();
        assert!(c.schema_for(Path::new("/repo/dev/app.env")).is_none());
        let names: Vec<_> = s.names().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["API_KEY", "DB_URL", "PLAIN", "SENTRY_DSN"]);
        let key = &s.required[0];
        assert_eq!(key.min_length, Some(40));
        assert_eq!(key.required_for, ["deploy", "billing"]);
        assert_eq!(key.description.as_deref(), Some("Claude"));
        let f = key.format.as_ref().unwrap();
        assert!(f.accepts("sk-ant-xyz") && !f.accepts("sk-xyz"));
        let r = s.required[1].format.as_ref().unwrap();
        assert!(r.accepts("postgres://h/db") && !r.accepts("mysql://postgres://"));
        assert!(s.required[2].format.is_none());
    }

    #[test]
    fn mistakes_name_line_and_column() {
        for (bad, says) in [
            (
                "schema: {a: 1}\n",
                "line 3, column 9: schema: expected a list",
            ),
            (
                "schema:\n  - required: [A]\n",
                "line 4, column 5: schema[0]: missing `path`",
            ),
            (
                "schema:\n  - path: '**'\n    requird: [A]\n",
                "line 5, column 5: schema[0]: unknown field \"requird\"",
            ),
            (
                "schema:\n  - path: '**'\n    required:\n      A: {fromat: x}\n",
                "line 6, column 11: schema[0].required.A: unknown field \"fromat\"",
            ),
            (
                "schema:\n  - path: '**'\n    required:\n      A: {format: {regex: 'a('}}\n",
                "line 6, column 27: schema[0].required.A.format.regex: invalid regex",
            ),
            (
                "schema:\n  - path: '**'\n    required: {A: {min_length: -1}}\n",
                "schema[0].required.A.min_length: expected a whole number",
            ),
            (
                "schema:\n  - path: '**'\n    required: [A, A]\n",
                "\"A\" is listed twice",
            ),
            (
                "schema:\n  - path: '**'\n    required: [A]\n    optional: [A]\n",
                "listed as required and as optional",
            ),
            ("schema:\n  - path: 'a['\n", "schema[0].path: invalid glob"),
        ] {
            let e = cfg(bad).unwrap_err().to_string();
            assert!(e.starts_with("/repo/.seal.yaml: "), "{e}");
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
