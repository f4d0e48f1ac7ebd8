//! `cargo xtask <command>`: this provider's developer tasks. `main` parses and dispatches;
//! each command lives in the module named after it.

use clap::{Parser, Subcommand};

mod cluster;
mod e2e;
mod manifests;
mod rename_project;
mod sim_cloud;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer tasks of this machine provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rename the repository: GitHub project, provider name in every case form, image.
    RenameProject(mcm_rename::cli::RenameArgs),
    /// Run a simulated cloud for `make start` (prints the Secret values to use).
    SimCloud(sim_cloud::SimCloudArgs),
    /// A local control plane (etcd, kube-apiserver, MCM's CRDs) in the background.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// End to end: plane + simulated cloud + `make start` + kubernetes/*.yaml → Running → deleted.
    E2e(e2e::E2eArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::RenameProject(args) => rename_project::run(&args),
        Command::SimCloud(args) => sim_cloud::run(args),
        Command::Cluster(command) => cluster::run(command),
        Command::E2e(args) => e2e::run(args),
    }
}
