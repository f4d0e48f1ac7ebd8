//! What an applied rename did, and what it found left over.

use std::fmt;
use std::path::PathBuf;

use crate::names::ProjectNames;
use crate::plan::{RenamePlan, Skipped, add_counts, join_paths};
use crate::scan::FormCounts;
use crate::verify::Leftover;

/// The outcome of [`RenamePlan::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The tree's root.
    pub root: PathBuf,
    /// Names before.
    pub old: ProjectNames,
    /// Names after.
    pub new: ProjectNames,
    /// Files whose content changed, by their final paths.
    pub files_changed: Vec<PathBuf>,
    /// Replacements per form, in contents and names.
    pub occurrences: FormCounts,
    /// Renamed paths: (before, after), outermost first.
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Files that were not rewritten.
    pub skipped: Skipped,
    /// Old names still found in the tree after renaming.
    pub leftovers: Vec<Leftover>,
}

impl Report {
    pub(crate) fn from_plan(plan: &RenamePlan, leftovers: Vec<Leftover>) -> Self {
        let mut occurrences = plan.name_counts.clone();
        for edit in &plan.edits {
            add_counts(&mut occurrences, &edit.counts);
        }
        Report {
            root: plan.root.clone(),
            old: plan.current.clone(),
            new: plan.new.clone(),
            files_changed: plan.edits.iter().map(|e| plan.final_path(&e.rel)).collect(),
            occurrences,
            renamed: plan
                .renames
                .iter()
                .rev()
                .map(|r| (r.from.clone(), r.final_path.clone()))
                .collect(),
            skipped: plan.skipped.clone(),
            leftovers,
        }
    }

    /// Leftovers in text or names, which the rename should have rewritten.
    pub fn unexpected_leftovers(&self) -> impl Iterator<Item = &Leftover> {
        self.leftovers.iter().filter(|l| l.kind.is_unexpected())
    }

    /// Whether nothing was changed.
    pub fn is_noop(&self) -> bool {
        self.files_changed.is_empty() && self.renamed.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_noop() {
            return writeln!(
                f,
                "Nothing to change: {} already carries these names.",
                self.root.display()
            );
        }
        writeln!(
            f,
            "Renamed {} → {} ({} → {}) in {}",
            self.old.provider,
            self.new.provider,
            self.old.project,
            self.new.project,
            self.root.display()
        )?;
        writeln!(
            f,
            "  {} file(s) changed, {} path(s) renamed",
            self.files_changed.len(),
            self.renamed.len()
        )?;
        for (kind, n) in &self.occurrences {
            writeln!(f, "    {:<20} {n}", kind.label())?;
        }
        for (from, to) in &self.renamed {
            writeln!(f, "  renamed {} → {}", from.display(), to.display())?;
        }
        if !self.skipped.symlinks.is_empty() {
            writeln!(
                f,
                "  symbolic links left alone: {}",
                join_paths(&self.skipped.symlinks, 10)
            )?;
        }
        if self.leftovers.is_empty() {
            writeln!(f, "  verified: no old name remains")?;
        } else {
            writeln!(f, "  old names still present ({}):", self.leftovers.len())?;
            for leftover in self.leftovers.iter().take(50) {
                writeln!(f, "    {leftover}")?;
            }
            if self.leftovers.len() > 50 {
                writeln!(f, "    … and {} more", self.leftovers.len() - 50)?;
            }
        }
        Ok(())
    }
}
