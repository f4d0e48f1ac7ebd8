//! [`Effects`] over kube-rs and the provider's driver: what a machine or termination
//! pass actually does.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Secret, SecretReference};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use mcm_api::Driver;
use mcm_api::driver::{
    CreateMachineRequest, CreateMachineResponse, DeleteMachineRequest, DeleteMachineResponse,
    DriverResult, GetMachineStatusRequest, GetMachineStatusResponse, InitializeMachineRequest,
    InitializeMachineResponse, SecretData,
};
use mcm_api::v1alpha1::{Machine, MachineClass};
use mcm_api::well_known::{finalizers, node_labels, process};
use tokio::sync::OwnedSemaphorePermit;

use super::queue::WorkQueue;
use super::state::Shared;
use crate::decide::deletion::DrainPolicy;
use crate::decide::health::failed_mark_visible;
use crate::decide::lookup::{Lookup, WriteError, WriteResult};
use crate::decide::user_data::{
    bootstrap_token_id, bootstrap_token_secret_data, bootstrap_token_secret_name,
    generate_token_secret,
};
use crate::drain::Drainer;
use crate::flow::{Effects, Observation};
use crate::retry::Retry;

/// Maps a kube error to what the decisions distinguish.
pub fn write_error(error: kube::Error) -> WriteError {
    match &error {
        kube::Error::Api(status) if status.code == 409 => WriteError::Conflict,
        kube::Error::Api(status) if status.code == 404 => WriteError::NotFound,
        _ => WriteError::Other(error.to_string()),
    }
}

/// Whether a kube error is a 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The effects of one pass of one key.
pub struct PassEffects<'a, D> {
    shared: &'a Shared<D>,
    key: String,
    queue: &'a WorkQueue,
    machine: Option<Arc<Machine>>,
    permit: Option<OwnedSemaphorePermit>,
    creation_started: bool,
}

impl<D> std::fmt::Debug for PassEffects<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassEffects")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<'a, D: Driver> PassEffects<'a, D> {
    /// Effects for the pass of `key` on `queue`.
    pub fn new(
        shared: &'a Shared<D>,
        key: &str,
        queue: &'a WorkQueue,
        machine: Option<Arc<Machine>>,
    ) -> Self {
        PassEffects {
            shared,
            key: key.to_owned(),
            queue,
            machine,
            permit: None,
            creation_started: false,
        }
    }

    /// Whether the pass entered the creation flow.
    pub fn creation_started(&self) -> bool {
        self.creation_started
    }

    fn namespace(&self) -> &str {
        &self.shared.config.namespace
    }

    fn machines(&self) -> Api<Machine> {
        Api::namespaced(self.shared.clusters.control.clone(), self.namespace())
    }

    fn target(&self) -> Result<kube::Client, String> {
        self.shared
            .clusters
            .target
            .clone()
            .ok_or_else(|| "no target cluster is configured".to_owned())
    }

    fn class_of_machine(&self) -> Option<Arc<MachineClass>> {
        let machine = self.machine.as_ref()?;
        self.shared
            .caches
            .classes
            .get(self.namespace(), &machine.spec.class.name)
    }

    async fn timed<R>(
        &self,
        operation: &'static str,
        call: impl Future<Output = DriverResult<R>>,
    ) -> DriverResult<R> {
        let started = Instant::now();
        let result = call.await;
        let code = result.as_ref().err().map(|e| e.code());
        self.shared
            .observer
            .driver_call(operation, started.elapsed().as_secs_f64(), code);
        result
    }
}

