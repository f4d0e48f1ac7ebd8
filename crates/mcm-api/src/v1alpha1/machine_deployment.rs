//! `MachineDeployment`: rolls MachineSets out (managed by the MCM binary; the machine
//! controller never reads it). Typed here for tests, tools and the demo.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use crate::serde_util::{
    is_empty, is_false, is_zero_i32, is_zero_i64, machine_resource, null_as_default, string_enum,
};

use super::shared::{ConditionStatus, MachineSummary, MachineTemplateSpec};

/// A `machine.sapcloud.io/v1alpha1` MachineDeployment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MachineDeployment {
    /// Standard object metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: MachineDeploymentSpec,
    /// Observed state (written by MCM).
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: MachineDeploymentStatus,
}

machine_resource!(
    MachineDeployment,
    "machinedeployments",
    "MachineDeploymentList"
);

impl Serialize for MachineDeployment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            spec: &'a MachineDeploymentSpec,
            status: &'a MachineDeploymentStatus,
        }
        Wire {
            api_version: super::API_VERSION,
            kind: "MachineDeployment",
            metadata: &self.metadata,
            spec: &self.spec,
            status: &self.status,
        }
        .serialize(serializer)
    }
}

/// `MachineDeployment.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentSpec {
    /// Desired number of machines.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub replicas: i32,
    /// Selects the machines of this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Template of the machines (required).
    #[serde(default, deserialize_with = "null_as_default")]
    pub template: MachineTemplateSpec,
    /// How machines are replaced.
    #[serde(default, deserialize_with = "null_as_default")]
    pub strategy: MachineDeploymentStrategy,
    /// Seconds a machine must be ready to count as available.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub min_ready_seconds: i32,
    /// Old MachineSets to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Paused deployments do not roll out.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub paused: bool,
    /// Deprecated rollback request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_to: Option<RollbackConfig>,
    /// Seconds before a stalled rollout is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Maximum number of failed machines preserved automatically.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub auto_preserve_failed_machine_max: i32,
}

string_enum! {
    /// `spec.strategy.type`.
    pub enum MachineDeploymentStrategyType {
        /// Not set (MCM defaults to RollingUpdate).
        #[default]
        Unset => "",
        /// Delete all old machines before creating new ones.
        Recreate => "Recreate",
        /// Replace machines gradually.
        RollingUpdate => "RollingUpdate",
        /// Update machines in place.
        InPlaceUpdate => "InPlaceUpdate",
    }
}

string_enum! {
    /// `spec.strategy.inPlaceUpdate.orchestrationType`.
    pub enum OrchestrationType {
        /// Not set.
        #[default]
        Unset => "",
        /// MCM selects the machines.
        Auto => "Auto",
        /// A user selects the machines.
        Manual => "Manual",
    }
}

/// `spec.strategy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStrategy {
    /// Strategy type.
    #[serde(rename = "type", default, skip_serializing_if = "is_unset_strategy")]
    pub type_: MachineDeploymentStrategyType,
    /// Parameters of RollingUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<UpdateConfiguration>,
    /// Parameters of InPlaceUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_place_update: Option<InPlaceUpdateConfiguration>,
}

fn is_unset_strategy(value: &MachineDeploymentStrategyType) -> bool {
    *value == MachineDeploymentStrategyType::Unset
}

/// `maxUnavailable` / `maxSurge` (Go's `UpdateConfiguration`, inlined in both
/// `rollingUpdate` and `inPlaceUpdate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConfiguration {
    /// Machines that may be unavailable during the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Machines that may be created above the desired count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// `spec.strategy.inPlaceUpdate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InPlaceUpdateConfiguration {
    /// `maxUnavailable` / `maxSurge`.
    #[serde(flatten)]
    pub update: UpdateConfiguration,
    /// Auto or Manual.
    #[serde(default, skip_serializing_if = "is_unset_orchestration")]
    pub orchestration_type: OrchestrationType,
}

fn is_unset_orchestration(value: &OrchestrationType) -> bool {
    *value == OrchestrationType::Unset
}

/// `spec.rollbackTo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackConfig {
    /// Revision to roll back to; 0 means the previous one.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub revision: i64,
}

string_enum! {
    /// `status.conditions[].type`.
    pub enum MachineDeploymentConditionType {
        /// Not set.
        #[default]
        Unset => "",
        /// Minimum availability reached.
        Available => "Available",
        /// Rollout progressing.
        Progressing => "Progressing",
        /// Creating or deleting machines failed.
        ReplicaFailure => "ReplicaFailure",
        /// Frozen by MCM's safety controller.
        Frozen => "Frozen",
    }
}

/// One MachineDeployment condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentCondition {
    /// Condition type.
    #[serde(rename = "type", default)]
    pub type_: MachineDeploymentConditionType,
    /// True, False, Unknown.
    #[serde(default)]
    pub status: ConditionStatus,
    /// Last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
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

/// `MachineDeployment.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStatus {
    /// Generation observed by MCM.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub observed_generation: i64,
    /// Machines targeted by this deployment.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub replicas: i32,
    /// Machines with the current template.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub updated_replicas: i32,
    /// Machines in phase Running.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub ready_replicas: i32,
    /// Available machines.
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
    /// Unavailable machines.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub unavailable_replicas: i32,
    /// Conditions.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub conditions: Vec<MachineDeploymentCondition>,
    /// Hash collision counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Machines whose last operation failed.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub failed_machines: Vec<MachineSummary>,
}
