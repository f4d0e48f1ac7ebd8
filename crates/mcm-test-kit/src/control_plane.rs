//! A real local control plane: etcd + kube-apiserver with MCM's CRDs, and MCM on demand.
//!
//! Tests either start their own plane ([`ControlPlane::start`]) or share one per test
//! binary ([`ControlPlane::shared`]) and isolate themselves with a namespace each
//! ([`ControlPlane::create_namespace`]) — MCM's informers on the control cluster are
//! namespaced, so one MCM per test namespace does not see other tests' objects.
//! The plane keeps no handle bound to a tokio runtime: it can be used from every
//! `#[tokio::test]`, each of which runs its own runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use rand::Rng;

use crate::apiserver::{self, ApiServerInput};
use crate::certs::Pki;
use crate::crds;
use crate::error::{Error, Result};
use crate::etcd;
use crate::instance_dir::InstanceDir;
use crate::mcm::McmLaunch;
use crate::process::{DetachedProcess, ManagedProcess};
use crate::tools::Tools;

/// Where and how to start a plane.
#[derive(Debug, Clone, Default)]
pub struct PlaneOptions {
    dir: Option<PathBuf>,
    detached: bool,
}

impl PlaneOptions {
    /// A plane in a fresh temporary directory, tied to this process (the default).
    pub fn temporary() -> Self {
        Self::default()
    }

    /// A plane for humans (`cargo xtask cluster up`): in `dir`, which is kept, with
    /// processes that may outlive this one once detached ([`ControlPlane::detach`]).
    pub fn background(dir: impl Into<PathBuf>) -> Self {
        PlaneOptions {
            dir: Some(dir.into()),
            detached: true,
        }
    }
}

/// A running etcd + kube-apiserver with MCM's CRDs established. Dropping it stops
/// kube-apiserver, then etcd, then removes its directory (kept if a test panicked).
#[derive(Debug)]
pub struct ControlPlane {
    // Field order is drop order: the API server goes before its storage, the
    // directory last.
    apiserver: ManagedProcess,
    etcd: ManagedProcess,
    tools: Tools,
    server_url: String,
    kubeconfig: PathBuf,
    config: kube::Config,
    log_dir: PathBuf,
    detached: bool,
    mcm_counter: AtomicU32,
    dir: InstanceDir,
}

/// What [`ControlPlane::detach`] leaves: the processes that keep running.
#[derive(Debug, Clone)]
pub struct DetachedPlane {
    /// The plane's directory.
    pub dir: PathBuf,
    /// The kubeconfig (admin).
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub server_url: String,
    /// kube-apiserver.
    pub apiserver: DetachedProcess,
    /// etcd.
    pub etcd: DetachedProcess,
}

impl ControlPlane {
    /// Starts a plane of its own in a temporary directory (builds the tools first if
    /// they are not cached: see [`Tools::ensure`]).
    pub async fn start() -> Result<ControlPlane> {
        Self::start_with(PlaneOptions::temporary()).await
    }

    /// Starts a plane as `options` say.
    pub async fn start_with(options: PlaneOptions) -> Result<ControlPlane> {
        let tools = tokio::task::spawn_blocking(Tools::ensure)
            .await
            .map_err(|e| Error::io("building the tools", std::io::Error::other(e.to_string())))??;
        let dir = match &options.dir {
            Some(dir) => InstanceDir::persistent(dir)?,
            None => InstanceDir::temporary()?,
        };
        let base = dir.path().to_path_buf();
        let log_dir = base.join("logs");
        let pki = Pki::generate()?;
        let files = pki.write_to(&base.join("pki"))?;

        let etcd = etcd::start(tools.etcd(), &base, &log_dir, options.detached).await?;
        let apiserver = apiserver::start(ApiServerInput {
            binary: tools.kube_apiserver(),
            dir: &base,
            log_dir: &log_dir,
            etcd_url: &etcd.client_url,
            pki: &pki,
            files: &files,
            detached: options.detached,
        })
        .await?;

        let plane = ControlPlane {
            apiserver: apiserver.process,
            etcd: etcd.process,
            tools,
            server_url: apiserver.server_url,
            kubeconfig: apiserver.kubeconfig,
            config: apiserver.config,
            log_dir,
            detached: options.detached,
            mcm_counter: AtomicU32::new(0),
            dir,
        };
        let client = plane.client().await?;
        let crds = crds::read_crds(&plane.tools.crd_files())?;
        crds::install(&client, &crds).await?;
        crds::wait_discoverable(&client).await?;
        Ok(plane)
    }

