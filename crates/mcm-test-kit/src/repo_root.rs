//! Finding the checkout that holds the Go wrapper modules (`tools/<name>/go.mod`).
//!
//! The wrapper modules pin the exact versions of the plane's binaries. Tests in this
//! workspace find them next to this crate; provider repositories generated from the
//! template live elsewhere and point `MCM_REPO_ROOT` at a checkout of this repository
//! (or depend on this crate by path, which makes the compile-time location right).

use std::path::{Path, PathBuf};

/// Environment variable naming the checkout that holds `tools/`.
pub const REPO_ROOT_ENV: &str = "MCM_REPO_ROOT";

/// Where this crate was compiled from; two levels up is the workspace root.
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The repository root: `$MCM_REPO_ROOT` if set, else the workspace this crate was
/// built in. The result always contains `tools/kube-apiserver/go.mod`.
pub fn repo_root() -> Result<PathBuf, String> {
    if let Some(root) = std::env::var_os(REPO_ROOT_ENV).filter(|v| !v.is_empty()) {
        let root = PathBuf::from(root);
        return if has_tools(&root) {
            Ok(root)
        } else {
            Err(format!(
                "{REPO_ROOT_ENV}={} does not contain tools/kube-apiserver/go.mod; point it at a \
                 checkout of the machine-controller-manager-rs repository",
                root.display()
            ))
        };
    }
    let compiled_in = Path::new(MANIFEST_DIR).join("../..");
    if has_tools(&compiled_in) {
        return std::fs::canonicalize(&compiled_in).map_err(|e| e.to_string());
    }
    Err(format!(
        "cannot find the Go wrapper modules (tools/<name>/go.mod): this crate was built from {} \
         which is not inside the machine-controller-manager-rs repository; set {REPO_ROOT_ENV} \
         to a checkout of it",
        MANIFEST_DIR
    ))
}

fn has_tools(root: &Path) -> bool {
    root.join("tools/kube-apiserver/go.mod").is_file()
}
