//! The subcommands and their dispatch. Each arm calls into the module that owns the
//! command; add a command here and in a module named after it.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rename a provider repository: project, provider name in every case form, image.
    RenameProject(mcm_rename::cli::RenameArgs),
    /// Print speed figures: `bench rename`, ...
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Build (or find cached) kube-apiserver, etcd and machine-controller-manager.
    Tools,
    /// Run the local control plane in the background: up, down, status.
    #[command(subcommand)]
    Cluster(crate::cluster::ClusterCommand),
    /// Generate provider repositories from template/ in several variants and build, test,
    /// lint, rename and run them end to end (see docs/template.md).
    Smoke(crate::smoke::SmokeArgs),
    /// See it work: a generated provider runs machines with the real MCM on a local plane.
    Demo(crate::demo::DemoArgs),
    /// The end-to-end suite: a generated provider with the real MCM, plane and simulated cloud.
    E2e(crate::e2e::E2eArgs),
    /// Everything CI checks: fmt, clippy, tests, smoke, e2e — with a summary.
    Test(crate::test::TestArgs),
}

pub fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::RenameProject(args) => crate::rename_project::run(args),
        Command::Bench(command) => crate::bench::run(command),
        Command::Tools => crate::tools::run(),
        Command::Cluster(command) => crate::cluster::run(command),
        Command::Smoke(args) => crate::smoke::run(args),
        Command::Test(args) => crate::test::run(args),
        Command::Demo(args) => crate::demo::run(args),
        Command::E2e(args) => crate::e2e::run(args),
    }
}
