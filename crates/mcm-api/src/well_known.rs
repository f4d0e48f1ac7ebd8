//! Every label, annotation, finalizer, taint, condition and marker string the machine
//! controller and the MCM binary exchange through Kubernetes objects.
//!
//! These strings are the protocol between processes written in different languages;
//! a typo silently breaks it. Code in this workspace refers to them only through
//! these constants.

/// Finalizers (contract 01 §2.1). Note the three different strings.
pub mod finalizers {
    /// On Machines (by the machine controller), MachineClasses (by the machine
    /// controller while machines reference them), MachineSets and MachineDeployments
    /// (by the MCM binary).
    pub const MACHINE_CONTROLLER_MANAGER: &str = "machine.sapcloud.io/machine-controller-manager";
    /// On Secrets referenced by a MachineClass.
    pub const SECRET: &str = "machine.sapcloud.io/machine-controller";
    /// On Nodes that belong to a Machine.
    pub const NODE: &str = "node.machine.sapcloud.io/machine-controller";
}

/// Labels on Machines (contract 01 §2.2, §2.4).
pub mod machine_labels {
    /// The Node name; links Machine → Node (set by the machine controller).
    pub const NODE: &str = "node";
    /// The MachineDeployment name (from the template); groups machines for the
    /// health-timeout rate limit and for metrics.
    pub const NAME: &str = "name";
    /// `strconv.ParseBool` text; forces the deletion drain.
    pub const FORCE_DELETION: &str = "force-deletion";
    /// Exactly `True`; forces the in-place/preservation drain.
    pub const FORCE_DRAIN: &str = "force-drain";
    /// `successful` / `failed`, read by MCM for in-place accounting.
    pub const UPDATE_RESULT: &str = "node.machine.sapcloud.io/update-result";
    /// The MachineDeployment template hash (set by MCM).
    pub const MACHINE_TEMPLATE_HASH: &str = "machine-template-hash";
}

/// Annotations on Machines (contract 01 §2.3).
pub mod machine_annotations {
    /// Scale-down priority; the machine controller writes `3` when absent and never
    /// overwrites a value (the cluster-autoscaler and users set `1`).
    pub const PRIORITY: &str = "machinepriority.machine.sapcloud.io";
    /// The default value of [`PRIORITY`].
    pub const DEFAULT_PRIORITY: &str = "3";
    /// RFC 3339 time set by MCM together with priority `1`.
    pub const MARKED_FOR_DELETION_TIME: &str = "machine.sapcloud.io/marked-for-deletion-time";
    /// Go duration; overrides `spec.creationTimeout` and the flag.
    pub const EFFECTIVE_CREATION_TIMEOUT: &str =
        "node.machine.sapcloud.io/effective-creation-timeout";
    /// Go duration; informational join time.
    pub const MACHINE_JOIN_DURATION: &str = "node.machine.sapcloud.io/machine-join-duration";
    /// Preservation request (`now`, `when-failed`, `auto-preserved`, `false`); also on Nodes.
    pub const PRESERVE: &str = "node.machine.sapcloud.io/preserve";
    /// Copy of the Node's preserve value (machine controller bookkeeping).
    pub const LAST_APPLIED_NODE_PRESERVE_VALUE: &str =
        "node.machine.sapcloud.io/last-applied-node-preserve-value";
}

/// Values of the preserve annotation.
pub mod preserve_values {
    /// Preserve now.
    pub const NOW: &str = "now";
    /// Preserve once the machine is `Failed`.
    pub const WHEN_FAILED: &str = "when-failed";
    /// Written by the MachineSet controller.
    pub const AUTO_PRESERVED: &str = "auto-preserved";
    /// Stop preserving.
    pub const FALSE: &str = "false";
}

/// Labels and annotations on MachineSets and MachineDeployments (MCM side).
pub mod deployment_metadata {
    /// MachineDeployment annotation written by the cluster-autoscaler.
    pub const TRIGGER_DELETION_BY_MCM: &str = "node.machine.sapcloud.io/trigger-deletion-by-mcm";
    /// RFC 3339 time of the last replica change by a scaler.
    pub const LAST_REPLICA_CHANGE_BY_SCALER_TIME: &str =
        "machine.sapcloud.io/last-deployment-replica-change-by-scaler-time";
    /// MachineSet label: old sets must not create machines during in-place updates.
    pub const SCALE_UP_DISABLED: &str = "node.machine.sapcloud.io/scale-up-disabled";
    /// MCM safety freeze label (value `True`).
    pub const FREEZE: &str = "freeze";
}

