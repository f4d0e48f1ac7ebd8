//! §10.5 Safety (S1–S18): the orphan sweep (`flow::safety::orphan_sweep` over
//! `decide::safety::classify_vm` / `classify_node` / `orphan_node_patch`), the
//! API-server check (`flow::safety::api_server_check` over `check_api_servers`) and
//! the frozen machine pass. `None` as the sweep's result means "only the periodic
//! requeue"; `Some(retry)` is the extra requeue the rows list as "(plus period)".

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::SignedDuration;
use mcm_api::Code;
use mcm_api::driver::{DriverResult, ListMachinesResponse};
use mcm_api::v1alpha1::{Machine, MachineClass, MachineOperationType, MachinePhase, MachineState};
use mcm_api::well_known::{finalizers, node_annotations};
use mcm_machine_controller::Retry;
use mcm_machine_controller::decide::lookup::Lookup;
use mcm_machine_controller::decide::safety::{
    FreezeState, NextCheck, NodeVerdict, UNFREEZE_DESCRIPTION, VmVerdict, classify_node,
    classify_vm,
};
use mcm_machine_controller::flow::safety::UNFREEZE_REQUEUE;

use crate::queue_support::*;
use crate::support::*;

const OTHER_FINALIZER: &str = "example.com/keep-me";

fn class_named(name: &str) -> MachineClass {
    let mut class = class();
    class.metadata.name = Some(name.into());
    class
}

fn listing(vms: &[(&str, &str)]) -> DriverResult<ListMachinesResponse> {
    Ok(ListMachinesResponse {
        machine_list: vms
            .iter()
            .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
            .collect(),
    })
}

/// A Machine named `name` with providerID `provider_id` in `phase`.
fn owner(name: &str, provider_id: &str, phase: MachinePhase) -> Machine {
    let mut machine = created_machine(phase);
    machine.metadata.name = Some(name.into());
    machine.spec.provider_id = provider_id.into();
    machine
}

/// One class (`class-1`, whose secret is readable) listing these VMs.
fn sweeping(vms: &[(&str, &str)], machines: Vec<Machine>) -> OrphanWorld {
    OrphanWorld {
        classes: vec![class()],
        secrets: [(SECRET.to_owned(), Lookup::Found(secret_data()))].into(),
        listed: [(CLASS.to_owned(), listing(vms))].into(),
        machines,
        ..OrphanWorld::default()
    }
}

/// Classes `a`, `b`, `c` (all readable), `a` answering ListMachines with `first`
/// and `b`/`c` each listing one orphan VM.
fn three_classes(first: DriverResult<ListMachinesResponse>) -> OrphanWorld {
    OrphanWorld {
        classes: vec![class_named("a"), class_named("b"), class_named("c")],
        secrets: [(SECRET.to_owned(), Lookup::Found(secret_data()))].into(),
        listed: [
            ("a".to_owned(), first),
            ("b".to_owned(), listing(&[("p-b", "gone-b")])),
            ("c".to_owned(), listing(&[("p-c", "gone-c")])),
        ]
        .into(),
        ..OrphanWorld::default()
    }
}

/// A Node `name`, `minutes` old, with these finalizers and optionally the
/// not-managed annotation.
fn aged_node(name: &str, minutes: i64, finalizer_list: &[&str], not_managed: bool) -> Node {
    let mut node = node(vec![condition("Ready", "True")]);
    node.metadata.name = Some(name.into());
    node.metadata.creation_timestamp = Some(ago(minutes));
    node.metadata.finalizers = Some(finalizer_list.iter().map(|f| (*f).to_owned()).collect());
    if not_managed {
        node.metadata.annotations = Some(
            [(
                node_annotations::NOT_MANAGED_BY_MCM.to_owned(),
                "1".to_owned(),
            )]
            .into(),
        );
    }
    node
}

fn nodes_only(nodes: Vec<Node>, machines: Vec<Machine>) -> OrphanWorld {
    OrphanWorld {
        nodes,
        machines,
        ..OrphanWorld::default()
    }
}

fn mark_patch(finalizers_left: &[&str]) -> serde_json::Value {
    serde_json::json!({"metadata": {
        "finalizers": finalizers_left,
        "annotations": {node_annotations::NOT_MANAGED_BY_MCM: "1"}
    }})
}

