//! §10.4 Deletion (D1–D50): one step of the termination state machine per pass.

use k8s_openapi::api::core::v1::{AttachedVolume, NodeCondition};
use k8s_openapi::jiff::SignedDuration;
use mcm_api::Code;
use mcm_api::driver::{DeleteMachineResponse, DriverError};
use mcm_api::v1alpha1::{Machine, MachineOperationType, MachinePhase, MachineState};
use mcm_api::well_known::{conditions, descriptions, finalizers, machine_labels};
use mcm_api::{GoDuration, Status};
use mcm_machine_controller::Retry;
use mcm_machine_controller::decide::deletion::DrainPolicy;
use mcm_machine_controller::decide::lookup::{Lookup, WriteError};

use crate::support::*;

const GET_VM_STATUS: &str = descriptions::GET_VM_STATUS;
const DRAIN: &str = descriptions::INITIATE_DRAIN;
const VOLUMES: &str = "Force Drain successful. Delete Volume Attachments";
const VM: &str = "Drain successful. Initiate VM deletion";
const NODE_STEP: &str = "VM deletion was successful. Initiate node object deletion";
const FINALIZER_STEP: &str =
    "Deletion of Node Object \"node-1\" is successful. Initiate machine object finalizer removal";
const LKS: &str = "lks-1";

/// A machine in the deletion flow at the step whose marker `description` carries,
/// with a last known state to show it is kept.
fn at(description: &str) -> Machine {
    let mut m = deleting_machine(description);
    m.status.last_known_state = LKS.into();
    m
}

/// As [`at`] without the `node` label.
fn unlabelled(description: &str) -> Machine {
    let mut m = at(description);
    m.labels_mut().remove(machine_labels::NODE);
    m
}

/// As [`at`] at the drain step, with the Machine's recorded conditions.
fn draining(conditions: Vec<NodeCondition>) -> Machine {
    let mut m = at(DRAIN);
    m.status.conditions = conditions;
    m
}

fn bad_since(type_: &str, status: &str, minutes: i64) -> NodeCondition {
    NodeCondition {
        last_transition_time: Some(ago(minutes)),
        ..condition(type_, status)
    }
}

fn with_force_label(mut machine: Machine, value: &str) -> Machine {
    machine
        .labels_mut()
        .insert(machine_labels::FORCE_DELETION.into(), value.into());
    machine
}

fn normal_policy() -> DrainPolicy {
    DrainPolicy {
        force: false,
        timeout: SignedDuration::from_hours(2),
        max_evict_retries: 360,
    }
}

fn forced_policy() -> DrainPolicy {
    DrainPolicy {
        force: true,
        ..normal_policy()
    }
}

fn hurried_policy() -> DrainPolicy {
    DrainPolicy {
        force: true,
        timeout: SignedDuration::from_mins(1),
        max_evict_retries: 1,
    }
}

fn drained_with(ran: &Ran) -> Option<DrainPolicy> {
    ran.events.iter().find_map(|e| match e {
        Event::Drain(node, policy) if node == NODE => Some(policy.clone()),
        _ => None,
    })
}

/// A Node with volumes attached.
fn node_with_volumes() -> k8s_openapi::api::core::v1::Node {
    let mut n = ready_node();
    n.status.as_mut().unwrap().volumes_attached = Some(vec![AttachedVolume {
        name: "kubernetes.io/csi/disk-1".into(),
        device_path: "/dev/xvdb".into(),
    }]);
    n
}

/// A Node that carries our finalizer.
fn finalized_node() -> k8s_openapi::api::core::v1::Node {
    let mut n = ready_node();
    n.metadata.finalizers = Some(vec![finalizers::NODE.into()]);
    n
}

/// The single status write is a deletion step: this description, state and type;
/// `currentStatus`, `lastKnownState` and conditions of `before` kept.
fn assert_step(ran: &Ran, before: &Machine, description: &str, state: MachineState) {
    assert_step_typed(
        ran,
        before,
        description,
        state,
        MachineOperationType::Delete,
    );
}

fn assert_step_typed(
    ran: &Ran,
    before: &Machine,
    description: &str,
    state: MachineState,
    type_: MachineOperationType,
) {
    let status = ran.status();
    assert_eq!(status.last_operation.description, description);
    assert_eq!(status.last_operation.state, state);
    assert_eq!(status.last_operation.type_, type_);
    assert_eq!(status.last_operation.error_code, "");
    assert_eq!(status.last_operation.last_update_time, Some(ago(0)));
    assert_eq!(status.current_status, before.status.current_status);
    assert_eq!(status.last_known_state, before.status.last_known_state);
    assert_eq!(status.conditions, before.status.conditions);
}

/// GetMachineStatus got the class's secret as stored: no bootstrap token, no
/// machine-name substitution.
fn assert_raw_secret(ran: &Ran) {
    assert!(ran.did(&Event::GetMachineStatus {
        user_data: Some("#!/bin/sh\necho <<BOOTSTRAP_TOKEN>> <<MACHINE_NAME>>".into()),
    }));
    assert!(!ran.did(&Event::EnsureToken));
}

