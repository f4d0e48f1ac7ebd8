//! The effects of the class, secret, node and safety passes over the shared caches,
//! kube-rs and the provider's driver (the flows are in [`crate::flow::finalizers`],
//! [`crate::flow::nodes`] and [`crate::flow::safety`]).

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Secret, SecretReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use mcm_api::Driver;
use mcm_api::driver::{
    DeleteMachineRequest, DeleteMachineResponse, DriverResult, ListMachinesRequest,
    ListMachinesResponse, SecretData,
};
use mcm_api::v1alpha1::{Machine, MachineClass};
use mcm_api::well_known::finalizers;

use super::effects::write_error;
use super::state::Shared;
use crate::decide::finalizers::toggle_finalizer;
use crate::decide::lookup::{Lookup, WriteResult};
use crate::decide::safety::FreezeState;
use crate::flow::finalizers::FinalizerEffects;
use crate::flow::nodes::NodeEffects;
use crate::flow::safety::{ApiServerEffects, OrphanEffects};
use crate::retry::Retry;

/// Effects over the controller's shared state.
pub struct SharedEffects<'a, D> {
    shared: &'a Shared<D>,
}

impl<D> std::fmt::Debug for SharedEffects<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEffects").finish_non_exhaustive()
    }
}

impl<'a, D> SharedEffects<'a, D> {
    /// Effects over `shared`.
    pub fn new(shared: &'a Shared<D>) -> Self {
        SharedEffects { shared }
    }

    fn namespace(&self) -> &str {
        &self.shared.config.namespace
    }

    fn machine_api(&self) -> Api<Machine> {
        Api::namespaced(self.shared.clusters.control.clone(), self.namespace())
    }

    fn node_api(&self) -> Result<Api<Node>, String> {
        self.shared
            .clusters
            .target
            .clone()
            .map(Api::all)
            .ok_or_else(|| "no target cluster is configured".to_owned())
    }

    fn sorted_classes(&self) -> Vec<MachineClass> {
        let mut classes: Vec<MachineClass> = self
            .shared
            .caches
            .classes
            .list()
            .into_iter()
            .map(|c| (*c).clone())
            .collect();
        classes.sort_by(|a, b| a.name().cmp(b.name()));
        classes
    }
}

