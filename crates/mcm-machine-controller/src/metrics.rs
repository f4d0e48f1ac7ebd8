//! MCM's metrics, with MCM's exact family names, label names and help texts
//! (contract 01 §6), so that existing dashboards, alerts and dependency-watchdog keep
//! working against a Rust provider.
//!
//! One [`Metrics`] value owns a prometheus-client [`Registry`]; `/metrics` serves
//! [`Metrics::encode`] (Prometheus text format 0.0.4, what MCM's Go handler serves).
//! Three kinds of families live here:
//!
//! - **recorded** by the runtime as things happen: machine durations and failed joins,
//!   work-queue metrics (the runtime's queues call the `queue_*` methods), and the
//!   `mcm_cloud_api_*` families a provider's driver feeds;
//! - **collected at scrape time** from a [`MachineSnapshot`] the runtime registers once
//!   its caches are synced: `mcm_machine_items_total`, `mcm_machine_current_status_phase`,
//!   `mcm_machine_controller_frozen`, `mcm_machine_info`, `mcm_machine_status_condition`;
//! - `mcm_misc_scrape_failure_total`, for collection failures.
//!
//! Deliberate differences from Go:
//!
//! - `mcm_machine_num_failed_join` is a count without the `_total` suffix. The text
//!   encoders of prometheus-client append `_total` to every counter, so this family is
//!   exposed as `untyped` (text format 0.0.4's type for "no claim"): the series name is
//!   exactly MCM's and its value only ever grows, so `rate()`/`increase()` queries work as
//!   before; only the `# TYPE` line differs (`counter` in Go). A gauge would have kept
//!   the name too, but would tell tools the value may go down.
//! - `mcm_machine_info` / `mcm_machine_status_condition` are computed at scrape time from
//!   the current Machines. Go sets them at scrape time but never deletes a series, so
//!   deleted machines (and old label values) stay exported until the process restarts;
//!   here they disappear with the Machine.
//! - A duration metric for a Machine whose class has no `nodeTemplate` (or is unknown)
//!   is recorded with empty `instance_type` and `zone`; Go panics on the label
//!   mismatch (contract 02 quirk 18).
//! - Help texts are MCM's, each ending in one period (prometheus-client adds it).
//! - Go's process/runtime families (`go_*`, `process_*`, `promhttp_*`) and the client-go
//!   families (`rest_client_*`, `mcm_reflector_*`, which current client-go no longer
//!   feeds anyway) are not exported.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use mcm_api::Code;
use mcm_api::v1alpha1::{Machine, MachineClass, MachinePhase};
use mcm_api::well_known::{machine_labels, node_labels};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::encode`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Go client_golang's `DefBuckets`, used by MCM's cloud-API histograms.
const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What the scrape-time collector reads: the runtime's view of the Machines in
/// `--namespace` and the safety controller's freeze flag.
pub trait MachineSnapshot: Send + Sync {
    /// The Machines currently in the cache (namespace-filtered).
    fn machines(&self) -> Vec<Arc<Machine>>;
    /// Whether the safety controller has frozen the machine controller.
    fn frozen(&self) -> bool;
}

/// Which machine activity a duration measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationKind {
    /// CreateMachine succeeded: now − creationTimestamp.
    Create,
    /// InitializeMachine succeeded or was skipped.
    Initialize,
    /// A creating machine first became Running: now − creationTimestamp.
    Join,
    /// A drain finished (deletion, in-place update, preservation).
    Drain,
    /// DeleteMachine succeeded: now − deletionTimestamp.
    Delete,
}

/// Labels of the 4-label machine duration families and of `mcm_machine_num_failed_join`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PlacementLabels {
    namespace: String,
    machine_deployment: String,
    instance_type: String,
    zone: String,
}

/// Labels of `mcm_machine_drain_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeploymentLabels {
    namespace: String,
    machine_deployment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServiceLabels {
    provider: String,
    service: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationLabels {
    provider: String,
    operation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailedOperationLabels {
    provider: String,
    operation: String,
    error_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    name: String,
}

/// A count exposed without the `_total` suffix (see the module documentation): its
/// family is `untyped`, its value only grows.
#[derive(Debug, Clone, Default)]
struct UntypedCount(Arc<AtomicU64>);

impl UntypedCount {
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl TypedMetric for UntypedCount {
    const TYPE: MetricType = MetricType::Unknown;
}

impl EncodeMetric for UntypedCount {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_gauge(&self.0.load(Ordering::Relaxed))
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn default_histogram() -> Histogram {
    Histogram::new(DEFAULT_BUCKETS)
}

/// client-go's work-queue buckets: 10 ns … 10 s, ×10 (10 buckets).
fn queue_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10e-9, 10.0, 10))
}

/// MCM's metric families and the registry that exports them.
pub struct Metrics {
    registry: RwLock<Registry>,
    snapshot: Arc<SnapshotSlot>,

    create_duration: Family<PlacementLabels, Gauge<f64, AtomicU64>>,
    initialize_duration: Family<PlacementLabels, Gauge<f64, AtomicU64>>,
    join_duration: Family<PlacementLabels, Gauge<f64, AtomicU64>>,
    drain_duration: Family<DeploymentLabels, Gauge<f64, AtomicU64>>,
    delete_duration: Family<PlacementLabels, Gauge<f64, AtomicU64>>,
    num_failed_join: Family<PlacementLabels, UntypedCount>,

    cloud_requests: Family<ServiceLabels, Counter>,
    cloud_requests_failed: Family<ServiceLabels, Counter>,
    cloud_request_duration: HistogramFamily<ServiceLabels>,
    driver_request_duration: HistogramFamily<OperationLabels>,
    driver_requests_failed: Family<FailedOperationLabels, Counter>,

    scrape_failures: Family<KindLabels, Counter>,

    queue_depth: Family<QueueLabels, Gauge>,
    queue_adds: Family<QueueLabels, Counter>,
    queue_latency: HistogramFamily<QueueLabels>,
    queue_work_duration: HistogramFamily<QueueLabels>,
    queue_unfinished_work: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    queue_longest_running: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    queue_retries: Family<QueueLabels, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("snapshot_set", &self.snapshot.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Registers a family under MCM's name with MCM's help text (prometheus-client appends
/// the final period itself, so it is trimmed here).
fn register(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: impl EncodeMetric + Send + Sync + fmt::Debug + 'static,
) {
    registry.register(name, help.trim_end_matches('.'), metric);
}

impl Metrics {
    /// All families registered, no series yet. Usually one per process: see [`global`].
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: RwLock::new(Registry::default()),
            snapshot: Arc::new(SnapshotSlot::default()),
            create_duration: Family::default(),
            initialize_duration: Family::default(),
            join_duration: Family::default(),
            drain_duration: Family::default(),
            delete_duration: Family::default(),
            num_failed_join: Family::default(),
            cloud_requests: Family::default(),
            cloud_requests_failed: Family::default(),
            cloud_request_duration: Family::new_with_constructor(default_histogram),
            driver_request_duration: Family::new_with_constructor(default_histogram),
            driver_requests_failed: Family::default(),
            scrape_failures: Family::default(),
            queue_depth: Family::default(),
            queue_adds: Family::default(),
            queue_latency: Family::new_with_constructor(queue_histogram),
            queue_work_duration: Family::new_with_constructor(queue_histogram),
            queue_unfinished_work: Family::default(),
            queue_longest_running: Family::default(),
            queue_retries: Family::default(),
        };
        {
            let mut guard = metrics
                .registry
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            metrics.register_all(&mut guard);
        }
        metrics
    }

    fn register_all(&self, r: &mut Registry) {
        // Machine subsystem (pkg/util/provider/metrics).
        register(
            r,
            "mcm_machine_create_duration_seconds",
            "Duration in seconds to create a Machine of a MachineDeployment.",
            self.create_duration.clone(),
        );
        register(
            r,
            "mcm_machine_initialize_duration_seconds",
            "Duration in seconds to initialize a Machine of a MachineDeployment.",
            self.initialize_duration.clone(),
        );
        register(
            r,
            "mcm_machine_join_duration_seconds",
            "Duration in seconds for a Machine of a MachineDeployment to join the cluster",
            self.join_duration.clone(),
        );
        register(
            r,
            "mcm_machine_drain_duration_seconds",
            "Duration in seconds to drain a Machine of a MachineDeployment.",
            self.drain_duration.clone(),
        );
        register(
            r,
            "mcm_machine_delete_duration_seconds",
            "Duration in seconds to delete a Machine of a MachineDeployment.",
            self.delete_duration.clone(),
        );
        register(
            r,
            "mcm_machine_num_failed_join",
            "Number of Machines of a MachineDeployment that failed to join the cluster.",
            self.num_failed_join.clone(),
        );

        // Cloud API subsystem; counters are registered without `_total`, which the
        // encoder appends.
        register(
            r,
            "mcm_cloud_api_requests",
            "Number of Cloud Service API requests, partitioned by provider, and service.",
            self.cloud_requests.clone(),
        );
        register(
            r,
            "mcm_cloud_api_requests_failed",
            "Number of Failed Cloud Service API requests, partitioned by provider, and service.",
            self.cloud_requests_failed.clone(),
        );
        register(
            r,
            "mcm_cloud_api_api_request_duration_seconds",
            "Time(in seconds) it takes for a provider API request to complete",
            self.cloud_request_duration.clone(),
        );
        register(
            r,
            "mcm_cloud_api_driver_request_duration_seconds",
            "Total time (in seconds) taken for a driver API request to complete",
            self.driver_request_duration.clone(),
        );
        register(
            r,
            "mcm_cloud_api_driver_requests_failed",
            "Number of failed Driver API requests, partitioned by provider, operation and error code",
            self.driver_requests_failed.clone(),
        );

        // Work queues (pkg/util/workqueue/prometheus).
        register(
            r,
            "mcm_workqueue_depth",
            "Current depth of workqueue",
            self.queue_depth.clone(),
        );
        register(
            r,
            "mcm_workqueue_adds",
            "Total number of adds handled by workqueue",
            self.queue_adds.clone(),
        );
        register(
            r,
            "mcm_workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            self.queue_latency.clone(),
        );
        register(
            r,
            "mcm_workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            self.queue_work_duration.clone(),
        );
        register(
            r,
            "mcm_workqueue_unfinished_work_seconds",
            "How many seconds of work has done that is in progress and hasn't been observed by work_duration. \
             Large values indicate stuck threads. One can deduce the number of stuck threads by observing the \
             rate at which this increases.",
            self.queue_unfinished_work.clone(),
        );
        register(
            r,
            "mcm_workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            self.queue_longest_running.clone(),
        );
        register(
            r,
            "mcm_workqueue_retries",
            "Total number of retries handled by workqueue",
            self.queue_retries.clone(),
        );

        // Scrape-time families.
        r.register_collector(Box::new(MachineCollector {
            snapshot: Arc::clone(&self.snapshot),
            scrape_failures: self.scrape_failures.clone(),
        }));

        // Misc subsystem, with its constant label.
        let misc = r.sub_registry_with_label((
            Cow::Borrowed("binary"),
            Cow::Borrowed("machine-controller-manager-provider"),
        ));
        register(
            misc,
            "mcm_misc_scrape_failure",
            "Total count of scrape failures.",
            self.scrape_failures.clone(),
        );
    }

    /// The text exposition of every family (Prometheus text format 0.0.4, see
    /// [`CONTENT_TYPE`]), the scrape-time families computed now.
    pub fn encode(&self) -> String {
        let registry = self
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).is_err() {
            // Writing to a String cannot fail; a collector error is counted instead.
            self.record_scrape_failure("encode");
        }
        out
    }

    /// Lets a provider register families of its own in the same registry (they are
    /// served on the same `/metrics`).
    pub fn with_registry<R>(&self, register: impl FnOnce(&mut Registry) -> R) -> R {
        let mut registry = self
            .registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        register(&mut registry)
    }

    /// Starts exporting the scrape-time families from `snapshot` (MCM registers its
    /// collector once the caches are synced; call this at the same point). A later call
    /// replaces the source.
    pub fn set_snapshot(&self, snapshot: Arc<dyn MachineSnapshot>) {
        self.snapshot.set(Some(snapshot));
    }

    /// Stops exporting the scrape-time families (e.g. when the controllers stop).
    pub fn clear_snapshot(&self) {
        self.snapshot.set(None);
    }

    // ---- machine activity ---------------------------------------------------------

    /// Records how long a machine activity took, as MCM's
    /// `UpdateMetricsForMachineDurations`: rounded to whole seconds, labelled with the
    /// Machine's `name` label as `machine_deployment` (nothing recorded without it), and
    /// — except for drains — `instance_type` from the class's nodeTemplate and `zone`
    /// from the Machine's nodeTemplate label `topology.kubernetes.io/zone` (both empty
    /// when the class or its nodeTemplate is missing). A zero duration is not recorded.
    pub fn observe_machine_duration(
        &self,
        kind: DurationKind,
        machine: &Machine,
        class: Option<&MachineClass>,
        seconds: f64,
    ) {
        if seconds == 0.0 || !seconds.is_finite() {
            return;
        }
        let Some(deployment) = machine_deployment(machine) else {
            return;
        };
        let value = seconds.round();
        if kind == DurationKind::Drain {
            self.drain_duration.get_or_create(&deployment).set(value);
            return;
        }
        let labels = placement(deployment, machine, class);
        let family = match kind {
            DurationKind::Create => &self.create_duration,
            DurationKind::Initialize => &self.initialize_duration,
            DurationKind::Join => &self.join_duration,
            DurationKind::Delete => &self.delete_duration,
            DurationKind::Drain => return,
        };
        family.get_or_create(&labels).set(value);
        tracing::debug!(
            ?kind,
            seconds = value,
            machine = machine.name(),
            "updated machine duration metric"
        );
    }

    /// Counts a machine that hit its creation timeout while `Pending`
    /// (`mcm_machine_num_failed_join`), labelled as [`Metrics::observe_machine_duration`].
    pub fn record_failed_join(&self, machine: &Machine, class: Option<&MachineClass>) {
        let Some(deployment) = machine_deployment(machine) else {
            return;
        };
        self.num_failed_join
            .get_or_create(&placement(deployment, machine, class))
            .inc();
    }

    // ---- cloud API (for providers) ------------------------------------------------

    /// One call to the cloud's API (`mcm_cloud_api_requests_total{provider,service}`).
    pub fn record_cloud_api_request(&self, provider: &str, service: &str) {
        self.cloud_requests
            .get_or_create(&service_labels(provider, service))
            .inc();
    }

    /// One failed call to the cloud's API (`mcm_cloud_api_requests_failed_total`).
    pub fn record_cloud_api_request_failed(&self, provider: &str, service: &str) {
        self.cloud_requests_failed
            .get_or_create(&service_labels(provider, service))
            .inc();
    }

    /// How long a successful cloud API call took
    /// (`mcm_cloud_api_api_request_duration_seconds`, note MCM's doubled `api`).
    pub fn observe_cloud_api_request_duration(&self, provider: &str, service: &str, seconds: f64) {
        self.cloud_request_duration
            .get_or_create(&service_labels(provider, service))
            .observe(seconds);
    }

    /// How long a successful driver call took
    /// (`mcm_cloud_api_driver_request_duration_seconds{provider,operation}`).
    pub fn observe_driver_request(&self, provider: &str, operation: &str, seconds: f64) {
        self.driver_request_duration
            .get_or_create(&OperationLabels {
                provider: provider.to_owned(),
                operation: operation.to_owned(),
            })
            .observe(seconds);
    }

    /// A failed driver call (`mcm_cloud_api_driver_requests_failed_total`), its
    /// `error_code` label the numeric machine code as MCM writes it (`"5"` for NotFound).
    pub fn record_driver_request_failed(&self, provider: &str, operation: &str, code: Code) {
        self.driver_requests_failed
            .get_or_create(&FailedOperationLabels {
                provider: provider.to_owned(),
                operation: operation.to_owned(),
                error_code: code.as_u32().to_string(),
            })
            .inc();
    }

    /// A failure while collecting metrics (`mcm_misc_scrape_failure_total{kind}`; MCM uses
    /// kind `Machine-count` when the Machine lister fails).
    pub fn record_scrape_failure(&self, kind: &str) {
        self.scrape_failures
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    // ---- work queues --------------------------------------------------------------

    /// The metrics of one work queue, as a cheap handle that does not look up labels on
    /// every call. Creating it makes the queue's series appear (at zero).
    pub fn work_queue(&self, name: &str) -> WorkQueueMetrics {
        let labels = QueueLabels {
            name: name.to_owned(),
        };
        WorkQueueMetrics {
            depth: self.queue_depth.get_or_create_owned(&labels),
            adds: self.queue_adds.get_or_create_owned(&labels),
            latency: self.queue_latency.get_or_create_owned(&labels),
            work_duration: self.queue_work_duration.get_or_create_owned(&labels),
            unfinished_work: self.queue_unfinished_work.get_or_create_owned(&labels),
            longest_running: self.queue_longest_running.get_or_create_owned(&labels),
            retries: self.queue_retries.get_or_create_owned(&labels),
        }
    }

    /// An item was added to queue `name` (`mcm_workqueue_adds_total`).
    pub fn queue_added(&self, name: &str) {
        self.queue_adds.get_or_create(&queue(name)).inc();
    }

    /// Queue `name` now holds `depth` items (`mcm_workqueue_depth`).
    pub fn queue_depth(&self, name: &str, depth: i64) {
        self.queue_depth.get_or_create(&queue(name)).set(depth);
    }

    /// An item waited `seconds` in queue `name` before a worker took it
    /// (`mcm_workqueue_queue_duration_seconds`).
    pub fn queue_latency(&self, name: &str, seconds: f64) {
        self.queue_latency
            .get_or_create(&queue(name))
            .observe(seconds);
    }

    /// Processing an item of queue `name` took `seconds`
    /// (`mcm_workqueue_work_duration_seconds`).
    pub fn work_duration(&self, name: &str, seconds: f64) {
        self.queue_work_duration
            .get_or_create(&queue(name))
            .observe(seconds);
    }

    /// Seconds of in-progress work not yet observed by the work duration
    /// (`mcm_workqueue_unfinished_work_seconds`).
    pub fn unfinished_work(&self, name: &str, seconds: f64) {
        self.queue_unfinished_work
            .get_or_create(&queue(name))
            .set(seconds);
    }

    /// How long the longest-running worker of queue `name` has been busy
    /// (`mcm_workqueue_longest_running_processor_seconds`).
    pub fn longest_running_processor(&self, name: &str, seconds: f64) {
        self.queue_longest_running
            .get_or_create(&queue(name))
            .set(seconds);
    }

    /// An item of queue `name` was re-added with rate limiting
    /// (`mcm_workqueue_retries_total`).
    pub fn retry(&self, name: &str) {
        self.queue_retries.get_or_create(&queue(name)).inc();
    }
}

/// The process-wide [`Metrics`], the counterpart of Go's default registry: a provider's
/// driver records its cloud-API metrics here and the runtime serves it, without either
/// having to hand the other a reference.
pub fn global() -> Arc<Metrics> {
    static GLOBAL: OnceLock<Arc<Metrics>> = OnceLock::new();
    Arc::clone(GLOBAL.get_or_init(|| Arc::new(Metrics::new())))
}

/// The metrics of one work queue (see [`Metrics::work_queue`]); clones share the series.
#[derive(Debug, Clone)]
pub struct WorkQueueMetrics {
    depth: Gauge,
    adds: Counter,
    latency: Histogram,
    work_duration: Histogram,
    unfinished_work: Gauge<f64, AtomicU64>,
    longest_running: Gauge<f64, AtomicU64>,
    retries: Counter,
}

impl WorkQueueMetrics {
    /// An item was added.
    pub fn added(&self) {
        self.adds.inc();
    }
    /// The queue now holds `depth` items.
    pub fn set_depth(&self, depth: i64) {
        self.depth.set(depth);
    }
    /// An item waited `seconds` before a worker took it.
    pub fn observe_latency(&self, seconds: f64) {
        self.latency.observe(seconds);
    }
    /// Processing an item took `seconds`.
    pub fn observe_work_duration(&self, seconds: f64) {
        self.work_duration.observe(seconds);
    }
    /// Seconds of in-progress, not yet observed work.
    pub fn set_unfinished_work(&self, seconds: f64) {
        self.unfinished_work.set(seconds);
    }
    /// Seconds the longest-running worker has been busy.
    pub fn set_longest_running_processor(&self, seconds: f64) {
        self.longest_running.set(seconds);
    }
    /// An item was re-added with rate limiting.
    pub fn retried(&self) {
        self.retries.inc();
    }
}

fn queue(name: &str) -> QueueLabels {
    QueueLabels {
        name: name.to_owned(),
    }
}

fn service_labels(provider: &str, service: &str) -> ServiceLabels {
    ServiceLabels {
        provider: provider.to_owned(),
        service: service.to_owned(),
    }
}

/// `namespace` and `machine_deployment` (the Machine's `name` label); `None`, with a
/// warning as in MCM, when the label is missing or empty.
fn machine_deployment(machine: &Machine) -> Option<DeploymentLabels> {
    match machine.label(machine_labels::NAME) {
        Some(name) if !name.is_empty() => Some(DeploymentLabels {
            namespace: machine.namespace().to_owned(),
            machine_deployment: name.to_owned(),
        }),
        _ => {
            tracing::warn!(
                machine = machine.name(),
                "Machine has no 'name' label (its MachineDeployment name); duration metric not recorded"
            );
            None
        }
    }
}

fn placement(
    deployment: DeploymentLabels,
    machine: &Machine,
    class: Option<&MachineClass>,
) -> PlacementLabels {
    let template = class.and_then(|class| class.node_template.as_ref());
    let (instance_type, zone) = match template {
        Some(template) => (
            template.instance_type.clone(),
            machine
                .spec
                .node_template
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(node_labels::TOPOLOGY_ZONE))
                .cloned()
                .unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    PlacementLabels {
        namespace: deployment.namespace,
        machine_deployment: deployment.machine_deployment,
        instance_type,
        zone,
    }
}

/// MCM's `mcm_machine_current_status_phase` value of a phase.
pub fn phase_value(phase: &MachinePhase) -> i64 {
    match phase {
        MachinePhase::Terminating => -4,
        MachinePhase::Failed => -3,
        MachinePhase::CrashLoopBackOff => -2,
        MachinePhase::Unknown => -1,
        MachinePhase::Pending => 0,
        MachinePhase::Running => 1,
        _ => 0,
    }
}

/// MCM's `mcm_machine_status_condition` value of a condition status.
fn condition_value(status: &str) -> i64 {
    match status {
        "True" => 1,
        "Unknown" => 2,
        _ => 0,
    }
}

/// Where the collector finds the runtime's snapshot; empty until the caches sync.
#[derive(Default)]
struct SnapshotSlot(RwLock<Option<Arc<dyn MachineSnapshot>>>);

impl SnapshotSlot {
    fn get(&self) -> Option<Arc<dyn MachineSnapshot>> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, snapshot: Option<Arc<dyn MachineSnapshot>>) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
    }
}

/// Computes the machine families at scrape time (MCM's controller `Collect`).
struct MachineCollector {
    snapshot: Arc<SnapshotSlot>,
    scrape_failures: Family<KindLabels, Counter>,
}

impl fmt::Debug for MachineCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineCollector").finish_non_exhaustive()
    }
}

