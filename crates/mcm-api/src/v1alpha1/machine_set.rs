//! `MachineSet`: keeps N Machines of one template (managed by the MCM binary; the
//! machine controller never reads it). Typed here for tests, tools and the demo.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use crate::serde_util::{
    is_empty, is_zero_i32, is_zero_i64, machine_resource, null_as_default, string_enum,
};

use super::shared::{
    ClassSpec, ConditionStatus, LastOperation, MachineSummary, MachineTemplateSpec,
};

/// A `machine.sapcloud.io/v1alpha1` MachineSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MachineSet {
    /// Standard object metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: MachineSetSpec,
    /// Observed state (written by MCM).
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: MachineSetStatus,
}

machine_resource!(MachineSet, "machinesets", "MachineSetList");

impl Serialize for MachineSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            spec: &'a MachineSetSpec,
            status: &'a MachineSetStatus,
        }
        Wire {
            api_version: super::API_VERSION,
            kind: "MachineSet",
            metadata: &self.metadata,
            spec: &self.spec,
            status: &self.status,
        }
        .serialize(serializer)
    }
}

/// `MachineSet.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetSpec {
    /// Desired number of machines.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub replicas: i32,
    /// Selects the machines of this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Class of the machines.
    #[serde(default, deserialize_with = "null_as_default")]
    pub machine_class: ClassSpec,
    /// Template of the machines.
    #[serde(default, deserialize_with = "null_as_default")]
    pub template: MachineTemplateSpec,
    /// Seconds a machine must be ready to count as available.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub min_ready_seconds: i32,
    /// Maximum number of failed machines preserved automatically.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub auto_preserve_failed_machine_max: i32,
}

string_enum! {
    /// `MachineSet.status.machineSetCondition[].type`.
    pub enum MachineSetConditionType {
        /// Not set.
        #[default]
        Unset => "",
        /// Creating or deleting machines failed.
        ReplicaFailure => "ReplicaFailure",
        /// Frozen by MCM's safety controller.
        Frozen => "Frozen",
    }
}

/// One MachineSet condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetCondition {
    /// Condition type.
    #[serde(rename = "type", default)]
    pub type_: MachineSetConditionType,
    /// True, False, Unknown.
    #[serde(default)]
    pub status: ConditionStatus,
    /// Last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub reason: String,
    /// Human-readable message.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub message: String,
}

/// `MachineSet.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetStatus {
    /// Current number of machines.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub replicas: i32,
    /// Machines whose labels match the template.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub fully_labeled_replicas: i32,
    /// Machines in phase Running.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub ready_replicas: i32,
    /// Machines Running or Available for minReadySeconds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub available_replicas: i32,
    /// Failed machines kept by preservation.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub preserved_failed_replicas: i32,
    /// Generation observed by MCM.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub observed_generation: i64,
    /// Conditions (note MCM's unusual JSON name).
    #[serde(
        default,
        rename = "machineSetCondition",
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub conditions: Vec<MachineSetCondition>,
    /// The set's last operation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_operation: LastOperation,
    /// Machines whose last operation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_machines: Option<Vec<MachineSummary>>,
    /// Machines currently auto-preserved.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub auto_preserve_failed_machine_count: i32,
}
