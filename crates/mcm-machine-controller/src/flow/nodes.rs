//! The node controller (contract 02 §4.7) and the Machine deletions that Node events
//! trigger (§1.3), over a small trait: what a failed write does to the requeue (N8,
//! N9) and which writes are made (N1, N2, N7). Which event triggers what is decided
//! by [`crate::decide::node_events`].

use std::future::Future;

use k8s_openapi::api::core::v1::Node;
use mcm_api::v1alpha1::Machine;
use mcm_api::well_known::finalizers;

use crate::decide::finalizers::toggle_finalizer;
use crate::decide::lookup::{WriteError, WriteResult};
use crate::decide::node_events::{NodePassAction, node_pass};
use crate::retry::Retry;

/// What the node pass and the Node event reactions read and do.
pub trait NodeEffects: Send {
    /// The Node of this name (cache).
    fn node(&self, name: &str) -> Option<Node>;

    /// The Machines labelled `node=<node>` (cache).
    fn machines_of_node(&self, node: &str) -> Vec<Machine>;

    /// Deletes a Machine object (sets its deletionTimestamp).
    fn delete_machine_object(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<()>> + Send;

    /// Sets a Node's finalizers with a JSON merge patch of `metadata.finalizers`.
    fn patch_node_finalizers(
        &mut self,
        node: &str,
        finalizers: &[String],
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Puts a Node on the node queue after `retry`.
    fn enqueue_node_after(&mut self, node: &str, retry: Retry);
}

/// One `node` pass (§4.7): `RateLimited` when several Machines claim the Node (N9)
/// or a write failed, otherwise `Never` (the node queue has no periodic requeue).
pub async fn reconcile_node<E: NodeEffects>(effects: &mut E, name: &str) -> Retry {
    let node = effects.node(name);
    let machines = effects.machines_of_node(name);
    let refs: Vec<&Machine> = machines.iter().collect();
    match node_pass(node.as_ref(), &refs) {
        NodePassAction::Nothing => Retry::Never,
        NodePassAction::Fail => {
            tracing::warn!(node = name, "several machines carry this node's label");
            Retry::RateLimited
        }
        NodePassAction::DeleteMachine => match effects.delete_machine_object(refs[0]).await {
            Ok(()) | Err(WriteError::NotFound) => Retry::Never,
            Err(error) => {
                tracing::warn!(node = name, %error, "deleting the machine of a deleted node failed");
                Retry::RateLimited
            }
        },
        NodePassAction::AddFinalizer => {
            let current = node.as_ref().and_then(|n| n.metadata.finalizers.as_ref());
            let Some(list) = toggle_finalizer(current, finalizers::NODE, true) else {
                return Retry::Never;
            };
            match effects.patch_node_finalizers(name, &list).await {
                Ok(()) => Retry::Never,
                Err(error) => {
                    tracing::warn!(node = name, %error, "adding the node finalizer failed");
                    Retry::RateLimited
                }
            }
        }
    }
}

/// Deletes a Machine because its Node went or is going. `requeue_node` is the Node
/// to put back on the node queue after `Short` if that fails (N8, Node update with a
/// deletionTimestamp); for a Node delete event it is `None` and a failure is only
/// logged (N7). A Machine that is already gone counts as deleted.
pub async fn delete_machine_of_node<E: NodeEffects>(
    effects: &mut E,
    machine: &Machine,
    requeue_node: Option<&str>,
) {
    match effects.delete_machine_object(machine).await {
        Ok(()) => tracing::info!(
            machine = machine.name(),
            "node deleted: deleting its machine"
        ),
        Err(WriteError::NotFound) => {}
        Err(error) => {
            tracing::warn!(machine = machine.name(), %error, "deleting the machine of a deleted node failed");
            if let Some(node) = requeue_node {
                effects.enqueue_node_after(node, Retry::Short);
            }
        }
    }
}
