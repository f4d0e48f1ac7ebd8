//! Test harness for machine-controller-manager providers: a real local control plane.
//!
//! Every test that involves Kubernetes runs against real components — etcd,
//! kube-apiserver and Gardener's machine-controller-manager binary — built from pinned
//! Go modules ([`tools`]) and started on loopback by [`ControlPlane`]. Processes the
//! tests start ([`process::ManagedProcess`]) are stopped on drop and die with the test
//! binary. `cargo xtask cluster` runs the same plane in the background for humans
//! ([`background`]).
//!
//! ```no_run
//! # async fn example() -> mcm_test_kit::Result<()> {
//! let plane = mcm_test_kit::ControlPlane::shared().await?;
//! let namespace = plane.create_namespace("my-test").await?;
//! let _mcm = plane.start_mcm(&namespace, &[]).await?;
//! let client = plane.client().await?;
//! # let _ = client; Ok(()) }
//! ```

pub mod background;
pub mod certs;
pub mod conformance;
pub mod control_plane;
pub mod crds;
pub mod error;
pub mod instance_dir;
pub mod kubeconfig;
pub mod mcm;
pub mod ports;
pub mod process;
pub mod procfs;
pub mod repo_root;
pub mod tools;
pub mod wait;

mod apiserver;
mod etcd;
mod progress;
mod spawner;

pub use control_plane::{ControlPlane, DetachedPlane, PlaneOptions};
pub use error::{Error, Result};
pub use ports::free_port;
pub use process::{ManagedProcess, ProcessSpec};
pub use tools::{Tools, ToolsError};
pub use wait::wait_until;
