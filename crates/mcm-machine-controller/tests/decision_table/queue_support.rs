//! Scripted, recording implementations of the small effect traits of the safety,
//! class, secret and node passes (`flow::safety`, `flow::finalizers`,
//! `flow::nodes`). Every answer comes from the script; every call is recorded in
//! order, so a row can check what happened after a failure.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, SecretReference};
use k8s_openapi::jiff::SignedDuration;
use mcm_api::driver::{
    DeleteMachineRequest, DeleteMachineResponse, DriverResult, ListMachinesRequest,
    ListMachinesResponse, SecretData,
};
use mcm_api::v1alpha1::{Machine, MachineClass};
use mcm_machine_controller::decide::lookup::{Lookup, WriteError, WriteResult};
use mcm_machine_controller::decide::safety::{FreezeState, NextCheck};
use mcm_machine_controller::flow::finalizers::{self, FinalizerEffects, SecretPass};
use mcm_machine_controller::flow::nodes::{self, NodeEffects};
use mcm_machine_controller::flow::safety::{self, ApiServerEffects, OrphanEffects};
use mcm_machine_controller::{ControllerConfig, Retry};

use crate::support::{NAMESPACE, block_on, now};

/// One thing a safety, class, secret or node pass did.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    ListMachines(String),
    DeleteMachine { class: String, machine: Machine },
    PatchNode(String, serde_json::Value),
    GetMachine(String),
    UpdateMachineStatus(Machine),
    EnqueueMachineAfter(String, Duration),
    SetClassFinalizer(String, bool),
    SetSecretFinalizer(String, bool),
    EnqueueMachine(String),
    DeleteMachineObject(String),
    PatchNodeFinalizers(String, Vec<String>),
    EnqueueNodeAfter(String, Retry),
}

/// The world of the orphan sweep: classes (in sweep order), secrets, ListMachines
/// answers per class, the Machine cache, Nodes and Node patch answers.
pub struct OrphanWorld {
    pub classes: Vec<MachineClass>,
    pub secrets: BTreeMap<String, Lookup<SecretData>>,
    pub listed: BTreeMap<String, DriverResult<ListMachinesResponse>>,
    pub machines: Vec<Machine>,
    pub deletes: VecDeque<DriverResult<DeleteMachineResponse>>,
    pub nodes: Vec<Node>,
    pub node_patches: VecDeque<Result<(), String>>,
    pub creation_timeout: SignedDuration,
    pub acts: Vec<Act>,
}

impl Default for OrphanWorld {
    fn default() -> Self {
        OrphanWorld {
            classes: vec![],
            secrets: BTreeMap::new(),
            listed: BTreeMap::new(),
            machines: vec![],
            deletes: VecDeque::new(),
            nodes: vec![],
            node_patches: VecDeque::new(),
            creation_timeout: SignedDuration::from_mins(20),
            acts: vec![],
        }
    }
}

/// What a pass of one of these queues did.
#[derive(Debug)]
pub struct Done<R> {
    pub result: R,
    pub acts: Vec<Act>,
}

