//! Types shared by several kinds: the class reference, the last operation, the
//! per-machine configuration overrides, templates and machine summaries.

use k8s_openapi::api::core::v1::NodeSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::serde_util::{is_empty, null_as_default, string_enum};

use super::machine::MachineSpec;

/// Reference from a Machine (or template) to its MachineClass (`spec.class`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassSpec {
    /// API group of the class; unused by the machine controller.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub api_group: String,
    /// Kind of the class; the controller only wires class events when it is exactly
    /// `MachineClass`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub kind: String,
    /// Name of the MachineClass in the controller's namespace.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub name: String,
}

impl ClassSpec {
    /// The only kind the machine controller serves.
    pub const MACHINE_CLASS_KIND: &'static str = "MachineClass";

    /// A reference to a `MachineClass` by name.
    pub fn machine_class(name: impl Into<String>) -> ClassSpec {
        ClassSpec {
            api_group: String::new(),
            kind: ClassSpec::MACHINE_CLASS_KIND.to_owned(),
            name: name.into(),
        }
    }
}

string_enum! {
    /// `status.lastOperation.state`.
    pub enum MachineState {
        /// The empty value of a never-written status.
        #[default]
        Unset => "",
        /// Not yet complete.
        Processing => "Processing",
        /// Failed.
        Failed => "Failed",
        /// Completed successfully.
        Successful => "Successful",
    }
}

string_enum! {
    /// `status.lastOperation.type`.
    pub enum MachineOperationType {
        /// The empty value of a never-written status.
        #[default]
        Unset => "",
        /// Creation flow.
        Create => "Create",
        /// Declared by MCM, never written.
        Update => "Update",
        /// In-place update.
        InPlaceUpdate => "InPlaceUpdate",
        /// In-place drain failure.
        DrainNode => "DrainNode",
        /// Health transitions.
        HealthCheck => "HealthCheck",
        /// Deletion flow.
        Delete => "Delete",
    }
}

string_enum! {
    /// Status of a condition (`True`, `False`, `Unknown`).
    pub enum ConditionStatus {
        /// Not set.
        #[default]
        Unset => "",
        /// True.
        True => "True",
        /// False.
        False => "False",
        /// Unknown.
        Unknown => "Unknown",
    }
}

/// `status.lastOperation`: what the controller did last. Its `description` is also
/// the persisted state of the deletion flow (see [`crate::well_known::descriptions`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastOperation {
    /// Human-readable, but also parsed (deletion markers, `OutOfRange`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub description: String,
    /// Machine code name of a creation failure (e.g. `ResourceExhausted`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub error_code: String,
    /// When this operation was recorded. Go writes `null` for the zero time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Processing, Failed or Successful.
    #[serde(default, skip_serializing_if = "is_unset_state")]
    pub state: MachineState,
    /// Create, Delete, HealthCheck, …
    #[serde(default, rename = "type", skip_serializing_if = "is_unset_type")]
    pub type_: MachineOperationType,
}

fn is_unset_state(state: &MachineState) -> bool {
    *state == MachineState::Unset
}

fn is_unset_type(type_: &MachineOperationType) -> bool {
    *type_ == MachineOperationType::Unset
}

/// Per-machine overrides of controller flags, inlined under `spec` (Go's
/// `*MachineConfiguration`). A field that is `None` falls back to the flag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineConfiguration {
    /// Overrides `--machine-drain-timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_timeout: Option<GoDuration>,
    /// Overrides `--machine-health-timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timeout: Option<GoDuration>,
    /// Overrides `--machine-creation-timeout` (itself overridden by the
    /// effective-creation-timeout annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timeout: Option<GoDuration>,
    /// Overrides `--machine-inplace-update-timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_place_update_timeout: Option<GoDuration>,
    /// Overrides `--machine-preserve-timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_preserve_timeout: Option<GoDuration>,
    /// When true, an `Unknown` machine is never failed by the health timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_health_timeout: Option<bool>,
    /// Overrides `--machine-max-evict-retries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_evict_retries: Option<i32>,
    /// Overrides `--node-conditions` (comma-separated, not trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_conditions: Option<String>,
}

/// Labels, annotations and taints the controller keeps in sync on the Node
/// (`spec.nodeTemplate` of a Machine).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeTemplateSpec {
    /// Only `labels` and `annotations` are used.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    /// Only `taints` is used.
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: NodeSpec,
}

impl NodeTemplateSpec {
    /// Whether nothing is set (Go writes such a template as
    /// `{"metadata":{"creationTimestamp":null},"spec":{}}`; we omit it).
    pub fn is_empty(&self) -> bool {
        *self == NodeTemplateSpec::default()
    }
}

/// Template of Machines in MachineSets and MachineDeployments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineTemplateSpec {
    /// Labels, annotations, finalizers copied onto each Machine.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    /// The Machine spec.
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: MachineSpec,
}

/// A failed machine as summarised in MachineSet / MachineDeployment status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSummary {
    /// Machine name.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub name: String,
    /// Machine provider ID.
    #[serde(
        default,
        rename = "providerID",
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub provider_id: String,
    /// The machine's last operation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_operation: LastOperation,
    /// Name of the controlling owner.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub owner_ref: String,
}
