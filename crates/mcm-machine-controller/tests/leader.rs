//! Leader election against a real kube-apiserver (mcm-test-kit's plane): one of two
//! contenders runs the work, the Lease looks like MCM's, a released Lease is taken over
//! quickly, and a leader that loses its Lease stops its work and reports an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use mcm_machine_controller::leader::{LeaderError, LeaderSettings, Stopping, run_as_leader};
use mcm_test_kit::{ControlPlane, wait_until};
use tokio::sync::oneshot;
use tokio::time::Instant;

fn settings(
    namespace: &str,
    identity: &str,
    lease: u64,
    renew: u64,
    retry_ms: u64,
) -> LeaderSettings {
    LeaderSettings {
        namespace: namespace.to_owned(),
        lease_name: "machine-controller".to_owned(),
        identity: identity.to_owned(),
        lease_duration: Duration::from_secs(lease),
        renew_deadline: Duration::from_secs(renew),
        retry_period: Duration::from_millis(retry_ms),
    }
}

/// A contender whose work flags `running`, waits for shutdown, and returns its name.
struct Contender {
    running: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<Option<&'static str>, LeaderError>>,
}

fn contend(client: kube::Client, settings: LeaderSettings, name: &'static str) -> Contender {
    let running = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = oneshot::channel::<()>();
    let flag = Arc::clone(&running);
    let task = tokio::spawn(async move {
        run_as_leader(
            client,
            settings,
            move |mut stopping: Stopping| async move {
                flag.store(true, Ordering::SeqCst);
                stopping.requested().await;
                // Finishing work takes a moment; the Lease must stay ours meanwhile.
                tokio::time::sleep(Duration::from_millis(300)).await;
                flag.store(false, Ordering::SeqCst);
                name
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });
    Contender {
        running,
        stop: Some(stop),
        task,
    }
}

async fn lease(client: &kube::Client, namespace: &str) -> Lease {
    Api::<Lease>::namespaced(client.clone(), namespace)
        .get("machine-controller")
        .await
        .unwrap()
}

fn holder(lease: &Lease) -> String {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn one_of_two_contenders_leads_and_a_released_lease_is_taken_over_quickly() {
    let plane = ControlPlane::shared().await.unwrap();
    let ns = plane.create_namespace("le").await.unwrap();
    let client = plane.client().await.unwrap();

    // A long lease (10 s) makes a takeover by expiry slow, so a fast takeover proves
    // the release.
    let mut a = contend(client.clone(), settings(&ns, "replica-a", 10, 5, 300), "a");
    wait_until(
        "replica-a leads",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let running = Arc::clone(&a.running);
            async move {
                if running.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("not yet")
                }
            }
        },
    )
    .await
    .unwrap();
    let mut b = contend(client.clone(), settings(&ns, "replica-b", 10, 5, 300), "b");

    // Several of b's retry periods: b must keep waiting while a renews.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(a.running.load(Ordering::SeqCst), "a keeps leading");
        assert!(
            !b.running.load(Ordering::SeqCst),
            "b must not run while a leads"
        );
    }

    let held = lease(&client, &ns).await;
    assert_eq!(held.metadata.name.as_deref(), Some("machine-controller"));
    assert_eq!(held.metadata.namespace.as_deref(), Some(ns.as_str()));
    let spec = held.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    assert_eq!(spec.lease_duration_seconds, Some(10));
    assert_eq!(spec.lease_transitions, Some(0));
    let acquired = spec.acquire_time.clone().unwrap().0;
    let renewed = spec.renew_time.clone().unwrap().0;
    assert!(
        renewed > acquired,
        "a renewed the lease ({acquired} → {renewed})"
    );

    // Graceful stop of a: its work finishes, then the lease is released.
    a.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), &mut a.task)
        .await
        .expect("a returns after shutdown")
        .unwrap();
    let released_at = Instant::now();
    assert_eq!(result.unwrap(), Some("a"));
    assert!(!a.running.load(Ordering::SeqCst));

    wait_until(
        "replica-b takes over",
        Duration::from_secs(8),
        Duration::from_millis(20),
        || {
            let running = Arc::clone(&b.running);
            async move {
                if running.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("b not running")
                }
            }
        },
    )
    .await
    .unwrap();
    let takeover = released_at.elapsed();
    eprintln!("takeover after release: {takeover:?} (retry period 300 ms, lease 10 s)");
    assert!(
        takeover < Duration::from_secs(3),
        "b took {takeover:?}; with the lease released it should need about one retry period, \
         not the 10 s lease duration"
    );
    let held = lease(&client, &ns).await;
    let spec = held.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));

    b.stop.take().unwrap().send(()).unwrap();
    assert_eq!(b.task.await.unwrap().unwrap(), Some("b"));
    let released = lease(&client, &ns).await;
    assert_eq!(holder(&released), "", "b released the lease on shutdown");

    // Leader-election Events on the Lease, as MCM records them.
    let events = Api::<Event>::namespaced(client.clone(), &ns);
    wait_until(
        "leader-election events",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let events = events.clone();
            async move {
                let list = events
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let messages: Vec<String> = list
                    .items
                    .iter()
                    .filter(|e| e.reason.as_deref() == Some("LeaderElection"))
                    .filter(|e| e.involved_object.kind.as_deref() == Some("Lease"))
                    .filter_map(|e| e.message.clone())
                    .collect();
                let wanted = ["replica-a became leader", "replica-b became leader"];
                if wanted.iter().all(|w| messages.iter().any(|m| m == w)) {
                    Ok(())
                } else {
                    Err(format!("events so far: {messages:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_leader_that_loses_its_lease_stops_its_work_and_fails() {
    let plane = ControlPlane::shared().await.unwrap();
    let ns = plane.create_namespace("le-lost").await.unwrap();
    let client = plane.client().await.unwrap();

    let dropped = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(false));
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let (work_dropped, work_running) = (Arc::clone(&dropped), Arc::clone(&running));
    let leader = tokio::spawn(run_as_leader(
        client.clone(),
        settings(&ns, "replica-a", 6, 4, 300),
        move |_stopping| async move {
            let _guard = SetOnDrop(work_dropped);
            work_running.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await
        },
        std::future::pending::<()>(),
    ));
    wait_until(
        "replica-a leads",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let running = Arc::clone(&running);
            async move {
                if running.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("not yet")
                }
            }
        },
    )
    .await
    .unwrap();

    // Someone else takes the Lease (as a replica would after a partition).
    let api = Api::<Lease>::namespaced(client.clone(), &ns);
    let mut stolen = api.get("machine-controller").await.unwrap();
    let spec = stolen.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".to_owned());
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    spec.lease_duration_seconds = Some(60);
    api.replace("machine-controller", &PostParams::default(), &stolen)
        .await
        .unwrap();
    let stolen_at = Instant::now();

    let result = tokio::time::timeout(Duration::from_secs(10), leader)
        .await
        .expect("the leader notices within the renew deadline")
        .unwrap();
    let err = result.expect_err("losing the lease is an error");
    assert!(matches!(err, LeaderError::LeadershipLost { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("replica-a") && message.contains("intruder"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{ns}/machine-controller")),
        "{message}"
    );
    assert!(dropped.load(Ordering::SeqCst), "the work was cancelled");
    assert!(
        stolen_at.elapsed() < Duration::from_secs(2),
        "noticed on the next renewal"
    );
    assert_eq!(
        holder(&lease(&client, &ns).await),
        "intruder",
        "a lost lease is not released"
    );
}

#[tokio::test]
async fn shutdown_while_campaigning_never_runs_the_work() {
    let plane = ControlPlane::shared().await.unwrap();
    let ns = plane.create_namespace("le-standby").await.unwrap();
    let client = plane.client().await.unwrap();

    let mut a = contend(client.clone(), settings(&ns, "replica-a", 10, 5, 300), "a");
    wait_until(
        "replica-a leads",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let running = Arc::clone(&a.running);
            async move {
                if running.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("not yet")
                }
            }
        },
    )
    .await
    .unwrap();
    let mut b = contend(client.clone(), settings(&ns, "replica-b", 10, 5, 300), "b");
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), &mut b.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.unwrap(), None, "b never led");
    assert!(!b.running.load(Ordering::SeqCst));
    assert_eq!(
        holder(&lease(&client, &ns).await),
        "replica-a",
        "a standby's stop leaves the lease alone"
    );

    a.stop.take().unwrap().send(()).unwrap();
    assert_eq!(a.task.await.unwrap().unwrap(), Some("a"));
}

#[tokio::test]
async fn invalid_settings_fail_before_touching_the_cluster() {
    let plane = ControlPlane::shared().await.unwrap();
    let client = plane.client().await.unwrap();
    let mut bad = settings("no-such-namespace-used", "x", 5, 5, 300);
    bad.renew_deadline = Duration::from_secs(5);
    let err = run_as_leader(client, bad, |_| async {}, std::future::pending::<()>())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("--leader-elect-lease-duration"),
        "{err}"
    );
}
