//! What a drain run did (for logs and metrics) and the pauses it makes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The drain's fixed pauses. [`Default`] gives MCM's numbers; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainTimings {
    /// Pause before retrying an eviction refused with HTTP 429, and between rounds of
    /// PVC-pod evictions (MCM `PodEvictionRetryInterval`, 20 s).
    pub eviction_retry_interval: Duration,
    /// How often a pod's disappearance and a node's attached volumes are re-checked
    /// (MCM `Interval` / `VolumeDetachPollInterval`, 5 s).
    pub poll_interval: Duration,
    /// Added to a pod's (capped) grace period when waiting for it to go (MCM: 30 s).
    pub termination_buffer: Duration,
    /// Pause between tries of reading a PVC or PV (MCM `GetPvDetailsRetryInterval`, 5 s).
    pub lookup_retry_interval: Duration,
    /// Tries of reading a PVC or PV before its volume is left untracked
    /// (MCM `GetPvDetailsMaxRetries`, 3).
    pub lookup_tries: u32,
}

impl Default for DrainTimings {
    fn default() -> DrainTimings {
        DrainTimings {
            eviction_retry_interval: Duration::from_secs(20),
            poll_interval: Duration::from_secs(5),
            termination_buffer: Duration::from_secs(30),
            lookup_retry_interval: Duration::from_secs(5),
            lookup_tries: 3,
        }
    }
}

/// Counts of a finished drain run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Pods were force-deleted without waiting (the policy's `force`).
    pub force: bool,
    /// The Eviction API was used (not force, and the server serves `pods/eviction`).
    pub eviction_used: bool,
    /// Pods of the node the drain acted on.
    pub candidates: usize,
    /// Mirror pods left alone.
    pub skipped_mirror: usize,
    /// DaemonSet pods left alone.
    pub skipped_daemon_set: usize,
    /// Candidates that mount a PVC (drained one at a time).
    pub pods_with_pvc: usize,
    /// Evictions the API server accepted.
    pub evicted: usize,
    /// Pods deleted with grace period 0 (force, no eviction API, or after the eviction
    /// retries ran out).
    pub deleted: usize,
    /// Pods that were gone before the drain removed them.
    pub already_gone: usize,
    /// Evictions refused with HTTP 429 (a PodDisruptionBudget said no).
    pub eviction_rejections: usize,
    /// Volumes whose detach and re-attach the drain waited for.
    pub volumes_tracked: usize,
    /// PVC pods whose volumes did not show up on another node within the re-attach
    /// timeout (not an error).
    pub reattach_timeouts: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Counters shared by the pod tasks of one run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) evicted: AtomicUsize,
    pub(crate) deleted: AtomicUsize,
    pub(crate) already_gone: AtomicUsize,
    pub(crate) eviction_rejections: AtomicUsize,
    pub(crate) volumes_tracked: AtomicUsize,
    pub(crate) reattach_timeouts: AtomicUsize,
}

impl Tally {
    /// Adds one to a counter.
    pub(crate) fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Copies the counters into `report`.
    pub(crate) fn fill(&self, report: &mut DrainReport) {
        let read = |c: &AtomicUsize| c.load(Ordering::Relaxed);
        report.evicted = read(&self.evicted);
        report.deleted = read(&self.deleted);
        report.already_gone = read(&self.already_gone);
        report.eviction_rejections = read(&self.eviction_rejections);
        report.volumes_tracked = read(&self.volumes_tracked);
        report.reattach_timeouts = read(&self.reattach_timeouts);
    }
}
