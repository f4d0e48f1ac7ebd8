//! Safety controller (S rows) and finalizer/node controllers (F, N rows) against the
//! real API server.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::DeleteParams;
use mcm_api::v1alpha1::MachinePhase;
use mcm_api::well_known::finalizers;
use mcm_simulated_cloud::api::CreateInstance;
use mcm_test_kit::wait_until;

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
    wait_until(
        "orphan VM deleted",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || {
            let cloud = cloud.clone();
            let id = orphan.id.clone();
            async move {
                match cloud.get_instance(&id).await {
                    Err(e) if e.is_not_found() => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        },
    )
    .await
    .unwrap();
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
    let nodes = h.nodes();
    wait_until(
        "node finalizer",
        Duration::from_secs(20),
        Duration::from_millis(250),
        || {
            let nodes = nodes.clone();
            async move {
                let node = nodes.get("nodedel-m1").await.map_err(|e| e.to_string())?;
                if node
                    .metadata
                    .finalizers
                    .unwrap_or_default()
                    .iter()
                    .any(|f| f == finalizers::NODE)
                {
                    Ok(())
                } else {
                    Err("no finalizer".to_owned())
                }
            }
        },
    )
    .await
    .unwrap();
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
