//! What Node events and the node queue do (contract 02 §1.3 Node informer, §4.7,
//! rows N1–N11).

use k8s_openapi::api::core::v1::Node;
use mcm_api::v1alpha1::{Machine, MachinePhase};
use mcm_api::well_known::{finalizers, node_annotations, node_labels};

use super::health::{conditions_changed, has_critical_components_taint};

/// Whether the Node carries `node.machine.sapcloud.io/not-managed-by-mcm` (any value).
pub fn is_not_managed(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(node_annotations::NOT_MANAGED_BY_MCM))
}

/// Whether the Node has our finalizer.
pub fn has_node_finalizer(node: &Node) -> bool {
    node.metadata
        .finalizers
        .as_ref()
        .is_some_and(|list| list.iter().any(|f| f == finalizers::NODE))
}

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

fn annotation<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// The reaction to a Node update event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeUpdateReaction {
    /// Delete the Machine (the Node is being deleted, N2).
    pub delete_machine: bool,
    /// Put the Node on the node queue after `Medium` (finalizer missing, N6).
    pub requeue_node_medium: bool,
    /// Put the Machine on the machine queue (N5, N11, conditions, in-place labels).
    pub enqueue_machine: bool,
}

/// §1.3 Node update: `machines` are the Machines labelled `node=<node>`; anything
/// but exactly one means the event is ignored (N10), as is a not-managed Node (N3).
pub fn on_node_update(old: &Node, new: &Node, machines: &[&Machine]) -> NodeUpdateReaction {
    let mut reaction = NodeUpdateReaction::default();
    if is_not_managed(new) {
        return reaction;
    }
    let [machine] = machines else {
        return reaction;
    };
    if new.metadata.deletion_timestamp.is_some() {
        reaction.delete_machine = !machine.is_deleting();
        return reaction;
    }
    reaction.requeue_node_medium = !has_node_finalizer(new);
    let taint_changed = has_critical_components_taint(old) != has_critical_components_taint(new);
    let newly_labelled = |key: &str| label(old, key).is_none() && label(new, key).is_some();
    let in_place_changed = newly_labelled(node_labels::CANDIDATE_FOR_UPDATE)
        || newly_labelled(node_labels::SELECTED_FOR_UPDATE)
        || label(old, node_labels::UPDATE_RESULT) != label(new, node_labels::UPDATE_RESULT);
    let node_conditions = new
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let conditions_moved = conditions_changed(&node_conditions, &machine.status.conditions)
        && !matches!(
            machine.phase(),
            MachinePhase::CrashLoopBackOff | MachinePhase::Terminating
        );
    let preserve_changed =
        annotation(old, node_annotations::PRESERVE) != annotation(new, node_annotations::PRESERVE);
    reaction.enqueue_machine =
        taint_changed || in_place_changed || conditions_moved || preserve_changed;
    reaction
}

/// §1.3 Node add: whether the Node goes on the node queue (not for a not-managed
/// Node, N3).
pub fn on_node_add(node: &Node) -> bool {
    !is_not_managed(node)
}

/// §1.3 Node delete: the Machine to delete (N7): the single Machine labelled
/// `node=<node>` unless it is already being deleted; nothing for a not-managed Node
/// (N3) or when no or several Machines claim it.
pub fn on_node_delete<'a>(node: &Node, machines: &[&'a Machine]) -> Option<&'a Machine> {
    if is_not_managed(node) {
        return None;
    }
    match machines {
        [machine] if !machine.is_deleting() => Some(machine),
        _ => None,
    }
}

/// What a node-queue pass does (§4.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodePassAction {
    /// Nothing (node gone, not managed, or no Machine).
    Nothing,
    /// Several Machines or a lister error (N9): fail the pass (rate-limited retry).
    Fail,
    /// Delete the Machine (N2).
    DeleteMachine,
    /// Add our finalizer to the Node (N1).
    AddFinalizer,
}

/// §4.7: the node queue's decision.
pub fn node_pass(node: Option<&Node>, machines: &[&Machine]) -> NodePassAction {
    let Some(node) = node else {
        return NodePassAction::Nothing;
    };
    if is_not_managed(node) {
        return NodePassAction::Nothing;
    }
    let machine = match machines {
        [] => return NodePassAction::Nothing,
        [machine] => machine,
        _ => return NodePassAction::Fail,
    };
    if node.metadata.deletion_timestamp.is_some() {
        return if machine.is_deleting() {
            NodePassAction::Nothing
        } else {
            NodePassAction::DeleteMachine
        };
    }
    if !machine.is_deleting() && !has_node_finalizer(node) {
        return NodePassAction::AddFinalizer;
    }
    NodePassAction::Nothing
}
