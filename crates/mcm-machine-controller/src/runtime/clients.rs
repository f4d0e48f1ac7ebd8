//! The two clusters: the control cluster (Machines, MachineClasses, Secrets, Lease)
//! and the target cluster (Nodes, Pods, volumes), built from MCM's kubeconfig flags.
//!
//! Rules (contract 01 §5.1, §7): `--target-kubeconfig=none` disables the target
//! cluster; an empty target path means in-cluster configuration (falling back to
//! the usual kubeconfig discovery); an empty `--control-kubeconfig` reuses the target
//! configuration; the literal `inClusterConfig` means in-cluster. Both clients are
//! throttled to `--kube-api-qps` / `--kube-api-burst`.

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Why a client could not be built; each names the flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig file could not be read or parsed.
    #[error("{flag}={path}: cannot load kubeconfig: {source}")]
    Kubeconfig {
        /// The flag.
        flag: &'static str,
        /// The path given.
        path: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// In-cluster configuration is not available.
    #[error("{flag}: no in-cluster configuration ({source}); pass a kubeconfig path instead")]
    InCluster {
        /// The flag.
        flag: &'static str,
        /// Why.
        #[source]
        source: kube::config::InferConfigError,
    },
    /// `--control-kubeconfig` is empty although there is no target cluster.
    #[error("--control-kubeconfig must be set when --target-kubeconfig=none")]
    NoControlCluster,
    /// The HTTP client could not be built.
    #[error("{flag}: cannot build a client: {source}")]
    Build {
        /// The flag.
        flag: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// The clients of a machine controller.
#[derive(Clone)]
pub struct Clusters {
    /// Machines, MachineClasses, Secrets, Events, the Lease.
    pub control: Client,
    /// Nodes, Pods, volumes, bootstrap tokens; `None` with `--target-kubeconfig=none`.
    pub target: Option<Client>,
}

impl std::fmt::Debug for Clusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clusters")
            .field("target", &self.target.is_some())
            .finish_non_exhaustive()
    }
}

/// The literal `--control-kubeconfig` value for in-cluster configuration.
pub const IN_CLUSTER: &str = "inClusterConfig";
/// The literal `--target-kubeconfig` value for "no target cluster".
pub const NO_TARGET: &str = "none";

async fn config_from(flag: &'static str, value: &str) -> Result<Config, ClientError> {
    if value.is_empty() || value == IN_CLUSTER {
        return Config::infer()
            .await
            .map_err(|source| ClientError::InCluster { flag, source });
    }
    let kubeconfig =
        Kubeconfig::read_from(Path::new(value)).map_err(|source| ClientError::Kubeconfig {
            flag,
            path: value.to_owned(),
            source,
        })?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|source| ClientError::Kubeconfig {
            flag,
            path: value.to_owned(),
            source,
        })
}

/// A client throttled to about `qps` requests per second with bursts of `burst`
/// (a window of `burst` requests per `burst / qps` seconds; client-go uses a token
/// bucket with the same average and burst).
///
/// kube's automatic retry of HTTP 429/503/504 is switched off: an eviction refused by
/// a PodDisruptionBudget is a 429 that the drain must see at once (its own 20 s retry
/// rhythm and `--machine-max-evict-retries` decide), and the controllers have their
/// own retry periods for everything else. client-go does not retry these either
/// unless the server sends `Retry-After`.
pub fn throttled_client(
    flag: &'static str,
    mut config: Config,
    qps: f32,
    burst: u32,
) -> Result<Client, ClientError> {
    config.default_retry = false;
    let burst = u64::from(burst.max(1));
    let qps = f64::from(qps).max(0.001);
    #[allow(clippy::cast_precision_loss)]
    let window = Duration::from_secs_f64(burst as f64 / qps);
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|source| ClientError::Build { flag, source })?;
    Ok(builder
        .with_layer(&tower::limit::RateLimitLayer::new(burst, window))
        .build())
}

/// Builds the clients from the flag values.
pub async fn connect(
    control_kubeconfig: &str,
    target_kubeconfig: &str,
    qps: f32,
    burst: u32,
) -> Result<Clusters, ClientError> {
    let target_config = if target_kubeconfig == NO_TARGET {
        None
    } else {
        Some(config_from("--target-kubeconfig", target_kubeconfig).await?)
    };
    let control_config = if control_kubeconfig.is_empty() {
        target_config.clone().ok_or(ClientError::NoControlCluster)?
    } else {
        config_from("--control-kubeconfig", control_kubeconfig).await?
    };
    let control = throttled_client("--control-kubeconfig", control_config, qps, burst)?;
    let target = target_config
        .map(|config| throttled_client("--target-kubeconfig", config, qps, burst))
        .transpose()?;
    Ok(Clusters { control, target })
}
