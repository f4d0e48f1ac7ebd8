//! Secrets never appear in logs, events or Machine status: a full create/delete cycle
//! runs through `app::run_until` with every log level captured, and the canary
//! values of the provider Secret (cloud token, user data) and the bootstrap token are
//! searched for in everything the controller wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support code

#[path = "runtime/sim_driver.rs"]
mod sim_driver;
#[path = "runtime/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{DeleteParams, ListParams};
use mcm_api::v1alpha1::MachinePhase;
use mcm_machine_controller::options::Options;
use tokio::sync::oneshot;

use support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_machine_cycle_leaks_no_secret_into_logs_events_or_status() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let h = Harness::new("canary").await;
    let kubeconfig = h.plane.kubeconfig_path().to_string_lossy().into_owned();
    let options = Options::parse_args([
        "machine-controller".to_owned(),
        format!("--control-kubeconfig={kubeconfig}"),
        format!("--target-kubeconfig={kubeconfig}"),
        format!("--namespace={}", h.namespace),
        "--address=127.0.0.1".to_owned(),
        format!("--port={}", mcm_test_kit::free_port().unwrap()),
        "--leader-elect=false".to_owned(),
        "--v=10".to_owned(),
    ])
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        mcm_machine_controller::app::run_until(options, "SimCloud", sim_driver::SimDriver, async {
            let _ = stopped.await;
        })
        .await
    });

    h.create_machine("canary-m1", CLASS).await;
    // Catch the bootstrap token while it exists (it is deleted once Running).
    let tokens: kube::Api<Secret> = kube::Api::namespaced(h.client.clone(), "kube-system");
    let id = mcm_machine_controller::decide::user_data::bootstrap_token_id("canary-m1").unwrap();
    let token_secret = mcm_test_kit::wait_until(
        "bootstrap token",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let tokens = tokens.clone();
            let name = format!("bootstrap-token-{id}");
            async move {
                match tokens.get_opt(&name).await {
                    Ok(Some(secret)) => {
                        let data = mcm_api::driver::SecretData::from_secret(&secret);
                        Ok(data.get_str("token-secret").unwrap().to_owned())
                    }
                    other => Err(format!("{other:?}")),
                }
            }
        },
    )
    .await
    .unwrap();
    let running = h
        .wait_phase("canary-m1", MachinePhase::Running, Duration::from_secs(60))
        .await;
    let status_json = serde_json::to_string(&running.status).unwrap();
    h.machines()
        .delete("canary-m1", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("canary-m1", Duration::from_secs(90)).await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("canary-m1"),
        "the capture holds the controller's logs"
    );
    let mut events = String::new();
    for namespace in [h.namespace.as_str(), "kube-system", "default"] {
        let api: kube::Api<Event> = kube::Api::namespaced(h.client.clone(), namespace);
        for event in api.list(&ListParams::default()).await.unwrap() {
            events.push_str(&serde_json::to_string(&event).unwrap());
        }
    }
    for canary in [TOKEN, "canary-userdata-7f3a", token_secret.as_str()] {
        assert!(!logs.contains(canary), "a secret value appears in the logs");
        assert!(!events.contains(canary), "a secret value appears in events");
        assert!(
            !status_json.contains(canary),
            "a secret value appears in the Machine status"
        );
    }
}