impl<R> Done<R> {
    /// Names of the classes ListMachines was called for, in order.
    pub fn listed(&self) -> Vec<&str> {
        self.acts
            .iter()
            .filter_map(|a| match a {
                Act::ListMachines(class) => Some(class.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The stand-in Machines sent to DeleteMachine, in order.
    pub fn deleted(&self) -> Vec<&Machine> {
        self.acts
            .iter()
            .filter_map(|a| match a {
                Act::DeleteMachine { machine, .. } => Some(machine),
                _ => None,
            })
            .collect()
    }

    /// The Node patches, in order.
    pub fn node_patches(&self) -> Vec<(&str, &serde_json::Value)> {
        self.acts
            .iter()
            .filter_map(|a| match a {
                Act::PatchNode(name, patch) => Some((name.as_str(), patch)),
                _ => None,
            })
            .collect()
    }
}

impl OrphanWorld {
    /// Runs one orphan sweep.
    pub fn sweep(mut self) -> Done<Option<Retry>> {
        let timeout = self.creation_timeout;
        let result = block_on(safety::orphan_sweep(&mut self, NAMESPACE, timeout, now()));
        Done {
            result,
            acts: self.acts,
        }
    }
}

impl OrphanEffects for OrphanWorld {
    fn machine_classes(&self) -> Vec<MachineClass> {
        self.classes.clone()
    }

    fn secret(&self, reference: &SecretReference) -> Lookup<SecretData> {
        let name = reference.name.clone().unwrap_or_default();
        self.secrets.get(&name).cloned().unwrap_or(Lookup::NotFound)
    }

    fn list_machines(
        &mut self,
        request: ListMachinesRequest,
    ) -> impl Future<Output = DriverResult<ListMachinesResponse>> + Send {
        let class = request.machine_class.name().to_owned();
        self.acts.push(Act::ListMachines(class.clone()));
        let answer = self
            .listed
            .remove(&class)
            .unwrap_or_else(|| panic!("unexpected ListMachines for class {class}"));
        async move { answer }
    }

    fn machine(&self, name: &str) -> Option<Machine> {
        self.machines.iter().find(|m| m.name() == name).cloned()
    }

    fn delete_machine(
        &mut self,
        request: DeleteMachineRequest,
    ) -> impl Future<Output = DriverResult<DeleteMachineResponse>> + Send {
        self.acts.push(Act::DeleteMachine {
            class: request.machine_class.name().to_owned(),
            machine: request.machine.clone(),
        });
        let answer = self
            .deletes
            .pop_front()
            .unwrap_or(Ok(DeleteMachineResponse::default()));
        async move { answer }
    }

    fn nodes(&self) -> Vec<Node> {
        self.nodes.clone()
    }

    fn machines_of_node(&self, node: &str) -> usize {
        self.machines
            .iter()
            .filter(|m| m.node_name() == Some(node))
            .count()
    }

    fn patch_node(
        &mut self,
        name: &str,
        patch: &serde_json::Value,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.acts
            .push(Act::PatchNode(name.to_owned(), patch.clone()));
        let answer = self.node_patches.pop_front().unwrap_or(Ok(()));
        async move { answer }
    }
}

/// The world of the API-server check: the freeze state, the Machine cache, and the
/// answers of the fresh GETs and status writes (in call order; default success).
#[derive(Default)]
pub struct ApiWorld {
    pub state: FreezeState,
    pub machines: Vec<Machine>,
    /// What a fresh GET returns instead of the cached Machine, by name.
    pub fresh: BTreeMap<String, Machine>,
    pub gets: VecDeque<Result<(), String>>,
    pub writes: VecDeque<WriteResult<()>>,
    pub acts: Vec<Act>,
}

/// The end of an API-server check.
#[derive(Debug)]
pub struct Checked {
    pub result: Result<NextCheck, Retry>,
    pub state: FreezeState,
    pub acts: Vec<Act>,
}

impl Checked {
    /// The delay of the next check under the default settings.
    pub fn next_delay(&self) -> Option<Duration> {
        self.result
            .ok()
            .map(|next| next.delay(&ControllerConfig::default()))
    }

    /// The status writes, in order.
    pub fn status_writes(&self) -> Vec<&Machine> {
        self.acts
            .iter()
            .filter_map(|a| match a {
                Act::UpdateMachineStatus(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// The machine requeues, in order.
    pub fn requeued(&self) -> Vec<(&str, Duration)> {
        self.acts
            .iter()
            .filter_map(|a| match a {
                Act::EnqueueMachineAfter(key, delay) => Some((key.as_str(), *delay)),
                _ => None,
            })
            .collect()
    }
}

impl ApiWorld {
    /// Runs one check with the probe answering `reachable`, `seconds` after `now()`,
    /// with the default 30 s status-check timeout.
    pub fn check(mut self, reachable: bool) -> Checked {
        self.check_at(reachable, 0)
    }

    /// As [`ApiWorld::check`] at `now() + seconds`.
    pub fn check_at(&mut self, reachable: bool, seconds: i64) -> Checked {
        let timeout = SignedDuration::from_secs(30);
        let at = now() + SignedDuration::from_secs(seconds);
        let result = block_on(safety::api_server_check(self, reachable, timeout, at));
        Checked {
            result,
            state: self.state,
            acts: std::mem::take(&mut self.acts),
        }
    }
}

impl ApiServerEffects for ApiWorld {
    fn freeze_state(&self) -> FreezeState {
        self.state
    }

    fn set_freeze_state(&mut self, state: FreezeState) {
        self.state = state;
    }

    fn machines(&self) -> Vec<Machine> {
        self.machines.clone()
    }

    fn get_machine(&mut self, name: &str) -> impl Future<Output = Result<Machine, String>> + Send {
        self.acts.push(Act::GetMachine(name.to_owned()));
        let machine = self
            .fresh
            .get(name)
            .or_else(|| self.machines.iter().find(|m| m.name() == name))
            .cloned()
            .expect("GET of a machine that is not in the world");
        let answer = self.gets.pop_front().unwrap_or(Ok(())).map(|()| machine);
        async move { answer }
    }

    fn update_machine_status(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send {
        self.acts.push(Act::UpdateMachineStatus(machine.clone()));
        let stored = machine.clone();
        let answer = self.writes.pop_front().unwrap_or(Ok(())).map(|()| stored);
        async move { answer }
    }

    fn enqueue_machine_after(&mut self, machine: &Machine, delay: Duration) {
        self.acts.push(Act::EnqueueMachineAfter(
            format!("{}/{}", machine.namespace(), machine.name()),
            delay,
        ));
    }
}

/// The world of the class, secret and node passes.
#[derive(Default)]
pub struct ControllerWorld {
    pub classes: Vec<MachineClass>,
    pub machines: Vec<Machine>,
    /// Secret name → finalizers as cached.
    pub secrets: BTreeMap<String, Vec<String>>,
    pub nodes: Vec<Node>,
    /// Answers of the finalizer writes (class and secret), in call order.
    pub finalizer_writes: VecDeque<Result<(), String>>,
    /// Answers of the Machine deletions, in call order.
    pub machine_deletes: VecDeque<WriteResult<()>>,
    /// Answers of the Node finalizer patches, in call order.
    pub node_patches: VecDeque<Result<(), String>>,
    pub acts: Vec<Act>,
}

impl ControllerWorld {
    /// Runs a class pass for `name`.
    pub fn class_pass(mut self, name: &str) -> Done<Retry> {
        let result = block_on(finalizers::reconcile_class(&mut self, name));
        Done {
            result,
            acts: self.acts,
        }
    }

    /// Runs a secret pass for key `namespace/name`.
    pub fn secret_pass(mut self, key: &str) -> Done<SecretPass> {
        let result = block_on(finalizers::reconcile_secret(&mut self, NAMESPACE, key));
        Done {
            result,
            acts: self.acts,
        }
    }

    /// Runs a node pass for `name`.
    pub fn node_pass(mut self, name: &str) -> Done<Retry> {
        let result = block_on(nodes::reconcile_node(&mut self, name));
        Done {
            result,
            acts: self.acts,
        }
    }

    /// Deletes `machine` because its Node went; `requeue_node` as the runtime passes
    /// it (Some for a Node update, None for a Node delete event).
    pub fn delete_for_node(mut self, (machine, requeue_node): (Machine, Option<&str>)) -> Done<()> {
        block_on(nodes::delete_machine_of_node(
            &mut self,
            &machine,
            requeue_node,
        ));
        Done {
            result: (),
            acts: self.acts,
        }
    }
}

impl FinalizerEffects for ControllerWorld {
    fn machine_class(&self, name: &str) -> Option<MachineClass> {
        self.classes.iter().find(|c| c.name() == name).cloned()
    }

    fn machine_classes(&self) -> Vec<MachineClass> {
        self.classes.clone()
    }

    fn machines(&self) -> Vec<Machine> {
        self.machines.clone()
    }

    fn secret_finalizers(&self, name: &str) -> Option<Vec<String>> {
        self.secrets.get(name).cloned()
    }

    fn set_class_finalizer(
        &mut self,
        name: &str,
        present: bool,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.acts
            .push(Act::SetClassFinalizer(name.to_owned(), present));
        let answer = self.finalizer_writes.pop_front().unwrap_or(Ok(()));
        async move { answer }
    }

    fn set_secret_finalizer(
        &mut self,
        name: &str,
        present: bool,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.acts
            .push(Act::SetSecretFinalizer(name.to_owned(), present));
        let answer = self.finalizer_writes.pop_front().unwrap_or(Ok(()));
        async move { answer }
    }

    fn enqueue_machine(&mut self, key: &str) {
        self.acts.push(Act::EnqueueMachine(key.to_owned()));
    }
}

impl NodeEffects for ControllerWorld {
    fn node(&self, name: &str) -> Option<Node> {
        self.nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .cloned()
    }

    fn machines_of_node(&self, node: &str) -> Vec<Machine> {
        self.machines
            .iter()
            .filter(|m| m.node_name() == Some(node))
            .cloned()
            .collect()
    }

    fn delete_machine_object(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<()>> + Send {
        self.acts
            .push(Act::DeleteMachineObject(machine.name().to_owned()));
        let answer = self.machine_deletes.pop_front().unwrap_or(Ok(()));
        async move { answer }
    }

    fn patch_node_finalizers(
        &mut self,
        node: &str,
        finalizers: &[String],
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.acts.push(Act::PatchNodeFinalizers(
            node.to_owned(),
            finalizers.to_vec(),
        ));
        let answer = self.node_patches.pop_front().unwrap_or(Ok(()));
        async move { answer }
    }

    fn enqueue_node_after(&mut self, node: &str, retry: Retry) {
        self.acts
            .push(Act::EnqueueNodeAfter(node.to_owned(), retry));
    }
}

/// A write failure other than conflict/not-found.
pub fn failed(text: &str) -> WriteResult<()> {
    Err(WriteError::Other(text.to_owned()))
}
