//! No core dumps while seal holds plaintext.
//!
//! A core file is a copy of the process's memory on disk: a `seal edit`
//! killed by SIGABRT while waiting on its editor once left one holding the
//! whole decrypted file. Every command therefore starts by marking the
//! process non-dumpable (`PR_SET_DUMPABLE` 0: no core of any kind, also
//! when `core_pattern` pipes to a handler, and `/proc/PID` becomes
//! root-owned so other processes of the user cannot read its memory) and
//! by setting the soft `RLIMIT_CORE` to 0 (no core file, on systems without
//! `prctl` too). The hard limit is kept, so `seal exec` can give the
//! command it runs the limit it would have had when started directly.
//!
//! Children inherit the 0 limit (an editor holds the plaintext as well);
//! the dumpable flag is reset by `execve`, as for any program.

use std::sync::OnceLock;

use nix::sys::resource::{getrlimit, rlim_t, setrlimit, Resource};

/// The core limits seal was started with: (soft, hard).
static STARTED_WITH: OnceLock<(rlim_t, rlim_t)> = OnceLock::new();

/// Why core dumps could not be turned off; seal then runs nothing.
#[derive(Debug, thiserror::Error)]
pub enum HardeningError {
    /// `prctl(PR_SET_DUMPABLE, 0)` failed.
    #[error("cannot mark the process non-dumpable: {0}")]
    Dumpable(nix::Error),
    /// `getrlimit`/`setrlimit(RLIMIT_CORE)` failed.
    #[error("cannot set the core file size limit to 0: {0}")]
    CoreLimit(nix::Error),
}

/// Turn off core dumps for this process: non-dumpable, soft core limit 0.
/// Call it first thing; calling it again is harmless.
pub fn disable_core_dumps() -> Result<(), HardeningError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    nix::sys::prctl::set_dumpable(false).map_err(HardeningError::Dumpable)?;
    let (soft, hard) = getrlimit(Resource::RLIMIT_CORE).map_err(HardeningError::CoreLimit)?;
    let (_, hard) = *STARTED_WITH.get_or_init(|| (soft, hard));
    setrlimit(Resource::RLIMIT_CORE, 0, hard).map_err(HardeningError::CoreLimit)
}

/// The core limit given back to a command `seal exec` starts, while this
/// value lives; dropping it sets seal's own limit to 0 again. The process
/// stays non-dumpable meanwhile, so seal itself still leaves no core.
pub struct ChildCoreLimit(());

impl ChildCoreLimit {
    /// Give back the limit seal was started with (before
    /// [`disable_core_dumps`]); a no-op if it was never lowered.
    pub fn restore() -> ChildCoreLimit {
        if let Some(&(soft, hard)) = STARTED_WITH.get() {
            // Raising the soft limit up to the unchanged hard one cannot
            // fail; if it did, the command would only get a 0 limit.
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
        ChildCoreLimit(())
    }
}

impl Drop for ChildCoreLimit {
    fn drop(&mut self) {
        if let Some(&(_, hard)) = STARTED_WITH.get() {
            let _ = setrlimit(Resource::RLIMIT_CORE, 0, hard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, as the limit is per process and tests share it.
    #[test]
    fn core_limit_is_lowered_and_given_back() {
        let (soft_before, hard_before) = getrlimit(Resource::RLIMIT_CORE).unwrap();
        disable_core_dumps().unwrap();
        assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, hard_before));
        #[cfg(target_os = "linux")]
        assert!(!nix::sys::prctl::get_dumpable().unwrap());
        {
            let _child = ChildCoreLimit::restore();
            assert_eq!(
                getrlimit(Resource::RLIMIT_CORE).unwrap(),
                (soft_before, hard_before)
            );
        }
        assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, hard_before));
        // Twice is harmless, and the limit to give back is the first one.
        disable_core_dumps().unwrap();
        {
            let _child = ChildCoreLimit::restore();
            assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap().0, soft_before);
        }
        #[cfg(target_os = "linux")]
        nix::sys::prctl::set_dumpable(true).unwrap();
        setrlimit(Resource::RLIMIT_CORE, soft_before, hard_before).unwrap();
    }
}
