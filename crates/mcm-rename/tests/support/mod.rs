//! Helpers shared by the integration tests: copying fixture trees faithfully (symlinks,
//! modes), taking snapshots of whole trees, comparing them with readable differences, and
//! driving git.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// One entry of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        bytes: Vec<u8>,
        modified: Option<SystemTime>,
    },
    Symlink {
        target: PathBuf,
    },
}

pub type Snapshot = BTreeMap<PathBuf, Node>;

/// The fixture directory of this crate's tests.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies a tree: directories, regular files with their permission bits, symbolic links as
/// links (never followed).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let mut entries: Vec<_> = fs::read_dir(from).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            symlink(fs::read_link(&source).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&source, &target);
            let mode = fs::metadata(&source).unwrap().permissions().mode();
            fs::set_permissions(&target, fs::Permissions::from_mode(mode)).unwrap();
        } else {
            fs::copy(&source, &target).unwrap();
        }
    }
}

/// Every entry under `root` (relative paths), skipping the given relative paths.
pub fn snapshot(root: &Path, skip: &[&str], with_mtime: bool) -> Snapshot {
    let mut out = Snapshot::new();
    collect(root, root, skip, with_mtime, &mut out);
    out
}

fn collect(root: &Path, dir: &Path, skip: &[&str], with_mtime: bool, out: &mut Snapshot) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        if skip.iter().any(|s| rel == Path::new(s)) {
            continue;
        }
        let metadata = fs::symlink_metadata(&path).unwrap();
        let mode = metadata.permissions().mode() & 0o7777;
        if metadata.file_type().is_symlink() {
            out.insert(
                rel,
                Node::Symlink {
                    target: fs::read_link(&path).unwrap(),
                },
            );
        } else if metadata.is_dir() {
            out.insert(rel, Node::Dir { mode });
            collect(root, &path, skip, with_mtime, out);
        } else {
            let modified = if with_mtime {
                metadata.modified().ok()
            } else {
                None
            };
            out.insert(
                rel,
                Node::File {
                    mode,
                    bytes: fs::read(&path).unwrap(),
                    modified,
                },
            );
        }
    }
}

/// Asserts two snapshots are equal, naming the first differing entries.
pub fn assert_same(actual: &Snapshot, expected: &Snapshot, what: &str) {
    let mut problems = Vec::new();
    for (path, node) in expected {
        match actual.get(path) {
            None => problems.push(format!("missing: {}", path.display())),
            Some(other) if other != node => problems.push(describe(path, other, node)),
            Some(_) => {}
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) {
            problems.push(format!("unexpected: {}", path.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: trees differ:\n{}",
        problems.join("\n")
    );
}

fn describe(path: &Path, actual: &Node, expected: &Node) -> String {
    match (actual, expected) {
        (
            Node::File {
                mode: am,
                bytes: ab,
                modified: at,
            },
            Node::File {
                mode: em,
                bytes: eb,
                modified: et,
            },
        ) => {
            let mut parts = Vec::new();
            if am != em {
                parts.push(format!("mode {am:o} != {em:o}"));
            }
            if ab != eb {
                parts.push(format!(
                    "content differs:\n--- actual\n{}\n--- expected\n{}",
                    String::from_utf8_lossy(ab),
                    String::from_utf8_lossy(eb)
                ));
            }
            if at != et {
                parts.push(format!("mtime {at:?} != {et:?}"));
            }
            format!("{}: {}", path.display(), parts.join("; "))
        }
        _ => format!("{}: {actual:?} != {expected:?}", path.display()),
    }
}

/// Runs git in `dir` with a fixed identity; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Makes `dir` a git repository with everything committed.
pub fn git_commit_all(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// A minimal provider manifest for generated trees.
pub fn manifest(project: &str, provider: &str) -> String {
    use heck::ToKebabCase;
    let kebab = provider.to_kebab_case();
    format!(
        "[package]\nname = \"machine-controller-manager-provider-{kebab}\"\nversion = \"0.1.0\"\n\n\
         [package.metadata.mcm-provider]\nproject = \"{project}\"\nprovider = \"{provider}\"\n\
         image_repository = \"ghcr.io/{}/machine-controller-manager-provider-{kebab}\"\n",
        project.to_lowercase()
    )
}