/// Sets or clears a finalizer on the live object (fresh GET, then update).
async fn set_finalizer<K>(
    api: Api<K>,
    name: String,
    finalizer: &'static str,
    present: bool,
) -> Result<(), String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let Some(mut object) = api.get_opt(&name).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if let Some(list) = toggle_finalizer(object.meta().finalizers.as_ref(), finalizer, present) {
        object.meta_mut().finalizers = Some(list);
        api.replace(&name, &PostParams::default(), &object)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl<D: Driver> OrphanEffects for SharedEffects<'_, D> {
    fn machine_classes(&self) -> Vec<MachineClass> {
        // Sorted so that a failing class always stops the sweep at the same place (MCM
        // uses the lister's random order).
        self.sorted_classes()
    }

    fn secret(&self, reference: &SecretReference) -> Lookup<SecretData> {
        // The cache only holds `--namespace`; a reference elsewhere is "not found".
        let namespace = reference.namespace.as_deref().unwrap_or(self.namespace());
        let name = reference.name.as_deref().unwrap_or_default();
        match self.shared.caches.secrets.get(namespace, name) {
            Some(secret) => Lookup::Found(SecretData::from_secret(&secret)),
            None => Lookup::NotFound,
        }
    }

    fn list_machines(
        &mut self,
        request: ListMachinesRequest,
    ) -> impl Future<Output = DriverResult<ListMachinesResponse>> + Send {
        self.shared.driver.list_machines(request)
    }

    fn machine(&self, name: &str) -> Option<Machine> {
        self.shared
            .caches
            .machines
            .get(self.namespace(), name)
            .map(|m| (*m).clone())
    }

    fn delete_machine(
        &mut self,
        request: DeleteMachineRequest,
    ) -> impl Future<Output = DriverResult<DeleteMachineResponse>> + Send {
        self.shared.driver.delete_machine(request)
    }

    fn nodes(&self) -> Vec<Node> {
        let mut nodes: Vec<Node> = self
            .shared
            .caches
            .nodes
            .list()
            .into_iter()
            .map(|n| (*n).clone())
            .collect();
        nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        nodes
    }

    fn machines_of_node(&self, node: &str) -> usize {
        self.shared.machines_of_node(node).len()
    }

    fn patch_node(
        &mut self,
        name: &str,
        patch: &serde_json::Value,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let api = self.node_api();
        let name = name.to_owned();
        let patch = patch.clone();
        async move {
            api?.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

impl<D: Send + Sync> ApiServerEffects for SharedEffects<'_, D> {
    fn freeze_state(&self) -> FreezeState {
        self.shared.freeze_state()
    }

    fn set_freeze_state(&mut self, state: FreezeState) {
        self.shared.set_freeze_state(state);
    }

    fn machines(&self) -> Vec<Machine> {
        self.shared
            .caches
            .machines
            .list()
            .into_iter()
            .map(|m| (*m).clone())
            .collect()
    }

    fn get_machine(&mut self, name: &str) -> impl Future<Output = Result<Machine, String>> + Send {
        let api = self.machine_api();
        let name = name.to_owned();
        async move { api.get(&name).await.map_err(|e| e.to_string()) }
    }

    fn update_machine_status(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send {
        let api = self.machine_api();
        let machine = machine.clone();
        async move {
            api.replace_status(machine.name(), &PostParams::default(), &machine)
                .await
                .map_err(write_error)
        }
    }

    fn enqueue_machine_after(&mut self, machine: &Machine, delay: Duration) {
        self.shared.queues.machine.add_after(
            &format!("{}/{}", machine.namespace(), machine.name()),
            delay,
        );
    }
}

impl<D: Send + Sync> FinalizerEffects for SharedEffects<'_, D> {
    fn machine_class(&self, name: &str) -> Option<MachineClass> {
        self.shared
            .caches
            .classes
            .get(self.namespace(), name)
            .map(|c| (*c).clone())
    }

    fn machine_classes(&self) -> Vec<MachineClass> {
        self.sorted_classes()
    }

    fn machines(&self) -> Vec<Machine> {
        ApiServerEffects::machines(self)
    }

    fn secret_finalizers(&self, name: &str) -> Option<Vec<String>> {
        let secret = self.shared.caches.secrets.get(self.namespace(), name)?;
        Some(secret.metadata.finalizers.clone().unwrap_or_default())
    }

    fn set_class_finalizer(
        &mut self,
        name: &str,
        present: bool,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let api: Api<MachineClass> =
            Api::namespaced(self.shared.clusters.control.clone(), self.namespace());
        set_finalizer(
            api,
            name.to_owned(),
            finalizers::MACHINE_CONTROLLER_MANAGER,
            present,
        )
    }

    fn set_secret_finalizer(
        &mut self,
        name: &str,
        present: bool,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let api: Api<Secret> =
            Api::namespaced(self.shared.clusters.control.clone(), self.namespace());
        set_finalizer(api, name.to_owned(), finalizers::SECRET, present)
    }

    fn enqueue_machine(&mut self, key: &str) {
        self.shared.queues.machine.add(key);
    }
}

impl<D: Send + Sync> NodeEffects for SharedEffects<'_, D> {
    fn node(&self, name: &str) -> Option<Node> {
        self.shared.caches.nodes.get("", name).map(|n| (*n).clone())
    }

    fn machines_of_node(&self, node: &str) -> Vec<Machine> {
        self.shared
            .machines_of_node(node)
            .into_iter()
            .map(|m| (*m).clone())
            .collect()
    }

    fn delete_machine_object(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<()>> + Send {
        let api: Api<Machine> =
            Api::namespaced(self.shared.clusters.control.clone(), machine.namespace());
        let name = machine.name().to_owned();
        async move {
            api.delete(&name, &DeleteParams::default())
                .await
                .map(|_| ())
                .map_err(write_error)
        }
    }

    fn patch_node_finalizers(
        &mut self,
        node: &str,
        finalizers: &[String],
    ) -> impl Future<Output = Result<(), String>> + Send {
        let api = self.node_api();
        let name = node.to_owned();
        let patch = serde_json::json!({"metadata": {"finalizers": finalizers}});
        async move {
            api?.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }

    fn enqueue_node_after(&mut self, node: &str, retry: Retry) {
        if let Some(delay) = retry.delay(&self.shared.config) {
            self.shared.queues.node.add_after(node, delay);
        }
    }
}