/// Labels on Nodes (contract 01 §2.5).
pub mod node_labels {
    /// The Machine name, set on every managed Node.
    pub const MACHINE_NAME: &str = "node.gardener.cloud/machine-name";
    /// In-place update progression.
    pub const CANDIDATE_FOR_UPDATE: &str = "node.machine.sapcloud.io/candidate-for-update";
    /// In-place update progression.
    pub const SELECTED_FOR_UPDATE: &str = "node.machine.sapcloud.io/selected-for-update";
    /// In-place result (`successful` / `failed`).
    pub const UPDATE_RESULT: &str = "node.machine.sapcloud.io/update-result";
    /// The zone label read from `Machine.spec.nodeTemplate` for metrics.
    pub const TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";
    /// Standard instance-type label.
    pub const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
    /// Standard hostname label.
    pub const HOSTNAME: &str = "kubernetes.io/hostname";
}

/// Annotations on Nodes (contract 01 §2.5).
pub mod node_annotations {
    /// JSON of the Machine's whole `spec.nodeTemplate` last applied to the Node.
    pub const LAST_APPLIED_ANNO_LABELS_TAINTS: &str =
        "node.machine.sapcloud.io/last-applied-anno-labels-taints";
    /// JSON ResourceList of the virtual capacity last applied.
    pub const LAST_APPLIED_VIRTUAL_CAPACITY: &str =
        "node.machine.sapcloud.io/last-applied-virtual-capacity";
    /// Presence makes the machine controller ignore the Node (it has no Machine).
    pub const NOT_MANAGED_BY_MCM: &str = "node.machine.sapcloud.io/not-managed-by-mcm";
    /// In-place failure reason.
    pub const UPDATE_FAILED_REASON: &str = "node.machine.sapcloud.io/update-failed-reason";
    /// Preservation request on the Node.
    pub const PRESERVE: &str = "node.machine.sapcloud.io/preserve";
    /// Cluster-autoscaler: do not scale this Node down.
    pub const CA_SCALE_DOWN_DISABLED: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";
    /// Marks that [`CA_SCALE_DOWN_DISABLED`] was added by MCM.
    pub const CA_SCALE_DOWN_DISABLED_BY_MCM: &str =
        "cluster-autoscaler.kubernetes.io/scale-down-disabled-by-mcm";
    /// Mirror pods carry this annotation (excluded from drains).
    pub const MIRROR_POD: &str = "kubernetes.io/config.mirror";
}

/// Taints (contract 01 §2.5).
pub mod taints {
    /// While present (effect `NoSchedule`), a `Pending` machine is not `Running` yet.
    pub const CRITICAL_COMPONENTS_NOT_READY: &str =
        "node.gardener.cloud/critical-components-not-ready";
    /// Added to the Node of a preserved Failed machine before draining it.
    pub const PRESERVED: &str = "node.machine.sapcloud.io/preserved";
    /// Added by admission to new Nodes until the kubelet reports Ready.
    pub const NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
    /// MCM's rolling-update taint (effect `PreferNoSchedule`).
    pub const PREFER_NO_SCHEDULE_DURING_ROLLOUT: &str =
        "deployment.machine.sapcloud.io/prefer-no-schedule";
    /// Taint effect `NoSchedule`.
    pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
}

