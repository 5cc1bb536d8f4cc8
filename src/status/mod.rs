//! `seal status`: the secret inventory. For each sealed value: the
//! policy that covers it (`.seal.yaml` `policy:`), when it last changed
//! (the metadata's `changed` dates, else git history), when it is next due
//! and its state. Needs no key.

pub mod history;

use std::time::{Duration, SystemTime};

use crate::config::{Applied, Interval};

/// Where a value stands against its rotation schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Overdue,
    DueSoon,
    NoDate,
    NoPolicy,
    Ok,
}

impl State {
    /// The name `seal status` prints (also in `--json`).
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::DueSoon => "due soon",
            State::Overdue => "overdue",
            State::NoDate => "no date known",
            State::NoPolicy => "no policy",
        }
    }
}

/// One value's line of the inventory.
#[derive(Clone, Debug)]
pub struct Row {
    /// The file as shown (relative to the current directory).
    pub file: String,
    /// The key path as shown.
    pub path: String,
    pub owner: Option<String>,
    pub tier: Option<String>,
    pub last_changed: Option<SystemTime>,
    /// Where `last_changed` came from.
    pub source: DateSource,
    pub rotate_every: Option<String>,
    pub next_due: Option<SystemTime>,
    pub state: State,
    /// Names (from `.seal.yaml`, else short keys) of the file's recipients.
    pub readers: Vec<String>,
    /// How to rotate it (`note` of the policy).
    pub note: Option<String>,
    /// Whether a value added with `seal set --public` waits at this path
    /// to be folded in (spec/FORMAT.md, section 13).
    pub pending: bool,
}

/// Where a last-changed date came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateSource {
    /// The file's `changed` metadata.
    Metadata,
    /// The git history of the file.
    History,
    None,
}

/// The state of a value last changed at `last_changed` under `policy`, at
/// `now`, and when it is next due.
pub fn assess(
    now: SystemTime,
    last_changed: Option<SystemTime>,
    policy: Option<&Applied>,
) -> (State, Option<SystemTime>) {
    let Some(every) = policy.and_then(|p| p.rotate_every.as_ref()) else {
        return (State::NoPolicy, None);
    };
    let Some(last) = last_changed else {
        return (State::NoDate, None);
    };
    let Some(due) = last.checked_add(Duration::from_secs(every.seconds)) else {
        return (State::Ok, None);
    };
    let warn = policy
        .and_then(|p| p.warn_before.clone())
        .or_else(|| crate::config::parse_interval(crate::config::DEFAULT_WARN_BEFORE).ok())
        .map_or(0, |w: Interval| w.seconds);
    let state = if now >= due {
        State::Overdue
    } else if now
        .checked_add(Duration::from_secs(warn))
        .is_none_or(|t| t >= due)
    {
        State::DueSoon
    } else {
        State::Ok
    };
    (state, Some(due))
}

/// A time as `changed` writes it.
pub fn rfc3339(t: SystemTime) -> String {
    crate::clock::rfc3339(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(every: &str, warn: Option<&str>) -> Applied {
        Applied {
            rotate_every: Some(crate::config::parse_interval(every).unwrap()),
            warn_before: warn.map(|w| crate::config::parse_interval(w).unwrap()),
            ..Applied::default()
        }
    }

    #[test]
    fn states() {
        let day = Duration::from_secs(86_400);
        let t0 = SystemTime::UNIX_EPOCH + 20_000 * day;
        let p = applied("90d", None);
        assert_eq!(assess(t0 + 10 * day, Some(t0), Some(&p)).0, State::Ok);
        assert_eq!(assess(t0 + 76 * day, Some(t0), Some(&p)).0, State::DueSoon);
        let (s, due) = assess(t0 + 90 * day, Some(t0), Some(&p));
        assert_eq!((s, due), (State::Overdue, Some(t0 + 90 * day)));
        let wide = applied("90d", Some("30d"));
        assert_eq!(
            assess(t0 + 61 * day, Some(t0), Some(&wide)).0,
            State::DueSoon
        );
        assert_eq!(assess(t0, None, Some(&p)), (State::NoDate, None));
        assert_eq!(assess(t0, Some(t0), None), (State::NoPolicy, None));
        let owner_only = Applied {
            owner: Some("ops".into()),
            ..Applied::default()
        };
        assert_eq!(assess(t0, Some(t0), Some(&owner_only)).0, State::NoPolicy);
    }
}
