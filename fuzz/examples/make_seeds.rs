//! Regenerate fuzz/seeds/open_sealed/ (and a few real tokens in
//! fuzz/seeds/token_decode/) from the scan seeds, sealed with the fixed data
//! key the open_sealed target uses, so its seeds get past the MAC check:
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
use std::fs;
use std::path::Path;

use seal::format::Format;

fn main() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let out = seeds.join("open_sealed");
    fs::create_dir_all(&out).expect("create seeds/open_sealed");
    let mut tokens = Vec::new();
    for (dir, format) in [
        ("yaml_scan", Format::Yaml),
        ("json_scan", Format::Json),
        ("dotenv_scan", Format::Dotenv),
    ] {
        let mut names: Vec<_> = fs::read_dir(seeds.join(dir))
            .expect("read scan seeds")
            .map(|e| e.expect("dir entry").path())
            .collect();
        names.sort();
        for path in names {
            let text = fs::read_to_string(&path).expect("seed is UTF-8");
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            match seal_fuzz::seal_with_fixed_key(format, &text) {
                Ok(sealed) => {
                    let opened = seal::document::open_with_key(format, &sealed, seal_fuzz::key())
                        .expect("a sealed seed opens");
                    assert_eq!(opened.plaintext.as_str(), text, "{name} round-trips");
                    if tokens.len() < 3 {
                        if let Some(t) = sealed.split(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
                            .find(|w| seal::token::looks_like_token(w))
                        {
                            tokens.push(t.to_owned());
                        }
                    }
                    fs::write(out.join(format!("sealed-{name}")), sealed).expect("write seed");
                    println!("sealed {dir}/{name}");
                }
                Err(e) => println!("skipped {dir}/{name}: {e}"),
            }
        }
    }
    for (i, t) in tokens.iter().enumerate() {
        fs::write(seeds.join("token_decode").join(format!("real-{i}")), t).expect("write token seed");
    }
}
