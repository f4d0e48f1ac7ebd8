//! The drain's decisions, free of I/O: which pods go, in which order, what a PDB
//! means, when volumes count as detached or re-attached (contract 02 §5.4).
//!
//! Everything here takes the objects it judges and returns a verdict, so the rules
//! of MCM's `pkg/util/provider/drain` can be checked table by table without a
//! cluster; the I/O modules beside this one only fetch, call and wait.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroupList, APIResourceList, LabelSelector,
};
use kube::core::{Selector, SelectorExt};

use crate::decide::deletion::DrainPolicy;

/// Annotation the kubelet puts on the API copy of a static pod; such pods cannot be
/// evicted through the API and are left alone.
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Resource name under which the core group serves evictions.
pub const EVICTION_SUBRESOURCE: &str = "pods/eviction";

/// Kind of the eviction subresource.
pub const EVICTION_KIND: &str = "Eviction";

/// `namespace/name`, the key pods are tracked by throughout a drain.
pub fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", namespace_of(pod), name_of(pod))
}

/// The pod's name (empty if the object has none).
pub fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

/// The pod's namespace (empty if the object has none).
pub fn namespace_of(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or_default()
}

/// The pod's UID (empty if the object has none).
pub fn uid_of(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// Why a pod of the node is not drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// It is scheduled to another node (or to none).
    OtherNode,
    /// A mirror pod: the kubelet owns it, deleting the API object does nothing.
    Mirror,
    /// Controlled by a DaemonSet, which would put it right back.
    DaemonSet,
}

/// Whether (and why not) a pod is drained from `node`. Pods with emptyDir volumes,
/// pods without a controller and finished pods are drained (MCM runs kubectl's filters
/// with `--delete-local-data --force --ignore-daemonsets`).
pub fn exclusion(pod: &Pod, node: &str) -> Option<Exclusion> {
    let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    if !on_node || node.is_empty() {
        return Some(Exclusion::OtherNode);
    }
    if pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION))
    {
        return Some(Exclusion::Mirror);
    }
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true));
    if controller.is_some_and(|owner| owner.kind == "DaemonSet") {
        return Some(Exclusion::DaemonSet);
    }
    None
}

/// The pods a drain acts on, and how many of the node's pods it leaves alone.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// Pods to evict or delete, in the order listed.
    pub pods: Vec<Pod>,
    /// Mirror pods skipped.
    pub mirror: usize,
    /// DaemonSet pods skipped.
    pub daemon_set: usize,
}

/// Picks the pods of `node` that the drain evicts.
pub fn candidates(pods: impl IntoIterator<Item = Pod>, node: &str) -> Candidates {
    let mut out = Candidates::default();
    for pod in pods {
        match exclusion(&pod, node) {
            None => out.pods.push(pod),
            Some(Exclusion::Mirror) => out.mirror += 1,
            Some(Exclusion::DaemonSet) => out.daemon_set += 1,
            Some(Exclusion::OtherNode) => {}
        }
    }
    out
}

/// Names of the PersistentVolumeClaims a pod mounts, in volume order.
pub fn claim_names(pod: &Pod) -> Vec<String> {
    pod.spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .filter_map(|volume| volume.persistent_volume_claim.as_ref())
        .map(|claim| claim.claim_name.clone())
        .collect()
}

/// Whether the pod mounts at least one PersistentVolumeClaim; such pods are drained
/// one at a time, waiting for their volumes to move.
pub fn uses_pvc(pod: &Pod) -> bool {
    !claim_names(pod).is_empty()
}

/// Splits pods into (with a PVC volume, without one), keeping the order of each.
pub fn split_by_pvc(pods: Vec<Pod>) -> (Vec<Pod>, Vec<Pod>) {
    pods.into_iter().partition(uses_pvc)
}

/// Orders pods by `spec.priority`, highest first; equal priorities keep their order.
/// A pod without priority counts as 0 (the API server's default).
pub fn order_by_priority(pods: &mut [Pod]) {
    pods.sort_by_key(|pod| {
        std::cmp::Reverse(pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0))
    });
}

