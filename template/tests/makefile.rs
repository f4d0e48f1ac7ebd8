//! The Makefile is the developer's table of contents: every documented target exists and
//! says what it does, `start` passes MCM's sample flags, and the image targets fail with a
//! clear message where no container engine runs (as in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn make(args: &[&str]) -> Output {
    Command::new("make")
        .args(["--no-print-directory", "-C", env!("CARGO_MANIFEST_DIR")])
        .args(args)
        .output()
        .expect("make is installed")
}

#[test]
fn help_is_the_default_and_lists_every_target() {
    let output = make(&[]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for target in [
        "help",
        "start",
        "sim-cloud",
        "cluster-up",
        "cluster-down",
        "test",
        "e2e",
        "tidy",
        "lint",
        "rename-project",
        "build",
        "docker-image",
        "docker-push",
        "release",
        "clean",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{target} "))),
            "`make help` does not list {target}:\n{text}"
        );
    }
}

#[test]
fn start_passes_the_sample_flags_and_the_chosen_clusters() {
    let kubeconfig = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let kubeconfig = kubeconfig.to_str().unwrap();
    let output = make(&[
        "-n",
        "start",
        &format!("CONTROL_KUBECONFIG={kubeconfig}"),
        "TARGET_KUBECONFIG=/target.yaml",
        "CONTROL_NAMESPACE=shoot--dev",
        "MC_PORT=12345",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    for flag in [
        format!("--control-kubeconfig={kubeconfig}"),
        "--target-kubeconfig=/target.yaml".to_owned(),
        "--namespace=shoot--dev".to_owned(),
        "--port=12345".to_owned(),
        "--machine-drain-timeout=5m".to_owned(),
        "--machine-safety-orphan-vms-period=30m".to_owned(),
        "--v=3".to_owned(),
    ] {
        assert!(text.contains(&flag), "make start lacks {flag}:\n{text}");
    }
}

#[test]
fn start_without_a_kubeconfig_says_what_to_do() {
    let output = make(&["start", "CONTROL_KUBECONFIG=/nonexistent/kubeconfig"]);
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(
        text.contains("/nonexistent/kubeconfig") && text.contains("make cluster-up"),
        "{text}"
    );
}

#[test]
fn image_targets_fail_clearly_without_a_container_engine() {
    for target in ["docker-image", "docker-push", "release"] {
        let output = make(&[target, "DOCKER=/nonexistent/docker"]);
        assert!(
            !output.status.success(),
            "{target} succeeded without docker"
        );
        let text = String::from_utf8(output.stderr).unwrap();
        assert!(
            text.contains("is not installed") && text.contains("Docker"),
            "{target}: {text}"
        );
    }
    // An engine client that cannot reach a daemon: `false` stands in for `docker info`.
    let output = make(&["docker-image", "DOCKER=false"]);
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("no running container engine"), "{text}");
}

#[test]
fn rename_project_needs_both_names() {
    let output = make(&["rename-project", "PROJECT_NAME=example-org"]);
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("PROVIDER_NAME"), "{text}");
}
