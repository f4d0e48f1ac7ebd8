//! The node agent against the real control plane (etcd + kube-apiserver from mcm-test-kit):
//! an instance becomes a Ready Node with the right providerID, labels and addresses; heartbeats
//! advance; health knobs show up as conditions and taints; deleting the instance deletes the
//! Node; a deleted Node is only re-registered on request; terminating pods on our Nodes are
//! finished (and only on ours); a restarted cloud keeps managing its Nodes; the binary does the
//! same with `--target-kubeconfig`.
//!
//! All tests share one plane; each uses its own cloud (own cloud ID) and unique instance names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Node, NodeCondition, Pod, PodSpec};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use mcm_simulated_cloud::node_agent::{CLOUD_ID_LABEL, INSTANCE_ID_ANNOTATION};
use mcm_simulated_cloud::{
    CloudClient, CloudConfig, ConditionOverride, CreateInstance, Instance, NodeHealth, ReadyMode,
    RunningCloud, SimulatedCloud, StateLocation, TargetCluster,
};
use mcm_test_kit::{ControlPlane, wait_until};

const TOKEN: &str = "agent-token";
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

fn config(plane: &ControlPlane, state: StateLocation) -> CloudConfig {
    let mut c = CloudConfig::new(TOKEN, state);
    c.boot_delay = Duration::from_millis(500);
    c.heartbeat_interval = Duration::from_secs(1);
    c.agent_tick = Duration::from_millis(200);
    c.with_target(TargetCluster::Kubeconfig(
        plane.kubeconfig_path().to_owned(),
    ))
}

async fn start(plane: &ControlPlane) -> RunningCloud {
    SimulatedCloud::start(config(plane, StateLocation::InMemory))
        .await
        .unwrap()
}

async fn create(client: &CloudClient, name: &str) -> Instance {
    client
        .create_instance(&CreateInstance {
            name: name.into(),
            image: "gardenlinux-1592".into(),
            machine_type: "m1.large".into(),
            zone: "zone-b".into(),
            tags: BTreeMap::from([("cluster".to_string(), "agent-test".to_string())]),
            user_data: "#cloud-config\n".into(),
            idempotency_key: Some(format!("uid-{name}")),
        })
        .await
        .unwrap()
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn taint_keys(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|t| t.iter().map(|t| t.key.clone()).collect())
        .unwrap_or_default()
}

