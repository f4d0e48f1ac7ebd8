//! `cargo xtask cluster up|down|status` (also `make cluster-up`, `make cluster-down`): the
//! toolkit's local control plane — etcd and kube-apiserver with MCM's CRDs, optionally the
//! machine-controller-manager binary — running in the background in `.cluster/`.
//!
//! `make start` uses `.cluster/kubeconfig` as control and target kubeconfig by default.
//! The first `up` builds the plane's binaries from pinned Go modules (minutes; cached).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use mcm_test_kit::background::{self, ClusterState, Liveness, UpOptions};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start the plane in the background (reuses a running one).
    Up {
        /// The plane's directory.
        #[arg(long, default_value_os_t = default_dir())]
        dir: PathBuf,
        /// Also run machine-controller-manager (MachineSets, MachineDeployments) for this
        /// namespace.
        #[arg(long, value_name = "NAMESPACE")]
        with_mcm: Option<String>,
    },
    /// Stop what `up` started (logs stay in <dir>/logs).
    Down {
        /// The plane's directory.
        #[arg(long, default_value_os_t = default_dir())]
        dir: PathBuf,
    },
    /// Show the plane's processes and kubeconfig.
    Status {
        /// The plane's directory.
        #[arg(long, default_value_os_t = default_dir())]
        dir: PathBuf,
    },
}

/// `.cluster` at the root of this repository.
fn default_dir() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).join(".cluster")
}

pub fn run(command: ClusterCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match command {
        ClusterCommand::Up { dir, with_mcm } => {
            eprintln!("starting the control plane in {} …", dir.display());
            let outcome = runtime
                .block_on(background::up(
                    &dir,
                    UpOptions {
                        mcm_namespace: with_mcm,
                    },
                ))
                .with_context(|| format!("starting the control plane in {}", dir.display()))?;
            let verb = if outcome.reused {
                "already running"
            } else {
                "started"
            };
            println!("control plane {verb}");
            print_state(&outcome.state);
        }
        ClusterCommand::Down { dir } => match background::down(&dir)? {
            None => println!("no control plane recorded in {}", dir.display()),
            Some(stopped) => {
                for s in stopped {
                    let what = match s.before {
                        Liveness::Running if s.killed => "killed after the grace period",
                        Liveness::Running => "stopped",
                        Liveness::Gone => "had already exited",
                        Liveness::Reused => "PID now belongs to another program: left alone",
                    };
                    println!("{} (pid {}): {what}", s.process.name, s.process.pid);
                }
            }
        },
        ClusterCommand::Status { dir } => match ClusterState::load(&dir)? {
            None => println!(
                "no control plane recorded in {} (start one with `make cluster-up`)",
                dir.display()
            ),
            Some(state) => {
                print_state(&state);
                match runtime.block_on(background::readyz(&state)) {
                    Ok(answer) => println!("kube-apiserver /readyz: {answer}"),
                    Err(error) => println!("kube-apiserver /readyz: not reachable: {error}"),
                }
            }
        },
    }
    Ok(())
}

fn print_state(state: &ClusterState) {
    for (process, liveness) in state.liveness() {
        println!("  {:<40} pid {:<8} {liveness:?}", process.name, process.pid);
    }
    println!("API server: {}", state.server_url);
    println!(
        "kubeconfig (control and target): {}",
        state.kubeconfig.display()
    );
    println!("export KUBECONFIG={}", state.kubeconfig.display());
}
