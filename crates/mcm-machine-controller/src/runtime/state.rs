//! The state shared by all queues of one machine controller: clients, caches,
//! queues, the driver, and the little in-memory bookkeeping MCM keeps (machines in
//! the creation flow, the freeze flag, health-timeout permits).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::{Node, Secret};
use mcm_api::Code;
use mcm_api::v1alpha1::{Machine, MachineClass};
use tokio::sync::Semaphore;

use super::cache::Cache;
use super::clients::Clusters;
use super::queue::{QueueObserver, WorkQueue};
use crate::config::ControllerConfig;
use crate::decide::safety::FreezeState;
use crate::flow::Observation;

/// Receives what the controller measures (the process's metrics implement it).
pub trait RuntimeObserver: QueueObserver {
    /// A reconcile pass reported a measurement for a machine.
    fn observation(
        &self,
        _observation: Observation,
        _machine: &Machine,
        _class: Option<&MachineClass>,
    ) {
    }
    /// A driver call finished (`code` is `None` on success).
    fn driver_call(&self, _operation: &'static str, _seconds: f64, _code: Option<Code>) {}
}

/// An observer that records nothing.
#[derive(Debug, Default)]
pub struct NoMetrics;

impl QueueObserver for NoMetrics {}
impl RuntimeObserver for NoMetrics {}

/// The informer caches.
#[derive(Debug, Clone)]
pub struct Caches {
    /// Machines in `--namespace`.
    pub machines: Cache<Machine>,
    /// MachineClasses in `--namespace`.
    pub classes: Cache<MachineClass>,
    /// Secrets in `--namespace`.
    pub secrets: Cache<Secret>,
    /// Nodes of the target cluster (empty without one).
    pub nodes: Cache<Node>,
}

/// The work queues, named as MCM names them (the names appear in metrics).
#[derive(Debug, Clone)]
pub struct Queues {
    /// `secret`.
    pub secret: WorkQueue,
    /// `machineclass`.
    pub class: WorkQueue,
    /// `machine`.
    pub machine: WorkQueue,
    /// `machinetermination`.
    pub termination: WorkQueue,
    /// `machinesafetyorphanvms`.
    pub orphans: WorkQueue,
    /// `node`.
    pub node: WorkQueue,
    /// `machinesafetyapiserver`.
    pub apiserver: WorkQueue,
}

impl Queues {
    /// The seven queues.
    pub fn new(observer: Arc<dyn QueueObserver>) -> Queues {
        Queues {
            secret: WorkQueue::new("secret", observer.clone()),
            class: WorkQueue::new("machineclass", observer.clone()),
            machine: WorkQueue::new("machine", observer.clone()),
            termination: WorkQueue::new("machinetermination", observer.clone()),
            orphans: WorkQueue::new("machinesafetyorphanvms", observer.clone()),
            node: WorkQueue::new("node", observer.clone()),
            apiserver: WorkQueue::new("machinesafetyapiserver", observer),
        }
    }

    /// All queues.
    pub fn all(&self) -> [&WorkQueue; 7] {
        [
            &self.secret,
            &self.class,
            &self.machine,
            &self.termination,
            &self.orphans,
            &self.node,
            &self.apiserver,
        ]
    }
}

/// Everything a pass of any queue needs.
pub struct Shared<D> {
    /// Settings.
    pub config: Arc<ControllerConfig>,
    /// Clients.
    pub clusters: Clusters,
    /// The provider's driver.
    pub driver: Arc<D>,
    /// Caches.
    pub caches: Caches,
    /// Queues.
    pub queues: Queues,
    /// Metrics.
    pub observer: Arc<dyn RuntimeObserver>,
    creating: Mutex<HashSet<String>>,
    freeze: Mutex<FreezeState>,
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl<D> std::fmt::Debug for Shared<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<D> Shared<D> {
    /// Shared state over the given parts.
    pub fn new(
        config: Arc<ControllerConfig>,
        clusters: Clusters,
        driver: Arc<D>,
        caches: Caches,
        queues: Queues,
        observer: Arc<dyn RuntimeObserver>,
    ) -> Shared<D> {
        Shared {
            config,
            clusters,
            driver,
            caches,
            queues,
            observer,
            creating: Mutex::default(),
            freeze: Mutex::default(),
            permits: Mutex::default(),
        }
    }

    /// Whether a machine (`ns/name`) is inside the creation flow.
    pub fn is_creating(&self, key: &str) -> bool {
        lock(&self.creating).contains(key)
    }

    /// Marks a machine as inside (or outside) the creation flow.
    pub fn set_creating(&self, key: &str, creating: bool) {
        let mut set = lock(&self.creating);
        if creating {
            set.insert(key.to_owned());
        } else {
            set.remove(key);
        }
    }

    /// The API-server safety state.
    pub fn freeze_state(&self) -> FreezeState {
        *lock(&self.freeze)
    }

    /// Replaces the API-server safety state.
    pub fn set_freeze_state(&self, state: FreezeState) {
        *lock(&self.freeze) = state;
    }

    /// Whether the controller is frozen.
    pub fn is_frozen(&self) -> bool {
        lock(&self.freeze).frozen
    }

    /// The single health-timeout permit of a group (kept for the process lifetime;
    /// MCM's janitor quirk 15 is not reproduced).
    pub fn group_permit(&self, group: &str) -> Arc<Semaphore> {
        lock(&self.permits)
            .entry(group.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    /// Machines labelled `node=<node>`.
    pub fn machines_of_node(&self, node: &str) -> Vec<Arc<Machine>> {
        self.caches.machines.filter(|m| m.node_name() == Some(node))
    }
}
