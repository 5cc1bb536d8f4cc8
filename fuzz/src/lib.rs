//! The checks behind seal's fuzz targets (`fuzz_targets/*.rs` are one-line
//! wrappers around these functions).
//!
//! Every check panics, and so makes libFuzzer report a crash, when seal
//! panics or when one of these properties fails:
//!
//! * [`check_scan`]: a parser that accepts a document reports leaves whose
//!   spans are in bounds, on character boundaries, in document order and
//!   not overlapping; replacing every scalar by a token gives text that
//!   scans again to the same leaves (same number, key paths and kinds), each
//!   token found where its value was, and splicing the old values back into
//!   the new spans gives the input byte for byte. Sealing the input for real
//!   (with a fixed data key) never fails seal's own round-trip check.
//! * [`check_token`]: `Token::decode` agrees with `looks_like_token`, and a
//!   token that decodes has exactly one spelling.
//! * [`check_open`]: opening arbitrary text as a sealed file never panics,
//!   neither as given nor after its MAC has been recomputed (so that the
//!   decryption and splicing after the MAC check are reached too).

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use seal::crypto::DataKey;
use seal::document::{self, DocError, Opened, Resealed};
use seal::envelope::{generate_identity, Identities, Recipient};
use seal::format::{Format, LeafKind, Scan};
use seal::metadata::{Metadata, WrappedKey};
use seal::path::KeyPath;
use seal::token::{looks_like_token, Token, TokenError, PREFIX_V1};

pub const FORMATS: [Format; 4] = [Format::Yaml, Format::Json, Format::Dotenv, Format::Toml];

/// The fixed data key of the fuzz targets.
pub const KEY_BYTES: [u8; 32] = [7; 32];

pub fn key() -> DataKey {
    DataKey::from_bytes(&KEY_BYTES).expect("32 bytes")
}

