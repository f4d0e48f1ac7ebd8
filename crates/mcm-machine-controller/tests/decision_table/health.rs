//! §10.3 Health (H1–H33, with H3b): the health step of the machine pass and the
//! node-side sync that follows it.

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use mcm_api::GoDuration;
use mcm_api::v1alpha1::{Machine, MachineOperationType, MachinePhase, MachineState};
use mcm_api::well_known::{machine_labels, node_annotations, node_labels};
use mcm_machine_controller::Retry;
use mcm_machine_controller::decide::lookup::Lookup;
use mcm_machine_controller::flow::Observation;

use crate::support::*;

const GROUP: &str = "md-1";
const UNHEALTHY: &str =
    "Machine machine-1 is unhealthy - changing MachinePhase to Unknown. Node conditions: ";
const HEALTH_FAILED: &str = "Machine machine-1 health checks failing since last 10m0s minutes. Updating machine phase to Failed. Node Conditions: ";
const CREATING: &str = "Creating machine on cloud provider";

/// A synced Node whose kubelet is ready.
fn ready() -> Node {
    synced(ready_node())
}

/// A synced Node whose kubelet is not ready.
fn not_ready() -> Node {
    synced(node(vec![condition("Ready", "False")]))
}

fn with_taint(mut node: Node, taint: Taint) -> Node {
    node.spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new)
        .push(taint);
    node
}

fn with_node_label(mut node: Node, key: &str, value: &str) -> Node {
    node.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
    node
}

fn with_node_annotation(mut node: Node, key: &str, value: &str) -> Node {
    node.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
    node
}

/// A machine after the Pending write of C17 (LO Create/Processing, timeout active).
fn pending(seeing: Option<&Node>) -> Machine {
    let mut m = match seeing {
        Some(node) => machine_seeing(MachinePhase::Pending, node),
        None => created_machine(MachinePhase::Pending),
    };
    set_last_operation(
        &mut m,
        CREATING,
        MachineState::Processing,
        MachineOperationType::Create,
        1,
    );
    m.status.current_status.timeout_active = true;
    m
}

/// A Running machine that last saw `node`'s conditions.
fn running(seeing: &Node) -> Machine {
    let mut m = machine_seeing(MachinePhase::Running, seeing);
    set_last_operation(
        &mut m,
        "Machine machine-1 successfully joined the cluster in 3m0s",
        MachineState::Successful,
        MachineOperationType::Create,
        10,
    );
    m
}

/// A machine of group `md-1` that went `Unknown` (H8) `minutes` ago and still sees
/// a NotReady node.
fn unknown_for(minutes: i64) -> Machine {
    let mut m = machine_seeing(MachinePhase::Unknown, &not_ready());
    m.labels_mut()
        .insert(machine_labels::NAME.into(), GROUP.into());
    m.status.current_status.last_update_time = Some(ago(minutes));
    set_last_operation(
        &mut m,
        &format!("{UNHEALTHY}[...]"),
        MachineState::Processing,
        MachineOperationType::HealthCheck,
        minutes,
    );
    m
}

/// As [`unknown_for`] in an in-place phase.
fn in_place(phase: MachinePhase, minutes: i64, seeing: &Node) -> Machine {
    let mut m = machine_seeing(phase, seeing);
    m.labels_mut()
        .insert(machine_labels::NAME.into(), GROUP.into());
    m.status.current_status.last_update_time = Some(ago(minutes));
    set_last_operation(
        &mut m,
        "Machine machine-1 is undergoing an in-place update",
        MachineState::Processing,
        MachineOperationType::InPlaceUpdate,
        minutes,
    );
    m
}

/// Without the `name` label: the machine is in no listed group (the group is "").
fn ungrouped(mut machine: Machine) -> Machine {
    machine.labels_mut().remove(machine_labels::NAME);
    machine
}

fn unhealthy_group(member: Machine) -> World {
    World {
        group: vec![unknown_for(11), member],
        ..World::default()
    }
    .with_node(not_ready())
}

/// The mark-Failed attempt of H13 happened as one locked sequence.
fn assert_marked_failed(ran: &Ran, previous: &Machine) {
    let group = previous
        .label(machine_labels::NAME)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        ran.events
            .iter()
            .filter(|e| !matches!(e, Event::UpdateMachineStatus(_)))
            .cloned()
            .collect::<Vec<_>>(),
        [
            Event::AcquirePermit(group.clone()),
            Event::AwaitFailedMark(MACHINE.into()),
            Event::ReleasePermit(group),
        ]
    );
    assert!(matches!(ran.events[1], Event::UpdateMachineStatus(_)));
    let status = ran.status();
    assert!(
        status.last_operation.description.starts_with(HEALTH_FAILED),
        "{}",
        status.last_operation.description
    );
    assert_eq!(status.last_operation.state, MachineState::Failed);
    assert_eq!(
        status.last_operation.type_,
        previous.status.last_operation.type_
    );
    assert_eq!(status.last_operation.error_code, "");
    assert_eq!(status.current_status.phase, MachinePhase::Failed);
    assert_eq!(
        status.current_status.preserve_expiry_time,
        previous.status.current_status.preserve_expiry_time
    );
    assert_eq!(status.conditions, previous.status.conditions);
    // The machine pass goes on; nothing else fires, so it ends with Long.
    assert_eq!(ran.retry, Retry::Long);
    assert_eq!(ran.next(), Retry::Long);
    assert!(ran.driver_calls().is_empty());
}

