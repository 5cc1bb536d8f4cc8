//! Arbitrary SOPS files (and `.sops.yaml` files) through `seal import`'s
//! reader (see `seal_fuzz::check_sops`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    seal_fuzz::check_sops(data);
});
