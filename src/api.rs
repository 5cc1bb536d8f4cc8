//! The library API: open a sealed file in memory, read its values, change
//! one and seal it again. Everything else in the crate is the `seal`
//! command's implementation.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::document::{self, DocError, Opened, Resealed};
use crate::envelope::{self, IdentityError, IdentitySources, UnwrapError};
use crate::format::{EditError, Format};
use crate::fsio::{self, LockError, ReadError};
use crate::path::PathQuery;

/// Identities that can open sealed files: age identities (X25519 and
/// plugin ones) and OpenSSH private keys.
///
/// A passphrase-protected identity file asks for its passphrase on the
/// terminal (or reads it from `SEAL_PASSPHRASE_FD`), as the `seal` command
/// does.
pub struct Identities(envelope::Identities);

impl Identities {
    /// The identities the `seal` command uses when given no `-i`: the files
    /// in `SEAL_IDENTITY_FILE` (colon-separated), the key text in
    /// `SEAL_IDENTITY`, then `$XDG_CONFIG_HOME/seal/identity.txt`.
    pub fn from_default_places() -> Result<Identities, Error> {
        Self::load(IdentitySources::from_env(Vec::new()))
    }

    /// The identities in these files only (age identity files, OpenSSH
    /// private keys); each must exist and hold at least one.
    pub fn from_files<P: AsRef<Path>>(files: &[P]) -> Result<Identities, Error> {
        Self::load(IdentitySources {
            files: files.iter().map(|f| f.as_ref().to_path_buf()).collect(),
            ..IdentitySources::default()
        })
    }

    /// Identities from text in the format of an identity file (for a key
    /// kept in a secret store rather than on disk).
    ///
    /// ```
    /// let ids = seal::Identities::from_text(include_str!("../testdata/vectors/identity.txt"))?;
    /// # Ok::<(), seal::Error>(())
    /// ```
    pub fn from_text(text: &str) -> Result<Identities, Error> {
        envelope::Identities::from_text(text, "the identity text")
            .map(Identities)
            .map_err(|e| Error::identity(None, e))
    }

    fn load(sources: IdentitySources) -> Result<Identities, Error> {
        envelope::Identities::load(&sources)
            .map(Identities)
            .map_err(|e| Error::identity(None, e))
    }
}

/// The syntax of a sealed file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// YAML 1.2 (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
    /// dotenv (`.env`, `*.env`, `.env.*`).
    Dotenv,
    /// TOML (`.toml`).
    Toml,
}

impl FileFormat {
    /// The format a file name implies, as the `seal` command reads it.
    pub fn from_path(path: impl AsRef<Path>) -> Option<FileFormat> {
        Format::from_path(path.as_ref()).map(FileFormat::from)
    }

    fn internal(self) -> Format {
        match self {
            FileFormat::Yaml => Format::Yaml,
            FileFormat::Json => Format::Json,
            FileFormat::Dotenv => Format::Dotenv,
            FileFormat::Toml => Format::Toml,
        }
    }
}

impl From<Format> for FileFormat {
    fn from(format: Format) -> FileFormat {
        match format {
            Format::Yaml => FileFormat::Yaml,
            Format::Json => FileFormat::Json,
            Format::Dotenv => FileFormat::Dotenv,
            Format::Toml => FileFormat::Toml,
        }
    }
}

/// One value of an opened file.
pub struct Value {
    /// Its key path as [`SealedFile::get`] and [`SealedFile::set`] take it:
    /// dotted (`database.password`, `keys.0`), or a JSON Pointer
    /// (`/a.b/c`) when a key holds a dot, a slash or a space.
    pub path: String,
    /// For a YAML file of several documents (`---`), the one the value is
    /// in, counted from 1; otherwise 1.
    pub document: usize,
    /// The value, wiped from memory when dropped.
    pub value: Zeroizing<String>,
}

