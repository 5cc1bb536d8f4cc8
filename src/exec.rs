//! `seal exec`: run a command with decrypted values in its environment (or
//! in private files), with no plaintext on disk except the `--files`
//! directory on tmpfs, which is removed when the child exits.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use zeroize::Zeroizing;

use crate::document::{MarkedValue, Opened};
use crate::format::Format;
use crate::path::{KeyPath, PathQuery, Segment};

/// How values become environment variables.
#[derive(Clone, Debug, Default)]
pub struct NameOptions {
    /// Upper-case the names (`database_password` → `DATABASE_PASSWORD`).
    pub upper: bool,
    /// Prepended to every name.
    pub prefix: String,
    /// Only values at or below these paths; empty means all.
    pub only: Vec<PathQuery>,
    /// Expand `$NAME` and `${NAME}` in dotenv values, as dotenv loaders do.
    pub expand: bool,
    /// The child gets `NAME_FILE` rather than `NAME` (`--files`): the
    /// startup check looks at the name the child gets.
    pub file_names: bool,
    /// Per file, in the order of the files: the names it may set although
    /// they change how programs start (`exec.allow`, `--allow-var`).
    pub allowed: Vec<Vec<String>>,
}

/// Names that change how the dynamic loader, a shell or an interpreter
/// starts, or which program runs: a value of a sealed file, which anyone
/// who can seal for it may change unseen, must not set them unless allowed.
const STARTUP_NAMES: &[&str] = &[
    // The search path for every command.
    "PATH",
    // glibc: loader and locale machinery that loads code.
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "NLSPATH",
    "MALLOC_TRACE",
    // Shells: files sourced, or text expanded, when they start.
    "BASH_ENV",
    "ENV",
    "ZDOTDIR",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    // Interpreters and runtimes: code or options loaded at start.
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "RUBYOPT",
    "RUBYLIB",
    "LUA_INIT",
    "LUA_PATH",
    "LUA_CPATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "DOTNET_STARTUP_HOOKS",
    // Programs other programs run.
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_ASKPASS",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_PROXY_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_TEMPLATE_DIR",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
];

/// Families of such names: the loader's (`LD_PRELOAD`, `LD_AUDIT`, …, and
/// macOS's `DYLD_`), Python's (`PYTHONSTARTUP`, `PYTHONPATH`, …), bash's
/// exported functions, git's numbered config entries.
const STARTUP_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "PYTHON",
    "BASH_FUNC_",
    "GIT_CONFIG_KEY_",
    "GIT_CONFIG_VALUE_",
];

