//! Integration tests: the real `seal` binary on real files.

mod common;

mod config;
mod edit;
mod errors;
mod exec;
mod git;
mod interop;
mod keygen;
mod plugin;
mod props;
mod roundtrip;
mod scan;
mod tamper;
mod team;
mod values;
mod vectors;
