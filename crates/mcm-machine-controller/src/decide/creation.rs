//! Decisions of the creation flow (contract 02 §3) that do not need I/O: the failure
//! phase, the create-error status, the metadata update and the Pending write.

use k8s_openapi::api::core::v1::NodeAddress;
use k8s_openapi::jiff::Timestamp;
use mcm_api::Code;
use mcm_api::v1alpha1::{Machine, MachineOperationType, MachinePhase, MachineState, MachineStatus};
use mcm_api::well_known::{descriptions, machine_annotations, machine_labels};

use super::effective;
use super::outcome::CallFailure;
use super::status::{current_status, last_operation, last_operation_with_code};
use crate::config::ControllerConfig;
use crate::retry::Retry;

/// §3.9: whether `now − creationTimestamp` exceeds the effective creation timeout.
pub fn creation_timed_out(machine: &Machine, config: &ControllerConfig, now: Timestamp) -> bool {
    let Some(created) = machine.metadata.creation_timestamp.as_ref() else {
        return false;
    };
    now.duration_since(created.0) > effective::creation_timeout(machine, config)
}

/// The phase of a create/initialize failure: `Failed` once the creation timeout has
/// passed, `CrashLoopBackOff` before.
pub fn create_failure_phase(
    machine: &Machine,
    config: &ControllerConfig,
    now: Timestamp,
) -> MachinePhase {
    if creation_timed_out(machine, config, now) {
        MachinePhase::Failed
    } else {
        MachinePhase::CrashLoopBackOff
    }
}

/// §3.8: the status and retry after a CreateMachine error, or a GetMachineStatus
/// error other than NotFound/Unimplemented/Uninitialized (rows C4–C11b).
/// `response_last_known_state` is the state a CreateMachine response carried with the
/// error, if any.
pub fn create_error_status<R>(
    machine: &Machine,
    failure: &CallFailure<R>,
    response_last_known_state: Option<&str>,
    config: &ControllerConfig,
    now: Timestamp,
) -> (MachineStatus, Retry) {
    let code = failure.code;
    let (retry, keep_state) = if !failure.decodable {
        (Retry::Medium, false)
    } else if code == Code::ResourceExhausted {
        (Retry::ResourceExhausted, true)
    } else if code.is_transient() {
        (Retry::Short, true)
    } else {
        (Retry::Medium, false)
    };
    let mut status = machine.status.clone();
    status.last_known_state = match response_last_known_state {
        Some(state) if !state.is_empty() => state.to_owned(),
        _ if keep_state => machine.status.last_known_state.clone(),
        _ => String::new(),
    };
    status.last_operation = last_operation_with_code(
        format!("Cloud provider message - {}", failure.text),
        MachineState::Failed,
        MachineOperationType::Create,
        code.name(),
        now,
    );
    status.current_status = current_status(create_failure_phase(machine, config, now), now);
    (status, retry)
}

/// §3.3 stale node (C12): the status written when the created VM's Node name is
/// already taken by another Node.
pub fn stale_node_status(machine: &Machine, now: Timestamp) -> MachineStatus {
    let mut status = machine.status.clone();
    status.last_operation = last_operation(
        "VM using old node obj",
        MachineState::Failed,
        MachineOperationType::Create,
        now,
    );
    status.current_status = current_status(MachinePhase::Failed, now);
    status
}

/// §3.6: the status after a failed InitializeMachine (C15, C22).
pub fn initialize_error_status<R>(
    machine: &Machine,
    failure: &CallFailure<R>,
    config: &ControllerConfig,
    now: Timestamp,
) -> MachineStatus {
    let mut status = machine.status.clone();
    status.last_operation = last_operation_with_code(
        format!(
            "Provider error: {}. {}",
            failure.text,
            descriptions::INITIALIZE_VM
        ),
        MachineState::Failed,
        MachineOperationType::Create,
        failure.code.name(),
        now,
    );
    status.current_status = current_status(create_failure_phase(machine, config, now), now);
    status
}

