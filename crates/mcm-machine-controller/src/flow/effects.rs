//! The I/O a reconcile pass may do, as one trait.
//!
//! The flows in this module are the contract's step lists written as straight-line
//! async code; every read of a cache, call of the driver, write to a cluster and
//! queue operation goes through [`Effects`]. The runtime implements it with kube-rs
//! and the provider's driver; the decision-table tests implement it with a recorder
//! that answers from a script. Decisions themselves are the pure functions in
//! [`crate::decide`].

use std::future::Future;

use k8s_openapi::api::core::v1::{Node, SecretReference};
use k8s_openapi::jiff::Timestamp;
use mcm_api::driver::{
    CreateMachineRequest, CreateMachineResponse, DeleteMachineRequest, DeleteMachineResponse,
    DriverResult, GetMachineStatusRequest, GetMachineStatusResponse, InitializeMachineRequest,
    InitializeMachineResponse, SecretData,
};
use mcm_api::v1alpha1::{Machine, MachineClass};

use crate::config::ControllerConfig;
use crate::decide::deletion::DrainPolicy;
use crate::decide::lookup::{Lookup, WriteResult};
use crate::retry::Retry;

/// Facts a pass needs besides the objects.
#[derive(Debug, Clone)]
pub struct PassContext<'a> {
    /// The controller's settings.
    pub config: &'a ControllerConfig,
    /// The time of the pass.
    pub now: Timestamp,
    /// Whether the API-server safety check froze the controller.
    pub frozen: bool,
    /// Whether another worker is inside this machine's creation flow.
    pub creation_in_progress: bool,
}

/// Measurements a pass reports (the runtime turns them into MCM's metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// CreateMachine succeeded: seconds since the Machine was created.
    Created(f64),
    /// InitializeMachine succeeded or was skipped.
    Initialized(f64),
    /// The machine became Running for the first time.
    Joined(f64),
    /// A Pending machine hit the creation timeout.
    FailedToJoin,
    /// A deletion drain succeeded: seconds the drain took.
    Drained(f64),
    /// DeleteMachine succeeded: seconds since deletion was requested.
    Deleted(f64),
}

/// Everything a machine or termination pass reads and does outside itself.
pub trait Effects: Send {
    // ---- caches of the control cluster (namespace-filtered) ----------------------

    /// The MachineClass named so in the controller's namespace.
    fn machine_class(&self, name: &str) -> Lookup<MachineClass>;

    /// The `data` of a referenced Secret (not found also when in another namespace).
    fn secret(&self, reference: &SecretReference) -> Lookup<SecretData>;

    /// Machines carrying label `name=<group>` (the rate-limit group).
    fn machines_in_group(&self, group: &str) -> Vec<Machine>;

    // ---- caches of the target cluster --------------------------------------------

    /// A Node by name.
    fn node(&self, name: &str) -> Lookup<Node>;

    /// The name of a Node labelled `node.gardener.cloud/machine-name=<machine>`.
    fn node_for_machine(&self, machine_name: &str) -> Lookup<String>;

    // ---- the driver ---------------------------------------------------------------

    /// `GetMachineStatus`.
    fn get_machine_status(
        &mut self,
        request: GetMachineStatusRequest,
    ) -> impl Future<Output = DriverResult<GetMachineStatusResponse>> + Send;

    /// `CreateMachine`.
    fn create_machine(
        &mut self,
        request: CreateMachineRequest,
    ) -> impl Future<Output = DriverResult<CreateMachineResponse>> + Send;

    /// `InitializeMachine`.
    fn initialize_machine(
        &mut self,
        request: InitializeMachineRequest,
    ) -> impl Future<Output = DriverResult<InitializeMachineResponse>> + Send;

    /// `DeleteMachine`.
    fn delete_machine(
        &mut self,
        request: DeleteMachineRequest,
    ) -> impl Future<Output = DriverResult<DeleteMachineResponse>> + Send;

    // ---- writes to the control cluster ------------------------------------------

    /// Updates metadata and spec of the Machine (a full update).
    fn update_machine(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send;

    /// Writes the Machine's status through the `/status` subresource.
    fn update_machine_status(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send;

    // ---- the target cluster --------------------------------------------------------

    /// Gets or creates the bootstrap token Secret of a machine; returns the token
    /// (`<id>.<secret>`). The token must never be logged.
    fn ensure_bootstrap_token(
        &mut self,
        machine_name: &str,
        expiration: Timestamp,
    ) -> impl Future<Output = Result<String, String>> + Send;

    /// Deletes the bootstrap token Secret of a machine (not-found is fine).
    fn delete_bootstrap_token(
        &mut self,
        machine_name: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Updates a Node (metadata and spec).
    fn update_node(&mut self, node: &Node) -> impl Future<Output = WriteResult<Node>> + Send;

    /// Updates a Node's status.
    fn update_node_status(&mut self, node: &Node)
    -> impl Future<Output = WriteResult<Node>> + Send;

    /// Cordons a Node (live read; not-found and already-unschedulable are no-ops).
    fn cordon_node(&mut self, name: &str) -> impl Future<Output = Result<(), String>> + Send;

    /// Drains a Node as the policy says (evictions, PDBs, volume detach waits).
    fn drain_node(
        &mut self,
        name: &str,
        policy: &DrainPolicy,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Names of the VolumeAttachments of a Node that are not being deleted.
    fn live_volume_attachments(
        &mut self,
        node: &str,
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send;

    /// Deletes a VolumeAttachment.
    fn delete_volume_attachment(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Removes `node.machine.sapcloud.io/machine-controller` from a Node's finalizers.
    fn remove_node_finalizer(
        &mut self,
        node: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Deletes a Node.
    fn delete_node(&mut self, node: &str) -> impl Future<Output = WriteResult<()>> + Send;

    // ---- the health-timeout rate limit ---------------------------------------------

    /// Takes the group's single permit, waiting up to 1 s.
    fn acquire_group_permit(&mut self, group: &str) -> impl Future<Output = bool> + Send;

    /// Gives the group's permit back.
    fn release_group_permit(&mut self, group: &str);

    /// Waits until the cache shows the machine `Failed`/`Terminating`/gone (polling
    /// 100 ms up to 1 s; then 10 s more), so the next decision in the group sees it.
    fn await_failed_mark(&mut self, machine_name: &str) -> impl Future<Output = ()> + Send;

    // ---- queues and bookkeeping -----------------------------------------------------

    /// Puts a MachineClass on the class queue.
    fn enqueue_machine_class(&mut self, name: &str);

    /// Hands the Machine to the termination queue now.
    fn enqueue_termination(&mut self, machine: &Machine);

    /// Schedules this key again after `retry` in addition to the pass's own retry
    /// (the earlier wins).
    fn requeue_also(&mut self, retry: Retry);

    /// Marks this machine as inside the creation flow until the pass ends.
    fn creation_started(&mut self);

    /// Reports a measurement.
    fn observe(&mut self, observation: Observation);
}
