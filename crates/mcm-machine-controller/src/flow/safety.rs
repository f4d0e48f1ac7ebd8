//! The safety controller's passes (contract 02 §7) as straight-line code over small
//! traits: the orphan sweep (which class or Node stops it, and with which retry) and
//! the API-server check (the unfreeze writes and requeues). The verdicts themselves
//! are [`crate::decide::safety`]; keeping the order here lets the decision table
//! check rows S5, S10 and S15–S18, which are about what happens *after* a failure.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, SecretReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::driver::{
    DeleteMachineRequest, DeleteMachineResponse, DriverResult, ListMachinesRequest,
    ListMachinesResponse, SecretData,
};
use mcm_api::v1alpha1::{Machine, MachineClass, MachineOperationType, MachinePhase, MachineState};

use crate::decide::class::merge_secret_data;
use crate::decide::lookup::{Lookup, WriteResult};
use crate::decide::node_events::is_not_managed;
use crate::decide::safety::{
    FreezeAction, FreezeState, NextCheck, NodeVerdict, UNFREEZE_DESCRIPTION, VmVerdict,
    check_api_servers, classify_node, classify_vm, orphan_node_patch, orphan_stand_in,
};
use crate::decide::status::{current_status_keep_pet, last_operation};
use crate::retry::Retry;

/// What the orphan sweep reads and does.
pub trait OrphanEffects: Send {
    /// The MachineClasses of the controller's namespace, in the order to sweep them.
    fn machine_classes(&self) -> Vec<MachineClass>;

    /// The `data` of a referenced Secret (not found also when in another namespace).
    fn secret(&self, reference: &SecretReference) -> Lookup<SecretData>;

    /// `ListMachines`.
    fn list_machines(
        &mut self,
        request: ListMachinesRequest,
    ) -> impl Future<Output = DriverResult<ListMachinesResponse>> + Send;

    /// The Machine of this name in the controller's namespace (cache).
    fn machine(&self, name: &str) -> Option<Machine>;

    /// `DeleteMachine` of an orphan VM.
    fn delete_machine(
        &mut self,
        request: DeleteMachineRequest,
    ) -> impl Future<Output = DriverResult<DeleteMachineResponse>> + Send;

    /// The Nodes of the target cluster in the order to sweep them (none without one).
    fn nodes(&self) -> Vec<Node>;

    /// How many Machines carry label `node=<node>`.
    fn machines_of_node(&self, node: &str) -> usize;

