//! Nothing outlives the test binary: not the shared plane (a `static`, never dropped),
//! not a process a test forgot, not after a panic.
//!
//! The test re-runs this test binary with only the `child_*` test selected; that child
//! starts the shared plane and a `sleep`, leaks the `sleep`'s handle, records the PIDs
//! and panics. Once the child binary has exited, every recorded PID must be gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use mcm_test_kit::{ControlPlane, ManagedProcess, ProcessSpec, wait_until};

const PID_FILE_ENV: &str = "MCM_TEST_KIT_TEARDOWN_PID_FILE";

#[tokio::test]
async fn child_starts_a_plane_leaks_a_process_and_panics() {
    // Only does something when run by the test below.
    let Some(pid_file) = std::env::var_os(PID_FILE_ENV).map(PathBuf::from) else {
        return;
    };
    let plane = ControlPlane::shared().await.unwrap();
    let sleeper =
        ManagedProcess::spawn(ProcessSpec::new("sleeper", "sleep", plane.log_dir()).arg("300"))
            .unwrap();
    let pids = [plane.etcd().pid(), plane.apiserver().pid(), sleeper.pid()];
    std::fs::write(&pid_file, pids.map(|p| p.to_string()).join(" ")).unwrap();
    std::mem::forget(sleeper);
    panic!("the child test panics on purpose, leaving its plane and a leaked process behind");
}

#[tokio::test]
async fn processes_die_with_the_test_binary_even_after_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_starts_a_plane_leaks_a_process_and_panics",
            "--exact",
            "--nocapture",
        ])
        .env(PID_FILE_ENV, &pid_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the child test should have panicked:\n{stderr}"
    );
    assert!(stderr.contains("panics on purpose"), "{stderr}");

    let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("child wrote no PIDs ({e}):\n{stderr}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    wait_until(
        "etcd, kube-apiserver and the leaked sleep to be gone",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let alive: Vec<u32> = pids
                .iter()
                .copied()
                .filter(|pid| mcm_test_kit::procfs::is_alive(*pid))
                .collect();
            if alive.is_empty() {
                Ok(())
            } else {
                Err(format!("still running: {alive:?}"))
            }
        },
    )
    .await
    .unwrap();
}