/// Waits until the Node exists and `check` accepts it.
async fn wait_node(
    nodes: &Api<Node>,
    name: &str,
    what: &str,
    check: impl Fn(&Node) -> Result<(), String>,
) -> Node {
    wait_until(format!("Node {name}: {what}"), WAIT, POLL, || async {
        match nodes.get_opt(name).await {
            Ok(Some(node)) => check(&node).map(|()| node),
            Ok(None) => Err("no such Node yet".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .unwrap()
}

async fn wait_node_gone(nodes: &Api<Node>, name: &str) {
    wait_until(format!("Node {name} to be deleted"), WAIT, POLL, || async {
        match nodes.get_opt(name).await {
            Ok(None) => Ok(()),
            Ok(Some(n)) => Err(format!(
                "still there (deletionTimestamp {:?}, finalizers {:?})",
                n.metadata.deletion_timestamp, n.metadata.finalizers
            )),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .unwrap();
}

fn ready_is(status: &'static str) -> impl Fn(&Node) -> Result<(), String> {
    move |node| match condition(node, "Ready") {
        Some(c) if c.status == status => Ok(()),
        other => Err(format!("Ready is {:?}", other.map(|c| c.status.clone()))),
    }
}

#[tokio::test]
async fn instance_becomes_ready_node_and_deletion_removes_it() {
    let plane = ControlPlane::shared().await.unwrap();
    let nodes: Api<Node> = Api::all(plane.client().await.unwrap());
    // A boot delay long enough to look at the pending instance even on a loaded machine.
    let mut cfg = config(&plane, StateLocation::InMemory);
    cfg.boot_delay = Duration::from_secs(3);
    let cloud = SimulatedCloud::start(cfg).await.unwrap();
    let client = cloud.client().unwrap();
    let name = unique("ready");
    let vm = create(&client, &name).await;

    // While pending there is no Node: nothing registers before the boot delay.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(nodes.get_opt(&name).await.unwrap().is_none());
    assert_eq!(
        client.get_instance(&vm.id).await.unwrap().status,
        mcm_simulated_cloud::InstanceStatus::Pending
    );

    let node = wait_node(&nodes, &name, "Ready=True without not-ready taint", |n| {
        ready_is("True")(n)?;
        let taints = taint_keys(n);
        if taints.is_empty() {
            Ok(())
        } else {
            Err(format!("taints {taints:?}"))
        }
    })
    .await;

    let spec = node.spec.as_ref().unwrap();
    assert_eq!(spec.provider_id.as_deref(), Some(vm.provider_id.as_str()));
    assert_eq!(vm.provider_id, format!("simcloud://zone-b/{}", vm.id));
    let labels = node.metadata.labels.as_ref().unwrap();
    for (k, v) in [
        ("kubernetes.io/hostname", name.as_str()),
        ("topology.kubernetes.io/zone", "zone-b"),
        ("node.kubernetes.io/instance-type", "m1.large"),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        (CLOUD_ID_LABEL, cloud.cloud_id()),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "label {k}");
    }
    assert_eq!(
        node.metadata.annotations.as_ref().unwrap()[INSTANCE_ID_ANNOTATION],
        vm.id
    );
    let status = node.status.as_ref().unwrap();
    let addresses: Vec<(String, String)> = status
        .addresses
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| (a.type_.clone(), a.address.clone()))
        .collect();
    assert!(addresses.contains(&("InternalIP".into(), vm.private_ip.to_string())));
    assert!(addresses.contains(&("Hostname".into(), name.clone())));
    let capacity = status.capacity.as_ref().unwrap();
    assert_eq!(capacity["cpu"].0, "8");
    // The API server canonicalises quantities (16384Mi → 16Gi).
    assert_eq!(capacity["memory"].0, "16Gi");
    assert!(status.allocatable.as_ref().unwrap().contains_key("pods"));
    for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(condition(&node, pressure).unwrap().status, "False");
    }
    let admin = cloud.admin_client().unwrap();
    assert!(
        admin
            .get_node_health(&vm.id)
            .await
            .unwrap()
            .registered_at
            .is_some()
    );

    // Heartbeats advance (Kubernetes times have whole seconds).
    let first = condition(&node, "Ready")
        .unwrap()
        .last_heartbeat_time
        .clone()
        .unwrap();
    wait_node(&nodes, &name, "a newer Ready heartbeat", |n| {
        let now = condition(n, "Ready")
            .and_then(|c| c.last_heartbeat_time.clone())
            .ok_or("no heartbeat")?;
        if now.0 > first.0 {
            Ok(())
        } else {
            Err(format!("heartbeat still {:?}", now.0))
        }
    })
    .await;

    client.delete_instance(&vm.id).await.unwrap();
    wait_node_gone(&nodes, &name).await;
    cloud.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_knobs_show_up_as_conditions_and_taints() {
    let plane = ControlPlane::shared().await.unwrap();
    let nodes: Api<Node> = Api::all(plane.client().await.unwrap());
    let cloud = start(&plane).await;
    let client = cloud.client().unwrap();
    let admin = cloud.admin_client().unwrap();
    let name = unique("knobs");
    let vm = create(&client, &name).await;
    let ready = wait_node(&nodes, &name, "Ready=True", ready_is("True")).await;
    let became_ready = condition(&ready, "Ready")
        .unwrap()
        .last_transition_time
        .clone()
        .unwrap();

    admin
        .set_node_health(
            &vm.id,
            &NodeHealth {
                ready: ReadyMode::False,
                conditions: vec![ConditionOverride {
                    type_: "DiskPressure".into(),
                    status: "True".into(),
                    reason: None,
                    message: None,
                }],
                ..NodeHealth::default()
            },
        )
        .await
        .unwrap();
    let sick = wait_node(
        &nodes,
        &name,
        "Ready=False, DiskPressure=True, not-ready taint",
        |n| {
            ready_is("False")(n)?;
            if condition(n, "DiskPressure").map(|c| c.status.as_str()) != Some("True") {
                return Err("DiskPressure not True".into());
            }
            if !taint_keys(n).contains(&"node.kubernetes.io/not-ready".to_string()) {
                return Err(format!("taints {:?}", taint_keys(n)));
            }
            Ok(())
        },
    )
    .await;
    assert_eq!(
        condition(&sick, "Ready").unwrap().reason.as_deref(),
        Some("KubeletNotReady")
    );
    assert!(
        condition(&sick, "Ready")
            .unwrap()
            .last_transition_time
            .as_ref()
            .unwrap()
            .0
            >= became_ready.0
    );

    admin
        .set_node_health(&vm.id, &NodeHealth::default())
        .await
        .unwrap();
    wait_node(&nodes, &name, "healthy again", |n| {
        ready_is("True")(n)?;
        if condition(n, "DiskPressure").map(|c| c.status.as_str()) != Some("False") {
            return Err("DiskPressure not back to False".into());
        }
        if !taint_keys(n).is_empty() {
            return Err(format!("taints {:?}", taint_keys(n)));
        }
        Ok(())
    })
    .await;

    // Flapping: both states are observed while it flaps.
    admin
        .set_node_health(
            &vm.id,
            &NodeHealth {
                flap_period: Some(Duration::from_secs(2)),
                ..NodeHealth::default()
            },
        )
        .await
        .unwrap();
    wait_node(&nodes, &name, "flapped to NotReady", ready_is("False")).await;
    wait_node(&nodes, &name, "flapped back to Ready", ready_is("True")).await;
    cloud.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleted_node_is_reregistered_only_on_request() {
    let plane = ControlPlane::shared().await.unwrap();
    let nodes: Api<Node> = Api::all(plane.client().await.unwrap());
    let cloud = start(&plane).await;
    let client = cloud.client().unwrap();
    let name = unique("rereg");
    let vm = create(&client, &name).await;
    let first = wait_node(&nodes, &name, "Ready=True", ready_is("True")).await;

    nodes.delete(&name, &DeleteParams::default()).await.unwrap();
    wait_node_gone(&nodes, &name).await;
    // A kubelet does not re-register a deleted Node by itself.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(nodes.get_opt(&name).await.unwrap().is_none());

    cloud
        .admin_client()
        .unwrap()
        .reregister_node(&vm.id)
        .await
        .unwrap();
    let second = wait_node(&nodes, &name, "re-registered Ready", ready_is("True")).await;
    assert_ne!(first.metadata.uid, second.metadata.uid);
    cloud.shutdown().await.unwrap();
}

#[tokio::test]
async fn terminating_pods_on_our_nodes_are_finished_and_others_left_alone() {
    let plane = ControlPlane::shared().await.unwrap();
    let kube = plane.client().await.unwrap();
    let nodes: Api<Node> = Api::all(kube.clone());
    let namespace = plane.create_namespace("simcloud-pods").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(kube.clone(), &namespace);
    let cloud = start(&plane).await;
    let name = unique("kubelet");
    create(&cloud.client().unwrap(), &name).await;
    wait_node(&nodes, &name, "Ready=True", ready_is("True")).await;

    // A Node nobody plays the kubelet for.
    let foreign = unique("foreign");
    nodes
        .create(
            &PostParams::default(),
            &Node {
                metadata: ObjectMeta {
                    name: Some(foreign.clone()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let pod = |pod_name: &str, node: &str| Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.to_owned()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_owned()),
            termination_grace_period_seconds: Some(300),
            containers: vec![Container {
                name: "app".into(),
                image: Some("registry.invalid/app:1".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    pods.create(&PostParams::default(), &pod("on-ours", &name))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("on-foreign", &foreign))
        .await
        .unwrap();
    pods.delete("on-ours", &DeleteParams::default())
        .await
        .unwrap();
    pods.delete("on-foreign", &DeleteParams::default())
        .await
        .unwrap();

    wait_until("pod on our Node to be finished", WAIT, POLL, || async {
        match pods.get_opt("on-ours").await {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err("still terminating".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .unwrap();
    // The foreign pod stays Terminating: only the agent finishes pods, and only on its Nodes.
    let other = pods.get("on-foreign").await.unwrap();
    assert!(other.metadata.deletion_timestamp.is_some());
    pods.delete(
        "on-foreign",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    nodes
        .delete(&foreign, &DeleteParams::default())
        .await
        .unwrap();
    cloud.shutdown().await.unwrap();
}

#[tokio::test]
async fn restarted_cloud_keeps_managing_its_nodes() {
    let plane = ControlPlane::shared().await.unwrap();
    let nodes: Api<Node> = Api::all(plane.client().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let state = StateLocation::File(dir.path().join("state.json"));
    let cloud = SimulatedCloud::start(config(&plane, state.clone()))
        .await
        .unwrap();
    let name = unique("restart");
    let vm = create(&cloud.client().unwrap(), &name).await;
    let before = wait_node(&nodes, &name, "Ready=True", ready_is("True")).await;
    cloud.shutdown().await.unwrap();

    let cloud = SimulatedCloud::start(config(&plane, state)).await.unwrap();
    cloud
        .admin_client()
        .unwrap()
        .set_node_health(
            &vm.id,
            &NodeHealth {
                ready: ReadyMode::False,
                ..NodeHealth::default()
            },
        )
        .await
        .unwrap();
    let after = wait_node(
        &nodes,
        &name,
        "Ready=False after restart",
        ready_is("False"),
    )
    .await;
    // The same Node object: the restarted agent took it over instead of registering anew.
    assert_eq!(before.metadata.uid, after.metadata.uid);
    cloud
        .client()
        .unwrap()
        .delete_instance(&vm.id)
        .await
        .unwrap();
    wait_node_gone(&nodes, &name).await;
    cloud.shutdown().await.unwrap();
}

#[tokio::test]
async fn binary_with_target_kubeconfig_registers_nodes() {
    let plane: Arc<ControlPlane> = ControlPlane::shared().await.unwrap();
    let nodes: Api<Node> = Api::all(plane.client().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcm-simulated-cloud"))
        .args(["serve", "--listen", "127.0.0.1:0", "--token", TOKEN])
        .args(["--boot-delay", "0s", "--heartbeat-interval", "2s"])
        .arg("--state")
        .arg(dir.path().join("state.json"))
        .arg("--target-kubeconfig")
        .arg(plane.kubeconfig_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let client = CloudClient::new(&url, TOKEN).unwrap();
    let name = unique("binary");
    let vm = create(&client, &name).await;
    let node = wait_node(&nodes, &name, "Ready=True", ready_is("True")).await;
    assert_eq!(
        node.spec.unwrap().provider_id.as_deref(),
        Some(vm.provider_id.as_str())
    );
    client.delete_instance(&vm.id).await.unwrap();
    wait_node_gone(&nodes, &name).await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn node_with_foreign_finalizer_is_deleted_but_its_finalizer_kept() {
    let plane = ControlPlane::shared().await.unwrap();
    let nodes: Api<Node> = Api::all(plane.client().await.unwrap());
    let cloud = start(&plane).await;
    let name = unique("finalizer");
    let vm = create(&cloud.client().unwrap(), &name).await;
    wait_node(&nodes, &name, "Ready=True", ready_is("True")).await;
    let finalizer = "node.machine.sapcloud.io/machine-controller";
    nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": [finalizer]}})),
        )
        .await
        .unwrap();

    cloud
        .client()
        .unwrap()
        .delete_instance(&vm.id)
        .await
        .unwrap();
    let terminating = wait_node(&nodes, &name, "deletionTimestamp set", |n| {
        if n.metadata.deletion_timestamp.is_some() {
            Ok(())
        } else {
            Err("not deleted yet".into())
        }
    })
    .await;
    assert_eq!(
        terminating.metadata.finalizers.as_deref(),
        Some(&[finalizer.to_string()][..])
    );
    // The agent leaves the finalizer to its owner.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = nodes.get(&name).await.unwrap();
    assert_eq!(still.metadata.finalizers, terminating.metadata.finalizers);

    nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    wait_node_gone(&nodes, &name).await;
    cloud.shutdown().await.unwrap();
}
