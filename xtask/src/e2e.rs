//! `cargo xtask e2e`: the end-to-end suite. A provider generated from `template/` runs
//! as its own process against a fresh control plane with the real MCM binary and the
//! simulated cloud; each scenario drives it through the Kubernetes API and the cloud's
//! admin API only, prints what it checked, and the run ends with a table of timings.

mod scenarios;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use mcm_test_kit::{ControlPlane, ManagedProcess};

use crate::stack::{self, Cloud, Provider, ProviderNames, say};

#[derive(Debug, Args)]
pub struct E2eArgs {
    /// Run only the scenarios whose name contains one of these (repeatable).
    #[arg(long = "only", value_name = "NAME")]
    only: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// What every scenario gets.
pub struct World {
    pub plane: ControlPlane,
    pub namespace: String,
    pub client: kube::Client,
    pub provider: Provider,
    pub cloud: Cloud,
    pub controllers: Vec<ManagedProcess>,
    pub log_dir: PathBuf,
    /// Lines of what the current scenario checked.
    pub checked: Vec<String>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl World {
    /// Records (and prints) one thing a scenario verified.
    pub fn check(&mut self, what: impl Into<String>) {
        let what = what.into();
        eprintln!("    ✓ {what}");
        self.checked.push(what);
    }

    /// Starts a machine controller with extra flags and keeps it in `controllers`.
    pub async fn start_controller(&mut self, extra: &[String]) -> anyhow::Result<u16> {
        let name = format!("machine-controller-{}", self.controllers.len());
        let (process, port) = stack::start_controller(
            &self.provider.binary,
            &self.log_dir,
            &name,
            self.plane.kubeconfig_path(),
            &self.namespace,
            extra,
            false,
        )
        .await?;
        self.controllers.push(process);
        Ok(port)
    }

    /// Stops every machine controller.
    pub async fn stop_controllers(&mut self) {
        for controller in self.controllers.drain(..) {
            controller.stop().await;
        }
    }
}

pub fn run(args: E2eArgs) -> anyhow::Result<()> {
    if args.list {
        for scenario in scenarios::ALL {
            println!("{:<28} {}", scenario.name, scenario.about);
        }
        return Ok(());
    }
    stack::check_prerequisites()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(e2e(args))
}

async fn e2e(args: E2eArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let repo = stack::repo_root()?;
    let selected: Vec<&scenarios::Scenario> = scenarios::ALL
        .iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.name.contains(o.as_str())))
        .collect();
    if selected.is_empty() {
        bail!(
            "no scenario matches {:?}; see `cargo xtask e2e --list`",
            args.only
        );
    }

    let names = ProviderNames {
        provider: "E2eCloud".to_owned(),
        project: "e2e-org".to_owned(),
    };
    let provider = stack::generate_and_build(
        &repo,
        &stack::generation_dir("e2e"),
        &names,
        &repo.join("target/smoke"),
        started,
    )?;
    let cloud_binary = stack::build_simulated_cloud(&repo, started)?;
    say(started, "starting the control plane");
    let plane = ControlPlane::start()
        .await
        .context("starting the control plane")?;
    let namespace = plane.create_namespace("e2e").await?;
    let client = plane.client().await?;
    let log_dir = plane.log_dir().to_path_buf();
    say(
        started,
        &format!("control plane up; logs in {}", log_dir.display()),
    );
    let _mcm = plane
        .start_mcm(&namespace, &[])
        .await
        .context("starting MCM")?;
    let cloud = Cloud::start(
        &cloud_binary,
        &plane.base_dir().join("simulated-cloud"),
        plane.kubeconfig_path(),
        &[],
        false,
    )
    .await?;
    let mut world = World {
        plane,
        namespace,
        client,
        provider,
        cloud,
        controllers: Vec::new(),
        log_dir,
        checked: Vec::new(),
    };
    world.start_controller(&[]).await?;
    scenarios::apply_base_objects(&world).await?;

    let mut results = Vec::new();
    for scenario in selected {
        say(
            started,
            &format!("scenario {}: {}", scenario.name, scenario.about),
        );
        world.checked.clear();
        let began = Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_secs(600), (scenario.run)(&mut world)).await;
        let outcome = match outcome {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("scenario timed out after 10 minutes")),
        };
        if let Err(error) = &outcome {
            eprintln!("    ✗ {error:#}");
        }
        results.push((
            scenario.name,
            outcome.is_ok(),
            began.elapsed(),
            world.checked.len(),
        ));
    }

    println!(
        "\n{:<28} {:<7} {:>8} {:>8}",
        "scenario", "result", "time", "checks"
    );
    for (name, ok, took, checks) in &results {
        println!(
            "{:<28} {:<7} {:>7.0}s {:>8}",
            name,
            if *ok { "ok" } else { "FAILED" },
            took.as_secs_f64(),
            checks
        );
    }
    world.stop_controllers().await;
    // The plane's directory goes with the plane; keep the logs.
    let kept = repo.join("target/e2e-logs");
    let _ = std::fs::remove_dir_all(&kept);
    copy_dir(&world.log_dir, &kept)?;
    println!(
        "total {:.0}s; logs in {}",
        started.elapsed().as_secs_f64(),
        kept.display()
    );
    let failed: Vec<&str> = results.iter().filter(|r| !r.1).map(|r| r.0).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("failed scenarios: {}", failed.join(", "))
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}