rows! {
    // ---- D1–D3, D45: guards before the dispatcher ---------------------------------------

    d1_machine_inside_the_creation_flow_waits_medium: World {
        creation_in_progress: true,
        ..World::default()
    }, termination_pass(at(DRAIN)) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        assert!(ran.events.is_empty());
    }

    d2_machine_without_mcm_finalizer_waits_long: World::default(),
    termination_pass({
        let mut m = at(DRAIN);
        m.metadata.finalizers = Some(vec!["someone-else".into()]);
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty());
    }

    d3_missing_class_waits_long: World { class: Lookup::NotFound, ..World::default() },
    termination_pass(at(DRAIN)) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty());
    }

    d45_class_without_finalizer_is_enqueued_and_waits_short: World {
        class: Lookup::Found({
            let mut c = class();
            c.metadata.finalizers = None;
            c
        }),
        ..World::default()
    }, termination_pass(at(DRAIN)) => |ran| {
        assert_eq!(ran.events, [Event::EnqueueClass(CLASS.into())]);
        assert_eq!(ran.retry, Retry::Short);
    }

    d45_class_with_invalid_node_template_waits_short: World {
        class: Lookup::Found({
            let mut c = class_with_virtual_capacity(&[]);
            c.node_template.as_mut().unwrap().zone = String::new();
            c
        }),
        ..World::default()
    }, termination_pass(at(DRAIN)) => |ran| {
        assert!(ran.events.is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D4, D5, D50: step A ------------------------------------------------------------

    d4_running_machine_is_set_terminating: World::default(),
    termination_pass({
        let mut m = with_pet(created_machine(MachinePhase::Running));
        m.metadata.deletion_timestamp = Some(ago(0));
        m.status.last_known_state = LKS.into();
        m.status.conditions = vec![condition("Ready", "True")];
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Set machine status to termination. Now, getting VM Status");
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.last_operation.type_, MachineOperationType::Delete);
        assert_eq!(status.current_status.phase, MachinePhase::Terminating);
        assert_eq!(status.current_status.last_update_time, Some(ago(0)));
        assert!(!status.current_status.timeout_active);
        assert!(status.current_status.preserve_expiry_time.is_none());
        assert_eq!(status.last_known_state, LKS);
        assert_eq!(status.conditions.len(), 1);
        assert!(ran.driver_calls().is_empty());
        assert!(ran.machine_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d4_failed_machine_is_set_terminating_even_with_an_identical_recent_description: World::default(),
    termination_pass({
        // Step A is unconditional: no similarity suppression.
        let mut m = created_machine(MachinePhase::Failed);
        m.metadata.deletion_timestamp = Some(ago(0));
        set_last_operation(&mut m, GET_VM_STATUS, MachineState::Processing, MachineOperationType::Delete, 0);
        m
    }) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Terminating);
        assert_eq!(ran.retry, Retry::Short);
    }

    d5_terminating_machine_with_mcm_description_restarts_at_step_a: World::default(),
    termination_pass(at(descriptions::MCM_DELETING_MACHINE)) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, GET_VM_STATUS);
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.last_operation.type_, MachineOperationType::Delete);
        assert_eq!(status.current_status.phase, MachinePhase::Terminating);
        assert_eq!(status.last_known_state, LKS);
        assert!(ran.driver_calls().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d5_terminating_machine_with_unknown_description_restarts_at_step_a: World::default(),
    termination_pass(at("Machine machine-1 successfully re-joined the cluster")) => |ran| {
        assert_eq!(ran.status().last_operation.description, GET_VM_STATUS);
        assert_eq!(ran.retry, Retry::Short);
    }

    d5_terminating_machine_with_empty_description_restarts_at_step_a: World::default(),
    termination_pass(at("")) => |ran| {
        assert_eq!(ran.status().last_operation.description, GET_VM_STATUS);
        assert_eq!(ran.retry, Retry::Short);
    }

    d50_terminating_write_conflict_retries_after_conflict_delay: World {
        status_updates: [conflict()].into(),
        ..World::default()
    }, termination_pass(created_machine_being_deleted()) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Conflict);
    }

    d50_terminating_write_failure_retries_short: World {
        status_updates: [write_failure("apiserver unavailable")].into(),
        ..World::default()
    }, termination_pass(created_machine_being_deleted()) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D6–D13, D38, D40, D41: step B ----------------------------------------------------

    d6_node_label_present_moves_to_drain_without_driver_call: World::default(),
    termination_pass(at(GET_VM_STATUS)) => |ran| {
        assert!(ran.driver_calls().is_empty());
        assert!(ran.machine_writes().is_empty());
        assert_step(&ran, &at(GET_VM_STATUS), DRAIN, MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d7_node_found_by_machine_name_label_is_recorded_then_drain: World {
        node_for_machine: Lookup::Found("node-2".into()),
        ..World::default()
    }, termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert!(ran.driver_calls().is_empty());
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].node_name(), Some("node-2"));
        // Deviation from Go (docs/contract-deviations.md): the description is written
        // in the same pass with the object the label write returned.
        assert_step(&ran, &unlabelled(GET_VM_STATUS), DRAIN, MachineState::Processing);
        assert_eq!(ran.status_machine().node_name(), Some("node-2"));
        assert_eq!(ran.status_machine().metadata.resource_version.as_deref(), Some("1"));
        assert_eq!(ran.retry, Retry::Short);
    }

    d8_vm_not_found_moves_to_drain: World::default().gms(err(Code::NotFound, "no such instance")),
    termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        assert_raw_secret(&ran);
        assert!(ran.machine_writes().is_empty());
        assert_step(&ran, &unlabelled(GET_VM_STATUS),
            "VM was not found at provider. Moving forward to node drain. Initiate node drain", MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d9_vm_status_unavailable_repeats_step_b_short: World::default().gms(err(Code::Unavailable, "503")),
    termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_step(&ran, &unlabelled(GET_VM_STATUS),
            "Error occurred with decoding machine error status while getting VM status, aborting with retry. Set machine status to termination. Now, getting VM Status",
            MachineState::Failed);
        assert!(ran.machine_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d9_vm_status_unknown_deadline_exceeded_and_aborted_are_transient_too: World::default()
        .gms(err(Code::DeadlineExceeded, "slow")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.status().last_operation.state, MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d9_vm_status_aborted_is_transient: World::default()
        .gms(err(Code::Aborted, "busy")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
    }

    d9_vm_status_unknown_is_transient: World::default()
        .gms(err(Code::Unknown, "?")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
    }

    d10_vm_status_permission_denied_repeats_step_b_medium: World::default()
        .gms(err(Code::PermissionDenied, "denied")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_step(&ran, &unlabelled(GET_VM_STATUS),
            "Error occurred with decoding machine error status while getting VM status, aborting without retry. machine code: machine codes error: code = [PermissionDenied] message = [denied] Set machine status to termination. Now, getting VM Status",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Medium);
    }

    d11_vm_status_undecodable_repeats_step_b_long: World::default()
        .gms(undecodable("dial tcp: connection refused")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_step(&ran, &unlabelled(GET_VM_STATUS),
            "Error occurred with decoding machine error status while getting VM status, aborting without retry. dial tcp: connection refused Set machine status to termination. Now, getting VM Status",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Long);
    }

    d12_vm_uninitialized_moves_to_drain: World::default()
        .gms(err(Code::Uninitialized, "booting")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_step(&ran, &unlabelled(GET_VM_STATUS),
            "VM instance was not initialized. Moving forward to node drain. Initiate node drain", MachineState::Processing);
        assert!(ran.machine_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d13_vm_status_unimplemented_moves_to_drain: World::default()
        .gms(err(Code::Unimplemented, "")), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_step(&ran, &unlabelled(GET_VM_STATUS), DRAIN, MachineState::Processing);
        assert!(ran.machine_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d38_no_target_mode_skips_drain_and_volumes: World::default().no_target(),
    termination_pass(at(GET_VM_STATUS)) => |ran| {
        assert!(ran.driver_calls().is_empty());
        assert!(ran.machine_writes().is_empty());
        assert_step(&ran, &at(GET_VM_STATUS),
            "Running without target cluster, skipping node drain and volume attachment deletion. Initiate VM deletion",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d38_no_target_mode_skips_even_without_node_label: World::default().no_target(),
    termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert!(ran.driver_calls().is_empty());
        assert!(ran.status().last_operation.description.ends_with(descriptions::INITIATE_VM_DELETION));
    }

    d40_node_name_from_vm_status_is_recorded_then_drain: World::default()
        .gms(gms_ok("node-3", PROVIDER_ID)), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        assert_raw_secret(&ran);
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].node_name(), Some("node-3"));
        assert_step(&ran, &unlabelled(GET_VM_STATUS), DRAIN, MachineState::Processing);
        assert_eq!(ran.status_machine().node_name(), Some("node-3"));
        assert_eq!(ran.retry, Retry::Short);
    }

    d40_empty_node_name_from_vm_status_is_recorded_as_empty_label: World::default()
        .gms(gms_ok("", PROVIDER_ID)), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].node_name(), Some(""));
        assert_eq!(ran.status().last_operation.description, DRAIN);
        assert_eq!(ran.retry, Retry::Short);
    }

    d41_failed_label_write_after_node_lookup_ends_short_without_status: World {
        node_for_machine: Lookup::Found("node-2".into()),
        machine_updates: [conflict()].into(),
        ..World::default()
    }, termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d41_failed_label_write_after_vm_status_ends_short_without_status: World {
        machine_updates: [write_failure("forbidden")].into(),
        ..World::default()
    }.gms(gms_ok("node-3", PROVIDER_ID)), termination_pass(unlabelled(GET_VM_STATUS)) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D14–D22, D42–D44: step C -----------------------------------------------------------

    d14_empty_node_label_skips_the_drain: World::default().with_node(ready_node()),
    termination_pass({
        let mut m = at(DRAIN);
        m.labels_mut().insert(machine_labels::NODE.into(), String::new());
        m
    }) => |ran| {
        assert!(drained_with(&ran).is_none());
        assert!(ran.node_status_writes().is_empty());
        assert!(!ran.events.iter().any(|e| matches!(e, Event::Cordon(_))));
        let mut before = at(DRAIN);
        before.labels_mut().insert(machine_labels::NODE.into(), String::new());
        assert_step(&ran, &before,
            "Skipping drain as nodeName is not a valid one for machine. Initiate VM deletion", MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d14_missing_node_label_skips_the_drain: World::default(),
    termination_pass(unlabelled(DRAIN)) => |ran| {
        assert!(drained_with(&ran).is_none());
        assert_eq!(ran.status().last_operation.description,
            "Skipping drain as nodeName is not a valid one for machine. Initiate VM deletion");
        assert_eq!(ran.retry, Retry::Short);
    }

    d15_ready_node_is_marked_cordoned_and_drained_normally: World::default().with_node(ready_node()),
    termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        let node_status = ran.node_status_writes();
        assert_eq!(node_status.len(), 1);
        let conditions_after = node_status[0].status.as_ref().unwrap().conditions.as_ref().unwrap();
        let terminating = conditions_after.iter().find(|c| c.type_ == conditions::TERMINATING).unwrap();
        assert_eq!(terminating.status, "True");
        assert_eq!(terminating.reason.as_deref(), Some("ScaleDown"));
        assert_eq!(terminating.message.as_deref(), Some("Machine Controller is scaling down machine"));
        assert!(conditions_after.iter().any(|c| c.type_ == "Ready"));
        let cordon_at = ran.events.iter().position(|e| *e == Event::Cordon(NODE.into())).unwrap();
        let drain_at = ran.events.iter().position(|e| matches!(e, Event::Drain(..))).unwrap();
        let condition_at = ran.events.iter().position(|e| matches!(e, Event::UpdateNodeStatus(_))).unwrap();
        assert!(condition_at < cordon_at && cordon_at < drain_at);
        assert_eq!(drained_with(&ran), Some(normal_policy()));
        assert_step(&ran, &draining(vec![condition("Ready", "True")]), VM, MachineState::Processing);
        assert!(ran.driver_calls().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d15_existing_terminating_condition_keeps_its_reason: World::default().with_node({
        let mut n = ready_node();
        n.status.as_mut().unwrap().conditions.as_mut().unwrap().push(NodeCondition {
            reason: Some("Unhealthy".into()),
            message: Some("Machine Controller is terminating failed machine".into()),
            ..condition(conditions::TERMINATING, "True")
        });
        n
    }), termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        let node_status = ran.node_status_writes();
        let list = node_status[0].status.as_ref().unwrap().conditions.as_ref().unwrap();
        assert_eq!(list.iter().filter(|c| c.type_ == conditions::TERMINATING).count(), 1);
        let terminating = list.iter().find(|c| c.type_ == conditions::TERMINATING).unwrap();
        assert_eq!(terminating.reason.as_deref(), Some("Unhealthy"));
        assert_eq!(terminating.last_transition_time, Some(ago(0)));
    }

    d15_drain_timeout_boundary_is_not_yet_forced: World::default().with_node(ready_node()),
    termination_pass({
        let mut m = draining(vec![condition("Ready", "True")]);
        m.metadata.deletion_timestamp = Some(ago(120));
        m
    }) => |ran| {
        assert_eq!(drained_with(&ran), Some(normal_policy()));
        assert_eq!(ran.status().last_operation.description, VM);
    }

    d15_evict_retries_are_capped_by_the_spec_drain_timeout: World::default().with_node(ready_node()),
    termination_pass({
        let mut m = draining(vec![condition("Ready", "True")]);
        m.spec.configuration.drain_timeout = Some(GoDuration::from_mins(10));
        m
    }) => |ran| {
        assert_eq!(drained_with(&ran), Some(DrainPolicy {
            force: false,
            timeout: SignedDuration::from_mins(10),
            max_evict_retries: 30,
        }));
    }

    d16_failed_normal_drain_retries_the_drain: World {
        drain: Err("pod \"db-0\" is protected by a PDB".into()),
        ..World::default()
    }.with_node(ready_node()), termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        assert_step(&ran, &draining(vec![condition("Ready", "True")]),
            "Drain failed due to - pod \"db-0\" is protected by a PDB. Will retry in next sync. Initiate node drain",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d16_repeated_identical_drain_failure_is_not_rewritten: World {
        drain: Err("pod \"db-0\" is protected by a PDB".into()),
        ..World::default()
    }.with_node(ready_node()), termination_pass({
        let mut m = draining(vec![condition("Ready", "True")]);
        set_last_operation(&mut m,
            "Drain failed due to - pod \"db-1\" is protected by a PDB. Will retry in next sync. Initiate node drain",
            MachineState::Failed, MachineOperationType::Delete, 2);
        m
    }) => |ran| {
        assert!(drained_with(&ran).is_some());
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d17_not_ready_for_six_minutes_force_drains_then_volumes: World::default().with_node(ready_node()),
    termination_pass(draining(vec![bad_since("Ready", "False", 6)])) => |ran| {
        assert_eq!(drained_with(&ran), Some(forced_policy()));
        assert_step(&ran, &draining(vec![bad_since("Ready", "False", 6)]),
            "Force Drain successful. Delete Volume Attachments", MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d17_not_ready_just_over_five_minutes_forces_the_drain: World::default().with_node(ready_node()),
    termination_pass(draining(vec![NodeCondition { last_transition_time: Some(ago_secs(301)), ..condition("Ready", "False") }])) => |ran| {
        assert_eq!(drained_with(&ran), Some(forced_policy()));
    }

    d18_drain_timeout_passed_forces_and_continues_despite_drain_error: World {
        drain: Err("timed out waiting for pods".into()),
        ..World::default()
    }.with_node(ready_node()), termination_pass({
        let mut m = draining(vec![condition("Ready", "True")]);
        m.metadata.deletion_timestamp = Some(ago(121));
        m
    }) => |ran| {
        assert_eq!(drained_with(&ran), Some(hurried_policy()));
        let mut before = draining(vec![condition("Ready", "True")]);
        before.metadata.deletion_timestamp = Some(ago(121));
        assert_step(&ran, &before,
            "Drain failed due to - timed out waiting for pods. However, since it's a force deletion shall continue deletion of VM. Delete Volume Attachments",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d19_force_deletion_label_drains_in_one_minute_with_one_retry: World::default().with_node(ready_node()),
    termination_pass(with_force_label(draining(vec![condition("Ready", "True")]), "true")) => |ran| {
        assert_eq!(drained_with(&ran), Some(hurried_policy()));
        assert_eq!(ran.status().last_operation.description, "Force Drain successful. Delete Volume Attachments");
        assert_eq!(ran.retry, Retry::Short);
    }

    d19_force_deletion_label_accepts_go_true_spellings: World::default().with_node(ready_node()),
    termination_pass(with_force_label(draining(vec![condition("Ready", "True")]), "T")) => |ran| {
        assert_eq!(drained_with(&ran), Some(hurried_policy()));
    }

    d19_unparsable_force_deletion_label_is_false: World::default().with_node(ready_node()),
    termination_pass(with_force_label(draining(vec![condition("Ready", "True")]), "yes")) => |ran| {
        assert_eq!(drained_with(&ran), Some(normal_policy()));
        assert_eq!(ran.status().last_operation.description, VM);
    }

    d20_readonly_filesystem_for_six_minutes_forces_the_drain: World::default().with_node(ready_node()),
    termination_pass(draining(vec![condition("Ready", "True"), bad_since("ReadonlyFilesystem", "True", 6)])) => |ran| {
        assert_eq!(drained_with(&ran), Some(forced_policy()));
        assert_eq!(ran.status().last_operation.description, "Force Drain successful. Delete Volume Attachments");
        assert_eq!(ran.retry, Retry::Short);
    }

    d21_not_ready_for_four_minutes_drains_normally: World::default().with_node(ready_node()),
    termination_pass(draining(vec![bad_since("Ready", "False", 4)])) => |ran| {
        assert_eq!(drained_with(&ran), Some(normal_policy()));
        assert_eq!(ran.status().last_operation.description, VM);
        assert_eq!(ran.retry, Retry::Short);
    }

    d21_not_ready_for_exactly_five_minutes_drains_normally: World::default().with_node(ready_node()),
    termination_pass(draining(vec![NodeCondition { last_transition_time: Some(ago_secs(300)), ..condition("Ready", "False") }])) => |ran| {
        assert_eq!(drained_with(&ran), Some(normal_policy()));
    }

    d22_failed_node_condition_update_retries_the_drain: World {
        node_status_updates: [write_failure("nodes \"node-1\" is forbidden")].into(),
        ..World::default()
    }.with_node(ready_node()), termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::Cordon(_))));
        assert!(drained_with(&ran).is_none());
        assert_step(&ran, &draining(vec![condition("Ready", "True")]),
            "Drain failed due to failure in update of node conditions - nodes \"node-1\" is forbidden. Will retry in next sync. Initiate node drain",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d22_node_gone_before_the_condition_update_is_not_a_failure: World {
        node_status_updates: [Err(WriteError::NotFound)].into(),
        ..World::default()
    }.with_node(ready_node()), termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        assert_eq!(drained_with(&ran), Some(normal_policy()));
        assert_eq!(ran.status().last_operation.description, VM);
    }

    d22_unreadable_node_fails_the_condition_update: World::default()
        .with_node_lookup(NODE, Lookup::Failed("node cache not synced".into())),
    termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        assert!(drained_with(&ran).is_none());
        assert_eq!(ran.status().last_operation.description,
            "Drain failed due to failure in update of node conditions - node cache not synced. Will retry in next sync. Initiate node drain");
        assert_eq!(ran.status().last_operation.state, MachineState::Failed);
    }

    d22_missing_node_skips_the_condition_and_drains: World::default(),
    termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        assert!(ran.node_status_writes().is_empty());
        assert!(ran.did(&Event::Cordon(NODE.into())));
        assert_eq!(drained_with(&ran), Some(normal_policy()));
        assert_eq!(ran.status().last_operation.description, VM);
    }

    d42_failed_cordon_on_force_path_continues_to_volumes: World {
        cordon: Err("nodes \"node-1\" not patched".into()),
        ..World::default()
    }.with_node(ready_node()), termination_pass(with_force_label(draining(vec![condition("Ready", "True")]), "true")) => |ran| {
        assert!(drained_with(&ran).is_none());
        assert_step(&ran, &with_force_label(draining(vec![condition("Ready", "True")]), "true"),
            "Drain failed due to - nodes \"node-1\" not patched. However, since it's a force deletion shall continue deletion of VM. Delete Volume Attachments",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d43_failed_cordon_without_force_retries_the_drain: World {
        cordon: Err("nodes \"node-1\" not patched".into()),
        ..World::default()
    }.with_node(ready_node()), termination_pass(draining(vec![condition("Ready", "True")])) => |ran| {
        assert!(drained_with(&ran).is_none());
        assert_step(&ran, &draining(vec![condition("Ready", "True")]),
            "Drain failed due to - nodes \"node-1\" not patched. Will retry in next sync. Initiate node drain",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d44_failed_node_condition_update_is_ignored_when_forced: World {
        node_status_updates: [write_failure("nodes \"node-1\" is forbidden")].into(),
        ..World::default()
    }.with_node(ready_node()), termination_pass(draining(vec![bad_since("Ready", "Unknown", 30)])) => |ran| {
        assert_eq!(ran.node_status_writes().len(), 1);
        assert!(ran.did(&Event::Cordon(NODE.into())));
        assert_eq!(drained_with(&ran), Some(forced_policy()));
        assert_eq!(ran.status().last_operation.description, "Force Drain successful. Delete Volume Attachments");
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D23–D26, D46: step D -------------------------------------------------------------

    d23_missing_node_skips_volume_attachments_immediately: World::default(),
    termination_pass(at(VOLUMES)) => |ran| {
        assert_step(&ran, &at(VOLUMES),
            "Skipping deleteNodeVolAttachments due to - node \"node-1\" not found. Moving to VM Deletion. Initiate VM deletion",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Immediate);
    }

    d24_detached_volumes_move_to_vm_deletion_immediately: World::default().with_node(ready_node()),
    termination_pass(at(VOLUMES)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::ListVolumeAttachments(_))));
        assert_step(&ran, &at(VOLUMES),
            "Node Volumes for node: node-1 are already detached. Moving to VM Deletion. Initiate VM deletion",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Immediate);
    }

    d24_volume_step_keeps_the_current_operation_type: World::default().with_node(ready_node()),
    termination_pass({
        let mut m = at(VOLUMES);
        m.status.last_operation.type_ = MachineOperationType::HealthCheck;
        m
    }) => |ran| {
        let mut before = at(VOLUMES);
        before.status.last_operation.type_ = MachineOperationType::HealthCheck;
        assert_step_typed(&ran, &before,
            "Node Volumes for node: node-1 are already detached. Moving to VM Deletion. Initiate VM deletion",
            MachineState::Processing, MachineOperationType::HealthCheck);
    }

    d25_live_volume_attachments_are_deleted_without_status_write: World {
        live_volume_attachments: Ok(vec!["csi-aaa".into(), "csi-bbb".into()]),
        ..World::default()
    }.with_node(node_with_volumes()), termination_pass(at(VOLUMES)) => |ran| {
        assert!(ran.did(&Event::ListVolumeAttachments(NODE.into())));
        assert!(ran.did(&Event::DeleteVolumeAttachment("csi-aaa".into())));
        assert!(ran.did(&Event::DeleteVolumeAttachment("csi-bbb".into())));
        ran.assert_no_machine_writes();
        assert_eq!(ran.retry, Retry::Short);
    }

    d26_no_live_volume_attachments_move_to_vm_deletion: World::default().with_node(node_with_volumes()),
    termination_pass(at(VOLUMES)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::DeleteVolumeAttachment(_))));
        assert_step(&ran, &at(VOLUMES),
            "No Live VolumeAttachments for node: node-1. Moving to VM Deletion. Initiate VM deletion",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d46_node_cache_error_in_volume_step_ends_short: World::default()
        .with_node_lookup(NODE, Lookup::Failed("cache error".into())),
    termination_pass(at(VOLUMES)) => |ran| {
        ran.assert_no_machine_writes();
        assert!(ran.events.is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d46_volume_attachment_list_error_ends_short: World {
        live_volume_attachments: Err("volumeattachments.storage.k8s.io is forbidden".into()),
        ..World::default()
    }.with_node(node_with_volumes()), termination_pass(at(VOLUMES)) => |ran| {
        ran.assert_no_machine_writes();
        assert!(!ran.events.iter().any(|e| matches!(e, Event::DeleteVolumeAttachment(_))));
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D27–D31: step E -------------------------------------------------------------------

    d27_deleted_vm_moves_to_node_deletion_with_response_state: World::default()
        .delete(Ok(DeleteMachineResponse { last_known_state: "x".into() })),
    termination_pass(at(VM)) => |ran| {
        assert!(ran.did(&Event::DeleteMachine { name: MACHINE.into(), provider_id: PROVIDER_ID.into() }));
        let status = ran.status();
        assert_eq!(status.last_operation.description, "VM deletion was successful. Initiate node object deletion");
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.last_operation.type_, MachineOperationType::Delete);
        assert_eq!(status.current_status, at(VM).status.current_status);
        assert_eq!(status.last_known_state, "x");
        assert_eq!(ran.retry, Retry::Short);
    }

    d27_deleted_vm_without_response_state_clears_it: World::default()
        .delete(Ok(DeleteMachineResponse::default())), termination_pass(at(VM)) => |ran| {
        assert_eq!(ran.status().last_known_state, "");
        assert_eq!(ran.retry, Retry::Short);
    }

    d27_machine_without_provider_id_is_still_deleted_at_the_driver: World::default()
        .delete(Ok(DeleteMachineResponse::default())), termination_pass({
        let mut m = at("Skipping drain as nodeName is not a valid one for machine. Initiate VM deletion");
        m.spec.provider_id = String::new();
        m
    }) => |ran| {
        assert!(ran.did(&Event::DeleteMachine { name: MACHINE.into(), provider_id: String::new() }));
        assert_eq!(ran.status().last_operation.description, "VM deletion was successful. Initiate node object deletion");
    }

    d28_vm_not_found_continues_and_clears_state: World::default()
        .delete(err(Code::NotFound, "instance i-1 not found")), termination_pass(at(VM)) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "VM not found. Continuing deletion flow. Initiate node object deletion");
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.last_known_state, "");
        assert_eq!(ran.retry, Retry::Short);
    }

    d29_transient_vm_deletion_error_retries_short: World::default()
        .delete(err(Code::DeadlineExceeded, "slow")), termination_pass(at(VM)) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description,
            "VM deletion failed due to - machine codes error: code = [DeadlineExceeded] message = [slow]. However, will re-try in the next resync. Initiate VM deletion");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(status.last_operation.type_, MachineOperationType::Delete);
        assert_eq!(status.last_known_state, "");
        assert_eq!(ran.retry, Retry::Short);
    }

    d29_error_response_state_is_stored: World::default()
        .delete(Err(DriverError::from_status(Status::unavailable("later"))
            .with_response(DeleteMachineResponse { last_known_state: "half-deleted".into() }))),
    termination_pass(at(VM)) => |ran| {
        assert_eq!(ran.status().last_known_state, "half-deleted");
        assert_eq!(ran.retry, Retry::Short);
    }

    d30_permanent_vm_deletion_error_waits_long: World::default()
        .delete(err(Code::Internal, "boom")), termination_pass(at(VM)) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description,
            "VM deletion failed due to - machine codes error: code = [Internal] message = [boom]. Aborting operation. Initiate VM deletion");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(ran.retry, Retry::Long);
    }

    d31_undecodable_vm_deletion_error_waits_long: World::default()
        .delete(undecodable("SDK panic")), termination_pass(at(VM)) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description,
            "Error occurred while decoding machine error: SDK panic. Initiate VM deletion");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(ran.retry, Retry::Long);
    }

    // ---- D32–D35, D47–D49: step F ---------------------------------------------------------

    d32_node_finalizer_removed_and_node_deleted: World::default().with_node(finalized_node()),
    termination_pass(at(NODE_STEP)) => |ran| {
        let removed = ran.events.iter().position(|e| *e == Event::RemoveNodeFinalizer(NODE.into())).unwrap();
        let deleted = ran.events.iter().position(|e| *e == Event::DeleteNode(NODE.into())).unwrap();
        assert!(removed < deleted);
        assert_step(&ran, &at(NODE_STEP), FINALIZER_STEP, MachineState::Processing);
        assert!(ran.driver_calls().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    d33_missing_node_label_skips_node_deletion: World::default(),
    termination_pass(unlabelled(NODE_STEP)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::DeleteNode(_))));
        assert_step(&ran, &unlabelled(NODE_STEP),
            "Label \"node\" not present on machine \"machine-1\", continuing deletion flow. Initiate machine object finalizer removal",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d34_absent_node_continues_to_finalizer_removal: World::default(),
    termination_pass(at(NODE_STEP)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::DeleteNode(_))));
        assert_step(&ran, &at(NODE_STEP),
            "No node object found for \"node-1\", continuing deletion flow. Initiate machine object finalizer removal",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d35_failed_node_deletion_repeats_the_step: World {
        delete_node: write_failure("nodes \"node-1\" is forbidden"),
        ..World::default()
    }.with_node(finalized_node()), termination_pass(at(NODE_STEP)) => |ran| {
        assert_step(&ran, &at(NODE_STEP),
            "Deletion of Node Object \"node-1\" failed due to error: nodes \"node-1\" is forbidden. Initiate node object deletion",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d47_node_cache_error_repeats_the_step: World::default()
        .with_node_lookup(NODE, Lookup::Failed("informer stopped".into())),
    termination_pass(at(NODE_STEP)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::DeleteNode(_))));
        assert_step(&ran, &at(NODE_STEP),
            "Retrieval of Node Object \"node-1\" failed due to error: informer stopped, Retrying. Initiate node object deletion",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d48_failed_node_finalizer_removal_repeats_the_step: World {
        remove_node_finalizer: Err("patch rejected".into()),
        ..World::default()
    }.with_node(finalized_node()), termination_pass(at(NODE_STEP)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::DeleteNode(_))));
        assert_step(&ran, &at(NODE_STEP),
            "Removal of finalizers from Node Object \"node-1\" failed due to error: patch rejected, Retrying. Initiate node object deletion",
            MachineState::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    d49_node_without_our_finalizer_deleted_meanwhile_continues: World {
        delete_node: Err(WriteError::NotFound),
        ..World::default()
    }.with_node(ready_node()), termination_pass(at(NODE_STEP)) => |ran| {
        assert!(!ran.events.iter().any(|e| matches!(e, Event::RemoveNodeFinalizer(_))));
        assert!(ran.did(&Event::DeleteNode(NODE.into())));
        assert_step(&ran, &at(NODE_STEP),
            "No node object found for \"node-1\", continuing deletion flow. Initiate machine object finalizer removal",
            MachineState::Processing);
        assert_eq!(ran.retry, Retry::Short);
    }

    d49_node_with_our_finalizer_deleted_meanwhile_continues: World {
        delete_node: Err(WriteError::NotFound),
        ..World::default()
    }.with_node(finalized_node()), termination_pass(at(NODE_STEP)) => |ran| {
        assert!(ran.did(&Event::RemoveNodeFinalizer(NODE.into())));
        assert_eq!(ran.status().last_operation.description,
            "No node object found for \"node-1\", continuing deletion flow. Initiate machine object finalizer removal");
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D36, D37: step G ------------------------------------------------------------------

    d36_machine_finalizer_is_removed_and_the_key_waits_long: World::default(),
    termination_pass({
        let mut m = at(FINALIZER_STEP);
        m.metadata.finalizers.as_mut().unwrap().push("other.example.com/keep".into());
        m
    }) => |ran| {
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert!(!writes[0].has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER));
        assert!(writes[0].has_finalizer("other.example.com/keep"));
        assert!(ran.status_writes().is_empty());
        assert!(ran.driver_calls().is_empty());
        assert_eq!(ran.retry, Retry::Long);
    }

    d37_failed_finalizer_removal_retries_short: World {
        machine_updates: [conflict()].into(),
        ..World::default()
    }, termination_pass(at(FINALIZER_STEP)) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- D39: freezing does not stop deletion -----------------------------------------------

    d39_frozen_controller_still_sets_terminating: World { frozen: true, ..World::default() },
    termination_pass(created_machine_being_deleted()) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Terminating);
        assert_eq!(ran.retry, Retry::Short);
    }

    d39_frozen_controller_still_deletes_the_vm: World { frozen: true, ..World::default() }
        .delete(Ok(DeleteMachineResponse::default())), termination_pass(at(VM)) => |ran| {
        assert_eq!(ran.driver_calls(), ["DeleteMachine"]);
        assert_eq!(ran.status().last_operation.description, "VM deletion was successful. Initiate node object deletion");
        assert_eq!(ran.retry, Retry::Short);
    }
}

/// A Running machine whose deletion was just requested (before step A).
fn created_machine_being_deleted() -> Machine {
    let mut m = created_machine(MachinePhase::Running);
    m.metadata.deletion_timestamp = Some(ago(0));
    m
}
