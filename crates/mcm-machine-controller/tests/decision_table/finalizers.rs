//! §10.6 Finalizer controllers (F1–F9: `flow::finalizers` over
//! `decide::finalizers`) and the node controller (N1–N11: `flow::nodes` and the
//! Node event reactions of `decide::node_events`).

use k8s_openapi::api::core::v1::{Node, SecretReference};
use mcm_api::v1alpha1::{Machine, MachineClass, MachinePhase};
use mcm_api::well_known::{finalizers, node_annotations};
use mcm_machine_controller::Retry;
use mcm_machine_controller::decide::finalizers::{
    ClassFinalizerAction, class_finalizer_action, secret_is_referenced,
};
use mcm_machine_controller::decide::lookup::WriteError;
use mcm_machine_controller::decide::node_events::{
    NodePassAction, NodeUpdateReaction, node_pass, on_node_add, on_node_delete, on_node_update,
};
use mcm_machine_controller::flow::finalizers::SecretPass;

use crate::queue_support::*;
use crate::support::*;

const CREDENTIALS: &str = "credentials-1";
const OTHER_FINALIZER: &str = "example.com/keep-me";

fn machine_key(name: &str) -> String {
    format!("{NAMESPACE}/{name}")
}

fn named(mut machine: Machine, name: &str) -> Machine {
    machine.metadata.name = Some(name.into());
    machine
}

fn deleting(mut machine: Machine) -> Machine {
    machine.metadata.deletion_timestamp = Some(ago(1));
    machine
}

fn of_class(mut machine: Machine, kind: &str, class: &str) -> Machine {
    machine.spec.class.kind = kind.into();
    machine.spec.class.name = class.into();
    machine
}

fn with_class_finalizer(present: bool) -> MachineClass {
    let mut class = class();
    class.metadata.finalizers = Some(if present {
        vec![
            OTHER_FINALIZER.to_owned(),
            finalizers::MACHINE_CONTROLLER_MANAGER.to_owned(),
        ]
    } else {
        vec![OTHER_FINALIZER.to_owned()]
    });
    class
}

fn deleting_class(finalizer: bool) -> MachineClass {
    let mut class = with_class_finalizer(finalizer);
    class.metadata.deletion_timestamp = Some(ago(1));
    class
}

fn classes(classes: Vec<MachineClass>, machines: Vec<Machine>) -> ControllerWorld {
    ControllerWorld {
        classes,
        machines,
        ..ControllerWorld::default()
    }
}

/// A class referencing `credentials-1` only through `credentialsSecretRef`, in
/// another namespace than the controller's.
fn credentials_class() -> MachineClass {
    let mut class = class();
    class.secret_ref = Some(SecretReference {
        name: Some(SECRET.into()),
        namespace: Some(NAMESPACE.into()),
    });
    class.credentials_secret_ref = Some(SecretReference {
        name: Some(CREDENTIALS.into()),
        namespace: Some("elsewhere".into()),
    });
    class
}

fn secrets(finalizers_of: &[(&str, &[&str])], classes: Vec<MachineClass>) -> ControllerWorld {
    ControllerWorld {
        classes,
        secrets: finalizers_of
            .iter()
            .map(|(name, list)| {
                (
                    (*name).to_owned(),
                    list.iter().map(|f| (*f).to_owned()).collect(),
                )
            })
            .collect(),
        ..ControllerWorld::default()
    }
}

fn resynced(retry: Retry) -> SecretPass {
    SecretPass {
        retry,
        resync: true,
    }
}

const DROPPED: SecretPass = SecretPass {
    retry: Retry::Never,
    resync: false,
};

/// The Machine's Node (`node-1`) with these finalizers.
fn node_with(finalizer_list: &[&str]) -> Node {
    let mut node = ready_node();
    node.metadata.finalizers = Some(finalizer_list.iter().map(|f| (*f).to_owned()).collect());
    node
}

fn finalized() -> Node {
    node_with(&[finalizers::NODE])
}

fn deleting_node() -> Node {
    let mut node = finalized();
    node.metadata.deletion_timestamp = Some(ago(0));
    node
}

