//! The machine controller's command line: every flag of MCM's provider-side machine
//! controller (contract 01 §5.1), with MCM's names, types and defaults.
//!
//! Operators move between the Go providers and Rust ones with the same Deployment
//! manifests, so a flag that MCM accepts must be accepted here, spelled and defaulted
//! the same way, and parsed the way Go parses it:
//!
//! - durations in Go syntax (`20m`, `1m30s`, `300ms`), printed in Go's canonical form
//!   (`20m0s`) in `--help`;
//! - booleans as pflag takes them: `--leader-elect`, `--leader-elect=false`,
//!   `--leader-elect=0` (a bare `--leader-elect false` is *not* a boolean value, as in Go);
//! - `_` and `-` interchangeable in flag names (`--machine_drain_timeout=5m`), the
//!   normalisation component-base installs for every Kubernetes component;
//! - a repeated flag overrides the earlier one (`--v=2 --v=4` means 4).
//!
//! Flags MCM accepts but does not act on are accepted here too, marked "accepted for
//! compatibility; no effect" in `--help`.
//!
//! A provider adds its own flags by flattening [`Options`] into its own parser:
//!
//! ```
//! use clap::Parser;
//! use mcm_machine_controller::options::{normalize_flag_names, Options};
//!
//! #[derive(Debug, Parser)]
//! #[command(name = "machine-controller", args_override_self = true)]
//! struct Cli {
//!     #[command(flatten)]
//!     mc: Options,
//!     /// Endpoint of my cloud's API.
//!     #[arg(long, default_value = "https://cloud.example")]
//!     cloud_endpoint: String,
//! }
//!
//! // In main: `Cli::parse_from(normalize_flag_names(std::env::args_os()))`.
//! let cli = Cli::try_parse_from(normalize_flag_names([
//!     "machine-controller",
//!     "--namespace=shoot--dev",
//!     "--machine_drain_timeout=5m",
//!     "--cloud-endpoint=https://api.test",
//! ]))
//! .unwrap();
//! assert_eq!(cli.mc.namespace, "shoot--dev");
//! assert_eq!(cli.mc.machine_drain_timeout.to_string(), "5m0s");
//! assert_eq!(cli.cloud_endpoint, "https://api.test");
//! cli.mc.validate().unwrap();
//! ```

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use mcm_api::GoDuration;
use mcm_api::well_known::conditions::DEFAULT_NODE_CONDITIONS;

use crate::config::{ControllerConfig, TargetMode};

/// `--target-kubeconfig` value that switches off every interaction with a target cluster.
pub const TARGET_KUBECONFIG_DISABLED: &str = "none";
/// `--control-kubeconfig` value that selects the in-cluster service-account config.
pub const CONTROL_KUBECONFIG_IN_CLUSTER: &str = "inClusterConfig";
/// The only `--leader-elect-resource-lock` value current client-go (and this port) supports.
pub const RESOURCE_LOCK_LEASES: &str = "leases";

const HEADING_CLUSTERS: &str = "Clusters";
const HEADING_MACHINES: &str = "Machines";
const HEADING_TIMEOUTS: &str = "Timeouts";
const HEADING_SAFETY: &str = "Safety";
const HEADING_SERVER: &str = "HTTP server";
const HEADING_LEADER: &str = "Leader election";
const HEADING_LOGGING: &str = "Logging";
const HEADING_COMPAT: &str = "Compatibility";

/// client-go's leader-election jitter factor: the renew deadline must exceed
/// `retry period × 1.2` (client-go `NewLeaderElector`).
const LEADER_JITTER_FACTOR: f64 = 1.2;

