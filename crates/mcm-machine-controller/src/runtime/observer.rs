//! Connects the runtime's measurements to the process's Prometheus metrics: queue
//! activity (`mcm_workqueue_*`), machine durations, driver calls
//! (`mcm_cloud_api_driver_*`, recorded for the provider so it need not), and the
//! scrape-time machine collector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mcm_api::Code;
use mcm_api::v1alpha1::{Machine, MachineClass};

use super::Snapshot;
use super::queue::QueueObserver;
use super::state::RuntimeObserver;
use crate::flow::Observation;
use crate::metrics::{DurationKind, MachineSnapshot, Metrics, WorkQueueMetrics};

/// Feeds [`Metrics`] from the runtime.
pub struct MetricsObserver {
    metrics: Arc<Metrics>,
    provider: String,
    queues: Mutex<HashMap<&'static str, WorkQueueMetrics>>,
}

impl std::fmt::Debug for MetricsObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsObserver")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl MetricsObserver {
    /// An observer for `provider` (the `provider` label of driver metrics).
    pub fn new(metrics: Arc<Metrics>, provider: &str) -> MetricsObserver {
        MetricsObserver {
            metrics,
            provider: provider.to_owned(),
            queues: Mutex::default(),
        }
    }

    fn queue(&self, name: &'static str, f: impl FnOnce(&WorkQueueMetrics)) {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let handle = queues
            .entry(name)
            .or_insert_with(|| self.metrics.work_queue(name));
        f(handle);
    }
}

impl QueueObserver for MetricsObserver {
    fn added(&self, queue: &'static str) {
        self.queue(queue, WorkQueueMetrics::added);
    }
    fn depth(&self, queue: &'static str, depth: usize) {
        self.queue(queue, |q| {
            q.set_depth(i64::try_from(depth).unwrap_or(i64::MAX))
        });
    }
    fn queued_for(&self, queue: &'static str, seconds: f64) {
        self.queue(queue, |q| q.observe_latency(seconds));
    }
    fn worked_for(&self, queue: &'static str, seconds: f64) {
        self.queue(queue, |q| q.observe_work_duration(seconds));
    }
    fn retried(&self, queue: &'static str) {
        self.queue(queue, WorkQueueMetrics::retried);
    }
    fn unfinished(&self, queue: &'static str, total_seconds: f64, longest_seconds: f64) {
        self.queue(queue, |q| {
            q.set_unfinished_work(total_seconds);
            q.set_longest_running_processor(longest_seconds);
        });
    }
}

impl RuntimeObserver for MetricsObserver {
    fn observation(
        &self,
        observation: Observation,
        machine: &Machine,
        class: Option<&MachineClass>,
    ) {
        let (kind, seconds) = match observation {
            Observation::Created(s) => (DurationKind::Create, s),
            Observation::Initialized(s) => (DurationKind::Initialize, s),
            Observation::Joined(s) => (DurationKind::Join, s),
            Observation::Drained(s) => (DurationKind::Drain, s),
            Observation::Deleted(s) => (DurationKind::Delete, s),
            Observation::FailedToJoin => {
                self.metrics.record_failed_join(machine, class);
                return;
            }
        };
        self.metrics
            .observe_machine_duration(kind, machine, class, seconds);
    }

    fn driver_call(&self, operation: &'static str, seconds: f64, code: Option<Code>) {
        match code {
            None => self
                .metrics
                .observe_driver_request(&self.provider, operation, seconds),
            Some(code) => {
                self.metrics
                    .record_driver_request_failed(&self.provider, operation, code)
            }
        }
    }
}

impl MachineSnapshot for Snapshot {
    fn machines(&self) -> Vec<Arc<Machine>> {
        Snapshot::machines(self)
    }

    fn frozen(&self) -> bool {
        Snapshot::frozen(self)
    }
}
