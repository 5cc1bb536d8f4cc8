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
//! The other modules are the `seal` command's implementation: hidden from
//! the documentation and not part of the API. They stay `pub` because the
//! binary (`src/main.rs`), the fuzz targets and the benchmarks are separate
//! crates that call into them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;

pub use api::{Error, ErrorKind, FileFormat, Identities, SealedFile, Value};
pub use hardening::{disable_core_dumps, HardeningError};
pub use zeroize::Zeroizing;

#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod conflict;
#[doc(hidden)]
pub mod crypto;
#[doc(hidden)]
pub mod document;
#[doc(hidden)]
pub mod dotenvx;
#[doc(hidden)]
pub mod edit;
#[doc(hidden)]
pub mod envelope;
#[doc(hidden)]
pub mod exec;
#[doc(hidden)]
pub mod export;
#[doc(hidden)]
pub mod exposure;
#[doc(hidden)]
pub mod format;
#[doc(hidden)]
pub mod fsio;
#[doc(hidden)]
pub mod git;
#[doc(hidden)]
pub mod hardening;
#[doc(hidden)]
pub mod mask;
#[doc(hidden)]
pub mod merge;
#[doc(hidden)]
pub mod metadata;
#[doc(hidden)]
pub mod passphrase;
#[doc(hidden)]
pub mod path;
#[doc(hidden)]
pub mod scan;
#[doc(hidden)]
pub mod select;
#[doc(hidden)]
pub mod sops;
#[doc(hidden)]
pub mod team;
#[doc(hidden)]
pub mod token;
