//! The `machine.sapcloud.io/v1alpha1` API: Machine, MachineClass, MachineSet and
//! MachineDeployment, with MCM's exact JSON field names.
//!
//! Each kind implements k8s-openapi's `Resource`, `ListableResource` and `Metadata`
//! traits, so kube-rs's blanket impl makes it a `kube::Resource` (`Api<Machine>`
//! works) without this crate depending on kube. All four kinds are namespaced.
//! Readers accept what Go writes (`null` for zero times and nil slices, unknown enum
//! strings); writers emit what Go emits for the fields the controller owns.

mod machine;
mod machine_class;
mod machine_deployment;
mod machine_set;
mod shared;

pub use machine::{CurrentStatus, Machine, MachinePhase, MachineSpec, MachineStatus};
pub use machine_class::{MachineClass, NodeTemplate};
pub use machine_deployment::{
    InPlaceUpdateConfiguration, MachineDeployment, MachineDeploymentCondition,
    MachineDeploymentConditionType, MachineDeploymentSpec, MachineDeploymentStatus,
    MachineDeploymentStrategy, MachineDeploymentStrategyType, OrchestrationType, RollbackConfig,
    UpdateConfiguration,
};
pub use machine_set::{
    MachineSet, MachineSetCondition, MachineSetConditionType, MachineSetSpec, MachineSetStatus,
};
pub use shared::{
    ClassSpec, ConditionStatus, LastOperation, MachineConfiguration, MachineOperationType,
    MachineState, MachineSummary, MachineTemplateSpec, NodeTemplateSpec,
};

/// API group.
pub const GROUP: &str = "machine.sapcloud.io";
/// API version within the group.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every kind.
pub const API_VERSION: &str = "machine.sapcloud.io/v1alpha1";