fn not_managed(mut node: Node) -> Node {
    node.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(node_annotations::NOT_MANAGED_BY_MCM.into(), "1".into());
    node
}

fn running() -> Machine {
    let mut machine = created_machine(MachinePhase::Running);
    machine.status.conditions = vec![condition("Ready", "True")];
    machine
}

fn nodes(nodes: Vec<Node>, machines: Vec<Machine>) -> ControllerWorld {
    ControllerWorld {
        nodes,
        machines,
        ..ControllerWorld::default()
    }
}

fn not_ready(mut node: Node) -> Node {
    node.status.get_or_insert_with(Default::default).conditions =
        Some(vec![condition("Ready", "False")]);
    node
}

fn tainted(mut node: Node) -> Node {
    node.spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new)
        .push(critical_taint());
    node
}

fn annotated(mut node: Node, key: &str, value: &str) -> Node {
    node.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
    node
}

fn enqueue_only() -> NodeUpdateReaction {
    NodeUpdateReaction {
        enqueue_machine: true,
        ..NodeUpdateReaction::default()
    }
}

rows! {
    f1_used_class_gets_the_finalizer_and_its_live_machines_are_enqueued: classes(
        vec![with_class_finalizer(false)],
        vec![
            named(machine(), "live"),
            named(deleting(machine()), "leaving"),
            named(of_class(machine(), "MachineClass", "other-class"), "stranger"),
        ],
    ), class_pass(CLASS) => |done| {
        assert_eq!(
            done.acts,
            [
                Act::SetClassFinalizer(CLASS.into(), true),
                Act::EnqueueMachine(machine_key("live")),
            ]
        );
        assert_eq!(done.result, Retry::Long);
    }

    f1_class_that_has_the_finalizer_only_enqueues: classes(
        vec![with_class_finalizer(true)],
        vec![named(machine(), "live")],
    ), class_pass(CLASS) => |done| {
        assert_eq!(done.acts, [Act::EnqueueMachine(machine_key("live"))]);
        assert_eq!(done.result, Retry::Long);
    }

    f1_machines_of_another_class_kind_do_not_count: classes(
        vec![with_class_finalizer(false)],
        vec![of_class(machine(), "AWSMachineClass", CLASS)],
    ), class_pass(CLASS) => |done| {
        // Quirk: only kind `MachineClass` references count, so this is F2/F4 (no
        // finalizer to remove here).
        assert!(done.acts.is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, Retry::Long);
    }

    f2_unused_class_loses_the_finalizer: classes(vec![with_class_finalizer(true)], vec![]),
    class_pass(CLASS) => |done| {
        assert_eq!(done.acts, [Act::SetClassFinalizer(CLASS.into(), false)]);
        assert_eq!(done.result, Retry::Long);
    }

    f3_deleting_class_with_a_terminating_machine_keeps_the_finalizer: classes(
        vec![deleting_class(true)],
        vec![deleting(created_machine(MachinePhase::Terminating))],
    ), class_pass(CLASS) => |done| {
        assert_eq!(
            class_finalizer_action(&deleting_class(true), &[deleting(machine())]),
            ClassFinalizerAction::Blocked
        );
        assert!(done.acts.is_empty(), "{:#?}", done.acts);
        assert_eq!(done.result, Retry::Short);
    }

    f4_deleting_class_without_machines_loses_the_finalizer: classes(
        vec![deleting_class(true)],
        vec![],
    ), class_pass(CLASS) => |done| {
        assert_eq!(done.acts, [Act::SetClassFinalizer(CLASS.into(), false)]);
        assert_eq!(done.result, Retry::Long);
    }

    f4_gone_class_is_dropped: classes(vec![], vec![machine()]), class_pass(CLASS) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }

    f5_secret_referenced_by_credentials_secret_ref_gets_the_finalizer: secrets(
        &[(CREDENTIALS, &[OTHER_FINALIZER])],
        vec![credentials_class()],
    ), secret_pass(&machine_key(CREDENTIALS)) => |done| {
        // The reference's namespace ("elsewhere") is not compared (quirk 9).
        assert!(secret_is_referenced(CREDENTIALS, &[credentials_class()]));
        assert_eq!(done.acts, [Act::SetSecretFinalizer(CREDENTIALS.into(), true)]);
        assert_eq!(done.result, resynced(Retry::Never));
    }

    f5_secret_that_has_the_finalizer_is_not_written: secrets(
        &[(SECRET, &[finalizers::SECRET])],
        vec![class()],
    ), secret_pass(&machine_key(SECRET)) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, resynced(Retry::Never));
    }

    f5_failed_secret_finalizer_write_is_rate_limited_and_still_resynced: ControllerWorld {
        finalizer_writes: [Err("conflict".to_owned())].into(),
        ..secrets(&[(SECRET, &[])], vec![class()])
    }, secret_pass(&machine_key(SECRET)) => |done| {
        assert_eq!(done.acts, [Act::SetSecretFinalizer(SECRET.into(), true)]);
        assert_eq!(done.result, resynced(Retry::RateLimited));
    }

    f6_unreferenced_secret_loses_the_finalizer: secrets(
        &[("unused", &[OTHER_FINALIZER, finalizers::SECRET])],
        vec![class()],
    ), secret_pass(&machine_key("unused")) => |done| {
        assert_eq!(done.acts, [Act::SetSecretFinalizer("unused".into(), false)]);
        assert_eq!(done.result, resynced(Retry::Never));
    }

    f7_secret_in_another_namespace_is_ignored: secrets(
        &[(SECRET, &[])],
        vec![class()],
    ), secret_pass(&format!("elsewhere/{SECRET}")) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, DROPPED);
    }

    f8_gone_secret_has_no_periodic_requeue: secrets(&[], vec![class()]),
    secret_pass(&machine_key(SECRET)) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, DROPPED);
    }

    f9_failed_class_finalizer_addition_retries_short_without_enqueueing: ControllerWorld {
        finalizer_writes: [Err("the object has been modified".to_owned())].into(),
        ..classes(vec![with_class_finalizer(false)], vec![named(machine(), "live")])
    }, class_pass(CLASS) => |done| {
        assert_eq!(done.acts, [Act::SetClassFinalizer(CLASS.into(), true)]);
        assert_eq!(done.result, Retry::Short);
    }

    f9_failed_class_finalizer_removal_retries_short: ControllerWorld {
        finalizer_writes: [Err("GET failed: connection refused".to_owned())].into(),
        ..classes(vec![deleting_class(true)], vec![])
    }, class_pass(CLASS) => |done| {
        assert_eq!(done.acts, [Act::SetClassFinalizer(CLASS.into(), false)]);
        assert_eq!(done.result, Retry::Short);
    }

    n1_node_of_a_live_machine_gets_the_finalizer_by_merge_patch: nodes(
        vec![node_with(&[OTHER_FINALIZER])],
        vec![running()],
    ), node_pass(NODE) => |done| {
        assert_eq!(
            done.acts,
            [Act::PatchNodeFinalizers(
                NODE.into(),
                vec![OTHER_FINALIZER.into(), finalizers::NODE.into()],
            )]
        );
        assert_eq!(done.result, Retry::Never);
    }

    n1_node_that_has_the_finalizer_is_not_written: nodes(vec![finalized()], vec![running()]),
    node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }

    n1_node_of_a_deleting_machine_gets_no_finalizer: nodes(
        vec![node_with(&[])],
        vec![deleting(running())],
    ), node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }

    n1_failed_finalizer_patch_is_rate_limited: ControllerWorld {
        node_patches: [Err("timeout".to_owned())].into(),
        ..nodes(vec![node_with(&[])], vec![running()])
    }, node_pass(NODE) => |done| {
        assert_eq!(done.acts.len(), 1);
        assert_eq!(done.result, Retry::RateLimited);
    }

    n2_deleting_node_deletes_its_machine: nodes(vec![deleting_node()], vec![running()]),
    node_pass(NODE) => |done| {
        assert_eq!(done.acts, [Act::DeleteMachineObject(MACHINE.into())]);
        assert_eq!(done.result, Retry::Never);
    }

    n2_deleting_node_of_a_deleting_machine_does_nothing: nodes(
        vec![deleting_node()],
        vec![deleting(running())],
    ), node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }

    n2_failed_machine_delete_in_the_node_pass_is_rate_limited: ControllerWorld {
        machine_deletes: [Err(WriteError::Other("forbidden".into()))].into(),
        ..nodes(vec![deleting_node()], vec![running()])
    }, node_pass(NODE) => |done| {
        assert_eq!(done.result, Retry::RateLimited);
    }

    n3_not_managed_node_is_ignored_by_the_node_pass: nodes(
        vec![not_managed(node_with(&[]))],
        vec![running()],
    ), node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }

    n7_failed_delete_on_a_node_delete_event_is_only_logged: ControllerWorld {
        machine_deletes: [Err(WriteError::Other("etcd timeout".into()))].into(),
        ..ControllerWorld::default()
    }, delete_for_node((running(), None)) => |done| {
        assert_eq!(done.acts, [Act::DeleteMachineObject(MACHINE.into())]);
    }

    n8_failed_delete_on_a_node_update_requeues_the_node_short: ControllerWorld {
        machine_deletes: [Err(WriteError::Other("etcd timeout".into()))].into(),
        ..ControllerWorld::default()
    }, delete_for_node((running(), Some(NODE))) => |done| {
        assert_eq!(
            done.acts,
            [
                Act::DeleteMachineObject(MACHINE.into()),
                Act::EnqueueNodeAfter(NODE.into(), Retry::Short),
            ]
        );
    }

    n8_machine_already_gone_needs_no_requeue: ControllerWorld {
        machine_deletes: [Err(WriteError::NotFound)].into(),
        ..ControllerWorld::default()
    }, delete_for_node((running(), Some(NODE))) => |done| {
        assert_eq!(done.acts, [Act::DeleteMachineObject(MACHINE.into())]);
    }

    n8_successful_delete_on_a_node_update_needs_no_requeue: ControllerWorld::default(),
    delete_for_node((running(), Some(NODE))) => |done| {
        assert_eq!(done.acts, [Act::DeleteMachineObject(MACHINE.into())]);
    }

    n9_several_machines_for_a_node_fail_the_pass: nodes(
        vec![node_with(&[])],
        vec![running(), named(running(), "machine-2")],
    ), node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::RateLimited);
    }

    n9_node_without_machine_is_left_alone: nodes(vec![node_with(&[])], vec![]),
    node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }

    n9_gone_node_is_dropped: nodes(vec![], vec![running()]), node_pass(NODE) => |done| {
        assert!(done.acts.is_empty());
        assert_eq!(done.result, Retry::Never);
    }
}