/// Whether the variable `name` changes how the loader, a shell or an
/// interpreter starts (names are case-sensitive, as the programs read them).
pub fn changes_how_programs_start(name: &str) -> bool {
    STARTUP_NAMES.contains(&name) || STARTUP_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// One variable for the child.
pub struct Variable {
    pub name: String,
    pub value: Zeroizing<String>,
    /// `FILE:PATH` of a value the file holds sealed that `--mask` would
    /// leave visible (see [`maskable`]), for a warning; else `None`.
    pub unmasked_secret: Option<String>,
}

/// Whether `--mask` hides `value` in the command's output. A value that
/// cannot be a secret is left alone, or every `true`, port number and
/// short user name in ordinary log lines turns into `***`: booleans,
/// numbers of fewer than 6 digits, and anything under 6 characters.
pub fn maskable(value: &str) -> bool {
    let boolean = matches!(
        value,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    );
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let number = digits > 0
        && value
            .trim_start_matches(['-', '+'])
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+' | b'_'));
    !(boolean || (number && digits < 6) || value.chars().count() < 6)
}
/// Why the child could not be prepared or started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{first} and {second} both become the variable {name}")]
    Collision {
        name: String,
        first: String,
        second: String,
    },
    #[error("{origin}: {name:?} is not a usable environment variable name (use letters, digits, `_`, `.` or `-`, not starting with a digit)")]
    BadName { name: String, origin: String },
    #[error("{file}: the key {path} would set {name}, which changes how programs start (the loader, a shell or an interpreter); nothing was run")]
    StartupVariable {
        file: String,
        path: String,
        name: String,
    },
    #[error("{origin}: the value contains a NUL byte, which an environment variable cannot hold")]
    NulInValue { origin: String },
    /// A file's values cannot be read (for YAML: a merge key or alias that
    /// has no list of values).
    #[error("{file}: {source}")]
    Parse {
        file: String,
        source: crate::format::ParseError,
    },
    #[error("{file}:{source}")]
    Expand {
        file: String,
        source: crate::format::dotenv::ExpandError,
    },
    #[error("command not found: {0}")]
    NotFound(String),
    #[error("cannot run {0}: permission denied")]
    NotExecutable(String),
    #[error("cannot run {0}: {1}")]
    Spawn(String, io::Error),
    #[error("cannot prepare the secrets directory: {0}")]
    SecretsDir(io::Error),
    #[error("internal error: {0} (please report this)")]
    Internal(&'static str),
}

/// The variable name for a value: dotenv names as they are; YAML, JSON
/// and TOML paths joined with `_`.
pub fn variable_name(path: &KeyPath, options: &NameOptions) -> String {
    use std::fmt::Write as _;
    let mut name = String::with_capacity(options.prefix.len() + 32);
    name.push_str(&options.prefix);
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 {
            name.push('_');
        }
        match segment {
            Segment::Key(k) => name.push_str(k),
            Segment::Index(n) => {
                let _ = write!(name, "{n}");
            }
        }
    }
    if options.upper {
        name.make_ascii_uppercase();
        if !name.is_ascii() {
            name = name.to_uppercase();
        }
    }
    name
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// The variables from several opened files; later files override earlier
/// ones, two values of one file with one name are an error.
pub fn variables(
    files: &[(String, Opened)],
    options: &NameOptions,
) -> Result<Vec<Variable>, ExecError> {
    // Name -> where it was first set (its place in the output), the file
    // and value that set it last, and the value. Names are owned by the
    // map alone; the output is put in order at the end.
    // (The last field: see `Variable::unmasked_secret`.)
    type Slot = (usize, usize, usize, Zeroizing<String>, Option<String>);
    let mut set: HashMap<String, Slot> = HashMap::new();
    let mut defined = options.expand.then(|| expansion_needed(files)).flatten();
    for (file_no, (file, opened)) in files.iter().enumerate() {
        let mut values = file_values(file, opened, defined.as_mut())?;
        set.reserve(values.len());
        for value_no in 0..values.len() {
            let path = &values[value_no].path;
            if !options.only.is_empty() && !options.only.iter().any(|q| path.starts_with(q)) {
                continue;
            }
            let name = variable_name(path, options);
            let origin = || format!("{file}:{path}");
            if !valid_name(&name) {
                return Err(ExecError::BadName {
                    name,
                    origin: origin(),
                });
            }
            let child_name = if options.file_names {
                std::borrow::Cow::Owned(format!("{name}_FILE"))
            } else {
                std::borrow::Cow::Borrowed(name.as_str())
            };
            if changes_how_programs_start(&child_name)
                && !options
                    .allowed
                    .get(file_no)
                    .is_some_and(|names| names.iter().any(|n| *n == *child_name))
            {
                return Err(ExecError::StartupVariable {
                    file: file.clone(),
                    path: path.to_string(),
                    name: child_name.into_owned(),
                });
            }
            if values[value_no].value.contains('\0') {
                return Err(ExecError::NulInValue { origin: origin() });
            }
            let unmasked =
                (values[value_no].sealed && !maskable(&values[value_no].value)).then(origin);
            let placed = set.len();
            match set.entry(name) {
                // A dotenv file may repeat a NAME on purpose: the last one
                // wins. Otherwise one file may not give a name twice, even
                // when two keys only meet after `--upper` or `--prefix`.
                Entry::Occupied(e)
                    if e.get().1 == file_no
                        && !(opened.format == Format::Dotenv
                            && values[e.get().2].path == *path) =>
                {
                    return Err(ExecError::Collision {
                        first: format!("{file}:{}", values[e.get().2].path),
                        second: origin(),
                        name: e.key().clone(),
                    });
                }
                Entry::Occupied(mut e) => {
                    let (_, set_by_file, set_by_value, value, old_unmasked) = e.get_mut();
                    *set_by_file = file_no;
                    *set_by_value = value_no;
                    *value = std::mem::take(&mut values[value_no].value);
                    *old_unmasked = unmasked;
                }
                Entry::Vacant(e) => {
                    let value = std::mem::take(&mut values[value_no].value);
                    e.insert((placed, file_no, value_no, value, unmasked));
                }
            }
        }
    }
    // Every name has its own place in 0..len: put each there, no sort.
    let mut out: Vec<Option<Variable>> = std::iter::repeat_with(|| None).take(set.len()).collect();
    for (name, (placed, _, _, value, unmasked_secret)) in set {
        let slot = out
            .get_mut(placed)
            .ok_or(ExecError::Internal("a variable's place is out of range"))?;
        *slot = Some(Variable {
            name,
            value,
            unmasked_secret,
        });
    }
    Ok(out.into_iter().flatten().collect())
}

/// The dotenv names defined so far, when some dotenv value has a `$` to
/// expand; `None` when nothing needs expanding (the common case costs
/// nothing).
fn expansion_needed(files: &[(String, Opened)]) -> Option<HashMap<String, Zeroizing<String>>> {
    files
        .iter()
        .any(|(_, o)| o.format == Format::Dotenv && o.plaintext.contains('$'))
        .then(HashMap::new)
}

/// One file's values; dotenv values expanded from `defined` (earlier names
/// of these files), then the environment, when `defined` is given.
#[allow(clippy::type_complexity)]
fn file_values<'a>(
    file: &str,
    opened: &'a Opened,
    defined: Option<&mut HashMap<String, Zeroizing<String>>>,
) -> Result<Vec<MarkedValue<'a>>, ExecError> {
    let values = file_values_all(file, opened, defined)?;
    // Values of key groups this reader is not in hold their tokens in the
    // opened text: they are left out, never passed on as values.
    let locked = opened.locked_paths();
    if locked.is_empty() {
        return Ok(values);
    }
    let names: Vec<String> = locked
        .iter()
        .map(|(p, g)| format!("{p} ({})", g.unwrap_or("default scope")))
        .collect();
    eprintln!(
        "seal: {file}: left out {} value(s) of key groups you are not a recipient of: {}",
        names.len(),
        names.join(", ")
    );
    Ok(values
        .into_iter()
        .filter(|v| !locked.iter().any(|(p, _)| **p == *v.path))
        .collect())
}

