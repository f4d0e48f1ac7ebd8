//! A Machine's life: creation to Running, invalid specs, deletion.

use std::time::Duration;

use mcm_api::v1alpha1::MachinePhase;
use mcm_api::well_known::{finalizers, machine_labels, node_labels};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn machine_reaches_running_once_its_node_is_ready() {
    let h = Harness::new("run").await;
    let controller = h.start_controller(h.config()).await;
    h.create_machine("run-m1", CLASS).await;
    let machine = h
        .wait_phase("run-m1", MachinePhase::Running, Duration::from_secs(60))
        .await;

    assert!(machine.has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER));
    assert!(
        machine.spec.provider_id.starts_with("simcloud://zone-a/i-"),
        "{}",
        machine.spec.provider_id
    );
    assert_eq!(machine.label(machine_labels::NODE), Some("run-m1"));
    assert_eq!(machine.priority(), Some("3"));
    assert!(
        machine
            .status
            .last_operation
            .description
            .starts_with("Machine run-m1 successfully joined the cluster in ")
    );
    assert!(
        machine
            .status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    );

    // The next pass labels the Node with its machine's name.
    let nodes = h.nodes();
    let node = mcm_test_kit::wait_until(
        "node labelled with the machine name",
        Duration::from_secs(20),
        Duration::from_millis(250),
        || {
            let nodes = nodes.clone();
            async move {
                let node = nodes.get("run-m1").await.map_err(|e| e.to_string())?;
                let label = node
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(node_labels::MACHINE_NAME))
                    .cloned();
                if label.as_deref() == Some("run-m1") {
                    Ok(node)
                } else {
                    Err(format!("label {label:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        node.spec.as_ref().unwrap().provider_id.as_deref(),
        Some(machine.spec.provider_id.as_str())
    );
    // The node queue adds our finalizer.
    h.wait_node_finalizer("run-m1").await;
    // The class got its finalizer, the bootstrap token is gone after Running.
    let class = h.classes().get(CLASS).await.unwrap();
    assert!(class.has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER));
    let tokens: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(h.client.clone(), "kube-system");
    let id = mcm_machine_controller::decide::user_data::bootstrap_token_id("run-m1").unwrap();
    assert!(
        tokens
            .get_opt(&format!("bootstrap-token-{id}"))
            .await
            .unwrap()
            .is_none()
    );
    // The VM got the substituted user data (token and name filled in).
    let instances = h.cloud.instances().await;
    assert_eq!(instances.len(), 1);
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_provider_spec_crashloops_with_a_field_path_and_creates_no_vm() {
    let h = Harness::new("bad").await;
    h.create_class(
        "bad-class",
        serde_json::json!({"image": "", "machineType": "m1.small", "zone": "zone-a"}),
    )
    .await;
    let controller = h.start_controller(h.config()).await;
    h.create_machine("bad-m1", "bad-class").await;
    let machine = h
        .wait_phase(
            "bad-m1",
            MachinePhase::CrashLoopBackOff,
            Duration::from_secs(30),
        )
        .await;
    let operation = &machine.status.last_operation;
    assert_eq!(operation.error_code, "InvalidArgument");
    assert_eq!(
        operation.description,
        "Cloud provider message - machine codes error: code = [InvalidArgument] message = [providerSpec.image: must not be empty]"
    );
    assert!(machine.spec.provider_id.is_empty());
    assert!(h.cloud.instances().await.is_empty());
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_machine_drains_deletes_the_vm_the_node_and_the_finalizer() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{DeleteParams, PostParams};
    let h = Harness::new("del").await;
    let controller = h.start_controller(h.config()).await;
    h.create_machine("del-m1", CLASS).await;
    h.wait_phase("del-m1", MachinePhase::Running, Duration::from_secs(60))
        .await;
    // A workload pod on the node; the simulated cloud's kubelet emulation finishes it.
    let pods: kube::Api<Pod> = kube::Api::namespaced(h.client.clone(), &h.namespace);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "workload"},
        "spec": {"nodeName": "del-m1", "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    h.machines()
        .delete("del-m1", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("del-m1", Duration::from_secs(90)).await;
    assert!(h.cloud.instances().await.is_empty(), "the VM is gone");
    assert!(
        h.nodes().get_opt("del-m1").await.unwrap().is_none(),
        "the Node is gone"
    );
    assert!(
        pods.get_opt("workload").await.unwrap().is_none(),
        "the pod was drained"
    );
    // With no machine left, the class loses its finalizer.
    let classes = h.classes();
    mcm_test_kit::wait_until(
        "class finalizer removed",
        Duration::from_secs(30),
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
