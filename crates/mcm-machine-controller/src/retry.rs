//! When a key comes back: the retry periods of MCM's machine controller
//! (`machineutils`), named as the contract names them.
//!
//! A pass of the machine or termination queue always ends with a `Retry`, whether the
//! step succeeded or not; that is how the controller drives a Machine through its
//! states. If a key is scheduled twice, the earlier time wins.

use std::time::Duration;

use crate::config::ControllerConfig;

/// 200 ms: an update got HTTP 409 Conflict.
pub const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// 5 s: step done, continue; transient errors.
pub const SHORT_RETRY: Duration = Duration::from_secs(5);
/// 3 min: non-transient errors; "creation in progress" guard.
pub const MEDIUM_RETRY: Duration = Duration::from_secs(3 * 60);
/// 10 min: steady state; permanent errors.
pub const LONG_RETRY: Duration = Duration::from_secs(10 * 60);
/// 1 min: re-check of a running creation or health timeout.
pub const TIMEOUT_RECHECK: Duration = Duration::from_secs(60);

/// How a pass asks for its key to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// [`CONFLICT_RETRY`].
    Conflict,
    /// [`SHORT_RETRY`].
    Short,
    /// [`MEDIUM_RETRY`].
    Medium,
    /// [`LONG_RETRY`].
    Long,
    /// `--resource-exhausted-retry` (0 means 10 min).
    ResourceExhausted,
    /// [`TIMEOUT_RECHECK`].
    OneMinute,
    /// Right away (volume-attachment step moving on).
    Immediate,
    /// The work queue's per-key exponential back-off (a reconcile "error").
    RateLimited,
    /// Do not schedule the key again (it comes back only on an event).
    Never,
}

impl Retry {
    /// The delay; `None` for [`Retry::RateLimited`] (the queue decides) and
    /// [`Retry::Never`].
    pub fn delay(self, config: &ControllerConfig) -> Option<Duration> {
        match self {
            Retry::Conflict => Some(CONFLICT_RETRY),
            Retry::Short => Some(SHORT_RETRY),
            Retry::Medium => Some(MEDIUM_RETRY),
            Retry::Long => Some(LONG_RETRY),
            Retry::ResourceExhausted => Some(if config.resource_exhausted_retry.is_zero() {
                LONG_RETRY
            } else {
                config.resource_exhausted_retry
            }),
            Retry::OneMinute => Some(TIMEOUT_RECHECK),
            Retry::Immediate => Some(Duration::ZERO),
            Retry::RateLimited | Retry::Never => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_match_mcm() {
        let config = ControllerConfig::default();
        assert_eq!(
            Retry::Conflict.delay(&config),
            Some(Duration::from_millis(200))
        );
        assert_eq!(Retry::Short.delay(&config), Some(Duration::from_secs(5)));
        assert_eq!(Retry::Medium.delay(&config), Some(Duration::from_secs(180)));
        assert_eq!(Retry::Long.delay(&config), Some(Duration::from_secs(600)));
        assert_eq!(
            Retry::OneMinute.delay(&config),
            Some(Duration::from_secs(60))
        );
        assert_eq!(Retry::Immediate.delay(&config), Some(Duration::ZERO));
        assert_eq!(Retry::RateLimited.delay(&config), None);
        assert_eq!(Retry::Never.delay(&config), None);
    }

    #[test]
    fn resource_exhausted_zero_means_ten_minutes() {
        let mut config = ControllerConfig {
            resource_exhausted_retry: Duration::ZERO,
            ..ControllerConfig::default()
        };
        assert_eq!(Retry::ResourceExhausted.delay(&config), Some(LONG_RETRY));
        config.resource_exhausted_retry = Duration::from_secs(42);
        assert_eq!(
            Retry::ResourceExhausted.delay(&config),
            Some(Duration::from_secs(42))
        );
    }
}
