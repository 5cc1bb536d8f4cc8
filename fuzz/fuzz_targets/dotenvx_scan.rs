//! Arbitrary text through the dotenvx scanner (`seal import`): it must never
//! panic, its entries must be in order and within the text, and every value
//! it finds, written back in any quoting, must read in seal's dotenv parser
//! as what dotenvx meant by it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seal::dotenvx::scan::{entries, literal, read_back, Quote};
use seal::format::Format;

fuzz_target!(|data: &[u8]| {
    let src = seal_fuzz::text(data);
    let mut last = 0;
    for e in entries(src) {
        assert!(last <= e.line_start && e.line_start <= e.key.start);
        assert!(e.key.end <= e.value.start && e.value.start <= e.inner.start);
        assert!(e.inner.end <= e.value.end && e.value.end <= e.end && e.end <= src.len());
        last = e.end;
        let value = &src[e.inner.clone()];
        for quote in [Quote::None, Quote::Single, Quote::Double, Quote::Backtick] {
            let line = format!("K={}\n", literal(value, quote));
            let values = Format::Dotenv
                .values(&line)
                .unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(values.len(), 1, "{line:?}");
            assert_eq!(values[0].1.as_str(), read_back(value, quote), "{line:?}");
        }
    }
});
