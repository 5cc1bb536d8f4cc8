//! In-process benchmark of the sealing pipeline, without process start-up
//! or file I/O: `Format::scan`, `document::seal`, `document::open` (with an
//! age identity, so including the X25519 unwrap) and
//! `document::open_with_key`, on generated documents of 10, 1,000 and
//! 10,000 values per format.
//!
//!     cargo bench --bench pipeline            # all sizes
//!     cargo bench --bench pipeline -- --quick # 10 and 1,000 values, fewer runs
//!
//! Prints the median time per call (and per value for the large sizes).

use std::hint::black_box;
use std::time::{Duration, Instant};

use seal::document;
use seal::envelope::{generate_identity, Identities, Recipient};
use seal::format::Format;

/// Small deterministic PRNG (xorshift64*), so every run times the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PLAIN: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./";

/// A string of 16 to 64 characters; one in five has spaces and needs quotes.
fn word(rng: &mut Rng) -> (String, bool) {
    let len = 16 + rng.below(49) as usize;
    let spaced = rng.below(5) == 0;
    let mut s = String::with_capacity(len);
    s.push(LETTERS[rng.below(LETTERS.len() as u64) as usize] as char);
    for i in 1..len {
        if spaced && i % 7 == 0 && i + 1 < len {
            s.push(' ');
        } else {
            s.push(PLAIN[rng.below(PLAIN.len() as u64) as usize] as char);
        }
    }
    (s, spaced)
}

enum Value {
    Str(String, bool),
    Int(u64),
    Bool(bool),
}

fn value(rng: &mut Rng, kind: u8) -> Value {
    match kind {
        b'i' => Value::Int(1 + rng.below(65535)),
        b'b' => Value::Bool(rng.below(2) == 0),
        _ => {
            let (s, spaced) = word(rng);
            Value::Str(s, spaced)
        }
    }
}

/// Per service: (section, key, kind); section "" is a direct key, key "-"
/// is a list item.
const TEMPLATE: &[(&str, &str, u8)] = &[
    ("database", "host", b's'),
    ("database", "port", b'i'),
    ("database", "user", b's'),
    ("database", "password", b's'),
    ("api", "token", b's'),
    ("api", "enabled", b'b'),
    ("api", "timeout_ms", b'i'),
    ("tags", "-", b's'),
    ("tags", "-", b's'),
    ("", "description", b's'),
];

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Str(s, true) => format!("\"{s}\""),
        Value::Str(s, false) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