#[allow(clippy::type_complexity)]
fn file_values_all<'a>(
    file: &str,
    opened: &'a Opened,
    defined: Option<&mut HashMap<String, Zeroizing<String>>>,
) -> Result<Vec<MarkedValue<'a>>, ExecError> {
    let marked = opened.marked_values().map_err(|source| ExecError::Parse {
        file: file.to_owned(),
        source,
    })?;
    match defined {
        Some(defined) if opened.format == Format::Dotenv => {
            let env = |name: &str| std::env::var(name).ok().map(Zeroizing::new);
            let expanded = crate::format::dotenv::expanded_values(&opened.plaintext, defined, &env)
                .map_err(|source| ExecError::Expand {
                    file: file.to_owned(),
                    source,
                })?;
            // Both lists are the file's entries in order; whether a value
            // was sealed comes from the opened document.
            let in_step = marked.len() == expanded.len();
            let sealed = |i: usize, path: &KeyPath| match marked.get(i) {
                Some(m) if in_step && *m.path == *path => m.sealed,
                _ => marked.iter().any(|m| m.sealed && *m.path == *path),
            };
            Ok(expanded
                .into_iter()
                .enumerate()
                .map(|(i, (path, value))| MarkedValue {
                    sealed: sealed(i, &path),
                    path: std::borrow::Cow::Owned(path),
                    value,
                })
                .collect())
        }
        _ => Ok(marked),
    }
}

