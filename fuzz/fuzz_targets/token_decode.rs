//! Arbitrary text as a token: decoding must never panic, and a token that
//! decodes has exactly one spelling.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    seal_fuzz::check_token(seal_fuzz::text(data));
});
