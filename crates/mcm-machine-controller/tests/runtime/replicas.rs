//! Two machine-controller processes' worth of `app::run_until` in one test: leader
//! election on the `machine-controller` Lease lets exactly one act, and the other
//! takes over when the leader shuts down (releasing the Lease).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use mcm_api::Driver;
use mcm_api::driver::*;
use mcm_api::v1alpha1::MachinePhase;
use mcm_machine_controller::options::Options;
use mcm_test_kit::wait_until;
use tokio::sync::oneshot;

use crate::sim_driver::SimDriver;
use crate::support::*;

/// The simulated-cloud driver, counting the calls it serves.
#[derive(Clone, Default)]
struct Counting {
    calls: Arc<AtomicUsize>,
}

impl Driver for Counting {
    async fn create_machine(&self, r: CreateMachineRequest) -> DriverResult<CreateMachineResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        SimDriver.create_machine(r).await
    }
    async fn delete_machine(&self, r: DeleteMachineRequest) -> DriverResult<DeleteMachineResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        SimDriver.delete_machine(r).await
    }
    async fn get_machine_status(
        &self,
        r: GetMachineStatusRequest,
    ) -> DriverResult<GetMachineStatusResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        SimDriver.get_machine_status(r).await
    }
    async fn list_machines(&self, r: ListMachinesRequest) -> DriverResult<ListMachinesResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        SimDriver.list_machines(r).await
    }
}

struct Replica {
    calls: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), mcm_machine_controller::app::AppError>>,
}

fn start_replica(h: &Harness) -> Replica {
    let kubeconfig = h.plane.kubeconfig_path().to_string_lossy().into_owned();
    let options = Options::parse_args([
        "machine-controller".to_owned(),
        format!("--control-kubeconfig={kubeconfig}"),
        format!("--target-kubeconfig={kubeconfig}"),
        format!("--namespace={}", h.namespace),
        "--address=127.0.0.1".to_owned(),
        format!("--port={}", mcm_test_kit::free_port().unwrap()),
        "--leader-elect=true".to_owned(),
        "--leader-elect-lease-duration=4s".to_owned(),
        "--leader-elect-renew-deadline=3s".to_owned(),
        "--leader-elect-retry-period=500ms".to_owned(),
        "--concurrent-syncs=5".to_owned(),
    ])
    .unwrap();
    let driver = Counting::default();
    let calls = driver.calls.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        mcm_machine_controller::app::run_until(options, "SimCloud", driver, async {
            let _ = stopped.await;
        })
        .await
    });
    Replica {
        calls,
        stop: Some(stop),
        task,
    }
}

impl Replica {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task).await.unwrap();
        assert!(result.is_ok(), "replica ended with {result:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_elect_one_leader_and_hand_over_on_shutdown() {
    let h = Harness::new("ha").await;
    let a = start_replica(&h);
    let b = start_replica(&h);
    h.create_machine("ha-m1", CLASS).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !a.task.is_finished() && !b.task.is_finished(),
        "both replicas keep running"
    );
    h.wait_phase("ha-m1", MachinePhase::Running, Duration::from_secs(90))
        .await;

    let (a_calls, b_calls) = (
        a.calls.load(Ordering::SeqCst),
        b.calls.load(Ordering::SeqCst),
    );
    assert!(
        (a_calls == 0) != (b_calls == 0),
        "exactly one replica acts: a={a_calls} b={b_calls}"
    );
    let leases: kube::Api<Lease> = kube::Api::namespaced(h.client.clone(), &h.namespace);
    let lease = leases.get("machine-controller").await.unwrap();
    let first_holder = lease.spec.unwrap().holder_identity.unwrap();

    // Stop the leader; the standby takes over and serves a new machine.
    let (leader, standby) = if a_calls > 0 { (a, b) } else { (b, a) };
    leader.stop().await;
    h.create_machine("ha-m2", CLASS).await;
    h.wait_phase("ha-m2", MachinePhase::Running, Duration::from_secs(90))
        .await;
    assert!(
        standby.calls.load(Ordering::SeqCst) > 0,
        "the standby took over"
    );
    let leases2 = leases.clone();
    wait_until(
        "new lease holder",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            let leases = leases2.clone();
            let first = first_holder.clone();
            async move {
                let holder = leases
                    .get("machine-controller")
                    .await
                    .map_err(|e| e.to_string())?
                    .spec
                    .and_then(|s| s.holder_identity)
                    .unwrap_or_default();
                if !holder.is_empty() && holder != first {
                    Ok(())
                } else {
                    Err(format!("holder {holder}"))
                }
            }
        },
    )
    .await
    .unwrap();
    standby.stop().await;
}