    /// Applies a JSON merge patch to a Node.
    fn patch_node(
        &mut self,
        name: &str,
        patch: &serde_json::Value,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// One `machinesafetyorphanvms` pass (§7.1): orphan VMs class by class, then orphan
/// Nodes. Returns the extra retry when something stopped the sweep (`Long` for a
/// class, S5/S16/S17; `Medium` for a Node, S18); the caller adds the periodic requeue.
pub async fn orphan_sweep<E: OrphanEffects>(
    effects: &mut E,
    namespace: &str,
    creation_timeout: SignedDuration,
    now: Timestamp,
) -> Option<Retry> {
    let mut retry = None;
    for class in effects.machine_classes() {
        if !sweep_class(effects, namespace, class).await {
            retry = Some(Retry::Long);
            break;
        }
    }
    for node in effects.nodes() {
        let name = node.metadata.name.clone().unwrap_or_default();
        let machines = effects.machines_of_node(&name);
        let verdict = classify_node(
            &node,
            machines,
            is_not_managed(&node),
            creation_timeout,
            now,
        );
        if verdict == NodeVerdict::Ambiguous {
            tracing::warn!(node = %name, "several machines claim this node");
        }
        let Some(patch) = orphan_node_patch(&node, verdict) else {
            continue;
        };
        if let Err(error) = effects.patch_node(&name, &patch).await {
            tracing::warn!(node = %name, %error, "orphan node update failed; sweep stopped");
            retry = Some(Retry::Medium);
            break;
        }
    }
    retry
}

/// Deletes the orphan VMs of one class; `false` when the class stops the sweep.
async fn sweep_class<E: OrphanEffects>(
    effects: &mut E,
    namespace: &str,
    class: MachineClass,
) -> bool {
    let secret = match merge_secret_data(
        class.secret_ref.as_ref().map(|r| effects.secret(r)),
        class
            .credentials_secret_ref
            .as_ref()
            .map(|r| effects.secret(r)),
    ) {
        Ok(secret) => secret,
        Err(problem) => {
            tracing::warn!(class = class.name(), %problem, "orphan collection stopped");
            return false;
        }
    };
    let listed = effects
        .list_machines(ListMachinesRequest {
            machine_class: class.clone(),
            secret: secret.clone(),
        })
        .await;
    let vms = match listed {
        Ok(response) => response.machine_list,
        Err(error) => {
            // MCM treats Unimplemented like any other failure (quirk 7, S16).
            tracing::warn!(class = class.name(), %error, "ListMachines failed; orphan collection stopped for this pass");
            return false;
        }
    };
    for (provider_id, machine_name) in vms {
        let machine = effects.machine(&machine_name);
        if classify_vm(&provider_id, machine.as_ref()) == VmVerdict::Keep {
            continue;
        }
        tracing::info!(class = class.name(), machine = %machine_name, %provider_id, "deleting orphan VM");
        let result = effects
            .delete_machine(DeleteMachineRequest {
                machine: orphan_stand_in(&machine_name, namespace, &provider_id),
                machine_class: class.clone(),
                secret: secret.clone(),
            })
            .await;
        if let Err(error) = result {
            // Retried by the next sweep, as in MCM.
            tracing::warn!(machine = %machine_name, %provider_id, %error, "deleting orphan VM failed");
        }
    }
    true
}

/// What the API-server check reads and does besides the reachability probe.
pub trait ApiServerEffects: Send {
    /// The freeze state kept in memory.
    fn freeze_state(&self) -> FreezeState;

    /// Replaces the freeze state.
    fn set_freeze_state(&mut self, state: FreezeState);

    /// The Machines in the cache.
    fn machines(&self) -> Vec<Machine>;

    /// A fresh GET of a Machine.
    fn get_machine(&mut self, name: &str) -> impl Future<Output = Result<Machine, String>> + Send;

    /// Writes a Machine's status through `/status`.
    fn update_machine_status(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send;

    /// Puts a Machine on the machine queue after `delay`.
    fn enqueue_machine_after(&mut self, machine: &Machine, delay: Duration);
}

/// How long after an unfreeze every Machine is reconciled again (MCM: 30 s).
pub const UNFREEZE_REQUEUE: Duration = Duration::from_secs(30);

/// One `machinesafetyapiserver` pass (§7.2) given the probe's answer: `Ok(next)` says
/// when the next check runs; `Err(Retry::RateLimited)` when an unfreeze failed (S15:
/// still frozen, no periodic requeue, as in MCM).
pub async fn api_server_check<E: ApiServerEffects>(
    effects: &mut E,
    reachable: bool,
    timeout: SignedDuration,
    now: Timestamp,
) -> Result<NextCheck, Retry> {
    let (state, action, next) = check_api_servers(effects.freeze_state(), reachable, timeout, now);
    match action {
        FreezeAction::None => effects.set_freeze_state(state),
        FreezeAction::Freeze => {
            tracing::warn!(
                "API servers unreachable for longer than the status-check timeout: freezing the machine controller"
            );
            effects.set_freeze_state(state);
        }
        FreezeAction::Unfreeze => {
            unfreeze(effects, now).await?;
            tracing::info!("API servers reachable again: unfreezing the machine controller");
            effects.set_freeze_state(FreezeState::default());
        }
    }
    Ok(next)
}

/// S10: every `Unknown` Machine is reset to `Running` (fresh GET, then a status
/// write), and every Machine is enqueued after 30 s, in cache order. The first
/// failure ends the pass; Machines handled before it stay reset and enqueued (S15).
async fn unfreeze<E: ApiServerEffects>(effects: &mut E, now: Timestamp) -> Result<(), Retry> {
    for cached in effects.machines() {
        if *cached.phase() == MachinePhase::Unknown {
            let fresh = match effects.get_machine(cached.name()).await {
                Ok(fresh) => fresh,
                Err(error) => {
                    tracing::warn!(machine = cached.name(), %error, "unfreeze: reading the machine failed");
                    return Err(Retry::RateLimited);
                }
            };
            let mut updated = fresh.clone();
            updated.status.last_operation = last_operation(
                UNFREEZE_DESCRIPTION,
                MachineState::Successful,
                MachineOperationType::HealthCheck,
                now,
            );
            updated.status.current_status =
                current_status_keep_pet(MachinePhase::Running, &fresh.status.current_status, now);
            if let Err(error) = effects.update_machine_status(&updated).await {
                tracing::warn!(machine = cached.name(), %error, "unfreeze: resetting the machine failed");
                return Err(Retry::RateLimited);
            }
        }
        effects.enqueue_machine_after(&cached, UNFREEZE_REQUEUE);
    }
    Ok(())
}
