//! Building one Go binary into the cache, once.
//!
//! The cache directory of a binary is named after everything that determines its bytes
//! (tool, version, Go version and platform, build flags, and a hash over those plus the
//! wrapper's go.mod and go.sum), so a changed pin or toolchain builds anew and an
//! unchanged one is found without running the build. A build goes into a temporary
//! directory, must pass a sanity run, and is then renamed into place while holding a
//! per-tool file lock, so concurrent test binaries neither build twice nor see a
//! half-written binary.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::ToolsError;
use super::spec::{ToolSpec, required_version};
use crate::progress::say;

/// Bump when the cache layout or the build recipe changes in a way the key misses.
const RECIPE: &str = "mcm-test-kit-tools-1";

/// The Go toolchain that builds the tools.
#[derive(Debug, Clone)]
pub(crate) struct GoToolchain {
    /// `go` found in PATH.
    pub go: PathBuf,
    /// `go env GOVERSION`, e.g. `go1.26.8`.
    pub version: String,
    /// `GOOS/GOARCH`.
    pub platform: String,
}

impl GoToolchain {
    pub(crate) fn detect() -> Result<GoToolchain, ToolsError> {
        let go = crate::spawner::find_in_path("go").ok_or_else(|| ToolsError::GoMissing {
            message: "`go` is not in PATH".to_string(),
        })?;
        let output = go_command(&go)
            .args(["env", "GOVERSION", "GOOS", "GOARCH"])
            .output()
            .map_err(|e| ToolsError::GoMissing {
                message: format!("running {} env: {e}", go.display()),
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        match (output.status.success(), lines.as_slice()) {
            (true, [version, os, arch]) if version.starts_with("go") => Ok(GoToolchain {
                go,
                version: (*version).to_string(),
                platform: format!("{os}/{arch}"),
            }),
            _ => Err(ToolsError::GoMissing {
                message: format!(
                    "`go env GOVERSION GOOS GOARCH` failed ({}): {}{}",
                    output.status,
                    text.trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            }),
        }
    }
}

/// A `go` command with the settings every invocation here uses: the local toolchain
/// only (no toolchain downloads), no cgo (static binaries), go.mod treated as read-only
/// (the committed go.sum is the source of truth; sum.golang.org need not be reachable),
/// and no workspace file from a parent directory.
pub(crate) fn go_command(go: &Path) -> Command {
    let mut command = Command::new(go);
    command
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .env("GOWORK", "off");
    command
}

/// What one tool build needs to know.
#[derive(Debug)]
pub(crate) struct BuildInput<'a> {
    pub spec: &'a ToolSpec,
    pub wrapper_dir: PathBuf,
    pub version: String,
    pub go_mod: String,
    pub go_sum: String,
}

impl<'a> BuildInput<'a> {
    pub(crate) fn read(spec: &'a ToolSpec, repo_root: &Path) -> Result<BuildInput<'a>, ToolsError> {
        let wrapper_dir = repo_root.join("tools").join(spec.name);
        let read = |file: &str| {
            let path = wrapper_dir.join(file);
            std::fs::read_to_string(&path).map_err(|source| ToolsError::Read { path, source })
        };
        let go_mod = read("go.mod")?;
        let go_sum = read("go.sum")?;
        let version =
            required_version(&go_mod, spec.module).ok_or_else(|| ToolsError::NotPinned {
                module: spec.module.to_string(),
                go_mod: wrapper_dir.join("go.mod"),
            })?;
        Ok(BuildInput {
            spec,
            wrapper_dir,
            version,
            go_mod,
            go_sum,
        })
    }

    /// The `go build` arguments after `build` (without `-v` and `-o`).
    pub(crate) fn build_flags(&self) -> Vec<String> {
        let mut ldflags = vec!["-s".to_string(), "-w".to_string()];
        for stamp in (self.spec.stamps)(&self.version) {
            ldflags.push("-X".to_string());
            ldflags.push(stamp);
        }
        let mut flags = vec!["-trimpath".to_string()];
        if !self.spec.tags.is_empty() {
            flags.push(format!("-tags={}", self.spec.tags.join(",")));
        }
        flags.push(format!("-ldflags={}", ldflags.join(" ")));
        flags
    }

    /// The cache directory name for this build with `go`.
    pub(crate) fn cache_entry(&self, go: &GoToolchain) -> String {
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        for part in [
            RECIPE,
            self.spec.name,
            self.spec.package,
            &self.version,
            &go.version,
            &go.platform,
            &self.build_flags().join("\u{1f}"),
            &self.go_mod,
            &self.go_sum,
        ] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        let digest = hasher.finish();
        let hex: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}-{}-{}-{hex}", self.spec.name, self.version, go.version)
    }
}

/// Returns the cached binary for `input`, building it first if needed.
pub(crate) fn ensure_built(
    input: &BuildInput<'_>,
    go: &GoToolchain,
    cache: &Path,
) -> Result<PathBuf, ToolsError> {
    let name = input.spec.name;
    let entry = cache.join(input.cache_entry(go));
    let binary = entry.join(name);
    if crate::spawner::is_executable_file(&binary) {
        return Ok(binary);
    }
    std::fs::create_dir_all(cache).map_err(|source| ToolsError::Cache {
        path: cache.to_path_buf(),
        source,
    })?;
    let lock_path = cache.join(format!(".{name}.lock"));
    let lock = File::create(&lock_path).map_err(|source| ToolsError::Cache {
        path: lock_path.clone(),
        source,
    })?;
    if lock.try_lock().is_err() {
        say(&format!(
            "waiting for another process building {name} (lock {})",
            lock_path.display()
        ));
        lock.lock().map_err(|source| ToolsError::Cache {
            path: lock_path.clone(),
            source,
        })?;
    }
    // Another process may have finished the build while we waited.
    if crate::spawner::is_executable_file(&binary) {
        return Ok(binary);
    }
    remove_abandoned_builds(cache, name);

    let staging = tempfile::Builder::new()
        .prefix(&format!(".building-{name}-"))
        .tempdir_in(cache)
        .map_err(|source| ToolsError::Cache {
            path: cache.to_path_buf(),
            source,
        })?;
    let staged = staging.path().join(name);
    let log_path = cache.join(format!("{name}.build.log"));
    let started = Instant::now();
    say(&format!(
        "building {name} {} with {} (cold builds take minutes; log: {})",
        input.version,
        go.version,
        log_path.display()
    ));
    run_go_build(input, go, &staged, &log_path)?;
    sanity_check(input.spec, &input.version, &staged)?;

    if entry.exists() {
        std::fs::remove_dir_all(&entry).map_err(|source| ToolsError::Cache {
            path: entry.clone(),
            source,
        })?;
    }
    let staging_path = staging.keep();
    if let Err(source) = std::fs::rename(&staging_path, &entry) {
        let _ = std::fs::remove_dir_all(&staging_path);
        return Err(ToolsError::Cache {
            path: entry.clone(),
            source,
        });
    }
    say(&format!(
        "built {name} {} in {}: {}",
        input.version,
        format_duration(started.elapsed()),
        binary.display()
    ));
    drop(lock);
    Ok(binary)
}

/// Staging directories of builds that were killed half-way. Only called while holding
/// the tool's lock, so none of them belongs to a running build.
fn remove_abandoned_builds(cache: &Path, name: &str) {
    let prefix = format!(".building-{name}-");
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn run_go_build(
    input: &BuildInput<'_>,
    go: &GoToolchain,
    output: &Path,
    log_path: &Path,
) -> Result<(), ToolsError> {
    let name = input.spec.name;
    let log_error = |source| ToolsError::Cache {
        path: log_path.to_path_buf(),
        source,
    };
    let mut log = File::create(log_path).map_err(log_error)?;
    let flags = input.build_flags();
    let _ = writeln!(
        log,
        "# in {}: go build -v {} -o {} {}",
        input.wrapper_dir.display(),
        flags.join(" "),
        output.display(),
        input.spec.package
    );
    let stdout_log = log.try_clone().map_err(log_error)?;
    let mut child = go_command(&go.go)
        .current_dir(&input.wrapper_dir)
        .arg("build")
        .arg("-v")
        .args(&flags)
        .arg("-o")
        .arg(output)
        .arg(input.spec.package)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout_log))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ToolsError::GoMissing {
            message: format!("starting {} build: {e}", go.go.display()),
        })?;

