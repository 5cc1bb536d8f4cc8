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

/// Why the advisory lock on a file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("no such file")]
    NotFound,
    #[error("cannot open: {0}")]
    Open(io::Error),
    #[error("another seal process is changing this file (seal edit or seal set); try again when it is done")]
    Busy,
    #[error("cannot lock: {0}")]
    Lock(io::Error),
}

/// Take the advisory lock on `path` for a read-modify-write, so two seal
/// processes never overwrite each other's change; held until the returned
/// handle is dropped.
pub fn lock(path: &Path) -> Result<File, LockError> {
    let handle = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => LockError::NotFound,
        _ => LockError::Open(e),
    })?;
    match handle.try_lock() {
        Ok(()) => Ok(handle),
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Busy),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Lock(e)),
    }
}

/// Read a whole text document. The buffer is zeroized when dropped since it
/// may hold plaintext.
pub fn read_document(path: &Path) -> Result<Zeroizing<String>, ReadError> {
    text_from_bytes(read_bytes(path)?)
}

/// Read a whole file as bytes, zeroized when dropped.
pub fn read_bytes(path: &Path) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    Ok(Zeroizing::new(fs::read(path).map_err(
        |e| match e.kind() {
            io::ErrorKind::NotFound => ReadError::NotFound,
            io::ErrorKind::IsADirectory => ReadError::IsDirectory,
            _ if path.is_dir() => ReadError::IsDirectory,
            _ => ReadError::Io(e),
        },
    )?))
}

/// Read standard input as a document.
pub fn read_stdin() -> Result<Zeroizing<String>, ReadError> {
    let mut bytes = Zeroizing::new(Vec::new());
    io::Read::read_to_end(&mut io::stdin(), &mut bytes).map_err(ReadError::Io)?;
    text_from_bytes(bytes)
}

/// The bytes of a document as text: not empty, no NUL, UTF-8.
pub fn text_from_bytes(mut bytes: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>, ReadError> {
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

/// Whether `path` names something to write into rather than a file to
/// replace: a device, FIFO or socket (`/dev/stdout`, `/dev/null`, a
/// shell's `>(...)`).
pub fn is_special(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Replace `path` with `contents` atomically.
///
/// A `path` that names a device, or a FIFO or socket of this user's, is
/// written into instead: a rename would replace the device or pipe with a
/// regular file, or fail. A FIFO or socket of another user's is refused
/// (in a shared directory such as /tmp, it would hand the output to them).
pub fn write_atomic(path: &Path, contents: &[u8], mode: Mode) -> io::Result<()> {
    if write_into(path, contents, nix::unistd::geteuid().as_raw())? {
        return Ok(());
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

/// Write `contents` into `path` if it is a device, or a FIFO or socket
/// that `user` owns; `Ok(false)` when it is a regular file or missing (to be
/// replaced atomically instead).
fn write_into(path: &Path, contents: &[u8], user: u32) -> io::Result<bool> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    let foreign_pipe = |m: &fs::Metadata| {
        let kind = m.file_type();
        (kind.is_fifo() || kind.is_socket()) && m.uid() != user
    };
    let refused = || {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it is a pipe that belongs to another user; seal does not write into it",
        )
    };
    match fs::metadata(path) {
        Ok(seen) if seen.is_file() || seen.is_dir() => return Ok(false),
        Ok(seen) if foreign_pipe(&seen) => return Err(refused()),
        Ok(_) => {}
        Err(_) => return Ok(false),
    }
    // What counts is what was opened: the path may have changed since.
    let mut target = OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(path)?;
    let opened = target.metadata()?;
    if opened.is_file() {
        return Ok(false);
    }
    if foreign_pipe(&opened) {
        return Err(refused());
    }
    target.write_all(contents)?;
    Ok(true)
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

    fn fifo_in(dir: &Path) -> PathBuf {
        let fifo = dir.join("out.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo (coreutils) failed");
        fifo
    }

    /// A FIFO of this user's is written into, and stays a FIFO; one of
    /// another user's is refused before it is even opened (the test plays
    /// the other user by claiming another uid); a regular file is left to
    /// the atomic replacement.
    #[test]
    fn pipes_are_written_into_only_when_they_are_ours() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo_in(dir.path());
        let me = nix::unistd::geteuid().as_raw();
        let err = write_into(&fifo, b"secret", me.wrapping_add(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        assert!(write_into(&fifo, b"secret", me).unwrap());
        assert_eq!(reader.join().unwrap(), b"secret");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        let file = dir.path().join("plain");
        fs::write(&file, "old").unwrap();
        assert!(!write_into(&file, b"new", me).unwrap());
        assert!(!write_into(&dir.path().join("missing"), b"new", me).unwrap());
        assert_eq!(fs::read_to_string(&file).unwrap(), "old");
    }

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
