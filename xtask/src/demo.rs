//! `cargo xtask demo`: see a generated provider manage machines.
//!
//! Generates a provider from `template/` (default name `demo`), starts (or reuses) the
//! background control plane of `cargo xtask cluster` with the real MCM binary, the
//! simulated cloud and the generated machine controller, applies the provider's own
//! `kubernetes/` samples, and shows a live table of machines until all are Running. It
//! then scales the MachineDeployment up and down, deletes everything and prints a
//! summary. `--keep` leaves it all running.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use mcm_api::v1alpha1::{Machine, MachineDeployment, MachinePhase};
use mcm_test_kit::ManagedProcess;
use mcm_test_kit::background::{self, ClusterState, UpOptions};

use crate::stack::{self, Cloud, ProviderNames, say};

const NAMESPACE: &str = "demo";
const DEPLOYMENT: &str = "test-machine-deployment";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Provider name to generate.
    #[arg(long, default_value = "demo")]
    provider: String,
    /// GitHub org/user of the generated provider.
    #[arg(long, default_value = "demo-org")]
    project: String,
    /// Leave the cluster, MCM, the simulated cloud and the machine controller running.
    #[arg(long)]
    keep: bool,
    /// Directory of the background cluster [default: <repo>/.cluster].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// How long machines may take to become Running, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    stack::check_prerequisites()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(demo(args))
}

/// Processes the demo started next to the plane.
struct Started {
    dir: PathBuf,
    processes: Vec<ManagedProcess>,
    plane_started_here: bool,
}

