//! seal: keep secrets in git by encrypting only the values of YAML, JSON and
//! dotenv files. See `spec/FORMAT.md` for the file format.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod crypto;
pub mod document;
pub mod edit;
pub mod envelope;
pub mod exec;
pub mod exposure;
pub mod format;
pub mod fsio;
pub mod git;
pub mod merge;
pub mod metadata;
pub mod passphrase;
pub mod path;
pub mod scan;
pub mod select;
pub mod team;
pub mod token;
