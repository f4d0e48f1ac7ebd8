//! `cargo xtask tools`: build (or find in the cache) kube-apiserver, etcd and
//! machine-controller-manager, check that each runs, and print where they are.
//!
//! CI runs this before the tests so that the long cold build shows up as its own step
//! with progress, instead of inside the first test that starts a plane.

use std::time::Instant;

use anyhow::Context as _;
use mcm_test_kit::tools::{self, Tools};

pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let cache = tools::cache_dir()?;
    eprintln!(
        "tool cache: {} (override with {})",
        cache.display(),
        tools::CACHE_ENV
    );
    let tools = Tools::ensure().context("building the control plane's tools")?;
    tools.verify().context("checking the built tools")?;
    let versions = tools.versions();
    println!(
        "kube-apiserver {}: {}",
        versions.kubernetes,
        tools.kube_apiserver().display()
    );
    println!("etcd {}: {}", versions.etcd, tools.etcd().display());
    println!(
        "machine-controller-manager {}: {}",
        versions.machine_controller_manager,
        tools.machine_controller_manager().display()
    );
    println!("MCM CRDs: {}", tools.crd_dir().display());
    println!("built with {}", versions.go);
    eprintln!("tools ready in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