/// A sealed file, opened: its values are decrypted in memory, wiped when
/// it is dropped. Changes are sealed again at once, with the same data key
/// and recipients, keeping the token of every value that did not change.
///
/// ```
/// use seal::{Identities, SealedFile};
///
/// let ids = Identities::from_text(include_str!("../testdata/vectors/identity.txt"))?;
/// let mut file = SealedFile::open_with("testdata/vectors/app.sealed.env", &ids)?;
/// assert_eq!(file.get("API_KEY")?.as_deref().map(String::as_str), Some("sk-live-0123456789"));
///
/// file.set("API_KEY", "sk-live-rotated")?;
/// assert!(file.sealed_text().contains("API_KEY=seal.v1."));
/// assert!(!file.sealed_text().contains("sk-live-rotated"));
/// // file.save()? would write it back to testdata/vectors/app.sealed.env.
/// # Ok::<(), seal::Error>(())
/// ```
pub struct SealedFile {
    opened: Opened,
    /// Where it was read from, for [`SealedFile::save`].
    path: Option<PathBuf>,
    /// The sealed text as read, to tell whether it changed since on disk.
    original: String,
}

impl SealedFile {
    /// Open the file at `path` with the identities from the default places
    /// ([`Identities::from_default_places`]); the format comes from its
    /// name.
    pub fn open(path: impl AsRef<Path>) -> Result<SealedFile, Error> {
        let path = path.as_ref();
        // The file must be readable and sealed before any key is asked for.
        let (format, text) = read(path)?;
        let sealed = document::parse_sealed(format, &text).map_err(|e| Error::doc(path, e))?;
        let ids = Identities::from_default_places().map_err(|e| e.in_file(path))?;
        let opened = sealed.open(&ids.0).map_err(|e| Error::doc(path, e))?;
        Ok(SealedFile::new(opened, Some(path.to_path_buf())))
    }

    /// Open the file at `path` with `identities`; the format comes from its
    /// name.
    pub fn open_with(path: impl AsRef<Path>, identities: &Identities) -> Result<SealedFile, Error> {
        let path = path.as_ref();
        let (format, text) = read(path)?;
        let opened =
            document::open(format, &text, &identities.0).map_err(|e| Error::doc(path, e))?;
        Ok(SealedFile::new(opened, Some(path.to_path_buf())))
    }

    /// Open sealed text held in memory. [`SealedFile::save`] then has no
    /// file to write: take the result from [`SealedFile::sealed_text`].
    ///
    /// ```
    /// use seal::{FileFormat, Identities, SealedFile};
    ///
    /// let ids = Identities::from_text(include_str!("../testdata/vectors/identity.txt"))?;
    /// let text = include_str!("../testdata/vectors/config.sealed.yaml");
    /// let file = SealedFile::from_text(text, FileFormat::Yaml, &ids)?;
    /// for value in file.values()? {
    ///     println!("{} is {} bytes long", value.path, value.value.len());
    /// }
    /// # Ok::<(), seal::Error>(())
    /// ```
    pub fn from_text(
        text: &str,
        format: FileFormat,
        identities: &Identities,
    ) -> Result<SealedFile, Error> {
        let opened = document::open(format.internal(), text, &identities.0)
            .map_err(|e| Error::doc_in(None, e))?;
        Ok(SealedFile::new(opened, None))
    }

    fn new(opened: Opened, path: Option<PathBuf>) -> SealedFile {
        let original = opened.sealed_text().to_owned();
        SealedFile {
            opened,
            path,
            original,
        }
    }

    /// The file's format.
    pub fn format(&self) -> FileFormat {
        self.opened.format.into()
    }

    /// The value at `path` (dotted, `database.password`, or a JSON Pointer,
    /// `/database/password`), or `None` when there is no single value
    /// there. In a YAML stream, `path` is in the first document. A dotenv
    /// name given twice has its last value, as shells read it.
    pub fn get(&self, path: &str) -> Result<Option<Zeroizing<String>>, Error> {
        let query = self.query(path)?;
        let mut values = self.opened.values().map_err(|e| self.error(e.into()))?;
        Ok(values
            .iter_mut()
            .rev()
            .find(|(p, _)| p.matches(&query))
            .map(|(_, v)| std::mem::take(v)))
    }

    /// Every value, in the order of the file.
    pub fn values(&self) -> Result<Vec<Value>, Error> {
        let values = self.opened.values().map_err(|e| self.error(e.into()))?;
        Ok(values
            .into_iter()
            .map(|(path, value)| {
                let mut path = path.into_owned();
                let document = path.doc + 1;
                path.doc = 0;
                Value {
                    path: path.to_string(),
                    document,
                    value,
                }
            })
            .collect())
    }

