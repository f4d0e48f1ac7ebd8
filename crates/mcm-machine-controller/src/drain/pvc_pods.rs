//! Draining the pods that mount PVCs: one at a time, highest priority first, each
//! followed by a wait for its volumes to leave the node and to attach elsewhere
//! (MCM `evictPodsWithPv`, `evictPodsWithPVInternal`).
//!
//! Pods whose eviction is refused (429 or another error) are retried in rounds,
//! `eviction_retry_interval` apart, up to the policy's max evict retries; whatever is
//! left is then deleted with grace period 0, and a pod still there after that fails.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use mcm_api::Driver;

use super::Run;
use super::error::PodError;
use super::evict::{self, Removal};
use super::plan::{self, TrackedVolume, pod_key};
use super::report::Tally;
use super::volumes::{self, AttachmentWatch, Detach};

/// Why a round stopped before its last pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The Node is gone: the remaining pods count as drained (MCM's fast track).
    NodeGone,
    /// The drain deadline passed: the remaining pods fail.
    Deadline,
}

/// The end of one round.
#[derive(Debug, Default)]
struct Round {
    /// Pods to try again.
    pending: Vec<Pod>,
    /// Pods that failed for good.
    errors: Vec<PodError>,
    /// Set when the round ended early.
    stop: Option<Stop>,
}

/// What the PVC pods of a drain share.
struct Volumes {
    tracked: BTreeMap<String, Vec<TrackedVolume>>,
    attachments: Option<AttachmentWatch>,
}

/// Drains the PVC pods; returns the failures.
pub(crate) async fn drain_pods<D: Driver>(
    run: &Run<'_>,
    driver: &D,
    mut pods: Vec<Pod>,
) -> Vec<PodError> {
    if pods.is_empty() {
        return Vec::new();
    }
    plan::order_by_priority(&mut pods);
    let mut shared = Volumes {
        tracked: volumes::tracked_volumes(run, driver, &pods).await,
        attachments: None,
    };
    let mut errors = Vec::new();
    let mut remaining = pods;
    let mut stop = None;
    let rounds = u32::try_from(run.max_evict_retries).unwrap_or(0);
    if run.attempt_evict && rounds > 0 {
        for _ in 0..rounds {
            let round = run_round(run, &mut shared, true, remaining).await;
            errors.extend(round.errors);
            remaining = round.pending;
            stop = round.stop;
            if stop.is_some() || remaining.is_empty() {
                break;
            }
            tracing::info!(
                node = run.node,
                pods = remaining.len(),
                "PVC pods left; next eviction round after a pause"
            );
            if !run
                .deadline
                .sleep(run.timings.eviction_retry_interval)
                .await
            {
                stop = Some(Stop::Deadline);
                break;
            }
        }
    }
    if stop.is_none() && !remaining.is_empty() {
        // Eviction retries used up (or no eviction API): delete what is left.
        let round = run_round(run, &mut shared, false, remaining).await;
        errors.extend(round.errors);
        remaining = round.pending;
        stop = round.stop;
    }
    for pod in remaining {
        match stop {
            Some(Stop::NodeGone) => {}
            Some(Stop::Deadline) => errors.push(evict::deadline_error(run, &pod)),
            None if run.attempt_evict => errors.push(PodError::NotEvicted {
                pod: pod_key(&pod),
                node: run.node.to_owned(),
            }),
            None => errors.push(PodError::NotDeleted {
                pod: pod_key(&pod),
                node: run.node.to_owned(),
            }),
        }
    }
    errors
}

/// One pass over `pods`: evict (or delete) each, then follow its volumes.
async fn run_round(run: &Run<'_>, shared: &mut Volumes, evict: bool, pods: Vec<Pod>) -> Round {
    let mut round = Round::default();
    let mut pods = pods.into_iter();
    while let Some(pod) = pods.next() {
        if run.deadline.expired() {
            round.pending.push(pod);
            round.pending.extend(pods);
            round.stop = Some(Stop::Deadline);
            return round;
        }
        let tracked = shared
            .tracked
            .get(&pod_key(&pod))
            .cloned()
            .unwrap_or_default();
        if !tracked.is_empty() && shared.attachments.is_none() {
            shared.attachments = Some(AttachmentWatch::start(run.client));
        }
        match evict::remove(run, &pod, evict).await {
            Removal::Accepted => {}
            Removal::Gone => continue,
            Removal::TooManyRequests(message) if evict => {
                tracing::info!(pod = %pod_key(&pod), node = run.node, %message,
                    "eviction refused (PodDisruptionBudget); retrying in the next round");
                match evict::check_pdb(run, &pod).await {
                    Err(error) => round.errors.push(error),
                    Ok(()) => round.pending.push(pod),
                }
                continue;
            }
            Removal::TooManyRequests(message) | Removal::Failed(message) => {
                tracing::warn!(pod = %pod_key(&pod), node = run.node, %message,
                    "evicting/deleting pod failed; retrying in the next round");
                round.pending.push(pod);
                continue;
            }
            Removal::Deadline => {
                round.pending.push(pod);
                round.pending.extend(pods);
                round.stop = Some(Stop::Deadline);
                return round;
            }
        }
        match volumes::wait_for_detach(run, &pod, &tracked).await {
            Detach::Done => {}
            Detach::NodeGone => {
                tracing::info!(
                    node = run.node,
                    "node is gone; remaining PVC pods count as drained"
                );
                round.pending.extend(pods);
                round.stop = Some(Stop::NodeGone);
                return round;
            }
            Detach::Failed(error) => {
                round.errors.push(error);
                continue;
            }
        }
        if let Some(attachments) = shared.attachments.as_mut()
            && !attachments
                .wait_for_reattach(run, &tracked, run.pv_reattach_timeout)
                .await
        {
            Tally::bump(&run.tally.reattach_timeouts);
            tracing::warn!(pod = %pod_key(&pod), node = run.node, ?tracked,
                "volumes did not attach to another node within the re-attach timeout");
        }
    }
    // Pods that were refused: done if they went away or were replaced meanwhile.
    let refused = std::mem::take(&mut round.pending);
    for pod in refused {
        match evict::fetch(run, &pod).await {
            Some(Ok(current)) if plan::is_gone(&pod, current.as_ref()) => {
                Tally::bump(&run.tally.already_gone);
            }
            _ => round.pending.push(pod),
        }
    }
    round
}
