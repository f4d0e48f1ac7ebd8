//! The safety controller's decisions (contract 02 §7, rows S1–S18): which listed VMs
//! are orphans, what to do with Nodes that have no Machine, and the API-server
//! freeze state machine.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::v1alpha1::{Machine, MachinePhase};
use mcm_api::well_known::{finalizers, node_annotations};

use crate::config::ControllerConfig;

/// What to do with one VM reported by ListMachines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmVerdict {
    /// A Machine owns it (S1) or is still being created (S3).
    Keep,
    /// No Machine owns it (S2, S4): call DeleteMachine with a stand-in.
    Orphan,
}

/// §7.1: the verdict for VM `provider_id` named `machine_name`, given the Machine of
/// that name (if any).
pub fn classify_vm(provider_id: &str, machine: Option<&Machine>) -> VmVerdict {
    match machine {
        Some(m) if m.spec.provider_id == provider_id => VmVerdict::Keep,
        Some(m)
            if matches!(
                m.phase(),
                MachinePhase::Unset | MachinePhase::CrashLoopBackOff
            ) =>
        {
            VmVerdict::Keep
        }
        _ => VmVerdict::Orphan,
    }
}

/// The stand-in Machine passed to DeleteMachine for an orphan VM: only name,
/// namespace and providerID.
pub fn orphan_stand_in(machine_name: &str, namespace: &str, provider_id: &str) -> Machine {
    let mut machine = Machine::default();
    machine.metadata.name = Some(machine_name.to_owned());
    machine.metadata.namespace = Some(namespace.to_owned());
    machine.spec.provider_id = provider_id.to_owned();
    machine
}

/// What to do with a Node in the orphan sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeVerdict {
    /// Nothing (S6: too young; or managed and unannotated).
    Leave,
    /// No Machine and older than the creation timeout (S7): remove our finalizer and
    /// annotate it not-managed.
    MarkUnmanaged,
    /// Has exactly one Machine but carries the not-managed annotation (S8): remove it.
    Unmark,
    /// Several Machines claim it: log only.
    Ambiguous,
}

/// §7.1 orphan Nodes: `machines` are the Machines labelled `node=<node>`.
pub fn classify_node(
    node: &Node,
    machines: usize,
    not_managed_annotation: bool,
    creation_timeout: SignedDuration,
    now: Timestamp,
) -> NodeVerdict {
    match machines {
        0 => {
            let age = node
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(SignedDuration::MAX, |t| now.duration_since(t.0));
            if age < creation_timeout {
                NodeVerdict::Leave
            } else {
                NodeVerdict::MarkUnmanaged
            }
        }
        1 if not_managed_annotation => NodeVerdict::Unmark,
        1 => NodeVerdict::Leave,
        _ => NodeVerdict::Ambiguous,
    }
}

/// §7.1: the JSON merge patch of a Node's metadata that carries out `verdict`, or
/// `None` when the Node already looks as it should (or the verdict writes nothing).
/// `MarkUnmanaged` (S7) drops our finalizer and adds the not-managed annotation
/// `"1"` if it is absent; `Unmark` (S8) deletes the annotation. One patch does what
/// MCM does in two updates; a failure stops the sweep either way (S18).
pub fn orphan_node_patch(node: &Node, verdict: NodeVerdict) -> Option<serde_json::Value> {
    let annotated = node
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(node_annotations::NOT_MANAGED_BY_MCM));
    let mut metadata = serde_json::Map::new();
    match verdict {
        NodeVerdict::Leave | NodeVerdict::Ambiguous => return None,
        NodeVerdict::MarkUnmanaged => {
            let current = node.metadata.finalizers.as_ref();
            if current.is_some_and(|list| list.iter().any(|f| f == finalizers::NODE)) {
                let kept: Vec<&String> = current
                    .into_iter()
                    .flatten()
                    .filter(|f| *f != finalizers::NODE)
                    .collect();
                metadata.insert("finalizers".into(), serde_json::json!(kept));
            }
            if !annotated {
                metadata.insert(
                    "annotations".into(),
                    serde_json::json!({ node_annotations::NOT_MANAGED_BY_MCM: "1" }),
                );
            }
        }
        NodeVerdict::Unmark => {
            if annotated {
                metadata.insert(
                    "annotations".into(),
                    serde_json::json!({ node_annotations::NOT_MANAGED_BY_MCM: null }),
                );
            }
        }
    }
    (!metadata.is_empty()).then(|| serde_json::json!({ "metadata": metadata }))
}

