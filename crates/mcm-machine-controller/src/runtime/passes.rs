//! One pass per queue: read the cache, run the flow or the decision, write, and say
//! when to come back. The machine and termination passes run the [`crate::flow`]
//! code with [`PassEffects`]; the other queues are small enough to live here.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use mcm_api::Driver;
use mcm_api::driver::{DeleteMachineRequest, ListMachinesRequest};
use mcm_api::v1alpha1::{Machine, MachineClass, MachinePhase};
use mcm_api::well_known::{finalizers, node_annotations};

use super::effects::{PassEffects, is_not_found};
use super::state::Shared;
use crate::decide::class::merge_secret_data;
use crate::decide::finalizers::{
    ClassFinalizerAction, class_finalizer_action, secret_is_referenced, toggle_finalizer,
};
use crate::decide::lookup::Lookup;
use crate::decide::node_events::{NodePassAction, is_not_managed, node_pass};
use crate::decide::safety::{
    FreezeAction, NextCheck, NodeVerdict, UNFREEZE_DESCRIPTION, VmVerdict, check_api_servers,
    classify_node, classify_vm, orphan_stand_in,
};
use crate::decide::status::{current_status_keep_pet, last_operation};
use crate::flow::{self, PassContext};
use crate::retry::Retry;

fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// A `machine` queue pass.
pub async fn machine_pass<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let (namespace, name) = split_key(&key);
    let machine = shared.caches.machines.get(namespace, name);
    let ctx = PassContext {
        config: &shared.config,
        now: now(),
        frozen: shared.is_frozen(),
        creation_in_progress: false,
    };
    let mut effects = PassEffects::new(shared, &key, &shared.queues.machine, machine.clone());
    let retry = flow::reconcile_machine(&mut effects, &ctx, machine.map(|m| (*m).clone())).await;
    if effects.creation_started() {
        shared.set_creating(&key, false);
    }
    retry
}

/// A `machinetermination` queue pass.
pub async fn termination_pass<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let (namespace, name) = split_key(&key);
    let machine = shared.caches.machines.get(namespace, name);
    let ctx = PassContext {
        config: &shared.config,
        now: now(),
        frozen: shared.is_frozen(),
        creation_in_progress: shared.is_creating(&key),
    };
    let mut effects = PassEffects::new(shared, &key, &shared.queues.termination, machine.clone());
    flow::reconcile_termination(&mut effects, &ctx, machine.map(|m| (*m).clone())).await
}

/// Sets or clears a finalizer on the live object (fresh GET, then update).
async fn set_finalizer<K>(
    api: &Api<K>,
    name: &str,
    finalizer: &str,
    present: bool,
) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let Some(mut object) = api.get_opt(name).await? else {
        return Ok(());
    };
    if let Some(list) = toggle_finalizer(object.meta().finalizers.as_ref(), finalizer, present) {
        object.meta_mut().finalizers = Some(list);
        api.replace(name, &PostParams::default(), &object).await?;
    }
    Ok(())
}

/// A `machineclass` queue pass (§6.1, F1–F4, F9).
pub async fn class_pass<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let namespace = shared.config.namespace.clone();
    let (_, name) = split_key(&key);
    let Some(class) = shared.caches.classes.get(&namespace, name) else {
        return Retry::Never;
    };
    let machines = shared.caches.machines.list();
    let api: Api<MachineClass> = Api::namespaced(shared.clusters.control.clone(), &namespace);
    let failed = match class_finalizer_action(&class, &machines) {
        ClassFinalizerAction::Ensure { enqueue } => {
            match set_finalizer(&api, name, finalizers::MACHINE_CONTROLLER_MANAGER, true).await {
                Ok(()) => {
                    for machine in enqueue {
                        shared.queues.machine.add(&machine);
                    }
                    false
                }
                Err(error) => {
                    tracing::warn!(class = name, %error, "adding the class finalizer failed");
                    true
                }
            }
        }
        ClassFinalizerAction::Remove => {
            if let Err(error) =
                set_finalizer(&api, name, finalizers::MACHINE_CONTROLLER_MANAGER, false).await
            {
                tracing::warn!(class = name, %error, "removing the class finalizer failed");
                true
            } else {
                false
            }
        }
        ClassFinalizerAction::Blocked => {
            tracing::info!(
                class = name,
                "MachineClass is being deleted but machines still refer to it"
            );
            true
        }
    };
    crate::decide::finalizers::class_pass_retry(failed)
}

/// The secret queue's periodic requeue.
pub const SECRET_RESYNC: Duration = Duration::from_secs(10 * 60);

