//! Following a PVC pod's volumes: which provider volumes it has (`GetVolumeIDs`),
//! when they have left the drained node, and when they are attached elsewhere.
//!
//! MCM evicts PVC pods one at a time and waits for their volumes to move so that the
//! replacement pod on another node can attach them without racing the old node
//! (contract 02 §5.4, MCM `getPodVolumeInfos`, `waitForDetach`, `waitForReattach`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use mcm_api::Driver;
use mcm_api::driver::GetVolumeIdsRequest;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Run;
use super::deadline::{Expiry, go_text};
use super::error::PodError;
use super::evict::{deadline_error, error_text};
use super::plan::{self, Attachment, TrackedVolume, namespace_of, pod_key};
use super::report::Tally;

/// Reads an object, retrying other errors than not-found as MCM's listers did;
/// `None` when it is missing, unreadable or the deadline passed.
async fn read<K>(run: &Run<'_>, api: &Api<K>, name: &str) -> Option<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let tries = run.timings.lookup_tries.max(1);
    for attempt in 1..=tries {
        match run.deadline.bound(api.get_opt(name)).await? {
            Ok(found) => return found,
            Err(error) => {
                tracing::warn!(%name, attempt, error = %error_text(&error), "reading a PVC/PV for the drain failed");
                if attempt < tries && !run.deadline.sleep(run.timings.lookup_retry_interval).await {
                    return None;
                }
            }
        }
    }
    None
}

/// The PersistentVolumes bound to the pod's claims (claims not found, unreadable or
/// unbound are left out).
async fn persistent_volume_names(run: &Run<'_>, pod: &Pod) -> Vec<String> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(run.client.clone(), namespace_of(pod));
    let mut names = Vec::new();
    for claim in plan::claim_names(pod) {
        let bound = read(run, &claims, &claim)
            .await
            .and_then(|pvc| pvc.spec)
            .and_then(|spec| spec.volume_name)
            .filter(|name| !name.is_empty());
        if let Some(volume) = bound {
            names.push(volume);
        }
    }
    names
}

/// The provider's ID of a PersistentVolume, or `None` when the PV is missing, the
/// driver fails, or the driver says it is not its volume (no or an empty ID).
async fn volume_id<D: Driver>(run: &Run<'_>, driver: &D, pv_name: &str) -> Option<String> {
    let volumes: Api<PersistentVolume> = Api::all(run.client.clone());
    let spec = read(run, &volumes, pv_name).await?.spec.unwrap_or_default();
    let request = GetVolumeIdsRequest {
        pv_specs: vec![spec],
    };
    match run.deadline.bound(driver.get_volume_ids(request)).await? {
        Ok(response) => response
            .volume_ids
            .into_iter()
            .next()
            .filter(|id| !id.is_empty()),
        Err(error) => {
            tracing::warn!(pv = pv_name, %error, "GetVolumeIDs failed; not waiting for this volume to detach");
            None
        }
    }
}

/// The volumes to follow for each PVC pod (keyed `namespace/name`): PVs shared by
/// several of the pods are left out, and so is every PV the driver gives no ID for.
pub(crate) async fn tracked_volumes<D: Driver>(
    run: &Run<'_>,
    driver: &D,
    pods: &[Pod],
) -> BTreeMap<String, Vec<TrackedVolume>> {
    let mut names_by_pod = BTreeMap::new();
    for pod in pods {
        names_by_pod.insert(pod_key(pod), persistent_volume_names(run, pod).await);
    }
    plan::exclude_shared_volumes(&mut names_by_pod);
    let mut tracked = BTreeMap::new();
    for (pod, names) in names_by_pod {
        let mut volumes = Vec::new();
        for name in names {
            if let Some(volume_id) = volume_id(run, driver, &name).await {
                Tally::bump(&run.tally.volumes_tracked);
                volumes.push(TrackedVolume {
                    persistent_volume: name,
                    volume_id,
                });
            }
        }
        tracked.insert(pod, volumes);
    }
    tracked
}

/// How waiting for a pod's volumes to leave the node ended.
#[derive(Debug)]
pub(crate) enum Detach {
    /// None of them is attached any more.
    Done,
    /// The Node object is gone: nothing will ever be attached to it again.
    NodeGone,
    /// Still attached at the limit, or the node could not be read.
    Failed(PodError),
}

/// Polls `node.status.volumesAttached` until none of the pod's volume IDs is there.
pub(crate) async fn wait_for_detach(run: &Run<'_>, pod: &Pod, volumes: &[TrackedVolume]) -> Detach {
    if volumes.is_empty() {
        return Detach::Done;
    }
    let nodes: Api<Node> = Api::all(run.client.clone());
    let limit = plan::detach_wait_limit(pod, run.pv_detach_timeout);
    let (end, expiry) = run.deadline.step_end(limit);
    loop {
        let node = match run.deadline.bound(nodes.get_opt(run.node)).await {
            None => return Detach::Failed(deadline_error(run, pod)),
            Some(Ok(None)) => return Detach::NodeGone,
            Some(Ok(Some(node))) => node,
            Some(Err(error)) => {
                return Detach::Failed(PodError::DetachCheck {
                    pod: pod_key(pod),
                    node: run.node.to_owned(),
                    message: error_text(&error),
                });
            }
        };
        let attached = plan::still_attached(volumes, &node);
        if attached.is_empty() {
            return Detach::Done;
        }
        let now = Instant::now();
        if now >= end {
            return Detach::Failed(match expiry {
                Expiry::Drain => deadline_error(run, pod),
                Expiry::Limit => PodError::DetachTimeout {
                    pod: pod_key(pod),
                    node: run.node.to_owned(),
                    volumes: attached.join(", "),
                    waited: go_text(limit),
                },
            });
        }
        tracing::debug!(pod = %pod_key(pod), node = run.node, volumes = ?attached, "volumes still attached");
        tokio::time::sleep_until(end.min(now + run.timings.poll_interval)).await;
    }
}

/// The cluster's VolumeAttachments, kept current by a watch for as long as this
/// value lives (the task stops on drop).
#[derive(Debug)]
pub(crate) struct AttachmentWatch {
    state: watch::Receiver<BTreeMap<String, Attachment>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AttachmentWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AttachmentWatch {
    /// Starts watching; call before evicting, so no attachment is missed.
    pub(crate) fn start(client: &kube::Client) -> AttachmentWatch {
        let (sender, state) = watch::channel(BTreeMap::new());
        let api: Api<VolumeAttachment> = Api::all(client.clone());
        let task = tokio::spawn(async move {
            use futures::StreamExt;
            let mut events =
                std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
            let mut initial: Option<BTreeMap<String, Attachment>> = None;
            while let Some(event) = events.next().await {
                let key = |va: &VolumeAttachment| va.metadata.name.clone().unwrap_or_default();
                match event {
                    Ok(watcher::Event::Init) => initial = Some(BTreeMap::new()),
                    Ok(watcher::Event::InitApply(va)) => {
                        if let Some(buffer) = initial.as_mut() {
                            buffer.insert(key(&va), Attachment::from(&va));
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        let fresh = initial.take().unwrap_or_default();
                        sender.send_replace(fresh);
                    }
                    Ok(watcher::Event::Apply(va)) => {
                        sender.send_modify(|map| {
                            map.insert(key(&va), Attachment::from(&va));
                        });
                    }
                    Ok(watcher::Event::Delete(va)) => {
                        sender.send_modify(|map| {
                            map.remove(&key(&va));
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "watching VolumeAttachments for the drain failed; retrying");
                    }
                }
            }
        });
        AttachmentWatch { state, task }
    }

    /// Waits up to `limit` (and the drain deadline) until every volume is attached to
    /// another node; false on timeout, which only delays the next pod.
    pub(crate) async fn wait_for_reattach(
        &mut self,
        run: &Run<'_>,
        volumes: &[TrackedVolume],
        limit: std::time::Duration,
    ) -> bool {
        if volumes.is_empty() {
            return true;
        }
        let (end, _) = run.deadline.step_end(limit);
        let node = run.node;
        let moved = tokio::time::timeout_at(
            end,
            self.state.wait_for(|attachments| {
                let list: Vec<Attachment> = attachments.values().cloned().collect();
                plan::awaiting_reattachment(volumes, node, &list).is_empty()
            }),
        )
        .await;
        matches!(moved, Ok(Ok(_)))
    }
}
