//! Draining a Node before its VM is deleted (deletion step C, contract 02 §5.4; MCM
//! `pkg/util/provider/drain`).
//!
//! The deletion flow has already set the Node's `Terminating` condition and cordoned
//! it; [`Drainer::drain`] then removes the Node's pods so their workloads move
//! elsewhere in an orderly way:
//!
//! - candidates are the pods bound to the Node except mirror and DaemonSet pods
//!   ([`plan::candidates`]);
//! - **force** (policy `force`): every candidate is deleted with grace period 0 at
//!   once, without waiting for anything;
//! - **normal**: pods without PVCs are evicted in parallel (HTTP 429 → pause and retry,
//!   then delete) and awaited; pods with PVCs go one by one, highest priority first,
//!   each followed by a wait until its provider volumes (`Driver::get_volume_ids`) have
//!   left `node.status.volumesAttached` and show up attached elsewhere.
//!
//! The whole run ends by the policy's timeout. Pure decisions live in [`plan`]; the
//! other modules only call the API server and the driver, and wait.

mod deadline;
mod error;
mod evict;
pub mod plan;
mod pvc_pods;
mod report;
mod volumes;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::decide::deletion::DrainPolicy;

pub use error::{DrainError, PodError, PodErrors};
pub use report::{DrainReport, DrainTimings};

use deadline::Deadline;
use report::Tally;

/// Drains Nodes of one target cluster, asking one driver for volume IDs.
pub struct Drainer<'a, D: mcm_api::Driver> {
    /// Client of the target cluster (where Nodes and pods live).
    ///
    /// Build it from a `kube::Config` with `default_retry = false`. kube's default
    /// retry layer re-sends requests answered 429 up to 15 times with growing
    /// back-off (minutes in total); an eviction refused by a PodDisruptionBudget is a
    /// 429, so with that layer the drain never sees the refusal, its 20 s retry rhythm
    /// and max-evict-retries are void, and a PDB-protected pod ends in the drain
    /// timeout instead of being deleted after the retries (measured: the PDB test
    /// hit its 60 s timeout with the default client, passes in ~2 s without).
    pub client: kube::Client,
    /// The provider's driver, asked `GetVolumeIDs` in the normal (non-force) path.
    pub driver: &'a D,
    /// `--machine-pv-detach-timeout`: how long (plus the pod's grace period) to wait
    /// for a PVC pod's volumes to leave the Node.
    pub pv_detach_timeout: Duration,
    /// `--machine-pv-reattach-timeout`: how long to wait for them to attach elsewhere.
    pub pv_reattach_timeout: Duration,
}

impl<D: mcm_api::Driver> std::fmt::Debug for Drainer<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drainer")
            .field("pv_detach_timeout", &self.pv_detach_timeout)
            .field("pv_reattach_timeout", &self.pv_reattach_timeout)
            .finish_non_exhaustive()
    }
}

/// What one run works with; shared by its pod tasks.
pub(crate) struct Run<'r> {
    pub(crate) client: &'r kube::Client,
    pub(crate) node: &'r str,
    pub(crate) force: bool,
    pub(crate) attempt_evict: bool,
    pub(crate) max_evict_retries: i32,
    pub(crate) deadline: Deadline,
    pub(crate) timings: &'r DrainTimings,
    pub(crate) pv_detach_timeout: Duration,
    pub(crate) pv_reattach_timeout: Duration,
    pub(crate) tally: Tally,
}

impl<'a, D: mcm_api::Driver> Drainer<'a, D> {
    /// Drains `node_name` as `policy` says, with MCM's pauses and poll intervals.
    pub async fn drain(
        &self,
        node_name: &str,
        policy: &DrainPolicy,
    ) -> Result<DrainReport, DrainError> {
        self.drain_with_timings(node_name, policy, &DrainTimings::default())
            .await
    }

