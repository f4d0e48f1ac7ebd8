//! Starting the real machine-controller-manager binary.
//!
//! Flags follow MCM's own integration-test setup (contract 01 §8.4): control and target
//! cluster are the same plane, leader election off, a loopback address and a free port
//! for its HTTP endpoint (default 10258 on all interfaces would collide between tests).

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ports::free_port;
use crate::process::{ManagedProcess, ProcessSpec};

/// Flags after the kubeconfig, namespace, address and port ones and before the caller's
/// extra arguments (which come last and so win). Values from MCM's integration test
/// framework (`make start` with `LEADER_ELECT=false`,
/// `MACHINE_SAFETY_OVERSHOOTING_PERIOD=300ms`).
pub const MCM_DEFAULT_ARGS: [&str; 5] = [
    "--leader-elect=false",
    "--safety-up=2",
    "--safety-down=1",
    "--machine-safety-overshooting-period=300ms",
    "--v=3",
];

/// How long MCM gets to open its HTTP port.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything needed to start MCM for one namespace.
#[derive(Debug, Clone, Copy)]
pub struct McmLaunch<'a> {
    /// The MCM binary.
    pub binary: &'a Path,
    /// Used as control and target kubeconfig.
    pub kubeconfig: &'a Path,
    /// The namespace holding the machine objects.
    pub namespace: &'a str,
    /// Where the log goes.
    pub log_dir: &'a Path,
    /// Distinguishes log files of several MCMs for the same namespace.
    pub instance: u32,
    /// Appended after the defaults.
    pub extra_args: &'a [&'a str],
    /// Survive this process (see [`ProcessSpec::detached`]).
    pub detached: bool,
}

/// Starts MCM and returns once its HTTP port accepts connections.
pub async fn start(launch: McmLaunch<'_>) -> Result<ManagedProcess> {
    if launch.namespace.is_empty() {
        return Err(Error::InvalidArgument {
            field: "namespace",
            message: "MCM needs the namespace holding the machine objects".to_string(),
        });
    }
    let port = free_port().map_err(|e| Error::io("choosing a port for MCM", e))?;
    let kubeconfig = launch.kubeconfig.display().to_string();
    let mut spec = ProcessSpec::new(
        format!(
            "machine-controller-manager-{}-{}",
            launch.namespace, launch.instance
        ),
        launch.binary,
        launch.log_dir,
    )
    .arg(format!("--control-kubeconfig={kubeconfig}"))
    .arg(format!("--target-kubeconfig={kubeconfig}"))
    .arg(format!("--namespace={}", launch.namespace))
    .arg("--address=127.0.0.1")
    .arg(format!("--port={port}"))
    .args(MCM_DEFAULT_ARGS)
    .args(launch.extra_args);
    if launch.detached {
        spec = spec.detached();
    }
    let process = ManagedProcess::spawn(spec)?;
    process.wait_listening(port, LISTEN_TIMEOUT).await?;
    Ok(process)
}