    /// Set the string at `path` (added at the end of its mapping if new)
    /// and seal the file again in memory; [`SealedFile::save`] writes it.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), Error> {
        let query = self.query(path)?;
        let format = self.opened.format;
        let literal = Zeroizing::new(format.string_literal(value));
        let edited = Zeroizing::new(
            format
                .set_value(&self.opened.plaintext, &query, &literal)
                .map_err(|e| self.error(e.into()))?,
        );
        if format == Format::Yaml {
            // A tag stays with its key: a string under `!!int` would seal,
            // and then tools that apply tags would refuse the file.
            let misfit = crate::format::yaml::misfit_tag(&edited, &query)
                .map_err(|e| self.error(e.into()))?;
            if let Some(tag) = misfit {
                return Err(self.error(DocError::Edit(EditError::Unsupported(format!(
                    "{query} is tagged {tag}, which a string is not"
                )))));
            }
        }
        self.reseal(&edited)
    }

    fn reseal(&mut self, edited: &str) -> Result<(), Error> {
        let sealed = match self.opened.reseal(edited).map_err(|e| self.error(e))? {
            Resealed::Unchanged => return Ok(()),
            Resealed::Changed(sealed) => sealed,
        };
        let keys = self.opened.keys.clone();
        self.opened = document::parse_sealed(self.opened.format, &sealed)
            .and_then(|s| s.open_with_keys(keys))
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The paths of the file's pending values: values added or replaced
    /// with `seal set --public` by someone who held no key. They are not
    /// authenticated, so [`SealedFile::get`] and [`SealedFile::values`]
    /// give the authenticated values only; a key holder checks and folds
    /// them in with `seal fold` (spec/FORMAT.md section 13). A
    /// [`SealedFile::set`] keeps them pending.
    ///
    /// ```
    /// use seal::{Identities, SealedFile};
    ///
    /// let ids = Identities::from_text(include_str!("../testdata/vectors/identity.txt"))?;
    /// let mut file = SealedFile::open_with("testdata/vectors/v4-pending.sealed.env", &ids)?;
    /// assert_eq!(file.pending_paths(), ["DB_PASSWORD", "NEW_TOKEN"]);
    /// // The authenticated value, not the pending replacement.
    /// assert_eq!(file.get("DB_PASSWORD")?.as_deref().map(String::as_str), Some("hunter2"));
    /// assert_eq!(file.get("NEW_TOKEN")?, None);
    /// file.set("API_URL", "https://api2")?;
    /// assert_eq!(file.pending_paths(), ["DB_PASSWORD", "NEW_TOKEN"]);
    /// # Ok::<(), seal::Error>(())
    /// ```
    pub fn pending_paths(&self) -> Vec<String> {
        crate::pending::paths(&self.opened.metadata)
    }

    /// The sealed text, with every change made so far.
    pub fn sealed_text(&self) -> &str {
        self.opened.sealed_text()
    }

    /// The whole plaintext, as it was before sealing (comments and layout
    /// included), with every change made so far.
    pub fn plaintext(&self) -> &Zeroizing<String> {
        &self.opened.plaintext
    }

    /// Write the changes back to the file it was opened from, atomically,
    /// keeping its mode. Returns whether anything was written: nothing is
    /// when nothing changed. Refused, changing nothing, when the file on
    /// disk is no longer what was opened (someone else wrote it since).
    pub fn save(&mut self) -> Result<bool, Error> {
        let Some(path) = self.path.clone() else {
            return Err(Error::new(ErrorKind::NoFile, None, NoFile));
        };
        if self.sealed_text() == self.original {
            return Ok(false);
        }
        // The lock `seal set` and `seal edit` take for the same change.
        let _lock = fsio::lock(&path).map_err(|e| match e {
            LockError::NotFound => Error::read(&path, ReadError::NotFound),
            other => Error::new(ErrorKind::Io, Some(&path), other),
        })?;
        let on_disk = fsio::read_document(&path).map_err(|e| Error::read(&path, e))?;
        if on_disk.as_str() != self.original {
            return Err(Error::new(ErrorKind::Changed, Some(&path), ChangedOnDisk));
        }
        fsio::write_atomic(
            &path,
            self.sealed_text().as_bytes(),
            fsio::Mode::KeepOr(0o644),
        )
        .map_err(|e| Error::new(ErrorKind::Io, Some(&path), e))?;
        self.original = self.sealed_text().to_owned();
        Ok(true)
    }

    fn query(&self, path: &str) -> Result<PathQuery, Error> {
        PathQuery::parse(path).map_err(|e| Error::new(ErrorKind::Path, self.path.as_deref(), e))
    }

    fn error(&self, e: DocError) -> Error {
        Error::doc_in(self.path.as_deref(), e)
    }
}

