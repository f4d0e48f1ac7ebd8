//! Safety controller (S rows) and finalizer/node controllers (F, N rows) against the
//! real API server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Node, Secret, SecretReference};
use kube::api::{DeleteParams, PostParams};
use mcm_api::v1alpha1::{ClassSpec, Machine, MachineClass, MachinePhase};
use mcm_api::well_known::{finalizers, node_annotations};
use mcm_machine_controller::ControllerConfig;
use mcm_simulated_cloud::api::CreateInstance;
use mcm_test_kit::{ControlPlane, wait_until};

use crate::sim_driver::{CLASS_TAG, MACHINE_TAG};
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn s4_orphan_vm_without_a_machine_is_deleted() {
    let h = Harness::new("orphan").await;
    let cloud = h.cloud.client().unwrap();
    let tags: BTreeMap<String, String> = [
        (CLASS_TAG.to_owned(), CLASS.to_owned()),
        (MACHINE_TAG.to_owned(), "ghost".to_owned()),
    ]
    .into();
    let orphan = cloud
        .create_instance(&CreateInstance {
            name: "orphan-ghost".into(),
            image: "img".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            tags,
            user_data: String::new(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    let controller = h.start_controller(h.config()).await;
    h.wait_instance_gone("orphan VM deleted", &orphan.id).await;
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s1_vm_of_a_machine_is_kept_and_f5_referenced_secret_gets_its_finalizer() {
    let h = Harness::new("keep").await;
    let controller = h.start_controller(h.config()).await;
    h.create_machine("keep-m1", CLASS).await;
    h.wait_phase("keep-m1", MachinePhase::Running, Duration::from_secs(60))
        .await;
    // Several orphan sweeps (period 3 s) pass; the VM stays.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(h.cloud.instances().await.len(), 1);
    let secret = h.secrets().get(SECRET).await.unwrap();
    assert!(
        secret
            .metadata
            .finalizers
            .unwrap_or_default()
            .iter()
            .any(|f| f == finalizers::SECRET)
    );
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn n2_deleting_the_node_deletes_its_machine() {
    let h = Harness::new("nodedel").await;
    let controller = h.start_controller(h.config()).await;
    h.create_machine("nodedel-m1", CLASS).await;
    h.wait_phase("nodedel-m1", MachinePhase::Running, Duration::from_secs(60))
        .await;
    h.wait_node_finalizer("nodedel-m1").await;
    h.nodes()
        .delete("nodedel-m1", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("nodedel-m1", Duration::from_secs(90)).await;
    assert!(h.cloud.instances().await.is_empty());
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn f2_class_without_machines_loses_its_finalizer() {
    let h = Harness::new("cls").await;
    // Put the finalizer on by hand; no Machine references the class.
    let mut class = h.classes().get(CLASS).await.unwrap();
    class.metadata.finalizers = Some(vec![finalizers::MACHINE_CONTROLLER_MANAGER.to_owned()]);
    h.classes()
        .replace(CLASS, &Default::default(), &class)
        .await
        .unwrap();
    let controller = h.start_controller(h.config()).await;
    let classes = h.classes();
    wait_until(
        "class finalizer removed",
        Duration::from_secs(20),
        Duration::from_millis(250),
        || {
            let classes = classes.clone();
            async move {
                let class = classes.get(CLASS).await.map_err(|e| e.to_string())?;
                if class.has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER) {
                    Err("still there".to_owned())
                } else {
                    Ok(())
                }
            }
        },
    )
    .await
    .unwrap();
    controller.stop().await;
}

/// Creates `name` (an orphan VM of class `class`) in the harness's cloud.
async fn orphan_vm(h: &Harness, name: &str, class: &str) -> mcm_simulated_cloud::api::Instance {
    let tags: BTreeMap<String, String> = [
        (CLASS_TAG.to_owned(), class.to_owned()),
        (MACHINE_TAG.to_owned(), name.to_owned()),
    ]
    .into();
    h.cloud
        .client()
        .unwrap()
        .create_instance(&CreateInstance {
            name: name.into(),
            image: "img".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            tags,
            user_data: String::new(),
            idempotency_key: None,
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn s5_failing_class_stops_the_orphan_sweep_until_it_is_gone() {
    let h = Harness::new("orphanstop").await;
    // Class `a-broken` sorts before `sim-class`; its secret has no cloud
    // credentials, so its ListMachines fails (InvalidArgument) and the sweep stops
    // there, every period.
    let mut secret = Secret::default();
    secret.metadata.name = Some("no-credentials".into());
    secret.data = Some([("userData".to_owned(), ByteString(b"#!/bin/sh\n".to_vec()))].into());
    h.secrets()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let mut broken = MachineClass::default();
    broken.metadata.name = Some("a-broken".into());
    broken.provider_spec =
        serde_json::json!({"image": "i", "machineType": "m1.small", "zone": "zone-a"});
    broken.secret_ref = Some(SecretReference {
        name: Some("no-credentials".into()),
        namespace: Some(h.namespace.clone()),
    });
    h.classes()
        .create(&PostParams::default(), &broken)
        .await
        .unwrap();
    let orphan = orphan_vm(&h, "ghost", CLASS).await;
    let controller = h.start_controller(h.config()).await;

    // Three sweeps (period 3 s) pass; the orphan of `sim-class` survives them.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let cloud = h.cloud.client().unwrap();
    assert!(
        cloud.get_instance(&orphan.id).await.is_ok(),
        "the sweep must stop at the failing class"
    );

    h.classes()
        .delete("a-broken", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_instance_gone(
        "orphan VM deleted once the failing class is gone",
        &orphan.id,
    )
    .await;
    controller.stop().await;
}

/// The Node `name` as the API server has it.
async fn node_state(h: &Harness, name: &str) -> (Vec<String>, Option<String>) {
    let node = h.nodes().get(name).await.unwrap();
    (
        node.metadata.finalizers.unwrap_or_default(),
        node.metadata
            .annotations
            .unwrap_or_default()
            .get(node_annotations::NOT_MANAGED_BY_MCM)
            .cloned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn s7_s8_orphan_nodes_are_marked_and_owned_nodes_unmarked() {
    // A private plane: with a 1 s creation timeout this controller would mark every
    // Node of the shared plane (cluster-scoped) that its namespace has no Machine for.
    let plane = Arc::new(ControlPlane::start().await.expect("private control plane"));
    let h = Harness::on_plane(plane, "orphannodes").await;
    let keep = "example.com/keep-me";
    let mut lonely = Node::default();
    lonely.metadata.name = Some("s7-lonely".into());
    lonely.metadata.finalizers = Some(vec![keep.to_owned(), finalizers::NODE.to_owned()]);
    h.nodes()
        .create(&PostParams::default(), &lonely)
        .await
        .unwrap();
    let mut owned = Node::default();
    owned.metadata.name = Some("s8-owned".into());
    owned.metadata.annotations = Some(
        [(
            node_annotations::NOT_MANAGED_BY_MCM.to_owned(),
            "1".to_owned(),
        )]
        .into(),
    );
    h.nodes()
        .create(&PostParams::default(), &owned)
        .await
        .unwrap();
    // Its Machine names a class that does not exist, so the machine pass leaves it
    // alone (G6) and it keeps claiming the Node.
    let mut owner = Machine::default();
    owner.metadata.name = Some("s8-owner".into());
    owner.metadata.labels = Some([("node".to_owned(), "s8-owned".to_owned())].into());
    owner.spec.class = ClassSpec::machine_class("missing-class");
    h.machines()
        .create(&PostParams::default(), &owner)
        .await
        .unwrap();

    let config = ControllerConfig {
        creation_timeout: Duration::from_secs(1),
        ..h.config()
    };
    let controller = h.start_controller(config).await;
    let hh = &h;
    wait_until(
        "orphan Node marked, owned Node unmarked",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async move {
            let lonely = node_state(hh, "s7-lonely").await;
            let owned = node_state(hh, "s8-owned").await;
            if lonely == (vec![keep.to_owned()], Some("1".to_owned())) && owned.1.is_none() {
                Ok(())
            } else {
                Err(format!("s7-lonely {lonely:?}, s8-owned {owned:?}"))
            }
        },
    )
    .await
    .unwrap();
    controller.stop().await;
}