/// Node condition types and reasons (contract 01 §1.5, §2.5).
pub mod conditions {
    /// Core Ready condition.
    pub const READY: &str = "Ready";
    /// Core condition used by the drain's force decision.
    pub const READONLY_FILESYSTEM: &str = "ReadonlyFilesystem";
    /// Set on the Node at the start of the deletion drain.
    pub const TERMINATING: &str = "Terminating";
    /// Reason of [`TERMINATING`] for a Failed machine.
    pub const TERMINATING_REASON_UNHEALTHY: &str = "Unhealthy";
    /// Reason of [`TERMINATING`] for any other phase.
    pub const TERMINATING_REASON_SCALE_DOWN: &str = "ScaleDown";
    /// Message with reason `Unhealthy`.
    pub const TERMINATING_MESSAGE_UNHEALTHY: &str =
        "Machine Controller is terminating failed machine";
    /// Message with reason `ScaleDown`.
    pub const TERMINATING_MESSAGE_SCALE_DOWN: &str = "Machine Controller is scaling down machine";
    /// In-place update condition.
    pub const IN_PLACE_UPDATE: &str = "InPlaceUpdate";
    /// Preservation condition.
    pub const PRESERVED: &str = "Preserved";
    /// Condition status values.
    pub const TRUE: &str = "True";
    /// Condition status values.
    pub const FALSE: &str = "False";
    /// Condition status values.
    pub const UNKNOWN: &str = "Unknown";
    /// Default `--node-conditions`.
    pub const DEFAULT_NODE_CONDITIONS: &str =
        "KernelDeadlock,ReadonlyFilesystem,DiskPressure,NetworkUnavailable";
}

/// Markers in `status.lastOperation.description` that drive the deletion flow, and
/// other description texts another process parses (contract 01 §1.2, 02 §5).
pub mod descriptions {
    /// Step B marker (after phase `Terminating` was set).
    pub const GET_VM_STATUS: &str = "Set machine status to termination. Now, getting VM Status";
    /// Step C marker.
    pub const INITIATE_DRAIN: &str = "Initiate node drain";
    /// Step D marker.
    pub const DELETE_VOLUME_ATTACHMENTS: &str = "Delete Volume Attachments";
    /// Step E marker.
    pub const INITIATE_VM_DELETION: &str = "Initiate VM deletion";
    /// Step F marker.
    pub const INITIATE_NODE_DELETION: &str = "Initiate node object deletion";
    /// Step G marker.
    pub const INITIATE_FINALIZER_REMOVAL: &str = "Initiate machine object finalizer removal";
    /// Appended to InitializeMachine failure descriptions.
    pub const INITIALIZE_VM: &str = "Initialize VM Instance";
    /// In-place drain marker.
    pub const NODE_READY_FOR_UPDATE: &str = "Node drain successful. Node is ready for update";
    /// Written by MCM's MachineSet controller right after it deletes a machine.
    pub const MCM_DELETING_MACHINE: &str = "Deleting machine from cloud provider";
    /// A description that newly contains this text triggers the orphan-VM collector.
    pub const OUT_OF_RANGE: &str = "OutOfRange";
}

/// Names used by the machine controller process.
pub mod process {
    /// Lease name of the machine controller's leader election (in `--namespace`).
    pub const LEASE_NAME: &str = "machine-controller";
    /// Lease name of the MCM binary (for comparison; not ours).
    pub const MCM_LEASE_NAME: &str = "machine-controller-manager";
    /// Event source component and user agent.
    pub const COMPONENT: &str = "machine-controller";
    /// Namespace of bootstrap token Secrets in the target cluster.
    pub const BOOTSTRAP_TOKEN_NAMESPACE: &str = "kube-system";
    /// Prefix of bootstrap token Secret names.
    pub const BOOTSTRAP_TOKEN_SECRET_PREFIX: &str = "bootstrap-token-";
    /// Type of bootstrap token Secrets.
    pub const BOOTSTRAP_TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
}

/// Placeholders the machine controller substitutes in the `userData` secret key.
pub mod user_data {
    /// The secret key that must hold the user data.
    pub const KEY: &str = "userData";
    /// Replaced by `<token-id>.<token-secret>`.
    pub const BOOTSTRAP_TOKEN_PLACEHOLDER: &str = "<<BOOTSTRAP_TOKEN>>";
    /// URL-query-escaped form, used only when the raw form is absent.
    pub const BOOTSTRAP_TOKEN_PLACEHOLDER_ESCAPED: &str = "%3C%3CBOOTSTRAP_TOKEN%3E%3E";
    /// Replaced by the machine name.
    pub const MACHINE_NAME_PLACEHOLDER: &str = "<<MACHINE_NAME>>";
    /// URL-query-escaped form, used only when the raw form is absent.
    pub const MACHINE_NAME_PLACEHOLDER_ESCAPED: &str = "%3C%3CMACHINE_NAME%3E%3E";
}