#[test]
fn n2_node_update_with_deletion_timestamp_deletes_a_live_machine() {
    let machine = running();
    let reaction = on_node_update(&finalized(), &deleting_node(), &[&machine]);
    assert_eq!(
        reaction,
        NodeUpdateReaction {
            delete_machine: true,
            ..NodeUpdateReaction::default()
        }
    );
    let leaving = deleting(running());
    assert_eq!(
        on_node_update(&finalized(), &deleting_node(), &[&leaving]),
        NodeUpdateReaction::default()
    );
    assert_eq!(
        node_pass(Some(&deleting_node()), &[&machine]),
        NodePassAction::DeleteMachine
    );
}

#[test]
fn n3_not_managed_node_is_ignored_by_every_event() {
    let machine = running();
    let node = not_managed(not_ready(tainted(node_with(&[]))));
    assert!(!on_node_add(&node));
    assert!(on_node_add(&node_with(&[])));
    assert_eq!(
        on_node_update(&node_with(&[]), &node, &[&machine]),
        NodeUpdateReaction::default()
    );
    let mut going = node.clone();
    going.metadata.deletion_timestamp = Some(ago(0));
    assert_eq!(
        on_node_update(&node, &going, &[&machine]),
        NodeUpdateReaction::default()
    );
    assert_eq!(on_node_delete(&node, &[&machine]), None);
    assert_eq!(node_pass(Some(&node), &[&machine]), NodePassAction::Nothing);
}