/// The API-server safety state (in memory only, as in MCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FreezeState {
    /// Whether the controller is frozen.
    pub frozen: bool,
    /// Since when the API servers have been unreachable.
    pub inactive_since: Option<Timestamp>,
}

/// What one API-server check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeAction {
    /// Nothing to do.
    None,
    /// Just froze.
    Freeze,
    /// Reachable again while frozen: reset `Unknown` machines to `Running`, requeue
    /// all machines in 30 s, then unfreeze.
    Unfreeze,
}

/// When the next check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextCheck {
    /// `--machine-safety-apiserver-statuscheck-period`.
    Period,
    /// status-check timeout / 5 (while unreachable and not frozen yet).
    TimeoutFifth,
}

impl NextCheck {
    /// The delay under these settings (defaults: 1 min and 6 s).
    pub fn delay(self, config: &ControllerConfig) -> Duration {
        match self {
            NextCheck::Period => config.safety_apiserver_statuscheck_period,
            NextCheck::TimeoutFifth => config.safety_apiserver_statuscheck_timeout / 5,
        }
    }
}

/// §7.2 state machine (S9, S12–S14; S10 is `Unfreeze`). Every unreachable pass of an
/// unfrozen controller, including the one that freezes it, comes back after
/// timeout / 5 (S9, S13), as in MCM. Unlike MCM we reset `inactive_since` when the
/// servers are reachable again before the freeze (S12; MCM's quirk 8 can freeze at
/// once on a later short outage; see docs/contract-deviations.md).
pub fn check_api_servers(
    state: FreezeState,
    reachable: bool,
    timeout: SignedDuration,
    now: Timestamp,
) -> (FreezeState, FreezeAction, NextCheck) {
    match (state.frozen, reachable) {
        (false, true) => (
            FreezeState {
                frozen: false,
                inactive_since: None,
            },
            FreezeAction::None,
            NextCheck::Period,
        ),
        (false, false) => {
            let since = state.inactive_since.unwrap_or(now);
            if now.duration_since(since) > timeout {
                (
                    FreezeState {
                        frozen: true,
                        inactive_since: Some(since),
                    },
                    FreezeAction::Freeze,
                    NextCheck::TimeoutFifth,
                )
            } else {
                (
                    FreezeState {
                        frozen: false,
                        inactive_since: Some(since),
                    },
                    FreezeAction::None,
                    NextCheck::TimeoutFifth,
                )
            }
        }
        (true, false) => (state, FreezeAction::None, NextCheck::Period),
        (true, true) => (state, FreezeAction::Unfreeze, NextCheck::Period),
    }
}

/// The description written on `Unknown` machines when the controller unfreezes.
pub const UNFREEZE_DESCRIPTION: &str =
    "Machine Health Timeout was reset due to APIServer being unreachable";

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn freeze_needs_the_timeout_to_pass_strictly() {
        let timeout = SignedDuration::from_secs(30);
        let (state, action, next) =
            check_api_servers(FreezeState::default(), false, timeout, now());
        assert_eq!(
            (action, next),
            (FreezeAction::None, NextCheck::TimeoutFifth)
        );
        let later = now() + SignedDuration::from_secs(30);
        let (state, action, _) = check_api_servers(state, false, timeout, later);
        assert_eq!(action, FreezeAction::None);
        let later = now() + SignedDuration::from_secs(31);
        let (state, action, next) = check_api_servers(state, false, timeout, later);
        assert_eq!(
            (action, next),
            (FreezeAction::Freeze, NextCheck::TimeoutFifth)
        );
        assert!(state.frozen);
        let (_, action, _) = check_api_servers(state, true, timeout, later);
        assert_eq!(action, FreezeAction::Unfreeze);
    }

    #[test]
    fn recovery_before_the_freeze_resets_the_clock() {
        let timeout = SignedDuration::from_secs(30);
        let (state, _, _) = check_api_servers(FreezeState::default(), false, timeout, now());
        let (state, _, _) =
            check_api_servers(state, true, timeout, now() + SignedDuration::from_secs(10));
        assert_eq!(state.inactive_since, None);
    }
}
