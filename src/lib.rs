//! seal: keep secrets in git by encrypting only the values of YAML, JSON,
//! TOML and dotenv files. See `spec/FORMAT.md` for the file format.
//!
//! The library opens sealed files in memory: [`SealedFile`] reads one with
//! [`Identities`] from the default places or given ones, gets one value or
//! every value (as [`Zeroizing`] strings, wiped when dropped), sets a value
//! and seals the file again, keeping every other value's token.
//!
//! ```
//! use seal::{Identities, SealedFile};
//!
//! // Identities::from_default_places() reads what the `seal` command reads
//! // without -i: SEAL_IDENTITY_FILE, SEAL_IDENTITY, ~/.config/seal/identity.txt.
//! let ids = Identities::from_files(&["testdata/vectors/identity.txt"])?;
//! let file = SealedFile::open_with("testdata/vectors/config.sealed.yaml", &ids)?;
//! let password = file.get("database.password")?.expect("a password");
//! assert!(password.starts_with("p@ss"));
//! # Ok::<(), seal::Error>(())
//! ```
//!
//! A program that holds opened files can call [`disable_core_dumps`] first,
//! as every `seal` command does, so that a crash leaves no core file with
//! the plaintext in it.
//!
//! The other modules are the `seal` command's implementation: hidden from
//! the documentation and not part of the API. They stay `pub` because the
//! binary (`src/main.rs`), the fuzz targets and the benchmarks are separate
//! crates that call into them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod cli;

/// Modules the `seal` binary, the fuzz targets and the test suite reach
/// into: public with the `internals` feature (no stability promise),
/// private otherwise, so the library's surface is the API above.
macro_rules! internal_mod {
    ($name:ident) => {
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        mod $name;
    };
}

pub use api::{Error, ErrorKind, FileFormat, Identities, SealedFile, Value};
pub use hardening::{disable_core_dumps, HardeningError};
pub use zeroize::Zeroizing;

/// The command line, for the `seal` binary (src/main.rs); not an API.
#[doc(hidden)]
pub use cli::{run as run_cli, Cli};

internal_mod!(clock);
internal_mod!(config);
internal_mod!(conflict);
internal_mod!(crypto);
internal_mod!(document);
internal_mod!(dotenvx);
internal_mod!(edit);
internal_mod!(envelope);
internal_mod!(exec);
internal_mod!(export);
internal_mod!(exposure);
internal_mod!(format);
internal_mod!(fsio);
internal_mod!(generate);
internal_mod!(git);
internal_mod!(hardening);
internal_mod!(history);
internal_mod!(mask);
internal_mod!(merge);
internal_mod!(metadata);
internal_mod!(passphrase);
internal_mod!(pending);
internal_mod!(path);
internal_mod!(scan);
internal_mod!(select);
internal_mod!(signing);
internal_mod!(sops);
internal_mod!(status);
internal_mod!(team);
internal_mod!(token);
