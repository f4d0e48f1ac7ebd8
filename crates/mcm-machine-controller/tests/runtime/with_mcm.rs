//! The runtime together with the real MCM binary (MachineSet / MachineDeployment
//! controllers): MCM must not be able to tell it from its Go machine controller.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams, PostParams};
use mcm_api::v1alpha1::{
    ClassSpec, Machine, MachineDeployment, MachineDeploymentStrategy,
    MachineDeploymentStrategyType, MachinePhase, MachineTemplateSpec, UpdateConfiguration,
};
use mcm_simulated_cloud::node_health::{NodeHealth, ReadyMode};
use mcm_test_kit::wait_until;

use crate::support::*;

fn deployment(name: &str, class: &str, replicas: i32) -> MachineDeployment {
    let mut deployment = MachineDeployment::default();
    deployment.metadata.name = Some(name.into());
    deployment.spec.replicas = replicas;
    let labels: std::collections::BTreeMap<String, String> = [
        ("app".to_owned(), name.to_owned()),
        ("name".to_owned(), name.to_owned()),
    ]
    .into();
    deployment.spec.selector = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some([("app".to_owned(), name.to_owned())].into()),
            ..Default::default()
        },
    );
    // MCM does not default the strategy (no defaulting webhook for CRDs).
    deployment.spec.strategy = MachineDeploymentStrategy {
        type_: MachineDeploymentStrategyType::RollingUpdate,
        rolling_update: Some(UpdateConfiguration {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
        in_place_update: None,
    };
    let mut template = MachineTemplateSpec::default();
    template.metadata.labels = Some(labels);
    template.spec.class = ClassSpec::machine_class(class);
    deployment.spec.template = template;
    deployment
}

/// Waits until exactly `count` machines of the deployment are Running (and no
/// other machines of it exist).
async fn wait_running(h: &Harness, app: &str, count: usize, timeout: Duration) -> Vec<Machine> {
    let machines = h.machines();
    let selector = format!("app={app}");
    wait_until(
        &format!("{count} Running machines of {app}"),
        timeout,
        Duration::from_millis(500),
        || {
            let machines = machines.clone();
            let selector = selector.clone();
            async move {
                let list = machines
                    .list(&kube::api::ListParams::default().labels(&selector))
                    .await
                    .map_err(|e| e.to_string())?;
                let phases: Vec<String> = list
                    .items
                    .iter()
                    .map(|m| format!("{}={}", m.name(), m.phase()))
                    .collect();
                let running = list
                    .items
                    .iter()
                    .filter(|m| *m.phase() == MachinePhase::Running)
                    .count();
                if running == count && list.items.len() == count {
                    Ok(list.items)
                } else {
                    Err(format!("{phases:?}"))
                }
            }
        },
    )
    .await
    .expect("machines converge")
}

async fn scale(h: &Harness, name: &str, replicas: i32) {
    let api: kube::Api<MachineDeployment> = kube::Api::namespaced(h.client.clone(), &h.namespace);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}})),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn machine_deployment_scales_0_3_1_with_the_real_mcm() {
    let h = Harness::new("scale").await;
    let _mcm = h.plane.start_mcm(&h.namespace, &[]).await.unwrap();
    let controller = h.start_controller(h.config()).await;
    let api: kube::Api<MachineDeployment> = kube::Api::namespaced(h.client.clone(), &h.namespace);
    api.create(&PostParams::default(), &deployment("scale", CLASS, 0))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h.cloud.instances().await.is_empty());

    scale(&h, "scale", 3).await;
    wait_running(&h, "scale", 3, Duration::from_secs(120)).await;
    assert_eq!(h.cloud.instances().await.len(), 3);

    scale(&h, "scale", 1).await;
    wait_running(&h, "scale", 1, Duration::from_secs(120)).await;
    let cloud = h.cloud.client().unwrap();
    wait_until(
        "2 VMs deleted",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let cloud = cloud.clone();
            async move {
                let n = cloud
                    .list_instances(&Default::default())
                    .await
                    .map_err(|e| e.to_string())?
                    .len();
                if n == 1 {
                    Ok(())
                } else {
                    Err(format!("{n} instances"))
                }
            }
        },
    )
    .await
    .unwrap();
    let deployment = api.get("scale").await.unwrap();
    assert_eq!(deployment.status.ready_replicas, 1);
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_change_rolls_every_machine() {
    let h = Harness::new("roll").await;
    h.create_class(
        "roll-class-b",
        serde_json::json!({"image": "img-2", "machineType": "m1.small", "zone": "zone-a"}),
    )
    .await;
    let _mcm = h.plane.start_mcm(&h.namespace, &[]).await.unwrap();
    let controller = h.start_controller(h.config()).await;
    let api: kube::Api<MachineDeployment> = kube::Api::namespaced(h.client.clone(), &h.namespace);
    api.create(&PostParams::default(), &deployment("roll", CLASS, 2))
        .await
        .unwrap();
    let before = wait_running(&h, "roll", 2, Duration::from_secs(120)).await;

    api.patch(
        "roll",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"template": {"spec": {"class": {"name": "roll-class-b"}}}}})),
    )
    .await
    .unwrap();
    let machines = h.machines();
    let old: Vec<String> = before.iter().map(|m| m.name().to_owned()).collect();
    wait_until(
        "all machines on class b and Running",
        Duration::from_secs(180),
        Duration::from_millis(500),
        || {
            let machines = machines.clone();
            let old = old.clone();
            async move {
                let list = machines
                    .list(&kube::api::ListParams::default().labels("app=roll"))
                    .await
                    .map_err(|e| e.to_string())?;
                let state: Vec<String> = list
                    .items
                    .iter()
                    .map(|m| format!("{}:{}:{}", m.name(), m.spec.class.name, m.phase()))
                    .collect();
                let done = list.items.len() == 2
                    && list.items.iter().all(|m| {
                        m.spec.class.name == "roll-class-b"
                            && *m.phase() == MachinePhase::Running
                            && !old.contains(&m.name().to_owned())
                    });
                if done {
                    Ok(())
                } else {
                    Err(format!("{state:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
    let instances = h.cloud.instances().await;
    assert_eq!(instances.len(), 2, "old VMs deleted");
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_machine_is_replaced() {
    let h = Harness::new("fail").await;
    let _mcm = h.plane.start_mcm(&h.namespace, &[]).await.unwrap();
    let mut config = h.config();
    config.health_timeout = Duration::from_secs(5);
    let controller = h.start_controller(config).await;
    let api: kube::Api<MachineDeployment> = kube::Api::namespaced(h.client.clone(), &h.namespace);
    api.create(&PostParams::default(), &deployment("fail", CLASS, 1))
        .await
        .unwrap();
    let first = wait_running(&h, "fail", 1, Duration::from_secs(120))
        .await
        .remove(0);

    // The node turns NotReady: Unknown, then Failed after the health timeout; MCM
    // deletes the Failed machine and creates a replacement.
    let admin = h.cloud.admin_client().unwrap();
    let instance_id = mcm_simulated_cloud::decode_provider_id(&first.spec.provider_id)
        .unwrap()
        .instance_id;
    admin
        .set_node_health(
            &instance_id,
            &NodeHealth {
                ready: ReadyMode::False,
                ..NodeHealth::default()
            },
        )
        .await
        .unwrap();
    let machines = h.machines();
    let first_name = first.name().to_owned();
    wait_until(
        "replacement Running, failed machine gone",
        Duration::from_secs(180),
        Duration::from_millis(500),
        || {
            let machines = machines.clone();
            let first_name = first_name.clone();
            async move {
                let list = machines
                    .list(&kube::api::ListParams::default().labels("app=fail"))
                    .await
                    .map_err(|e| e.to_string())?;
                let state: Vec<String> = list
                    .items
                    .iter()
                    .map(|m| format!("{}={}", m.name(), m.phase()))
                    .collect();
                let done = list.items.len() == 1
                    && list.items[0].name() != first_name
                    && *list.items[0].phase() == MachinePhase::Running;
                if done {
                    Ok(())
                } else {
                    Err(format!("{state:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
    controller.stop().await;
}