fn frozen() -> FreezeState {
    FreezeState {
        frozen: true,
        inactive_since: Some(now() - SignedDuration::from_secs(60)),
    }
}

fn unknown_machine(name: &str) -> Machine {
    let mut machine = created_machine(MachinePhase::Unknown);
    machine.metadata.name = Some(name.into());
    machine
}

rows! {
    s1_vm_of_its_machine_is_kept: sweeping(
        &[("p1", "m1")],
        vec![owner("m1", "p1", MachinePhase::Running)],
    ), sweep() => |done| {
        assert_eq!(
            classify_vm("p1", Some(&owner("m1", "p1", MachinePhase::Running))),
            VmVerdict::Keep
        );
        assert_eq!(done.listed(), [CLASS]);
        assert!(done.deleted().is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, None);
    }

    s2_second_vm_of_a_running_machine_is_deleted_with_a_stand_in: sweeping(
        &[("p2", "m1")],
        vec![owner("m1", "p1", MachinePhase::Running)],
    ), sweep() => |done| {
        let deleted = done.deleted();
        assert_eq!(deleted.len(), 1, "{:#?}", done.acts);
        let stand_in = deleted[0];
        assert_eq!(stand_in.name(), "m1");
        assert_eq!(stand_in.namespace(), NAMESPACE);
        assert_eq!(stand_in.spec.provider_id, "p2");
        assert!(stand_in.metadata.labels.is_none() && stand_in.metadata.annotations.is_none());
        assert_eq!(stand_in.status, Default::default());
        assert_eq!(
            done.acts[1],
            Act::DeleteMachine { class: CLASS.into(), machine: stand_in.clone() }
        );
        assert_eq!(done.result, None);
    }

    s3_vm_of_a_machine_in_creation_is_kept: sweeping(
        &[("p2", "m1"), ("p3", "m2")],
        vec![
            owner("m1", "", MachinePhase::Unset),
            owner("m2", "p1", MachinePhase::CrashLoopBackOff),
        ],
    ), sweep() => |done| {
        assert!(done.deleted().is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, None);
    }

    s3_vm_of_a_failed_machine_with_another_provider_id_is_not_kept: sweeping(
        &[("p2", "m1")],
        vec![owner("m1", "p1", MachinePhase::Failed)],
    ), sweep() => |done| {
        assert_eq!(done.deleted().len(), 1);
    }

    s4_vm_without_a_machine_is_deleted: sweeping(&[("p3", "gone")], vec![]), sweep() => |done| {
        let deleted = done.deleted();
        assert_eq!(deleted.len(), 1);
        assert_eq!((deleted[0].name(), deleted[0].spec.provider_id.as_str()), ("gone", "p3"));
        assert_eq!(done.result, None);
    }

    s4_failed_orphan_delete_is_only_logged_and_the_sweep_goes_on: OrphanWorld {
        deletes: [err(Code::Unavailable, "cloud down")].into(),
        ..sweeping(&[("p3", "gone"), ("p4", "gone-too")], vec![])
    }, sweep() => |done| {
        let names: Vec<&str> = done.deleted().iter().map(|m| m.name()).collect();
        assert_eq!(names, ["gone", "gone-too"]);
        assert_eq!(done.result, None);
    }

    s5_failing_list_machines_skips_the_classes_after_it: three_classes(
        err(Code::Internal, "list failed"),
    ), sweep() => |done| {
        assert_eq!(done.listed(), ["a"]);
        assert!(done.deleted().is_empty());
        assert_eq!(done.result, Some(Retry::Long));
    }

    s5_classes_before_the_failing_one_are_swept: OrphanWorld {
        classes: vec![class_named("b"), class_named("a"), class_named("c")],
        ..three_classes(err(Code::Internal, "list failed"))
    }, sweep() => |done| {
        assert_eq!(done.listed(), ["b", "a"]);
        let names: Vec<&str> = done.deleted().iter().map(|m| m.name()).collect();
        assert_eq!(names, ["gone-b"]);
        assert_eq!(done.result, Some(Retry::Long));
    }

    s5_node_sweep_still_runs_after_a_failing_class: OrphanWorld {
        nodes: vec![aged_node("lonely", 30, &[finalizers::NODE], false)],
        ..three_classes(err(Code::Internal, "list failed"))
    }, sweep() => |done| {
        assert_eq!(done.node_patches(), [("lonely", &mark_patch(&[]))]);
        assert_eq!(done.result, Some(Retry::Long));
    }

    s6_young_node_without_machine_is_left_alone: nodes_only(
        vec![aged_node("young", 19, &[finalizers::NODE], false)],
        vec![],
    ), sweep() => |done| {
        assert!(done.acts.is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, None);
    }

    s7_old_node_without_machine_loses_our_finalizer_and_is_marked_not_managed: nodes_only(
        vec![aged_node("lonely", 30, &[OTHER_FINALIZER, finalizers::NODE], false)],
        vec![],
    ), sweep() => |done| {
        assert_eq!(done.node_patches(), [("lonely", &mark_patch(&[OTHER_FINALIZER]))]);
        assert_eq!(done.result, None);
    }

    s7_node_without_our_finalizer_only_gets_the_annotation: nodes_only(
        vec![aged_node("lonely", 30, &[OTHER_FINALIZER], false)],
        vec![],
    ), sweep() => |done| {
        let expected = serde_json::json!({"metadata": {
            "annotations": {node_annotations::NOT_MANAGED_BY_MCM: "1"}
        }});
        assert_eq!(done.node_patches(), [("lonely", &expected)]);
    }

    s7_marked_node_is_not_written_again: nodes_only(
        vec![aged_node("lonely", 30, &[OTHER_FINALIZER], true)],
        vec![],
    ), sweep() => |done| {
        assert!(done.acts.is_empty(), "{:#?}", done.acts);
    }

    s8_owned_node_loses_the_not_managed_annotation: nodes_only(
        vec![aged_node(NODE, 30, &[finalizers::NODE], true)],
        vec![created_machine(MachinePhase::Running)],
    ), sweep() => |done| {
        let expected = serde_json::json!({"metadata": {
            "annotations": {node_annotations::NOT_MANAGED_BY_MCM: null}
        }});
        assert_eq!(done.node_patches(), [(NODE, &expected)]);
        assert_eq!(done.result, None);
    }

    s8_node_claimed_by_several_machines_is_only_logged: nodes_only(
        vec![aged_node(NODE, 30, &[], true)],
        vec![created_machine(MachinePhase::Running), {
            let mut second = created_machine(MachinePhase::Running);
            second.metadata.name = Some("machine-2".into());
            second
        }],
    ), sweep() => |done| {
        assert!(done.acts.is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, None);
    }

    s11_frozen_controller_ends_the_machine_pass_long: World { frozen: true, ..World::default() }
        .with_node(synced(ready_node())),
    machine_pass(created_machine(MachinePhase::Running)) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty(), "{:#?}", ran.events);
    }

    s11_frozen_controller_still_hands_deletions_to_the_termination_queue: World {
        frozen: true,
        ..World::default()
    }, machine_pass({
        let mut m = created_machine(MachinePhase::Running);
        m.metadata.deletion_timestamp = Some(ago(0));
        m
    }) => |ran| {
        assert_eq!(ran.events, [Event::EnqueueTermination]);
    }

    s12_reachable_while_not_frozen_does_nothing_but_reset_the_inactivity_clock: ApiWorld {
        state: FreezeState {
            frozen: false,
            inactive_since: Some(now() - SignedDuration::from_secs(20)),
        },
        machines: vec![unknown_machine("m1")],
        ..ApiWorld::default()
    }, check(true) => |checked| {
        // Go keeps inactiveSince (quirk 8); we reset it (docs/contract-deviations.md).
        assert_eq!(checked.state, FreezeState::default());
        assert!(checked.acts.is_empty(), "{:#?}", checked.acts);
        assert_eq!(checked.result, Ok(NextCheck::Period));
        assert_eq!(checked.next_delay(), Some(Duration::from_secs(60)));
    }

    s13_first_unreachable_pass_starts_the_clock: ApiWorld::default(), check(false) => |checked| {
        assert_eq!(
            checked.state,
            FreezeState { frozen: false, inactive_since: Some(now()) }
        );
        assert_eq!(checked.result, Ok(NextCheck::TimeoutFifth));
        assert_eq!(checked.next_delay(), Some(Duration::from_secs(6)));
        assert!(checked.acts.is_empty());
    }

    s14_frozen_and_still_unreachable_does_nothing: ApiWorld {
        state: frozen(),
        machines: vec![unknown_machine("m1")],
        ..ApiWorld::default()
    }, check(false) => |checked| {
        assert_eq!(checked.state, frozen());
        assert!(checked.acts.is_empty(), "{:#?}", checked.acts);
        assert_eq!(checked.next_delay(), Some(Duration::from_secs(60)));
    }

    s15_failed_unfreeze_write_keeps_the_controller_frozen: ApiWorld {
        state: frozen(),
        machines: vec![unknown_machine("u1"), created_machine(MachinePhase::Running), unknown_machine("u2"), unknown_machine("u3")],
        writes: [Ok(()), failed("etcd timeout")].into(),
        ..ApiWorld::default()
    }, check(true) => |checked| {
        assert_eq!(checked.result, Err(Retry::RateLimited));
        assert_eq!(checked.state, frozen());
        // u1 and machine-1 were handled before the failure: reset and enqueued; u2's
        // write failed (not enqueued); u3 was not reached.
        let written: Vec<&str> = checked.status_writes().iter().map(|m| m.name()).collect();
        assert_eq!(written, ["u1", "u2"]);
        let requeued: Vec<&str> = checked.requeued().iter().map(|(k, _)| *k).collect();
        assert_eq!(requeued, [format!("{NAMESPACE}/u1"), format!("{NAMESPACE}/{MACHINE}")]);
    }

    s15_failed_fresh_get_keeps_the_controller_frozen: ApiWorld {
        state: frozen(),
        machines: vec![unknown_machine("u1"), unknown_machine("u2")],
        gets: [Ok(()), Err("connection reset".to_owned())].into(),
        ..ApiWorld::default()
    }, check(true) => |checked| {
        assert_eq!(checked.result, Err(Retry::RateLimited));
        assert!(checked.state.frozen);
        assert_eq!(
            checked.acts.iter().filter(|a| matches!(a, Act::GetMachine(_))).count(),
            2
        );
        assert_eq!(checked.status_writes().len(), 1);
        assert_eq!(checked.requeued().len(), 1);
    }

    s16_unimplemented_list_machines_stops_the_sweep: three_classes(
        err(Code::Unimplemented, "ListMachines is not implemented"),
    ), sweep() => |done| {
        assert_eq!(done.listed(), ["a"]);
        assert!(done.deleted().is_empty());
        assert_eq!(done.result, Some(Retry::Long));
    }

    s17_unreadable_secret_stops_the_sweep: OrphanWorld {
        secrets: [(SECRET.to_owned(), Lookup::Failed("etcd timeout".into()))].into(),
        ..three_classes(listing(&[]))
    }, sweep() => |done| {
        assert!(done.listed().is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, Some(Retry::Long));
    }

    s17_missing_secret_is_empty_data_and_the_sweep_goes_on: OrphanWorld {
        secrets: Default::default(),
        ..three_classes(listing(&[]))
    }, sweep() => |done| {
        assert_eq!(done.listed(), ["a", "b", "c"]);
        assert_eq!(done.result, None);
    }

    s18_failed_node_update_skips_the_remaining_nodes: OrphanWorld {
        node_patches: [Err("admission webhook said no".to_owned())].into(),
        ..nodes_only(
            vec![
                aged_node("lonely-1", 30, &[finalizers::NODE], false),
                aged_node("lonely-2", 30, &[finalizers::NODE], false),
            ],
            vec![],
        )
    }, sweep() => |done| {
        let patched: Vec<&str> = done.node_patches().iter().map(|(n, _)| *n).collect();
        assert_eq!(patched, ["lonely-1"]);
        assert_eq!(done.result, Some(Retry::Medium));
    }

    s18_failed_annotation_removal_also_stops_the_sweep: OrphanWorld {
        node_patches: [Err("conflict".to_owned())].into(),
        ..nodes_only(
            vec![
                aged_node(NODE, 30, &[], true),
                aged_node("lonely", 30, &[finalizers::NODE], false),
            ],
            vec![created_machine(MachinePhase::Running)],
        )
    }, sweep() => |done| {
        let patched: Vec<&str> = done.node_patches().iter().map(|(n, _)| *n).collect();
        assert_eq!(patched, [NODE]);
        assert_eq!(done.result, Some(Retry::Medium));
    }
}

