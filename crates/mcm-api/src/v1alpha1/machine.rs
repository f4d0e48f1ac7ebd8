//! `Machine`: one VM as a Kubernetes object.
//!
//! The machine controller owns `status` (written only through the `/status`
//! subresource) and a few metadata fields (`node` label, priority annotation,
//! finalizer, `spec.providerID`). The MCM binary reads `status.currentStatus.phase`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeAddress, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use crate::serde_util::{is_empty, is_false, machine_resource, null_as_default, string_enum};
use crate::well_known::{machine_annotations, machine_labels};

use super::shared::{ClassSpec, LastOperation, MachineConfiguration, NodeTemplateSpec};

/// A `machine.sapcloud.io/v1alpha1` Machine.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Machine {
    /// Standard object metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: MachineSpec,
    /// Observed state, written by the machine controller.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: MachineStatus,
}

machine_resource!(Machine, "machines", "MachineList");

impl Serialize for Machine {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            spec: &'a MachineSpec,
            status: &'a MachineStatus,
        }
        Wire {
            api_version: super::API_VERSION,
            kind: "Machine",
            metadata: &self.metadata,
            spec: &self.spec,
            status: &self.status,
        }
        .serialize(serializer)
    }
}

impl Machine {
    /// The object name (empty if unset).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The object namespace (empty if unset).
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }

    /// A label value, if the label is present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// An annotation value, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// The `node` label: the name of this machine's Node.
    pub fn node_name(&self) -> Option<&str> {
        self.label(machine_labels::NODE)
    }

    /// The scale-down priority annotation.
    pub fn priority(&self) -> Option<&str> {
        self.annotation(machine_annotations::PRIORITY)
    }

    /// The current phase (`Unset` for a machine never processed).
    pub fn phase(&self) -> &MachinePhase {
        &self.status.current_status.phase
    }

    /// Whether `metadata.finalizers` contains `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.metadata
            .finalizers
            .as_ref()
            .is_some_and(|all| all.iter().any(|f| f == finalizer))
    }

    /// Whether the object is being deleted.
    pub fn is_deleting(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }

    /// Mutable access to the labels, creating the map when absent.
    pub fn labels_mut(&mut self) -> &mut BTreeMap<String, String> {
        self.metadata.labels.get_or_insert_with(BTreeMap::new)
    }

    /// Mutable access to the annotations, creating the map when absent.
    pub fn annotations_mut(&mut self) -> &mut BTreeMap<String, String> {
        self.metadata.annotations.get_or_insert_with(BTreeMap::new)
    }
}

/// `Machine.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    /// The MachineClass this machine is built from.
    #[serde(default, deserialize_with = "null_as_default")]
    pub class: ClassSpec,
    /// The provider's unique VM id; empty until the machine controller sets it.
    #[serde(
        default,
        rename = "providerID",
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub provider_id: String,
    /// Labels, annotations and taints kept in sync on the Node.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "NodeTemplateSpec::is_empty"
    )]
    pub node_template: NodeTemplateSpec,
    /// Per-machine overrides of controller flags (inlined in JSON).
    #[serde(flatten)]
    pub configuration: MachineConfiguration,
}

/// `Machine.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineStatus {
    /// Only maintained without a target cluster.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub addresses: Vec<NodeAddress>,
    /// Copy of the Node's conditions.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub conditions: Vec<NodeCondition>,
    /// What the controller did last.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_operation: LastOperation,
    /// The phase.
    #[serde(default, deserialize_with = "null_as_default")]
    pub current_status: CurrentStatus,
    /// Opaque provider state passed back to the driver.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub last_known_state: String,
}

/// `status.currentStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentStatus {
    /// The phase; the key the MCM binary reads.
    #[serde(default, skip_serializing_if = "MachinePhase::is_unset")]
    pub phase: MachinePhase,
    /// Informational only.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub timeout_active: bool,
    /// Time of the last phase change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Set while the machine is preserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_expiry_time: Option<Time>,
}

string_enum! {
    /// `status.currentStatus.phase`.
    pub enum MachinePhase {
        /// `""`: never processed.
        #[default]
        Unset => "",
        /// VM exists; waiting for the Node.
        Pending => "Pending",
        /// VM created, no target cluster.
        Available => "Available",
        /// Node healthy.
        Running => "Running",
        /// Deletion in progress.
        Terminating => "Terminating",
        /// Node unhealthy.
        Unknown => "Unknown",
        /// Timed out; the MachineSet replaces it.
        Failed => "Failed",
        /// Create/initialize failing inside the creation timeout.
        CrashLoopBackOff => "CrashLoopBackOff",
        /// Node drained for an in-place update.
        InPlaceUpdating => "InPlaceUpdating",
        /// In-place update succeeded.
        InPlaceUpdateSuccessful => "InPlaceUpdateSuccessful",
        /// In-place update failed.
        InPlaceUpdateFailed => "InPlaceUpdateFailed",
    }
}

impl MachinePhase {
    /// Whether this is the empty phase of an unprocessed machine.
    pub fn is_unset(&self) -> bool {
        *self == MachinePhase::Unset
    }
}