/// The pod's `terminationGracePeriodSeconds` (absent or negative → zero).
pub fn termination_grace(pod: &Pod) -> Duration {
    let seconds = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(0);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// How long to wait for an evicted pod without PVCs to disappear:
/// `min(grace period, drain timeout) + buffer`.
pub fn termination_wait_limit(pod: &Pod, drain_timeout: Duration, buffer: Duration) -> Duration {
    termination_grace(pod).min(drain_timeout) + buffer
}

/// How long to wait for an evicted PVC pod's volumes to leave the node:
/// `grace period + PV detach timeout`.
pub fn detach_wait_limit(pod: &Pod, pv_detach_timeout: Duration) -> Duration {
    termination_grace(pod) + pv_detach_timeout
}

/// The drain timeout of a policy as a std duration (a negative one is zero).
pub fn drain_timeout(policy: &DrainPolicy) -> Duration {
    Duration::try_from(policy.timeout).unwrap_or(Duration::ZERO)
}

/// Evict (true) or delete (false) on attempt `attempt` (0-based) of a pod: eviction is
/// used while it is available and fewer than `max_evict_retries` attempts were made.
pub fn evicts_on_attempt(attempt_evict: bool, attempt: u32, max_evict_retries: i32) -> bool {
    attempt_evict && i64::from(attempt) < i64::from(max_evict_retries)
}

/// Whether the API server serves `pods/eviction` (core v1) and has the `policy` group;
/// without both the drain deletes pods instead of evicting them.
pub fn eviction_supported(groups: &APIGroupList, core_v1: &APIResourceList) -> bool {
    groups.groups.iter().any(|group| group.name == "policy")
        && core_v1
            .resources
            .iter()
            .any(|r| r.name == EVICTION_SUBRESOURCE && r.kind == EVICTION_KIND)
}

/// Whether a pod fetched after eviction means the evicted one is gone: not found, or
/// replaced by a new pod of the same name (another UID).
pub fn is_gone(original: &Pod, current: Option<&Pod>) -> bool {
    current.is_none_or(|current| uid_of(current) != uid_of(original))
}

/// Converts a PDB selector as the Go lister does: absent → matches nothing; an invalid
/// requirement → matches nothing; empty → matches everything.
fn pdb_selector(selector: Option<&LabelSelector>) -> Option<Selector> {
    let selector = selector?;
    for requirement in selector.match_expressions.iter().flatten() {
        let count = requirement.values.as_ref().map_or(0, Vec::len);
        let valid = match requirement.operator.as_str() {
            "In" | "NotIn" => count > 0,
            "Exists" | "DoesNotExist" => count == 0,
            _ => false,
        };
        if !valid {
            return None;
        }
    }
    Selector::try_from(selector.clone()).ok()
}

/// Whether a PDB of the pod's namespace selects the pod.
pub fn pdb_selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    if pdb.metadata.namespace.as_deref() != pod.metadata.namespace.as_deref() {
        return false;
    }
    let Some(selector) = pdb_selector(pdb.spec.as_ref().and_then(|s| s.selector.as_ref())) else {
        return false;
    };
    let empty = BTreeMap::new();
    selector.matches(pod.metadata.labels.as_ref().unwrap_or(&empty))
}

/// The PDB that governs a pod: the first selecting one (Go picks "arbitrarily" when
/// several match; the list order of the API server is by name).
pub fn pdb_for_pod<'a>(
    pdbs: &'a [PodDisruptionBudget],
    pod: &Pod,
) -> Option<&'a PodDisruptionBudget> {
    pdbs.iter().find(|pdb| pdb_selects(pdb, pod))
}