/// The machine controller's flags, MCM's `MCServer` in Rust.
///
/// Field names follow the flag names (`--kube-api-qps` → `kube_api_qps`). The numeric
/// types are Go's (`int32` → `i32`) so that out-of-range values reach [`Options::validate`],
/// which explains them, rather than failing as an opaque parse error.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "machine-controller",
    about = "Machine controller of Gardener's machine-controller-manager (Rust port): \
             creates, watches and deletes the VMs behind Machine objects.",
    long_about = None,
    args_override_self = true,
    max_term_width = 100
)]
pub struct Options {
    // ---- Clusters -------------------------------------------------------------------
    /// Kubeconfig of the control cluster, which holds Machines, MachineClasses and their
    /// Secrets. "inClusterConfig" uses the pod's service account; empty reuses the
    /// target cluster's config.
    #[arg(long, value_name = "PATH", default_value = "", hide_default_value = true,
          help_heading = HEADING_CLUSTERS)]
    pub control_kubeconfig: String,

    /// Kubeconfig of the target cluster, where the machines' Nodes register. Empty uses
    /// the in-cluster config (falling back to the default kubeconfig); "none" means
    /// there is no target cluster: no Nodes, drains or health checks, machines become
    /// Available once their VM exists.
    #[arg(long, value_name = "PATH", default_value = "", hide_default_value = true,
          help_heading = HEADING_CLUSTERS)]
    pub target_kubeconfig: String,

    /// Namespace of the control cluster watched for Machines, MachineClasses and
    /// Secrets; the leader-election Lease lives here too.
    #[arg(long, value_name = "NAME", default_value = "default", help_heading = HEADING_CLUSTERS)]
    pub namespace: String,

    /// Requests per second allowed to each API server (control and target).
    #[arg(long, value_name = "FLOAT", default_value = "20", allow_negative_numbers = true,
          help_heading = HEADING_CLUSTERS)]
    pub kube_api_qps: f32,

    /// Requests allowed in a burst above --kube-api-qps.
    #[arg(long, value_name = "INT", default_value = "30", allow_negative_numbers = true,
          help_heading = HEADING_CLUSTERS)]
    pub kube_api_burst: i32,

    // ---- Machines -------------------------------------------------------------------
    /// Workers per work queue (machine, termination, class, secret, node, safety).
    #[arg(long, value_name = "INT", default_value = "50", allow_negative_numbers = true,
          help_heading = HEADING_MACHINES)]
    pub concurrent_syncs: i32,

    /// Comma-separated Node condition types (case-sensitive) that make a machine
    /// unhealthy when their status is not False; an unhealthy machine fails after
    /// --machine-health-timeout.
    #[arg(long, value_name = "TYPES", default_value = DEFAULT_NODE_CONDITIONS,
          help_heading = HEADING_MACHINES)]
    pub node_conditions: String,

    /// Comma-separated groups written to the bootstrap token's "auth-extra-groups".
    #[arg(long, value_name = "GROUPS", default_value = "", hide_default_value = true,
          help_heading = HEADING_MACHINES)]
    pub bootstrap_token_auth_extra_groups: String,

    // ---- Timeouts -------------------------------------------------------------------
    /// How long a new machine may take to join the cluster before it is Failed.
    #[arg(long, value_name = "DURATION", default_value = "20m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_creation_timeout: GoDuration,

    /// How long a machine may stay unhealthy (Unknown) before it is Failed.
    #[arg(long, value_name = "DURATION", default_value = "10m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_health_timeout: GoDuration,

    /// How long draining a Node before deletion may take; after it, pods are deleted
    /// without eviction.
    #[arg(long, value_name = "DURATION", default_value = "2h0m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_drain_timeout: GoDuration,

    /// How long an in-place update may take before the machine is marked failed.
    #[arg(long, value_name = "DURATION", default_value = "20m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_inplace_update_timeout: GoDuration,

    /// Evictions tried per pod during a drain before the pod is deleted.
    #[arg(long, value_name = "INT", default_value = "360", allow_negative_numbers = true,
          help_heading = HEADING_TIMEOUTS)]
    pub machine_max_evict_retries: i32,

    /// How long to wait for a drained pod's volumes to detach (plus the pod's
    /// termination grace period).
    #[arg(long, value_name = "DURATION", default_value = "2m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_pv_detach_timeout: GoDuration,

    /// How long to wait for a drained pod's volumes to attach on another Node.
    #[arg(long, value_name = "DURATION", default_value = "1m30s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_pv_reattach_timeout: GoDuration,

    /// How long a failed machine with the preserve annotation is kept.
    #[arg(long, value_name = "DURATION", default_value = "96h0m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub machine_preserve_timeout: GoDuration,

    /// Delay before retrying a creation that failed with ResourceExhausted; 0 means 10m.
    #[arg(long, value_name = "DURATION", default_value = "10m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_TIMEOUTS)]
    pub resource_exhausted_retry: GoDuration,

    // ---- Safety ---------------------------------------------------------------------
    /// How often the safety controller looks for VMs without a Machine (and deletes
    /// them) and for Nodes without a Machine.
    #[arg(long, value_name = "DURATION", default_value = "15m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_SAFETY)]
    pub machine_safety_orphan_vms_period: GoDuration,

    /// How often the safety controller checks that the API servers answer.
    #[arg(long, value_name = "DURATION", default_value = "1m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_SAFETY)]
    pub machine_safety_apiserver_statuscheck_period: GoDuration,

    /// How long the API servers may be unreachable before the controller freezes (stops
    /// changing machines until they answer again).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_SAFETY)]
    pub machine_safety_apiserver_statuscheck_timeout: GoDuration,

    // ---- HTTP server ----------------------------------------------------------------
    /// Port of the HTTP server for /metrics, /healthz, /readyz and /configz.
    #[arg(long, value_name = "PORT", default_value = "10259", allow_negative_numbers = true,
          help_heading = HEADING_SERVER)]
    pub port: i32,

    /// IP address the HTTP server listens on (0.0.0.0 for all interfaces).
    #[arg(long, value_name = "IP", default_value = "0.0.0.0", value_parser = parse_ip,
          help_heading = HEADING_SERVER)]
    pub address: IpAddr,

    // ---- Leader election ------------------------------------------------------------
    /// Run the controllers only while holding the Lease "machine-controller" in
    /// --namespace, so that one of several replicas acts at a time.
    #[arg(long, value_name = "BOOL", default_value = "true", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = ArgAction::Set,
          value_parser = parse_go_bool, help_heading = HEADING_LEADER)]
    pub leader_elect: bool,

    /// How long a Lease stays valid after its last renewal; a stopped leader is replaced
    /// after at most this long. Written to the Lease in whole seconds (rounded up).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_LEADER)]
    pub leader_elect_lease_duration: GoDuration,

    /// How long the leader keeps trying to renew before it gives up leadership (and the
    /// process exits). Must be less than the lease duration.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_LEADER)]
    pub leader_elect_renew_deadline: GoDuration,

    /// Interval between attempts to acquire or renew the Lease.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_LEADER)]
    pub leader_elect_retry_period: GoDuration,

    /// Kind of lock object. Only "leases" (coordination.k8s.io/v1 Lease) is supported,
    /// as in current client-go.
    #[arg(long, value_name = "KIND", default_value = RESOURCE_LOCK_LEASES, help_heading = HEADING_LEADER)]
    pub leader_elect_resource_lock: String,

    // ---- Logging --------------------------------------------------------------------
    /// Log verbosity as klog's: 0-1 info, 2-3 debug, 4-5 trace, 6-7 also Kubernetes
    /// client debug logs, 8+ trace everything. RUST_LOG, when set, wins.
    #[arg(short = 'v', long = "v", value_name = "LEVEL", default_value = "0",
          value_parser = clap::value_parser!(u8).range(0..=10), help_heading = HEADING_LOGGING)]
    pub v: u8,

    /// klog's per-file verbosity (pattern=N,...). Accepted for compatibility; no effect
    /// (Go file names do not exist here; use RUST_LOG=target=level instead).
    #[arg(long, value_name = "PATTERNS", default_value = "", hide_default_value = true,
          help_heading = HEADING_LOGGING)]
    pub vmodule: String,

    /// Maximum seconds between log flushes. Accepted for compatibility; no effect (logs
    /// are written unbuffered).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_LOGGING)]
    pub log_flush_frequency: GoDuration,

    // ---- Compatibility --------------------------------------------------------------
    /// Cloud provider name. Accepted for compatibility; no effect (unused by MCM too).
    #[arg(long, value_name = "NAME", default_value = "", hide_default_value = true,
          help_heading = HEADING_COMPAT)]
    pub cloud_provider: String,

    /// Informer resync period. Accepted for compatibility; no effect (watches here do
    /// not resync; the controllers requeue on their own periods). Must not be negative.
    #[arg(long, value_name = "DURATION", default_value = "12h0m0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_COMPAT)]
    pub min_resync_period: GoDuration,

    /// Interval between starting controller managers. Accepted for compatibility; no
    /// effect (unused by MCM too). Must not be negative.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_go_duration,
          allow_hyphen_values = true, help_heading = HEADING_COMPAT)]
    pub controller_start_interval: GoDuration,

    /// Content type of API requests. Accepted for compatibility; no effect (JSON is
    /// always used, as in MCM). Must be a valid media type.
    #[arg(long, value_name = "TYPE", default_value = "application/vnd.kubernetes.protobuf",
          help_heading = HEADING_COMPAT)]
    pub kube_api_content_type: String,

    /// Serve Go's /debug/pprof endpoints. Accepted for compatibility; no effect (there
    /// is no Go runtime to profile).
    #[arg(long, value_name = "BOOL", default_value = "false", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = ArgAction::Set,
          value_parser = parse_go_bool, help_heading = HEADING_COMPAT)]
    pub profiling: bool,

    /// Go lock-contention profiling; requires --profiling. Accepted for compatibility;
    /// no effect.
    #[arg(long, value_name = "BOOL", default_value = "false", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = ArgAction::Set,
          value_parser = parse_go_bool, help_heading = HEADING_COMPAT)]
    pub contention_profiling: bool,
}

