//! The plane's binaries — kube-apiserver, etcd, machine-controller-manager — and MCM's
//! CRDs, built from the Go wrapper modules in `tools/` and cached per user.
//!
//! Nothing is downloaded from release pages: the binaries are compiled from Go modules
//! fetched through the Go module proxy, pinned by the committed go.mod/go.sum. The first
//! build takes minutes (progress is printed); afterwards [`Tools::ensure`] finds the
//! cached binaries in milliseconds.

mod build;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use build::{BuildInput, GoToolchain};
use spec::{ETCD, KUBE_APISERVER, MACHINE_CONTROLLER_MANAGER, ToolSpec};

/// Environment variable overriding the cache directory
/// (default `$HOME/.cache/mcm-rs/tools`).
pub const CACHE_ENV: &str = "MCM_TOOLS_CACHE";

/// The CRD files MCM serves, as found in its module.
pub const CRD_FILES: [&str; 4] = [
    "machine.sapcloud.io_machineclasses.yaml",
    "machine.sapcloud.io_machinedeployments.yaml",
    "machine.sapcloud.io_machines.yaml",
    "machine.sapcloud.io_machinesets.yaml",
];

/// Why the tools could not be built or found. Each message names the file, tool or
/// module concerned and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// The wrapper modules were not found.
    #[error("{0}")]
    RepoRoot(String),
    /// Go is missing or unusable.
    #[error(
        "the Go toolchain is needed to build the plane's binaries (Go 1.26 or newer in PATH): {message}"
    )]
    GoMissing {
        /// What went wrong.
        message: String,
    },
    /// A wrapper module file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The wrapper's go.mod does not require the module that pins the tool.
    #[error("{go_mod} does not require {module}; restore the wrapper module (see docs/testing.md)")]
    NotPinned {
        /// The module that should be required.
        module: String,
        /// The go.mod file.
        go_mod: PathBuf,
    },
    /// The cache directory could not be used.
    #[error("tool cache {path}: {source} (set {CACHE_ENV} to a writable directory)")]
    Cache {
        /// The path concerned.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `go build` failed.
    #[error("building {tool} failed ({status}); full log {log}; last lines:\n{tail}")]
    BuildFailed {
        /// The tool.
        tool: String,
        /// The exit status of `go build`.
        status: String,
        /// The build log.
        log: PathBuf,
        /// Its end.
        tail: String,
    },
    /// A built binary did not run as expected.
    #[error("{tool} at {binary} failed its sanity check: {message}")]
    Sanity {
        /// The tool.
        tool: String,
        /// The binary.
        binary: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// `go mod download` failed.
    #[error("downloading Go module {module} failed: {message}")]
    Download {
        /// The module.
        module: String,
        /// go's output.
        message: String,
    },
    /// MCM's module does not contain the expected CRD files.
    #[error("MCM's CRD directory {dir} lacks {missing}")]
    CrdsMissing {
        /// The directory.
        dir: PathBuf,
        /// The missing file names.
        missing: String,
    },
}

/// Versions of the tools in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolVersions {
    /// `k8s.io/kubernetes` (kube-apiserver), e.g. `v1.34.4`.
    pub kubernetes: String,
    /// `go.etcd.io/etcd/server/v3`, e.g. `v3.6.14`.
    pub etcd: String,
    /// `github.com/gardener/machine-controller-manager`, e.g. `v0.62.1`.
    pub machine_controller_manager: String,
    /// The Go toolchain, e.g. `go1.26.8`.
    pub go: String,
}

/// Paths of the built tools.
#[derive(Debug, Clone)]
pub struct Tools {
    kube_apiserver: PathBuf,
    etcd: PathBuf,
    machine_controller_manager: PathBuf,
    crd_dir: PathBuf,
    versions: ToolVersions,
}