#[test]
fn s6_s7_node_age_is_compared_with_the_creation_timeout_flag() {
    let timeout = SignedDuration::from_mins(20);
    let verdict = |minutes| {
        classify_node(
            &aged_node("n", minutes, &[], false),
            0,
            false,
            timeout,
            now(),
        )
    };
    assert_eq!(verdict(19), NodeVerdict::Leave);
    // Go skips only while `time.Since(created) < timeout`.
    assert_eq!(verdict(20), NodeVerdict::MarkUnmanaged);
    assert_eq!(verdict(21), NodeVerdict::MarkUnmanaged);
}

#[test]
fn s9_unreachable_for_more_than_the_timeout_freezes_and_checks_again_in_6s() {
    let mut world = ApiWorld {
        machines: vec![unknown_machine("m1")],
        ..ApiWorld::default()
    };
    for seconds in [0, 6, 12, 18, 24, 30] {
        let checked = world.check_at(false, seconds);
        assert!(!checked.state.frozen, "frozen after {seconds} s");
        assert_eq!(checked.state.inactive_since, Some(now()));
        assert_eq!(checked.result, Ok(NextCheck::TimeoutFifth));
    }
    let checked = world.check_at(false, 31);
    assert!(checked.state.frozen);
    // The freezing pass is still an unreachable pass: back after timeout / 5.
    assert_eq!(checked.result, Ok(NextCheck::TimeoutFifth));
    assert_eq!(checked.next_delay(), Some(Duration::from_secs(6)));
    assert!(checked.acts.is_empty(), "freezing writes nothing");
    // Next pass, still unreachable: S14.
    let checked = world.check_at(false, 37);
    assert!(checked.state.frozen);
    assert_eq!(checked.result, Ok(NextCheck::Period));
}