impl Started {
    /// Stops what the demo started (and the plane if the demo started it).
    async fn stop(self) -> anyhow::Result<()> {
        for process in self.processes.iter().rev() {
            process.stop().await;
            background::ClusterState::forget(&self.dir, process.name())?;
        }
        if self.plane_started_here {
            background::down(&self.dir)?;
        }
        Ok(())
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let repo = stack::repo_root()?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let dir = args.dir.clone().unwrap_or_else(|| repo.join(".cluster"));

    say(
        started,
        "control-plane tools (kube-apiserver, etcd, MCM): building or reusing the cache",
    );
    tokio::task::spawn_blocking(mcm_test_kit::Tools::ensure)
        .await?
        .context("building the control-plane tools")?;
    let names = ProviderNames {
        provider: args.provider.clone(),
        project: args.project.clone(),
    };
    let provider = stack::generate_and_build(
        &repo,
        &stack::generation_dir("demo"),
        &names,
        &repo.join("target/smoke"),
        started,
    )?;
    let cloud_binary = stack::build_simulated_cloud(&repo, started)?;

    let existing = ClusterState::load(&dir)
        .ok()
        .flatten()
        .filter(ClusterState::all_running);
    say(
        started,
        &format!("control plane and MCM in {}", dir.display()),
    );
    let outcome = background::up(
        &dir,
        UpOptions {
            mcm_namespace: Some(NAMESPACE.to_owned()),
        },
    )
    .await
    .context(
        "starting the background control plane (`cargo xtask cluster down` clears a stale one)",
    )?;
    let state = outcome.state;
    let kubeconfig = state.kubeconfig.clone();
    let mut run = Started {
        dir: state.dir.clone(),
        processes: Vec::new(),
        plane_started_here: existing.is_none(),
    };
    let client = mcm_test_kit::kubeconfig::client_for(
        &mcm_test_kit::kubeconfig::load_config(&kubeconfig).await?,
        &kubeconfig,
    )?;

    let result = async {
        say(started, "simulated cloud");
        let cloud = Cloud::start(
            &cloud_binary,
            &state.dir.join("simulated-cloud"),
            &kubeconfig,
            &[],
            args.keep,
        )
        .await?;
        say(started, &format!("simulated cloud at {}", cloud.url));
        say(started, "generated machine controller");
        let (controller, port) = stack::start_controller(
            &provider.binary,
            &state.dir.join("logs"),
            "demo-machine-controller",
            &kubeconfig,
            NAMESPACE,
            &[],
            args.keep,
        )
        .await?;
        say(
            started,
            &format!("machine controller serving /metrics and /healthz on 127.0.0.1:{port}"),
        );

        say(
            started,
            "applying the provider's samples: secret, machine-class, machine, machine-deployment",
        );
        for file in [
            "secret.yaml",
            "machine-class.yaml",
            "machine.yaml",
            "machine-deployment.yaml",
        ] {
            let objects = stack::sample_objects(&provider.dir, file, NAMESPACE, &cloud)?;
            stack::create_objects(&client, objects).await?;
        }
        let deployments: Api<MachineDeployment> = Api::namespaced(client.clone(), NAMESPACE);
        let replicas = deployments.get(DEPLOYMENT).await?.spec.replicas;
        let total = usize::try_from(replicas).unwrap_or(0) + 1;
        let mut joined = BTreeMap::new();
        watch(&client, total, timeout, &mut joined).await?;
        say(started, &format!("all {total} machines Running"));
        let mut nodes = stack::ready_nodes(&client).await?;

        for target in [replicas + 2, 1] {
            say(started, &format!("scaling {DEPLOYMENT} to {target}"));
            deployments
                .patch(
                    DEPLOYMENT,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": {"replicas": target}})),
                )
                .await?;
            let total = usize::try_from(target).unwrap_or(0) + 1;
            watch(&client, total, timeout, &mut joined).await?;
            nodes = nodes.max(stack::ready_nodes(&client).await?);
        }
        let machines_seen = joined.len();

        if args.keep {
            run.processes.push(cloud.process);
            run.processes.push(controller);
            print_summary(&joined, machines_seen, nodes, None);
            return Ok::<bool, anyhow::Error>(true);
        }
        say(started, "deleting the machine deployment and the machine");
        deployments
            .delete(DEPLOYMENT, &DeleteParams::default())
            .await?;
        let machines: Api<Machine> = Api::namespaced(client.clone(), NAMESPACE);
        machines
            .delete("test-machine", &DeleteParams::default())
            .await?;
        watch(&client, 0, timeout, &mut joined).await?;
        let cloud_client = cloud.client()?;
        let left = cloud_client
            .list_instances(&Default::default())
            .await?
            .len();
        print_summary(&joined, machines_seen, nodes, Some(left));
        run.processes.push(cloud.process);
        run.processes.push(controller);
        if left != 0 {
            bail!("{left} VM(s) left in the simulated cloud after deleting every machine");
        }
        Ok(false)
    }
    .await;

    match result {
        Ok(true) => {
            for process in run.processes.drain(..) {
                let detached = process.detach();
                ClusterState::record(&run.dir, detached)?;
            }
            let state = ClusterState::load(&run.dir)?.context("the cluster state vanished")?;
            println!(
                "\nEverything keeps running:\n{}",
                stack::describe_state(&state)
            );
            println!("  kubectl get machines,machinesets,machinedeployments -n {NAMESPACE}");
            println!("  cargo xtask cluster down     # stops all of it");
            println!("export KUBECONFIG={}", kubeconfig.display());
            Ok(())
        }
        Ok(false) => run.stop().await,
        Err(error) => {
            let dir = run.dir.clone();
            let _ = run.stop().await;
            Err(error.context(format!(
                "demo failed; logs are in {}",
                dir.join("logs").display()
            )))
        }
    }
}

/// Shows the machines as a table, in place on a terminal, until exactly `total` exist
/// and all are Running. Records when each first reached Running.
async fn watch(
    client: &kube::Client,
    total: usize,
    timeout: Duration,
    joined: &mut BTreeMap<String, Duration>,
) -> anyhow::Result<()> {
    let machines: Api<Machine> = Api::namespaced(client.clone(), NAMESPACE);
    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    let mut last_lines = 0usize;
    let mut last_table = String::new();
    let mut last_key = String::new();
    loop {
        let list = machines.list(&ListParams::default()).await?.items;
        let mut table = format!(
            "{:<44} {:<12} {:<44} {:>6}\n",
            "MACHINE", "PHASE", "NODE", "AGE"
        );
        // Without a terminal, print only when phases or nodes change (not every tick).
        let mut key = String::new();
        for machine in &list {
            let age = machine
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| {
                    k8s_openapi::jiff::Timestamp::now()
                        .duration_since(t.0)
                        .as_secs()
                })
                .unwrap_or(0);
            let phase = if machine.phase().is_unset() {
                "-".to_owned()
            } else {
                machine.phase().to_string()
            };
            key.push_str(&format!(
                "{} {} {}\n",
                machine.name(),
                phase,
                machine.node_name().unwrap_or("-")
            ));
            table.push_str(&format!(
                "{:<44} {:<12} {:<44} {:>5}s\n",
                machine.name(),
                phase,
                machine.node_name().unwrap_or("-"),
                age
            ));
            if *machine.phase() == MachinePhase::Running && !joined.contains_key(machine.name()) {
                let since_created = machine
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| {
                        k8s_openapi::jiff::Timestamp::now()
                            .duration_since(t.0)
                            .unsigned_abs()
                    })
                    .unwrap_or_default();
                joined.insert(machine.name().to_owned(), since_created);
            }
        }
        let changed = if tty {
            table != last_table
        } else {
            key != last_key
        };
        if changed {
            let mut out = std::io::stdout().lock();
            if tty && last_lines > 0 {
                write!(out, "\x1b[{last_lines}A\x1b[J")?;
            }
            write!(out, "{table}")?;
            out.flush()?;
            last_lines = table.lines().count();
            last_table = table;
            last_key = key;
        }
        let done = list.len() == total && list.iter().all(|m| *m.phase() == MachinePhase::Running);
        if done {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("machines did not converge to {total} Running within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn print_summary(
    joined: &BTreeMap<String, Duration>,
    machines: usize,
    nodes: usize,
    vms_left: Option<usize>,
) {
    let mut times: Vec<f64> = joined.values().map(Duration::as_secs_f64).collect();
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if times.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((times.len() - 1) as f64 * q).round() as usize;
        times[index]
    };
    println!("\nDemo summary");
    println!("  machines that reached Running : {machines}");
    println!(
        "  time to Running (min/median/max): {:.0}s / {:.0}s / {:.0}s",
        pick(0.0),
        pick(0.5),
        pick(1.0)
    );
    println!("  Ready nodes at the peak        : {nodes}");
    if let Some(left) = vms_left {
        println!("  VMs left after deletion       : {left}");
    }
}
