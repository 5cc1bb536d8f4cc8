//! `seal get`: one decrypted value.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use zeroize::Zeroizing;

use super::{
    check_document, display, print_stdout, refuse_value_conflicts, CliError, DocumentArg,
    FormatArg, IdentityArgs,
};
use crate::document::Opened;
use crate::format::Typed;
use crate::path::{PathQuery, Segment};

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    signed: super::SignedArgs,
    #[command(flatten)]
    pending: super::PendingArgs,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    document: DocumentArg,
    /// Print the value masked (`sk-ant…(108 chars)`): its first 6
    /// characters and its length; nothing of a value under 12 characters.
    #[arg(long)]
    masked: bool,
    /// The sealed file.
    file: PathBuf,
    /// Dotted path (`db.password`, `keys.0.id`) or JSON Pointer (`/db/password`).
    path: String,
}

pub fn run(args: GetArgs) -> Result<ExitCode, CliError> {
    let query = args.document.query(&args.path)?;
    let opened = super::open_reading(
        &args.file,
        &args.format,
        &args.identity,
        &args.signed,
        &args.pending,
        "nothing was decrypted",
        |p| overlaps(p, &query),
    )?;
    let out = extract(&opened, &args.file, &query, args.masked)?;
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether a pending value at `p` is at `query`, inside it or around it:
/// what reading `query` would show.
pub(crate) fn overlaps(p: &PathQuery, query: &PathQuery) -> bool {
    let n = p.segments.len().min(query.segments.len());
    p.doc == query.doc && p.segments[..n] == query.segments[..n]
}

/// The value at `query` followed by a newline; a mapping or sequence is
/// printed as JSON, numbers, booleans and nulls as such. `masked`: each
/// value as [`crate::mask::mask`] shows it (in a subtree, as a string).
pub(crate) fn extract(
    opened: &Opened,
    file: &Path,
    query: &PathQuery,
    masked: bool,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let name = display(file);
    check_document(&name, query, opened.format)?;
    refuse_value_conflicts(&name, opened, "")?;
    if let Some((path, group)) = opened
        .locked_paths()
        .into_iter()
        .find(|(p, _)| p.matches(query) || p.starts_with(query))
    {
        return Err(CliError::new(format!(
            "{name}: you are not a recipient of {path}: it is sealed for {}",
            group.map_or("the file's top-level recipients".to_owned(), |g| format!("key group {g}"))
        ))
        .hint("ask a member of that group for the value, or to add your key to the group in .seal.yaml"));
    }
    let values = opened
        .format
        .values(&opened.plaintext)
        .map_err(|e| CliError::doc(&name, e.into()))?;
    // A dotenv NAME may repeat and the last one counts (spec 4.3), as for
    // `set` and `exec`; YAML and JSON refuse duplicate keys.
    if let Some((_, v)) = values.iter().rev().find(|(p, _)| p.matches(query)) {
        let masked_value;
        let v = if masked {
            masked_value = crate::mask::mask(v);
            &masked_value
        } else {
            v
        };
        let mut out = Zeroizing::new(Vec::with_capacity(v.len() + 1));
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
        return Ok(out);
    }
    let mut typed = opened
        .format
        .typed_values(&opened.plaintext)
        .map_err(|e| CliError::doc(&name, e.into()))?;
    if masked {
        for (_, v) in typed.iter_mut() {
            let shown = match v {
                // Empty mappings and sequences are shape, not values.
                Typed::Literal(l) if matches!(l.as_str(), "[]" | "{}") => continue,
                Typed::Literal(t) | Typed::String(t) => crate::mask::mask(t),
            };
            *v = Typed::String(Zeroizing::new(shown));
        }
    }
    let below: Vec<_> = typed.iter().filter(|(p, _)| p.starts_with(query)).collect();
    if below.is_empty() {
        // In a YAML stream the path may be in another document.
        let elsewhere = typed.iter().find_map(|(p, _)| {
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
    let mut tree = Tree::Missing;
    for (p, v) in below {
        tree.insert(&p.segments[query.segments.len()..], v);
    }
    Ok(tree.to_json())
}

/// A subtree to print as JSON. It borrows the values, so the only copy of
/// a secret it makes is the output, which is wiped when dropped.
enum Tree<'v> {
    Missing,
    Value(&'v Typed),
    Map(Vec<(&'v str, Tree<'v>)>),
    List(Vec<Tree<'v>>),
}

impl<'v> Tree<'v> {
    /// Put `value` at `segments` below this node. Values come in document
    /// order and keys do not repeat (YAML and JSON refuse duplicates), so a
    /// key or index already present is always the last one.
    fn insert(&mut self, segments: &'v [Segment], value: &'v Typed) {
        let Some((first, rest)) = segments.split_first() else {
            *self = Tree::Value(value);
            return;
        };
        match first {
            Segment::Key(k) => {
                if !matches!(self, Tree::Map(_)) {
                    *self = Tree::Map(Vec::new());
                }
                if let Tree::Map(entries) = self {
                    if entries.last().is_none_or(|(last, _)| *last != k.as_str()) {
                        entries.push((k, Tree::Missing));
                    }
                    if let Some((_, child)) = entries.last_mut() {
                        child.insert(rest, value);
                    }
                }
            }
            Segment::Index(i) => {
                if !matches!(self, Tree::List(_)) {
                    *self = Tree::List(Vec::new());
                }
                if let Tree::List(items) = self {
                    while items.len() <= *i {
                        items.push(Tree::Missing);
                    }
                    items[*i].insert(rest, value);
                }
            }
        }
    }

    /// Pretty JSON (two-space indent) and a newline, written into a buffer
    /// sized beforehand: a growing buffer would leave copies behind.
    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut count = Count(0);
        // Writing into memory cannot fail.
        let _ = self.write(&mut count, 0);
        let mut out = Zeroizing::new(Vec::with_capacity(count.0 + 1));
        let _ = self.write(&mut *out, 0);
        out.push(b'\n');
        out
    }

    fn write(&self, out: &mut impl std::io::Write, depth: usize) -> std::io::Result<()> {
        let indent = |out: &mut dyn std::io::Write, depth: usize| {
            out.write_all(b"\n")?;
            (0..depth).try_for_each(|_| out.write_all(b"  "))
        };
        match self {
            Tree::Missing => out.write_all(b"null"),
            Tree::Value(Typed::Literal(text)) => out.write_all(text.as_bytes()),
            Tree::Value(Typed::String(text)) => write_json_string(out, text),
            Tree::Map(entries) => {
                out.write_all(b"{")?;
                for (n, (key, child)) in entries.iter().enumerate() {
                    out.write_all(if n == 0 { b"" } else { b"," })?;
                    indent(out, depth + 1)?;
                    write_json_string(out, key)?;
                    out.write_all(b": ")?;
                    child.write(out, depth + 1)?;
                }
                indent(out, depth)?;
                out.write_all(b"}")
            }
            Tree::List(items) => {
                out.write_all(b"[")?;
                for (n, child) in items.iter().enumerate() {
                    out.write_all(if n == 0 { b"" } else { b"," })?;
                    indent(out, depth + 1)?;
                    child.write(out, depth + 1)?;
                }
                indent(out, depth)?;
                out.write_all(b"]")
            }
        }
    }
}

/// `text` as a JSON string, escaped piece by piece straight into `out`.
fn write_json_string(out: &mut impl std::io::Write, text: &str) -> std::io::Result<()> {
    out.write_all(b"\"")?;
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        let escaped: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.write_all(&text.as_bytes()[plain..at])?;
        match escaped {
            Some(e) => out.write_all(e)?,
            None => write!(out, "\\u{:04x}", c as u32)?,
        }
        plain = at + c.len_utf8();
    }
    out.write_all(&text.as_bytes()[plain..])?;
    out.write_all(b"\"")
}