#[test]
fn n4_condition_change_of_a_crash_looping_or_terminating_machine_enqueues_nothing() {
    let old = finalized();
    let new = not_ready(finalized());
    for phase in [MachinePhase::CrashLoopBackOff, MachinePhase::Terminating] {
        let mut machine = created_machine(phase.clone());
        machine.status.conditions = vec![condition("Ready", "True")];
        assert_eq!(
            on_node_update(&old, &new, &[&machine]),
            NodeUpdateReaction::default(),
            "{phase:?}"
        );
    }
    // The same change for a Running machine does enqueue it.
    assert_eq!(on_node_update(&old, &new, &[&running()]), enqueue_only());
}

#[test]
fn n5_removed_critical_components_taint_enqueues_the_machine() {
    let machine = running();
    assert_eq!(
        on_node_update(&tainted(finalized()), &finalized(), &[&machine]),
        enqueue_only()
    );
    // Added counts too; an unrelated update does not.
    assert_eq!(
        on_node_update(&finalized(), &tainted(finalized()), &[&machine]),
        enqueue_only()
    );
    assert_eq!(
        on_node_update(&finalized(), &finalized(), &[&machine]),
        NodeUpdateReaction::default()
    );
}

#[test]
fn n6_node_without_finalizer_comes_back_after_medium_and_machine_checks_still_run() {
    let machine = running();
    let bare = node_with(&[]);
    assert_eq!(
        on_node_update(&bare, &bare, &[&machine]),
        NodeUpdateReaction {
            requeue_node_medium: true,
            ..NodeUpdateReaction::default()
        }
    );
    assert_eq!(
        on_node_update(&tainted(bare.clone()), &bare, &[&machine]),
        NodeUpdateReaction {
            requeue_node_medium: true,
            enqueue_machine: true,
            ..NodeUpdateReaction::default()
        }
    );
    // That later node pass is N1.
    assert_eq!(
        node_pass(Some(&bare), &[&machine]),
        NodePassAction::AddFinalizer
    );
}