fn read(path: &Path) -> Result<(Format, Zeroizing<String>), Error> {
    let format = Format::from_path(path)
        .ok_or_else(|| Error::new(ErrorKind::UnknownFormat, Some(path), UnknownFormat))?;
    let text = fsio::read_document(path).map_err(|e| Error::read(path, e))?;
    Ok((format, text))
}

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file does not exist.
    NotFound,
    /// Reading, locking or writing the file failed.
    Io,
    /// The file name does not say which format it is.
    UnknownFormat,
    /// The file, or the text after a change, does not parse; the error
    /// says where (line and column).
    Syntax,
    /// The file has no seal metadata: it is not sealed.
    NotSealed,
    /// The file is sealed with a format version this library does not
    /// read.
    UnsupportedVersion,
    /// No identity could be loaded.
    Identity,
    /// None of the identities can open the file.
    NoMatchingIdentity,
    /// The file was changed outside seal: its MAC, a value or a wrapped
    /// key does not verify. Nothing was decrypted.
    Tampered,
    /// A key path is malformed, or names no place a value can be set.
    Path,
    /// [`SealedFile::save`] on a file opened from text.
    NoFile,
    /// [`SealedFile::save`] found the file changed since it was opened.
    Changed,
    /// Anything else.
    Other,
}

/// Why a sealed file could not be opened, read, changed or saved. It names
/// the file and where in it, never a value.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    file: Option<PathBuf>,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl Error {
    fn new(
        kind: ErrorKind,
        file: Option<&Path>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        Error {
            kind,
            file: file.map(Path::to_path_buf),
            source: source.into(),
        }
    }

    fn in_file(mut self, file: &Path) -> Error {
        self.file = Some(file.to_path_buf());
        self
    }

    fn read(file: &Path, e: ReadError) -> Error {
        let kind = match e {
            ReadError::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Io,
        };
        Error::new(kind, Some(file), e)
    }

    fn identity(file: Option<&Path>, e: IdentityError) -> Error {
        Error::new(ErrorKind::Identity, file, e)
    }

    fn doc(file: &Path, e: DocError) -> Error {
        Error::doc_in(Some(file), e)
    }

    fn doc_in(file: Option<&Path>, e: DocError) -> Error {
        let kind = match &e {
            DocError::Parse(_) => ErrorKind::Syntax,
            DocError::NotSealed | DocError::NoWrappedKeys => ErrorKind::NotSealed,
            DocError::UnsupportedVersion(_) => ErrorKind::UnsupportedVersion,
            DocError::Unwrap(UnwrapError::NoMatch { .. }) => ErrorKind::NoMatchingIdentity,
            DocError::Unwrap(_)
            | DocError::Tampered
            | DocError::Value { .. }
            | DocError::Changed(_) => ErrorKind::Tampered,
            DocError::Edit(EditError::Parse(_)) => ErrorKind::Syntax,
            DocError::Edit(_) => ErrorKind::Path,
            _ => ErrorKind::Other,
        };
        Error::new(kind, file, e)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file it concerns, if it concerns one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.source),
            None => write!(f, "{}", self.source),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot tell the format from the file name (.yaml/.yml, .json, .toml, .env, *.env, .env.*)"
)]
struct UnknownFormat;

#[derive(Debug, thiserror::Error)]
#[error("opened from text: there is no file to save to; use sealed_text()")]
struct NoFile;

