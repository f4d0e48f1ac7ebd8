//! The behaviour-relevant settings of the machine controller, independent of how
//! they were given (flags, tests). `options` turns MCM's command-line flags into
//! this; the decision code reads only this.

use std::time::Duration;

use mcm_api::well_known::conditions::DEFAULT_NODE_CONDITIONS;

/// Whether the controller manages Nodes in a target cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetMode {
    /// A target cluster exists: Nodes, drains, health checks, bootstrap tokens.
    Cluster,
    /// `--target-kubeconfig=none`: machines become `Available`, no Node handling.
    None,
}

/// Timeouts, periods and other settings that decisions depend on, with MCM's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    /// `--namespace`: where Machines, MachineClasses and Secrets are watched.
    pub namespace: String,
    /// Target-cluster mode.
    pub target: TargetMode,
    /// `--machine-creation-timeout` (20m).
    pub creation_timeout: Duration,
    /// `--machine-health-timeout` (10m).
    pub health_timeout: Duration,
    /// `--machine-drain-timeout` (2h).
    pub drain_timeout: Duration,
    /// `--machine-inplace-update-timeout` (20m).
    pub inplace_update_timeout: Duration,
    /// `--machine-preserve-timeout` (96h).
    pub preserve_timeout: Duration,
    /// `--machine-max-evict-retries` (360).
    pub max_evict_retries: i32,
    /// `--machine-pv-detach-timeout` (2m).
    pub pv_detach_timeout: Duration,
    /// `--machine-pv-reattach-timeout` (90s).
    pub pv_reattach_timeout: Duration,
    /// `--node-conditions`.
    pub node_conditions: String,
    /// `--bootstrap-token-auth-extra-groups`.
    pub bootstrap_token_auth_extra_groups: String,
    /// `--resource-exhausted-retry` (10m; 0 means 10m).
    pub resource_exhausted_retry: Duration,
    /// `--machine-safety-orphan-vms-period` (15m).
    pub safety_orphan_vms_period: Duration,
    /// `--machine-safety-apiserver-statuscheck-period` (1m).
    pub safety_apiserver_statuscheck_period: Duration,
    /// `--machine-safety-apiserver-statuscheck-timeout` (30s).
    pub safety_apiserver_statuscheck_timeout: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            namespace: "default".to_owned(),
            target: TargetMode::Cluster,
            creation_timeout: Duration::from_secs(20 * 60),
            health_timeout: Duration::from_secs(10 * 60),
            drain_timeout: Duration::from_secs(2 * 3600),
            inplace_update_timeout: Duration::from_secs(20 * 60),
            preserve_timeout: Duration::from_secs(96 * 3600),
            max_evict_retries: 360,
            pv_detach_timeout: Duration::from_secs(2 * 60),
            pv_reattach_timeout: Duration::from_secs(90),
            node_conditions: DEFAULT_NODE_CONDITIONS.to_owned(),
            bootstrap_token_auth_extra_groups: String::new(),
            resource_exhausted_retry: Duration::from_secs(10 * 60),
            safety_orphan_vms_period: Duration::from_secs(15 * 60),
            safety_apiserver_statuscheck_period: Duration::from_secs(60),
            safety_apiserver_statuscheck_timeout: Duration::from_secs(30),
        }
    }
}

impl ControllerConfig {
    /// Whether a target cluster is configured.
    pub fn has_target(&self) -> bool {
        self.target == TargetMode::Cluster
    }
}
