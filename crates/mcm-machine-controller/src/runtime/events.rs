//! Informer event handlers: which change puts which key on which queue (contract 02
//! §1.3). Machine updates are ignored unless the generation changed (MCM), so status
//! writes do not re-trigger a machine; the passes schedule themselves instead.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Secret};
use mcm_api::Driver;
use mcm_api::v1alpha1::{ClassSpec, Machine, MachineClass};
use mcm_api::well_known::{descriptions, machine_annotations};

use super::cache::{Change, ObjectKey};
use super::queue_effects::SharedEffects;
use super::state::Shared;
use crate::decide::node_events::{on_node_add, on_node_delete, on_node_update};
use crate::flow;
use crate::retry::MEDIUM_RETRY;

fn machine_key(machine: &Machine) -> String {
    ObjectKey::of(machine).to_queue_key()
}

fn route_machine<D>(shared: &Shared<D>, machine: &Machine) {
    let key = machine_key(machine);
    if machine.is_deleting() && !shared.is_creating(&key) {
        shared.queues.termination.add(&key);
    } else {
        shared.queues.machine.add(&key);
    }
}

fn enqueue_class_of<D>(shared: &Shared<D>, machine: &Machine) {
    if machine.spec.class.kind == ClassSpec::MACHINE_CLASS_KIND {
        shared.queues.class.add(&machine.spec.class.name);
    }
}

/// Machine events.
pub fn on_machine<D>(shared: &Shared<D>, change: Change<Machine>) {
    match change {
        Change::Added(machine) => {
            enqueue_class_of(shared, &machine);
            route_machine(shared, &machine);
        }
        Change::Updated { old, new } => {
            let old_description = &old.status.last_operation.description;
            let new_description = &new.status.last_operation.description;
            if !old_description.contains(descriptions::OUT_OF_RANGE)
                && new_description.contains(descriptions::OUT_OF_RANGE)
            {
                shared.queues.orphans.add("");
            }
            let old_preserve = old.annotation(machine_annotations::PRESERVE);
            let new_preserve = new.annotation(machine_annotations::PRESERVE);
            if old_preserve != new_preserve
                || (new_preserve.is_some() && old.phase() != new.phase())
            {
                shared.queues.machine.add(&machine_key(&new));
                return;
            }
            if old.metadata.generation == new.metadata.generation {
                return;
            }
            route_machine(shared, &new);
        }
        Change::Deleted(machine) => {
            enqueue_class_of(shared, &machine);
            shared.queues.termination.add(&machine_key(&machine));
            shared.queues.orphans.add("");
        }
    }
}

fn secret_refs(class: &MachineClass) -> Vec<String> {
    // MCM only looks at the references when secretRef is set (quirk 9).
    if class.secret_ref.is_none() {
        return Vec::new();
    }
    [&class.secret_ref, &class.credentials_secret_ref]
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(format!(
                "{}/{}",
                r.namespace.as_deref().unwrap_or_default(),
                r.name.as_deref()?
            ))
        })
        .collect()
}

/// MachineClass events.
pub fn on_class<D>(shared: &Shared<D>, change: Change<MachineClass>) {
    let (class, old) = match &change {
        Change::Added(class) | Change::Deleted(class) => (class.clone(), None),
        Change::Updated { old, new } => (new.clone(), Some(old.clone())),
    };
    let mut secrets = secret_refs(&class);
    if let Some(old) = old {
        let old_refs = secret_refs(&old);
        if old_refs == secrets {
            secrets.clear();
        } else {
            secrets.extend(old_refs);
        }
    }
    for key in secrets {
        shared.queues.secret.add(&key);
    }
    shared.queues.class.add(class.name());
}

/// Secret events (add and delete only, as in MCM).
pub fn on_secret<D>(shared: &Shared<D>, change: Change<Secret>) {
    match change {
        Change::Added(secret) | Change::Deleted(secret) => {
            shared
                .queues
                .secret
                .add(&ObjectKey::of(secret.as_ref()).to_queue_key());
        }
        Change::Updated { .. } => {}
    }
}

/// Node events (target cluster).
pub fn on_node<D: Driver>(shared: &Arc<Shared<D>>, change: Change<Node>) {
    match change {
        Change::Added(node) => {
            if on_node_add(&node) {
                shared
                    .queues
                    .node
                    .add(&node.metadata.name.clone().unwrap_or_default());
            }
        }
        Change::Updated { old, new } => {
            let name = new.metadata.name.clone().unwrap_or_default();
            let machines = shared.machines_of_node(&name);
            let refs: Vec<&Machine> = machines.iter().map(AsRef::as_ref).collect();
            let reaction = on_node_update(&old, &new, &refs);
            if reaction.delete_machine {
                delete_machine_of_node(shared.clone(), machines[0].clone(), Some(name.clone()));
                return;
            }
            if reaction.requeue_node_medium {
                shared.queues.node.add_after(&name, MEDIUM_RETRY);
            }
            if reaction.enqueue_machine {
                shared.queues.machine.add(&machine_key(&machines[0]));
            }
        }
        Change::Deleted(node) => {
            let name = node.metadata.name.clone().unwrap_or_default();
            let machines = shared.machines_of_node(&name);
            let refs: Vec<&Machine> = machines.iter().map(AsRef::as_ref).collect();
            if let Some(machine) = on_node_delete(&node, &refs) {
                delete_machine_of_node(shared.clone(), Arc::new(machine.clone()), None);
            }
        }
    }
}

/// Deletes a Machine because its Node went (N2, N7, N8) without blocking the
/// informer; `retry_node` comes back after `Short` if that fails (N8).
fn delete_machine_of_node<D: Driver>(
    shared: Arc<Shared<D>>,
    machine: Arc<Machine>,
    retry_node: Option<String>,
) {
    tokio::spawn(async move {
        let mut effects = SharedEffects::new(&shared);
        flow::nodes::delete_machine_of_node(&mut effects, &machine, retry_node.as_deref()).await;
    });
}