impl Default for Options {
    /// MCM's defaults (`NewMCServer` and the flag registrations), the same values an empty
    /// command line gives.
    fn default() -> Self {
        Options {
            control_kubeconfig: String::new(),
            target_kubeconfig: String::new(),
            namespace: "default".to_owned(),
            kube_api_qps: 20.0,
            kube_api_burst: 30,
            concurrent_syncs: 50,
            node_conditions: DEFAULT_NODE_CONDITIONS.to_owned(),
            bootstrap_token_auth_extra_groups: String::new(),
            machine_creation_timeout: GoDuration::from_mins(20),
            machine_health_timeout: GoDuration::from_mins(10),
            machine_drain_timeout: GoDuration::from_mins(120),
            machine_inplace_update_timeout: GoDuration::from_mins(20),
            machine_max_evict_retries: 360,
            machine_pv_detach_timeout: GoDuration::from_mins(2),
            machine_pv_reattach_timeout: GoDuration::from_secs(90),
            machine_preserve_timeout: GoDuration::from_mins(96 * 60),
            resource_exhausted_retry: GoDuration::from_mins(10),
            machine_safety_orphan_vms_period: GoDuration::from_mins(15),
            machine_safety_apiserver_statuscheck_period: GoDuration::from_mins(1),
            machine_safety_apiserver_statuscheck_timeout: GoDuration::from_secs(30),
            port: 10259,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            leader_elect: true,
            leader_elect_lease_duration: GoDuration::from_secs(15),
            leader_elect_renew_deadline: GoDuration::from_secs(10),
            leader_elect_retry_period: GoDuration::from_secs(2),
            leader_elect_resource_lock: RESOURCE_LOCK_LEASES.to_owned(),
            v: 0,
            vmodule: String::new(),
            log_flush_frequency: GoDuration::from_secs(5),
            cloud_provider: String::new(),
            min_resync_period: GoDuration::from_mins(12 * 60),
            controller_start_interval: GoDuration::ZERO,
            kube_api_content_type: "application/vnd.kubernetes.protobuf".to_owned(),
            profiling: false,
            contention_profiling: false,
        }
    }
}

