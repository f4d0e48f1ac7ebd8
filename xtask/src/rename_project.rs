//! `cargo xtask rename-project`: renames a provider repository (default: the current
//! directory). The whole command — validation, git check, dry run, staged apply with
//! rollback, verification, `cargo check` — lives in the `mcm-rename` library so that every
//! generated provider's xtask runs exactly the same code; this module only wires it to the
//! terminal.

use anyhow::Context as _;
use mcm_rename::cli::{RenameArgs, TerminalPrompt, run as rename};

pub fn run(args: RenameArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    rename(&args, &mut TerminalPrompt, &mut stdout).with_context(|| {
        format!(
            "rename-project --project {} --provider {} in {}",
            args.project,
            args.provider,
            args.path.display()
        )
    })?;
    Ok(())
}
