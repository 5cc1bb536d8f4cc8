//! PLACEHOLDER (local only, replaced by the real parser before commit).
use crate::format::{EditError, ParseError, Scan};
use crate::metadata::Metadata;
use crate::path::{KeyPath, PathQuery};
use zeroize::Zeroizing;
pub fn scan(_src: &str) -> Result<Scan, ParseError> {
    Err(ParseError::new(1, 1, "placeholder"))
}
pub fn values(_src: &str) -> Result<Vec<(KeyPath, Zeroizing<String>)>, ParseError> {
    Err(ParseError::new(1, 1, "placeholder"))
}
pub fn attach_metadata(body: &str, _meta: &Metadata) -> Result<String, EditError> {
    Ok(body.to_owned())
}
pub fn set_value(_src: &str, _path: &PathQuery, _literal: &str) -> Result<String, EditError> {
    Err(EditError::Unsupported("placeholder".into()))
}
pub fn remove_value(_src: &str, _path: &PathQuery) -> Result<String, EditError> {
    Err(EditError::Unsupported("placeholder".into()))
}
pub fn string_literal(value: &str) -> String {
    value.to_owned()
}