/// A `secret` queue pass (§6.2, F5–F8). Returns the retry; a found Secret always
/// comes back after 10 minutes (the caller adds that).
pub async fn secret_pass<D: Driver>(shared: &Shared<D>, key: String) -> (Retry, bool) {
    let (namespace, name) = split_key(&key);
    if namespace != shared.config.namespace {
        return (Retry::Never, false);
    }
    if shared.caches.secrets.get(namespace, name).is_none() {
        return (Retry::Never, false);
    }
    let referenced = secret_is_referenced(name, &shared.caches.classes.list());
    let api: Api<Secret> = Api::namespaced(shared.clusters.control.clone(), namespace);
    match set_finalizer(&api, name, finalizers::SECRET, referenced).await {
        Ok(()) => (Retry::Never, true),
        Err(error) => {
            tracing::warn!(secret = name, %error, "updating the secret finalizer failed");
            (Retry::RateLimited, true)
        }
    }
}

/// A `node` queue pass (§4.7, N1, N2, N9).
pub async fn node_pass_run<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let Some(target) = shared.clusters.target.clone() else {
        return Retry::Never;
    };
    let node = shared.caches.nodes.get("", &key);
    let machines = shared.machines_of_node(&key);
    let refs: Vec<&Machine> = machines.iter().map(AsRef::as_ref).collect();
    match node_pass(node.as_deref(), &refs) {
        NodePassAction::Nothing => Retry::Never,
        NodePassAction::Fail => Retry::RateLimited,
        NodePassAction::DeleteMachine => {
            let machine = &refs[0];
            let api: Api<Machine> =
                Api::namespaced(shared.clusters.control.clone(), machine.namespace());
            match api.delete(machine.name(), &DeleteParams::default()).await {
                Ok(_) => Retry::Never,
                Err(error) if is_not_found(&error) => Retry::Never,
                Err(error) => {
                    tracing::warn!(node = %key, %error, "deleting the machine of a deleted node failed");
                    Retry::RateLimited
                }
            }
        }
        NodePassAction::AddFinalizer => {
            let current = node.as_ref().and_then(|n| n.metadata.finalizers.clone());
            let Some(list) = toggle_finalizer(current.as_ref(), finalizers::NODE, true) else {
                return Retry::Never;
            };
            let patch = serde_json::json!({"metadata": {"finalizers": list}});
            match Api::<Node>::all(target)
                .patch(&key, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => Retry::Never,
                Err(error) => {
                    tracing::warn!(node = %key, %error, "adding the node finalizer failed");
                    Retry::RateLimited
                }
            }
        }
    }
}

/// A `machinesafetyorphanvms` pass (§7.1, S1–S8, S16–S18): returns the extra retry
/// if a class or node step failed (the periodic requeue is added by the caller).
pub async fn orphan_pass<D: Driver>(shared: &Shared<D>) -> Option<Retry> {
    let mut retry = None;
    let namespace = shared.config.namespace.clone();
    for class in shared.caches.classes.list() {
        let lookup = |reference: &k8s_openapi::api::core::v1::SecretReference| {
            let ns = reference.namespace.as_deref().unwrap_or(&namespace);
            let name = reference.name.as_deref().unwrap_or_default();
            match shared.caches.secrets.get(ns, name) {
                Some(secret) => Lookup::Found(mcm_api::driver::SecretData::from_secret(&secret)),
                None => Lookup::NotFound,
            }
        };
        let secret = match merge_secret_data(
            class.secret_ref.as_ref().map(lookup),
            class.credentials_secret_ref.as_ref().map(lookup),
        ) {
            Ok(secret) => secret,
            Err(problem) => {
                tracing::warn!(class = class.name(), %problem, "orphan collection stopped");
                retry = Some(Retry::Long);
                break;
            }
        };
        let listed = shared
            .driver
            .list_machines(ListMachinesRequest {
                machine_class: (*class).clone(),
                secret: secret.clone(),
            })
            .await;
        let vms = match listed {
            Ok(response) => response.machine_list,
            Err(error) => {
                tracing::warn!(class = class.name(), %error, "ListMachines failed; orphan collection stopped for this pass");
                retry = Some(Retry::Long);
                break;
            }
        };
        for (provider_id, machine_name) in vms {
            let machine = shared.caches.machines.get(&namespace, &machine_name);
            if classify_vm(&provider_id, machine.as_deref()) == VmVerdict::Orphan {
                tracing::info!(class = class.name(), machine = %machine_name, %provider_id, "deleting orphan VM");
                let result = shared
                    .driver
                    .delete_machine(DeleteMachineRequest {
                        machine: orphan_stand_in(&machine_name, &namespace, &provider_id),
                        machine_class: (*class).clone(),
                        secret: secret.clone(),
                    })
                    .await;
                if let Err(error) = result {
                    tracing::warn!(machine = %machine_name, %provider_id, %error, "deleting orphan VM failed");
                }
            }
        }
    }
    if let Some(target) = shared.clusters.target.clone() {
        let timeout =
            SignedDuration::try_from(shared.config.creation_timeout).unwrap_or(SignedDuration::MAX);
        let nodes = Api::<Node>::all(target);
        for node in shared.caches.nodes.list() {
            let name = node.metadata.name.clone().unwrap_or_default();
            let machines = shared.machines_of_node(&name).len();
            let verdict = classify_node(&node, machines, is_not_managed(&node), timeout, now());
            let patch = match verdict {
                NodeVerdict::Leave => continue,
                NodeVerdict::Ambiguous => {
                    tracing::warn!(node = %name, "several machines claim this node");
                    continue;
                }
                NodeVerdict::MarkUnmanaged => {
                    let finalizers = toggle_finalizer(
                        node.metadata.finalizers.as_ref(),
                        finalizers::NODE,
                        false,
                    )
                    .or_else(|| node.metadata.finalizers.clone())
                    .unwrap_or_default();
                    serde_json::json!({"metadata": {
                        "finalizers": finalizers,
                        "annotations": {node_annotations::NOT_MANAGED_BY_MCM: "1"}
                    }})
                }
                NodeVerdict::Unmark => serde_json::json!({"metadata": {
                    "annotations": {node_annotations::NOT_MANAGED_BY_MCM: null}
                }}),
            };
            if let Err(error) = nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::warn!(node = %name, %error, "orphan node update failed; sweep stopped");
                retry = Some(Retry::Medium);
                break;
            }
        }
    }
    retry
}

