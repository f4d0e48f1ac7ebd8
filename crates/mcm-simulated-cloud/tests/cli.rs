//! The binary as a parent process uses it: `serve --listen 127.0.0.1:0` announces its URL on the
//! first stdout line and in `--ready-file`, `status` prints a table, `faults`/`node` change a
//! running cloud, SIGTERM stops it cleanly, and bad flags fail with a clear message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mcm_simulated_cloud::{CloudClient, CloudError, CreateInstance, ReadyMode};

const BIN: &str = env!("CARGO_BIN_EXE_mcm-simulated-cloud");

fn serve(dir: &Path, extra: &[&str]) -> (Child, String) {
    let token_file = dir.join("token");
    std::fs::write(&token_file, "cli-token\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--boot-delay", "0s"])
        .arg("--state")
        .arg(dir.join("state.json"))
        .arg("--token-file")
        .arg(&token_file)
        .arg("--ready-file")
        .arg(dir.join("ready"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first stdout line was {line:?}"))
        .to_owned();
    (child, url)
}

fn cli(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--endpoint", url, "--token", "cli-token"])
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test]
async fn serve_status_admin_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path(), &[]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"), "{url}");
    let ready = std::fs::read_to_string(dir.path().join("ready")).unwrap();
    assert_eq!(ready.trim(), url);

    let client = CloudClient::new(&url, "cli-token").unwrap();
    let vm = client
        .create_instance(&CreateInstance {
            name: "table-row".into(),
            image: "img".into(),
            machine_type: "m1.large".into(),
            zone: "zone-x".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let table = stdout(&cli(&url, &["status"]));
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for column in ["ID", "NAME", "ZONE", "TYPE", "STATUS", "IP", "NODE", "AGE"] {
        assert!(header.contains(column), "{table}");
    }
    let row = lines.next().unwrap();
    for cell in [
        vm.id.as_str(),
        "table-row",
        "zone-x",
        "m1.large",
        "running",
        "10.0.0.2",
    ] {
        assert!(row.contains(cell), "{cell} missing in {table}");
    }
    assert!(table.contains("1 instance(s)"), "{table}");

    let set = cli(
        &url,
        &["faults", "set", r#"{"operations":{"get":{"failFirst":1}}}"#],
    );
    assert!(stdout(&set).contains("failFirst"));
    let e = client.get_instance(&vm.id).await.unwrap_err();
    assert!(matches!(e, CloudError::Unavailable { .. }), "{e}");
    stdout(&cli(&url, &["faults", "clear"]));

    let node = cli(
        &url,
        &[
            "node",
            "--instance",
            "table-row",
            "--ready",
            "false",
            "--condition",
            "DiskPressure=True",
        ],
    );
    stdout(&node);
    let state = client.get_node_health(&vm.id).await.unwrap();
    assert_eq!(state.health.ready, ReadyMode::False);
    assert_eq!(state.health.conditions[0].type_, "DiskPressure");

    let json = stdout(&cli(&url, &["status", "--output", "json"]));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed[0]["id"], vm.id.as_str());

    // SIGTERM → clean exit, quickly.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "exit status {exit:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains("cli-token"), "{stderr}");
}

#[test]
fn serve_without_token_or_state_fails_with_the_fix() {
    let out = Command::new(BIN)
        .args(["serve", "--in-memory"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token"), "{err}");

    let out = Command::new(BIN)
        .args(["serve", "--token", "t"])
        .env_remove("SIMCLOUD_STATE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--state"), "{err}");

    let out = Command::new(BIN)
        .args([
            "serve",
            "--in-memory",
            "--token",
            "t",
            "--faults",
            r#"{"operations":{"create":{"errorRate":7}}}"#,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("operations.create.errorRate"), "{err}");
}

#[test]
fn status_with_a_wrong_token_says_unauthorized_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path(), &[]);
    let out = Command::new(BIN)
        .args(["status", "--endpoint", &url, "--token", "guess-123"])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rejected the credentials"), "{err}");
    assert!(
        !err.contains("guess-123") && !err.contains("cli-token"),
        "{err}"
    );
}

#[tokio::test]
async fn status_with_the_cloud_token_lists_instances_without_node_state_when_admin_is_separate() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path(), &["--admin-token", "admin-only"]);
    let client = CloudClient::new(&url, "cli-token").unwrap();
    let vm = client
        .create_instance(&CreateInstance {
            name: "plain-row".into(),
            image: "img".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let table = stdout(&cli(&url, &["status"]));
    assert!(table.contains(&vm.id), "{table}");
    assert!(table.contains("NODE needs the admin token"), "{table}");
    let with_admin = Command::new(BIN)
        .args(["status", "--endpoint", &url, "--token", "admin-only"])
        .output()
        .unwrap();
    let with_admin = stdout(&with_admin);
    assert!(
        !with_admin.contains("NODE needs the admin token"),
        "{with_admin}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
