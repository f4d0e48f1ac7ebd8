//! The e2e scenarios. Each one drives the system through the Kubernetes API and the
//! simulated cloud's admin API only, and records what it verified.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use mcm_api::v1alpha1::{Machine, MachineClass, MachineDeployment, MachinePhase};
use mcm_simulated_cloud::api::{CreateInstance, InstanceFilter};
use mcm_simulated_cloud::faults::FaultConfig;
use mcm_test_kit::wait_until;

use super::World;
use crate::stack;

type Run = for<'a> fn(&'a mut World) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// One scenario.
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub run: Run,
}

macro_rules! scenario {
    ($name:literal, $about:literal, $fn:ident) => {
        Scenario {
            name: $name,
            about: $about,
            run: |world| Box::pin($fn(world)),
        }
    };
}

/// All scenarios, in the order they run (later ones rely on a clean slate left by
/// earlier ones, e.g. deletion checks run before the fault scenarios).
pub const ALL: &[Scenario] = &[
    scenario!(
        "machine-running",
        "kubernetes/machine.yaml reaches Running with a Ready Node",
        machine_running
    ),
    scenario!(
        "deployment-scaling",
        "a MachineDeployment scales 0→3→5→1",
        deployment_scaling
    ),
    scenario!(
        "rolling-update",
        "changing the class rolls every machine to the new class",
        rolling_update
    ),
    scenario!(
        "deletion-clean",
        "deleting leaves no VM, no Node, no finalizer",
        deletion_clean
    ),
    scenario!(
        "restart-mid-creation",
        "the machine controller killed while creating → no duplicate VM",
        restart_mid_creation
    ),
    scenario!(
        "orphan-vm",
        "a VM created behind the controller's back is collected",
        orphan_vm
    ),
    scenario!(
        "cloud-faults",
        "20% cloud errors with latency: everything converges, 0 orphans",
        cloud_faults
    ),
    scenario!(
        "apiserver-outage",
        "API server stopped for 60 s: freeze, no healthy VM deleted",
        apiserver_outage
    ),
    scenario!(
        "leader-election",
        "two controller replicas: exactly one leads, the other takes over",
        leader_election
    ),
];

const CLASS: &str = "test-mc";
const TIMEOUT: Duration = Duration::from_secs(240);

/// Applies the provider's Secret and MachineClass samples.
pub async fn apply_base_objects(world: &World) -> anyhow::Result<()> {
    for file in ["secret.yaml", "machine-class.yaml"] {
        let objects =
            stack::sample_objects(&world.provider.dir, file, &world.namespace, &world.cloud)?;
        stack::create_objects(&world.client, objects).await?;
    }
    Ok(())
}

fn machines(world: &World) -> Api<Machine> {
    Api::namespaced(world.client.clone(), &world.namespace)
}

fn deployments(world: &World) -> Api<MachineDeployment> {
    Api::namespaced(world.client.clone(), &world.namespace)
}

/// The provider's machine.yaml under another name.
async fn create_machine(world: &World, name: &str) -> anyhow::Result<()> {
    let mut objects = stack::sample_objects(
        &world.provider.dir,
        "machine.yaml",
        &world.namespace,
        &world.cloud,
    )?;
    for object in &mut objects {
        object.metadata.name = Some(name.to_owned());
    }
    stack::create_objects(&world.client, objects).await
}

/// The provider's machine-deployment.yaml under another name with its own labels.
async fn create_deployment(world: &World, name: &str, replicas: i32) -> anyhow::Result<()> {
    let mut objects: Vec<DynamicObject> = stack::sample_objects(
        &world.provider.dir,
        "machine-deployment.yaml",
        &world.namespace,
        &world.cloud,
    )?;
    for object in &mut objects {
        object.metadata.name = Some(name.to_owned());
        let spec = object
            .data
            .get_mut("spec")
            .context("machine-deployment.yaml has no spec")?;
        spec["replicas"] = replicas.into();
        spec["selector"] = serde_json::json!({"matchLabels": {"e2e": name}});
        spec["template"]["metadata"]["labels"] = serde_json::json!({"e2e": name, "name": name});
    }
    stack::create_objects(&world.client, objects).await
}

async fn scale(world: &World, name: &str, replicas: i32) -> anyhow::Result<()> {
    deployments(world)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}})),
        )
        .await?;
    Ok(())
}

