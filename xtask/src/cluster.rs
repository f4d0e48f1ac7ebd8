//! `cargo xtask cluster up|down|status`: the tests' control plane, in the background,
//! for humans and demos.
//!
//! The plane lives in a directory (default `<repo>/.cluster`, git-ignored) holding its
//! kubeconfig, certificates, etcd data, logs and `state.json` with the PIDs it started.
//! `down` stops exactly those PIDs, after checking each still runs the recorded
//! executable; the logs stay for reading.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use mcm_test_kit::background::{self, ClusterState, Liveness, UpOptions};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start etcd + kube-apiserver with MCM's CRDs (and optionally MCM) in the background.
    Up {
        /// Directory for the plane's files [default: <repo>/.cluster].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also start machine-controller-manager for --namespace.
        #[arg(long)]
        with_mcm: bool,
        /// Namespace MCM watches (created if missing).
        #[arg(long, default_value = "default", requires = "with_mcm")]
        namespace: String,
    },
    /// Stop the processes `up` started and remove the plane's data (logs stay).
    Down {
        /// The plane's directory [default: <repo>/.cluster].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show what runs and whether the API server is ready.
    Status {
        /// The plane's directory [default: <repo>/.cluster].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub fn run(command: ClusterCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match command {
        ClusterCommand::Up {
            dir,
            with_mcm,
            namespace,
        } => {
            let dir = dir.unwrap_or_else(default_dir);
            let options = UpOptions {
                mcm_namespace: with_mcm.then_some(namespace),
            };
            let outcome = runtime
                .block_on(background::up(&dir, options))
                .with_context(|| format!("starting the control plane in {}", dir.display()))?;
            let verb = if outcome.reused {
                "already running"
            } else {
                "started"
            };
            println!("control plane {verb} in {}", outcome.state.dir.display());
            print_state(&outcome.state);
            Ok(())
        }
        ClusterCommand::Down { dir } => {
            let dir = dir.unwrap_or_else(default_dir);
            match background::down(&dir)? {
                None => println!("no control plane recorded in {}", dir.display()),
                Some(stopped) => {
                    for s in stopped {
                        let what = match (s.before, s.killed) {
                            (Liveness::Running, false) => "stopped",
                            (Liveness::Running, true) => "killed after the grace period",
                            (Liveness::Gone, _) => "had already exited",
                            (Liveness::Reused, _) => {
                                "PID now belongs to another program: left alone"
                            }
                        };
                        println!("{} (pid {}): {what}", s.process.name, s.process.pid);
                    }
                    println!("logs kept in {}", dir.join("logs").display());
                }
            }
            Ok(())
        }
        ClusterCommand::Status { dir } => {
            let dir = dir.unwrap_or_else(default_dir);
            let Some(state) = ClusterState::load(&dir)? else {
                println!(
                    "no control plane recorded in {} (start one with `cargo xtask cluster up`)",
                    dir.display()
                );
                return Ok(());
            };
            print_state(&state);
            match runtime.block_on(background::readyz(&state)) {
                Ok(answer) => println!("kube-apiserver /readyz: {answer}"),
                Err(error) => println!("kube-apiserver /readyz: not reachable: {error}"),
            }
            Ok(())
        }
    }
}

fn print_state(state: &ClusterState) {
    for (process, liveness) in state.liveness() {
        let liveness = match liveness {
            Liveness::Running => "running",
            Liveness::Gone => "exited",
            Liveness::Reused => "exited (PID reused by another program)",
        };
        println!(
            "  {:<40} pid {:<8} {liveness}  log {}",
            process.name,
            process.pid,
            process.log.display()
        );
    }
    println!("API server: {}", state.server_url);
    if let Some(namespace) = &state.mcm_namespace {
        println!("MCM namespace: {namespace}");
    }
    println!("control kubeconfig: {}", state.kubeconfig.display());
    println!("target kubeconfig:  {}", state.kubeconfig.display());
    println!("export KUBECONFIG={}", state.kubeconfig.display());
}

/// `<repo>/.cluster`: next to the workspace this xtask belongs to.
fn default_dir() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).join(".cluster")
}
