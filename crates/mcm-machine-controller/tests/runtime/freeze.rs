//! The API-server safety check (S9, S10) with the API server really unreachable: the
//! controller talks to it through a TCP proxy that the test cuts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::api::PostParams;
use mcm_api::v1alpha1::MachinePhase;
use mcm_machine_controller::decide::safety::UNFREEZE_DESCRIPTION;
use mcm_test_kit::wait_until;
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// A loopback TCP proxy that can be cut (existing connections are dropped, new ones
/// refused) and restored.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let upstream = upstream.clone();
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let watch = async {
                        while !flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, () = watch => {} }
                });
            }
        });
        Proxy { port, cut, task }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s9_s10_unreachable_api_server_freezes_and_recovery_resets_unknown_machines() {
    let h = Harness::new("freeze").await;
    let server = h
        .plane
        .server_url()
        .trim_start_matches("https://")
        .to_owned();
    let proxy = Proxy::start(server.clone()).await;
    let kubeconfig = std::fs::read_to_string(h.plane.kubeconfig_path())
        .unwrap()
        .replace(&server, &format!("127.0.0.1:{}", proxy.port));
    let path = h
        .plane
        .base_dir()
        .join(format!("{}-proxy.kubeconfig", h.namespace));
    std::fs::write(&path, kubeconfig).unwrap();

    let controller = h
        .start_controller_with(h.config(), path.to_str().unwrap())
        .await;
    h.create_machine("freeze-m1", CLASS).await;
    let machine = h
        .wait_phase("freeze-m1", MachinePhase::Running, Duration::from_secs(60))
        .await;

    // Pretend the machine went Unknown (as a health pass would have written it).
    let mut unknown = machine.clone();
    unknown.status.current_status.phase = MachinePhase::Unknown;
    h.machines()
        .replace_status("freeze-m1", &PostParams::default(), &unknown)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.cut.store(true, Ordering::SeqCst);
    let snapshot = controller.snapshot.clone();
    wait_until(
        "controller frozen",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let snapshot = snapshot.clone();
            async move {
                if snapshot.frozen() {
                    Ok(())
                } else {
                    Err("not frozen")
                }
            }
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        controller.snapshot.frozen(),
        "stays frozen while unreachable"
    );

    proxy.cut.store(false, Ordering::SeqCst);
    let machine = h
        .wait_phase("freeze-m1", MachinePhase::Running, Duration::from_secs(30))
        .await;
    assert_eq!(
        machine.status.last_operation.description,
        UNFREEZE_DESCRIPTION
    );
    assert!(!controller.snapshot.frozen());
    // Nothing was deleted.
    assert_eq!(h.cloud.instances().await.len(), 1);
    assert!(h.nodes().get_opt("freeze-m1").await.unwrap().is_some());
    controller.stop().await;
}
