//! Using seal as a library: open a sealed file in memory, read its values,
//! change one and save it sealed again.
//!
//! ```sh
//! cargo run --example library                          # a copy of testdata/vectors/app.sealed.env
//! cargo run --example library -- FILE PATH [NEW-VALUE] # your file, your identities
//! ```
//!
//! With a FILE, identities come from the default places, as for the `seal`
//! command: SEAL_IDENTITY_FILE, SEAL_IDENTITY, ~/.config/seal/identity.txt.

use std::process::ExitCode;

use seal::{Identities, SealedFile};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An error names the file and the key path, never a value.
            eprintln!("library example: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Before any plaintext is in memory: a crash must leave no core file.
    seal::disable_core_dumps()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _demo_dir;
    let (mut file, path, new_value) = match args.as_slice() {
        [] => {
            // The test vector, copied so the original stays as it is, and
            // its clearly-labelled test identity.
            let dir = tempfile::tempdir()?;
            let copy = dir.path().join("app.env");
            let root = env!("CARGO_MANIFEST_DIR");
            std::fs::copy(format!("{root}/testdata/vectors/app.sealed.env"), &copy)?;
            let ids = Identities::from_files(&[format!("{root}/testdata/vectors/identity.txt")])?;
            _demo_dir = dir;
            let file = SealedFile::open_with(&copy, &ids)?;
            (
                file,
                "API_KEY".to_owned(),
                Some("sk-live-rotated".to_owned()),
            )
        }
        [file, path] => (SealedFile::open(file)?, path.clone(), None),
        [file, path, value] => (SealedFile::open(file)?, path.clone(), Some(value.clone())),
        _ => return Err("usage: library [FILE PATH [NEW-VALUE]]".into()),
    };

    // Every value: the plaintext is a Zeroizing<String>, wiped when dropped.
    for value in file.values()? {
        println!("{} ({} bytes)", value.path, value.value.len());
    }
    match file.get(&path)? {
        Some(value) => println!("{path} = {}", value.as_str()),
        None => println!("{path}: no value"),
    }
    if let Some(new_value) = new_value {
        file.set(&path, &new_value)?;
        file.save()?;
        println!("{path} set and sealed; every other value kept its token");
        let reopened = file.get(&path)?.unwrap_or_default();
        println!("{path} = {}", reopened.as_str());
    }
    Ok(())
}
