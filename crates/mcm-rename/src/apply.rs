//! Applying a plan so that it happens completely or not at all.
//!
//! 1. **Stage**: every new file content is written to a staging directory inside the tree's
//!    root (same filesystem, so later moves are atomic `rename(2)`s), with the original's
//!    permission bits. A failure here (disk full, ...) only removes the staging directory.
//! 2. **Replace**: for each file, check it is still what was planned from (size, mtime,
//!    mode), move the original into the staging directory, compare its bytes with the
//!    planned original, and move the new content into place.
//! 3. **Rename** files and directories, deepest first.
//!
//! Each move is recorded in a journal (in memory and in `journal.txt` in the staging
//! directory) before it is made. When any step fails the journal is replayed backwards,
//! which moves every original inode back, so the tree is byte-identical to before (same
//! contents, modes and mtimes). If even that fails, the staging directory is kept and the
//! error says where the originals are. A file changed by someone else during the run is
//! never overwritten: the change is detected and everything is undone.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::plan::{FileEdit, RenamePlan, ensure_writable};
use crate::report::Report;
use crate::verify;
use crate::walk::STAGING_PREFIX;

/// A step of the apply phase, shown to an [`ApplyHook`] just before it runs.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// Writing a file's new content into the staging directory.
    Stage {
        /// The file (absolute).
        path: &'a Path,
    },
    /// Replacing a file's content by its staged new content.
    Replace {
        /// The file (absolute).
        path: &'a Path,
    },
    /// Renaming a file or directory.
    Rename {
        /// Current path (absolute).
        from: &'a Path,
        /// New path (absolute).
        to: &'a Path,
    },
}

impl std::fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Stage { path } => write!(f, "staging the new content of {}", path.display()),
            Step::Replace { path } => write!(f, "replacing {}", path.display()),
            Step::Rename { from, to } => {
                write!(f, "renaming {} to {}", from.display(), to.display())
            }
        }
    }
}

/// A seam for failure-injection tests: called before every step of the apply phase. An
/// error returned here fails that step as a real I/O error would (permission denied, disk
/// full); the hook may also change the tree to play another process writing concurrently.
/// Production code uses [`RenamePlan::apply`], which has no hook.
pub trait ApplyHook {
    /// Called with each step and its 0-based index within its phase.
    fn before(&mut self, step: Step<'_>, index: usize) -> io::Result<()>;
}

/// The hook that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl ApplyHook for NoHook {
    fn before(&mut self, _step: Step<'_>, _index: usize) -> io::Result<()> {
        Ok(())
    }
}

/// One move made, and how to undo it.
#[derive(Debug)]
enum Move {
    /// An original file was moved into the staging directory; its new content is not yet
    /// in place.
    Aside { path: PathBuf, backup: PathBuf },
    /// An original file is in the staging directory and the new content at its path.
    Replaced { path: PathBuf, backup: PathBuf },
    /// A file or directory was renamed.
    Renamed { from: PathBuf, to: PathBuf },
}

/// The moves made so far, mirrored into `journal.txt` for a person recovering from a crash.
#[derive(Debug)]
struct Journal {
    moves: Vec<Move>,
    file: Option<File>,
}

impl Journal {
    fn record(&mut self, entry: Move) {
        if let Some(file) = &mut self.file {
            let line = match &entry {
                Move::Aside { path, backup } => format!("aside {path:?} -> {backup:?}\n"),
                Move::Replaced { path, backup } => {
                    format!("replaced {path:?} (original in {backup:?})\n")
                }
                Move::Renamed { from, to } => format!("renamed {from:?} -> {to:?}\n"),
            };
            // The journal is an aid for a person after a crash; the in-memory list is what
            // the rollback uses, so a failed write must not stop the rename.
            if file.write_all(line.as_bytes()).is_err() {
                self.file = None;
            }
        }
        self.moves.push(entry);
    }

    /// Turns the last `Aside` into `Replaced` once the new content is in place.
    fn mark_replaced(&mut self) {
        if let Some(Move::Aside { path, backup }) = self.moves.pop() {
            self.record(Move::Replaced { path, backup });
        }
    }

    /// Undoes every move, newest first; returns the undo steps that failed.
    fn roll_back(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some(entry) = self.moves.pop() {
            let (from, to) = match &entry {
                Move::Aside { path, backup } | Move::Replaced { path, backup } => (backup, path),
                Move::Renamed { from, to } => (to, from),
            };
            if let Err(e) = fs::rename(from, to) {
                failures.push(format!(
                    "moving {} back to {}: {e}",
                    from.display(),
                    to.display()
                ));
            }
        }
        failures
    }
}

impl RenamePlan {
    /// Applies the plan; on any failure the tree is left as it was. Afterwards walks the
    /// tree again and lists old names that remain (see [`Report::leftovers`]).
    pub fn apply(self) -> Result<Report> {
        self.apply_with_hook(&mut NoHook)
    }

