//! The editor session behind `seal edit`: plaintext goes into a private
//! temporary directory (0700, on tmpfs when there is one), the user's
//! editor runs on it, and the directory (with any editor swap or backup
//! files) is removed on every way out.

use std::io::{self, BufRead, Write};
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
    interrupt: Arc<AtomicBool>,
}

/// How an editor run ended.
pub enum Outcome {
    /// The editor exited 0; here is the text it left.
    Saved(Zeroizing<String>),
    /// The editor exited 0 but left bytes that are not UTF-8 text: the
    /// file holds them as they are, for reopening the editor on them.
    NotText { line: usize },
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
        signal_hook::flag::register(signal_hook::consts::SIGINT, interrupt.clone())?;
        Ok(Session {
            dir: Some(dir),
            file,
            term,
            hup,
            interrupt,
        })
    }

    /// The signal (TERM or HUP) that asked seal to stop, if one came.
    fn stop_signal(&self) -> Option<i32> {
        if self.term.load(Ordering::SeqCst) {
            Some(signal_hook::consts::SIGTERM)
        } else if self.hup.load(Ordering::SeqCst) {
            Some(signal_hook::consts::SIGHUP)
        } else {
            None
        }
    }

    /// Run the editor on the file and wait for it.
    pub fn run_editor(&self, editor: &str) -> io::Result<Outcome> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(editor_script(editor))
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
                    Err(e) => {
                        let valid = &bytes[..e.valid_up_to()];
                        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                        Ok(Outcome::NotText { line })
                    }
                };
            }
            if let Some(sig) = self.stop_signal() {
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

    /// Ask `question` on the terminal and read a line of answer. Returns
    /// `Err(exit code)` when TERM, HUP or Ctrl-C comes first: a prompt must
    /// not keep the plaintext on disk after seal was told to stop.
    pub fn ask(&self, question: &str) -> Result<Option<String>, i32> {
        self.interrupt.store(false, Ordering::SeqCst);
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "{question}");
        let _ = stderr.flush();
        drop(stderr);
        let (tx, rx) = std::sync::mpsc::channel();
        // Reading blocks, and a signal does not interrupt it (the handlers
        // restart system calls): the read runs on its own thread, which is
        // simply left behind if seal stops first.
        std::thread::spawn(move || {
            let mut answer = String::new();
            let read = io::stdin().lock().read_line(&mut answer);
            let _ = tx.send(read.ok().filter(|&n| n > 0).map(|_| answer));
        });
        loop {
            if let Some(sig) = self.stop_signal() {
                return Err(128 + sig);
            }
            if self.interrupt.load(Ordering::SeqCst) {
                return Err(128 + signal_hook::consts::SIGINT);
            }
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(answer) => return Ok(answer),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// Replace the file's text (to reopen the editor on it).
    pub fn rewrite(&self, text: &str) -> io::Result<()> {
        write_private(&self.file, text.as_bytes())
    }
}

/// The `sh -c` script that runs `editor` on the file (`"$@"`). The editor
/// replaces the shell (`exec`), so a signal seal sends reaches the editor
/// itself and none is left running; an editor command that starts with a
/// variable assignment (`LANG=C vim`) cannot be exec'd and keeps its shell.
fn editor_script(editor: &str) -> String {
    let first = editor.split_whitespace().next().unwrap_or("");
    if first.contains('=') {
        format!("{editor} \"$@\"")
    } else {
        format!("exec {editor} \"$@\"")
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
