//! Which entries of a tree the rename looks at.
//!
//! Skipped entirely (neither read nor renamed): `.git`, Cargo build directories (`target/`
//! at the root, or any `target/` holding Cargo's `CACHEDIR.TAG`), everything `.gitignore`
//! (and `.git/info/exclude`) ignores, and a staging directory of this tool. Symbolic links
//! are reported but never followed or changed. Binary and non-UTF-8 files are reported but
//! not rewritten (their names still are).

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name prefix of the staging directory the apply phase creates in the tree's root.
pub const STAGING_PREFIX: &str = ".mcm-rename-staging-";

/// How many leading bytes are inspected for a NUL byte to call a file binary (as git does).
const BINARY_SNIFF_LEN: usize = 8000;

/// One entry found by the walk.
#[derive(Debug)]
pub struct Visit {
    /// Path relative to the root.
    pub rel: PathBuf,
    /// Absolute (root-joined) path.
    pub path: PathBuf,
    /// What the entry is.
    pub kind: VisitKind,
    /// Its `lstat` metadata.
    pub metadata: Metadata,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    /// A directory (never the root itself).
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (not followed).
    Symlink,
    /// A socket, FIFO or device: left alone.
    Special,
}

/// What a regular file's bytes are.
#[derive(Debug)]
pub enum Content {
    /// UTF-8 text.
    Text(String),
    /// Has a NUL byte near the start.
    Binary(Vec<u8>),
    /// Not valid UTF-8.
    NonUtf8(Vec<u8>),
}

/// Classifies file bytes.
pub fn classify(bytes: Vec<u8>) -> Content {
    if bytes[..bytes.len().min(BINARY_SNIFF_LEN)].contains(&0) {
        return Content::Binary(bytes);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Content::Text(text),
        Err(e) => Content::NonUtf8(e.into_bytes()),
    }
}

/// Visits every entry the rename may touch, parents before children, siblings sorted by
/// name, so plans and reports are deterministic.
pub fn walk(root: &Path, mut visit: impl FnMut(Visit) -> Result<()>) -> Result<()> {
    let root_owned = root.to_path_buf();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .parents(true)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| !is_excluded(&root_owned, entry.path(), entry.depth()))
        .build();
    for result in walker {
        let entry = result.map_err(|e| Error::Walk {
            root: root.to_owned(),
            message: e.to_string(),
        })?;
        if entry.depth() == 0 {
            continue;
        }
        let path = entry.path().to_path_buf();
        let rel = path
            .strip_prefix(root)
            .map_err(|e| Error::Walk {
                root: root.to_owned(),
                message: e.to_string(),
            })?
            .to_path_buf();
        // Not following links, this is the entry's own `lstat`.
        let metadata = entry.metadata().map_err(|e| Error::Walk {
            root: root.to_owned(),
            message: format!("{}: {e}", path.display()),
        })?;
        let file_type = metadata.file_type();
        let kind = if file_type.is_symlink() {
            VisitKind::Symlink
        } else if file_type.is_dir() {
            VisitKind::Dir
        } else if file_type.is_file() {
            VisitKind::File
        } else {
            VisitKind::Special
        };
        visit(Visit {
            rel,
            path,
            kind,
            metadata,
        })?;
    }
    Ok(())
}

/// `.git`, Cargo build output and our own staging directories.
fn is_excluded(root: &Path, path: &Path, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name == ".git" {
        return true;
    }
    if depth == 1 && name.starts_with(STAGING_PREFIX) {
        return true;
    }
    name == "target"
        && (path.parent() == Some(root) || path.join("CACHEDIR.TAG").is_file())
        && path.is_dir()
}

/// Staging directories left in `root` by an interrupted run.
pub fn leftover_staging_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(root).map_err(|source| Error::Read {
        path: root.to_owned(),
        source,
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: root.to_owned(),
            source,
        })?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX))
        {
            found.push(entry.path());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_tells_text_binary_and_non_utf8_apart() {
        assert!(matches!(classify(b"hello".to_vec()), Content::Text(t) if t == "hello"));
        assert!(matches!(
            classify(b"\x89PNG\0\0".to_vec()),
            Content::Binary(_)
        ));
        assert!(matches!(classify(b"caf\xe9".to_vec()), Content::NonUtf8(_)));
        assert!(matches!(classify(Vec::new()), Content::Text(t) if t.is_empty()));
    }
}
