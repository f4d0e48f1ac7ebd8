//! `cargo xtask <command>`: the developer tasks of this repository.
//!
//! `main` only parses the command line and dispatches; every subcommand lives in a
//! module of its own, named after the command.

use clap::Parser;

mod bench;
mod cluster;
mod demo;
mod e2e;
mod flags;
mod rename_project;
mod smoke;
mod stack;
mod test;
mod tools;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer tasks for the MCM provider toolkit",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: flags::Command,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    flags::dispatch(cli.command)
}
