//! A plane that outlives the command that started it: `cargo xtask cluster up|down|status`.
//!
//! `up` starts the same plane the tests use in a directory of the caller's choice
//! (default `./.cluster`), leaves its processes running and records them in
//! `state.json`: PID, executable and kernel start time. `down` stops exactly those
//! processes — a recorded PID is only signalled while it still runs the recorded
//! executable and started at the recorded time, so a reused PID is never hit.
//! The state is public so other commands (the demo) can reuse a running plane.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use rustix::process::Signal;
use serde::{Deserialize, Serialize};

use crate::control_plane::{ControlPlane, PlaneOptions};
use crate::error::{Error, Result};
use crate::mcm::McmLaunch;
use crate::process::{DetachedProcess, signal_group};
use crate::procfs;
use crate::tools::Tools;

/// The state file inside a background plane's directory.
pub const STATE_FILE: &str = "state.json";

/// How long `down` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What `cluster up` recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterState {
    /// The plane's directory.
    pub dir: PathBuf,
    /// Admin kubeconfig; MCM and controllers use it as control and target kubeconfig.
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub server_url: String,
    /// Started processes, in start order (etcd, kube-apiserver, then MCM if any).
    pub processes: Vec<RecordedProcess>,
    /// The namespace MCM watches, if `--with-mcm` was given.
    pub mcm_namespace: Option<String>,
}

/// One process started by `cluster up`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedProcess {
    /// `etcd`, `kube-apiserver`, `machine-controller-manager-<ns>-0`.
    pub name: String,
    /// Its PID (also its process-group ID).
    pub pid: u32,
    /// Its executable, canonical.
    pub executable: PathBuf,
    /// Kernel start time in clock ticks since boot.
    pub start_time: u64,
    /// Its log file.
    pub log: PathBuf,
}

/// What a recorded PID is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Our process, still running.
    Running,
    /// Exited.
    Gone,
    /// The PID now belongs to another process; it is left alone.
    Reused,
}

impl RecordedProcess {
    fn record(process: DetachedProcess) -> Result<RecordedProcess> {
        let start_time = procfs::start_time(process.pid).ok_or_else(|| Error::Background {
            dir: process.log_path.clone(),
            message: format!(
                "{} (PID {}) exited right after starting; see its log",
                process.name, process.pid
            ),
        })?;
        Ok(RecordedProcess {
            name: process.name,
            pid: process.pid,
            executable: process.program,
            start_time,
            log: process.log_path,
        })
    }

    /// Whether the recorded process still runs.
    pub fn liveness(&self) -> Liveness {
        if !procfs::is_alive(self.pid) {
            return Liveness::Gone;
        }
        let same_start = procfs::start_time(self.pid) == Some(self.start_time);
        let same_exe = procfs::executable(self.pid).as_deref() == Some(self.executable.as_path());
        if same_start && same_exe {
            Liveness::Running
        } else {
            Liveness::Reused
        }
    }
}

impl ClusterState {
    /// Reads `<dir>/state.json`; `None` if there is none.
    pub fn load(dir: &Path) -> Result<Option<ClusterState>> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| Error::Background {
            dir: dir.to_path_buf(),
            message: format!(
                "{} is not a state file of this version ({e}); stop its processes by hand and delete it",
                path.display()
            ),
        })
    }

    fn save(&self) -> Result<()> {
        let path = self.dir.join(STATE_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Background {
            dir: self.dir.clone(),
            message: format!("cannot serialize the state: {e}"),
        })?;
        std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// Adds a detached process started next to the plane (e.g. a simulated cloud or a
    /// machine controller by `cargo xtask demo --keep`), so that `down` stops it too.
    pub fn record(dir: &Path, process: DetachedProcess) -> Result<()> {
        let mut state = ClusterState::load(dir)?.ok_or_else(|| Error::Background {
            dir: dir.to_path_buf(),
            message: "no background plane runs here; start one with `cargo xtask cluster up`"
                .to_owned(),
        })?;
        state.processes.push(RecordedProcess::record(process)?);
        state.save()
    }

    /// Forgets a recorded process by name (after it was stopped by its starter).
    pub fn forget(dir: &Path, name: &str) -> Result<()> {
        if let Some(mut state) = ClusterState::load(dir)? {
            state.processes.retain(|p| p.name != name);
            state.save()?;
        }
        Ok(())
    }

    /// Each recorded process with its current liveness.
    pub fn liveness(&self) -> Vec<(&RecordedProcess, Liveness)> {
        self.processes.iter().map(|p| (p, p.liveness())).collect()
    }

    /// True if every recorded process still runs.
    pub fn all_running(&self) -> bool {
        self.processes
            .iter()
            .all(|p| p.liveness() == Liveness::Running)
    }
}

/// Options of `cluster up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Also start MCM for this namespace (created if missing).
    pub mcm_namespace: Option<String>,
}

/// The result of `up`.
#[derive(Debug, Clone)]
pub struct UpOutcome {
    /// The recorded state.
    pub state: ClusterState,
    /// True if a running plane was found and reused.
    pub reused: bool,
}