async fn wait_machine(world: &World, name: &str, phase: MachinePhase) -> anyhow::Result<Machine> {
    let api = machines(world);
    Ok(wait_until(
        format!("machine {name} {phase}"),
        TIMEOUT,
        Duration::from_millis(500),
        || {
            let api = api.clone();
            let phase = phase.clone();
            async move {
                match api.get_opt(name).await.map_err(|e| e.to_string())? {
                    Some(m) if *m.phase() == phase => Ok(m),
                    Some(m) => Err(format!(
                        "{} ({})",
                        m.phase(),
                        m.status.last_operation.description
                    )),
                    None => Err("not found".to_owned()),
                }
            }
        },
    )
    .await?)
}

async fn instances(world: &World) -> anyhow::Result<Vec<mcm_simulated_cloud::api::Instance>> {
    Ok(world
        .cloud
        .client()?
        .list_instances(&InstanceFilter::all())
        .await?)
}

async fn wait_instances(world: &World, count: usize) -> anyhow::Result<()> {
    let client = world.cloud.client()?;
    wait_until(
        format!("{count} VM(s) in the cloud"),
        TIMEOUT,
        Duration::from_millis(500),
        || {
            let client = client.clone();
            async move {
                let n = client
                    .list_instances(&InstanceFilter::all())
                    .await
                    .map_err(|e| e.to_string())?
                    .len();
                if n == count {
                    Ok(())
                } else {
                    Err(format!("{n} VM(s)"))
                }
            }
        },
    )
    .await?;
    Ok(())
}

async fn wait_no_machines(world: &World) -> anyhow::Result<()> {
    let api = machines(world);
    wait_until(
        "all machines gone",
        TIMEOUT,
        Duration::from_millis(500),
        || {
            let api = api.clone();
            async move {
                let list = api
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                if list.items.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{:?}",
                        list.items
                            .iter()
                            .map(|m| format!("{}={}", m.name(), m.phase()))
                            .collect::<Vec<_>>()
                    ))
                }
            }
        },
    )
    .await?;
    Ok(())
}

async fn machine_running(world: &mut World) -> anyhow::Result<()> {
    create_machine(world, "e2e-single").await?;
    let machine = wait_machine(world, "e2e-single", MachinePhase::Running).await?;
    world.check(format!(
        "Machine e2e-single Running, providerID {}",
        machine.spec.provider_id
    ));
    ensure!(
        machine.spec.provider_id.starts_with("simcloud://"),
        "providerID {}",
        machine.spec.provider_id
    );
    let node_name = machine.node_name().context("no node label")?.to_owned();
    let node = Api::<Node>::all(world.client.clone())
        .get(&node_name)
        .await?;
    ensure!(
        node.spec.as_ref().and_then(|s| s.provider_id.as_deref())
            == Some(machine.spec.provider_id.as_str()),
        "Node providerID differs"
    );
    world.check(format!(
        "Node {node_name} carries the Machine's providerID and is Ready"
    ));
    let vms = instances(world).await?;
    ensure!(
        vms.iter().filter(|i| i.name == "e2e-single").count() == 1,
        "one VM named e2e-single"
    );
    world.check("exactly one VM for the machine");
    Ok(())
}

async fn deployment_scaling(world: &mut World) -> anyhow::Result<()> {
    create_deployment(world, "e2e-scale", 0).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let none = machines(world)
        .list(&ListParams::default().labels("e2e=e2e-scale"))
        .await?;
    ensure!(none.items.is_empty(), "replicas 0 created machines");
    world.check("replicas 0: no machines");
    for replicas in [3, 5, 1] {
        scale(world, "e2e-scale", replicas).await?;
        let count = usize::try_from(replicas)?;
        stack::wait_running(
            &world.client,
            &world.namespace,
            "e2e=e2e-scale",
            count,
            TIMEOUT,
        )
        .await?;
        // The single machine of the first scenario plus the deployment's.
        wait_instances(world, count + 1).await?;
        world.check(format!(
            "replicas {replicas}: {count} Running machines, {} VMs",
            count + 1
        ));
    }
    Ok(())
}

