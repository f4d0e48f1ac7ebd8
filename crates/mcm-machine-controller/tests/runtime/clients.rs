//! The runtime's Kubernetes clients (`runtime::connect`) against the real API server.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, EvictParams, Patch, PatchParams, PostParams};
use mcm_machine_controller::runtime::connect;
use mcm_test_kit::ControlPlane;

/// A PodDisruptionBudget refusal (HTTP 429) must reach the caller at once: the drain
/// counts and paces its own eviction retries. kube's default client would re-send
/// the eviction with back-off for minutes instead.
#[tokio::test(flavor = "multi_thread")]
async fn pdb_refusal_reaches_the_caller_of_the_runtime_client_at_once() {
    let plane = ControlPlane::shared().await.unwrap();
    let namespace = plane.create_namespace("clients").await.unwrap();
    let kubeconfig = plane.kubeconfig_path().to_string_lossy().into_owned();
    let clusters = connect(&kubeconfig, &kubeconfig, 200.0, 300).await.unwrap();
    let target = clusters.target.clone().unwrap();
    let pods: Api<Pod> = Api::namespaced(target.clone(), &namespace);

    let mut pod = Pod::default();
    pod.metadata.name = Some("web-0".into());
    pod.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: Some("registry.invalid/app:1".into()),
            ..Container::default()
        }],
        ..PodSpec::default()
    });
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // Running and Ready, as a kubelet would report: the eviction API applies PDBs
    // only to such pods.
    pods.patch_status(
        "web-0",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
        }})),
    )
    .await
    .unwrap();
    // No disruption controller runs: the PDB's status is written by hand.
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(target, &namespace);
    let mut pdb = PodDisruptionBudget::default();
    pdb.metadata.name = Some("web".into());
    pdb.spec = Some(PodDisruptionBudgetSpec {
        min_available: Some(IntOrString::Int(2)),
        selector: Some(LabelSelector {
            match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
            match_expressions: None,
        }),
        ..PodDisruptionBudgetSpec::default()
    });
    let created = budgets.create(&PostParams::default(), &pdb).await.unwrap();
    budgets
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {
                "observedGeneration": created.metadata.generation,
                "expectedPods": 2,
                "currentHealthy": 1,
                "desiredHealthy": 2,
                "disruptionsAllowed": 0,
            }})),
        )
        .await
        .unwrap();

    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        pods.evict("web-0", &EvictParams::default()),
    )
    .await
    .expect("the eviction answer must not be retried away for minutes");
    match answer {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 429, "{status:?}"),
        other => panic!("expected the PDB's 429, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(pods.get_opt("web-0").await.unwrap().is_some());
}