/// How the child gets its secrets and output.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep existing environment variables of the same name.
    pub no_override: bool,
    /// Write each value to a 0600 file and pass `NAME_FILE=path`.
    pub files: bool,
    /// Replace values (those [`maskable`] keeps) in the child's
    /// stdout/stderr with `***`.
    pub mask: bool,
}

fn spawn_error(program: &str, e: io::Error) -> ExecError {
    match e.kind() {
        io::ErrorKind::NotFound => ExecError::NotFound(program.to_owned()),
        io::ErrorKind::PermissionDenied => ExecError::NotExecutable(program.to_owned()),
        _ => ExecError::Spawn(program.to_owned(), e),
    }
}

/// A private directory on tmpfs when there is one: `$XDG_RUNTIME_DIR`,
/// else `/dev/shm`, else the system temp dir. Mode 0700, removed on drop.
pub fn private_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let candidates: Vec<PathBuf> = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm"), std::env::temp_dir()])
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no usable temporary directory");
    for base in candidates {
        if !base.is_dir() {
            continue;
        }
        match tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
        {
            Ok(dir) => return Ok(dir),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Run `program args` with `vars`. Returns the exit code seal should exit
/// with: the child's, or 128+signal when a signal killed it.
pub fn run(
    program: &str,
    args: &[OsString],
    vars: &[Variable],
    options: &RunOptions,
) -> Result<i32, ExecError> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let spawns = options.files || options.mask;
    // Signals are caught before the secrets directory exists and before
    // the child starts: a TERM in between would otherwise kill seal by
    // default, leaving the directory on disk or the child running alone.
    let pid = Arc::new(AtomicI32::new(NO_CHILD));
    let stopped_by = Arc::new(AtomicI32::new(0));
    let forwarder = spawns
        .then(|| forward_signals(pid.clone(), stopped_by.clone()))
        .flatten();
    let secrets_dir = if options.files {
        Some(private_dir(".seal-exec-").map_err(ExecError::SecretsDir)?)
    } else {
        None
    };
    for var in vars {
        let name = if options.files {
            format!("{}_FILE", var.name)
        } else {
            var.name.clone()
        };
        if options.no_override && std::env::var_os(&name).is_some() {
            continue;
        }
        match &secrets_dir {
            Some(dir) => {
                let path = dir.path().join(&var.name);
                write_secret_file(&path, var.value.as_bytes()).map_err(ExecError::SecretsDir)?;
                cmd.env(name, path);
            }
            None => {
                cmd.env(name, var.value.as_str());
            }
        }
    }
    if !spawns {
        // Nothing to clean up afterwards: become the command, so signals,
        // the terminal and the exit status are simply the child's. (std
        // restores SIGPIPE and the signal mask, and searches the child's
        // PATH.) Returns only on failure; `vars` are wiped when dropped,
        // std's copies of them are freed as the process exits.
        use std::os::unix::process::CommandExt;
        let limit = crate::hardening::ChildCoreLimit::restore();
        let error = cmd.exec();
        drop(limit);
        return Err(spawn_error(program, error));
    }

    let secrets: Vec<Zeroizing<String>> = if options.mask {
        vars.iter()
            .filter(|v| maskable(&v.value))
            .map(|v| v.value.clone())
            .collect()
    } else {
        Vec::new()
    };
    if options.mask {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // Stopped before the child started: it never runs (the secrets
    // directory goes with `secrets_dir`).
    let early = stopped_by.load(Ordering::SeqCst);
    if early != 0 {
        return Ok(128 + early);
    }
    // The child inherits the core limit seal was started with.
    let limit = crate::hardening::ChildCoreLimit::restore();
    let spawned = cmd.spawn();
    drop(limit);
    let mut child = spawned.map_err(|e| spawn_error(program, e))?;
    let child_pid = child.id() as i32;
    pid.store(child_pid, Ordering::SeqCst);
    // A signal that came while the child was starting is the child's now
    // (the forwarder hands it over itself if it sees the pid first).
    forward_pending(&stopped_by, child_pid);

    let mut copiers = Vec::new();
    if options.mask {
        let masker = Arc::new(Masker::new(&secrets));
        if let Some(out) = child.stdout.take() {
            let m = masker.clone();
            copiers.push(std::thread::spawn(move || m.copy(out, io::stdout())));
        }
        if let Some(err) = child.stderr.take() {
            let m = masker.clone();
            copiers.push(std::thread::spawn(move || m.copy(err, io::stderr())));
        }
    }
    let status = child.wait();
    pid.store(NO_CHILD, Ordering::SeqCst);
    // The masked output ends when every writer has closed it, which may be
    // after the child exits (a background process it started). A signal
    // to seal meanwhile has no child to go to: it ends the wait, and seal.
    let mut signal = 0;
    for c in copiers {
        while !c.is_finished() {
            signal = stopped_by.load(Ordering::SeqCst);
            if signal != 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if signal != 0 {
            break;
        }
        let _ = c.join();
    }
    drop(forwarder);
    // The secrets directory goes away here, however the child ended.
    drop(secrets_dir);
    let status = status.map_err(|e| ExecError::Spawn(program.to_owned(), e))?;
    if signal != 0 {
        return Ok(128 + signal);
    }
    Ok(exit_code(status))
}

/// The shell's convention: the exit code, or 128 + the signal number.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn write_secret_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)
}

/// Forwards INT, TERM, HUP and QUIT sent to seal to the child while it
/// runs. An INT from the terminal already reached the child (same process
/// group), so only one sent by another process is forwarded.
struct Forwarder {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What `pid` holds while there is no child to forward to.
const NO_CHILD: i32 = 0;

/// Send the signal recorded in `stopped_by`, if any, to `child`, once:
/// both seal's main thread and the forwarder call this, and `swap` gives
/// it to one of them.
fn forward_pending(stopped_by: &AtomicI32, child: i32) {
    let signal = stopped_by.swap(0, Ordering::SeqCst);
    if signal == 0 {
        return;
    }
    if let Ok(sig) = nix::sys::signal::Signal::try_from(signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child), sig);
    }
}

/// While there is no child (`pid` is [`NO_CHILD`]: before it starts and
/// after it is gone), a signal, from the terminal too, is recorded in
/// `stopped_by` for seal to stop on.
fn forward_signals(pid: Arc<AtomicI32>, stopped_by: Arc<AtomicI32>) -> Option<Forwarder> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::iterator::SignalsInfo;
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]).ok()?;
    let handle = signals.handle();
    let thread = std::thread::spawn(move || {
        for origin in signals.forever() {
            let from_terminal =
                origin.process.is_none() && matches!(origin.signal, SIGINT | SIGQUIT);
            let target = pid.load(Ordering::SeqCst);
            if target == NO_CHILD {
                stopped_by.store(origin.signal, Ordering::SeqCst);
                // The child may have started meanwhile, its pid stored
                // after this thread read it: then hand the signal over.
                let started = pid.load(Ordering::SeqCst);
                if started != NO_CHILD {
                    forward_pending(&stopped_by, started);
                }
                continue;
            }
            if from_terminal {
                continue;
            }
            if let Ok(sig) = nix::sys::signal::Signal::try_from(origin.signal) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(target), sig);
            }
        }
    });
    Some(Forwarder {
        handle,
        thread: Some(thread),
    })
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Streams bytes, replacing every occurrence of a secret with `***`, also
/// when a secret is split across reads.
pub struct Masker {
    matcher: Option<aho_corasick::AhoCorasick>,
    longest: usize,
    /// The secrets in byte order, to tell whether output may be the start
    /// of one (only such a tail is held back).
    sorted: Vec<Zeroizing<Vec<u8>>>,
}