/// Where a cluster's client configuration comes from, as MCM decides it from the two
/// kubeconfig flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigSource {
    /// A kubeconfig file.
    File(String),
    /// The pod's service account (`inClusterConfig`, or an empty `--target-kubeconfig`,
    /// where client-go falls back to the default kubeconfig loading rules when not in a
    /// pod — `kube::Config::infer()` does the same).
    InCluster,
    /// `--control-kubeconfig=""`: the same configuration as the target cluster.
    SameAsTarget,
    /// `--target-kubeconfig=none`: no target cluster.
    Disabled,
}

/// One rejected flag: which flag, and what is wrong with its value and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagProblem {
    /// The flag, with its dashes (`--port`).
    pub flag: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for FlagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.flag, self.message)
    }
}

/// Flags that parse but do not make sense together or are out of range; the
/// controller refuses to start, as MCM's `MCServer.Validate` does. All problems are
/// reported at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OptionsError {
    /// Every problem found, in flag order.
    pub problems: Vec<FlagProblem>,
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid command-line flags:")?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl Options {
    /// Parses a command line (`args` includes the program name) after normalising `_`
    /// to `-` in flag names. Errors are clap's, naming the flag; `--help` is an "error"
    /// whose `exit()` prints the help.
    pub fn parse_args<I, T>(args: I) -> Result<Options, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Options::command();
        let matches = command.try_get_matches_from_mut(normalize_flag_names(args))?;
        Options::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
    }

    /// Parses the process's command line; on an error or `--help`, prints clap's message
    /// and exits the way clap does (status 2 for errors, 0 for help).
    pub fn from_env() -> Options {
        Options::parse_args(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// MCM's start-up validation (`MCServer.Validate`), plus the leader-election checks
    /// client-go makes when leader election starts (so that a bad value fails at start,
    /// not later). Every problem is reported, each naming its flag and the fix.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let mut problems = Vec::new();
        let mut problem = |flag: &'static str, message: String| {
            problems.push(FlagProblem { flag, message });
        };

        if !(1..=65535).contains(&self.port) {
            problem(
                "--port",
                format!(
                    "{} is not a TCP port; use a value from 1 to 65535 (default 10259)",
                    self.port
                ),
            );
        }
        if self.concurrent_syncs <= 0 {
            problem(
                "--concurrent-syncs",
                format!(
                    "{} workers cannot process anything; use a value greater than 0 (default 50)",
                    self.concurrent_syncs
                ),
            );
        }
        if !self.profiling && self.contention_profiling {
            problem(
                "--contention-profiling",
                "requires --profiling; add --profiling or drop --contention-profiling".to_owned(),
            );
        }
        if let Err(reason) = check_media_type(&self.kube_api_content_type) {
            problem(
                "--kube-api-content-type",
                format!(
                    "{:?} is not a media type ({reason}); use a value such as \
                     application/vnd.kubernetes.protobuf or application/json",
                    self.kube_api_content_type
                ),
            );
        }
        if !(self.kube_api_qps.is_finite() && self.kube_api_qps > 0.0) {
            problem(
                "--kube-api-qps",
                format!(
                    "{} requests per second would block every request; use a number greater than 0 (default 20)",
                    self.kube_api_qps
                ),
            );
        }
        if self.kube_api_burst < 0 {
            problem(
                "--kube-api-burst",
                format!(
                    "{} is negative; use 0 or more (default 30)",
                    self.kube_api_burst
                ),
            );
        }
        if self.machine_max_evict_retries < 0 {
            problem(
                "--machine-max-evict-retries",
                format!(
                    "{} is negative; use 0 or more (default 360)",
                    self.machine_max_evict_retries
                ),
            );
        }
        for (flag, value) in self.non_negative_durations() {
            if value.is_negative() {
                problem(
                    flag,
                    format!("{value} is negative; use a duration of 0s or more (e.g. 10m)"),
                );
            }
        }
        if self.machine_safety_apiserver_statuscheck_period
            < self.machine_safety_apiserver_statuscheck_timeout
        {
            problem(
                "--machine-safety-apiserver-statuscheck-period",
                format!(
                    "{} is shorter than --machine-safety-apiserver-statuscheck-timeout={}; \
                     the check period must be at least the timeout",
                    self.machine_safety_apiserver_statuscheck_period,
                    self.machine_safety_apiserver_statuscheck_timeout
                ),
            );
        }
        if self.control_kubeconfig.is_empty()
            && self.target_kubeconfig == TARGET_KUBECONFIG_DISABLED
        {
            problem(
                "--control-kubeconfig",
                format!(
                    "must be set when --target-kubeconfig={TARGET_KUBECONFIG_DISABLED} (an empty \
                     value means \"same as the target cluster\"); give a kubeconfig path or \
                     {CONTROL_KUBECONFIG_IN_CLUSTER}"
                ),
            );
        }
        if self.namespace.is_empty() {
            problem(
                "--namespace",
                "is empty; give the control-cluster namespace holding the Machines (default \"default\")"
                    .to_owned(),
            );
        }
        if self.leader_elect {
            for p in self.leader_election_problems() {
                problems.push(p);
            }
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(OptionsError { problems })
        }
    }

    /// The problems client-go's leader elector would raise for these flags (checked only
    /// when `--leader-elect` is on). Shared with [`crate::leader`].
    pub(crate) fn leader_election_problems(&self) -> Vec<FlagProblem> {
        let mut problems = Vec::new();
        if self.leader_elect_resource_lock != RESOURCE_LOCK_LEASES {
            problems.push(FlagProblem {
                flag: "--leader-elect-resource-lock",
                message: format!(
                    "{:?} is not supported; only {RESOURCE_LOCK_LEASES:?} (a coordination.k8s.io/v1 \
                     Lease) is, as in current client-go: use --leader-elect-resource-lock={RESOURCE_LOCK_LEASES}",
                    self.leader_elect_resource_lock
                ),
            });
        }
        let lease = self.leader_elect_lease_duration;
        let renew = self.leader_elect_renew_deadline;
        let retry = self.leader_elect_retry_period;
        if retry.as_nanos() <= 0 {
            problems.push(FlagProblem {
                flag: "--leader-elect-retry-period",
                message: format!("{retry} must be greater than zero (default 2s)"),
            });
        }
        if renew.as_nanos() <= 0 {
            problems.push(FlagProblem {
                flag: "--leader-elect-renew-deadline",
                message: format!("{renew} must be greater than zero (default 10s)"),
            });
        }
        if lease <= renew {
            problems.push(FlagProblem {
                flag: "--leader-elect-lease-duration",
                message: format!(
                    "{lease} must be greater than --leader-elect-renew-deadline={renew}, or a \
                     standby could take over while the leader still acts (defaults 15s and 10s)"
                ),
            });
        }
        if (renew.as_nanos() as f64) <= LEADER_JITTER_FACTOR * retry.as_nanos() as f64 {
            problems.push(FlagProblem {
                flag: "--leader-elect-renew-deadline",
                message: format!(
                    "{renew} must be greater than 1.2 × --leader-elect-retry-period={retry}, or \
                     the leader cannot retry a failed renewal (defaults 10s and 2s)"
                ),
            });
        }
        problems
    }

    fn non_negative_durations(&self) -> [(&'static str, GoDuration); 14] {
        [
            ("--min-resync-period", self.min_resync_period),
            (
                "--controller-start-interval",
                self.controller_start_interval,
            ),
            ("--machine-creation-timeout", self.machine_creation_timeout),
            ("--machine-health-timeout", self.machine_health_timeout),
            ("--machine-drain-timeout", self.machine_drain_timeout),
            (
                "--machine-inplace-update-timeout",
                self.machine_inplace_update_timeout,
            ),
            (
                "--machine-pv-detach-timeout",
                self.machine_pv_detach_timeout,
            ),
            (
                "--machine-pv-reattach-timeout",
                self.machine_pv_reattach_timeout,
            ),
            (
                "--machine-safety-apiserver-statuscheck-timeout",
                self.machine_safety_apiserver_statuscheck_timeout,
            ),
            (
                "--machine-safety-orphan-vms-period",
                self.machine_safety_orphan_vms_period,
            ),
            (
                "--machine-safety-apiserver-statuscheck-period",
                self.machine_safety_apiserver_statuscheck_period,
            ),
            ("--machine-preserve-timeout", self.machine_preserve_timeout),
            ("--resource-exhausted-retry", self.resource_exhausted_retry),
            ("--log-flush-frequency", self.log_flush_frequency),
        ]
    }

    /// The settings the reconcilers read. Call after [`Options::validate`]: negative
    /// durations (which validation rejects) would become zero here.
    pub fn controller_config(&self) -> ControllerConfig {
        ControllerConfig {
            namespace: self.namespace.clone(),
            target: if self.target_kubeconfig == TARGET_KUBECONFIG_DISABLED {
                TargetMode::None
            } else {
                TargetMode::Cluster
            },
            creation_timeout: self.machine_creation_timeout.to_std_saturating(),
            health_timeout: self.machine_health_timeout.to_std_saturating(),
            drain_timeout: self.machine_drain_timeout.to_std_saturating(),
            inplace_update_timeout: self.machine_inplace_update_timeout.to_std_saturating(),
            preserve_timeout: self.machine_preserve_timeout.to_std_saturating(),
            max_evict_retries: self.machine_max_evict_retries.max(0),
            pv_detach_timeout: self.machine_pv_detach_timeout.to_std_saturating(),
            pv_reattach_timeout: self.machine_pv_reattach_timeout.to_std_saturating(),
            node_conditions: self.node_conditions.clone(),
            bootstrap_token_auth_extra_groups: self.bootstrap_token_auth_extra_groups.clone(),
            resource_exhausted_retry: self.resource_exhausted_retry.to_std_saturating(),
            safety_orphan_vms_period: self.machine_safety_orphan_vms_period.to_std_saturating(),
            safety_apiserver_statuscheck_period: self
                .machine_safety_apiserver_statuscheck_period
                .to_std_saturating(),
            safety_apiserver_statuscheck_timeout: self
                .machine_safety_apiserver_statuscheck_timeout
                .to_std_saturating(),
        }
    }

    /// `--address:--port` for the HTTP server; `None` when the port is out of range
    /// (which [`Options::validate`] reports).
    pub fn http_address(&self) -> Option<std::net::SocketAddr> {
        let port = u16::try_from(self.port).ok().filter(|p| *p != 0)?;
        Some(std::net::SocketAddr::new(self.address, port))
    }

    /// Where the target cluster's config comes from (`none` → no target cluster).
    pub fn target_source(&self) -> KubeconfigSource {
        match self.target_kubeconfig.as_str() {
            TARGET_KUBECONFIG_DISABLED => KubeconfigSource::Disabled,
            "" => KubeconfigSource::InCluster,
            path => KubeconfigSource::File(path.to_owned()),
        }
    }

    /// Where the control cluster's config comes from (empty → same as the target).
    pub fn control_source(&self) -> KubeconfigSource {
        match self.control_kubeconfig.as_str() {
            "" => KubeconfigSource::SameAsTarget,
            CONTROL_KUBECONFIG_IN_CLUSTER => KubeconfigSource::InCluster,
            path => KubeconfigSource::File(path.to_owned()),
        }
    }

    /// Logs every flag with its value at debug level (`--v=2`), as component-base's
    /// `InitFlags` does, so a log shows what the process ran with. Flag values hold no
    /// secrets (kubeconfigs are paths).
    pub fn log_flags(&self) {
        for arg in self.to_args().iter().skip(1) {
            tracing::debug!("FLAG: {arg}");
        }
    }

    /// A command line that parses back into these options (program name first);
    /// useful to start another replica with the same settings.
    pub fn to_args(&self) -> Vec<String> {
        let d = |name: &str, value: GoDuration| format!("--{name}={value}");
        vec![
            "machine-controller".to_owned(),
            format!("--control-kubeconfig={}", self.control_kubeconfig),
            format!("--target-kubeconfig={}", self.target_kubeconfig),
            format!("--namespace={}", self.namespace),
            format!("--kube-api-qps={}", self.kube_api_qps),
            format!("--kube-api-burst={}", self.kube_api_burst),
            format!("--concurrent-syncs={}", self.concurrent_syncs),
            format!("--node-conditions={}", self.node_conditions),
            format!(
                "--bootstrap-token-auth-extra-groups={}",
                self.bootstrap_token_auth_extra_groups
            ),
            d("machine-creation-timeout", self.machine_creation_timeout),
            d("machine-health-timeout", self.machine_health_timeout),
            d("machine-drain-timeout", self.machine_drain_timeout),
            d(
                "machine-inplace-update-timeout",
                self.machine_inplace_update_timeout,
            ),
            format!(
                "--machine-max-evict-retries={}",
                self.machine_max_evict_retries
            ),
            d("machine-pv-detach-timeout", self.machine_pv_detach_timeout),
            d(
                "machine-pv-reattach-timeout",
                self.machine_pv_reattach_timeout,
            ),
            d("machine-preserve-timeout", self.machine_preserve_timeout),
            d("resource-exhausted-retry", self.resource_exhausted_retry),
            d(
                "machine-safety-orphan-vms-period",
                self.machine_safety_orphan_vms_period,
            ),
            d(
                "machine-safety-apiserver-statuscheck-period",
                self.machine_safety_apiserver_statuscheck_period,
            ),
            d(
                "machine-safety-apiserver-statuscheck-timeout",
                self.machine_safety_apiserver_statuscheck_timeout,
            ),
            format!("--port={}", self.port),
            format!("--address={}", self.address),
            format!("--leader-elect={}", self.leader_elect),
            d(
                "leader-elect-lease-duration",
                self.leader_elect_lease_duration,
            ),
            d(
                "leader-elect-renew-deadline",
                self.leader_elect_renew_deadline,
            ),
            d("leader-elect-retry-period", self.leader_elect_retry_period),
            format!(
                "--leader-elect-resource-lock={}",
                self.leader_elect_resource_lock
            ),
            format!("--v={}", self.v),
            format!("--vmodule={}", self.vmodule),
            d("log-flush-frequency", self.log_flush_frequency),
            format!("--cloud-provider={}", self.cloud_provider),
            d("min-resync-period", self.min_resync_period),
            d("controller-start-interval", self.controller_start_interval),
            format!("--kube-api-content-type={}", self.kube_api_content_type),
            format!("--profiling={}", self.profiling),
            format!("--contention-profiling={}", self.contention_profiling),
        ]
    }
}