impl Collector for MachineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(snapshot) = self.snapshot.get() else {
            return Ok(());
        };
        let machines = snapshot.machines();
        let result = encode_machines(&mut encoder, &machines, snapshot.frozen());
        if result.is_err() {
            self.scrape_failures
                .get_or_create(&KindLabels {
                    kind: "Machine-count".to_owned(),
                })
                .inc();
        }
        result
    }
}

fn encode_machines(
    encoder: &mut DescriptorEncoder,
    machines: &[Arc<Machine>],
    frozen: bool,
) -> Result<(), fmt::Error> {
    if !machines.is_empty() {
        let mut family = encoder.encode_descriptor(
            "mcm_machine_info",
            "Information of the Machines currently managed by the mcm.",
            None,
            MetricType::Gauge,
        )?;
        for machine in machines {
            let created_at = machine
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(0, |time| time.0.as_second());
            let created_at = created_at.to_string();
            let class = &machine.spec.class;
            let labels = [
                ("name", machine.name()),
                ("namespace", machine.namespace()),
                ("createdAt", created_at.as_str()),
                ("spec_provider_id", machine.spec.provider_id.as_str()),
                ("spec_class_api_group", class.api_group.as_str()),
                ("spec_class_kind", class.kind.as_str()),
                ("spec_class_name", class.name.as_str()),
                ("node_name", machine.node_name().unwrap_or_default()),
            ];
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }
    }

    if machines.iter().any(|m| !m.status.conditions.is_empty()) {
        let mut family = encoder.encode_descriptor(
            "mcm_machine_status_condition",
            "Information of the mcm managed Machines' status conditions.",
            None,
            MetricType::Gauge,
        )?;
        for machine in machines {
            for condition in &machine.status.conditions {
                let labels = [
                    ("name", machine.name()),
                    ("namespace", machine.namespace()),
                    ("condition", condition.type_.as_str()),
                ];
                ConstGauge::new(condition_value(&condition.status))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
    }

    if !machines.is_empty() {
        let mut family = encoder.encode_descriptor(
            "mcm_machine_current_status_phase",
            "Current status phase of the Machines currently managed by the mcm.",
            None,
            MetricType::Gauge,
        )?;
        for machine in machines {
            let labels = [("name", machine.name()), ("namespace", machine.namespace())];
            ConstGauge::new(phase_value(machine.phase())).encode(family.encode_family(&labels)?)?;
        }
    }

    let count = i64::try_from(machines.len()).unwrap_or(i64::MAX);
    ConstGauge::new(count).encode(encoder.encode_descriptor(
        "mcm_machine_items_total",
        "Count of machines currently managed by the mcm.",
        None,
        MetricType::Gauge,
    )?)?;

    ConstGauge::new(i64::from(frozen)).encode(encoder.encode_descriptor(
        "mcm_machine_controller_frozen",
        "Frozen status of the machine controller manager.",
        None,
        MetricType::Gauge,
    )?)?;
    Ok(())
}

#[cfg(test)]
mod tests;
