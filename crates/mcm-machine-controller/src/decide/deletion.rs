//! The deletion flow's decisions (contract 02 §5, rows D1–D50): which step a pass
//! runs, persisted as markers in `status.lastOperation.description`, and what each
//! step writes for each outcome. Every text here is part of the protocol.

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::Code;
use mcm_api::v1alpha1::{Machine, MachineOperationType, MachinePhase, MachineState, MachineStatus};
use mcm_api::well_known::{conditions, descriptions, finalizers, machine_labels};

use super::effective;
use super::outcome::{CallFailure, CallOutcome};
use super::status::{current_status, last_operation};
use crate::config::ControllerConfig;
use crate::retry::Retry;

/// One step of the deletion state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionStep {
    /// A: set phase `Terminating`.
    SetTerminating,
    /// B: find the Node name (label, Node label, or GetMachineStatus).
    FindNodeName,
    /// C: drain the Node.
    Drain,
    /// D: delete VolumeAttachments of the Node (force path).
    DeleteVolumeAttachments,
    /// E: DeleteMachine.
    DeleteVm,
    /// F: delete the Node object.
    DeleteNode,
    /// G: remove the Machine finalizer.
    RemoveFinalizer,
}

/// What a termination pass does first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionEntry {
    /// Wait (D1: creation in progress → `Medium`; D2: no finalizer → `Long`).
    Wait(Retry),
    /// Run this step.
    Run(DeletionStep),
}

/// §5.1 dispatcher: guards, then the phase, then the markers (first match wins).
pub fn dispatch(machine: &Machine, creation_in_progress: bool) -> DeletionEntry {
    if creation_in_progress {
        return DeletionEntry::Wait(Retry::Medium);
    }
    if !machine.has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER) {
        return DeletionEntry::Wait(Retry::Long);
    }
    if *machine.phase() != MachinePhase::Terminating {
        return DeletionEntry::Run(DeletionStep::SetTerminating);
    }
    let description = &machine.status.last_operation.description;
    let markers = [
        (descriptions::GET_VM_STATUS, DeletionStep::FindNodeName),
        (descriptions::INITIATE_DRAIN, DeletionStep::Drain),
        (
            descriptions::DELETE_VOLUME_ATTACHMENTS,
            DeletionStep::DeleteVolumeAttachments,
        ),
        (descriptions::INITIATE_VM_DELETION, DeletionStep::DeleteVm),
        (
            descriptions::INITIATE_NODE_DELETION,
            DeletionStep::DeleteNode,
        ),
        (
            descriptions::INITIATE_FINALIZER_REMOVAL,
            DeletionStep::RemoveFinalizer,
        ),
    ];
    markers
        .into_iter()
        .find(|(marker, _)| description.contains(marker))
        .map_or(
            DeletionEntry::Run(DeletionStep::SetTerminating),
            |(_, step)| DeletionEntry::Run(step),
        )
}

/// Step A's status: `Terminating`, PET cleared, LKS kept.
pub fn terminating_status(machine: &Machine, now: Timestamp) -> MachineStatus {
    let mut status = machine.status.clone();
    status.last_operation = last_operation(
        descriptions::GET_VM_STATUS,
        MachineState::Processing,
        MachineOperationType::Delete,
        now,
    );
    status.current_status = current_status(MachinePhase::Terminating, now);
    status
}

/// A deletion-step status: a new last operation of type `Delete` (or `type_`),
/// `currentStatus` and `lastKnownState` kept.
pub fn step_status(
    machine: &Machine,
    description: impl Into<String>,
    state: MachineState,
    now: Timestamp,
) -> MachineStatus {
    step_status_typed(
        machine,
        description,
        state,
        MachineOperationType::Delete,
        now,
    )
}

/// As [`step_status`] with an explicit operation type (step D keeps the current one).
pub fn step_status_typed(
    machine: &Machine,
    description: impl Into<String>,
    state: MachineState,
    type_: MachineOperationType,
    now: Timestamp,
) -> MachineStatus {
    let mut status = machine.status.clone();
    status.last_operation = last_operation(description, state, type_, now);
    status
}