/// Rewrites `--flag_name…` to `--flag-name…` in every argument that starts with `--`
/// (up to a bare `--`), leaving values after `=` alone: component-base's flag-name
/// normalisation, which MCM deployments may rely on. The first item (program name) is
/// kept as is.
pub fn normalize_flag_names<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut flags_ended = false;
    for (index, arg) in args.into_iter().enumerate() {
        let arg: OsString = arg.into();
        if index == 0 || flags_ended {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            flags_ended = true;
            out.push(arg);
            continue;
        }
        match text.strip_prefix("--") {
            Some(rest) => {
                let (name, value) = match rest.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (rest, None),
                };
                let mut normalised = format!("--{}", name.replace('_', "-"));
                if let Some(value) = value {
                    normalised.push('=');
                    normalised.push_str(value);
                }
                out.push(OsString::from(normalised));
            }
            None => out.push(arg),
        }
    }
    out
}

/// Go's `time.ParseDuration`, as a clap value parser.
fn parse_go_duration(text: &str) -> Result<GoDuration, String> {
    GoDuration::parse(text).map_err(|err| err.to_string())
}

/// Go's `strconv.ParseBool`, which pflag uses for `--flag=value`.
fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "{text:?} is not a boolean; write --flag, --flag=true or --flag=false"
        )),
    }
}