#[test]
fn n7_node_delete_event_deletes_a_live_machine() {
    let machine = running();
    assert_eq!(
        on_node_delete(&finalized(), &[&machine]).map(Machine::name),
        Some(MACHINE)
    );
    let leaving = deleting(running());
    assert_eq!(on_node_delete(&finalized(), &[&leaving]), None);
    let second = named(running(), "machine-2");
    assert_eq!(on_node_delete(&finalized(), &[&machine, &second]), None);
    assert_eq!(on_node_delete(&finalized(), &[]), None);
}

#[test]
fn n10_node_update_without_or_with_several_machines_is_ignored() {
    let first = running();
    let second = named(running(), "machine-2");
    let old = tainted(node_with(&[]));
    let new = not_ready(deleting_node());
    assert_eq!(
        on_node_update(&old, &new, &[]),
        NodeUpdateReaction::default()
    );
    assert_eq!(
        on_node_update(&old, &new, &[&first, &second]),
        NodeUpdateReaction::default()
    );
}

#[test]
fn n11_changed_preserve_annotation_enqueues_the_machine() {
    let machine = running();
    let old = finalized();
    let new = annotated(finalized(), node_annotations::PRESERVE, "now");
    assert_eq!(on_node_update(&old, &new, &[&machine]), enqueue_only());
    // Changed value and removal count as well.
    let changed = annotated(finalized(), node_annotations::PRESERVE, "when-failed");
    assert_eq!(on_node_update(&new, &changed, &[&machine]), enqueue_only());
    assert_eq!(on_node_update(&new, &old, &[&machine]), enqueue_only());
    // Other annotations do not.
    let other = annotated(finalized(), "example.com/note", "x");
    assert_eq!(
        on_node_update(&old, &other, &[&machine]),
        NodeUpdateReaction::default()
    );
}
