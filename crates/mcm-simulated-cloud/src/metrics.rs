//! Prometheus metrics of the cloud: per-operation request counts and latencies, injected faults,
//! instance counts and node-agent actions. Served as OpenMetrics text on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// create, get, list, delete, admin.
    pub operation: String,
    /// HTTP status code.
    pub code: String,
}

/// Labels of a latency sample.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// create, get, list, delete, admin.
    pub operation: String,
}

/// Labels of an injected fault.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// The operation that failed.
    pub operation: String,
    /// The fault kind (unavailable, quotaExceeded, …) or `outage`.
    pub kind: String,
}

/// Labels of instance counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// pending or running.
    pub status: String,
}

/// Labels of node-agent actions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentLabels {
    /// register, heartbeat, delete, finalize_pod.
    pub action: String,
    /// ok or error.
    pub result: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// All metric families, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `simcloud_requests_total{operation,code}`
    pub requests: Family<RequestLabels, Counter>,
    /// `simcloud_request_duration_seconds{operation}`
    pub request_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    /// `simcloud_injected_faults_total{operation,kind}`
    pub injected_faults: Family<FaultLabels, Counter>,
    /// `simcloud_instances{status}`
    pub instances: Family<StatusLabels, Gauge>,
    /// `simcloud_node_agent_actions_total{action,result}`
    pub agent_actions: Family<AgentLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("simcloud");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let injected_faults = Family::<FaultLabels, Counter>::default();
        let instances = Family::<StatusLabels, Gauge>::default();
        let agent_actions = Family::<AgentLabels, Counter>::default();
        registry.register(
            "requests",
            "API requests by operation and HTTP status code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "API request latency by operation, including injected latency",
            request_duration.clone(),
        );
        registry.register(
            "injected_faults",
            "Failures injected by the fault configuration",
            injected_faults.clone(),
        );
        registry.register("instances", "Live instances by status", instances.clone());
        registry.register(
            "node_agent_actions",
            "Node-agent calls to the target cluster by action and result",
            agent_actions.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            injected_faults,
            instances,
            agent_actions,
        }
    }

    /// Counts one node-agent action.
    pub fn agent_action(&self, action: &str, ok: bool) {
        self.agent_actions
            .get_or_create(&AgentLabels {
                action: action.to_owned(),
                result: if ok { "ok" } else { "error" }.to_owned(),
            })
            .inc();
    }

    /// Sets the instance gauges.
    pub fn set_instance_counts(&self, pending: i64, running: i64) {
        for (status, n) in [("pending", pending), ("running", running)] {
            self.instances
                .get_or_create(&StatusLabels {
                    status: status.to_owned(),
                })
                .set(n);
        }
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
