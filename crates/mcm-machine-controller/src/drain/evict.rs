//! Removing one pod: the eviction/deletion call, the PDB check on HTTP 429, and the
//! wait for the pod to disappear; plus the whole life of a pod without PVCs.
//!
//! Pods without PVCs are drained all at once (MCM `evictPodWithoutPVInternal`): evict,
//! and while a PodDisruptionBudget answers 429 pause and try again, up to the policy's
//! max evict retries, then delete with grace period 0; a misconfigured PDB fails the
//! pod at once. Afterwards wait until the pod is gone, except on the force path.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{DeleteParams, EvictParams, ListParams};
use tokio::time::Instant;

use super::Run;
use super::deadline::{Expiry, go_text};
use super::error::PodError;
use super::plan::{self, name_of, namespace_of, pod_key};
use super::report::Tally;

/// What an eviction or deletion call answered.
#[derive(Debug)]
pub(crate) enum Removal {
    /// Accepted: the pod is being removed.
    Accepted,
    /// The pod was not there (any more).
    Gone,
    /// HTTP 429: a PodDisruptionBudget does not allow the eviction now.
    TooManyRequests(String),
    /// Any other failure.
    Failed(String),
    /// The drain deadline passed before the call returned.
    Deadline,
}

/// The text of an API error as Go prints it: the server's message when there is one.
pub(crate) fn error_text(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

fn pods(run: &Run<'_>, pod: &Pod) -> Api<Pod> {
    Api::namespaced(run.client.clone(), namespace_of(pod))
}

/// Evicts (policy/v1 Eviction, the pod's own grace period) or deletes the pod with
/// grace period 0, and counts what happened.
pub(crate) async fn remove(run: &Run<'_>, pod: &Pod, evict: bool) -> Removal {
    let api = pods(run, pod);
    let name = name_of(pod);
    let answer = if evict {
        tracing::debug!(pod = %pod_key(pod), node = run.node, "evicting pod");
        run.deadline
            .bound(api.evict(name, &EvictParams::default()))
            .await
            .map(|r| r.map(|_| ()))
    } else {
        tracing::debug!(pod = %pod_key(pod), node = run.node, "deleting pod with grace period 0");
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        run.deadline
            .bound(api.delete(name, &params))
            .await
            .map(|r| r.map(|_| ()))
    };
    match answer {
        None => Removal::Deadline,
        Some(Ok(())) => {
            Tally::bump(if evict {
                &run.tally.evicted
            } else {
                &run.tally.deleted
            });
            Removal::Accepted
        }
        Some(Err(error)) if is_not_found(&error) => {
            Tally::bump(&run.tally.already_gone);
            Removal::Gone
        }
        Some(Err(kube::Error::Api(status))) if status.code == 429 => {
            Tally::bump(&run.tally.eviction_rejections);
            Removal::TooManyRequests(status.message.clone())
        }
        Some(Err(error)) => Removal::Failed(error_text(&error)),
    }
}

/// The PDB governing a pod, read live; `None` when there is none or the list failed
/// (MCM then simply retries the eviction).
pub(crate) async fn governing_pdb(run: &Run<'_>, pod: &Pod) -> Option<PodDisruptionBudget> {
    let api: Api<PodDisruptionBudget> = Api::namespaced(run.client.clone(), namespace_of(pod));
    match run.deadline.bound(api.list(&ListParams::default())).await? {
        Ok(list) => plan::pdb_for_pod(&list.items, pod).cloned(),
        Err(error) => {
            tracing::warn!(pod = %pod_key(pod), error = %error_text(&error), "listing PodDisruptionBudgets failed");
            None
        }
    }
}

/// The pod as it is now (`None` if not found).
pub(crate) async fn fetch(run: &Run<'_>, pod: &Pod) -> Option<Result<Option<Pod>, kube::Error>> {
    run.deadline
        .bound(pods(run, pod).get_opt(name_of(pod)))
        .await
}

/// `Err(error)` when a 429 came from a misconfigured PDB (retrying is pointless).
pub(crate) async fn check_pdb(run: &Run<'_>, pod: &Pod) -> Result<(), PodError> {
    match governing_pdb(run, pod).await {
        Some(pdb) if plan::is_misconfigured_pdb(&pdb) => Err(PodError::MisconfiguredPdb {
            pod: name_of(pod).to_owned(),
            pdb: plan::pdb_key(&pdb),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn deadline_error(run: &Run<'_>, pod: &Pod) -> PodError {
    PodError::DeadlineExceeded {
        pod: pod_key(pod),
        node: run.node.to_owned(),
        timeout: go_text(run.deadline.timeout()),
    }
}

/// Drains one pod without PVCs (or any pod on the force path).
pub(crate) async fn drain_pod(run: &Run<'_>, pod: &Pod) -> Result<(), PodError> {
    let mut attempt = 0_u32;
    loop {
        let evict = plan::evicts_on_attempt(run.attempt_evict, attempt, run.max_evict_retries);
        match remove(run, pod, evict).await {
            Removal::Accepted => break,
            Removal::Gone => return Ok(()),
            Removal::TooManyRequests(message) if evict => {
                tracing::info!(pod = %pod_key(pod), node = run.node, %message,
                    "eviction refused (PodDisruptionBudget); will retry");
                check_pdb(run, pod).await?;
                if !run
                    .deadline
                    .sleep(run.timings.eviction_retry_interval)
                    .await
                {
                    return Err(deadline_error(run, pod));
                }
            }
            Removal::TooManyRequests(message) | Removal::Failed(message) => {
                return Err(PodError::Evict {
                    pod: name_of(pod).to_owned(),
                    node: run.node.to_owned(),
                    message,
                });
            }
            Removal::Deadline => return Err(deadline_error(run, pod)),
        }
        attempt = attempt.saturating_add(1);
    }
    if run.force {
        return Ok(());
    }
    let limit =
        plan::termination_wait_limit(pod, run.deadline.timeout(), run.timings.termination_buffer);
    wait_gone(run, pod, limit).await
}

/// Polls until the pod is gone (not found, or replaced by one with another UID).
async fn wait_gone(run: &Run<'_>, pod: &Pod, limit: std::time::Duration) -> Result<(), PodError> {
    let (end, expiry) = run.deadline.step_end(limit);
    loop {
        match fetch(run, pod).await {
            None => return Err(deadline_error(run, pod)),
            Some(Ok(current)) if plan::is_gone(pod, current.as_ref()) => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                return Err(PodError::TerminationCheck {
                    pod: name_of(pod).to_owned(),
                    node: run.node.to_owned(),
                    message: error_text(&error),
                });
            }
        }
        let now = Instant::now();
        if now >= end {
            return Err(match expiry {
                Expiry::Drain => deadline_error(run, pod),
                Expiry::Limit => PodError::TerminationTimeout {
                    pod: name_of(pod).to_owned(),
                    node: run.node.to_owned(),
                    waited: go_text(limit),
                },
            });
        }
        tokio::time::sleep_until(end.min(now + run.timings.poll_interval)).await;
    }
}
