//! Arbitrary text through the TOML parser: it must never panic, and when it
//! accepts a document, replacing every scalar with a token must keep the
//! document's shape (see `seal_fuzz::check_scan`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use seal::format::Format;

fuzz_target!(|data: &[u8]| {
    seal_fuzz::check_scan(Format::Toml, seal_fuzz::text(data));
});
