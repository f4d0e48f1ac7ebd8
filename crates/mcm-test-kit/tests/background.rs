//! `cargo xtask cluster up|down` semantics, through the library it calls: processes that
//! outlive their starter, recorded by PID, reused while running, and stopped exactly —
//! a recorded PID now owned by another program is left alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use mcm_test_kit::background::{self, ClusterState, Liveness, RecordedProcess, UpOptions};

/// Stops whatever the test started even if an assertion fails (these processes are
/// detached on purpose, so nothing else would).
struct DownOnDrop(PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = background::down(&self.0);
    }
}

#[tokio::test]
async fn up_records_reuses_and_down_stops_exactly_the_recorded_processes() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = DownOnDrop(dir.path().to_path_buf());
    let options = UpOptions {
        mcm_namespace: Some("background".to_string()),
    };

    let first = background::up(dir.path(), options.clone()).await.unwrap();
    assert!(!first.reused);
    let state = &first.state;
    let names: Vec<&str> = state.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "etcd",
            "kube-apiserver",
            "machine-controller-manager-background-0"
        ]
    );
    assert!(state.all_running());
    assert_eq!(
        ClusterState::load(dir.path()).unwrap().as_ref(),
        Some(state)
    );
    assert_eq!(background::readyz(state).await.unwrap(), "ok");

    // The kubeconfig works on its own and MCM's namespace exists.
    let config = mcm_test_kit::kubeconfig::load_config(&state.kubeconfig)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Api::<Namespace>::all(client)
        .get("background")
        .await
        .unwrap();

    // A second `up` finds the running plane instead of starting another.
    let second = background::up(dir.path(), options).await.unwrap();
    assert!(second.reused);
    assert_eq!(&second.state, state);

    let stopped = background::down(dir.path()).unwrap().unwrap();
    let stopped_names: Vec<&str> = stopped.iter().map(|s| s.process.name.as_str()).collect();
    assert_eq!(
        stopped_names,
        [
            "machine-controller-manager-background-0",
            "kube-apiserver",
            "etcd"
        ]
    );
    assert!(
        stopped
            .iter()
            .all(|s| s.before == Liveness::Running && !s.killed),
        "{stopped:?}"
    );
    for process in &state.processes {
        assert!(
            !mcm_test_kit::procfs::is_alive(process.pid),
            "{} still alive",
            process.name
        );
    }
    assert_eq!(ClusterState::load(dir.path()).unwrap(), None);
    assert!(!dir.path().join("etcd-data").exists());
    assert!(
        dir.path().join("logs/kube-apiserver.log").is_file(),
        "logs are kept"
    );
    assert!(background::down(dir.path()).unwrap().is_none());
}

#[test]
fn down_leaves_a_pid_alone_that_now_runs_another_program() {
    let dir = tempfile::tempdir().unwrap();
    // This test process stands in for "some other program that got the recorded PID".
    let me = std::process::id();
    let state = ClusterState {
        dir: dir.path().to_path_buf(),
        kubeconfig: dir.path().join("kubeconfig"),
        server_url: "https://127.0.0.1:1".to_string(),
        processes: vec![RecordedProcess {
            name: "kube-apiserver".to_string(),
            pid: me,
            executable: Path::new("/usr/local/bin/kube-apiserver").to_path_buf(),
            start_time: mcm_test_kit::procfs::start_time(me).unwrap(),
            log: dir.path().join("logs/kube-apiserver.log"),
        }],
        mcm_namespace: None,
    };
    std::fs::write(
        dir.path().join(background::STATE_FILE),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();

    let stopped = background::down(dir.path()).unwrap().unwrap();
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0].before, Liveness::Reused);
    assert!(!stopped[0].killed);
    // Still here to assert it.
    assert!(mcm_test_kit::procfs::is_alive(me));
}
