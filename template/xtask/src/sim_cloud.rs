//! `cargo xtask sim-cloud` (also `make sim-cloud`): a simulated cloud for `make start`,
//! with persisted state, registering Nodes in the target cluster like real VMs' kubelets.
//!
//! It writes `<dir>/secret.json`: `kubernetes/secret.yaml` with this cloud's endpoint and
//! token, ready for `kubectl apply -f`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use mcm_simulated_cloud::{CloudConfig, SimulatedCloud, StateLocation, TargetCluster};
use rand::Rng as _;

use crate::manifests;

#[derive(Debug, Args)]
pub struct SimCloudArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the state, the token and the generated Secret.
    #[arg(long, default_value = ".simcloud")]
    dir: PathBuf,
    /// Cluster where VMs register as Nodes; without it, no Nodes appear.
    #[arg(long, env = "TARGET_KUBECONFIG")]
    target_kubeconfig: Option<PathBuf>,
    /// Namespace of the generated Secret.
    #[arg(long, env = "CONTROL_NAMESPACE", default_value = "default")]
    namespace: String,
    /// How long a new VM stays pending before it boots.
    #[arg(long, default_value = "2s", value_parser = parse_seconds)]
    boot_delay: Duration,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let number = text.strip_suffix('s').unwrap_or(text);
    number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a duration in seconds, e.g. 2s or 0.5s"))
}

pub fn run(args: SimCloudArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let token = token(&args.dir)?;
    let mut config = CloudConfig::new(
        token.clone(),
        StateLocation::File(args.dir.join("state.json")),
    );
    config.listen = args.listen;
    config.boot_delay = args.boot_delay;
    match args.target_kubeconfig.filter(|p| !p.as_os_str().is_empty()) {
        Some(path) if path.is_file() => {
            config = config.with_target(TargetCluster::Kubeconfig(path));
        }
        Some(path) => bail!(
            "target kubeconfig {} does not exist: run `make cluster-up` or set TARGET_KUBECONFIG",
            path.display()
        ),
        None => eprintln!("note: no --target-kubeconfig: VMs will not register Nodes"),
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let cloud = SimulatedCloud::start(config)
            .await
            .context("starting the simulated cloud")?;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the xtask directory has no parent")?;
        let mut secret = manifests::read(&root.join("kubernetes/secret.yaml"))?;
        manifests::point_secret_at(&mut secret, cloud.url(), &token);
        manifests::move_to_namespace(&mut secret, &args.namespace);
        let secret_path = args.dir.join("secret.json");
        std::fs::write(&secret_path, serde_json::to_string_pretty(&secret)?)
            .with_context(|| format!("writing {}", secret_path.display()))?;
        println!("simulated cloud listening on {}", cloud.url());
        println!("state: {}", args.dir.join("state.json").display());
        println!("its Secret: kubectl apply -f {}", secret_path.display());
        println!("Ctrl-C stops it.");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        cloud
            .shutdown()
            .await
            .context("stopping the simulated cloud")?;
        anyhow::Ok(())
    })
}

/// The token in `<dir>/token`, created on first use.
fn token(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join("token");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.to_owned());
        }
    }
    let mut rng = rand::rng();
    let token: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    std::fs::write(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}