async fn rolling_update(world: &mut World) -> anyhow::Result<()> {
    let classes: Api<MachineClass> = Api::namespaced(world.client.clone(), &world.namespace);
    let mut second = classes.get(CLASS).await?;
    second.metadata = kube::api::ObjectMeta {
        name: Some("test-mc-b".to_owned()),
        namespace: Some(world.namespace.clone()),
        ..Default::default()
    };
    second.provider_spec["image"] = "gardenlinux-1592.5".into();
    classes.create(&Default::default(), &second).await?;
    scale(world, "e2e-scale", 3).await?;
    let before =
        stack::wait_running(&world.client, &world.namespace, "e2e=e2e-scale", 3, TIMEOUT).await?;
    let old: Vec<String> = before.iter().map(|m| m.name().to_owned()).collect();
    deployments(world)
        .patch(
            "e2e-scale",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"template": {"spec": {"class": {"name": "test-mc-b"}}}}})),
        )
        .await?;
    let api = machines(world);
    wait_until(
        "3 machines on test-mc-b Running, old ones gone",
        TIMEOUT,
        Duration::from_secs(1),
        || {
            let api = api.clone();
            let old = old.clone();
            async move {
                let list = api
                    .list(&ListParams::default().labels("e2e=e2e-scale"))
                    .await
                    .map_err(|e| e.to_string())?;
                let done = list.items.len() == 3
                    && list.items.iter().all(|m| {
                        m.spec.class.name == "test-mc-b"
                            && *m.phase() == MachinePhase::Running
                            && !old.iter().any(|o| o == m.name())
                    });
                if done {
                    Ok(())
                } else {
                    Err(format!(
                        "{:?}",
                        list.items
                            .iter()
                            .map(|m| format!("{}:{}:{}", m.name(), m.spec.class.name, m.phase()))
                            .collect::<Vec<_>>()
                    ))
                }
            }
        },
    )
    .await?;
    world.check("all 3 machines replaced by machines of class test-mc-b, all Running");
    wait_instances(world, 4).await?;
    let vms = instances(world).await?;
    ensure!(
        vms.iter()
            .filter(|i| i.image == "gardenlinux-1592.5")
            .count()
            == 3,
        "3 VMs with the new image"
    );
    world.check("the old VMs are deleted; 3 VMs run the new image");
    Ok(())
}

async fn deletion_clean(world: &mut World) -> anyhow::Result<()> {
    deployments(world)
        .delete("e2e-scale", &DeleteParams::default())
        .await?;
    machines(world)
        .delete("e2e-single", &DeleteParams::default())
        .await?;
    wait_no_machines(world).await?;
    world.check("every Machine finished its deletion flow (finalizer removed)");
    wait_instances(world, 0).await?;
    world.check("no VM left in the cloud");
    let nodes = Api::<Node>::all(world.client.clone())
        .list(&ListParams::default())
        .await?;
    let ours: Vec<String> = nodes
        .items
        .iter()
        .filter(|n| {
            n.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("simulated-cloud.mcm-rs.io/cloud-id"))
        })
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    ensure!(ours.is_empty(), "Nodes left: {ours:?}");
    world.check("no Node left");
    let classes: Api<MachineClass> = Api::namespaced(world.client.clone(), &world.namespace);
    let classes2 = classes.clone();
    wait_until(
        "class finalizers removed",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let classes = classes2.clone();
            async move {
                let list = classes
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let with: Vec<String> = list
                    .items
                    .iter()
                    .filter(|c| {
                        c.metadata
                            .finalizers
                            .as_ref()
                            .is_some_and(|f| !f.is_empty())
                    })
                    .map(|c| c.name().to_owned())
                    .collect();
                if with.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{with:?}"))
                }
            }
        },
    )
    .await?;
    world.check("no MachineClass keeps a finalizer once no machine uses it");
    Ok(())
}

fn kill(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    ensure!(status.success(), "kill -{signal} {pid} failed");
    Ok(())
}

