//! The node drain against the real kube-apiserver of `mcm-test-kit` (contract 02
//! §5.4). There is no kubelet and no kube-controller-manager: pods bound to the fake
//! Node never run, so the tests set pod/PDB status themselves and stand in for the
//! kubelet (finishing terminating pods) and the attach/detach controller (volumes
//! leaving the Node, VolumeAttachments elsewhere) — see `support.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support code

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use mcm_machine_controller::drain::DrainError;
use serde_json::json;

use support::*;

/// A PDB selecting `app=<app>` whose status (written by hand: no disruption
/// controller runs) says `expected` pods, `healthy` of them healthy, zero
/// disruptions allowed.
async fn pdb_refusing(setup: &Setup, name: &str, app: &str, expected: i32, healthy: i32) {
    let api: Api<PodDisruptionBudget> = Api::namespaced(setup.client.clone(), &setup.namespace);
    let pdb = PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(expected)),
            selector: Some(LabelSelector {
                match_labels: Some([("app".to_owned(), app.to_owned())].into()),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    };
    let created = api.create(&PostParams::default(), &pdb).await.unwrap();
    let generation = created.metadata.generation.unwrap();
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": {
            "observedGeneration": generation,
            "expectedPods": expected,
            "currentHealthy": healthy,
            "desiredHealthy": expected,
            "disruptionsAllowed": 0,
        }})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn normal_drain_evicts_candidates_waits_for_them_and_leaves_daemonset_and_mirror_pods() {
    let setup = setup("drain-normal").await;
    create_node(&setup, &[]).await;
    let node = setup.node.clone();
    create_pod(
        &setup,
        controlled_by(pod("replicated", &node, 30), "apps/v1", "ReplicaSet"),
    )
    .await;
    create_pod(&setup, pod("bare", &node, 30)).await;
    let mut scratch = pod("scratch", &node, 30);
    if let Some(spec) = scratch.spec.as_mut() {
        spec.volumes = Some(vec![k8s_openapi::api::core::v1::Volume {
            name: "tmp".to_owned(),
            empty_dir: Some(Default::default()),
            ..Default::default()
        }]);
    }
    create_pod(&setup, scratch).await;
    create_pod(
        &setup,
        controlled_by(pod("finished", &node, 30), "batch/v1", "Job"),
    )
    .await;
    set_phase(&setup, "finished", "Succeeded").await;
    create_pod(
        &setup,
        controlled_by(pod("daemon", &node, 30), "apps/v1", "DaemonSet"),
    )
    .await;
    create_pod(
        &setup,
        annotated(pod("mirror", &node, 30), "kubernetes.io/config.mirror", "x"),
    )
    .await;
    create_pod(&setup, pod("elsewhere", "some-other-node", 30)).await;

    let log = EventLog::default();
    let _kubelet = kubelet(&setup, Duration::from_secs(2), log.clone());
    let driver = VolumeDriver::default();
    let started = Instant::now();
    let report = drainer(&setup, &driver)
        .drain_with_timings(&node, &policy(false, 60, 3), &quick_timings())
        .await
        .unwrap();

    assert!(report.eviction_used && !report.force, "{report:?}");
    assert_eq!(report.candidates, 4, "{report:?}");
    assert_eq!((report.skipped_daemon_set, report.skipped_mirror), (1, 1));
    assert_eq!((report.evicted, report.deleted), (4, 0), "{report:?}");
    // It waited: the evicted pods are gone, not merely terminating.
    for name in ["replicated", "bare", "scratch", "finished"] {
        assert!(current(&setup, name).await.is_none(), "{name} still exists");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the kubelet took 2 s"
    );
    for name in ["daemon", "mirror", "elsewhere"] {
        let left = current(&setup, name).await.unwrap();
        assert!(
            left.metadata.deletion_timestamp.is_none(),
            "{name} was touched"
        );
    }
    assert!(driver.calls().is_empty(), "no PVC pods, no GetVolumeIDs");
}