/// An IP address as Go's `net.ParseIP` accepts it (no host names, no ports).
fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .map_err(|_| format!("{text:?} is not an IP address; use e.g. 0.0.0.0, 127.0.0.1 or ::"))
}

/// Go's `mime.ParseMediaType` acceptance: `type[/subtype]` of RFC 2045 tokens, then
/// `; name=value` parameters (value a token or a quoted string), no duplicate names.
fn check_media_type(text: &str) -> Result<(), &'static str> {
    let (media_type, mut params) = match text.split_once(';') {
        Some((media_type, params)) => (media_type, Some(params)),
        None => (text, None),
    };
    let media_type = media_type.trim();
    let (main, sub) = match media_type.split_once('/') {
        Some((main, sub)) => (main, Some(sub)),
        None => (media_type, None),
    };
    if !is_token(main) {
        return Err("no media type");
    }
    if let Some(sub) = sub
        && !is_token(sub)
    {
        return Err("expected token after slash");
    }
    let mut seen: Vec<String> = Vec::new();
    while let Some(rest) = params {
        let rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some((name, after)) = rest.split_once('=') else {
            return Err("invalid media parameter");
        };
        let name = name.trim();
        if !is_token(name) {
            return Err("invalid media parameter");
        }
        let after = after.trim_start();
        let remainder = if let Some(quoted) = after.strip_prefix('"') {
            let mut escaped = false;
            let mut end = None;
            for (i, c) in quoted.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                return Err("invalid media parameter");
            };
            &quoted[end + 1..]
        } else {
            let len = after
                .find(|c: char| !is_token_char(c))
                .unwrap_or(after.len());
            if len == 0 {
                return Err("invalid media parameter");
            }
            &after[len..]
        };
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err("duplicate parameter name");
        }
        seen.push(lower);
        let remainder = remainder.trim_start();
        params = match remainder.strip_prefix(';') {
            Some(next) => Some(next),
            None if remainder.is_empty() => None,
            None => return Err("invalid media parameter"),
        };
    }
    Ok(())
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_token_char)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_control() && c != ' ' && !"()<>@,;:\\\"/[]?=".contains(c)
}

#[cfg(test)]
mod tests;
