//! Whether the tree has uncommitted work. A rename touches many files; on a clean tree its
//! whole effect is one `git diff` to review and one `git checkout .` to undo, so the
//! command refuses (or asks) when there is uncommitted work mixed in.

use std::path::Path;
use std::process::Command;

/// What git says about a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitState {
    /// No uncommitted changes and no untracked files.
    Clean,
    /// Uncommitted changes: git's short status lines.
    Dirty(Vec<String>),
    /// The tree is not inside a git work tree (or git is not installed): nothing to check.
    NotARepository(String),
}

/// Runs `git status --porcelain` on the tree (ignored files are not listed, untracked are).
pub fn git_state(root: &Path) -> GitState {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "status",
            "--porcelain=v1",
            "--untracked-files=normal",
            "--",
            ".",
        ])
        .output();
    match output {
        Err(e) => GitState::NotARepository(format!("git could not be run: {e}")),
        Ok(output) if !output.status.success() => {
            GitState::NotARepository(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
        Ok(output) => {
            let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            if lines.is_empty() {
                GitState::Clean
            } else {
                GitState::Dirty(lines)
            }
        }
    }
}