/// The fuzzer's bytes as text: the longest valid UTF-8 prefix.
pub fn text(data: &[u8]) -> &str {
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// A distinct, decodable token for leaf number `i`: 40 bytes of payload,
/// so 54 base64url characters after `seal.v1.`.
pub fn token_for(i: usize) -> String {
    let mut nonce = [0xA5u8; 24];
    nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Token {
        nonce,
        ciphertext: vec![(i % 251) as u8; 16],
    }
    .encode()
}

/// Structural invariants of a successful scan of `src`.
pub fn check_leaves(format: Format, src: &str, scan: &Scan, what: &str) {
    let name = format.name();
    let mut end = 0;
    for leaf in &scan.leaves {
        let r = &leaf.span;
        assert!(
            r.start <= r.end && r.end <= src.len(),
            "{name} scan of {what}: span {r:?} at {} is out of bounds (text length {})",
            leaf.path,
            src.len()
        );
        assert!(
            src.is_char_boundary(r.start) && src.is_char_boundary(r.end),
            "{name} scan of {what}: span {r:?} at {} splits a character",
            leaf.path
        );
        assert!(
            r.start >= end,
            "{name} scan of {what}: span {r:?} at {} overlaps or precedes the previous value (which ended at {end})",
            leaf.path
        );
        match leaf.kind {
            LeafKind::Empty => assert!(
                r.is_empty(),
                "{name} scan of {what}: empty value at {} has a non-empty span {r:?}",
                leaf.path
            ),
            LeafKind::Scalar | LeafKind::Alias => assert!(
                !r.is_empty(),
                "{name} scan of {what}: {:?} value at {} has an empty span",
                leaf.kind,
                leaf.path
            ),
        }
        end = r.end;
    }
    if let Some(block) = &scan.metadata {
        let r = &block.region;
        assert!(
            r.start <= r.end
                && r.end <= src.len()
                && src.is_char_boundary(r.start)
                && src.is_char_boundary(r.end),
            "{name} scan of {what}: metadata region {r:?} is out of bounds or splits a character (text length {})",
            src.len()
        );
        for leaf in &scan.leaves {
            assert!(
                leaf.span.end <= r.start || leaf.span.start >= r.end || leaf.span.is_empty(),
                "{name} scan of {what}: value at {} ({:?}) lies inside the metadata block {r:?}",
                leaf.path,
                leaf.span
            );
        }
    }
}

/// Replace every scalar by a token, scan again, and splice the values back.
pub fn check_token_replacement(format: Format, src: &str, scan: &Scan) {
    let name = format.name();
    let mut sealed = String::with_capacity(src.len() * 2);
    let mut tokens = Vec::with_capacity(scan.leaves.len());
    let mut cursor = 0;
    for (i, leaf) in scan.leaves.iter().enumerate() {
        if leaf.kind != LeafKind::Scalar {
            tokens.push(None);
            continue;
        }
        let token = token_for(i);
        sealed.push_str(&src[cursor..leaf.span.start]);
        format.push_token(&mut sealed, &token);
        cursor = leaf.span.end;
        tokens.push(Some(token));
    }
    sealed.push_str(&src[cursor..]);

    let rescan = format.scan(&sealed).unwrap_or_else(|e| {
        panic!("{name}: the input scans, but not once its values are tokens: {e}\n--- with tokens ---\n{sealed}\n---")
    });
    check_leaves(format, &sealed, &rescan, "the text with tokens");
    assert_eq!(
        rescan.leaves.len(),
        scan.leaves.len(),
        "{name}: replacing values by tokens changed the number of values\n--- with tokens ---\n{sealed}\n---"
    );
    assert!(
        rescan.metadata.is_none(),
        "{name}: replacing values by tokens made a metadata block appear\n--- with tokens ---\n{sealed}\n---"
    );
    let mut restored = String::with_capacity(src.len());
    let mut cursor = 0;
    for ((old, new), token) in scan.leaves.iter().zip(&rescan.leaves).zip(&tokens) {
        assert_eq!(
            new.path, old.path,
            "{name}: replacing values by tokens changed a key path\n--- with tokens ---\n{sealed}\n---"
        );
        assert_eq!(
            new.kind, old.kind,
            "{name}: replacing values by tokens changed the kind of the value at {}\n--- with tokens ---\n{sealed}\n---",
            old.path
        );
        if let Some(token) = token {
            let found = &sealed[new.span.clone()];
            assert_eq!(
                format.token_in(found),
                Some(token.as_str()),
                "{name}: the token written at {} reads back as {found:?}\n--- with tokens ---\n{sealed}\n---",
                old.path
            );
            restored.push_str(&sealed[cursor..new.span.start]);
            restored.push_str(&src[old.span.clone()]);
            cursor = new.span.end;
        }
    }
    restored.push_str(&sealed[cursor..]);
    assert!(
        restored == src,
        "{name}: splicing the values back into the text with tokens does not give the input\n--- restored ---\n{restored}\n---"
    );
}

/// An opened document of each format whose `reseal_for` seals any
/// plaintext with the fixed data key, without an age operation per input.
struct Sealer {
    opened: Opened,
    wrapped: Vec<WrappedKey>,
}

fn sealer(format: Format) -> &'static Sealer {
    static SEALERS: [OnceLock<Sealer>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = FORMATS.iter().position(|&f| f == format).expect("known format");
    SEALERS[i].get_or_init(|| {
        let name = format.name();
        let doc = match format {
            Format::Yaml => "setup: 1\n",
            Format::Json => "{\"setup\": 1}\n",
            Format::Dotenv => "SETUP=1\n",
            Format::Toml => "setup = 1\n",
        };
        // A throwaway age identity, to seal and open the example.
        let (secret, public) = generate_identity();
        let recipient = Recipient::parse(&public).expect("a generated recipient parses");
        let identities = Identities::from_text(&secret, "fuzz identity").expect("identity loads");
        let wrapped = vec![recipient.wrap(&key()).expect("wrapping the fixed key")];
        let sealed = document::seal(format, doc, std::slice::from_ref(&recipient), &[])
            .unwrap_or_else(|e| panic!("fuzz setup: cannot seal a {name} example: {e}"));
        let opened = document::open(format, &sealed, &identities)
            .unwrap_or_else(|e| panic!("fuzz setup: cannot open a {name} example: {e}"));
        // The harness's own MAC (for check_open) must be seal's.
        let sealed = match opened.reseal_for(doc, wrapped.clone(), &key(), &[]) {
            Ok(Resealed::Changed(t)) => t,
            _ => panic!("fuzz setup: cannot seal a {name} example with the fixed key"),
        };
        let block = format
            .scan(&sealed)
            .ok()
            .and_then(|s| s.metadata)
            .expect("a sealed example has metadata");
        let body = [&sealed[..block.region.start], &sealed[block.region.end..]].concat();
        assert_eq!(
            mac(format, &block.metadata, &body),
            block.metadata.mac,
            "fuzz setup: seal_fuzz::mac no longer computes seal's MAC (spec/FORMAT.md section 9): update it"
        );
        Sealer { opened, wrapped }
    })
}

/// Seal `plaintext` with the fixed data key (for seed corpora and checks).
pub fn seal_with_fixed_key(format: Format, plaintext: &str) -> Result<String, DocError> {
    let s = sealer(format);
    match s.opened.reseal_for(plaintext, s.wrapped.clone(), &key(), &[])? {
        Resealed::Changed(t) => Ok(t),
        Resealed::Unchanged => Ok(s.opened.sealed_text().to_owned()),
    }
}

/// The file MAC of spec/FORMAT.md section 9 under the fixed data key.
pub fn mac(format: Format, meta: &Metadata, body: &str) -> String {
    let mut mac_key = [0u8; 32];
    Hkdf::<Sha256>::new(None, &KEY_BYTES)
        .expand(b"seal.v1 mac key", &mut mac_key)
        .expect("32-byte HKDF output");
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key).expect("any key length");
    fn lp(m: &mut Hmac<Sha256>, b: &[u8]) {
        m.update(&(b.len() as u64).to_be_bytes());
        m.update(b);
    }
    // One label per version (spec section 9), written out here rather than
    // taken from seal so that a drift between code and spec is caught.
    lp(&mut m, format!("seal.v{} mac", meta.version).as_bytes());
    lp(&mut m, format.name().as_bytes());
    m.update(&meta.version.to_be_bytes());
    lp(&mut m, meta.modified.as_bytes());
    m.update(&(meta.encrypt.len() as u64).to_be_bytes());
    for p in &meta.encrypt {
        lp(&mut m, p.as_bytes());
    }
    m.update(&(meta.recipients.len() as u64).to_be_bytes());
    for r in &meta.recipients {
        lp(&mut m, r.recipient.as_bytes());
        lp(&mut m, r.data_key.as_bytes());
    }
    if meta.version >= 2 && !meta.changed.is_empty() {
        lp(&mut m, b"changed");
        m.update(&(meta.changed.len() as u64).to_be_bytes());
        for c in &meta.changed {
            lp(&mut m, c.path.as_bytes());
            lp(&mut m, c.date.as_bytes());
        }
    }
    lp(&mut m, body.replace("\r\n", "\n").as_bytes());
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// The scan targets: `src` through `format`'s parser.
pub fn check_scan(format: Format, src: &str) {
    let scan = format.scan(src);
    let _ = format.values(src);
    let Ok(scan) = scan else { return };
    check_leaves(format, src, &scan, "the input");
    // seal never reads text with NUL bytes (it is not a seal file), so the
    // sealing properties are only checked on text seal would accept.
    if src.contains('\0') {
        return;
    }
    if scan.metadata.is_none() {
        check_token_replacement(format, src, &scan);
    }
    match seal_with_fixed_key(format, src) {
        Err(DocError::Internal(why)) => panic!(
            "{}: sealing this input fails seal's own round-trip check: {why}",
            format.name()
        ),
        Ok(sealed) => {
            // seal already opened its output and compared; check the
            // sealed text is a well-formed scan too.
            if let Ok(rescan) = format.scan(&sealed) {
                check_leaves(format, &sealed, &rescan, "the sealed output");
            }
        }
        Err(_) => {}
    }
}

/// The token_decode target.
pub fn check_token(s: &str) {
    let shaped = looks_like_token(s);
    match Token::decode(s) {
        Ok(t) => {
            assert!(shaped, "{s:?} decodes but does not look like a token");
            assert!(s.starts_with(PREFIX_V1), "{s:?} decodes without the v1 prefix");
            assert!(t.ciphertext.len() >= 16, "{s:?} decodes with no room for a tag");
            assert_eq!(t.encode(), s, "a token must have exactly one spelling");
        }
        Err(TokenError::NotAToken) => assert!(!shaped, "{s:?} looks like a token but is NotAToken"),
        Err(_) => assert!(shaped, "{s:?} does not look like a token but fails as one"),
    }
    for format in FORMATS {
        let mut rendered = String::new();
        format.push_token(&mut rendered, s);
        if shaped {
            assert_eq!(
                format.token_in(&rendered),
                Some(s),
                "{}: a rendered token is not found again",
                format.name()
            );
        }
        let _ = format.token_in(s);
    }
    let _ = key()
        .value_cipher()
        .decrypt(&KeyPath::key("FUZZ"), s);
}

/// The open_sealed target: `src` as a sealed file of every format.
pub fn check_open(src: &str) {
    for format in FORMATS {
        // Set up once: checks that `mac` is seal's MAC.
        sealer(format);
        let _ = document::open_with_key(format, src, key());
        let Ok(scan) = format.scan(src) else { continue };
        let Some(block) = scan.metadata else { continue };
        let r = block.region;
        if r.start > r.end || r.end > src.len() || !src.is_char_boundary(r.start) || !src.is_char_boundary(r.end) {
            continue; // the scan targets report this
        }
        let body = [&src[..r.start], &src[r.end..]].concat();
        let mut meta = block.metadata;
        meta.mac = mac(format, &meta, &body);
        if let Ok(resealed) = format.attach_metadata(&body, &meta) {
            let _ = document::open_with_key(format, &resealed, key());
        }
    }
}

/// The age identity the `sops_parse` seeds (`fuzz/seeds/sops_parse/`, made
/// by `sops encrypt --age` for its public key) are encrypted to. A test
/// key for fuzzing only, never used for anything else.
const SOPS_FUZZ_IDENTITY: &str =
    "AGE-SECRET-KEY-1M40QFA94CUP62EGM9CL5CFMKLRQZT2N3VJ5WUGTTKDSE979HCYZSXV0Y0J"; // seal:allow (fuzz test key)

/// `seal import`'s SOPS reader on arbitrary input: the first byte picks
/// YAML, JSON, dotenv or a `.sops.yaml` to convert; the rest is the text.
/// Parsing, unwrapping the data key with the seeds' identity, decrypting
/// (MAC checked and ignored) and converting must never panic.
pub fn check_sops(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let src = text(rest);
    let format = match which % 4 {
        0 => Format::Yaml,
        1 => Format::Json,
        2 => Format::Dotenv,
        _ => {
            let _ = seal::sops::config::convert(src);
            return;
        }
    };
    let _ = seal::sops::looks_like_sops(format, src);
    let Ok(file) = seal::sops::parse(format, src) else {
        return;
    };
    thread_local! {
        static IDS: Identities =
            Identities::from_text(SOPS_FUZZ_IDENTITY, "fuzz identity").expect("the fuzz identity");
    }
    // A wrong key reaches the value and MAC errors; the seeds' own key the
    // decryption and splicing after them.
    let wrong = key();
    let _ = file.decrypt(&wrong, false);
    let _ = file.decrypt(&wrong, true);
    if let Ok(data_key) = IDS.with(|ids| file.data_key(ids)) {
        let _ = file.decrypt(&data_key, false);
        let _ = file.decrypt(&data_key, true);
    }
}
