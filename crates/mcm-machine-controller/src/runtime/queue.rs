//! Work queues with client-go's semantics, which MCM's controllers rely on:
//!
//! - a key is queued at most once, and never handed to two workers at once (a key
//!   added while it is processed comes back after `done`);
//! - `add_after` keeps the *earlier* due time when a key is scheduled twice;
//! - `add_rate_limited` backs off per key exponentially (5 ms doubling up to
//!   1000 s); `forget` resets that history.
//!
//! kube-runtime's `Controller` has one scheduler per watched kind; the machine
//! controller needs several queues over the same Machines (machine and termination)
//! and queues keyed by something else (classes, `""` for the safety loops).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::ControllerConfig;
use crate::retry::Retry;

/// A reconcile that fails this often in a row is dropped until the next event (MCM).
pub const MAX_RETRIES: u32 = 15;
const BASE_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1000);

/// Receives queue measurements (the runtime's metrics implement it).
pub trait QueueObserver: Send + Sync {
    /// A key was added.
    fn added(&self, _queue: &'static str) {}
    /// The number of queued keys changed.
    fn depth(&self, _queue: &'static str, _depth: usize) {}
    /// A key waited this long between add and get.
    fn queued_for(&self, _queue: &'static str, _seconds: f64) {}
    /// A key was processed for this long.
    fn worked_for(&self, _queue: &'static str, _seconds: f64) {}
    /// A key was re-added with back-off.
    fn retried(&self, _queue: &'static str) {}
    /// Sampled: total and longest time of the keys being processed.
    fn unfinished(&self, _queue: &'static str, _total_seconds: f64, _longest_seconds: f64) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl QueueObserver for NoObserver {}

#[derive(Default)]
struct Inner {
    ready: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashMap<String, Instant>,
    added_at: HashMap<String, Instant>,
    waiting: HashMap<String, Instant>,
    timeline: BTreeMap<(Instant, u64), String>,
    sequence: u64,
    failures: HashMap<String, u32>,
    shut_down: bool,
}

/// A named work queue.
#[derive(Clone)]
pub struct WorkQueue {
    name: &'static str,
    inner: Arc<Mutex<Inner>>,
    ready: Arc<Notify>,
    timer: Arc<Notify>,
    observer: Arc<dyn QueueObserver>,
}

impl std::fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl WorkQueue {
    /// A queue; its delay timer runs as a task on the current runtime until
    /// [`WorkQueue::shut_down`].
    pub fn new(name: &'static str, observer: Arc<dyn QueueObserver>) -> WorkQueue {
        let queue = WorkQueue {
            name,
            inner: Arc::default(),
            ready: Arc::new(Notify::new()),
            timer: Arc::new(Notify::new()),
            observer,
        };
        let timer_queue = queue.clone();
        tokio::spawn(async move { timer_queue.run_timer().await });
        queue
    }

    /// The queue's name (as in MCM's metrics).
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `key` now (no-op if already queued).
    pub fn add(&self, key: &str) {
        let depth = {
            let mut inner = self.lock();
            if inner.shut_down || !inner.dirty.insert(key.to_owned()) {
                return;
            }
            inner
                .added_at
                .entry(key.to_owned())
                .or_insert_with(Instant::now);
            if !inner.processing.contains_key(key) {
                inner.ready.push_back(key.to_owned());
            }
            inner.ready.len()
        };
        self.observer.added(self.name);
        self.observer.depth(self.name, depth);
        self.ready.notify_one();
    }

    /// Queues `key` after `delay`; if it is already scheduled earlier, that wins.
    pub fn add_after(&self, key: &str, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let due = Instant::now() + delay;
        {
            let mut inner = self.lock();
            if inner.shut_down {
                return;
            }
            if let Some(existing) = inner.waiting.get(key) {
                if *existing <= due {
                    return;
                }
                let existing = *existing;
                inner
                    .timeline
                    .retain(|(at, _), k| !(*at == existing && k == key));
            }
            inner.sequence += 1;
            let sequence = inner.sequence;
            inner.waiting.insert(key.to_owned(), due);
            inner.timeline.insert((due, sequence), key.to_owned());
        }
        self.timer.notify_one();
    }

    /// Queues `key` with per-key exponential back-off.
    pub fn add_rate_limited(&self, key: &str) {
        let failures = {
            let mut inner = self.lock();
            let count = inner.failures.entry(key.to_owned()).or_insert(0);
            *count += 1;
            *count
        };
        self.observer.retried(self.name);
        let exponent = failures.saturating_sub(1).min(30);
        let delay = BASE_BACKOFF
            .checked_mul(1u32 << exponent)
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF);
        self.add_after(key, delay);
    }

    /// How often `key` was re-added with back-off since the last `forget`.
    pub fn failures(&self, key: &str) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Resets the back-off history of `key`.
    pub fn forget(&self, key: &str) {
        self.lock().failures.remove(key);
    }

    /// Waits for the next key; `None` once the queue is shut down and drained.
    pub async fn get(&self) -> Option<String> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if let Some(key) = inner.ready.pop_front() {
                    inner.dirty.remove(&key);
                    inner.processing.insert(key.clone(), Instant::now());
                    let queued = inner.added_at.remove(&key);
                    let depth = inner.ready.len();
                    drop(inner);
                    if let Some(at) = queued {
                        self.observer
                            .queued_for(self.name, at.elapsed().as_secs_f64());
                    }
                    self.observer.depth(self.name, depth);
                    return Some(key);
                }
                if inner.shut_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` as processed; if it was added meanwhile it is queued again.
    pub fn done(&self, key: &str) {
        let requeued = {
            let mut inner = self.lock();
            if let Some(started) = inner.processing.remove(key) {
                self.observer
                    .worked_for(self.name, started.elapsed().as_secs_f64());
            }
            if inner.dirty.contains(key) {
                inner.ready.push_back(key.to_owned());
                true
            } else {
                false
            }
        };
        if requeued {
            self.ready.notify_one();
        }
    }

    /// Total and longest time the keys being processed have been at it.
    pub fn unfinished_work(&self) -> (f64, f64) {
        let inner = self.lock();
        inner
            .processing
            .values()
            .map(|started| started.elapsed().as_secs_f64())
            .fold((0.0, 0.0), |(sum, longest), s| {
                (sum + s, f64::max(longest, s))
            })
    }

    /// Reports [`WorkQueue::unfinished_work`] to the observer.
    pub fn sample_unfinished(&self) {
        let (total, longest) = self.unfinished_work();
        self.observer.unfinished(self.name, total, longest);
    }

    /// Number of keys ready to be handed out.
    pub fn len(&self) -> usize {
        self.lock().ready.len()
    }

    /// Whether no key is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops handing out keys (workers see `None` once the ready keys are done).
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.ready.notify_waiters();
        self.timer.notify_one();
    }

    /// Applies the retry a reconcile asked for (MCM's worker semantics).
    pub fn schedule(&self, key: &str, retry: Retry, config: &ControllerConfig) {
        match retry {
            Retry::RateLimited => {
                if self.failures(key) < MAX_RETRIES {
                    self.add_rate_limited(key);
                } else {
                    tracing::warn!(
                        queue = self.name,
                        key,
                        "dropping key after {MAX_RETRIES} failed reconciles"
                    );
                    self.forget(key);
                }
            }
            Retry::Never => self.forget(key),
            other => {
                self.forget(key);
                if let Some(delay) = other.delay(config) {
                    self.add_after(key, delay);
                }
            }
        }
    }

    async fn run_timer(&self) {
        loop {
            let notified = self.timer.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_due = {
                let mut inner = self.lock();
                if inner.shut_down {
                    return;
                }
                let now = Instant::now();
                let due: Vec<(Instant, u64)> = inner
                    .timeline
                    .range(..=(now, u64::MAX))
                    .map(|(at, _)| *at)
                    .collect();
                let mut ready_keys = Vec::new();
                for at in due {
                    if let Some(key) = inner.timeline.remove(&at) {
                        inner.waiting.remove(&key);
                        ready_keys.push(key);
                    }
                }
                let next = inner.timeline.keys().next().map(|(at, _)| *at);
                drop(inner);
                for key in ready_keys {
                    self.add(&key);
                }
                next
            };
            match next_due {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// A reconcile function for [`run_workers`].
pub type Reconcile =
    Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Retry> + Send>> + Send + Sync>;

/// Runs `workers` tasks that take keys from `queue`, reconcile them and schedule
/// them again as the reconcile asks. Returns when the queue is shut down.
pub async fn run_workers(
    queue: WorkQueue,
    workers: usize,
    config: Arc<ControllerConfig>,
    reconcile: Reconcile,
) {
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let config = config.clone();
        let reconcile = reconcile.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(key) = queue.get().await {
                let retry = reconcile(key.clone()).await;
                queue.schedule(&key, retry, &config);
                queue.done(&key);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue {
        WorkQueue::new("test", Arc::new(NoObserver))
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_deduplicated_and_handed_out_once() {
        let q = queue();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let first = q.get().await.unwrap();
        assert_eq!(first, "a");
        // Added while processing: not handed out until done.
        q.add("a");
        assert_eq!(q.get().await.unwrap(), "b");
        assert!(q.is_empty());
        q.done("a");
        assert_eq!(q.get().await.unwrap(), "a");
    }

    #[tokio::test(start_paused = true)]
    async fn the_earlier_due_time_wins() {
        let q = queue();
        q.add_after("k", Duration::from_secs(600));
        q.add_after("k", Duration::from_secs(5));
        q.add_after("k", Duration::from_secs(60));
        let started = Instant::now();
        assert_eq!(q.get().await.unwrap(), "k");
        assert_eq!(started.elapsed().as_secs(), 5);
        q.done("k");
        // Nothing else is scheduled.
        tokio::time::sleep(Duration::from_secs(700)).await;
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_back_off_doubles_and_forget_resets() {
        let q = queue();
        let started = Instant::now();
        for expected_ms in [5u64, 10, 20, 40] {
            q.add_rate_limited("k");
            let at = Instant::now();
            q.get().await.unwrap();
            q.done("k");
            assert_eq!(at.elapsed().as_millis() as u64, expected_ms);
        }
        assert_eq!(q.failures("k"), 4);
        q.forget("k");
        assert_eq!(q.failures("k"), 0);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_drops_a_key_after_fifteen_failures() {
        let q = queue();
        let config = ControllerConfig::default();
        for _ in 0..MAX_RETRIES {
            q.schedule("k", Retry::RateLimited, &config);
            q.get().await.unwrap();
            q.done("k");
        }
        q.schedule("k", Retry::RateLimited, &config);
        assert_eq!(q.failures("k"), 0);
        tokio::time::sleep(MAX_BACKOFF * 2).await;
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn workers_reconcile_and_requeue() {
        let q = queue();
        let config = Arc::new(ControllerConfig::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_in = seen.clone();
        let reconcile: Reconcile = Arc::new(move |key| {
            let seen = seen_in.clone();
            Box::pin(async move {
                let mut list = seen.lock().unwrap();
                list.push(key);
                if list.len() < 3 {
                    Retry::Short
                } else {
                    Retry::Never
                }
            })
        });
        q.add("m");
        let runner = tokio::spawn(run_workers(q.clone(), 2, config, reconcile));
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(seen.lock().unwrap().len(), 3);
        q.shut_down();
        runner.await.unwrap();
    }
}