const MASK: &[u8] = b"***";

impl Masker {
    pub fn new(secrets: &[Zeroizing<String>]) -> Masker {
        let patterns: Vec<&[u8]> = secrets
            .iter()
            .map(|s| s.as_bytes())
            .filter(|s| !s.is_empty())
            .collect();
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let matcher = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()
            .filter(|_| !patterns.is_empty());
        let mut sorted: Vec<Zeroizing<Vec<u8>>> = patterns
            .iter()
            .map(|p| Zeroizing::new(p.to_vec()))
            .collect();
        sorted.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        sorted.dedup();
        Masker {
            matcher,
            longest,
            sorted,
        }
    }

    /// Whether `tail` is the start of a secret, and shorter than it: what
    /// follows may complete it.
    fn starts_a_secret(&self, tail: &[u8]) -> bool {
        // Secrets that start with `tail` sort together, from the first one
        // not below it; an equal one may be followed by a longer one.
        let from = self.sorted.partition_point(|s| s.as_slice() < tail);
        self.sorted[from..]
            .iter()
            .take(2)
            .any(|s| s.len() > tail.len() && s.starts_with(tail))
    }

    /// Where the held-back tail of `buf` starts: the earliest position from
    /// which the rest could still grow into a secret. Output that cannot be
    /// part of one (a prompt waiting for input) passes at once.
    fn held_from(&self, buf: &[u8]) -> usize {
        let window = buf.len().saturating_sub(self.longest.saturating_sub(1));
        (window..buf.len())
            .find(|&at| self.starts_a_secret(&buf[at..]))
            .unwrap_or(buf.len())
    }

