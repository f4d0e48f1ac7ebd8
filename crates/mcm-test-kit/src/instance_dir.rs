//! A directory per plane: certificates, etcd's data, the kubeconfig, and every log.
//!
//! Test planes live under `$MCM_TEST_KIT_TMPDIR` (default `<tmp>/mcm-test-kit`) in
//! `plane-*` directories and are removed when the plane is dropped — but kept, with
//! their path printed, when the drop happens during a panic, so the logs of a failed
//! test can be read. A shared plane is never dropped; its directory records its owner
//! process, and the next plane started on the machine removes directories whose owner
//! is gone (unless kept for a failure).

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::{Error, Result};
use crate::procfs;

/// Environment variable overriding where test planes put their directories.
pub const TMP_ENV: &str = "MCM_TEST_KIT_TMPDIR";

const OWNER_FILE: &str = "owner";
const KEEP_FILE: &str = "KEEP";

/// The directory of one plane.
#[derive(Debug)]
pub(crate) struct InstanceDir {
    path: PathBuf,
    temp: Option<TempDir>,
}

impl InstanceDir {
    /// A fresh directory under the test root, removed on drop.
    pub(crate) fn temporary() -> Result<InstanceDir> {
        let root = std::env::var_os(TMP_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("mcm-test-kit"));
        std::fs::create_dir_all(&root).map_err(|e| {
            Error::io(
                format!("creating {} (set {TMP_ENV} to move it)", root.display()),
                e,
            )
        })?;
        remove_abandoned(&root);
        let temp = tempfile::Builder::new()
            .prefix("plane-")
            .tempdir_in(&root)
            .map_err(|e| {
                Error::io(
                    format!("creating a plane directory in {}", root.display()),
                    e,
                )
            })?;
        let me = std::process::id();
        let owner = format!("{me} {}\n", procfs::start_time(me).unwrap_or(0));
        std::fs::write(temp.path().join(OWNER_FILE), owner)
            .map_err(|e| Error::io(format!("writing {}", temp.path().display()), e))?;
        Ok(InstanceDir {
            path: temp.path().to_path_buf(),
            temp: Some(temp),
        })
    }

    /// A directory chosen by the caller, created if missing and never removed here.
    pub(crate) fn persistent(path: &Path) -> Result<InstanceDir> {
        std::fs::create_dir_all(path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let path = std::fs::canonicalize(path)
            .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
        Ok(InstanceDir { path, temp: None })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory after drop and marks it so no sweep removes it.
    pub(crate) fn keep(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::write(temp.path().join(KEEP_FILE), "kept for inspection\n");
            let _ = temp.keep();
        }
    }

    /// Leaves the directory in place without marking it (used by the shared plane,
    /// which is never dropped: the next sweep removes it once this process is gone).
    pub(crate) fn leak(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
    }
}

impl Drop for InstanceDir {
    fn drop(&mut self) {
        if self.temp.is_some() && std::thread::panicking() {
            self.keep();
            crate::progress::say(&format!(
                "a test panicked: keeping the plane's directory with its logs at {}",
                self.path.display()
            ));
        }
    }
}

/// Removes `plane-*` directories under `root` whose owner process is gone.
fn remove_abandoned(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_plane = entry.file_name().to_string_lossy().starts_with("plane-");
        if !is_plane || path.join(KEEP_FILE).exists() {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(path.join(OWNER_FILE)) else {
            // Being created right now, or not ours: leave it.
            continue;
        };
        let mut fields = owner.split_whitespace().map(|f| f.parse::<u64>().ok());
        let (Some(Some(pid)), Some(Some(started))) = (fields.next(), fields.next()) else {
            continue;
        };
        let alive = u32::try_from(pid)
            .ok()
            .and_then(procfs::start_time)
            .is_some_and(|t| t == started);
        if !alive {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_directories_of_dead_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dead = root.path().join("plane-dead");
        let alive = root.path().join("plane-alive");
        let kept = root.path().join("plane-kept");
        let foreign = root.path().join("something-else");
        for dir in [&dead, &alive, &kept, &foreign] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(dead.join(OWNER_FILE), "4194305 1\n").unwrap();
        std::fs::write(kept.join(OWNER_FILE), "4194305 1\n").unwrap();
        std::fs::write(kept.join(KEEP_FILE), "").unwrap();
        std::fs::write(foreign.join(OWNER_FILE), "4194305 1\n").unwrap();
        let me = std::process::id();
        std::fs::write(
            alive.join(OWNER_FILE),
            format!("{me} {}\n", procfs::start_time(me).unwrap()),
        )
        .unwrap();

        remove_abandoned(root.path());

        assert!(!dead.exists());
        assert!(alive.exists());
        assert!(kept.exists());
        assert!(foreign.exists());
    }
}
