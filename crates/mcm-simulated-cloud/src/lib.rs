//! A small local cloud for machine-controller-manager providers.
//!
//! A new provider must run end to end before its author writes a single real cloud call, and its
//! tests must keep running without a cloud account afterwards. This crate is that cloud:
//!
//! * an HTTP/JSON instance API (create, get, list by tags, delete) with bearer-token auth and
//!   idempotency keys, whose state survives restarts ([`SimulatedCloud::start`], binary
//!   `mcm-simulated-cloud serve`);
//! * a typed client for it ([`CloudClient`], errors as [`CloudError`]);
//! * a node agent that plays the kubelet of every running instance against a target cluster:
//!   it registers a Ready Node with `spec.providerID = simcloud://<zone>/<id>`, keeps it
//!   heartbeating, applies health knobs (NotReady, flapping, extra conditions), deletes it with
//!   the instance, and finishes terminating pods so drains complete;
//! * seeded fault injection (error rates and kinds, latency, timeouts, outages, zone quotas),
//!   request logs without secrets, and Prometheus metrics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mcm_simulated_cloud::{CloudConfig, CreateInstance, InstanceFilter, SimulatedCloud};
//! let cloud = SimulatedCloud::start(CloudConfig::in_memory("my-token")).await?;
//! let client = cloud.client()?;
//! let vm = client
//!     .create_instance(&CreateInstance {
//!         name: "worker-1".into(),
//!         image: "gardenlinux".into(),
//!         machine_type: "m1.small".into(),
//!         zone: "zone-a".into(),
//!         idempotency_key: Some("machine-uid-1".into()),
//!         ..Default::default()
//!     })
//!     .await?;
//! assert_eq!(vm.provider_id, format!("simcloud://zone-a/{}", vm.id));
//! let all = client.list_instances(&InstanceFilter::all()).await?;
//! assert_eq!(all.len(), 1);
//! cloud.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod catalog;
pub mod client;
mod cloud;
pub mod duration_text;
pub mod faults;
mod lifecycle;
pub mod metrics;
pub mod node_agent;
pub mod node_health;
pub mod persist;
pub mod provider_id;
mod server;
pub mod store;
pub mod validate;

use std::net::SocketAddr;

pub use api::{
    CreateInstance, ErrorCode, Instance, InstanceFilter, InstanceStatus, MachineType, Operation,
};
pub use client::{CloudClient, CloudError};
pub use cloud::{CloudConfig, RunningCloud, SimulatedCloud};
pub use faults::{FaultConfig, FaultKind, OperationFaults, Outage};
pub use node_agent::TargetCluster;
pub use node_health::{
    AdminInstance, ConditionOverride, NodeAgentState, NodeHealth, ReadyMode, TaintSpec,
};
pub use provider_id::{ProviderId, ProviderIdError, decode_provider_id, encode_provider_id};
pub use store::StateLocation;
pub use validate::ZonePolicy;

/// Keys of the provider Secret that point a driver at a simulated cloud. The template's driver,
/// the e2e tests and the demo write and read these names, so they live here once.
pub mod secret_keys {
    /// The endpoint, e.g. `http://127.0.0.1:8080` (what `serve` prints).
    pub const ENDPOINT: &str = "simcloudEndpoint";
    /// The bearer token the cloud was started with.
    pub const TOKEN: &str = "simcloudToken";
}

/// Why a cloud could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is unusable.
    #[error("invalid simulated cloud configuration: {field}: {message}")]
    Config {
        /// The setting.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick a free port or use port 0")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The state could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The target cluster could not be reached.
    #[error(transparent)]
    Agent(#[from] node_agent::AgentError),
    /// The fault configuration is invalid.
    #[error(transparent)]
    Faults(#[from] faults::FaultConfigError),
    /// The HTTP server failed.
    #[error("the simulated cloud's HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
