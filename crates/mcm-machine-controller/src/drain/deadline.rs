//! The drain's overall deadline: every call and every wait of a drain run ends by it.
//!
//! MCM runs the drain under a context deadline (`RunDrain`); here the same bound is a
//! value passed down, so sleeps end early too (Go's `time.Sleep` between eviction
//! retries did not) and each step can tell "my own limit ran out" from "the whole
//! drain ran out".

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// When the drain run must end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

/// How a bounded wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The step's own limit ran out first.
    Limit,
    /// The drain's deadline ran out first.
    Drain,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            at: now
                .checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            timeout,
        }
    }

    /// The drain timeout this deadline was made from.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The end of a step that may take `limit`, never later than the deadline, and
    /// which of the two it is.
    pub(crate) fn step_end(&self, limit: Duration) -> (Instant, Expiry) {
        let now = Instant::now();
        match now.checked_add(limit) {
            Some(end) if end < self.at => (end, Expiry::Limit),
            _ => (self.at, Expiry::Drain),
        }
    }

    /// Sleeps `duration`, or until the deadline if that comes first; false if the
    /// deadline cut the sleep short (or had passed already).
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        let (end, expiry) = self.step_end(duration);
        tokio::time::sleep_until(end).await;
        expiry == Expiry::Limit
    }

    /// Runs `future` until the deadline; `None` if the deadline came first.
    pub(crate) async fn bound<F: Future>(&self, future: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.at, future).await.ok()
    }
}

/// A duration as Go prints it (`1m30s`), for messages MCM users know.
pub(crate) fn go_text(duration: Duration) -> String {
    mcm_api::GoDuration::from_std(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleep_is_cut_short_by_the_deadline() {
        let deadline = Deadline::after(Duration::from_secs(10));
        assert!(deadline.sleep(Duration::from_secs(4)).await);
        assert!(!deadline.expired());
        let before = Instant::now();
        assert!(!deadline.sleep(Duration::from_secs(20)).await);
        assert_eq!(Instant::now() - before, Duration::from_secs(6));
        assert!(deadline.expired());
    }

    #[tokio::test(start_paused = true)]
    async fn step_end_names_the_earlier_limit() {
        let deadline = Deadline::after(Duration::from_secs(10));
        let now = Instant::now();
        assert_eq!(
            deadline.step_end(Duration::from_secs(3)),
            (now + Duration::from_secs(3), Expiry::Limit)
        );
        assert_eq!(
            deadline.step_end(Duration::from_secs(30)),
            (now + Duration::from_secs(10), Expiry::Drain)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bound_gives_up_at_the_deadline() {
        let deadline = Deadline::after(Duration::from_secs(2));
        let quick = deadline.bound(async { 7 }).await;
        assert_eq!(quick, Some(7));
        let slow = deadline
            .bound(tokio::time::sleep(Duration::from_secs(5)))
            .await;
        assert_eq!(slow, None);
    }

    #[test]
    fn go_text_matches_go() {
        assert_eq!(go_text(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_text(Duration::from_secs(60)), "1m0s");
    }
}