/// Nothing was written and no rate-limit permit was held when the pass ended.
fn assert_quiet(ran: &Ran) {
    ran.assert_no_machine_writes();
    assert!(ran.node_writes().is_empty() && ran.node_status_writes().is_empty());
    assert!(ran.driver_calls().is_empty());
}

rows! {
    // ---- H1, H2: node gone -------------------------------------------------------

    h1_running_machine_whose_node_went_missing_becomes_unknown: World::default(),
    machine_pass(with_pet(running(&ready()))) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description,
            "Node object went missing. Machine machine-1 is unhealthy - changing MachinePhase to Unknown");
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.last_operation.type_, MachineOperationType::HealthCheck);
        assert_eq!(status.current_status.phase, MachinePhase::Unknown);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert_eq!(status.current_status.last_update_time, Some(ago(0)));
        // Conditions are left as they were.
        assert_eq!(status.conditions, ready().status.unwrap().conditions.unwrap());
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.driver_calls().is_empty());
    }

    h2_running_machine_without_conditions_and_without_node_is_left_alone: World::default(),
    machine_pass(created_machine(MachinePhase::Running)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Long);
        assert_eq!(ran.next(), Retry::Long);
    }

    // ---- H3–H7: Pending ----------------------------------------------------------

    h3_pending_machine_without_node_rechecks_in_a_minute: World::default(),
    machine_pass(pending(None)) => |ran| {
        assert_quiet(&ran);
        assert!(ran.did(&Event::RequeueAlso(Retry::OneMinute)));
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h3b_pending_machine_with_not_ready_node_rechecks_in_a_minute: World::default().with_node(not_ready()),
    machine_pass(pending(Some(&not_ready()))) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h4_pending_past_creation_timeout_without_node_fails: World::default(),
    machine_pass({
        let mut m = with_pet(pending(None));
        m.metadata.creation_timestamp = Some(ago(21));
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 failed to join the cluster in 20m0s minutes.");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(status.last_operation.type_, MachineOperationType::Create);
        assert_eq!(status.current_status.phase, MachinePhase::Failed);
        assert!(!status.current_status.timeout_active);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert!(ran.did(&Event::Observe(Observation::FailedToJoin)));
        assert_eq!(ran.retry, Retry::Short);
    }

    h4_pending_past_creation_timeout_with_unhealthy_node_fails: World::default().with_node(not_ready()),
    machine_pass({
        let mut m = pending(Some(&not_ready()));
        m.metadata.creation_timestamp = Some(ago(21));
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 failed to join the cluster in 20m0s minutes.");
        assert_eq!(status.current_status.phase, MachinePhase::Failed);
        assert!(status.current_status.preserve_expiry_time.is_none());
        assert_eq!(ran.retry, Retry::Short);
    }

    h4_creation_timeout_keeps_the_previous_operation_type: World::default(),
    machine_pass({
        let mut m = pending(None);
        m.metadata.creation_timestamp = Some(ago(6));
        m.spec.configuration.creation_timeout = Some(GoDuration::from_mins(5));
        m.status.last_operation.type_ = MachineOperationType::HealthCheck;
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 failed to join the cluster in 5m0s minutes.");
        assert_eq!(status.last_operation.type_, MachineOperationType::HealthCheck);
    }

    h4_creation_timeout_not_reached_at_exactly_t: World::default(),
    machine_pass({
        let mut m = pending(None);
        m.metadata.creation_timestamp = Some(ago(20));
        m
    }) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h5_pending_machine_with_healthy_node_joins: World::default().with_node(ready()),
    machine_pass({
        let mut m = with_pet(pending(None));
        m.metadata.creation_timestamp = Some(ago(4));
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.conditions, ready().status.unwrap().conditions.unwrap());
        assert_eq!(status.last_operation.description, "Machine machine-1 successfully joined the cluster in 4m0s");
        assert_eq!(status.last_operation.state, MachineState::Successful);
        assert_eq!(status.last_operation.type_, MachineOperationType::Create);
        assert_eq!(status.current_status.phase, MachinePhase::Running);
        assert!(!status.current_status.timeout_active);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert!(ran.did(&Event::DeleteToken));
        assert!(ran.did(&Event::Observe(Observation::Joined(240.0))));
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.driver_calls().is_empty());
    }

    h5_listed_conditions_false_and_no_ready_entry_is_healthy: World::default()
        .with_node(synced(node(vec![condition("DiskPressure", "False"), condition("KernelDeadlock", "False")]))),
    machine_pass(pending(None)) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Running);
        assert!(ran.did(&Event::DeleteToken));
    }

    h6_pending_machine_waits_for_critical_components: World::default()
        .with_node(with_taint(ready(), critical_taint())),
    machine_pass(pending(Some(&ready()))) => |ran| {
        assert_quiet(&ran);
        assert!(!ran.did(&Event::DeleteToken));
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h6_critical_taint_with_other_effect_does_not_hold_the_join: World::default()
        .with_node(with_taint(ready(), Taint { effect: "NoExecute".into(), ..critical_taint() })),
    machine_pass(pending(Some(&ready()))) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Running);
    }

    h7_pending_machine_with_critical_taint_copies_changed_conditions_only: World::default()
        .with_node(with_taint(ready(), critical_taint())),
    machine_pass(pending(None)) => |ran| {
        let status = ran.status();
        assert_eq!(status.conditions, ready().status.unwrap().conditions.unwrap());
        assert_eq!(status.last_operation.description, CREATING);
        assert_eq!(status.current_status.phase, MachinePhase::Pending);
        assert!(status.current_status.timeout_active);
        assert!(!ran.did(&Event::DeleteToken));
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- H8–H10, H23: Running ------------------------------------------------------

    h8_running_machine_with_not_ready_node_becomes_unknown: World::default().with_node(not_ready()),
    machine_pass(with_pet(running(&ready()))) => |ran| {
        let status = ran.status();
        assert_eq!(status.conditions, not_ready().status.unwrap().conditions.unwrap());
        assert!(status.last_operation.description.starts_with(UNHEALTHY), "{}", status.last_operation.description);
        assert_eq!(status.last_operation.state, MachineState::Processing);
        assert_eq!(status.last_operation.type_, MachineOperationType::HealthCheck);
        assert_eq!(status.current_status.phase, MachinePhase::Unknown);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert_eq!(ran.retry, Retry::Short);
    }

    h8_running_machine_with_unchanged_not_ready_conditions_becomes_unknown: World::default().with_node(not_ready()),
    machine_pass(running(&not_ready())) => |ran| {
        let status = ran.status();
        assert!(status.last_operation.description.starts_with(UNHEALTHY));
        assert_eq!(status.current_status.phase, MachinePhase::Unknown);
        assert!(status.current_status.preserve_expiry_time.is_none());
        assert_eq!(ran.retry, Retry::Short);
    }

    h9_disk_pressure_unknown_counts_as_unhealthy: World::default()
        .with_node(synced(node(vec![condition("Ready", "True"), condition("DiskPressure", "Unknown")]))),
    machine_pass(running(&ready())) => |ran| {
        let status = ran.status();
        assert!(status.last_operation.description.starts_with(UNHEALTHY));
        assert_eq!(status.current_status.phase, MachinePhase::Unknown);
        assert_eq!(status.conditions.len(), 2);
        assert_eq!(ran.retry, Retry::Short);
    }

    h9_disk_pressure_true_counts_as_unhealthy: World::default()
        .with_node(synced(node(vec![condition("Ready", "True"), condition("DiskPressure", "True")]))),
    machine_pass(running(&ready())) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Unknown);
    }

    h9_spec_node_conditions_replace_the_flag: World::default()
        .with_node(synced(node(vec![condition("Ready", "True"), condition("Foo", "True"), condition("DiskPressure", "True")]))),
    machine_pass({
        let mut m = running(&ready());
        m.spec.configuration.node_conditions = Some("Foo".into());
        m
    }) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Unknown);
    }

    h10_unlisted_condition_true_only_copies_changed_conditions: World::default()
        .with_node(synced(node(vec![condition("Ready", "True"), condition("Foo", "True")]))),
    machine_pass(running(&ready())) => |ran| {
        let status = ran.status();
        assert_eq!(status.conditions.len(), 2);
        assert_eq!(status.current_status.phase, MachinePhase::Running);
        assert_eq!(status.last_operation, running(&ready()).status.last_operation);
        assert_eq!(ran.retry, Retry::Short);
    }

    h10_unlisted_condition_true_with_unchanged_conditions_is_quiet: World::default()
        .with_node(synced(node(vec![condition("Ready", "True"), condition("Foo", "True")]))),
    machine_pass(running(&synced(node(vec![condition("Ready", "True"), condition("Foo", "True")])))) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Long);
        assert_eq!(ran.next(), Retry::Long);
    }

    h23_running_healthy_machine_copies_changed_conditions: World::default()
        .with_node(synced(node(vec![condition("Ready", "True"), condition("KernelDeadlock", "False")]))),
    machine_pass(running(&ready())) => |ran| {
        let status = ran.status();
        assert_eq!(status.conditions.len(), 2);
        assert_eq!(status.current_status, running(&ready()).status.current_status);
        assert_eq!(status.last_operation, running(&ready()).status.last_operation);
        assert_eq!(ran.retry, Retry::Short);
    }

    h23_changed_heartbeat_alone_is_not_a_change: World::default().with_node({
        let mut n = ready();
        n.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_heartbeat_time = Some(ago(0));
        n
    }),
    machine_pass(running(&ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Long);
    }

    // ---- H11–H18: Unknown and the health timeout ---------------------------------------

    h11_unknown_machine_with_healthy_node_rejoins: World::default().with_node(ready()),
    machine_pass(with_pet(unknown_for(3))) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 successfully re-joined the cluster");
        assert_eq!(status.last_operation.state, MachineState::Successful);
        assert_eq!(status.last_operation.type_, MachineOperationType::HealthCheck);
        assert_eq!(status.current_status.phase, MachinePhase::Running);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert_eq!(status.conditions, ready().status.unwrap().conditions.unwrap());
        assert!(!ran.did(&Event::DeleteToken));
        assert_eq!(ran.retry, Retry::Short);
    }

    h12_unknown_within_health_timeout_rechecks_in_a_minute: World::default().with_node(not_ready()),
    machine_pass(unknown_for(5)) => |ran| {
        assert_quiet(&ran);
        assert!(!ran.did(&Event::AcquirePermit(GROUP.into())));
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h12_health_timeout_is_not_reached_at_exactly_h: World::default().with_node(not_ready()),
    machine_pass(unknown_for(10)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h13_unknown_past_health_timeout_is_marked_failed: unhealthy_group(created_machine(MachinePhase::Running)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_marked_failed(&ran, &unknown_for(11));
    }

    h13_mark_failed_keeps_the_preserve_expiry_time: World {
        group: vec![with_pet(unknown_for(11))],
        ..World::default()
    }.with_node(not_ready()),
    machine_pass(with_pet(unknown_for(11))) => |ran| {
        assert_marked_failed(&ran, &with_pet(unknown_for(11)));
    }

    h13_spec_health_timeout_is_honoured: World::default().with_node(not_ready()),
    machine_pass({
        let mut m = unknown_for(6);
        m.spec.configuration.health_timeout = Some(GoDuration::from_mins(5));
        m
    }) => |ran| {
        assert!(ran.status().last_operation.description.starts_with(
            "Machine machine-1 health checks failing since last 5m0s minutes. Updating machine phase to Failed. Node Conditions: "));
    }

    h13_machine_without_group_label_uses_the_empty_group: World::default().with_node(not_ready()),
    machine_pass(ungrouped(unknown_for(11))) => |ran| {
        assert!(ran.did(&Event::AcquirePermit(String::new())));
        assert!(ran.did(&Event::ReleasePermit(String::new())));
        assert_eq!(ran.status().current_status.phase, MachinePhase::Failed);
    }

    h13_unknown_without_last_update_time_counts_as_timed_out: World::default().with_node(not_ready()),
    machine_pass({
        let mut m = unknown_for(11);
        m.status.current_status.last_update_time = None;
        m
    }) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::Failed);
        assert_eq!(ran.retry, Retry::Long);
    }

    h14_pending_group_member_blocks_the_mark: unhealthy_group(group_member(GROUP, MachinePhase::Pending, false)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.events, [Event::AcquirePermit(GROUP.into()), Event::ReleasePermit(GROUP.into())]);
        assert_eq!(ran.retry, Retry::Short);
    }

    h14_crashlooping_group_member_blocks_the_mark: unhealthy_group(group_member(GROUP, MachinePhase::CrashLoopBackOff, false)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h14_unpreserved_failed_group_member_blocks_the_mark: unhealthy_group(group_member(GROUP, MachinePhase::Failed, false)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h14_group_member_without_phase_blocks_the_mark: unhealthy_group(group_member(GROUP, MachinePhase::Unset, false)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h15_preserved_failed_group_member_does_not_block_the_mark: unhealthy_group(group_member(GROUP, MachinePhase::Failed, true)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_marked_failed(&ran, &unknown_for(11));
    }

    h15_unknown_and_running_group_members_do_not_count: World {
        group: vec![unknown_for(11), group_member(GROUP, MachinePhase::Unknown, false), group_member(GROUP, MachinePhase::Running, false)],
        ..World::default()
    }.with_node(not_ready()),
    machine_pass(unknown_for(11)) => |ran| {
        assert_marked_failed(&ran, &unknown_for(11));
    }

    h16_preserved_terminating_group_member_still_blocks_the_mark: unhealthy_group(group_member(GROUP, MachinePhase::Terminating, true)),
    machine_pass(unknown_for(11)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h17_permit_not_obtained_ends_short_without_write: World { permit: false, ..World::default() }.with_node(not_ready()),
    machine_pass(unknown_for(11)) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.events, [Event::AcquirePermit(GROUP.into())]);
        assert_eq!(ran.retry, Retry::Short);
    }

    h18_disabled_health_timeout_leaves_unknown_machine_alone: World::default().with_node(not_ready()),
    machine_pass({
        let mut m = unknown_for(60);
        m.spec.configuration.disable_health_timeout = Some(true);
        m
    }) => |ran| {
        assert_quiet(&ran);
        assert!(ran.events.is_empty(), "{:#?}", ran.events);
        assert_eq!(ran.retry, Retry::Long);
        assert_eq!(ran.next(), Retry::Long);
    }

    h18_disabled_health_timeout_still_rechecks_before_expiry: World::default().with_node(not_ready()),
    machine_pass({
        let mut m = unknown_for(5);
        m.spec.configuration.disable_health_timeout = Some(true);
        m
    }) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    // ---- H19, H20: recovery of Failed and CrashLoopBackOff ----------------------------

    h19_failed_machine_with_healthy_node_rejoins: World::default().with_node(ready()),
    machine_pass({
        let mut m = with_pet(machine_seeing(MachinePhase::Failed, &not_ready()));
        set_last_operation(&mut m, &format!("{HEALTH_FAILED}[...]"), MachineState::Failed, MachineOperationType::HealthCheck, 2);
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 successfully re-joined the cluster");
        assert_eq!(status.last_operation.state, MachineState::Successful);
        assert_eq!(status.last_operation.type_, MachineOperationType::HealthCheck);
        assert_eq!(status.current_status.phase, MachinePhase::Running);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert!(!ran.did(&Event::DeleteToken));
        assert_eq!(ran.retry, Retry::Short);
    }

    h19_failed_machine_with_unhealthy_node_stays_failed: World::default().with_node(not_ready()),
    machine_pass(machine_seeing(MachinePhase::Failed, &not_ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::Long);
    }

    h20_crashlooping_machine_with_healthy_node_joins: World::default().with_node(ready()),
    machine_pass({
        let mut m = with_pet(created_machine(MachinePhase::CrashLoopBackOff));
        m.metadata.creation_timestamp = Some(ago(5));
        set_last_operation(&mut m, "Provider error: machine codes error: code = [Internal] message = [agent down]. Initialize VM Instance",
            MachineState::Failed, MachineOperationType::Create, 2);
        m.status.last_operation.error_code = "Internal".into();
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 successfully joined the cluster in 5m0s");
        assert_eq!(status.last_operation.state, MachineState::Successful);
        assert_eq!(status.last_operation.type_, MachineOperationType::Create);
        assert_eq!(status.last_operation.error_code, "");
        assert_eq!(status.current_status.phase, MachinePhase::Running);
        assert!(status.current_status.preserve_expiry_time.is_some());
        assert!(ran.did(&Event::DeleteToken));
        // The health step ends the pass: the creation flow does not run.
        assert!(ran.driver_calls().is_empty());
        assert!(!ran.did(&Event::CreationStarted));
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- H21, H24–H27: in-place update phases ------------------------------------------

    h21_in_place_updating_copies_conditions_without_health_transition: World::default().with_node(not_ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdating, 2, &ready())) => |ran| {
        let before = in_place(MachinePhase::InPlaceUpdating, 2, &ready());
        let status = ran.status();
        assert_eq!(status.conditions, not_ready().status.unwrap().conditions.unwrap());
        assert_eq!(status.last_operation, before.status.last_operation);
        assert_eq!(status.current_status, before.status.current_status);
        assert_eq!(ran.retry, Retry::Short);
    }

    h21_in_place_updating_with_healthy_node_does_not_rejoin: World::default().with_node(ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdating, 2, &ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h21_in_place_update_failed_with_healthy_node_does_not_rejoin: World::default().with_node(ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdateFailed, 2, &ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h24_in_place_update_timeout_without_node_fails_the_update: World::default(),
    machine_pass(with_pet(in_place(MachinePhase::InPlaceUpdating, 21, &ready()))) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 failed to in-place update in 20m0s minutes.");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(status.last_operation.type_, MachineOperationType::InPlaceUpdate);
        assert_eq!(status.current_status.phase, MachinePhase::InPlaceUpdateFailed);
        assert!(status.current_status.preserve_expiry_time.is_none());
        assert_eq!(ran.retry, Retry::Short);
    }

    h24_in_place_update_timeout_with_unlabelled_node_fails_the_update: World::default().with_node(ready()),
    machine_pass({
        let mut m = in_place(MachinePhase::InPlaceUpdating, 6, &ready());
        m.spec.configuration.in_place_update_timeout = Some(GoDuration::from_mins(5));
        m
    }) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 failed to in-place update in 5m0s minutes.");
        assert_eq!(status.current_status.phase, MachinePhase::InPlaceUpdateFailed);
        assert_eq!(ran.retry, Retry::Short);
    }

    h24_in_place_update_within_timeout_rechecks_in_a_minute: World::default().with_node(ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdating, 19, &ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.next(), Retry::OneMinute);
    }

    h25_in_place_update_failed_past_health_timeout_without_node_is_marked_failed: World::default(),
    machine_pass(ungrouped(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready()))) => |ran| {
        assert_marked_failed(&ran, &ungrouped(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())));
    }

    h25_in_place_update_failed_with_failed_result_label_is_marked_failed: World::default()
        .with_node(with_node_label(ready(), node_labels::UPDATE_RESULT, "failed")),
    machine_pass(ungrouped(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready()))) => |ran| {
        assert_marked_failed(&ran, &ungrouped(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())));
    }

    h25_in_place_update_failed_machine_counts_itself_in_its_group: World {
        group: vec![in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())],
        ..World::default()
    }.with_node(ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())) => |ran| {
        // Its own phase is neither Unknown nor Running, so the group already has one
        // replacement in progress (as in Go, which lists the machine itself too).
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h25_preserved_in_place_update_failed_machine_in_its_group_is_marked_failed: World {
        group: vec![with_pet(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready()))],
        ..World::default()
    }.with_node(ready()),
    machine_pass(with_pet(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready()))) => |ran| {
        assert_marked_failed(&ran, &with_pet(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())));
    }

    h25_in_place_update_failed_respects_the_group_limit: World {
        group: vec![group_member(GROUP, MachinePhase::Pending, false)],
        ..World::default()
    }.with_node(ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h25_in_place_update_failed_without_permit_ends_short: World { permit: false, ..World::default() }.with_node(ready()),
    machine_pass(in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h25_in_place_update_failed_with_disabled_health_timeout_is_left_alone: World::default().with_node(ready()),
    machine_pass({
        let mut m = in_place(MachinePhase::InPlaceUpdateFailed, 11, &ready());
        m.spec.configuration.disable_health_timeout = Some(true);
        m
    }) => |ran| {
        assert_quiet(&ran);
        assert!(ran.events.is_empty());
        assert_eq!(ran.next(), Retry::Long);
    }

    h26_successful_update_result_completes_the_in_place_update: World::default()
        .with_node(with_node_label(ready(), node_labels::UPDATE_RESULT, "successful")),
    machine_pass(with_pet(in_place(MachinePhase::InPlaceUpdating, 2, &ready()))) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 successfully updated dependencies");
        assert_eq!(status.last_operation.state, MachineState::Successful);
        assert_eq!(status.last_operation.type_, MachineOperationType::InPlaceUpdate);
        assert_eq!(status.current_status.phase, MachinePhase::InPlaceUpdateSuccessful);
        assert!(status.current_status.preserve_expiry_time.is_none());
        assert_eq!(ran.retry, Retry::Short);
    }

    h26_successful_update_result_also_recovers_a_failed_update: World::default()
        .with_node(with_node_label(ready(), node_labels::UPDATE_RESULT, "successful")),
    machine_pass(in_place(MachinePhase::InPlaceUpdateFailed, 30, &ready())) => |ran| {
        assert_eq!(ran.status().current_status.phase, MachinePhase::InPlaceUpdateSuccessful);
        assert!(!ran.did(&Event::AcquirePermit(GROUP.into())));
        assert_eq!(ran.retry, Retry::Short);
    }

    h27_failed_update_result_fails_the_in_place_update_with_its_reason: World::default()
        .with_node(with_node_annotation(
            with_node_label(ready(), node_labels::UPDATE_RESULT, "failed"),
            node_annotations::UPDATE_FAILED_REASON, "kubelet did not restart")),
    machine_pass(in_place(MachinePhase::InPlaceUpdating, 2, &ready())) => |ran| {
        let status = ran.status();
        assert_eq!(status.last_operation.description, "Machine machine-1 failed to update dependencies: kubelet did not restart");
        assert_eq!(status.last_operation.state, MachineState::Failed);
        assert_eq!(status.last_operation.type_, MachineOperationType::InPlaceUpdate);
        assert_eq!(status.current_status.phase, MachinePhase::InPlaceUpdateFailed);
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- H22, H28, H29: read and write failures -------------------------------------------

    h22_node_cache_error_ends_short: World::default()
        .with_node_lookup(NODE, Lookup::Failed("informer not synced".into())),
    machine_pass(running(&ready())) => |ran| {
        assert_quiet(&ran);
        assert!(ran.events.is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    h28_failed_mark_failed_write_ends_short_even_on_conflict: World {
        status_updates: [conflict()].into(),
        ..World::default()
    }.with_node(not_ready()),
    machine_pass(unknown_for(11)) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert!(!ran.did(&Event::AwaitFailedMark(MACHINE.into())));
        assert!(ran.did(&Event::ReleasePermit(GROUP.into())));
        assert_eq!(ran.retry, Retry::Short);
    }

    h28_failed_mark_failed_write_ends_short: World {
        status_updates: [write_failure("etcdserver: request timed out")].into(),
        ..World::default()
    }.with_node(not_ready()),
    machine_pass(unknown_for(11)) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert!(ran.did(&Event::ReleasePermit(GROUP.into())));
        assert_eq!(ran.retry, Retry::Short);
    }

    h29_unhealthy_write_conflict_retries_after_conflict_delay: World {
        status_updates: [conflict()].into(),
        ..World::default()
    }.with_node(not_ready()),
    machine_pass(running(&ready())) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Conflict);
    }

    h29_node_missing_write_conflict_retries_after_conflict_delay: World {
        status_updates: [conflict()].into(),
        ..World::default()
    }, machine_pass(running(&ready())) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Conflict);
    }

    h29_join_write_conflict_retries_after_conflict_delay: World {
        status_updates: [conflict()].into(),
        ..World::default()
    }.with_node(ready()), machine_pass(pending(None)) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Conflict);
    }

    h29_creation_timeout_write_failure_retries_short: World {
        status_updates: [write_failure("apiserver unavailable")].into(),
        ..World::default()
    }, machine_pass({
        let mut m = pending(None);
        m.metadata.creation_timestamp = Some(ago(21));
        m
    }) => |ran| {
        assert_eq!(ran.status_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Short);
    }

    // ---- H30–H33: node-side sync -------------------------------------------------------

    h30_missing_machine_name_label_is_set_and_the_pass_continues: World::default().with_node({
        let mut n = ready();
        n.metadata.labels = None;
        n
    }), machine_pass(running(&ready())) => |ran| {
        ran.assert_no_machine_writes();
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].metadata.labels.as_ref().unwrap()[node_labels::MACHINE_NAME], MACHINE);
        assert_eq!(ran.retry, Retry::Long);
    }

    h30_wrong_machine_name_label_is_corrected: World::default()
        .with_node(with_node_label(ready(), node_labels::MACHINE_NAME, "machine-0")),
    machine_pass(running(&ready())) => |ran| {
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].metadata.labels.as_ref().unwrap()[node_labels::MACHINE_NAME], MACHINE);
        assert_eq!(ran.retry, Retry::Long);
    }

    h30_machine_name_label_conflict_retries_after_conflict_delay: World {
        node_updates: [conflict()].into(),
        ..World::default()
    }.with_node(with_node_label(ready(), node_labels::MACHINE_NAME, "machine-0")),
    machine_pass(running(&ready())) => |ran| {
        assert_eq!(ran.node_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Conflict);
    }

    h30_machine_name_label_write_failure_retries_short: World {
        node_updates: [write_failure("forbidden")].into(),
        ..World::default()
    }.with_node(with_node_label(ready(), node_labels::MACHINE_NAME, "machine-0")),
    machine_pass(running(&ready())) => |ran| {
        assert_eq!(ran.node_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Short);
    }

    h31_added_template_label_and_taint_are_applied: World::default().with_node(ready()),
    machine_pass({
        let mut m = running(&ready());
        m.spec.node_template.metadata.labels = Some([("role".to_owned(), "worker".to_owned())].into());
        m.spec.node_template.spec.taints = Some(vec![Taint { key: "dedicated".into(), value: Some("db".into()), effect: "NoSchedule".into(), time_added: None }]);
        m
    }) => |ran| {
        ran.assert_no_machine_writes();
        assert!(ran.node_status_writes().is_empty());
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        let n = writes[0];
        assert_eq!(n.metadata.labels.as_ref().unwrap()["role"], "worker");
        assert_eq!(n.metadata.labels.as_ref().unwrap()[node_labels::MACHINE_NAME], MACHINE);
        assert_eq!(n.spec.as_ref().unwrap().taints.as_ref().unwrap()[0].key, "dedicated");
        let applied: mcm_api::v1alpha1::NodeTemplateSpec = serde_json::from_str(
            &n.metadata.annotations.as_ref().unwrap()[node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS]).unwrap();
        assert_eq!(applied.metadata.labels.unwrap()["role"], "worker");
        assert_eq!(applied.spec.taints.unwrap().len(), 1);
        assert_eq!(ran.retry, Retry::Short);
    }

    h31_removed_template_annotation_leaves_the_node_and_unmanaged_ones_stay: World::default().with_node({
        let mut n = ready();
        let annotations = n.metadata.annotations.as_mut().unwrap();
        annotations.insert("team".into(), "a".into());
        annotations.insert("kept-by-someone-else".into(), "x".into());
        annotations.insert(node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS.into(),
            r#"{"metadata":{"annotations":{"team":"a"}},"spec":{}}"#.into());
        n
    }), machine_pass(running(&ready())) => |ran| {
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        let annotations = writes[0].metadata.annotations.as_ref().unwrap();
        assert!(!annotations.contains_key("team"));
        assert_eq!(annotations["kept-by-someone-else"], "x");
        assert_eq!(annotations[node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS],
            serde_json::to_string(&mcm_api::v1alpha1::NodeTemplateSpec::default()).unwrap());
        assert_eq!(ran.retry, Retry::Short);
    }

    h31_changed_template_label_is_updated: World::default().with_node({
        let mut n = with_node_label(ready(), "role", "worker");
        n.metadata.annotations.as_mut().unwrap().insert(node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS.into(),
            r#"{"metadata":{"labels":{"role":"worker"}},"spec":{}}"#.into());
        n
    }), machine_pass({
        let mut m = running(&ready());
        m.spec.node_template.metadata.labels = Some([("role".to_owned(), "db".to_owned())].into());
        m
    }) => |ran| {
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].metadata.labels.as_ref().unwrap()["role"], "db");
        assert_eq!(ran.retry, Retry::Short);
    }

    h31_node_without_annotations_gets_the_last_applied_template: World::default().with_node({
        let mut n = ready();
        n.metadata.annotations = None;
        n
    }), machine_pass(running(&ready())) => |ran| {
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        assert!(writes[0].metadata.annotations.as_ref().unwrap().contains_key(node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS));
        assert_eq!(ran.retry, Retry::Short);
    }

    h31_template_write_conflict_retries_after_conflict_delay: World {
        node_updates: [conflict()].into(),
        ..World::default()
    }.with_node(ready()), machine_pass({
        let mut m = running(&ready());
        m.spec.node_template.metadata.labels = Some([("role".to_owned(), "worker".to_owned())].into());
        m
    }) => |ran| {
        assert_eq!(ran.node_writes().len(), 1);
        assert_eq!(ran.retry, Retry::Conflict);
    }

    h32_virtual_capacity_is_written_to_node_status_then_recorded: World {
        class: Lookup::Found(class_with_virtual_capacity(&[("example.com/dongle", "2")])),
        ..World::default()
    }.with_node(ready()), machine_pass(running(&ready())) => |ran| {
        let status_writes = ran.node_status_writes();
        assert_eq!(status_writes.len(), 1);
        assert_eq!(status_writes[0].status.as_ref().unwrap().capacity.as_ref().unwrap()["example.com/dongle"], Quantity("2".into()));
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        let recorded: std::collections::BTreeMap<String, Quantity> = serde_json::from_str(
            &writes[0].metadata.annotations.as_ref().unwrap()[node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY]).unwrap();
        assert_eq!(recorded["example.com/dongle"], Quantity("2".into()));
        // Status first, then the bookkeeping annotation.
        let status_at = ran.events.iter().position(|e| matches!(e, Event::UpdateNodeStatus(_))).unwrap();
        let node_at = ran.events.iter().position(|e| matches!(e, Event::UpdateNode(_))).unwrap();
        assert!(status_at < node_at);
        assert_eq!(ran.retry, Retry::Short);
    }

    h32_removed_virtual_capacity_leaves_the_node_with_its_annotation: World {
        class: Lookup::Found(class_with_virtual_capacity(&[])),
        ..World::default()
    }.with_node({
        let mut n = with_node_annotation(ready(), node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY, r#"{"example.com/dongle":"2"}"#);
        n.status.as_mut().unwrap().capacity = Some([
            ("cpu".to_owned(), Quantity("2".into())),
            ("example.com/dongle".to_owned(), Quantity("2".into())),
        ].into());
        n
    }), machine_pass(running(&ready())) => |ran| {
        let status_writes = ran.node_status_writes();
        assert_eq!(status_writes.len(), 1);
        let capacity = status_writes[0].status.as_ref().unwrap().capacity.as_ref().unwrap();
        assert!(!capacity.contains_key("example.com/dongle"));
        assert!(capacity.contains_key("cpu"));
        let writes = ran.node_writes();
        assert_eq!(writes.len(), 1);
        assert!(!writes[0].metadata.annotations.as_ref().unwrap().contains_key(node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY));
        assert_eq!(ran.retry, Retry::Short);
    }

    h32_failed_capacity_write_ends_short_before_the_node_update: World {
        class: Lookup::Found(class_with_virtual_capacity(&[("example.com/dongle", "2")])),
        node_status_updates: [conflict()].into(),
        ..World::default()
    }.with_node(ready()), machine_pass(running(&ready())) => |ran| {
        assert_eq!(ran.node_status_writes().len(), 1);
        assert!(ran.node_writes().is_empty());
        assert_eq!(ran.retry, Retry::Short);
    }

    h32_converged_virtual_capacity_is_quiet: World {
        class: Lookup::Found(class_with_virtual_capacity(&[("example.com/dongle", "2")])),
        ..World::default()
    }.with_node({
        let mut n = with_node_annotation(ready(), node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY, r#"{"example.com/dongle":"2"}"#);
        n.status.as_mut().unwrap().capacity = Some([("example.com/dongle".to_owned(), Quantity("2".into()))].into());
        n
    }), machine_pass(running(&ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Long);
    }

    h33_unparsable_last_applied_template_ends_short: World::default()
        .with_node(with_node_annotation(ready(), node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS, "{not json")),
    machine_pass(running(&ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }

    h33_unparsable_last_applied_capacity_ends_short: World::default()
        .with_node(with_node_annotation(ready(), node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY, "[1,")),
    machine_pass(running(&ready())) => |ran| {
        assert_quiet(&ran);
        assert_eq!(ran.retry, Retry::Short);
    }
}
