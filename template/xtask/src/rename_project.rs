//! `cargo xtask rename-project` (also `make rename-project`): renames this repository with
//! the toolkit's `mcm-rename`, which reads the current names from Cargo.toml, plans every
//! change first, applies them all or none, and checks that no old name is left.

use anyhow::Context as _;
use mcm_rename::cli::{RenameArgs, TerminalPrompt, run as rename};

pub fn run(args: &RenameArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    rename(args, &mut TerminalPrompt, &mut stdout).with_context(|| {
        format!(
            "rename-project --project {} --provider {} in {}",
            args.project,
            args.provider,
            args.path.display()
        )
    })?;
    Ok(())
}