    // `go build -v` names each package it compiles on stderr, after `go: downloading …`
    // lines for missing modules: count both for progress.
    let compiled = Arc::new(AtomicUsize::new(0));
    let downloaded = Arc::new(AtomicUsize::new(0));
    let reader = child.stderr.take().map(|stderr| {
        let compiled = Arc::clone(&compiled);
        let downloaded = Arc::clone(&downloaded);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("go: downloading ") {
                    downloaded.fetch_add(1, Ordering::Relaxed);
                } else if !line.starts_with("go: ") {
                    compiled.fetch_add(1, Ordering::Relaxed);
                }
                let _ = writeln!(log, "{line}");
            }
        })
    });

    let started = Instant::now();
    let mut next_report = started + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                return Err(ToolsError::GoMissing {
                    message: format!("waiting for the {name} build: {e}"),
                });
            }
        }
        if Instant::now() >= next_report {
            say(&format!(
                "still building {name}: {} elapsed, {} modules downloaded, {} packages compiled",
                format_duration(started.elapsed()),
                downloaded.load(Ordering::Relaxed),
                compiled.load(Ordering::Relaxed)
            ));
            next_report += Duration::from_secs(30);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if let Some(reader) = reader {
        let _ = reader.join();
    }
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log_path).unwrap_or_default();
    Err(ToolsError::BuildFailed {
        tool: name.to_string(),
        status: status.to_string(),
        log: log_path.to_path_buf(),
        tail: crate::process::tail(&text, 40),
    })
}

