//! SOPS's dotenv syntax (SOPS `stores/dotenv/store.go`), which is not
//! seal's: `KEY=VALUE` taken literally up to the end of the line (no
//! quotes, no escapes but `\n`), `#` comment lines, and the metadata as
//! `sops_…` variables flattened with `__map_` and `__list_`. Values are
//! written back in seal's dotenv syntax, which reads them as the same
//! strings.

use zeroize::Zeroizing;

use super::metadata::{unflatten, SopsMetadata};
use super::{Class, Entry, SopsError, SopsFile};
use crate::format::{Format, ParseError};
use crate::path::KeyPath;

const PREFIX: &str = "sops_";

pub(super) fn parse(src: &str) -> Result<SopsFile<'_>, SopsError> {
    let mut entries = Vec::new();
    let mut meta = Vec::new();
    let mut comments = Vec::new();
    let mut offset = 0;
    for (n, line) in src.split('\n').enumerate() {
        let start = offset;
        offset += line.len() + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if super::cipher::looks_encrypted(comment) {
                comments.push(start..start + line.len());
            }
            continue;
        }
        let Some(eq) = line.find('=') else {
            return Err(ParseError::new(
                n + 1,
                1,
                "not a SOPS dotenv line: expected KEY=VALUE or a # comment",
            )
            .into());
        };
        let key = &line[..eq];
        let value = Zeroizing::new(line[eq + 1..].replace("\\n", "\n"));
        if let Some(name) = key.strip_prefix(PREFIX) {
            meta.push((unflatten(name), value.to_string()));
            continue;
        }
        entries.push(Entry {
            path: KeyPath::key(key),
            span: start + eq + 1..start + line.len(),
            value,
            class: Class::Text,
        });
    }
    if meta.is_empty() {
        return Err(SopsError::NotSops);
    }
    Ok(SopsFile {
        format: Format::Dotenv,
        src,
        metadata: SopsMetadata::from_entries(&meta)?,
        entries,
        comments,
        metadata_docs: Vec::new(),
    })
}

/// The text without its `sops_…` lines.
pub(super) fn strip_metadata(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    for line in text.split_inclusive('\n') {
        if !line.starts_with(PREFIX) {
            out.push_str(line);
        }
    }
    out
}