/// Starts a background plane in `dir`, or reuses the one running there.
pub async fn up(dir: &Path, options: UpOptions) -> Result<UpOutcome> {
    let dir_abs = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::canonicalize(dir))
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    if let Some(mut state) = ClusterState::load(&dir_abs)? {
        if !state.all_running() {
            return Err(Error::Background {
                dir: dir_abs,
                message: "some recorded processes are no longer running; run `cargo xtask cluster down` first"
                    .to_string(),
            });
        }
        if let Some(namespace) = &options.mcm_namespace {
            match &state.mcm_namespace {
                Some(running) if running == namespace => {}
                Some(running) => {
                    return Err(Error::Background {
                        dir: dir_abs,
                        message: format!(
                            "MCM already runs for namespace {running}; run `cargo xtask cluster down` to change it"
                        ),
                    });
                }
                None => {
                    let tools =
                        tokio::task::spawn_blocking(Tools::ensure)
                            .await
                            .map_err(|e| {
                                Error::io(
                                    "building the tools",
                                    std::io::Error::other(e.to_string()),
                                )
                            })??;
                    let mcm = start_background_mcm(
                        &tools,
                        &state.kubeconfig,
                        &dir_abs.join("logs"),
                        namespace,
                    )
                    .await?;
                    state.processes.push(mcm);
                    state.mcm_namespace = Some(namespace.clone());
                    state.save()?;
                }
            }
        }
        return Ok(UpOutcome {
            state,
            reused: true,
        });
    }

    let plane = ControlPlane::start_with(PlaneOptions::background(&dir_abs)).await?;
    let mcm = match &options.mcm_namespace {
        Some(namespace) => Some(
            start_background_mcm(
                plane.tools(),
                plane.kubeconfig_path(),
                plane.log_dir(),
                namespace,
            )
            .await?,
        ),
        None => None,
    };
    let detached = plane.detach();
    let mut processes = vec![
        RecordedProcess::record(detached.etcd)?,
        RecordedProcess::record(detached.apiserver)?,
    ];
    processes.extend(mcm);
    let state = ClusterState {
        dir: detached.dir,
        kubeconfig: detached.kubeconfig,
        server_url: detached.server_url,
        processes,
        mcm_namespace: options.mcm_namespace,
    };
    state.save()?;
    Ok(UpOutcome {
        state,
        reused: false,
    })
}

async fn start_background_mcm(
    tools: &Tools,
    kubeconfig: &Path,
    log_dir: &Path,
    namespace: &str,
) -> Result<RecordedProcess> {
    let config = crate::kubeconfig::load_config(kubeconfig).await?;
    let client = crate::kubeconfig::client_for(&config, kubeconfig)?;
    ensure_namespace(&client, namespace).await?;
    let process = crate::mcm::start(McmLaunch {
        binary: tools.machine_controller_manager(),
        kubeconfig,
        namespace,
        log_dir,
        instance: 0,
        extra_args: &[],
        detached: true,
    })
    .await?;
    RecordedProcess::record(process.detach())
}

/// Creates namespace `name` unless it exists.
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match api.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(e) => Err(Error::kube(format!("creating namespace {name}"), e)),
    }
}

/// How `down` left one recorded process.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The process.
    pub process: RecordedProcess,
    /// What it was before `down` acted.
    pub before: Liveness,
    /// True if it had to be killed with SIGKILL.
    pub killed: bool,
}

/// Stops the processes recorded in `dir` (newest first) and removes the state, data and
/// certificates; logs stay. Returns `None` if nothing was recorded there.
pub fn down(dir: &Path) -> Result<Option<Vec<Stopped>>> {
    let Some(state) = ClusterState::load(dir)? else {
        return Ok(None);
    };
    let mut report = Vec::new();
    for process in state.processes.iter().rev() {
        let before = process.liveness();
        let mut killed = false;
        if before == Liveness::Running {
            signal_group(process.pid, Signal::TERM);
            let deadline = Instant::now() + STOP_GRACE;
            while process.liveness() == Liveness::Running && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if process.liveness() == Liveness::Running {
                signal_group(process.pid, Signal::KILL);
                killed = true;
            }
        }
        report.push(Stopped {
            process: process.clone(),
            before,
            killed,
        });
    }
    for leftover in [
        "etcd-data",
        "pki",
        "apiserver-certs",
        "kubeconfig",
        STATE_FILE,
    ] {
        let path = state.dir.join(leftover);
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
    Ok(Some(report))
}

/// Asks the recorded plane's `/readyz`; the text is `ok` or what went wrong.
pub async fn readyz(state: &ClusterState) -> std::result::Result<String, String> {
    let config = crate::kubeconfig::load_config(&state.kubeconfig)
        .await
        .map_err(|e| e.to_string())?;
    let client =
        crate::kubeconfig::client_for(&config, &state.kubeconfig).map_err(|e| e.to_string())?;
    let request = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(5), client.request_text(request))
        .await
        .map_err(|_| "no answer within 5s".to_string())?
        .map(|body| body.trim().to_string())
        .map_err(|e| e.to_string())
}
