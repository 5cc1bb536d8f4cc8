//! `seal get`: one decrypted value.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{
    check_document, display, open_file, print_stdout, CliError, DocumentArg, FormatArg,
    IdentityArgs,
};
use crate::document::Opened;
use crate::path::{PathQuery, Segment};

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    document: DocumentArg,
    /// The sealed file.
    file: PathBuf,
    /// Dotted path (`db.password`, `keys.0.id`) or JSON Pointer (`/db/password`).
    path: String,
}

pub fn run(args: GetArgs) -> Result<ExitCode, CliError> {
    let query = args.document.query(&args.path)?;
    let opened = open_file(&args.file, &args.format, &args.identity)?;
    let out = extract(&opened, &args.file, &query)?;
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The value at `path` followed by a newline; a mapping or sequence is
/// printed as JSON with its scalar values as strings.
pub(crate) fn extract(
    opened: &Opened,
    file: &Path,
    query: &PathQuery,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let name = display(file);
    check_document(&name, query, opened.format)?;
    let values = opened
        .format
        .values(&opened.plaintext)
        .map_err(|e| CliError::doc(&name, e.into()))?;
    // A dotenv NAME may repeat and the last one counts (spec 4.3), as for
    // `set` and `exec`; YAML and JSON refuse duplicate keys.
    if let Some((_, v)) = values.iter().rev().find(|(p, _)| p.matches(query)) {
        let mut out = Zeroizing::new(Vec::with_capacity(v.len() + 1));
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
        return Ok(out);
    }
    let below: Vec<_> = values
        .iter()
        .filter(|(p, _)| p.starts_with(query))
        .collect();
    if below.is_empty() {
        // In a YAML stream the path may be in another document.
        let elsewhere = values.iter().find_map(|(p, _)| {
            let there = PathQuery {
                doc: p.doc,
                segments: query.segments.clone(),
            };
            (p.doc != query.doc && p.starts_with(&there)).then_some(p.doc)
        });
        let hint = match elsewhere {
            Some(doc) => format!(
                "{query} is in document {}: add --document {}",
                doc + 1,
                doc + 1
            ),
            None => "`seal decrypt FILE` shows every key path".to_owned(),
        };
        return Err(CliError::new(format!("{name}: no value at {query}")).hint(hint));
    }
    let mut tree = Value::Null;
    for (p, v) in below {
        insert(&mut tree, &p.segments[query.segments.len()..], v);
    }
    let mut out = Zeroizing::new(serde_json::to_vec_pretty(&tree).unwrap_or_default());
    out.push(b'\n');
    drop(tree);
    Ok(out)
}

fn insert(node: &mut Value, segments: &[Segment], value: &str) {
    let Some((first, rest)) = segments.split_first() else {
        *node = Value::String(value.to_owned());
        return;
    };
    match first {
        Segment::Key(k) => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            if let Value::Object(map) = node {
                insert(map.entry(k.clone()).or_insert(Value::Null), rest, value);
            }
        }
        Segment::Index(i) => {
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            if let Value::Array(items) = node {
                if items.len() <= *i {
                    items.resize(*i + 1, Value::Null);
                }
                insert(&mut items[*i], rest, value);
            }
        }
    }
}