#[tokio::test]
async fn pdb_refusals_are_retried_then_the_pod_is_deleted() {
    let setup = setup("drain-pdb").await;
    create_node(&setup, &[]).await;
    pdb_refusing(&setup, "web", "web", 2, 1).await;
    create_pod(
        &setup,
        labelled(pod("web-0", &setup.node, 30), "app", "web"),
    )
    .await;
    set_running(&setup, "web-0").await;

    let driver = VolumeDriver::default();
    let started = Instant::now();
    let report = drainer(&setup, &driver)
        .drain_with_timings(&setup.node, &policy(false, 60, 2), &quick_timings())
        .await
        .unwrap();

    // Two evictions refused (429), a 1 s pause after each, then deletion (grace 0).
    assert_eq!(report.eviction_rejections, 2, "{report:?}");
    assert_eq!((report.evicted, report.deleted), (0, 1), "{report:?}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(current(&setup, "web-0").await.is_none());
}

#[tokio::test]
async fn misconfigured_pdb_fails_the_pod_at_once_with_mcms_text() {
    let setup = setup("drain-badpdb").await;
    create_node(&setup, &[]).await;
    pdb_refusing(&setup, "strict", "db", 1, 1).await;
    create_pod(&setup, labelled(pod("db-0", &setup.node, 30), "app", "db")).await;
    set_running(&setup, "db-0").await;
    create_pod(&setup, pod("other", &setup.node, 30)).await;
    let _kubelet = kubelet(&setup, Duration::from_millis(300), EventLog::default());

    let mut timings = quick_timings();
    timings.eviction_retry_interval = Duration::from_secs(30);
    let driver = VolumeDriver::default();
    let started = Instant::now();
    let error = drainer(&setup, &driver)
        .drain_with_timings(&setup.node, &policy(false, 60, 5), &timings)
        .await
        .unwrap_err();

    assert_eq!(
        error.to_string(),
        format!(
            "error while evicting pod \"db-0\": pod disruption budget {}/strict is misconfigured and requires zero voluntary evictions",
            setup.namespace
        )
    );
    assert!(matches!(error, DrainError::Pods(_)));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no retry pause"
    );
    let kept = current(&setup, "db-0").await.unwrap();
    assert!(
        kept.metadata.deletion_timestamp.is_none(),
        "db-0 must not be deleted"
    );
    assert!(
        current(&setup, "other").await.is_none(),
        "the other pod drained"
    );
}