fn json_scalar(v: &Value) -> String {
    match v {
        Value::Str(s, _) => format!("\"{s}\""),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

/// A document with exactly `n` values.
fn generate(format: Format, n: usize) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    match format {
        Format::Dotenv => {
            let mut out = String::from("# generated for the pipeline benchmark\n\n");
            const NAMES: [&str; 6] = ["HOST", "PORT", "USER", "PASSWORD", "ENABLED", "TOKEN"];
            const KINDS: [u8; 6] = [b's', b'i', b's', b's', b'b', b's'];
            for i in 0..n {
                if i % 50 == 0 && i > 0 {
                    out.push_str(&format!("\n# section {}\n", i / 50));
                }
                let v = match value(&mut rng, KINDS[i % 6]) {
                    Value::Str(s, true) => format!("\"{s}\""),
                    other => yaml_scalar(&other),
                };
                out.push_str(&format!("VAR_{i:05}_{}={v}\n", NAMES[i % 6]));
            }
            out
        }
        Format::Toml => {
            // Services as `[service_N.section]` tables, tags as an array.
            let mut out = String::from("# generated for the pipeline benchmark\n");
            let mut count = 0;
            let mut i = 0;
            while count < n {
                let mut tags = Vec::new();
                let mut open = "";
                for &(section, key, kind) in TEMPLATE {
                    if count == n {
                        break;
                    }
                    let v = json_scalar(&value(&mut rng, kind));
                    count += 1;
                    if key == "-" {
                        tags.push(v);
                        continue;
                    }
                    let section = if section.is_empty() { "main" } else { section };
                    if section != open {
                        out.push_str(&format!("\n[service_{i:05}.{section}]\n"));
                        open = section;
                    }
                    out.push_str(&format!("{key} = {v}\n"));
                }
                if !tags.is_empty() {
                    out.push_str(&format!(
                        "\n[service_{i:05}.meta]\ntags = [{}]\n",
                        tags.join(", ")
                    ));
                }
                i += 1;
            }
            out
        }
        Format::Yaml | Format::Json => {
            // Services as (name, [(section, key, value)]).
            let mut services: Vec<Vec<(&str, &str, Value)>> = Vec::new();
            let mut count = 0;
            while count < n {
                let mut svc = Vec::new();
                for &(section, key, kind) in TEMPLATE {
                    if count == n {
                        break;
                    }
                    svc.push((section, key, value(&mut rng, kind)));
                    count += 1;
                }
                services.push(svc);
            }
            if format == Format::Yaml {
                let mut out = String::from("# generated for the pipeline benchmark\n");
                for (i, svc) in services.iter().enumerate() {
                    out.push_str(&format!("service_{i:05}:\n"));
                    let mut open: &str = "";
                    for (section, key, v) in svc {
                        if section.is_empty() {
                            out.push_str(&format!("  {key}: {}\n", yaml_scalar(v)));
                            continue;
                        }
                        if *section != open {
                            out.push_str(&format!("  {section}:\n"));
                            open = section;
                        }
                        if *key == "-" {
                            out.push_str(&format!("    - {}\n", yaml_scalar(v)));
                        } else {
                            out.push_str(&format!("    {key}: {}\n", yaml_scalar(v)));
                        }
                    }
                }
                out
            } else {
                let mut out = String::from("{\n");
                for (i, svc) in services.iter().enumerate() {
                    out.push_str(&format!("  \"service_{i:05}\": {{\n"));
                    let mut open: &str = "";
                    let mut first_in_section = true;
                    for (j, (section, key, v)) in svc.iter().enumerate() {
                        if *section != open {
                            if !open.is_empty() {
                                out.push_str(if open == "tags" {
                                    "\n    ],\n"
                                } else {
                                    "\n    },\n"
                                });
                            } else if j > 0 {
                                out.push_str(",\n");
                            }
                            open = section;
                            first_in_section = true;
                            if !section.is_empty() {
                                let bracket = if *key == "-" { '[' } else { '{' };
                                out.push_str(&format!("    \"{section}\": {bracket}\n"));
                            }
                        }
                        if !first_in_section {
                            out.push_str(",\n");
                        }
                        first_in_section = false;
                        if section.is_empty() {
                            out.push_str(&format!("    \"{key}\": {}", json_scalar(v)));
                        } else if *key == "-" {
                            out.push_str(&format!("      {}", json_scalar(v)));
                        } else {
                            out.push_str(&format!("      \"{key}\": {}", json_scalar(v)));
                        }
                    }
                    match open {
                        "" => out.push('\n'),
                        "tags" => out.push_str("\n    ]\n"),
                        _ => out.push_str("\n    }\n"),
                    }
                    out.push_str(if i + 1 < services.len() {
                        "  },\n"
                    } else {
                        "  }\n"
                    });
                }
                out.push_str("}\n");
                out
            }
        }
    }
}

/// Median duration of `iters` calls of `f` (after one warm-up call).
fn median<T>(iters: usize, mut f: impl FnMut() -> T) -> Duration {
    black_box(f());
    let mut times: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn per_value(d: Duration, n: usize) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6 / n as f64)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore everything but our own flag.
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[10, 1000]
    } else {
        &[10, 1000, 10_000]
    };

    let (secret, public) = generate_identity();
    let recipient = Recipient::parse(&public).expect("generated recipient parses");
    let identities = Identities::from_text(&secret, "bench identity").expect("identity loads");

    println!("| format | values | input KiB | scan | seal | open (identity) | open_with_key | open_with_key / value |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let iters = match (n, quick) {
            (10, false) => 200,
            (10, true) => 50,
            (1000, false) => 30,
            (1000, true) => 5,
            _ => 7,
        };
        for format in [Format::Yaml, Format::Json, Format::Dotenv, Format::Toml] {
            let plain = generate(format, n);
            if format == Format::Json {
                serde_json::from_str::<serde_json::Value>(&plain).expect("generated JSON is valid");
            }
            let scan = format
                .scan(&plain)
                .unwrap_or_else(|e| panic!("generated {} does not scan: {e}", format.name()));
            assert_eq!(
                scan.leaves.len(),
                n,
                "generated {} has the wrong number of values",
                format.name()
            );
            let sealed = document::seal(format, &plain, std::slice::from_ref(&recipient), &[])
                .unwrap_or_else(|e| panic!("sealing {} failed: {e}", format.name()));
            let opened = document::open(format, &sealed, &identities)
                .unwrap_or_else(|e| panic!("opening {} failed: {e}", format.name()));
            assert_eq!(
                opened.plaintext.as_str(),
                plain,
                "{} does not round-trip",
                format.name()
            );
            let key = opened.data_key().expect("the data key").clone();

            let t_scan = median(iters, || format.scan(&plain).map(|s| s.leaves.len()));
            let t_seal = median(iters, || {
                document::seal(format, &plain, std::slice::from_ref(&recipient), &[])
                    .map(|s| s.len())
            });
            let t_open = median(iters, || {
                document::open(format, &sealed, &identities).map(|o| o.plaintext.len())
            });
            let t_key = median(iters, || {
                document::open_with_key(format, &sealed, key.clone()).map(|o| o.plaintext.len())
            });
            println!(
                "| {} | {n} | {:.1} | {} | {} | {} | {} | {} |",
                format.name(),
                plain.len() as f64 / 1024.0,
                show(t_scan),
                show(t_seal),
                show(t_open),
                show(t_key),
                per_value(t_key, n),
            );
        }
    }
}