impl Tools {
    /// Builds the tools that are not cached yet and returns where they are.
    ///
    /// Blocking: may take many minutes on a cold machine (progress on stderr), and
    /// milliseconds when warm. Within one process the answer is remembered.
    pub fn ensure() -> Result<Tools, ToolsError> {
        static ENSURED: Mutex<Option<Tools>> = Mutex::new(None);
        let mut ensured = ENSURED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tools) = ensured.as_ref() {
            return Ok(tools.clone());
        }
        let tools = Self::ensure_in(&cache_dir()?)?;
        *ensured = Some(tools.clone());
        Ok(tools)
    }

    /// Like [`Tools::ensure`] with an explicit cache directory and no memo.
    pub fn ensure_in(cache: &Path) -> Result<Tools, ToolsError> {
        let root = crate::repo_root::repo_root().map_err(ToolsError::RepoRoot)?;
        let go = GoToolchain::detect()?;
        let kas = BuildInput::read(&KUBE_APISERVER, &root)?;
        let etcd = BuildInput::read(&ETCD, &root)?;
        let mcm = BuildInput::read(&MACHINE_CONTROLLER_MANAGER, &root)?;
        let crd_dir = crd_dir(&go, &mcm)?;
        Ok(Tools {
            kube_apiserver: build::ensure_built(&kas, &go, cache)?,
            etcd: build::ensure_built(&etcd, &go, cache)?,
            machine_controller_manager: build::ensure_built(&mcm, &go, cache)?,
            crd_dir,
            versions: ToolVersions {
                kubernetes: kas.version,
                etcd: etcd.version,
                machine_controller_manager: mcm.version,
                go: go.version,
            },
        })
    }

    /// Runs each binary once (`--version` / `--help`) and checks what it reports.
    pub fn verify(&self) -> Result<(), ToolsError> {
        let checks: [(&ToolSpec, &str, &Path); 3] = [
            (
                &KUBE_APISERVER,
                &self.versions.kubernetes,
                &self.kube_apiserver,
            ),
            (&ETCD, &self.versions.etcd, &self.etcd),
            (
                &MACHINE_CONTROLLER_MANAGER,
                &self.versions.machine_controller_manager,
                &self.machine_controller_manager,
            ),
        ];
        for (spec, version, binary) in checks {
            build::sanity_check(spec, version, binary)?;
        }
        Ok(())
    }

    /// The kube-apiserver binary.
    pub fn kube_apiserver(&self) -> &Path {
        &self.kube_apiserver
    }

    /// The etcd binary.
    pub fn etcd(&self) -> &Path {
        &self.etcd
    }

    /// The machine-controller-manager binary.
    pub fn machine_controller_manager(&self) -> &Path {
        &self.machine_controller_manager
    }

    /// The directory of MCM's CRD files (inside the Go module cache; see [`CRD_FILES`]).
    pub fn crd_dir(&self) -> &Path {
        &self.crd_dir
    }

    /// The CRD files, in [`CRD_FILES`] order.
    pub fn crd_files(&self) -> Vec<PathBuf> {
        CRD_FILES.iter().map(|f| self.crd_dir.join(f)).collect()
    }

    /// Versions of the tools and of Go.
    pub fn versions(&self) -> &ToolVersions {
        &self.versions
    }
}

/// The cache directory: `$MCM_TOOLS_CACHE`, else `$HOME/.cache/mcm-rs/tools`.
pub fn cache_dir() -> Result<PathBuf, ToolsError> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ToolsError::Cache {
            path: PathBuf::from("$HOME/.cache/mcm-rs/tools"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "HOME is not set"),
        })?;
    Ok(PathBuf::from(home).join(".cache/mcm-rs/tools"))
}

/// Finds MCM's CRDs in the Go module cache (downloading the module if needed).
fn crd_dir(go: &GoToolchain, mcm: &BuildInput<'_>) -> Result<PathBuf, ToolsError> {
    let module = format!("{}@{}", mcm.spec.module, mcm.version);
    let output = build::go_command(&go.go)
        .current_dir(&mcm.wrapper_dir)
        .args(["mod", "download", "-json", &module])
        .output()
        .map_err(|e| ToolsError::GoMissing {
            message: format!("running go mod download: {e}"),
        })?;
    let failed = |message: String| ToolsError::Download {
        module: module.clone(),
        message,
    };
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        failed(format!(
            "unexpected output ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    })?;
    if let Some(error) = info.get("Error").and_then(|e| e.as_str()) {
        return Err(failed(error.to_string()));
    }
    let dir = info
        .get("Dir")
        .and_then(|d| d.as_str())
        .ok_or_else(|| failed(format!("no Dir in {info}")))?;
    let crds = Path::new(dir).join("kubernetes/crds");
    let missing: Vec<&str> = CRD_FILES
        .iter()
        .copied()
        .filter(|f| !crds.join(f).is_file())
        .collect();
    if missing.is_empty() {
        Ok(crds)
    } else {
        Err(ToolsError::CrdsMissing {
            dir: crds,
            missing: missing.join(", "),
        })
    }
}