    /// [`RenamePlan::apply`] with a hook called before each step (failure injection).
    pub fn apply_with_hook(self, hook: &mut dyn ApplyHook) -> Result<Report> {
        if self.is_noop() {
            return Ok(Report::from_plan(&self, Vec::new()));
        }
        self.preflight()?;
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(&self.root)
            .map_err(|source| Error::RolledBack {
                step: format!("creating a staging directory in {}", self.root.display()),
                source,
            })?;
        let journal_file = File::create(staging.path().join("journal.txt")).ok();
        let mut journal = Journal {
            moves: Vec::new(),
            file: journal_file,
        };

        let result = self
            .stage(staging.path(), hook)
            .and_then(|()| self.replace_all(staging.path(), hook, &mut journal))
            .and_then(|()| self.rename_all(hook, &mut journal));
        if let Err(cause) = result {
            let failures = journal.roll_back();
            if failures.is_empty() {
                drop(journal);
                // Removing the staging directory is tidying up; the tree is restored.
                let _ = staging.close();
                return Err(cause);
            }
            return Err(Error::RollbackFailed {
                cause: Box::new(cause),
                failures: failures.join("; "),
                staging: staging.keep(),
            });
        }
        drop(journal);
        let staging_path = staging.path().to_owned();
        staging.close().map_err(|source| Error::StagingCleanup {
            path: staging_path,
            source,
        })?;
        // Every name is checked again; contents only where the rename wrote them or could
        // not (binary, non-UTF-8). Files in which planning found no name were not touched,
        // and scanning them again would repeat the same search on the same bytes.
        let (old_only, new_all) = crate::plan::verification_matchers(&self.mapping, &self.new);
        let to_read: HashSet<PathBuf> = self
            .edits
            .iter()
            .map(|e| &e.rel)
            .chain(&self.skipped.binary)
            .chain(&self.skipped.non_utf8)
            .map(|rel| self.final_path(rel))
            .collect();
        let leftovers =
            verify::scan_tree(&self.root, &old_only, &new_all, |rel| to_read.contains(rel))?;
        Ok(Report::from_plan(&self, leftovers))
    }

    /// Checks, before anything is written, that every file is still as planned and that
    /// nothing in the way appeared.
    fn preflight(&self) -> Result<()> {
        for edit in &self.edits {
            self.check_unchanged(edit)?;
        }
        for rename in &self.renames {
            let from = self.root.join(&rename.from);
            let to = self.root.join(&rename.to);
            if fs::symlink_metadata(&from).is_err() {
                return Err(Error::ChangedUnderneath {
                    path: from,
                    what: "it was removed".into(),
                });
            }
            if fs::symlink_metadata(&to).is_ok() {
                return Err(Error::RenameTargetExists { from, to });
            }
        }
        Ok(())
    }

    /// The file is still a writable regular file of the size and mtime seen when planning.
    fn check_unchanged(&self, edit: &FileEdit) -> Result<()> {
        let path = self.root.join(&edit.rel);
        let changed = |what: &str| Error::ChangedUnderneath {
            path: path.clone(),
            what: what.into(),
        };
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(changed("it was removed")),
            Err(source) => return Err(Error::Read { path, source }),
        };
        if !metadata.file_type().is_file() {
            return Err(changed("it is no longer a regular file"));
        }
        if metadata.len() != edit.len || metadata.modified().ok() != edit.modified {
            return Err(changed(
                "its size or modification time differs from when it was read",
            ));
        }
        ensure_writable(&path)
    }

    fn stage(&self, staging: &Path, hook: &mut dyn ApplyHook) -> Result<()> {
        for (index, edit) in self.edits.iter().enumerate() {
            let path = self.root.join(&edit.rel);
            let step = Step::Stage { path: &path };
            let staged = staging.join(format!("new-{index}"));
            hook.before(step, index)
                .and_then(|()| write_staged(&staged, edit))
                .map_err(|source| Error::RolledBack {
                    step: step.to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    fn replace_all(
        &self,
        staging: &Path,
        hook: &mut dyn ApplyHook,
        journal: &mut Journal,
    ) -> Result<()> {
        for (index, edit) in self.edits.iter().enumerate() {
            let path = self.root.join(&edit.rel);
            let step = Step::Replace { path: &path };
            let failed = |source| Error::RolledBack {
                step: step.to_string(),
                source,
            };
            hook.before(step, index).map_err(failed)?;
            self.check_unchanged(edit)?;
            let backup = staging.join(format!("original-{index}"));
            journal.record(Move::Aside {
                path: path.clone(),
                backup: backup.clone(),
            });
            if let Err(source) = fs::rename(&path, &backup) {
                journal.moves.pop();
                return Err(failed(source));
            }
            // Now that the original is ours, make sure it is what the new content was
            // computed from (closes the window between the check above and the move).
            let moved = fs::read(&backup).map_err(failed)?;
            if moved != edit.original.as_bytes() {
                return Err(Error::ChangedUnderneath {
                    path,
                    what: "its content differs from when it was read".into(),
                });
            }
            fs::rename(staging.join(format!("new-{index}")), &path).map_err(failed)?;
            journal.mark_replaced();
        }
        Ok(())
    }

    fn rename_all(&self, hook: &mut dyn ApplyHook, journal: &mut Journal) -> Result<()> {
        for (index, rename) in self.renames.iter().enumerate() {
            let from = self.root.join(&rename.from);
            let to = self.root.join(&rename.to);
            let step = Step::Rename {
                from: &from,
                to: &to,
            };
            let failed = |source| Error::RolledBack {
                step: step.to_string(),
                source,
            };
            hook.before(step, index).map_err(failed)?;
            if fs::symlink_metadata(&to).is_ok() {
                return Err(Error::RenameTargetExists { from, to });
            }
            fs::rename(&from, &to).map_err(failed)?;
            journal.record(Move::Renamed { from, to });
        }
        Ok(())
    }
}

/// Writes a file's new content with the original's permission bits (and owner, where the
/// process may set it).
fn write_staged(staged: &Path, edit: &FileEdit) -> io::Result<()> {
    let mut file = File::create(staged)?;
    file.write_all(edit.new.as_bytes())?;
    file.set_permissions(fs::Permissions::from_mode(edit.mode & 0o7777))?;
    let metadata = file.metadata()?;
    if metadata.uid() != edit.uid || metadata.gid() != edit.gid {
        // Only root may give a file away; for anyone else the new content stays theirs.
        let _ = std::os::unix::fs::fchown(&file, Some(edit.uid), Some(edit.gid));
    }
    Ok(())
}
