//! seal: keep secrets in git by encrypting only the values of YAML, JSON and
//! dotenv files. See `spec/FORMAT.md` for the file format.
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
//! The other modules are the `seal` command's implementation, public for
//! the fuzz targets and benchmarks only, and not part of the API.
#![forbid(unsafe_code)]

mod api;

pub use api::{Error, ErrorKind, FileFormat, Identities, SealedFile, Value};
pub use hardening::{disable_core_dumps, HardeningError};
pub use zeroize::Zeroizing;

pub mod cli;
pub mod config;
pub mod crypto;
pub mod document;
pub mod edit;
pub mod envelope;
pub mod exec;
pub mod exposure;
pub mod format;
pub mod fsio;
pub mod git;
pub mod hardening;
pub mod merge;
pub mod metadata;
pub mod passphrase;
pub mod path;
pub mod select;
pub mod team;
pub mod token;