/// Whether both clusters answer: a GET of a non-existent Machine and Node succeeds or
/// says not-found. Each GET is bounded by the status-check timeout (at least 1 s):
/// MCM sets no timeout, so a hung (not refusing) API server would block its check
/// forever and never freeze the controller.
async fn reachable<D: Driver>(shared: &Shared<D>) -> bool {
    let limit = shared
        .config
        .safety_apiserver_statuscheck_timeout
        .max(Duration::from_secs(1));
    let answered =
        |result: Result<Result<(), kube::Error>, tokio::time::error::Elapsed>| match result {
            Ok(Ok(())) => true,
            Ok(Err(error)) => is_not_found(&error),
            Err(_) => false,
        };
    let machines: Api<Machine> =
        Api::namespaced(shared.clusters.control.clone(), &shared.config.namespace);
    let control_ok = answered(
        tokio::time::timeout(limit, async {
            machines.get("dummy_name").await.map(|_| ())
        })
        .await,
    );
    let target_ok = match &shared.clusters.target {
        None => true,
        Some(target) => {
            let nodes = Api::<Node>::all(target.clone());
            answered(
                tokio::time::timeout(limit, async { nodes.get("dummy_name").await.map(|_| ()) })
                    .await,
            )
        }
    };
    control_ok && target_ok
}

/// A `machinesafetyapiserver` pass (§7.2, S9–S15): returns the next check's delay,
/// or `None` when an unfreeze failed (MCM then relies on the rate-limited retry).
pub async fn apiserver_pass<D: Driver>(shared: &Shared<D>) -> Result<Duration, Retry> {
    let up = reachable(shared).await;
    let timeout = SignedDuration::try_from(shared.config.safety_apiserver_statuscheck_timeout)
        .unwrap_or(SignedDuration::MAX);
    let (state, action, next) = check_api_servers(shared.freeze_state(), up, timeout, now());
    match action {
        FreezeAction::None => shared.set_freeze_state(state),
        FreezeAction::Freeze => {
            tracing::warn!(
                "API servers unreachable for longer than the status-check timeout: freezing the machine controller"
            );
            shared.set_freeze_state(state);
        }
        FreezeAction::Unfreeze => {
            let api: Api<Machine> =
                Api::namespaced(shared.clusters.control.clone(), &shared.config.namespace);
            for cached in shared.caches.machines.list() {
                if *cached.phase() != MachinePhase::Unknown {
                    continue;
                }
                let fresh = match api.get(cached.name()).await {
                    Ok(fresh) => fresh,
                    Err(error) => {
                        tracing::warn!(machine = cached.name(), %error, "unfreeze: reading the machine failed");
                        return Err(Retry::RateLimited);
                    }
                };
                let mut updated = fresh.clone();
                let at = now();
                updated.status.last_operation = last_operation(
                    UNFREEZE_DESCRIPTION,
                    mcm_api::v1alpha1::MachineState::Successful,
                    mcm_api::v1alpha1::MachineOperationType::HealthCheck,
                    at,
                );
                updated.status.current_status = current_status_keep_pet(
                    MachinePhase::Running,
                    &fresh.status.current_status,
                    at,
                );
                if let Err(error) = api
                    .replace_status(cached.name(), &PostParams::default(), &updated)
                    .await
                {
                    tracing::warn!(machine = cached.name(), %error, "unfreeze: resetting the machine failed");
                    return Err(Retry::RateLimited);
                }
            }
            for machine in shared.caches.machines.list() {
                shared.queues.machine.add_after(
                    &format!("{}/{}", machine.namespace(), machine.name()),
                    Duration::from_secs(30),
                );
            }
            tracing::info!("API servers reachable again: unfreezing the machine controller");
            shared.set_freeze_state(crate::decide::safety::FreezeState::default());
        }
    }
    Ok(match next {
        NextCheck::Period => shared.config.safety_apiserver_statuscheck_period,
        NextCheck::TimeoutFifth => shared.config.safety_apiserver_statuscheck_timeout / 5,
    })
}