#[derive(Debug, thiserror::Error)]
#[error("the file changed on disk since it was opened; nothing was written (open it again)")]
struct ChangedOnDisk;

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = include_str!("../testdata/vectors/identity.txt");

    fn ids() -> Identities {
        Identities::from_text(IDENTITY).unwrap()
    }

    #[test]
    fn get_values_set_and_save() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::copy("testdata/vectors/config.sealed.yaml", &file).unwrap();
        let before = std::fs::read_to_string(&file).unwrap();

        let mut sealed = SealedFile::open_with(&file, &ids()).unwrap();
        assert_eq!(sealed.format(), FileFormat::Yaml);
        assert_eq!(
            sealed
                .get("database.port")
                .unwrap()
                .as_deref()
                .map(String::as_str),
            Some("5432")
        );
        assert_eq!(
            sealed
                .get("/database/user")
                .unwrap()
                .as_deref()
                .map(String::as_str),
            Some("it's me")
        );
        assert!(sealed.get("database.nope").unwrap().is_none());
        let paths: Vec<String> = sealed
            .values()
            .unwrap()
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert!(
            paths.starts_with(&["database.host".to_owned(), "database.port".to_owned()]),
            "{paths:?}"
        );

        // Nothing changed, nothing written.
        assert!(!sealed.save().unwrap());
        sealed.set("database.host", "db.example").unwrap();
        sealed.set("new_key", "added").unwrap();
        assert!(!sealed.sealed_text().contains("db.example"));
        assert!(sealed.save().unwrap());
        let after = std::fs::read_to_string(&file).unwrap();
        assert_ne!(before, after);
        // Every other value keeps its token.
        let token = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap()
                .to_owned()
        };
        assert_eq!(token(&before, "password:"), token(&after, "password:"));
        assert_ne!(token(&before, "host:"), token(&after, "host:"));

        let reopened = SealedFile::open_with(&file, &ids()).unwrap();
        assert_eq!(
            reopened.get("database.host").unwrap().unwrap().as_str(),
            "db.example"
        );
        assert_eq!(reopened.get("new_key").unwrap().unwrap().as_str(), "added");
    }

    #[test]
    fn errors_say_what_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.env");
        let e = SealedFile::open_with(&missing, &ids()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.file(), Some(missing.as_path()));

        let plain = dir.path().join("plain.env");
        std::fs::write(&plain, "A=1\n").unwrap();
        let e = SealedFile::open_with(&plain, &ids()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::NotSealed);

        let odd = dir.path().join("secrets.txt");
        std::fs::write(&odd, "A=1\n").unwrap();
        assert_eq!(
            SealedFile::open_with(&odd, &ids()).err().unwrap().kind(),
            ErrorKind::UnknownFormat
        );

        let text = std::fs::read_to_string("testdata/vectors/app.sealed.env").unwrap();
        let other = Identities(
            envelope::Identities::from_text(&envelope::generate_identity().0, "another key")
                .unwrap(),
        );
        let e = SealedFile::from_text(&text, FileFormat::Dotenv, &other)
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::NoMatchingIdentity);

        let tampered = text.replacen("API_KEY=seal.v1.", "API_KEY2=seal.v1.", 1);
        let e = SealedFile::from_text(&tampered, FileFormat::Dotenv, &ids())
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Tampered);

        let mut opened = SealedFile::from_text(&text, FileFormat::Dotenv, &ids()).unwrap();
        assert_eq!(opened.get("").err().unwrap().kind(), ErrorKind::Path);
        opened.set("API_KEY", "x").unwrap();
        assert_eq!(opened.save().err().unwrap().kind(), ErrorKind::NoFile);
        // No message carries a value.
        let secret = opened.get("DATABASE_URL").unwrap().unwrap();
        let e = opened.set("DATABASE_URL.sub", "v").err().unwrap();
        assert!(!e.to_string().contains(secret.as_str()), "{e}");
    }

    #[test]
    fn save_refuses_a_file_changed_since_it_was_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.env");
        std::fs::copy("testdata/vectors/app.sealed.env", &file).unwrap();
        let mut first = SealedFile::open_with(&file, &ids()).unwrap();
        let mut second = SealedFile::open_with(&file, &ids()).unwrap();
        first.set("API_KEY", "one").unwrap();
        second.set("API_KEY", "two").unwrap();
        assert!(first.save().unwrap());
        let e = second.save().err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Changed);
        let now = SealedFile::open_with(&file, &ids()).unwrap();
        assert_eq!(now.get("API_KEY").unwrap().unwrap().as_str(), "one");
    }
}
