//! `cargo xtask bench <benchmark>`: speed goals checked by printing figures rather than by
//! timed tests (a loaded CI machine must not fail a build). Each benchmark is a subcommand
//! with its own module under `bench/`; add one by adding a variant and a module.

use clap::Subcommand;

mod rename;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time rename-project (prepare + apply + verify) on a synthetic provider-like tree.
    Rename(rename::RenameBench),
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Rename(args) => rename::run(&args),
    }
}

/// The Cargo profile this xtask binary was built with, printed with every figure because
/// debug and release builds differ by an order of magnitude.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev (debug assertions on; mcm-rename, aho-corasick and memchr are optimised by the \
         profile overrides in Cargo.toml; `cargo run --release -p xtask -- bench …` for release)"
    } else {
        "release"
    }
}