/// A PDB that can never allow an eviction although all its pods are healthy: its
/// status is current, it has pods, all of them are healthy, none is being disrupted,
/// and it still allows zero disruptions. Retrying evictions against it is pointless,
/// so the pod fails at once.
pub fn is_misconfigured_pdb(pdb: &PodDisruptionBudget) -> bool {
    let Some(status) = pdb.status.as_ref() else {
        return false;
    };
    if pdb.metadata.generation.unwrap_or(0) != status.observed_generation.unwrap_or(0) {
        return false;
    }
    let no_disrupted = status
        .disrupted_pods
        .as_ref()
        .is_none_or(BTreeMap::is_empty);
    status.expected_pods > 0
        && status.current_healthy >= status.expected_pods
        && no_disrupted
        && status.disruptions_allowed == 0
}

/// `namespace/name` of a PDB, as MCM prints it.
pub fn pdb_key(pdb: &PodDisruptionBudget) -> String {
    format!(
        "{}/{}",
        pdb.metadata.namespace.as_deref().unwrap_or_default(),
        pdb.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Drops the PersistentVolumes used by more than one pod of the node: their
/// attachment does not follow a single pod, so waiting for it to move is meaningless.
/// Keys are pods, values their PV names.
pub fn exclude_shared_volumes(volumes_by_pod: &mut BTreeMap<String, Vec<String>>) {
    let mut seen = BTreeSet::new();
    let mut shared = BTreeSet::new();
    for volumes in volumes_by_pod.values() {
        for volume in volumes {
            if !seen.insert(volume.clone()) {
                shared.insert(volume.clone());
            }
        }
    }
    if shared.is_empty() {
        return;
    }
    for volumes in volumes_by_pod.values_mut() {
        volumes.retain(|volume| !shared.contains(volume));
    }
}

/// One PersistentVolume of a pod whose attachment the drain tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedVolume {
    /// The PersistentVolume's name (for VolumeAttachments).
    pub persistent_volume: String,
    /// The provider's volume ID from `GetVolumeIDs` (for `node.status.volumesAttached`).
    pub volume_id: String,
}

/// Volume IDs of `tracked` that still appear in the node's `status.volumesAttached`.
///
/// Each ID is a regular expression searched in the attached volume's name (MCM uses
/// Go's `regexp.MatchString`: a CSI name is `kubernetes.io/csi/<driver>^<handle>`, so
/// a plain ID matches as a substring). An ID that is not a valid expression never
/// matches, as in Go.
pub fn still_attached<'a>(tracked: &'a [TrackedVolume], node: &Node) -> Vec<&'a str> {
    let attached: Vec<&str> = node
        .status
        .iter()
        .flat_map(|s| s.volumes_attached.iter().flatten())
        .map(|volume| volume.name.as_str())
        .collect();
    if attached.is_empty() {
        return Vec::new();
    }
    tracked
        .iter()
        .map(|volume| volume.volume_id.as_str())
        .filter(|id| match regex::Regex::new(id) {
            Ok(pattern) => attached.iter().any(|name| pattern.is_match(name)),
            Err(_) => false,
        })
        .collect()
}

/// What the drain needs from a VolumeAttachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// `spec.source.persistentVolumeName` (absent for inline volumes).
    pub persistent_volume: Option<String>,
    /// `spec.nodeName`.
    pub node: String,
    /// `status.attached`.
    pub attached: bool,
}

impl From<&VolumeAttachment> for Attachment {
    fn from(va: &VolumeAttachment) -> Attachment {
        Attachment {
            persistent_volume: va.spec.source.persistent_volume_name.clone(),
            node: va.spec.node_name.clone(),
            attached: va.status.as_ref().is_some_and(|s| s.attached),
        }
    }
}

/// PersistentVolumes of `tracked` not yet attached to a node other than `drained_node`.
pub fn awaiting_reattachment<'a>(
    tracked: &'a [TrackedVolume],
    drained_node: &str,
    attachments: &[Attachment],
) -> Vec<&'a str> {
    tracked
        .iter()
        .map(|volume| volume.persistent_volume.as_str())
        .filter(|pv| {
            !attachments.iter().any(|a| {
                a.persistent_volume.as_deref() == Some(*pv) && a.attached && a.node != drained_node
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
