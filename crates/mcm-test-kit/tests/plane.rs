//! Proof that the harness runs the real thing: the plane serves MCM's API, the real
//! MCM binary reconciles a MachineDeployment in it, and Nodes keep the status they are
//! given (there is no kubelet or node lifecycle controller to change it).
//!
//! All tests share one plane (one per test binary) and use a namespace each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use mcm_test_kit::{ControlPlane, wait_until};
use serde_json::json;

const MCM_FINALIZER: &str = "machine.sapcloud.io/machine-controller-manager";

fn machine_api(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("machine.sapcloud.io", "v1alpha1", kind);
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

fn dynamic(value: serde_json::Value) -> DynamicObject {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn plane_is_ready_and_serves_the_four_mcm_crds() {
    let plane = ControlPlane::shared().await.unwrap();
    let client = plane.client().await.unwrap();

    let readyz = client
        .request_text(
            http::Request::get("/readyz?verbose")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(readyz.contains("readyz check passed"), "{readyz}");
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, plane.tools().versions().kubernetes);

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (plural, kind) in [
        ("machineclasses", "MachineClass"),
        ("machinedeployments", "MachineDeployment"),
        ("machines", "Machine"),
        ("machinesets", "MachineSet"),
    ] {
        let crd = crds
            .get(&format!("{plural}.machine.sapcloud.io"))
            .await
            .unwrap();
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.scope, "Namespaced");
        let conditions = crd.status.unwrap().conditions.unwrap();
        for wanted in ["Established", "NamesAccepted"] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c.type_ == wanted && c.status == "True"),
                "{plural}: {wanted} not True in {conditions:?}"
            );
        }
    }

    let discovery = client
        .list_api_group_resources("machine.sapcloud.io/v1alpha1")
        .await
        .unwrap();
    let mut served: Vec<&str> = discovery
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !n.contains('/'))
        .collect();
    served.sort_unstable();
    assert_eq!(
        served,
        [
            "machineclasses",
            "machinedeployments",
            "machines",
            "machinesets"
        ]
    );

    // Served means usable: a MachineClass round-trips through the API, unknown
    // providerSpec fields included (the CRD preserves them).
    let namespace = plane.create_namespace("crds").await.unwrap();
    let classes = machine_api(&client, &namespace, "MachineClass", "machineclasses");
    classes
        .create(
            &PostParams::default(),
            &dynamic(json!({
                "apiVersion": "machine.sapcloud.io/v1alpha1",
                "kind": "MachineClass",
                "metadata": {"name": "round-trip"},
                "provider": "test",
                "providerSpec": {"anything": {"nested": [1, 2]}},
            })),
        )
        .await
        .unwrap();
    let read = classes.get("round-trip").await.unwrap();
    assert_eq!(
        read.data["providerSpec"],
        json!({"anything": {"nested": [1, 2]}})
    );
    assert_eq!(read.data["provider"], "test");
}

