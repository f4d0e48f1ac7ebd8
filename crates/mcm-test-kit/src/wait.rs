//! Polling with a deadline.
//!
//! Nothing in a real plane happens instantly (informers sync, controllers requeue), so
//! tests wait for observable effects. A timeout must explain itself: the error carries
//! what was awaited and what the last check saw.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Calls `check` every `poll` until it returns `Ok`, or fails with [`Error::Timeout`]
/// after `timeout`, quoting the last `Err` it returned.
///
/// `what` describes the awaited condition for that message ("3 Machines in ns-1").
/// A check that hangs is cut off at the deadline as well.
pub async fn wait_until<T, E, F, Fut>(
    what: impl Into<String>,
    timeout: Duration,
    poll: Duration,
    mut check: F,
) -> Result<T>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    poll_until(what, timeout, poll, || {
        let attempt = check();
        async move {
            match attempt.await {
                Ok(value) => Attempt::Done(value),
                Err(reason) => Attempt::NotYet(reason.to_string()),
            }
        }
    })
    .await
}

/// The outcome of one check inside [`poll_until`].
pub(crate) enum Attempt<T> {
    /// The condition holds.
    Done(T),
    /// Not yet; the text says what was seen.
    NotYet(String),
    /// Waiting longer cannot help (e.g. the process being waited for has exited).
    Fatal(Error),
}

/// Like [`wait_until`], but a check can also give up early.
pub(crate) async fn poll_until<T, F, Fut>(
    what: impl Into<String>,
    timeout: Duration,
    poll: Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no check finished yet");
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, check()).await {
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Fatal(error)) => return Err(error),
            Ok(Attempt::NotYet(reason)) => last = reason,
            Err(_) => last = format!("the last check was still running at the deadline ({last})"),
        }
        if Instant::now() + poll > deadline {
            return Err(Error::Timeout {
                what: what.into(),
                timeout,
                last,
            });
        }
        tokio::time::sleep(poll).await;
    }
}
