//! The `rename-project` command as every repository runs it: this toolkit's
//! `cargo xtask rename-project`, each generated provider's own `cargo xtask rename-project`
//! and its `make rename-project`. The xtasks flatten [`RenameArgs`] into their command line
//! and call [`run`], so there is one implementation of the policy (validation, git check,
//! dry run, apply, verification, `cargo check`).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};
use crate::git::{GitState, git_state};
use crate::names::NewNames;
use crate::plan::RenamePlan;
use crate::report::Report;

/// How many diff lines `--dry-run` shows per file.
const DRY_RUN_DIFF_LINES: usize = 40;

/// Command-line arguments of `rename-project`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenameArgs {
    /// GitHub user or organisation that owns the repository after the rename (e.g. my-org).
    #[arg(long, value_name = "ORG")]
    pub project: String,
    /// Provider name as you write it (e.g. AWS, Hetzner, my-cloud); every case form is derived.
    #[arg(long, value_name = "NAME")]
    pub provider: String,
    /// Root of the provider repository (the directory with its Cargo.toml).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub path: PathBuf,
    /// Container image repository to use instead of the derived one.
    #[arg(long, value_name = "REPOSITORY")]
    pub image_repository: Option<String>,
    /// Show what would change (per-file diff summary) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rename even if git reports uncommitted changes, without asking.
    #[arg(long)]
    pub yes: bool,
    /// Run `cargo check --workspace --all-targets` in the repository afterwards.
    #[arg(long)]
    pub check: bool,
}

/// How the command talks to the person running it.
pub trait Prompt {
    /// Whether a person can answer questions (stdin is a terminal).
    fn is_interactive(&self) -> bool;
    /// Asks a yes/no question; `Ok(true)` only for an explicit yes.
    fn confirm(&mut self, question: &str) -> io::Result<bool>;
}

/// The real terminal: interactive when stdin is a TTY; questions go to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalPrompt;

impl Prompt for TerminalPrompt {
    fn is_interactive(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn confirm(&mut self, question: &str) -> io::Result<bool> {
        let mut stderr = io::stderr();
        write!(stderr, "{question} [y/N] ")?;
        stderr.flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

/// Runs the command. Returns the report of an applied rename, or `None` for a dry run or
/// when there was nothing to do. Everything meant for the user is written to `out`.
pub fn run(
    args: &RenameArgs,
    prompt: &mut dyn Prompt,
    out: &mut dyn Write,
) -> Result<Option<Report>> {
    let new = NewNames::new(&args.project, &args.provider, args.image_repository.clone())?;
    let root = std::fs::canonicalize(&args.path).map_err(|source| Error::Read {
        path: args.path.clone(),
        source,
    })?;
    let say = |out: &mut dyn Write, text: &str| writeln!(out, "{text}").map_err(Error::Output);

    if !args.dry_run {
        match git_state(&root) {
            GitState::Clean => {}
            GitState::NotARepository(why) => say(
                out,
                &format!(
                    "note: {} is not a git work tree ({why}); continuing",
                    root.display()
                ),
            )?,
            GitState::Dirty(lines) => {
                let changes = summarize_status(&lines);
                if args.yes {
                    say(
                        out,
                        &format!("note: uncommitted changes ({changes}); continuing (--yes)"),
                    )?;
                } else if prompt.is_interactive() {
                    say(out, &format!("{} has uncommitted changes:", root.display()))?;
                    for line in lines.iter().take(20) {
                        say(out, &format!("  {line}"))?;
                    }
                    out.flush().map_err(Error::Output)?;
                    if !prompt.confirm("Rename anyway?").map_err(Error::Output)? {
                        return Err(Error::Cancelled);
                    }
                } else {
                    return Err(Error::DirtyTree { root, changes });
                }
            }
        }
    }

    say(out, &format!("Scanning {} …", root.display()))?;
    let plan = RenamePlan::prepare(&root, &new)?;
    if plan.is_noop() {
        say(
            out,
            &format!(
                "Nothing to change: {} already carries these names.",
                root.display()
            ),
        )?;
        return Ok(None);
    }
    write!(out, "{}", plan.summary()).map_err(Error::Output)?;
    if args.dry_run {
        say(out, "\nDry run: planned changes")?;
        write!(out, "{}", plan.diff_summary(DRY_RUN_DIFF_LINES)).map_err(Error::Output)?;
        say(out, "Dry run: nothing was changed.")?;
        return Ok(None);
    }
    say(
        out,
        &format!(
            "Applying {} file change(s) and {} rename(s) …",
            plan.edits().len(),
            plan.renames().len()
        ),
    )?;
    let report = plan.apply()?;
    write!(out, "{report}").map_err(Error::Output)?;
    let unexpected = report.unexpected_leftovers().count();
    if unexpected > 0 {
        return Err(Error::LeftoversRemain { count: unexpected });
    }
    if args.check {
        say(out, &format!("Running cargo check in {} …", root.display()))?;
        out.flush().map_err(Error::Output)?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["check", "--workspace", "--all-targets"])
            .current_dir(&root)
            .status();
        match status {
            Ok(status) if status.success() => say(out, "cargo check passed")?,
            Ok(status) => {
                return Err(Error::CargoCheckFailed {
                    root,
                    status: status.to_string(),
                });
            }
            Err(e) => {
                return Err(Error::CargoCheckFailed {
                    root,
                    status: e.to_string(),
                });
            }
        }
    }
    Ok(Some(report))
}

/// The first few status lines, joined, for an error message.
fn summarize_status(lines: &[String]) -> String {
    let mut shown: Vec<&str> = lines.iter().take(5).map(|l| l.trim()).collect();
    let more = lines.len().saturating_sub(5);
    let extra = format!("and {more} more");
    if more > 0 {
        shown.push(&extra);
    }
    shown.join(", ")
}