async fn restart_mid_creation(world: &mut World) -> anyhow::Result<()> {
    create_machine(world, "e2e-restart").await?;
    let client = world.cloud.client()?;
    wait_until(
        "the VM of e2e-restart to exist",
        TIMEOUT,
        Duration::from_millis(20),
        || {
            let client = client.clone();
            async move {
                let n = client
                    .list_instances(&InstanceFilter::all().name("e2e-restart"))
                    .await
                    .map_err(|e| e.to_string())?
                    .len();
                if n > 0 {
                    Ok(())
                } else {
                    Err("none yet".to_owned())
                }
            }
        },
    )
    .await?;
    let victim = world
        .controllers
        .pop()
        .context("no machine controller runs")?;
    kill(victim.pid(), "KILL")?;
    let machine = machines(world).get("e2e-restart").await?;
    world.check(format!(
        "machine controller killed (SIGKILL) right after the VM appeared; Machine phase {:?}, providerID {:?}",
        machine.phase().as_str(),
        machine.spec.provider_id
    ));
    drop(victim);
    world.start_controller(&[]).await?;
    wait_machine(world, "e2e-restart", MachinePhase::Running).await?;
    let vms = client
        .list_instances(&InstanceFilter::all().name("e2e-restart"))
        .await?;
    ensure!(vms.len() == 1, "{} VMs for e2e-restart", vms.len());
    world.check("after the restart the Machine is Running with exactly one VM");
    machines(world)
        .delete("e2e-restart", &DeleteParams::default())
        .await?;
    wait_no_machines(world).await?;
    wait_instances(world, 0).await?;
    world.check("deleted again, no VM left");
    Ok(())
}

async fn orphan_vm(world: &mut World) -> anyhow::Result<()> {
    let classes: Api<MachineClass> = Api::namespaced(world.client.clone(), &world.namespace);
    let class = classes.get(CLASS).await?;
    let spec = &class.provider_spec;
    let tags: std::collections::BTreeMap<String, String> =
        serde_json::from_value(spec["tags"].clone()).unwrap_or_default();
    let client = world.cloud.client()?;
    let orphan = client
        .create_instance(&CreateInstance {
            name: "e2e-orphan".to_owned(),
            image: spec["image"].as_str().unwrap_or("image").to_owned(),
            machine_type: spec["machineType"]
                .as_str()
                .unwrap_or("m1.small")
                .to_owned(),
            zone: spec["zone"].as_str().unwrap_or("zone-a").to_owned(),
            tags,
            user_data: String::new(),
            idempotency_key: None,
        })
        .await?;
    world.check(format!(
        "VM {} created directly in the cloud with the cluster's tags, no Machine",
        orphan.id
    ));
    let id = orphan.id.clone();
    wait_until(
        "the orphan VM to be deleted",
        Duration::from_secs(120),
        Duration::from_secs(1),
        || {
            let client = client.clone();
            let id = id.clone();
            async move {
                match client.get_instance(&id).await {
                    Err(e) if e.is_not_found() => Ok(()),
                    Ok(i) => Err(format!("still there ({:?})", i.status)),
                    Err(e) => Err(e.to_string()),
                }
            }
        },
    )
    .await?;
    world.check("the orphan collector deleted it (ListMachines → DeleteMachine)");
    Ok(())
}

async fn cloud_faults(world: &mut World) -> anyhow::Result<()> {
    let config: FaultConfig = serde_json::from_value(serde_json::json!({
        "seed": 42,
        "operations": {
            "create": {"errorRate": 0.2, "errorKind": "unavailable", "latency": "300ms", "latencyJitter": "200ms"},
            "get": {"errorRate": 0.2, "errorKind": "unavailable", "latency": "100ms"},
            "list": {"errorRate": 0.2, "errorKind": "internal", "latency": "100ms"},
            "delete": {"errorRate": 0.2, "errorKind": "unavailable", "latency": "300ms"}
        }
    }))?;
    let admin = world.cloud.client()?;
    admin.set_faults(&config).await?;
    world.check("faults set: 20% errors on create/get/list/delete, 100–500 ms latency");
    let result = async {
        create_deployment(world, "e2e-faults", 3).await?;
        stack::wait_running(
            &world.client,
            &world.namespace,
            "e2e=e2e-faults",
            3,
            Duration::from_secs(360),
        )
        .await?;
        world.check("3 replicas Running despite the errors");
        wait_instances(world, 3).await?;
        world.check("exactly 3 VMs: no duplicate from retried creates");
        deployments(world)
            .delete("e2e-faults", &DeleteParams::default())
            .await?;
        wait_no_machines(world).await?;
        wait_instances(world, 0).await?;
        world.check("deleted: 0 machines, 0 VMs (no orphans)");
        Ok::<(), anyhow::Error>(())
    }
    .await;
    admin.clear_faults().await?;
    let injected = admin.metrics_text().await?;
    let count: f64 = injected
        .lines()
        .filter(|l| l.starts_with("simcloud_injected_faults_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    result?;
    if count < 1.0 {
        bail!("the cloud injected no fault; the scenario proved nothing");
    }
    world.check(format!(
        "the cloud injected {count:.0} faults along the way"
    ));
    Ok(())
}

async fn controller_metric(port: u16, name: &str) -> anyhow::Result<f64> {
    let response = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    })
    .await??;
    response
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .with_context(|| format!("metric {name} not served"))
}