/// §3.4 step 2: whether the metadata write is needed.
pub fn needs_metadata_update(machine: &Machine, has_target: bool) -> bool {
    let labels_lack_node = machine
        .metadata
        .labels
        .as_ref()
        .is_none_or(|labels| !labels.contains_key(machine_labels::NODE));
    let annotations_lack_priority = machine
        .metadata
        .annotations
        .as_ref()
        .is_none_or(|annotations| !annotations.contains_key(machine_annotations::PRIORITY));
    (has_target && labels_lack_node)
        || annotations_lack_priority
        || machine.spec.provider_id.is_empty()
}

/// §3.4 step 2: the Machine after the metadata write: label `node` (target cluster
/// only), priority `3` only where empty, `spec.providerID`.
pub fn with_creation_metadata(
    machine: &Machine,
    node_name: &str,
    provider_id: &str,
    has_target: bool,
) -> Machine {
    let mut updated = machine.clone();
    if has_target {
        updated
            .labels_mut()
            .insert(machine_labels::NODE.to_owned(), node_name.to_owned());
    }
    let priority = updated
        .annotations_mut()
        .entry(machine_annotations::PRIORITY.to_owned())
        .or_default();
    if priority.is_empty() {
        *priority = machine_annotations::DEFAULT_PRIORITY.to_owned();
    }
    updated.spec.provider_id = provider_id.to_owned();
    updated
}

/// §3.7: the status that ends a successful creation: `Pending` (target cluster) or
/// `Available` with addresses (no target). `None` when the phase is not `""` or
/// `CrashLoopBackOff` (nothing to write, `Long`).
pub fn creation_complete_status(
    machine: &Machine,
    has_target: bool,
    addresses: &[NodeAddress],
    node_name: &str,
    now: Timestamp,
) -> Option<MachineStatus> {
    if !matches!(
        machine.phase(),
        MachinePhase::Unset | MachinePhase::CrashLoopBackOff
    ) {
        return None;
    }
    let mut status = machine.status.clone();
    if has_target {
        status.last_operation = last_operation(
            "Creating machine on cloud provider",
            MachineState::Processing,
            MachineOperationType::Create,
            now,
        );
        status.current_status = current_status(MachinePhase::Pending, now);
        status.current_status.timeout_active = true;
    } else {
        status.last_operation = last_operation(
            "Created machine on cloud provider",
            MachineState::Successful,
            MachineOperationType::Create,
            now,
        );
        status.current_status = current_status(MachinePhase::Available, now);
        status.addresses = merged_addresses(&machine.status.addresses, addresses, node_name);
    }
    Some(status)
}

/// No-target mode: the stored addresses plus new ones plus a `Hostname` entry for
/// the node name, de-duplicated and sorted by type and address.
pub fn merged_addresses(
    stored: &[NodeAddress],
    new: &[NodeAddress],
    node_name: &str,
) -> Vec<NodeAddress> {
    let mut all: Vec<NodeAddress> = stored.iter().chain(new).cloned().collect();
    if !node_name.is_empty() {
        all.push(NodeAddress {
            type_: "Hostname".to_owned(),
            address: node_name.to_owned(),
        });
    }
    all.sort_by(|a, b| (&a.type_, &a.address).cmp(&(&b.type_, &b.address)));
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_deduplicated_and_sorted() {
        let address = |t: &str, a: &str| NodeAddress {
            type_: t.to_owned(),
            address: a.to_owned(),
        };
        let merged = merged_addresses(
            &[address("InternalIP", "10.0.0.2")],
            &[
                address("InternalIP", "10.0.0.1"),
                address("InternalIP", "10.0.0.2"),
            ],
            "n1",
        );
        assert_eq!(
            merged,
            [
                address("Hostname", "n1"),
                address("InternalIP", "10.0.0.1"),
                address("InternalIP", "10.0.0.2")
            ]
        );
    }

    #[test]
    fn priority_is_set_only_where_empty() {
        let mut machine = Machine::default();
        machine
            .annotations_mut()
            .insert(machine_annotations::PRIORITY.to_owned(), "1".to_owned());
        let updated = with_creation_metadata(&machine, "n", "p", true);
        assert_eq!(updated.priority(), Some("1"));
        machine
            .annotations_mut()
            .insert(machine_annotations::PRIORITY.to_owned(), String::new());
        let updated = with_creation_metadata(&machine, "n", "p", false);
        assert_eq!(updated.priority(), Some("3"));
        assert_eq!(updated.node_name(), None);
    }
}
