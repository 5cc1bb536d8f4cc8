//! The spec's test vectors (testdata/vectors, spec/FORMAT.md section 11):
//! files sealed by earlier versions must keep opening to the same bytes,
//! and the invalid ones must keep being refused.

use std::path::{Path, PathBuf};

use seal::envelope::Identities;
use seal::format::Format;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors")
}

fn identity() -> Identities {
    let text = std::fs::read_to_string(dir().join("identity.txt")).unwrap();
    Identities::from_text(&text, "testdata/vectors/identity.txt").unwrap()
}

#[test]
fn valid_vectors_open_to_their_plaintext() {
    let ids = identity();
    let mut count = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((stem, ext)) = name.split_once(".sealed.") else {
            continue;
        };
        let sealed = std::fs::read_to_string(&path).unwrap();
        let plain = std::fs::read_to_string(dir().join(format!("{stem}.plain.{ext}"))).unwrap();
        let format = Format::from_path(Path::new(&format!("x.{ext}"))).unwrap();
        let opened =
            seal::document::open(format, &sealed, &ids).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(opened.plaintext.as_str(), plain, "{name}");
        count += 1;
    }
    assert!(
        count >= 8,
        "expected a vector per format and version, found {count}"
    );
}

/// A dated vector: read without a key, it is format `version`, and every
/// sealed key path has a date, the `changed` value's a month after the
/// others'. Returns what `inspect` found.
fn assert_vector_dates(name: &str, changed: &str, version: u64) -> seal::document::Inspection {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    let format = Format::from_path(Path::new(name)).unwrap();
    let info = seal::document::inspect(format, &text).unwrap();
    assert_eq!(info.metadata.version, version, "{name}");
    assert!(info.dates.len() >= 2, "{name}");
    for (path, date) in &info.dates {
        let want = if path.to_string() == changed {
            "2026-02-15T09:30:00Z"
        } else {
            "2026-01-15T09:00:00Z"
        };
        assert_eq!(date.as_deref(), Some(want), "{name} {path}");
    }
    info
}

/// The version-2 vectors' dates: one per sealed key path in document order
/// (a repeated dotenv name once).
#[test]
fn version_2_vectors_carry_their_dates() {
    for (name, changed) in [
        ("v2-app.sealed.env", "DB_PASSWORD"),
        ("v2-config.sealed.yaml", "db.password"),
        ("v2-api.sealed.json", "api.key"),
    ] {
        let info = assert_vector_dates(name, changed, 2);
        assert_eq!(info.metadata.changed.len(), info.dates.len(), "{name}");
    }
    let info = assert_vector_dates("v2-app.sealed.env", "DB_PASSWORD", 2);
    assert_eq!(info.dates.len(), 2, "API_KEY twice, counted once");
}

/// Version-3 vectors write the shared date once as `*` and list only the
/// value changed a month later; every value still gets its date.
#[test]
fn version_3_vectors_date_every_value_through_the_star_entry() {
    for (name, changed) in [
        ("v3-app.sealed.env", "DB_PASSWORD"),
        ("v3-config.sealed.yaml", "db.password"),
        ("v3-api.sealed.json", "api.key"),
        ("v3-config.sealed.toml", "db.password"),
    ] {
        let info = assert_vector_dates(name, changed, 3);
        let entries: Vec<&str> = info
            .metadata
            .changed
            .iter()
            .map(|c| c.path.as_str())
            .collect();
        assert_eq!(entries.len(), 2, "{name}: {entries:?}");
        assert_eq!(entries[0], "*", "{name}");
    }
}

/// Version-1 vectors still open, record no dates, and say version 1.
#[test]
fn version_1_vectors_have_no_dates() {
    let text = std::fs::read_to_string(dir().join("config.sealed.yaml")).unwrap();
    let info = seal::document::inspect(Format::Yaml, &text).unwrap();
    assert_eq!(info.metadata.version, 1);
    assert!(info.dates.iter().all(|(_, d)| d.is_none()));
}

