//! Arbitrary text as a sealed file of each format, opened with a fixed data
//! key: it must never panic, whether or not its MAC is right.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    seal_fuzz::check_open(seal_fuzz::text(data));
});
