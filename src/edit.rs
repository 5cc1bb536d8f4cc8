//! The editor session behind `seal edit`: plaintext goes into a private
//! temporary directory (0700, on tmpfs when there is one), the user's
//! editor runs on it, and the directory (with any editor swap or backup
//! files) is removed on every way out.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::exec::private_dir;

/// The editor to run: `$SEAL_EDITOR`, `$VISUAL`, `$EDITOR`, else `vi`. It
/// may carry arguments (`code --wait`); it is run by `sh`, like git does.
pub fn editor_command() -> String {
    ["SEAL_EDITOR", "VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// A private copy of a plaintext document for an editor.
pub struct Session {
    dir: Option<tempfile::TempDir>,
    file: PathBuf,
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

/// How an editor run ended.
pub enum Outcome {
    /// The editor exited 0; here is the text it left.
    Saved(Zeroizing<String>),
    /// The editor failed or was killed; nothing may be written.
    EditorFailed(ExitStatus),
    /// seal itself got SIGTERM or SIGHUP: the editor was stopped.
    Interrupted(i32),
}

impl Session {
    /// Put `plaintext` in a 0600 file named `file_name` in a new private
    /// directory. From here on INT is left to the editor, and TERM/HUP end
    /// the session cleanly instead of killing seal with the file on disk.
    pub fn new(file_name: &str, plaintext: &str) -> io::Result<Session> {
        let dir = private_dir(".seal-edit-")?;
        let file = dir.path().join(file_name);
        write_private(&file, plaintext.as_bytes())?;
        let term = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        let interrupt = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone())?;
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())?;
        // Ctrl-C reaches the editor too; the editor decides what it means.
        signal_hook::flag::register(signal_hook::consts::SIGINT, interrupt)?;
        Ok(Session {
            dir: Some(dir),
            file,
            term,
            hup,
        })
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Run the editor on the file and wait for it.
    pub fn run_editor(&self, editor: &str) -> io::Result<Outcome> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$@\""))
            .arg("sh")
            .arg(&self.file)
            .spawn()?;
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    return Ok(Outcome::EditorFailed(status));
                }
                let bytes = Zeroizing::new(std::fs::read(&self.file)?);
                return match std::str::from_utf8(&bytes) {
                    Ok(text) => Ok(Outcome::Saved(Zeroizing::new(text.to_owned()))),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the edited file is not UTF-8 text",
                    )),
                };
            }
            let signal = if self.term.load(Ordering::SeqCst) {
                Some(signal_hook::consts::SIGTERM)
            } else if self.hup.load(Ordering::SeqCst) {
                Some(signal_hook::consts::SIGHUP)
            } else {
                None
            };
            if let Some(sig) = signal {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                let deadline = std::time::Instant::now() + Duration::from_secs(2);
                while child.try_wait()?.is_none() {
                    if std::time::Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                return Ok(Outcome::Interrupted(128 + sig));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Replace the file's text (to reopen the editor on it).
    pub fn rewrite(&self, text: &str) -> io::Result<()> {
        write_private(&self.file, text.as_bytes())
    }
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

impl Drop for Session {
    fn drop(&mut self) {
        // Overwrite before unlinking, in case the directory is not on tmpfs.
        if let Ok(meta) = std::fs::metadata(&self.file) {
            let zeros = vec![0u8; meta.len() as usize];
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.file)
                .and_then(|mut f| f.write_all(&zeros));
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}
