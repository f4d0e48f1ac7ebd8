//! Requests and responses of the driver methods (MCM's `driver.go` structs), with
//! every field MCM passes and reads.
//!
//! Requests are owned copies: a driver may keep or move them freely. The `Debug`
//! output of requests never contains secret values (see [`SecretData`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeAddress, PersistentVolumeSpec};

use crate::v1alpha1::{ClassSpec, Machine, MachineClass};

use super::secret::SecretData;

/// `CreateMachine` input.
#[derive(Debug, Clone, Default)]
pub struct CreateMachineRequest {
    /// The Machine (its `status.lastKnownState` is the provider state stored so far).
    pub machine: Machine,
    /// Its MachineClass (`providerSpec` holds the VM template).
    pub machine_class: MachineClass,
    /// Merged secret data; `userData` has its placeholders substituted.
    pub secret: SecretData,
}

/// `CreateMachine` output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateMachineResponse {
    /// The VM's unique ID; must equal the Node's `spec.providerID`. Must not be empty.
    pub provider_id: String,
    /// The name the Node will register with. Must not be empty with a target cluster.
    pub node_name: String,
    /// Opaque provider state to store in `status.lastKnownState` (also honoured when
    /// returned together with an error).
    pub last_known_state: String,
    /// Addresses; only used without a target cluster.
    pub addresses: Vec<NodeAddress>,
}

/// `InitializeMachine` input (the Machine already has `spec.providerID` and the
/// `node` label when the preceding update succeeded).
#[derive(Debug, Clone, Default)]
pub struct InitializeMachineRequest {
    /// The Machine.
    pub machine: Machine,
    /// Its MachineClass.
    pub machine_class: MachineClass,
    /// Merged secret data, `userData` substituted.
    pub secret: SecretData,
}

/// `InitializeMachine` output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitializeMachineResponse {
    /// Informational.
    pub provider_id: String,
    /// Informational.
    pub node_name: String,
    /// Addresses; only used without a target cluster.
    pub addresses: Vec<NodeAddress>,
}

/// `DeleteMachine` input. From the orphan collector and the stale-node path the
/// Machine is a stand-in with only name, namespace and `spec.providerID`; during
/// deletion of a Machine that never got a VM, `spec.providerID` may be empty — the
/// driver must answer OK or `NotFound` then.
#[derive(Debug, Clone, Default)]
pub struct DeleteMachineRequest {
    /// The Machine (or a stand-in).
    pub machine: Machine,
    /// Its MachineClass.
    pub machine_class: MachineClass,
    /// Merged secret data (no placeholder substitution).
    pub secret: SecretData,
}

/// `DeleteMachine` output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteMachineResponse {
    /// Stored in `status.lastKnownState` (an empty value clears it).
    pub last_known_state: String,
}

/// `GetMachineStatus` input.
#[derive(Debug, Clone, Default)]
pub struct GetMachineStatusRequest {
    /// The Machine.
    pub machine: Machine,
    /// Its MachineClass.
    pub machine_class: MachineClass,
    /// Merged secret data (substituted during creation, raw during deletion).
    pub secret: SecretData,
}

/// `GetMachineStatus` output; also what must accompany an `Uninitialized` error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetMachineStatusResponse {
    /// The VM's provider ID (used to adopt an existing VM).
    pub provider_id: String,
    /// The Node name.
    pub node_name: String,
    /// Addresses; only used without a target cluster.
    pub addresses: Vec<NodeAddress>,
}

/// `ListMachines` input: all VMs of one class.
#[derive(Debug, Clone, Default)]
pub struct ListMachinesRequest {
    /// The class whose VMs to list.
    pub machine_class: MachineClass,
    /// Merged secret data.
    pub secret: SecretData,
}

/// `ListMachines` output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListMachinesResponse {
    /// Provider ID → machine name, for every VM of the class (orphans included).
    pub machine_list: BTreeMap<String, String>,
}

/// `GetVolumeIDs` input.
#[derive(Debug, Clone, Default)]
pub struct GetVolumeIdsRequest {
    /// PersistentVolume specs (MCM always sends exactly one).
    pub pv_specs: Vec<PersistentVolumeSpec>,
}

/// `GetVolumeIDs` output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetVolumeIdsResponse {
    /// Provider volume IDs; only the first is used; empty = not a volume of this
    /// provider (the drain does not wait for it to detach).
    pub volume_ids: Vec<String>,
}

/// Input of the legacy `GenerateMachineClassForMigration` (removed from MCM in v0.49).
#[derive(Debug, Clone, Default)]
pub struct GenerateMachineClassForMigrationRequest {
    /// The old provider-specific class object.
    pub provider_specific_machine_class: serde_json::Value,
    /// The MachineClass to fill in.
    pub machine_class: MachineClass,
    /// The class reference.
    pub class_spec: ClassSpec,
}

/// Output of the legacy `GenerateMachineClassForMigration` (empty, as in Go).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateMachineClassForMigrationResponse {}
