//! The check after a rename: walk the tree again, independently of the plan, and list every
//! old name that is still there. Text files and path names should have none (an entry there
//! means something changed the tree while renaming); binary files, non-UTF-8 files and
//! symbolic links are never rewritten, so names in them are listed for the author to handle.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::names::ProjectNames;
use crate::plan::verification_matchers;
use crate::scan::Matcher;
use crate::walk::{self, Content, VisitKind};

/// Where an old name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeftoverKind {
    /// In a text file's content: should not happen.
    Text,
    /// In a file or directory name: should not happen.
    Name,
    /// In a binary file (not rewritten).
    Binary,
    /// In a non-UTF-8 file (not rewritten).
    NonUtf8,
    /// In a symbolic link's name or target (never changed).
    Symlink,
}

impl LeftoverKind {
    /// Whether the rename should have removed it.
    pub fn is_unexpected(self) -> bool {
        matches!(self, LeftoverKind::Text | LeftoverKind::Name)
    }
}

/// One old name still in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Path relative to the root.
    pub path: PathBuf,
    /// 1-based line, for text.
    pub line: Option<usize>,
    /// The old spelling found.
    pub text: String,
    /// Where it was found.
    pub kind: LeftoverKind,
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            LeftoverKind::Text => "text",
            LeftoverKind::Name => "path name",
            LeftoverKind::Binary => "binary file, not rewritten",
            LeftoverKind::NonUtf8 => "not UTF-8, not rewritten",
            LeftoverKind::Symlink => "symbolic link, never changed",
        };
        match self.line {
            Some(line) => write!(f, "{}:{line}: `{}` ({why})", self.path.display(), self.text),
            None => write!(f, "{}: `{}` ({why})", self.path.display(), self.text),
        }
    }
}

/// Lists the old names (`old`'s spellings that `new` does not also use) still in the tree.
pub fn find_leftovers(
    root: &Path,
    old: &ProjectNames,
    new: &ProjectNames,
) -> Result<Vec<Leftover>> {
    let mapping = Mapping::new(old, new);
    let (old_only, new_all) = verification_matchers(&mapping, new);
    scan_tree(root, &old_only, &new_all, |_| true)
}

/// Walks the tree and checks every name, and the content of the files `read` selects (by
/// path relative to the root).
pub(crate) fn scan_tree(
    root: &Path,
    old_only: &Matcher,
    new_all: &Matcher,
    read: impl Fn(&Path) -> bool,
) -> Result<Vec<Leftover>> {
    let mut found = Vec::new();
    if old_only.is_empty() {
        return Ok(found);
    }
    let mut record = |path: &Path, text: &str, kind: LeftoverKind, lines: bool| {
        for occurrence in old_only.find_outside(text, new_all) {
            found.push(Leftover {
                path: path.to_owned(),
                line: lines.then(|| text[..occurrence.start].matches('\n').count() + 1),
                text: old_only.pattern(occurrence.pattern).to_owned(),
                kind,
            });
        }
    };
    walk::walk(root, |visit| {
        let name = visit
            .rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match visit.kind {
            VisitKind::Symlink => {
                record(&visit.rel, &name, LeftoverKind::Symlink, false);
                let target = std::fs::read_link(&visit.path).map_err(|source| Error::Read {
                    path: visit.path.clone(),
                    source,
                })?;
                record(
                    &visit.rel,
                    &target.to_string_lossy(),
                    LeftoverKind::Symlink,
                    false,
                );
            }
            VisitKind::Dir | VisitKind::Special => {
                record(&visit.rel, &name, LeftoverKind::Name, false)
            }
            VisitKind::File => {
                record(&visit.rel, &name, LeftoverKind::Name, false);
                if !read(&visit.rel) {
                    return Ok(());
                }
                let bytes = std::fs::read(&visit.path).map_err(|source| Error::Read {
                    path: visit.path.clone(),
                    source,
                })?;
                match walk::classify(bytes) {
                    Content::Text(text) => {
                        if old_only.may_occur(&text) {
                            record(&visit.rel, &text, LeftoverKind::Text, true);
                        }
                    }
                    Content::Binary(bytes) => {
                        record(
                            &visit.rel,
                            &String::from_utf8_lossy(&bytes),
                            LeftoverKind::Binary,
                            false,
                        );
                    }
                    Content::NonUtf8(bytes) => {
                        record(
                            &visit.rel,
                            &String::from_utf8_lossy(&bytes),
                            LeftoverKind::NonUtf8,
                            true,
                        );
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(found)
}
