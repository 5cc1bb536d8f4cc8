//! Integration tests: the real `seal` binary on real files.

mod common;

mod config;
mod edit;
mod errors;
mod exec;
mod expansion;
mod export;
mod git;
mod groups;
mod hardening;
mod import;
mod import_dotenvx;
mod interop;
mod keygen;
mod library;
mod log;
mod pending;
mod plugin;
mod props;
mod roundtrip;
mod scan;
mod schema;
mod shell;
mod signing;
mod status;
mod tamper;
mod team;
mod toml_cli;
mod toml_files;
mod values;
mod vectors;
mod yaml_view;