#[test]
fn invalid_vectors_are_refused() {
    let ids = identity();
    let mut count = 0;
    for entry in std::fs::read_dir(dir().join("invalid")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let format = Format::from_path(&path).unwrap();
        let Err(error) = seal::document::open(format, &text, &ids) else {
            panic!("{name} was accepted");
        };
        // These hold a valid MAC: the check they name must refuse them on
        // its own, so a reader that only checks the MAC fails here.
        use seal::document::DocError;
        match name.as_str() {
            "valid-mac-swapped-tokens.yaml" | "valid-mac-token-version-2.yaml" => {
                assert!(matches!(error, DocError::Value { .. }), "{name}: {error:?}")
            }
            "comment-in-metadata-block.yaml" | "comment-in-metadata-block.toml" => {
                assert!(matches!(error, DocError::Parse(_)), "{name}: {error:?}")
            }
            n if n.starts_with("valid-mac-v2-changed-")
                || n.starts_with("valid-mac-v3-changed-") =>
            {
                assert!(matches!(error, DocError::Changed(_)), "{name}: {error:?}")
            }
            "v2-edited-changed-date.yaml"
            | "v2-edited-changed-date.json"
            | "v3-edited-star-date.yaml" => {
                assert!(matches!(error, DocError::Tampered), "{name}: {error:?}")
            }
            "v2-unknown-version-6.env" | "unknown-version.json" => {
                assert!(
                    matches!(error, DocError::UnsupportedVersion(6)),
                    "{name}: {error:?}"
                )
            }
            _ => {}
        }
        count += 1;
    }
    assert!(count >= 27, "expected the invalid vectors, found {count}");
}

/// Section 12: the signed vectors verify as signed by the test signer; the
/// invalid-signature ones open (their MAC holds) but do not verify, each
/// for the reason in its name.
#[test]
fn signature_vectors_verify_as_the_spec_says() {
    use seal::signing::Verification;
    let ids = identity();
    let signer = std::fs::read_to_string(dir().join("signer.ed25519.pub")).unwrap();
    let mut signed = 0;
    for ext in ["yaml", "json", "env"] {
        let name = format!("signed.sealed.{ext}");
        let text = std::fs::read_to_string(dir().join(&name)).unwrap();
        let format = Format::from_path(Path::new(&name)).unwrap();
        let sealed = seal::document::parse_sealed(format, &text).unwrap();
        assert_eq!(sealed.metadata().version, 2, "{name}");
        match sealed.verification() {
            Verification::Valid { signer: s } => {
                assert!(seal::signing::same_key(&s, &signer), "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
        signed += 1;
    }
    assert_eq!(signed, 3);
    let mut invalid = 0;
    for entry in std::fs::read_dir(dir().join("invalid-signature")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let format = Format::from_path(&path).unwrap();
        seal::document::open(format, &text, &ids).unwrap_or_else(|e| panic!("{name}: {e}"));
        let verification = seal::document::parse_sealed(format, &text)
            .unwrap()
            .verification();
        let Verification::Invalid { reason, .. } = verification else {
            panic!("{name} verified: {verification:?}");
        };
        let expected = match name.split('.').next().unwrap() {
            "forged-signer" => "the signature was made by another key than the signer field names",
            "older-content" | "tampered-signature" => {
                "the signature does not match the file's content"
            }
            other => panic!("unexpected vector {other}"),
        };
        assert_eq!(reason, expected, "{name}");
        invalid += 1;
    }
    assert_eq!(invalid, 3);
}

/// Section 13: the version-4 vectors open to their authenticated plain
/// files (done above) and carry pending values that the test identity
/// opens, each bound to its path, and that applied give the applied files.
#[test]
fn version_4_vectors_fold_to_their_applied_files() {
    let ids = identity();
    for ext in ["env", "yaml"] {
        let name = format!("v4-pending.sealed.{ext}");
        let sealed = std::fs::read_to_string(dir().join(&name)).unwrap();
        let applied =
            std::fs::read_to_string(dir().join(format!("v4-pending.applied.{ext}"))).unwrap();
        let format = Format::from_path(Path::new(&name)).unwrap();
        let opened = seal::document::open(format, &sealed, &ids).unwrap();
        assert_eq!(opened.metadata.version, 4, "{name}");
        assert_eq!(opened.metadata.pending.len(), 2, "{name}");
        let pending = seal::pending::open_all(&opened.metadata, &ids).unwrap();
        let folded = seal::pending::apply(format, &opened.plaintext, &pending).unwrap();
        assert_eq!(folded.as_str(), applied, "{name}");
    }
}