async fn apiserver_outage(world: &mut World) -> anyhow::Result<()> {
    world.stop_controllers().await;
    let port = world
        .start_controller(&[
            "--machine-safety-apiserver-statuscheck-period=10s".to_owned(),
            "--machine-safety-apiserver-statuscheck-timeout=10s".to_owned(),
        ])
        .await?;
    create_machine(world, "e2e-outage").await?;
    wait_machine(world, "e2e-outage", MachinePhase::Running).await?;
    let before = instances(world).await?.len();
    let apiserver = world.plane.apiserver().pid();
    kill(apiserver, "STOP")?;
    world.check("kube-apiserver stopped (SIGSTOP) for 60 s");
    let frozen_seen = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut frozen = false;
        while tokio::time::Instant::now() < deadline {
            if controller_metric(port, "mcm_machine_controller_frozen")
                .await
                .unwrap_or(0.0)
                >= 1.0
            {
                frozen = true;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        frozen
    }
    .await;
    kill(apiserver, "CONT")?;
    ensure!(
        frozen_seen,
        "the machine controller never reported mcm_machine_controller_frozen 1"
    );
    world.check("the machine controller froze (mcm_machine_controller_frozen 1)");
    wait_until(
        "the controller to unfreeze",
        Duration::from_secs(90),
        Duration::from_secs(2),
        || async move {
            match controller_metric(port, "mcm_machine_controller_frozen").await {
                Ok(v) if v < 1.0 => Ok(()),
                Ok(_) => Err("still frozen".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await?;
    world.check("API server back: the controller unfroze");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let machine = wait_machine(world, "e2e-outage", MachinePhase::Running).await?;
    let after = instances(world).await?.len();
    ensure!(after == before, "VMs before {before}, after {after}");
    world.check(format!(
        "Machine {} still Running, {after} VM(s) as before: nothing deleted",
        machine.name()
    ));
    machines(world)
        .delete("e2e-outage", &DeleteParams::default())
        .await?;
    wait_no_machines(world).await?;
    Ok(())
}

async fn leader_election(world: &mut World) -> anyhow::Result<()> {
    world.stop_controllers().await;
    let flags = [
        "--leader-elect=true".to_owned(),
        "--leader-elect-lease-duration=6s".to_owned(),
        "--leader-elect-renew-deadline=4s".to_owned(),
        "--leader-elect-retry-period=1s".to_owned(),
    ];
    world.start_controller(&flags).await?;
    world.start_controller(&flags).await?;
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.namespace);
    let leaders = || {
        world
            .controllers
            .iter()
            .filter(|c| c.read_logs().contains("became leader"))
            .count()
    };
    wait_until(
        "a leader",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            if leaders() >= 1 {
                Ok(())
            } else {
                Err("no leader yet")
            }
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    ensure!(leaders() == 1, "{} replicas became leader", leaders());
    let lease = leases.get("machine-controller").await?;
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    world.check(format!(
        "exactly one of two replicas leads (Lease machine-controller held by {holder})"
    ));
    create_machine(world, "e2e-ha").await?;
    wait_machine(world, "e2e-ha", MachinePhase::Running).await?;
    world.check("the leader runs a machine to Running");

    let index = world
        .controllers
        .iter()
        .position(|c| c.read_logs().contains("became leader"))
        .context("leader process")?;
    let leader = world.controllers.remove(index);
    leader.stop().await;
    wait_until(
        "the standby to take over",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            if world
                .controllers
                .iter()
                .any(|c| c.read_logs().contains("became leader"))
            {
                Ok(())
            } else {
                Err("not yet")
            }
        },
    )
    .await?;
    world.check("the leader stopped (releasing the Lease); the standby took over");
    machines(world)
        .delete("e2e-ha", &DeleteParams::default())
        .await?;
    wait_no_machines(world).await?;
    wait_instances(world, 0).await?;
    world.check("the new leader ran the deletion: no machine, no VM left");
    Ok(())
}