    /// The plane shared by all tests of this test binary, started by the first caller.
    ///
    /// It is never dropped; its processes end with the test binary (parent-death
    /// signal) and its directory is removed by a later plane's sweep. Give each test
    /// its own namespace. If the start fails, every caller gets that failure.
    pub async fn shared() -> Result<Arc<ControlPlane>> {
        static SHARED: tokio::sync::OnceCell<std::result::Result<Arc<ControlPlane>, String>> =
            tokio::sync::OnceCell::const_new();
        let outcome = SHARED
            .get_or_init(|| async {
                let started = std::time::Instant::now();
                match ControlPlane::start().await {
                    Ok(mut plane) => {
                        plane.dir.leak();
                        crate::progress::say(&format!(
                            "shared control plane ready in {:.1}s at {} (kubeconfig {})",
                            started.elapsed().as_secs_f64(),
                            plane.base_dir().display(),
                            plane.kubeconfig_path().display()
                        ));
                        Ok(Arc::new(plane))
                    }
                    Err(error) => Err(error.to_string()),
                }
            })
            .await;
        match outcome {
            Ok(plane) => Ok(Arc::clone(plane)),
            Err(message) => Err(Error::SharedPlane(message.clone())),
        }
    }

    /// The admin kubeconfig; use it as control and target kubeconfig.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The plane's directory (certificates, etcd data, kubeconfig, `logs/`).
    pub fn base_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where processes of this plane (and those started by [`ControlPlane::start_mcm`])
    /// write their logs.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The tools the plane runs.
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// The kube-apiserver process.
    pub fn apiserver(&self) -> &ManagedProcess {
        &self.apiserver
    }

    /// The etcd process.
    pub fn etcd(&self) -> &ManagedProcess {
        &self.etcd
    }

    /// A fresh admin client, bound to the calling task's runtime.
    pub async fn client(&self) -> Result<kube::Client> {
        crate::kubeconfig::client_for(&self.config, &self.kubeconfig)
    }

    /// Creates a namespace named `<prefix>-<random>` and returns its name.
    ///
    /// Namespaces are never deleted (without kube-controller-manager they would stay
    /// `Terminating` anyway); the plane is thrown away instead.
    pub async fn create_namespace(&self, prefix: &str) -> Result<String> {
        validate_prefix(prefix)?;
        let api: Api<Namespace> = Api::all(self.client().await?);
        for _ in 0..8 {
            let name = format!("{prefix}-{}", random_suffix());
            let namespace = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            match api.create(&PostParams::default(), &namespace).await {
                Ok(_) => return Ok(name),
                Err(kube::Error::Api(status)) if status.is_already_exists() => continue,
                Err(e) => return Err(Error::kube(format!("creating namespace {name}"), e)),
            }
        }
        Err(Error::InvalidArgument {
            field: "namespace prefix",
            message: format!("8 random names with prefix {prefix:?} all existed already"),
        })
    }

    /// Starts the real MCM binary for `namespace` (control = target = this plane) on a
    /// free loopback port, with [`crate::mcm::MCM_DEFAULT_ARGS`] followed by `extra_args`. Returns
    /// once its HTTP port accepts connections; MCM's health endpoint says nothing about
    /// its informers, so wait for effects (e.g. a finalizer on a MachineSet).
    pub async fn start_mcm(&self, namespace: &str, extra_args: &[&str]) -> Result<ManagedProcess> {
        crate::mcm::start(McmLaunch {
            binary: self.tools.machine_controller_manager(),
            kubeconfig: &self.kubeconfig,
            namespace,
            log_dir: &self.log_dir,
            instance: self.mcm_counter.fetch_add(1, Ordering::Relaxed),
            extra_args,
            detached: self.detached,
        })
        .await
    }

    /// Leaves etcd and kube-apiserver running and returns how to find them; used by
    /// `cargo xtask cluster up`. Only planes started with [`PlaneOptions::background`]
    /// survive this process.
    pub fn detach(self) -> DetachedPlane {
        let ControlPlane {
            apiserver,
            etcd,
            server_url,
            kubeconfig,
            mut dir,
            ..
        } = self;
        dir.leak();
        DetachedPlane {
            dir: dir.path().to_path_buf(),
            kubeconfig,
            server_url,
            apiserver: apiserver.detach(),
            etcd: etcd.detach(),
        }
    }
}

fn validate_prefix(prefix: &str) -> Result<()> {
    let valid = !prefix.is_empty()
        && prefix.len() <= 50
        && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            field: "namespace prefix",
            message: format!(
                "{prefix:?} is not usable: use 1-50 lowercase letters, digits or '-', starting \
                 with a letter or digit"
            ),
        })
    }
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_prefixes_must_be_dns_labels() {
        for good in ["mcm", "test-1", "9lives"] {
            validate_prefix(good).unwrap();
        }
        for bad in ["", "Upper", "-dash", "under_score", &"x".repeat(51)] {
            let err = validate_prefix(bad).unwrap_err().to_string();
            assert!(err.contains("namespace prefix"), "{err}");
        }
    }

    #[test]
    fn random_suffixes_are_short_lowercase_and_vary() {
        let a = random_suffix();
        assert_eq!(a.len(), 6);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert!((0..10).any(|_| random_suffix() != a));
    }
}