    /// [`Drainer::drain`] with other pauses and poll intervals (tests).
    pub async fn drain_with_timings(
        &self,
        node_name: &str,
        policy: &DrainPolicy,
        timings: &DrainTimings,
    ) -> Result<DrainReport, DrainError> {
        let started = tokio::time::Instant::now();
        let timeout = plan::drain_timeout(policy);
        let deadline = Deadline::after(timeout);
        tracing::info!(
            node = node_name,
            force = policy.force,
            timeout = %deadline::go_text(timeout),
            max_evict_retries = policy.max_evict_retries,
            "drain started"
        );
        let mut report = DrainReport {
            force: policy.force,
            ..DrainReport::default()
        };
        if node_name.is_empty() {
            return Ok(report);
        }

        let listed = list_pods(&self.client, node_name, &deadline).await?;
        let candidates = plan::candidates(listed, node_name);
        report.candidates = candidates.pods.len();
        report.skipped_mirror = candidates.mirror;
        report.skipped_daemon_set = candidates.daemon_set;
        if candidates.pods.is_empty() {
            report.elapsed = started.elapsed();
            tracing::info!(node = node_name, "drain finished: no pods to evict");
            return Ok(report);
        }

        let attempt_evict = !policy.force && eviction_supported(&self.client, &deadline).await?;
        report.eviction_used = attempt_evict;
        let run = Run {
            client: &self.client,
            node: node_name,
            force: policy.force,
            attempt_evict,
            max_evict_retries: policy.max_evict_retries,
            deadline,
            timings,
            pv_detach_timeout: self.pv_detach_timeout,
            pv_reattach_timeout: self.pv_reattach_timeout,
            tally: Tally::default(),
        };

        let errors = if policy.force {
            drain_in_parallel(&run, &candidates.pods).await
        } else {
            let (with_pvc, without_pvc) = plan::split_by_pvc(candidates.pods);
            report.pods_with_pvc = with_pvc.len();
            let (mut errors, pvc_errors) = tokio::join!(
                drain_in_parallel(&run, &without_pvc),
                pvc_pods::drain_pods(&run, self.driver, with_pvc),
            );
            errors.extend(pvc_errors);
            errors
        };

        run.tally.fill(&mut report);
        report.elapsed = started.elapsed();
        if errors.is_empty() {
            tracing::info!(node = node_name, report = ?report, "drain finished");
            Ok(report)
        } else {
            tracing::warn!(node = node_name, report = ?report, failed = errors.len(), "drain failed");
            Err(DrainError::Pods(PodErrors(errors)))
        }
    }
}

/// All pods of the node (any namespace).
async fn list_pods(
    client: &kube::Client,
    node: &str,
    deadline: &Deadline,
) -> Result<Vec<Pod>, DrainError> {
    let api: Api<Pod> = Api::all(client.clone());
    let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
    match deadline.bound(api.list(&params)).await {
        Some(Ok(list)) => Ok(list.items),
        Some(Err(error)) => Err(DrainError::ListPods {
            node: node.to_owned(),
            message: evict::error_text(&error),
        }),
        None => Err(DrainError::ListPods {
            node: node.to_owned(),
            message: format!(
                "the drain timeout of {} expired",
                deadline::go_text(deadline.timeout())
            ),
        }),
    }
}

/// Whether the server serves `pods/eviction` (discovery, once per run).
async fn eviction_supported(
    client: &kube::Client,
    deadline: &Deadline,
) -> Result<bool, DrainError> {
    let expired = || DrainError::Discovery {
        message: format!(
            "the drain timeout of {} expired",
            deadline::go_text(deadline.timeout())
        ),
    };
    let failed = |error: kube::Error| DrainError::Discovery {
        message: evict::error_text(&error),
    };
    let groups = deadline
        .bound(client.list_api_groups())
        .await
        .ok_or_else(expired)?
        .map_err(failed)?;
    if !groups.groups.iter().any(|group| group.name == "policy") {
        return Ok(false);
    }
    let core = deadline
        .bound(client.list_core_api_resources("v1"))
        .await
        .ok_or_else(expired)?
        .map_err(failed)?;
    Ok(plan::eviction_supported(&groups, &core))
}

/// Drains every pod at once (without waiting on one another); returns the failures.
async fn drain_in_parallel(run: &Run<'_>, pods: &[Pod]) -> Vec<PodError> {
    futures::future::join_all(pods.iter().map(|pod| evict::drain_pod(run, pod)))
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
}

/// The runtime awaits drains inside `Effects::drain_node`, whose future must be `Send`.
#[allow(dead_code)]
fn drain_future_is_send<D: mcm_api::Driver>(drainer: &Drainer<'_, D>, policy: &DrainPolicy) {
    fn send<T: Send>(_: &T) {}
    send(&drainer.drain("node", policy));
}