#[tokio::test]
async fn mcm_creates_one_machineset_and_three_machines_for_a_deployment() {
    let plane = ControlPlane::shared().await.unwrap();
    let namespace = plane.create_namespace("mcm").await.unwrap();
    let mcm = plane.start_mcm(&namespace, &[]).await.unwrap();
    let client = plane.client().await.unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("worker-user-data".into()),
                    ..Default::default()
                },
                string_data: Some(BTreeMap::from([(
                    "userData".to_string(),
                    "#!/bin/sh\necho hi\n".to_string(),
                )])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let classes = machine_api(&client, &namespace, "MachineClass", "machineclasses");
    classes
        .create(
            &PostParams::default(),
            &dynamic(json!({
                "apiVersion": "machine.sapcloud.io/v1alpha1",
                "kind": "MachineClass",
                "metadata": {"name": "worker-class"},
                "provider": "simulated",
                "providerSpec": {"size": "small", "image": "test-image"},
                "secretRef": {"name": "worker-user-data", "namespace": namespace},
            })),
        )
        .await
        .unwrap();
    let deployments = machine_api(
        &client,
        &namespace,
        "MachineDeployment",
        "machinedeployments",
    );
    let deployment = deployments
        .create(&PostParams::default(), &dynamic(json!({
            "apiVersion": "machine.sapcloud.io/v1alpha1",
            "kind": "MachineDeployment",
            "metadata": {"name": "worker"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"pool": "worker"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"pool": "worker", "team": "mcm-rs"}},
                    "spec": {"class": {"kind": "MachineClass", "name": "worker-class"}},
                },
            },
        })))
        .await
        .unwrap();
    let deployment_uid = deployment.metadata.uid.clone().unwrap();

    let sets = machine_api(&client, &namespace, "MachineSet", "machinesets");
    let machines = machine_api(&client, &namespace, "Machine", "machines");
    let (machine_set, created) = wait_until(
        format!(
            "MCM ({}) to create 3 Machines in {namespace}",
            mcm.log_path().display()
        ),
        Duration::from_secs(60),
        Duration::from_millis(250),
        || async {
            let sets = sets
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let machines = machines
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            match (sets.as_slice(), machines.len()) {
                ([set], 3) => Ok((set.clone(), machines)),
                _ => Err(format!(
                    "{} MachineSets, {} Machines",
                    sets.len(),
                    machines.len()
                )),
            }
        },
    )
    .await
    .unwrap();

    // The MachineSet: owned by the deployment, template labels plus MCM's hash label,
    // MCM's finalizer, 3 replicas with the deployment's class.
    let owner = &machine_set.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("MachineDeployment", "worker", deployment_uid.as_str())
    );
    assert_eq!(owner.controller, Some(true));
    let set_labels = machine_set.metadata.labels.clone().unwrap();
    assert_eq!(set_labels.get("pool").map(String::as_str), Some("worker"));
    assert_eq!(set_labels.get("team").map(String::as_str), Some("mcm-rs"));
    let hash = set_labels
        .get("machine-template-hash")
        .expect("MCM labels MachineSets with machine-template-hash")
        .clone();
    assert!(
        machine_set
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("worker-")
    );
    assert_eq!(machine_set.data["spec"]["replicas"], 3);
    assert_eq!(
        machine_set.data["spec"]["template"]["spec"]["class"],
        json!({"kind": "MachineClass", "name": "worker-class"})
    );
    let set_name = machine_set.metadata.name.clone().unwrap();
    let set_uid = machine_set.metadata.uid.clone().unwrap();

    // Each Machine: owned by the MachineSet, named after it, template labels and hash,
    // the class from the template, and nothing else yet: no status and so no phase (no
    // machine controller runs), no finalizer (the machine controller adds that).
    for machine in &created {
        let name = machine.metadata.name.as_deref().unwrap();
        assert!(name.starts_with(&format!("{set_name}-")), "{name}");
        let owners = machine.metadata.owner_references.clone().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(
            (
                owners[0].kind.as_str(),
                owners[0].name.as_str(),
                owners[0].uid.as_str()
            ),
            ("MachineSet", set_name.as_str(), set_uid.as_str())
        );
        assert_eq!(owners[0].controller, Some(true));
        let labels = machine.metadata.labels.clone().unwrap();
        assert_eq!(labels.get("pool").map(String::as_str), Some("worker"));
        assert_eq!(labels.get("team").map(String::as_str), Some("mcm-rs"));
        assert_eq!(labels.get("machine-template-hash"), Some(&hash));
        // The template's spec, copied as Go serializes it (an empty nodeTemplate).
        assert_eq!(
            machine.data["spec"],
            json!({"class": {"kind": "MachineClass", "name": "worker-class"}, "nodeTemplate": {"metadata": {}, "spec": {}}})
        );
        assert!(
            machine
                .metadata
                .finalizers
                .as_deref()
                .unwrap_or_default()
                .is_empty(),
            "{:?}",
            machine.metadata.finalizers
        );
        assert!(
            machine
                .metadata
                .annotations
                .as_ref()
                .is_none_or(BTreeMap::is_empty),
            "{:?}",
            machine.metadata.annotations
        );
        assert!(
            machine.data.get("status").is_none(),
            "MCM wrote a status: {}",
            machine.data["status"]
        );
    }

    // MCM's finalizer lands on the deployment and the set once its informers act.
    for (api, name) in [(&deployments, "worker"), (&sets, set_name.as_str())] {
        wait_until(
            format!("finalizer on {name}"),
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async {
                let object = api.get(name).await.map_err(|e| e.to_string())?;
                let finalizers = object.metadata.finalizers.unwrap_or_default();
                if finalizers.iter().any(|f| f == MCM_FINALIZER) {
                    Ok(())
                } else {
                    Err(format!("finalizers {finalizers:?}"))
                }
            },
        )
        .await
        .unwrap();
    }

    // And it stays at exactly that: no extra MachineSet or Machine a moment later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sets.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    assert_eq!(
        machines
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert!(mcm.is_running(), "MCM exited:\n{}", mcm.log_tail(40));
    assert!(
        mcm.read_logs()
            .contains(&format!("--namespace={namespace}"))
    );
}

#[tokio::test]
async fn a_node_patched_ready_stays_ready_without_a_kubelet() {
    let plane = ControlPlane::shared().await.unwrap();
    let client = plane.client().await.unwrap();
    let nodes: Api<Node> = Api::all(client);
    let name = format!("{}-node", plane.create_namespace("node").await.unwrap());

    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"node.kubernetes.io/instance-type": "small"}},
                "spec": {"providerID": format!("simulated:///{name}")},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let now = jiff::Timestamp::now().to_string();
    nodes
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({
            "status": {
                "conditions": [{
                    "type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "set by the test", "lastHeartbeatTime": now, "lastTransitionTime": now,
                }],
                "addresses": [{"type": "InternalIP", "address": "10.1.2.3"}],
            },
        })))
        .await
        .unwrap();

    // Nothing watches heartbeats here (no node lifecycle controller): still Ready later.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let node = nodes.get(&name).await.unwrap();
    let status = node.status.unwrap();
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
    assert_eq!(status.addresses.unwrap()[0].address, "10.1.2.3");
    assert_eq!(
        node.spec.unwrap().provider_id.as_deref(),
        Some(format!("simulated:///{name}").as_str())
    );
}
