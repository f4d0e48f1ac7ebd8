//! §10.2 Creation (C1–C28).

use k8s_openapi::api::core::v1::NodeAddress;
use mcm_api::Code;
use mcm_api::driver::{CreateMachineResponse, DriverError, InitializeMachineResponse};
use mcm_api::v1alpha1::{MachineOperationType, MachinePhase, MachineState};
use mcm_api::well_known::{machine_annotations, machine_labels};
use mcm_api::{GoDuration, Status};
use mcm_machine_controller::Retry;
use mcm_machine_controller::decide::lookup::Lookup;

use crate::support::*;

const CREATE_ERR: &str = "Cloud provider message - machine codes error: code = ";

fn with_state(state: &str) -> mcm_api::v1alpha1::Machine {
    let mut m = machine();
    m.status.last_known_state = state.into();
    m
}

fn old_machine() -> mcm_api::v1alpha1::Machine {
    let mut m = with_state("old-state");
    m.metadata.creation_timestamp = Some(ago(21));
    m
}

rows! {
    c1_secret_without_user_data_retries_short: World {
        secrets: [(SECRET.to_owned(), Lookup::Found([("apiToken", "x")].into_iter().collect()))].into(),
        ..World::default()
    }, machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.driver_calls().is_empty());
        ran.assert_no_machine_writes();
    }

    c2_bootstrap_token_failure_retries_short: World {
        token: Err("secrets is forbidden".into()),
        ..World::default()
    }, machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.driver_calls().is_empty());
        ran.assert_no_machine_writes();
    }

    c2_user_data_gets_token_and_machine_name: World::default()
        .gms(err(Code::Internal, "x")), machine_pass(machine()) => |ran| {
        let Event::GetMachineStatus { user_data } = &ran.events.iter().find(|e| matches!(e, Event::GetMachineStatus { .. })).unwrap() else { unreachable!() };
        assert_eq!(user_data.as_deref(), Some("#!/bin/sh\necho 646566.0123456789abcdef machine-1"));
    }

    c3_status_undecodable_waits_medium_without_write: World::default()
        .gms(undecodable("connection reset [by peer")), machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        ran.assert_no_machine_writes();
    }

    c4_create_resource_exhausted_crashloops_with_re_retry: World::default()
        .gms(err(Code::NotFound, "no vm"))
        .create(err(Code::ResourceExhausted, "quota")), machine_pass(with_state("old-state")) => |ran| {
        assert_eq!(ran.retry, Retry::ResourceExhausted);
        let status = ran.status();
        assert_eq!(status.last_operation.description, format!("{CREATE_ERR}[ResourceExhausted] message = [quota]"));
        assert_eq!(status.last_operation.error_code, "ResourceExhausted");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(status.last_operation.type_, MachineOperationType::Create);
        assert_eq!(status.current_status.phase, MachinePhase::CrashLoopBackOff);
        assert_eq!(status.last_known_state, "old-state");
    }

    c5_create_unavailable_retries_short_keeping_state: World::default()
        .gms(err(Code::NotFound, "no vm"))
        .create(err(Code::Unavailable, "try later")), machine_pass(with_state("old-state")) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert_eq!(ran.status().last_operation.error_code, "Unavailable");
        assert_eq!(ran.status().last_known_state, "old-state");
    }

    c5_create_deadline_exceeded_and_aborted_and_unknown_are_transient: World::default()
        .gms(err(Code::NotFound, "no vm"))
        .create(err(Code::DeadlineExceeded, "slow")), machine_pass(with_state("s")) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert_eq!(ran.status().last_known_state, "s");
    }

    c6_create_invalid_argument_waits_medium_and_clears_state: World::default()
        .gms(err(Code::Unimplemented, ""))
        .create(err(Code::InvalidArgument, "providerSpec.image: required")), machine_pass(with_state("old-state")) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        let status = ran.status();
        assert_eq!(status.last_operation.error_code, "InvalidArgument");
        assert_eq!(status.last_known_state, "");
        assert_eq!(status.current_status.phase, MachinePhase::CrashLoopBackOff);
    }

    c6_create_error_with_response_state_stores_it: World::default()
        .gms(err(Code::NotFound, ""))
        .create(Err(DriverError::from_status(Status::internal("half done")).with_response(CreateMachineResponse {
            last_known_state: "resp-state".into(),
            ..Default::default()
        }))), machine_pass(with_state("old-state")) => |ran| {
        assert_eq!(ran.status().last_known_state, "resp-state");
        assert_eq!(ran.retry, Retry::Medium);
    }

    c7_create_undecodable_records_unknown_and_waits_medium: World::default()
        .gms(err(Code::NotFound, ""))
        .create(undecodable("panic in SDK")), machine_pass(with_state("old-state")) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        let status = ran.status();
        assert_eq!(status.last_operation.error_code, "Unknown");
        assert_eq!(status.last_operation.description, "Cloud provider message - panic in SDK");
        assert_eq!(status.last_known_state, "");
    }

    c8_repeated_similar_failure_is_not_rewritten: World::default()
        .gms(err(Code::NotFound, ""))
        .create(err(Code::Unavailable, "API busy (request 2222)")), machine_pass({
        let mut m = machine();
        set_phase(&mut m, MachinePhase::CrashLoopBackOff);
        set_last_operation(&mut m, &format!("{CREATE_ERR}[Unavailable] message = [API busy (request 1111)]"), MachineState::Failed, MachineOperationType::Create, 5);
        m.status.last_operation.error_code = "Unavailable".into();
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.status_writes().is_empty());
    }

    c9_failure_after_the_creation_timeout_is_failed: World::default()
        .gms(err(Code::NotFound, ""))
        .create(err(Code::Unavailable, "x")), machine_pass(old_machine()) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Failed);
        assert_eq!(ran.retry, Retry::Short);
    }

    c9_spec_creation_timeout_is_honoured: World::default()
        .gms(err(Code::NotFound, ""))
        .create(err(Code::Unavailable, "x")), machine_pass({
        let mut m = machine();
        m.metadata.creation_timestamp = Some(ago(3));
        m.spec.configuration.creation_timeout = Some(GoDuration::from_mins(2));
        m
    }) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Failed);
    }

    c10_status_internal_is_a_create_error_with_medium_retry: World::default()
        .gms(err(Code::Internal, "broken")), machine_pass(with_state("old-state")) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        assert_eq!(ran.retry, Retry::Medium);
        let status = ran.status();
        assert_eq!(status.last_operation.description, format!("{CREATE_ERR}[Internal] message = [broken]"));
        assert_eq!(status.last_operation.error_code, "Internal");
        assert_eq!(status.last_known_state, "");
    }

    c11_status_resource_exhausted_uses_re_retry: World::default()
        .gms(err(Code::ResourceExhausted, "quota")), machine_pass(with_state("kept")) => |ran| {
        assert_eq!(ran.retry, Retry::ResourceExhausted);
        assert_eq!(ran.status().last_known_state, "kept");
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
    }

    c11b_status_unavailable_retries_short: World::default()
        .gms(err(Code::Unavailable, "503")), machine_pass(with_state("kept")) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert_eq!(ran.status().last_operation.error_code, "Unavailable");
        assert_eq!(ran.status().last_known_state, "kept");
    }

    c11b_status_aborted_retries_short: World::default()
        .gms(err(Code::Aborted, "busy")), machine_pass(with_state("kept")) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
    }

    c12_stale_node_name_gives_the_vm_back_and_fails: World::default()
        .with_node({ let mut n = ready_node(); n.metadata.name = Some("old-node".into()); n })
        .gms(err(Code::NotFound, ""))
        .create(create_ok("old-node", "sim://zone-a/i-new"))
        .delete(Ok(Default::default())), machine_pass(machine()) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus", "CreateMachine", "DeleteMachine"]);
        assert!(ran.did(&Event::DeleteMachine { name: MACHINE.into(), provider_id: "sim://zone-a/i-new".into() }));
        let status = ran.status();
        assert_eq!(status.last_operation.description, "VM using old node obj");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(status.current_status.phase, MachinePhase::Failed);
        assert!(ran.machine_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    c13_create_without_node_name_is_an_internal_error: World::default()
        .gms(err(Code::NotFound, ""))
        .create(create_ok("", PROVIDER_ID)), machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        ran.assert_no_machine_writes();
    }

    c13_create_without_provider_id_is_an_internal_error_in_no_target_mode_too: World::default().no_target()
        .gms(err(Code::NotFound, ""))
        .create(create_ok("n", "")), machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        ran.assert_no_machine_writes();
    }

    c14_create_then_store_provider_id_node_label_and_priority: World::default()
        .gms(err(Code::NotFound, ""))
        .create(create_ok(MACHINE, PROVIDER_ID))
        .initialize(Ok(InitializeMachineResponse::default())), machine_pass(machine()) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus", "CreateMachine", "InitializeMachine"]);
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].spec.provider_id, PROVIDER_ID);
        assert_eq!(writes[0].label(machine_labels::NODE), Some(MACHINE));
        assert_eq!(writes[0].annotation(machine_annotations::PRIORITY), Some("3"));
        assert!(ran.status_writes().is_empty());
        assert!(ran.did(&Event::InitializeMachine { provider_id: PROVIDER_ID.into() }));
        assert_eq!(ran.retry, Retry::Short);
    }

    c14_initialize_unimplemented_counts_as_success: World::default()
        .gms(err(Code::NotFound, ""))
        .create(create_ok(MACHINE, PROVIDER_ID))
        .initialize(err(Code::Unimplemented, "")), machine_pass(machine()) => |ran| {
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    c15_initialize_failure_crashloops_after_storing_metadata: World::default()
        .gms(err(Code::NotFound, ""))
        .create(create_ok(MACHINE, PROVIDER_ID))
        .initialize(err(Code::Uninitialized, "cloud-init pending")), machine_pass(machine()) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Provider error: machine codes error: code = [Uninitialized] message = [cloud-init pending]. Initialize VM Instance");
        assert_eq!(status.last_operation.error_code, "Uninitialized");
        assert_eq!(status.current_status.phase, MachinePhase::CrashLoopBackOff);
        assert_eq!(ran.retry, Retry::Short);
    }

    c15_initialize_not_found_is_a_failure_too: World::default()
        .gms(err(Code::NotFound, ""))
        .create(create_ok(MACHINE, PROVIDER_ID))
        .initialize(err(Code::NotFound, "gone")), machine_pass(machine()) => |ran| {
        assert_eq!(ran.status().last_operation.error_code, "NotFound");
    }

    c16_initialize_undecodable_waits_long: World::default()
        .gms(err(Code::NotFound, ""))
        .create(create_ok(MACHINE, PROVIDER_ID))
        .initialize(undecodable("oops")), machine_pass(machine()) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Long);
    }

    c17_existing_vm_writes_pending: World::default()
        .gms(gms_ok(NODE, PROVIDER_ID)), machine_pass(created_machine(MachinePhase::Unset)) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Creating machine on cloud provider");
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.current_status.phase, MachinePhase::Pending);
        assert!(status.current_status.timeout_active);
        assert_eq!(ran.retry, Retry::Short);
    }

    c18_crashloop_with_absent_node_writes_pending: World::default()
        .gms(gms_ok(NODE, PROVIDER_ID)), machine_pass(created_machine(MachinePhase::CrashLoopBackOff)) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Pending);
        assert_eq!(ran.status().last_operation.error_code, "");
        assert_eq!(ran.retry, Retry::Short);
    }

    c18b_missing_priority_rewrites_metadata_from_the_response: World::default()
        .gms(gms_ok("node-2", "sim://zone-a/i-2")), machine_pass({
        let mut m = created_machine(MachinePhase::Unset);
        m.metadata.annotations = None;
        m
    }) => |ran| {
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].priority(), Some("3"));
        assert_eq!(writes[0].node_name(), Some("node-2"));
        assert_eq!(writes[0].spec.provider_id, "sim://zone-a/i-2");
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    c19_vm_not_found_with_provider_id_is_not_recreated: World::default()
        .gms(err(Code::NotFound, "gone")), machine_pass(created_machine(MachinePhase::Unset)) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        assert_eq!(ran.status().current_status.phase, MachinePhase::Pending);
    }

    c19_unimplemented_status_with_provider_id_writes_pending: World::default()
        .gms(err(Code::Unimplemented, "")), machine_pass(created_machine(MachinePhase::Unset)) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Pending);
    }

    c20_provider_id_without_node_label_is_an_internal_error: World::default()
        .gms(err(Code::NotFound, "")), machine_pass({
        let mut m = created_machine(MachinePhase::Unset);
        m.metadata.labels = None;
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        ran.assert_no_machine_writes();
    }

    c21_uninitialized_vm_is_initialized: World::default()
        .gms(Err(DriverError::from_status(Status::uninitialized("not yet")).with_response(
            mcm_api::driver::GetMachineStatusResponse { provider_id: PROVIDER_ID.into(), node_name: NODE.into(), addresses: vec![] })))
        .initialize(Ok(InitializeMachineResponse::default())), machine_pass(created_machine(MachinePhase::CrashLoopBackOff)) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus", "InitializeMachine"]);
        ran.assert_no_machine_writes();
        assert_eq!(ran.retry, Retry::Short);
    }

    c22_uninitialized_vm_whose_initialization_fails_crashloops: World::default()
        .gms(Err(DriverError::from_status(Status::uninitialized("not yet")).with_response(
            mcm_api::driver::GetMachineStatusResponse { provider_id: PROVIDER_ID.into(), node_name: NODE.into(), addresses: vec![] })))
        .initialize(err(Code::Internal, "agent down")), machine_pass(created_machine(MachinePhase::CrashLoopBackOff)) => |ran| {
        let status = ran.status();
        assert!(status.last_operation.description.starts_with("Provider error: machine codes error: code = [Internal]"));
        assert_eq!(status.current_status.phase, MachinePhase::CrashLoopBackOff);
        assert_eq!(ran.retry, Retry::Short);
    }

    c23_existing_vm_is_adopted: World::default()
        .gms(gms_ok(NODE, PROVIDER_ID)), machine_pass(machine()) => |ran| {
        assert_eq!(ran.driver_calls(), ["GetMachineStatus"]);
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].spec.provider_id, PROVIDER_ID);
        assert_eq!(writes[0].node_name(), Some(NODE));
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    c24_failed_machine_without_provider_id_adopts_and_stays_failed: World::default()
        .gms(gms_ok(NODE, PROVIDER_ID)), machine_pass({
        let mut m = machine();
        set_phase(&mut m, MachinePhase::Failed);
        m
    }) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    c24_failed_machine_with_provider_id_is_left_alone: World::default(), machine_pass({
        let mut m = created_machine(MachinePhase::Failed);
        m.metadata.labels = None;
        m
    }) => |ran| {
        assert!(ran.driver_calls().is_empty());
        assert_eq!(ran.retry, Retry::Long);
    }

    c25_failed_metadata_write_ends_short: World {
        machine_updates: [write_failure("apiserver down")].into(),
        ..World::default()
    }.gms(gms_ok(NODE, PROVIDER_ID)), machine_pass({
        let mut m = machine();
        set_phase(&mut m, MachinePhase::CrashLoopBackOff);
        m
    }) => |ran| {
        assert_eq!(ran.machine_writes().len(), 1);
        assert!(ran.status_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    c26_no_target_creation_completes_as_available: World::default().no_target()
        .gms(Ok(mcm_api::driver::GetMachineStatusResponse {
            provider_id: PROVIDER_ID.into(),
            node_name: "host-1".into(),
            addresses: vec![NodeAddress { type_: "InternalIP".into(), address: "10.0.0.7".into() }],
        })), machine_pass({
        let mut m = created_machine(MachinePhase::Unset);
        m.metadata.labels = None;
        m
    }) => |ran| {
        assert!(!ran.did(&Event::EnsureToken));
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Created machine on cloud provider");
        assert_eq!(status.last_operation.state, MachineState::Successful);
        assert_eq!(status.current_status.phase, MachinePhase::Available);
        assert_eq!(status.addresses.len(), 2);
        assert_eq!(status.addresses[0].type_, "Hostname");
        assert_eq!(ran.retry, Retry::Short);
    }

    c27_no_target_create_stores_provider_id_without_node_label_then_addresses: World::default().no_target()
        .gms(err(Code::NotFound, ""))
        .create(Ok(CreateMachineResponse {
            provider_id: PROVIDER_ID.into(),
            node_name: "host-1".into(),
            last_known_state: String::new(),
            addresses: vec![NodeAddress { type_: "InternalIP".into(), address: "10.0.0.7".into() }],
        }))
        .initialize(Ok(InitializeMachineResponse::default())), machine_pass(machine()) => |ran| {
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].node_name(), None);
        assert_eq!(writes[0].spec.provider_id, PROVIDER_ID);
        assert_eq!(writes[0].priority(), Some("3"));
        let status = ran.status();
        assert_eq!(status.addresses.len(), 2);
        assert!(status.current_status.phase.is_unset());
        assert_eq!(ran.retry, Retry::Short);
    }

    c28_status_without_provider_id_is_an_internal_error: World::default()
        .gms(gms_ok(NODE, "")), machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        ran.assert_no_machine_writes();
    }

    c28_status_without_node_name_is_an_internal_error_with_a_target: World::default()
        .gms(gms_ok("", PROVIDER_ID)), machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Medium);
        ran.assert_no_machine_writes();
    }
}
