//! Where helper threads run.
//!
//! Some kernels (the virtual machines this project's benchmarks ran on
//! among them) put a new thread on its parent's CPU and move it only at a
//! later scheduler tick, so for milliseconds the two take turns on one CPU
//! while another idles. A helper therefore moves itself off its parent's
//! CPU. A CPU can also be slow to start a thread (a virtual CPU the host
//! has not scheduled), so once the parent has nothing left to do it lets
//! its helpers run anywhere again: waiting for a helper never takes longer
//! than it would have without the move.
//!
//! Everything here is best effort: on any error, or with one CPU, threads
//! run where the kernel puts them.

use std::sync::{Mutex, MutexGuard};

use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
use nix::unistd::{gettid, Pid};

/// The placement of one thread's helpers.
pub struct Placement {
    /// The CPUs the parent may use, and so its helpers; `None` when unknown.
    allowed: Option<CpuSet>,
    /// Those CPUs without the one the parent ran on when this was made.
    elsewhere: Option<CpuSet>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    released: bool,
    moved: Vec<Pid>,
}

impl Placement {
    /// For helpers of the calling thread.
    pub fn new() -> Self {
        let this = Pid::from_raw(0);
        let allowed = sched_getaffinity(this).ok();
        let elsewhere = match (&allowed, sched_getcpu()) {
            (Some(allowed), Ok(cpu)) => all_but(allowed, cpu),
            _ => None,
        };
        Placement {
            allowed,
            elsewhere,
            state: Mutex::new(State::default()),
        }
    }

    /// On a helper: run on the parent's CPUs but the one it ran on, unless
    /// the parent has already let its helpers go. Keep the guard for as
    /// long as the helper runs: dropping it takes the helper off the list
    /// of threads a release moves, so a release never touches a thread id
    /// that has ended and may have been given to another thread.
    pub fn move_off_parent(&self) -> Moved<'_> {
        let moved = Moved(self);
        let Some(elsewhere) = &self.elsewhere else {
            return moved;
        };
        // Under the lock, so a release either comes after the move (and
        // undoes it) or before it (and the move does not happen).
        let mut state = self.state();
        if !state.released && sched_setaffinity(Pid::from_raw(0), elsewhere).is_ok() {
            state.moved.push(gettid());
        }
        moved
    }

    /// On the parent, before it waits for its helpers: let them run on any
    /// of its CPUs, its own included. Dropping the guard does this.
    pub fn release_on_drop(&self) -> Release<'_> {
        Release(self)
    }

    fn release(&self) {
        let mut state = self.state();
        state.released = true;
        if let Some(allowed) = &self.allowed {
            for helper in state.moved.drain(..) {
                // Every listed helper is still running (see `Moved`).
                let _ = sched_setaffinity(helper, allowed);
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock still
        // holds a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Placement {
    fn default() -> Self {
        Placement::new()
    }
}

/// A helper moved (or not) by [`Placement::move_off_parent`], while it runs.
pub struct Moved<'p>(&'p Placement);

impl Drop for Moved<'_> {
    fn drop(&mut self) {
        let me = gettid();
        self.0.state().moved.retain(|&tid| tid != me);
    }
}

/// Lets a [`Placement`]'s helpers run anywhere again when dropped.
pub struct Release<'p>(&'p Placement);

impl Release<'_> {
    /// Release now rather than at the end of the scope.
    pub fn now(self) {}
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// `allowed` without `cpu`, if that leaves any CPU.
fn all_but(allowed: &CpuSet, cpu: usize) -> Option<CpuSet> {
    let mut others = CpuSet::new();
    let mut any = false;
    for c in (0..CpuSet::count()).filter(|&c| c != cpu) {
        if allowed.is_set(c).unwrap_or(false) && others.set(c).is_ok() {
            any = true;
        }
    }
    any.then_some(others)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(set: &CpuSet) -> Vec<usize> {
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap())
            .collect()
    }

    #[test]
    fn all_but_leaves_out_one_cpu_and_needs_another() {
        let mut set = CpuSet::new();
        for c in [0, 2, 5] {
            set.set(c).unwrap();
        }
        assert_eq!(cpus(&all_but(&set, 2).unwrap()), [0, 5]);
        assert_eq!(cpus(&all_but(&set, 7).unwrap()), [0, 2, 5]);
        let mut one = CpuSet::new();
        one.set(3).unwrap();
        assert!(all_but(&one, 3).is_none());
    }

    /// A helper that has finished is off the list a release goes through:
    /// its thread id may already belong to another thread.
    #[test]
    fn finished_helpers_are_not_moved_back() {
        let placement = &Placement::new();
        std::thread::scope(|scope| {
            let moved_while_running = scope
                .spawn(move || {
                    let _moved = placement.move_off_parent();
                    let listed = placement.state().moved.len();
                    listed
                })
                .join()
                .unwrap();
            assert_eq!(
                moved_while_running,
                usize::from(placement.elsewhere.is_some())
            );
            assert!(placement.state().moved.is_empty());
        });
    }

    /// A helper moved off its parent's CPU gets the parent's CPUs back on
    /// release, and one that starts after the release is not moved at all.
    #[test]
    fn released_helpers_may_run_anywhere_again() {
        let me = Pid::from_raw(0);
        let allowed = sched_getaffinity(me).unwrap();
        let placement = &Placement::new();
        std::thread::scope(|scope| {
            let release = placement.release_on_drop();
            let (moved_tx, moved_rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let early = scope.spawn(move || {
                let _moved = placement.move_off_parent();
                moved_tx.send(sched_getaffinity(me).unwrap()).unwrap();
                go_rx.recv().unwrap();
                sched_getaffinity(me).unwrap()
            });
            let while_moved = moved_rx.recv().unwrap();
            match &placement.elsewhere {
                Some(elsewhere) => assert_eq!(cpus(&while_moved), cpus(elsewhere)),
                None => assert_eq!(cpus(&while_moved), cpus(&allowed)),
            }
            release.now();
            go_tx.send(()).unwrap();
            assert_eq!(cpus(&early.join().unwrap()), cpus(&allowed));
            let late = scope.spawn(move || {
                let _moved = placement.move_off_parent();
                sched_getaffinity(me).unwrap()
            });
            assert_eq!(cpus(&late.join().unwrap()), cpus(&allowed));
        });
    }
}