    /// Mask `buf`; returns the masked bytes that are safe to emit and how
    /// many input bytes they cover (the rest may be the start of a secret).
    fn mask_prefix(&self, buf: &[u8], at_eof: bool) -> (Vec<u8>, usize) {
        let Some(matcher) = &self.matcher else {
            return (buf.to_vec(), buf.len());
        };
        let safe = if at_eof {
            buf.len()
        } else {
            self.held_from(buf)
        };
        let mut out = Vec::with_capacity(buf.len());
        let mut cursor = 0;
        for m in matcher.find_iter(buf) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&buf[cursor..m.start()]);
            out.extend_from_slice(MASK);
            cursor = m.end();
        }
        let emit_to = safe.max(cursor);
        out.extend_from_slice(&buf[cursor..emit_to]);
        (out, emit_to)
    }

    /// Mask a whole buffer.
    #[cfg(test)]
    pub fn mask_all(&self, buf: &[u8]) -> Vec<u8> {
        self.mask_prefix(buf, true).0
    }

    fn copy(&self, mut from: impl Read, mut to: impl Write) {
        let mut pending: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
        let mut chunk = Zeroizing::new(vec![0u8; 16 * 1024]);
        loop {
            let n = match from.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            pending.extend_from_slice(&chunk[..n]);
            let (out, used) = self.mask_prefix(&pending, false);
            pending.drain(..used);
            if to.write_all(&out).and_then(|_| to.flush()).is_err() {
                break;
            }
        }
        let (out, _) = self.mask_prefix(&pending, true);
        let _ = to.write_all(&out).and_then(|_| to.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_cannot_be_secrets_are_not_masked() {
        for shown in [
            "true", "False", "5432", "-1234", "12.5", "99999", "1e10", "alice", "", "a b",
        ] {
            assert!(!maskable(shown), "{shown:?} would be masked");
        }
        for hidden in [
            "hunter2",
            "123456",
            "-123456",
            "abcdef",
            "falsey",
            "été-été",
        ] {
            assert!(maskable(hidden), "{hidden:?} would be shown");
        }
    }

    fn masker(secrets: &[&str]) -> Masker {
        Masker::new(
            &secrets
                .iter()
                .map(|s| Zeroizing::new(s.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn masks_whole_buffers() {
        let m = masker(&["hunter2", "sk-live-123"]);
        assert_eq!(
            m.mask_all(b"pw=hunter2 key=sk-live-123!"),
            b"pw=*** key=***!"
        );
        assert_eq!(m.mask_all(b"nothing here"), b"nothing here");
    }

    #[test]
    fn masks_secrets_split_across_reads() {
        let m = masker(&["hunter2"]);
        let mut out = Vec::new();
        // A reader that returns one byte at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        m.copy(Trickle(b"a hunter2 b hunter"), &mut out);
        assert_eq!(out, b"a *** b hunter");
    }

    /// Only a tail that may grow into a secret waits for more output: a
    /// prompt is shown at once, even with long secrets.
    #[test]
    fn holds_back_only_what_may_start_a_secret() {
        let m = masker(&["sk-live-0123456789abcdef", "hunter2", "hunter2000"]);
        let (out, used) = m.mask_prefix(b"Enter value: ", false);
        assert_eq!((out.as_slice(), used), (b"Enter value: ".as_slice(), 13));
        let (out, used) = m.mask_prefix(b"key sk-li", false);
        assert_eq!((out.as_slice(), used), (b"key ".as_slice(), 4));
        // "hunter2" is a secret, and also the start of a longer one.
        let (out, used) = m.mask_prefix(b"pw hunter2", false);
        assert_eq!((out.as_slice(), used), (b"pw ".as_slice(), 3));
        let (out, _) = m.mask_prefix(b"pw hunter2000 ok", false);
        assert_eq!(out, b"pw *** ok");
        let (out, _) = m.mask_prefix(b"pw hunter2 ok", false);
        assert_eq!(out, b"pw *** ok");
        assert_eq!(m.mask_all(b"pw hunter2"), b"pw ***");
    }

    proptest::proptest! {
        /// However the output is cut into reads, the masked stream is the
        /// whole output masked at once.
        #[test]
        fn reads_do_not_change_what_is_masked(
            secrets in proptest::collection::vec("[ab]{1,6}", 1..4),
            text in "[abc]{0,60}",
            cuts in proptest::collection::vec(1usize..8, 1..20),
        ) {
            let m = masker(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
            struct Cut<'a>(&'a [u8], Vec<usize>, usize);
            impl Read for Cut<'_> {
                fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                    let n = self.1[self.2 % self.1.len()].min(self.0.len()).min(buf.len());
                    self.2 += 1;
                    buf[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut out = Vec::new();
            m.copy(Cut(text.as_bytes(), cuts, 0), &mut out);
            proptest::prop_assert_eq!(out, m.mask_all(text.as_bytes()));
        }
    }

    #[test]
    fn names() {
        let path = KeyPath::new(
            0,
            vec![
                Segment::Key("database".into()),
                Segment::Key("password".into()),
            ],
        );
        assert_eq!(
            variable_name(&path, &NameOptions::default()),
            "database_password"
        );
        let opts = NameOptions {
            upper: true,
            prefix: "app_".into(),
            ..NameOptions::default()
        };
        assert_eq!(variable_name(&path, &opts), "APP_DATABASE_PASSWORD");
        let list = KeyPath::new(0, vec![Segment::Key("keys".into()), Segment::Index(2)]);
        assert_eq!(variable_name(&list, &NameOptions::default()), "keys_2");
        assert!(valid_name("A_b.c-1"));
        assert!(!valid_name("1A") && !valid_name("a b") && !valid_name("") && !valid_name("a=b"));
    }

    #[test]
    fn startup_names() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "BASH_ENV",
            "ENV",
            "NODE_OPTIONS",
            "PYTHONSTARTUP",
            "PYTHONPATH",
            "PERL5OPT",
            "GIT_SSH_COMMAND",
            "GIT_CONFIG_KEY_0",
            "PATH",
            "DYLD_INSERT_LIBRARIES",
        ] {
            assert!(changes_how_programs_start(name), "{name}");
        }
        for name in [
            "DATABASE_PASSWORD",
            "path",
            "ld_preload",
            "PATH_FILE",
            "ENVIRONMENT",
            "GIT_TOKEN",
        ] {
            assert!(!changes_how_programs_start(name), "{name}");
        }
    }
}
