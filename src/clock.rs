//! The current time, which tests may set.
//!
//! `SEAL_TEST_NOW` (RFC 3339, e.g. `2026-06-01T00:00:00Z`) replaces the
//! system clock for everything seal dates: `modified`, `changed`, and the
//! "now" `seal status` measures against. It exists for tests (README,
//! "Rotation status"); an unset variable means the system clock.

use std::time::SystemTime;

/// The variable tests set.
pub const TEST_NOW: &str = "SEAL_TEST_NOW";

/// Why `SEAL_TEST_NOW` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{TEST_NOW} is set to {0:?}, which is not an RFC 3339 time such as 2026-06-01T00:00:00Z (it is for tests; unset it)")]
pub struct BadTestNow(String);

/// The current time: `SEAL_TEST_NOW` when set, else the system clock.
pub fn now() -> Result<SystemTime, BadTestNow> {
    match std::env::var(TEST_NOW) {
        Ok(text) => humantime::parse_rfc3339_weak(&text).map_err(|_| BadTestNow(text)),
        Err(_) => Ok(SystemTime::now()),
    }
}

/// [`now`] for writing a file: a bad `SEAL_TEST_NOW` falls back to the
/// system clock, since a date in a sealed file is never a secret and
/// every command that reads it (`seal status`) reports the bad variable.
pub fn now_or_system() -> SystemTime {
    now().unwrap_or_else(|_| SystemTime::now())
}

/// `t` as `modified` and `changed` write it: RFC 3339 UTC with seconds.
/// Times outside 1970 to 9999 (a due date far ahead) are written as the
/// nearest end of that range, which is all the format can hold.
pub fn rfc3339(t: SystemTime) -> String {
    use std::time::Duration;
    let last = SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    let t = t.clamp(SystemTime::UNIX_EPOCH, last);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_times_are_clamped_not_a_panic() {
        let far = humantime::parse_rfc3339("9999-12-01T00:00:00Z").unwrap()
            + std::time::Duration::from_secs(1000 * 365 * 86_400);
        assert_eq!(rfc3339(far), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