#[tokio::test]
async fn force_drain_deletes_with_grace_zero_and_does_not_wait() {
    let setup = setup("drain-force").await;
    create_node(&setup, &[]).await;
    let mut held = pod("held", &setup.node, 600);
    held.metadata.finalizers = Some(vec!["drain.test/hold".to_owned()]);
    create_pod(&setup, held).await;
    create_pod(&setup, pod("plain", &setup.node, 600)).await;
    create_pod(
        &setup,
        controlled_by(pod("daemon", &setup.node, 600), "apps/v1", "DaemonSet"),
    )
    .await;

    let driver = VolumeDriver::default();
    let started = Instant::now();
    let report = drainer(&setup, &driver)
        .drain_with_timings(&setup.node, &policy(true, 60, 1), &quick_timings())
        .await
        .unwrap();

    assert!(report.force && !report.eviction_used, "{report:?}");
    assert_eq!((report.deleted, report.evicted), (2, 0), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "force does not wait"
    );
    assert!(
        current(&setup, "plain").await.is_none(),
        "grace 0 removes it at once"
    );
    // The finalizer keeps `held`; the force path returned without waiting for it.
    let held = current(&setup, "held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(held.metadata.deletion_grace_period_seconds, Some(0));
    let daemon = current(&setup, "daemon").await.unwrap();
    assert!(daemon.metadata.deletion_timestamp.is_none());
    assert!(driver.calls().is_empty(), "force never asks GetVolumeIDs");

    pods(&setup)
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_drain_timeout_ends_the_run_with_an_error() {
    let setup = setup("drain-deadline").await;
    create_node(&setup, &[]).await;
    create_pod(
        &setup,
        labelled(pod("stuck", &setup.node, 300), STUCK_LABEL, "true"),
    )
    .await;
    let _kubelet = kubelet(&setup, Duration::ZERO, EventLog::default());

    let driver = VolumeDriver::default();
    let started = Instant::now();
    let error = drainer(&setup, &driver)
        .drain_with_timings(&setup.node, &policy(false, 3, 3), &quick_timings())
        .await
        .unwrap_err();
    let took = started.elapsed();

    assert_eq!(
        error.to_string(),
        format!(
            "drain timeout of 3s expired before pod {}/stuck was drained from node {:?}",
            setup.namespace, setup.node
        )
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let stuck = current(&setup, "stuck").await.unwrap();
    assert!(
        stuck.metadata.deletion_timestamp.is_some(),
        "it was evicted"
    );
}

async fn priority_class(setup: &Setup, name: &str, value: i32) {
    let api: Api<PriorityClass> = Api::all(setup.client.clone());
    let class = PriorityClass {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        value,
        ..PriorityClass::default()
    };
    api.create(&PostParams::default(), &class).await.unwrap();
}

#[tokio::test]
async fn pvc_pods_go_one_by_one_by_priority_waiting_for_their_volumes_to_move() {
    let setup = setup("drain-pvc").await;
    let ns = setup.namespace.clone();
    let handle = |name: &str| format!("{name}-{ns}");
    let (vol_a, vol_b, vol_shared) = (handle("vol-a"), handle("vol-b"), handle("vol-shared"));
    create_node(
        &setup,
        &[
            attached_name(&vol_a),
            attached_name(&vol_b),
            attached_name(&vol_shared),
        ],
    )
    .await;
    for (claim, pv, id) in [
        ("claim-a", format!("pv-a-{ns}"), vol_a.clone()),
        ("claim-b", format!("pv-b-{ns}"), vol_b.clone()),
        (
            "claim-shared",
            format!("pv-shared-{ns}"),
            vol_shared.clone(),
        ),
        (
            "claim-foreign",
            format!("pv-foreign-{ns}"),
            handle("foreign-nfs"),
        ),
        (
            "claim-broken",
            format!("pv-broken-{ns}"),
            handle("broken-disk"),
        ),
    ] {
        create_bound_claim(&setup, claim, &pv, &id).await;
    }
    let (high, low) = (format!("high-{ns}"), format!("low-{ns}"));
    priority_class(&setup, &high, 1000).await;
    priority_class(&setup, &low, 10).await;
    let node = setup.node.clone();
    // Listed in name order; the drain must take `important` (1000) before `minor` (10).
    create_pod(
        &setup,
        with_priority_class(
            with_claims(pod("a-minor", &node, 1), &["claim-a", "claim-broken"]),
            &low,
        ),
    )
    .await;
    create_pod(
        &setup,
        with_priority_class(
            with_claims(pod("b-important", &node, 1), &["claim-b", "claim-foreign"]),
            &high,
        ),
    )
    .await;
    create_pod(
        &setup,
        with_claims(pod("c-shared-1", &node, 1), &["claim-shared"]),
    )
    .await;
    create_pod(
        &setup,
        with_claims(pod("d-shared-2", &node, 1), &["claim-shared"]),
    )
    .await;
    create_pod(&setup, pod("e-plain", &node, 1)).await;

    let log = EventLog::default();
    let _kubelet = kubelet(&setup, Duration::from_millis(300), log.clone());
    let _mover = volume_mover(
        &setup,
        vec![
            VolumeMove {
                pod: "b-important".to_owned(),
                handle: vol_b.clone(),
                pv: format!("pv-b-{ns}"),
                reattach: true,
            },
            // Detaches, but never shows up elsewhere: the re-attach wait times out.
            VolumeMove {
                pod: "a-minor".to_owned(),
                handle: vol_a.clone(),
                pv: format!("pv-a-{ns}"),
                reattach: false,
            },
        ],
        Duration::from_millis(1500),
        log.clone(),
    );

    let driver = VolumeDriver::default();
    let report = drainer(&setup, &driver)
        .drain_with_timings(&node, &policy(false, 60, 3), &quick_timings())
        .await
        .unwrap();

    assert_eq!(
        (report.candidates, report.pods_with_pvc),
        (5, 4),
        "{report:?}"
    );
    assert_eq!(
        report.volumes_tracked, 2,
        "shared, foreign and broken are not tracked"
    );
    assert_eq!(report.reattach_timeouts, 1, "{report:?}");
    let mut asked = driver.calls();
    asked.sort();
    assert_eq!(
        asked,
        [
            handle("broken-disk"),
            handle("foreign-nfs"),
            vol_a.clone(),
            vol_b.clone()
        ],
        "one GetVolumeIDs per unshared PV"
    );
    // Pods without tracked volumes are evicted without waiting; the stand-in kubelet
    // may notice them only after the drain returned.
    log.wait_for("terminating:d-shared-2").await;
    // One at a time: the next PVC pod is evicted only after the previous one's
    // volume left the node (and, for b, attached elsewhere).
    let at = |event: &str| log.position(event);
    assert!(at("terminating:b-important") < at(&format!("detached:{vol_b}")));
    assert!(at(&format!("detached:{vol_b}")) < at(&format!("reattached:pv-b-{ns}")));
    assert!(at(&format!("reattached:pv-b-{ns}")) < at("terminating:a-minor"));
    assert!(at(&format!("detached:{vol_a}")) < at("terminating:c-shared-1"));
    assert!(at("terminating:c-shared-1") < at("terminating:d-shared-2"));
    // The pod without PVCs did not queue behind them.
    assert!(at("terminating:e-plain") < at(&format!("detached:{vol_b}")));
}

#[tokio::test]
async fn node_gone_while_waiting_for_detach_counts_remaining_pvc_pods_as_drained() {
    let setup = setup("drain-nodegone").await;
    let ns = setup.namespace.clone();
    let (vol_1, vol_2) = (format!("vol-1-{ns}"), format!("vol-2-{ns}"));
    create_node(&setup, &[attached_name(&vol_1), attached_name(&vol_2)]).await;
    create_bound_claim(&setup, "claim-1", &format!("pv-1-{ns}"), &vol_1).await;
    create_bound_claim(&setup, "claim-2", &format!("pv-2-{ns}"), &vol_2).await;
    create_pod(
        &setup,
        with_claims(pod("first", &setup.node, 1), &["claim-1"]),
    )
    .await;
    create_pod(
        &setup,
        with_claims(pod("second", &setup.node, 1), &["claim-2"]),
    )
    .await;
    let log = EventLog::default();
    let _kubelet = kubelet(&setup, Duration::ZERO, log.clone());

    // The VM (and with it the Node) disappears while `first`'s volume is attached.
    let client = setup.client.clone();
    let node = setup.node.clone();
    let remover = tokio::spawn(async move {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, &ns);
        while pods.get_opt("first").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        nodes.delete(&node, &Default::default()).await.unwrap();
    });

    let driver = VolumeDriver::default();
    let report = drainer(&setup, &driver)
        .drain_with_timings(&setup.node, &policy(false, 60, 3), &quick_timings())
        .await
        .unwrap();
    remover.await.unwrap();

    assert_eq!(report.evicted, 1, "{report:?}");
    let second = current(&setup, "second").await.unwrap();
    assert!(
        second.metadata.deletion_timestamp.is_none(),
        "MCM's fast track: pods after a vanished node are not evicted"
    );
}