/// Step B (no target cluster): skip drain and volume attachments (D38).
pub const NO_TARGET_SKIP: &str = "Running without target cluster, skipping node drain and volume attachment deletion. Initiate VM deletion";

/// Step B after GetMachineStatus (only when the node name is unknown): the
/// description, state and retry for each outcome (D8–D13). For `Ok`, the caller
/// first writes the `node` label from the response.
pub fn after_get_vm_status<R>(outcome: &CallOutcome<R>) -> (String, MachineState, Retry) {
    let drain = descriptions::INITIATE_DRAIN;
    let again = descriptions::GET_VM_STATUS;
    match outcome {
        CallOutcome::Ok(_) => (drain.to_owned(), MachineState::Processing, Retry::Short),
        CallOutcome::Failed(failure) => get_vm_status_failure(failure, drain, again),
    }
}

fn get_vm_status_failure<R>(
    failure: &CallFailure<R>,
    drain: &str,
    again: &str,
) -> (String, MachineState, Retry) {
    if !failure.decodable {
        return (
            format!(
                "Error occurred with decoding machine error status while getting VM status, aborting without retry. {} {again}",
                failure.text
            ),
            MachineState::Failed,
            Retry::Long,
        );
    }
    match failure.code {
        Code::Unimplemented => (drain.to_owned(), MachineState::Processing, Retry::Short),
        Code::NotFound => (
            format!("VM was not found at provider. Moving forward to node drain. {drain}"),
            MachineState::Processing,
            Retry::Short,
        ),
        Code::Uninitialized => (
            format!("VM instance was not initialized. Moving forward to node drain. {drain}"),
            MachineState::Processing,
            Retry::Short,
        ),
        code if code.is_transient() => (
            format!(
                "Error occurred with decoding machine error status while getting VM status, aborting with retry. {again}"
            ),
            MachineState::Failed,
            Retry::Short,
        ),
        _ => (
            format!(
                "Error occurred with decoding machine error status while getting VM status, aborting without retry. machine code: {} {again}",
                failure.text
            ),
            MachineState::Failed,
            Retry::Medium,
        ),
    }
}

/// How the deletion drain runs (§5.4).
#[derive(Debug, Clone, PartialEq)]
pub struct DrainPolicy {
    /// Force-delete pods and continue VM deletion even if the drain fails.
    pub force: bool,
    /// Deadline of the whole drain run.
    pub timeout: SignedDuration,
    /// Eviction attempts per pod before deleting it.
    pub max_evict_retries: i32,
}

fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Whether the Machine carries `force-deletion` with a true value (Go's ParseBool;
/// anything unparsable is false).
pub fn force_deletion_label(machine: &Machine) -> bool {
    machine
        .label(machine_labels::FORCE_DELETION)
        .and_then(parse_go_bool)
        .unwrap_or(false)
}

const BAD_CONDITION_GRACE: SignedDuration = SignedDuration::from_mins(5);

fn bad_for_long(condition: Option<&NodeCondition>, good_status: &str, now: Timestamp) -> bool {
    condition.is_some_and(|c| {
        c.status != good_status
            && c.last_transition_time
                .as_ref()
                .is_none_or(|t| now.duration_since(t.0) > BAD_CONDITION_GRACE)
    })
}

/// §5.4 force decision from the Machine's copied conditions, its `force-deletion`
/// label and the drain timeout since `deletionTimestamp`.
pub fn drain_policy(machine: &Machine, config: &ControllerConfig, now: Timestamp) -> DrainPolicy {
    let find = |type_: &str| machine.status.conditions.iter().find(|c| c.type_ == type_);
    let not_ready_long = bad_for_long(find(conditions::READY), conditions::TRUE, now);
    let ro_fs_long = !not_ready_long
        && bad_for_long(
            find(conditions::READONLY_FILESYSTEM),
            conditions::FALSE,
            now,
        );
    let drain_timeout = effective::drain_timeout(machine, config);
    let timed_out = machine
        .metadata
        .deletion_timestamp
        .as_ref()
        .is_some_and(|deleted| now.duration_since(deleted.0) > drain_timeout);
    let label = force_deletion_label(machine);
    let force = not_ready_long || ro_fs_long || label || timed_out;
    if label || timed_out {
        DrainPolicy {
            force,
            timeout: SignedDuration::from_mins(1),
            max_evict_retries: 1,
        }
    } else {
        DrainPolicy {
            force,
            timeout: drain_timeout,
            max_evict_retries: effective::max_evict_retries(machine, config),
        }
    }
}

/// Whether the drain sets the Node's `Terminating` condition for a machine in this
/// phase (MCM skips it for phase `""` and `CrashLoopBackOff`).
pub fn marks_node_terminating(phase: &MachinePhase) -> bool {
    !matches!(phase, MachinePhase::Unset | MachinePhase::CrashLoopBackOff)
}

/// The Node's conditions with `Terminating=True` set for the deletion drain; `None`
/// when MCM skips it (see [`marks_node_terminating`]).
pub fn with_terminating_condition(
    node: &Node,
    phase: &MachinePhase,
    now: Timestamp,
) -> Option<Vec<NodeCondition>> {
    if !marks_node_terminating(phase) {
        return None;
    }
    let mut list = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let existing = list.iter().position(|c| c.type_ == conditions::TERMINATING);
    let (reason, message) = match existing.map(|i| &list[i]) {
        Some(old) if *phase == MachinePhase::Terminating => {
            (old.reason.clone(), old.message.clone())
        }
        _ if *phase == MachinePhase::Failed => (
            Some(conditions::TERMINATING_REASON_UNHEALTHY.to_owned()),
            Some(conditions::TERMINATING_MESSAGE_UNHEALTHY.to_owned()),
        ),
        _ => (
            Some(conditions::TERMINATING_REASON_SCALE_DOWN.to_owned()),
            Some(conditions::TERMINATING_MESSAGE_SCALE_DOWN.to_owned()),
        ),
    };
    let condition = NodeCondition {
        type_: conditions::TERMINATING.to_owned(),
        status: conditions::TRUE.to_owned(),
        reason,
        message,
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    };
    match existing {
        Some(index) => list[index] = condition,
        None => list.push(condition),
    }
    Some(list)
}

/// Step C descriptions.
pub mod drain_texts {
    use mcm_api::well_known::descriptions;

    /// D14.
    pub fn skipped() -> String {
        format!(
            "Skipping drain as nodeName is not a valid one for machine. {}",
            descriptions::INITIATE_VM_DELETION
        )
    }
    /// D22.
    pub fn condition_update_failed(error: &str) -> String {
        format!(
            "Drain failed due to failure in update of node conditions - {error}. Will retry in next sync. {}",
            descriptions::INITIATE_DRAIN
        )
    }
    /// D18, D42.
    pub fn failed_but_forced(error: &str) -> String {
        format!(
            "Drain failed due to - {error}. However, since it's a force deletion shall continue deletion of VM. {}",
            descriptions::DELETE_VOLUME_ATTACHMENTS
        )
    }
    /// D16, D43.
    pub fn failed_will_retry(error: &str) -> String {
        format!(
            "Drain failed due to - {error}. Will retry in next sync. {}",
            descriptions::INITIATE_DRAIN
        )
    }
    /// D17.
    pub fn force_succeeded() -> String {
        format!(
            "Force Drain successful. {}",
            descriptions::DELETE_VOLUME_ATTACHMENTS
        )
    }
    /// D15.
    pub fn succeeded() -> String {
        format!("Drain successful. {}", descriptions::INITIATE_VM_DELETION)
    }
}

/// Step D descriptions.
pub mod volume_texts {
    use mcm_api::well_known::descriptions;

    /// D23.
    pub fn node_missing(node: &str) -> String {
        format!(
            "Skipping deleteNodeVolAttachments due to - node {node:?} not found. Moving to VM Deletion. {}",
            descriptions::INITIATE_VM_DELETION
        )
    }
    /// D24.
    pub fn already_detached(node: &str) -> String {
        format!(
            "Node Volumes for node: {node} are already detached. Moving to VM Deletion. {}",
            descriptions::INITIATE_VM_DELETION
        )
    }
    /// D26.
    pub fn no_live_attachments(node: &str) -> String {
        format!(
            "No Live VolumeAttachments for node: {node}. Moving to VM Deletion. {}",
            descriptions::INITIATE_VM_DELETION
        )
    }
}

/// Step E: the status and retry after DeleteMachine (D27–D31). `lastKnownState` is
/// the response's value or empty.
pub fn after_delete_vm<R>(
    machine: &Machine,
    outcome: &CallOutcome<R>,
    last_known_state: Option<&str>,
    now: Timestamp,
) -> (MachineStatus, Retry) {
    let node_deletion = descriptions::INITIATE_NODE_DELETION;
    let vm_deletion = descriptions::INITIATE_VM_DELETION;
    let (description, state, retry) = match outcome {
        CallOutcome::Ok(_) => (
            format!("VM deletion was successful. {node_deletion}"),
            MachineState::Processing,
            Retry::Short,
        ),
        CallOutcome::Failed(failure) if !failure.decodable => (
            format!(
                "Error occurred while decoding machine error: {}. {vm_deletion}",
                failure.text
            ),
            MachineState::Failed,
            Retry::Long,
        ),
        CallOutcome::Failed(failure) if failure.code == Code::NotFound => (
            format!("VM not found. Continuing deletion flow. {node_deletion}"),
            MachineState::Processing,
            Retry::Short,
        ),
        CallOutcome::Failed(failure) if failure.code.is_transient() => (
            format!(
                "VM deletion failed due to - {}. However, will re-try in the next resync. {vm_deletion}",
                failure.text
            ),
            MachineState::Failed,
            Retry::Short,
        ),
        CallOutcome::Failed(failure) => (
            format!(
                "VM deletion failed due to - {}. Aborting operation. {vm_deletion}",
                failure.text
            ),
            MachineState::Failed,
            Retry::Long,
        ),
    };
    let mut status = step_status(machine, description, state, now);
    status.last_known_state = last_known_state.unwrap_or_default().to_owned();
    (status, retry)
}

/// Step F descriptions.
pub mod node_texts {
    use mcm_api::well_known::descriptions;

    /// D33.
    pub fn no_label(machine: &str) -> String {
        format!(
            "Label \"node\" not present on machine {machine:?}, continuing deletion flow. {}",
            descriptions::INITIATE_FINALIZER_REMOVAL
        )
    }
    /// D34, D49.
    pub fn not_found(node: &str) -> String {
        format!(
            "No node object found for {node:?}, continuing deletion flow. {}",
            descriptions::INITIATE_FINALIZER_REMOVAL
        )
    }
    /// D47.
    pub fn read_failed(node: &str, error: &str) -> String {
        format!(
            "Retrieval of Node Object {node:?} failed due to error: {error}, Retrying. {}",
            descriptions::INITIATE_NODE_DELETION
        )
    }
    /// D48.
    pub fn finalizer_removal_failed(node: &str, error: &str) -> String {
        format!(
            "Removal of finalizers from Node Object {node:?} failed due to error: {error}, Retrying. {}",
            descriptions::INITIATE_NODE_DELETION
        )
    }
    /// D32.
    pub fn deleted(node: &str) -> String {
        format!(
            "Deletion of Node Object {node:?} is successful. {}",
            descriptions::INITIATE_FINALIZER_REMOVAL
        )
    }
    /// D35.
    pub fn delete_failed(node: &str, error: &str) -> String {
        format!(
            "Deletion of Node Object {node:?} failed due to error: {error}. {}",
            descriptions::INITIATE_NODE_DELETION
        )
    }
}

/// The Machine without the MCM finalizer (step G).
pub fn without_machine_finalizer(machine: &Machine) -> Machine {
    let mut updated = machine.clone();
    if let Some(list) = updated.metadata.finalizers.as_mut() {
        list.retain(|f| f != finalizers::MACHINE_CONTROLLER_MANAGER);
    }
    updated
}

/// The Machine with the `node` label set (step B).
pub fn with_node_label(machine: &Machine, node_name: &str) -> Machine {
    let mut updated = machine.clone();
    updated
        .labels_mut()
        .insert(machine_labels::NODE.to_owned(), node_name.to_owned());
    updated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bool_parsing() {
        for text in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(text), Some(true));
        }
        for text in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(text), Some(false));
        }
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(parse_go_bool("tRUE"), None);
    }
}