/// Runs the freshly built binary once (e.g. `--version`) and checks what it prints.
pub(crate) fn sanity_check(
    spec: &ToolSpec,
    version: &str,
    binary: &Path,
) -> Result<(), ToolsError> {
    let failed = |message: String| ToolsError::Sanity {
        tool: spec.name.to_string(),
        binary: binary.to_path_buf(),
        message,
    };
    let output = Command::new(binary)
        .args(spec.sanity_args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run it: {e}")))?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = (spec.sanity_expect)(version);
    if !output.status.success() {
        return Err(failed(format!(
            "`{} {}` exited with {}: {}",
            spec.name,
            spec.sanity_args.join(" "),
            output.status,
            crate::process::tail(&printed, 10)
        )));
    }
    if !printed.contains(&expected) {
        return Err(failed(format!(
            "`{} {}` did not print {expected:?}; it printed: {}",
            spec.name,
            spec.sanity_args.join(" "),
            crate::process::tail(&printed, 10)
        )));
    }
    Ok(())
}

/// `4m05s`-style durations for progress lines.
pub(crate) fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::spec::{ETCD, KUBE_APISERVER};

    fn input<'a>(spec: &'a ToolSpec, go_sum: &str) -> BuildInput<'a> {
        BuildInput {
            spec,
            wrapper_dir: PathBuf::from("/nowhere"),
            version: "v1.34.4".to_string(),
            go_mod: "module x\n".to_string(),
            go_sum: go_sum.to_string(),
        }
    }

    fn go(version: &str) -> GoToolchain {
        GoToolchain {
            go: PathBuf::from("go"),
            version: version.to_string(),
            platform: "linux/amd64".to_string(),
        }
    }

    #[test]
    fn cache_entry_changes_with_go_version_go_sum_and_tool_but_is_stable() {
        let a = input(&KUBE_APISERVER, "sum-a").cache_entry(&go("go1.26.8"));
        assert_eq!(
            a,
            input(&KUBE_APISERVER, "sum-a").cache_entry(&go("go1.26.8"))
        );
        assert!(a.starts_with("kube-apiserver-v1.34.4-go1.26.8-"), "{a}");
        assert_ne!(
            a,
            input(&KUBE_APISERVER, "sum-b").cache_entry(&go("go1.26.8"))
        );
        assert_ne!(
            a,
            input(&KUBE_APISERVER, "sum-a").cache_entry(&go("go1.26.9"))
        );
        assert_ne!(a, input(&ETCD, "sum-a").cache_entry(&go("go1.26.8")));
    }

    #[test]
    fn build_flags_match_upstream_release_settings() {
        let flags = input(&KUBE_APISERVER, "").build_flags();
        assert_eq!(flags[0], "-trimpath");
        assert_eq!(flags[1], "-tags=selinux,notest,grpcnotrace");
        assert!(
            flags[2]
                .starts_with("-ldflags=-s -w -X k8s.io/component-base/version.gitVersion=v1.34.4")
        );
        let etcd = input(&ETCD, "").build_flags();
        assert_eq!(
            etcd,
            vec!["-trimpath".to_string(), "-ldflags=-s -w".to_string()]
        );
    }

    #[test]
    fn durations_read_like_a_stopwatch() {
        assert_eq!(format_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
    }
}
