//! The subcommands and their dispatch. Each arm calls into the module that owns the
//! command; add a command here and in a module named after it.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {}

pub fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {}
}