impl<D: Driver> Effects for PassEffects<'_, D> {
    fn machine_class(&self, name: &str) -> Lookup<MachineClass> {
        Lookup::from_option(
            self.shared
                .caches
                .classes
                .get(self.namespace(), name)
                .map(|c| (*c).clone()),
        )
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

    fn machines_in_group(&self, group: &str) -> Vec<Machine> {
        self.shared
            .caches
            .machines
            .filter(|m| m.label(mcm_api::well_known::machine_labels::NAME) == Some(group))
            .into_iter()
            .map(|m| (*m).clone())
            .collect()
    }

    fn node(&self, name: &str) -> Lookup<Node> {
        Lookup::from_option(self.shared.caches.nodes.get("", name).map(|n| (*n).clone()))
    }

    fn node_for_machine(&self, machine_name: &str) -> Lookup<String> {
        let found = self.shared.caches.nodes.filter(|node| {
            node.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(node_labels::MACHINE_NAME))
                .map(String::as_str)
                == Some(machine_name)
        });
        Lookup::from_option(found.first().and_then(|n| n.metadata.name.clone()))
    }

    async fn get_machine_status(
        &mut self,
        request: GetMachineStatusRequest,
    ) -> DriverResult<GetMachineStatusResponse> {
        let driver = self.shared.driver.clone();
        self.timed("GetMachineStatus", driver.get_machine_status(request))
            .await
    }

    async fn create_machine(
        &mut self,
        request: CreateMachineRequest,
    ) -> DriverResult<CreateMachineResponse> {
        let driver = self.shared.driver.clone();
        self.timed("CreateMachine", driver.create_machine(request))
            .await
    }

    async fn initialize_machine(
        &mut self,
        request: InitializeMachineRequest,
    ) -> DriverResult<InitializeMachineResponse> {
        let driver = self.shared.driver.clone();
        self.timed("InitializeMachine", driver.initialize_machine(request))
            .await
    }

    async fn delete_machine(
        &mut self,
        request: DeleteMachineRequest,
    ) -> DriverResult<DeleteMachineResponse> {
        let driver = self.shared.driver.clone();
        self.timed("DeleteMachine", driver.delete_machine(request))
            .await
    }

    async fn update_machine(&mut self, machine: &Machine) -> WriteResult<Machine> {
        self.machines()
            .replace(machine.name(), &PostParams::default(), machine)
            .await
            .map_err(write_error)
    }

    async fn update_machine_status(&mut self, machine: &Machine) -> WriteResult<Machine> {
        self.machines()
            .replace_status(machine.name(), &PostParams::default(), machine)
            .await
            .map_err(write_error)
    }

    async fn ensure_bootstrap_token(
        &mut self,
        machine_name: &str,
        expiration: Timestamp,
    ) -> Result<String, String> {
        let id = bootstrap_token_id(machine_name).map_err(|e| e.to_string())?;
        let secrets: Api<Secret> =
            Api::namespaced(self.target()?, process::BOOTSTRAP_TOKEN_NAMESPACE);
        let name = bootstrap_token_secret_name(&id);
        let existing = secrets.get_opt(&name).await.map_err(|e| e.to_string())?;
        let secret = match existing {
            Some(secret) => secret,
            None => {
                let token_secret = generate_token_secret(&mut rand::rng());
                let mut secret = Secret::default();
                secret.metadata.name = Some(name.clone());
                secret.metadata.namespace = Some(process::BOOTSTRAP_TOKEN_NAMESPACE.to_owned());
                secret.type_ = Some(process::BOOTSTRAP_TOKEN_SECRET_TYPE.to_owned());
                secret.string_data = Some(bootstrap_token_secret_data(
                    machine_name,
                    &id,
                    &token_secret,
                    expiration,
                    &self.shared.config.bootstrap_token_auth_extra_groups,
                ));
                secrets
                    .create(&PostParams::default(), &secret)
                    .await
                    .map_err(|e| format!("creating bootstrap token secret {name}: {e}"))?
            }
        };
        let data = SecretData::from_secret(&secret);
        let token_id = data.get_str("token-id").map_err(|e| e.to_string())?;
        let token_secret = data.get_str("token-secret").map_err(|e| e.to_string())?;
        Ok(format!("{token_id}.{token_secret}"))
    }

    async fn delete_bootstrap_token(&mut self, machine_name: &str) -> Result<(), String> {
        let id = bootstrap_token_id(machine_name).map_err(|e| e.to_string())?;
        let secrets: Api<Secret> =
            Api::namespaced(self.target()?, process::BOOTSTRAP_TOKEN_NAMESPACE);
        match secrets
            .delete(&bootstrap_token_secret_name(&id), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(error.to_string()),
        }
    }

    async fn update_node(&mut self, node: &Node) -> WriteResult<Node> {
        let client = self.target().map_err(WriteError::Other)?;
        let name = node.metadata.name.clone().unwrap_or_default();
        Api::<Node>::all(client)
            .replace(&name, &PostParams::default(), node)
            .await
            .map_err(write_error)
    }

    async fn update_node_status(&mut self, node: &Node) -> WriteResult<Node> {
        let client = self.target().map_err(WriteError::Other)?;
        let name = node.metadata.name.clone().unwrap_or_default();
        Api::<Node>::all(client)
            .replace_status(&name, &PostParams::default(), node)
            .await
            .map_err(write_error)
    }

    async fn cordon_node(&mut self, name: &str) -> Result<(), String> {
        let nodes = Api::<Node>::all(self.target()?);
        let Some(node) = nodes.get_opt(name).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
            return Ok(());
        }
        let patch = serde_json::json!({"spec": {"unschedulable": true}});
        nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn drain_node(&mut self, name: &str, policy: &DrainPolicy) -> Result<(), String> {
        let drainer = Drainer {
            client: self.target()?,
            driver: self.shared.driver.as_ref(),
            pv_detach_timeout: self.shared.config.pv_detach_timeout,
            pv_reattach_timeout: self.shared.config.pv_reattach_timeout,
        };
        match drainer.drain(name, policy).await {
            Ok(report) => {
                tracing::info!(node = name, ?report, "drain finished");
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        }
    }

    async fn live_volume_attachments(&mut self, node: &str) -> Result<Vec<String>, String> {
        let attachments = Api::<VolumeAttachment>::all(self.target()?)
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(attachments
            .items
            .into_iter()
            .filter(|va| va.spec.node_name == node && va.metadata.deletion_timestamp.is_none())
            .filter_map(|va| va.metadata.name)
            .collect())
    }

    async fn delete_volume_attachment(&mut self, name: &str) -> Result<(), String> {
        match Api::<VolumeAttachment>::all(self.target()?)
            .delete(name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(error.to_string()),
        }
    }

    async fn remove_node_finalizer(&mut self, node: &str) -> Result<(), String> {
        let nodes = Api::<Node>::all(self.target()?);
        let Some(current) = nodes.get_opt(node).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let remaining: Vec<String> = current
            .metadata
            .finalizers
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != finalizers::NODE)
            .collect();
        let patch = serde_json::json!({"metadata": {"finalizers": remaining}});
        nodes
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn delete_node(&mut self, node: &str) -> WriteResult<()> {
        let client = self.target().map_err(WriteError::Other)?;
        Api::<Node>::all(client)
            .delete(node, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    async fn acquire_group_permit(&mut self, group: &str) -> bool {
        let semaphore = self.shared.group_permit(group);
        match tokio::time::timeout(Duration::from_secs(1), semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => {
                self.permit = Some(permit);
                true
            }
            _ => false,
        }
    }

    fn release_group_permit(&mut self, _group: &str) {
        self.permit = None;
    }

    async fn await_failed_mark(&mut self, machine_name: &str) {
        let namespace = self.namespace().to_owned();
        for _ in 0..10 {
            let cached = self.shared.caches.machines.get(&namespace, machine_name);
            if failed_mark_visible(cached.as_deref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The cache is lagging: hold the permit a little longer so the next machine
        // of the group cannot be marked on stale data.
        tokio::time::sleep(Duration::from_secs(10)).await;
    }

    fn enqueue_machine_class(&mut self, name: &str) {
        self.shared.queues.class.add(name);
    }

    fn enqueue_termination(&mut self, machine: &Machine) {
        self.shared
            .queues
            .termination
            .add(&format!("{}/{}", machine.namespace(), machine.name()));
    }

    fn requeue_also(&mut self, retry: Retry) {
        if let Some(delay) = retry.delay(&self.shared.config) {
            self.queue.add_after(&self.key, delay);
        }
    }

    fn creation_started(&mut self) {
        self.creation_started = true;
        self.shared.set_creating(&self.key, true);
    }

    fn observe(&mut self, observation: Observation) {
        if let Some(machine) = &self.machine {
            let class = self.class_of_machine();
            self.shared
                .observer
                .observation(observation, machine, class.as_deref());
        }
    }
}
