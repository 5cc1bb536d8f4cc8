//! seal: keep secrets in git by encrypting only the values of YAML, JSON and
//! dotenv files. See `spec/FORMAT.md` for the file format.
#![forbid(unsafe_code)]

pub mod format;
pub mod metadata;
pub mod path;
pub mod token;
