//! `cargo xtask e2e` (also `make e2e`): this provider, run the way a developer runs it,
//! brings `kubernetes/machine.yaml` to `Running` against a real control plane, and deletes
//! it again.
//!
//! 1. a fresh local control plane (etcd + kube-apiserver with MCM's CRDs, from the
//!    toolkit's test kit) and a namespace in it;
//! 2. a simulated cloud registering VMs as Nodes in that plane;
//! 3. `make start` with CONTROL_KUBECONFIG / TARGET_KUBECONFIG / CONTROL_NAMESPACE set;
//! 4. `kubernetes/secret.yaml` (pointed at the cloud), `machine-class.yaml` and
//!    `machine.yaml`, applied to the namespace;
//! 5. wait for phase `Running`; delete the Machine; wait until it and its VM are gone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use mcm_api::v1alpha1::{Machine, MachineClass};
use mcm_simulated_cloud::{CloudConfig, InstanceFilter, SimulatedCloud, TargetCluster};
use mcm_test_kit::{ControlPlane, ManagedProcess, ProcessSpec, free_port};

use crate::manifests;

#[derive(Debug, Args)]
pub struct E2eArgs {
    /// How long the Machine may take to become Running, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

fn say(started: Instant, text: &str) {
    eprintln!("[e2e {:>6.1}s] {text}", started.elapsed().as_secs_f64());
}

/// The repository root (where the Makefile is).
fn repo_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

pub fn run(args: E2eArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(e2e(args))
}

async fn e2e(args: E2eArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = repo_root();
    let timeout = Duration::from_secs(args.timeout_secs);

    say(
        started,
        "building the machine controller (cargo build --bin machine-controller)",
    );
    let status = tokio::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["build", "--bin", "machine-controller"])
        .current_dir(&root)
        .status()
        .await
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --bin machine-controller failed ({status})");
    }

    say(
        started,
        "starting the control plane (the first run builds its binaries: minutes)",
    );
    let plane = ControlPlane::start()
        .await
        .context("starting the control plane")?;
    let namespace = plane.create_namespace("e2e").await?;
    let kubeconfig = plane.kubeconfig_path().to_path_buf();
    say(
        started,
        &format!("control plane ready; namespace {namespace}"),
    );

    let token = format!("e2e-token-{}", std::process::id());
    let mut config = CloudConfig::in_memory(token.clone());
    config.boot_delay = Duration::from_millis(500);
    config.heartbeat_interval = Duration::from_secs(2);
    let cloud =
        SimulatedCloud::start(config.with_target(TargetCluster::Kubeconfig(kubeconfig.clone())))
            .await
            .context("starting the simulated cloud")?;
    say(started, &format!("simulated cloud at {}", cloud.url()));

    let port = free_port().context("choosing a port for the machine controller")?;
    let controller = ManagedProcess::spawn(
        ProcessSpec::new("make-start", "make", plane.log_dir())
            .arg("start")
            .env("CONTROL_KUBECONFIG", &kubeconfig)
            .env("TARGET_KUBECONFIG", &kubeconfig)
            .env("CONTROL_NAMESPACE", &namespace)
            .env("LEADER_ELECT", "false")
            .env("MC_PORT", port.to_string())
            .current_dir(&root),
    )
    .context("starting `make start`")?;
    say(
        started,
        &format!(
            "make start running (log {})",
            controller.log_path().display()
        ),
    );

    let outcome = drive(started, &plane, &namespace, &cloud, &token, &root, timeout).await;
    if outcome.is_err() || !controller.is_running() {
        eprintln!(
            "--- last lines of {} ---\n{}",
            controller.log_path().display(),
            controller.log_tail(40)
        );
    }
    let running = controller.is_running();
    controller.stop().await;
    cloud
        .shutdown()
        .await
        .context("stopping the simulated cloud")?;
    outcome?;
    if !running {
        bail!("`make start` exited during the test");
    }
    say(started, "passed");
    Ok(())
}

async fn drive(
    started: Instant,
    plane: &ControlPlane,
    namespace: &str,
    cloud: &mcm_simulated_cloud::RunningCloud,
    token: &str,
    root: &Path,
    timeout: Duration,
) -> anyhow::Result<()> {
    let client = plane.client().await?;
    let kubernetes = root.join("kubernetes");
    let post = PostParams::default();

    let mut secret = manifests::read(&kubernetes.join("secret.yaml"))?;
    manifests::point_secret_at(&mut secret, cloud.url(), token);
    manifests::move_to_namespace(&mut secret, namespace);
    let secret: Secret = serde_json::from_value(secret).context("kubernetes/secret.yaml")?;
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&post, &secret)
        .await
        .context("creating the Secret")?;

    let mut class = manifests::read(&kubernetes.join("machine-class.yaml"))?;
    manifests::move_to_namespace(&mut class, namespace);
    let class: MachineClass =
        serde_json::from_value(class).context("kubernetes/machine-class.yaml")?;
    Api::<MachineClass>::namespaced(client.clone(), namespace)
        .create(&post, &class)
        .await
        .context("creating the MachineClass")?;

    let mut machine = manifests::read(&kubernetes.join("machine.yaml"))?;
    manifests::move_to_namespace(&mut machine, namespace);
    let machine: Machine = serde_json::from_value(machine).context("kubernetes/machine.yaml")?;
    let name = machine.name().to_owned();
    let machines = Api::<Machine>::namespaced(client.clone(), namespace);
    machines
        .create(&post, &machine)
        .await
        .context("creating the Machine")?;
    say(
        started,
        &format!(
            "applied secret.yaml, machine-class.yaml, machine.yaml; waiting for machine {name} to be Running"
        ),
    );

    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let current = machines.get(&name).await.context("reading the Machine")?;
        let phase = current.phase().as_str().to_owned();
        let description = current.status.last_operation.description.clone();
        let line = format!("phase {:?}: {description}", phase);
        if line != last {
            say(started, &line);
            last = line;
        }
        if phase == "Running" {
            break;
        }
        if Instant::now() > deadline {
            bail!("machine {name} is not Running after {timeout:?}: {last}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    say(started, &format!("deleting machine {name}"));
    machines
        .delete(&name, &DeleteParams::default())
        .await
        .context("deleting the Machine")?;
    let deadline = Instant::now() + timeout;
    while machines.get_opt(&name).await?.is_some() {
        if Instant::now() > deadline {
            bail!("machine {name} still exists {timeout:?} after its deletion");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let left = cloud
        .client()?
        .list_instances(&InstanceFilter::all())
        .await?;
    if !left.is_empty() {
        bail!(
            "machine {name} is gone but {} VM(s) remain in the cloud",
            left.len()
        );
    }
    say(started, &format!("machine {name} and its VM are gone"));
    Ok(())
}
