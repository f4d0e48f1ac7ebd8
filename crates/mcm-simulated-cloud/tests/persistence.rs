//! A restart loses nothing: instances, idempotency keys, the address counter and the cloud ID
//! survive a graceful stop and a `kill -9` of the binary; one state file serves one process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mcm_simulated_cloud::{
    CloudClient, CloudConfig, CreateInstance, Error, InstanceFilter, InstanceStatus,
    SimulatedCloud, StateLocation,
};

const TOKEN: &str = "persist-token";

fn request(name: &str, key: &str) -> CreateInstance {
    CreateInstance {
        name: name.into(),
        image: "img".into(),
        machine_type: "m1.medium".into(),
        zone: "zone-c".into(),
        tags: [("cluster".to_string(), "p".to_string())].into(),
        user_data: "payload".into(),
        idempotency_key: Some(key.into()),
    }
}

fn config(state: &Path) -> CloudConfig {
    let mut c = CloudConfig::new(TOKEN, StateLocation::File(state.to_owned()));
    c.boot_delay = Duration::from_secs(3600);
    c
}

#[tokio::test]
async fn graceful_restart_keeps_instances_keys_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("cloud/state.json");

    let cloud = SimulatedCloud::start(config(&state)).await.unwrap();
    let cloud_id = cloud.cloud_id().to_owned();
    let client = cloud.client().unwrap();
    let a = client
        .create_instance(&request("a", "key-a"))
        .await
        .unwrap();
    let b = client
        .create_instance(&request("b", "key-b"))
        .await
        .unwrap();
    client.delete_instance(&b.id).await.unwrap();
    cloud.shutdown().await.unwrap();

    let cloud = SimulatedCloud::start(config(&state)).await.unwrap();
    assert_eq!(cloud.cloud_id(), cloud_id);
    let client = cloud.client().unwrap();
    let listed = client.list_instances(&InstanceFilter::all()).await.unwrap();
    assert_eq!(listed, vec![a.clone()]);
    // The key still refers to the same instance.
    let again = client
        .create_instance(&request("a", "key-a"))
        .await
        .unwrap();
    assert_eq!(again.id, a.id);
    // The deleted instance's key is still remembered.
    assert!(
        client
            .create_instance(&request("b", "key-b"))
            .await
            .is_err()
    );
    // Addresses are never reused: b had .3, the next one gets .4.
    let c = client
        .create_instance(&request("c", "key-c"))
        .await
        .unwrap();
    assert_eq!(b.private_ip.to_string(), "10.0.0.3");
    assert_eq!(c.private_ip.to_string(), "10.0.0.4");
    cloud.shutdown().await.unwrap();

    // The file is private: it holds user data.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "state file mode {mode:o}");
    }
}

#[tokio::test]
async fn pending_instance_boots_after_restart_when_its_time_has_come() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut cfg = config(&state);
    cfg.boot_delay = Duration::from_millis(300);
    let cloud = SimulatedCloud::start(cfg.clone()).await.unwrap();
    let vm = cloud
        .client()
        .unwrap()
        .create_instance(&request("late", "key-late"))
        .await
        .unwrap();
    assert_eq!(vm.status, InstanceStatus::Pending);
    cloud.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let cloud = SimulatedCloud::start(cfg).await.unwrap();
    let client = cloud.client().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.get_instance(&vm.id).await.unwrap().status != InstanceStatus::Running {
        assert!(tokio::time::Instant::now() < deadline, "never booted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_second_cloud_on_the_same_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let first = SimulatedCloud::start(config(&state)).await.unwrap();
    let err = SimulatedCloud::start(config(&state)).await.unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    first.shutdown().await.unwrap();
    SimulatedCloud::start(config(&state))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
}

#[tokio::test]
async fn corrupt_state_is_reported_with_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{ not json").unwrap();
    let err = SimulatedCloud::start(config(&state)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&state.display().to_string()), "{text}");
    assert!(text.contains("move it away"), "{text}");
}

fn spawn_binary(state: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcm-simulated-cloud"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token",
            TOKEN,
            "--boot-delay",
            "0s",
        ])
        .arg("--state")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

#[tokio::test]
async fn kill_minus_nine_loses_no_acknowledged_create() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let (mut child, url) = spawn_binary(&state);
    let client = CloudClient::new(&url, TOKEN).unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let vm = client
            .create_instance(&request(&format!("vm-{i}"), &format!("k-{i}")))
            .await
            .unwrap();
        ids.push(vm.id);
    }
    child.kill().unwrap(); // SIGKILL: no chance to flush anything
    child.wait().unwrap();

    let (mut child, url) = spawn_binary(&state);
    let client = CloudClient::new(&url, TOKEN).unwrap();
    let listed: Vec<String> = client
        .list_instances(&InstanceFilter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut want = ids.clone();
    want.sort();
    let mut got = listed.clone();
    got.sort();
    assert_eq!(got, want);
    child.kill().unwrap();
    child.wait().unwrap();
}
