//! Reading documents with clear errors, and atomic writes: a temporary file
//! in the same directory, fsync, rename, fsync of the directory. A crash
//! leaves either the old file or the new one, never half of one.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such file")]
    NotFound,
    #[error("is a directory, not a file")]
    IsDirectory,
    #[error("cannot read: {0}")]
    Io(io::Error),
    #[error("is not text (binary data or not UTF-8 at byte {0})")]
    NotText(usize),
    #[error("is empty")]
    Empty,
}

/// Read a whole text document. The buffer is zeroized when dropped since it
/// may hold plaintext.
pub fn read_document(path: &Path) -> Result<Zeroizing<String>, ReadError> {
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound,
        io::ErrorKind::IsADirectory => ReadError::IsDirectory,
        _ if path.is_dir() => ReadError::IsDirectory,
        _ => ReadError::Io(e),
    })?);
    text_from_bytes(bytes)
}

/// Read standard input as a document.
pub fn read_stdin() -> Result<Zeroizing<String>, ReadError> {
    let mut bytes = Zeroizing::new(Vec::new());
    io::Read::read_to_end(&mut io::stdin(), &mut bytes).map_err(ReadError::Io)?;
    text_from_bytes(bytes)
}

fn text_from_bytes(mut bytes: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>, ReadError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty);
    }
    if let Some(nul) = memchr::memchr(0, &bytes) {
        return Err(ReadError::NotText(nul));
    }
    // Validate in place and keep the buffer: no second copy of the text.
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            drop(Zeroizing::new(e.into_bytes()));
            Err(ReadError::NotText(at))
        }
    }
}

/// Permissions for a file written by [`write_atomic`].
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Keep the existing file's mode; `default` for a new file.
    KeepOr(u32),
    /// Plaintext: the existing mode without group/other bits, else 0600.
    Private,
}

/// Replace `path` with `contents` atomically.
///
/// A `path` that names something to write into rather than a file
/// (`/dev/stdout`, `/dev/null`, a FIFO, a shell's `>(...)`) is written
/// into: a rename would replace the device or pipe with a regular file,
/// or fail.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Mode) -> io::Result<()> {
    if let Ok(existing) = fs::metadata(path) {
        let kind = existing.file_type();
        if !kind.is_file() && !kind.is_dir() {
            let mut target = OpenOptions::new().write(true).open(path)?;
            return target.write_all(contents);
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let existing = fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    let perms = match mode {
        Mode::KeepOr(default) => existing.unwrap_or(default),
        Mode::Private => existing.map_or(0o600, |m| m & 0o700),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".seal-tmp")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(&dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    fs::set_permissions(tmp.path(), Permissions::from_mode(perms))?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Create a new file with `mode`, refusing to overwrite an existing one.
pub fn create_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.yaml");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new", Mode::KeepOr(0o644)).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        write_atomic(&p, b"plain", Mode::Private).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn read_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_document(&dir.path().join("missing")),
            Err(ReadError::NotFound)
        ));
        assert!(matches!(
            read_document(dir.path()),
            Err(ReadError::IsDirectory)
        ));
        let bin = dir.path().join("bin");
        fs::write(&bin, b"a: \x00\xff").unwrap();
        assert!(matches!(read_document(&bin), Err(ReadError::NotText(3))));
        let empty = dir.path().join("empty");
        fs::write(&empty, b"\n  \n").unwrap();
        assert!(matches!(read_document(&empty), Err(ReadError::Empty)));
    }

    #[test]
    fn create_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        create_new(&p, b"1", 0o600).unwrap();
        assert!(create_new(&p, b"2", 0o600).is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), "1");
    }
}