#[test]
fn s10_reachable_again_resets_unknown_machines_requeues_all_and_unfreezes() {
    let cached = unknown_machine("u1");
    let mut fresh = cached.clone();
    fresh.metadata.resource_version = Some("42".into());
    fresh.status.current_status.preserve_expiry_time = Some(ago(-60));
    fresh.status.current_status.timeout_active = true;
    let running = created_machine(MachinePhase::Running);
    let world = ApiWorld {
        state: frozen(),
        machines: vec![cached, running],
        fresh: [("u1".to_owned(), fresh)].into(),
        ..ApiWorld::default()
    };
    let checked = world.check(true);
    assert_eq!(checked.result, Ok(NextCheck::Period));
    assert_eq!(checked.next_delay(), Some(Duration::from_secs(60)));
    assert_eq!(checked.state, FreezeState::default());
    assert_eq!(checked.acts[0], Act::GetMachine("u1".into()));
    let writes = checked.status_writes();
    assert_eq!(writes.len(), 1, "only the Unknown machine is written");
    let written = writes[0];
    assert_eq!(written.metadata.resource_version.as_deref(), Some("42"));
    let lo = &written.status.last_operation;
    assert_eq!(lo.description, UNFREEZE_DESCRIPTION);
    assert_eq!(lo.state, MachineState::Successful);
    assert_eq!(lo.type_, MachineOperationType::HealthCheck);
    assert_eq!(lo.last_update_time.as_ref().map(|t| t.0), Some(now()));
    let cs = &written.status.current_status;
    assert_eq!(cs.phase, MachinePhase::Running);
    assert!(!cs.timeout_active);
    assert_eq!(cs.preserve_expiry_time, Some(ago(-60)), "PET kept");
    assert_eq!(
        checked.requeued(),
        [
            (format!("{NAMESPACE}/u1").as_str(), UNFREEZE_REQUEUE),
            (format!("{NAMESPACE}/{MACHINE}").as_str(), UNFREEZE_REQUEUE),
        ]
    );
    assert_eq!(UNFREEZE_REQUEUE, Duration::from_secs(30));
}

#[test]
fn s12_recovery_before_the_freeze_gives_the_next_outage_the_full_timeout() {
    let mut world = ApiWorld::default();
    world.check_at(false, 0);
    world.check_at(true, 20);
    // Go would freeze here (inactiveSince still 0 s, 40 s > 30 s).
    let checked = world.check_at(false, 40);
    assert!(!checked.state.frozen);
    assert_eq!(
        checked.state.inactive_since,
        Some(now() + SignedDuration::from_secs(40))
    );
    assert!(!world.check_at(false, 70).state.frozen);
    assert!(world.check_at(false, 71).state.frozen);
}
