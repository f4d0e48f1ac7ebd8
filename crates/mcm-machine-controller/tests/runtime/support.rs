//! A machine controller under test: the real control plane (shared per test
//! binary, a namespace per test), the simulated cloud in-process registering real
//! Nodes, and the runtime started in-process with [`SimDriver`].

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Node, Secret, SecretReference};
use kube::api::{Api, PostParams};
use mcm_api::v1alpha1::{ClassSpec, Machine, MachineClass, MachinePhase};
use mcm_machine_controller::ControllerConfig;
use mcm_machine_controller::runtime::{Controller, NoMetrics, connect};
use mcm_simulated_cloud::{CloudConfig, RunningCloud, SimulatedCloud, TargetCluster, secret_keys};
use mcm_test_kit::{ControlPlane, wait_until};
use tokio::sync::oneshot;

use crate::sim_driver::SimDriver;

pub const CLASS: &str = "sim-class";
pub const SECRET: &str = "sim-secret";
pub const TOKEN: &str = "canary-token-5b1e";
pub const USER_DATA: &str =
    "#!/bin/sh\n# canary-userdata-7f3a\necho <<BOOTSTRAP_TOKEN>> <<MACHINE_NAME>>\n";

pub struct Harness {
    pub plane: Arc<ControlPlane>,
    pub namespace: String,
    pub cloud: RunningCloud,
    pub client: kube::Client,
}

impl Harness {
    pub async fn new(prefix: &str) -> Harness {
        let plane = ControlPlane::shared().await.expect("control plane");
        Harness::on_plane(plane, prefix).await
    }

    /// As [`Harness::new`] on a given plane (e.g. a private one for a test whose
    /// controller touches cluster-scoped Nodes that other tests' controllers see).
    pub async fn on_plane(plane: Arc<ControlPlane>, prefix: &str) -> Harness {
        let namespace = plane.create_namespace(prefix).await.expect("namespace");
        let client = plane.client().await.expect("client");
        let mut config = CloudConfig::in_memory(TOKEN);
        config.boot_delay = Duration::from_millis(300);
        config.heartbeat_interval = Duration::from_secs(2);
        config.agent_tick = Duration::from_millis(300);
        let config = config.with_target(TargetCluster::Kubeconfig(plane.kubeconfig_path().into()));
        let cloud = SimulatedCloud::start(config)
            .await
            .expect("simulated cloud");
        let harness = Harness {
            plane,
            namespace,
            cloud,
            client,
        };
        harness.create_secret().await;
        harness
            .create_class(
                CLASS,
                serde_json::json!({"image": "img-1", "machineType": "m1.small", "zone": "zone-a"}),
            )
            .await;
        harness
    }

    pub fn machines(&self) -> Api<Machine> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn classes(&self) -> Api<MachineClass> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    async fn create_secret(&self) {
        let mut secret = Secret::default();
        secret.metadata.name = Some(SECRET.into());
        secret.data = Some(
            [
                (
                    "userData".to_owned(),
                    ByteString(USER_DATA.as_bytes().to_vec()),
                ),
                (
                    secret_keys::ENDPOINT.to_owned(),
                    ByteString(self.cloud.url().as_bytes().to_vec()),
                ),
                (
                    secret_keys::TOKEN.to_owned(),
                    ByteString(TOKEN.as_bytes().to_vec()),
                ),
            ]
            .into(),
        );
        self.secrets()
            .create(&PostParams::default(), &secret)
            .await
            .expect("secret");
    }

    pub async fn create_class(&self, name: &str, provider_spec: serde_json::Value) -> MachineClass {
        let mut class = MachineClass::default();
        class.metadata.name = Some(name.into());
        class.provider_spec = provider_spec;
        class.secret_ref = Some(SecretReference {
            name: Some(SECRET.into()),
            namespace: Some(self.namespace.clone()),
        });
        self.classes()
            .create(&PostParams::default(), &class)
            .await
            .expect("class")
    }

    pub async fn create_machine(&self, name: &str, class: &str) -> Machine {
        let mut machine = Machine::default();
        machine.metadata.name = Some(name.into());
        machine.spec.class = ClassSpec::machine_class(class);
        self.machines()
            .create(&PostParams::default(), &machine)
            .await
            .expect("machine")
    }

    /// Settings for tests: the contract's defaults with short safety periods.
    pub fn config(&self) -> ControllerConfig {
        ControllerConfig {
            namespace: self.namespace.clone(),
            safety_orphan_vms_period: Duration::from_secs(3),
            safety_apiserver_statuscheck_period: Duration::from_secs(2),
            safety_apiserver_statuscheck_timeout: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(60),
            ..ControllerConfig::default()
        }
    }

    /// Starts the machine controller in-process (caches synced when this returns).
    pub async fn start_controller(&self, config: ControllerConfig) -> RunningController {
        let kubeconfig = self.plane.kubeconfig_path().to_string_lossy().into_owned();
        self.start_controller_with(config, &kubeconfig).await
    }

    /// As [`Harness::start_controller`] with another kubeconfig (e.g. through a proxy).
    pub async fn start_controller_with(
        &self,
        config: ControllerConfig,
        kubeconfig: &str,
    ) -> RunningController {
        let clusters = connect(kubeconfig, kubeconfig, 200.0, 300)
            .await
            .expect("clients");
        let controller =
            Controller::start(config, clusters, Arc::new(SimDriver), Arc::new(NoMetrics))
                .await
                .expect("controller start");
        let snapshot = controller.snapshot();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            controller
                .run(5, async {
                    let _ = stopped.await;
                })
                .await;
        });
        RunningController {
            snapshot,
            stop: Some(stop),
            task,
        }
    }

    pub async fn wait_phase(&self, name: &str, phase: MachinePhase, timeout: Duration) -> Machine {
        let machines = self.machines();
        wait_until(
            &format!("machine {name} in phase {phase}"),
            timeout,
            Duration::from_millis(250),
            || {
                let machines = machines.clone();
                let phase = phase.clone();
                async move {
                    match machines.get_opt(name).await {
                        Ok(Some(m)) if *m.phase() == phase => Ok(m),
                        Ok(Some(m)) => Err(format!(
                            "phase {:?}, last operation {:?}",
                            m.phase().as_str(),
                            m.status.last_operation.description
                        )),
                        Ok(None) => Err("machine not found".to_owned()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
        )
        .await
        .expect("phase reached")
    }

    /// Waits until the node queue has put our finalizer on the Node.
    pub async fn wait_node_finalizer(&self, node: &str) {
        let nodes = self.nodes();
        wait_until(
            &format!("finalizer on node {node}"),
            Duration::from_secs(20),
            Duration::from_millis(250),
            || {
                let nodes = nodes.clone();
                async move {
                    let found = nodes.get(node).await.map_err(|e| e.to_string())?;
                    let finalizers = found.metadata.finalizers.unwrap_or_default();
                    if finalizers
                        .iter()
                        .any(|f| f == mcm_api::well_known::finalizers::NODE)
                    {
                        Ok(())
                    } else {
                        Err(format!("finalizers {finalizers:?}"))
                    }
                }
            },
        )
        .await
        .expect("node finalizer");
    }

    /// Waits until the simulated cloud no longer knows instance `id`.
    pub async fn wait_instance_gone(&self, what: &str, id: &str) {
        let cloud = self.cloud.client().expect("cloud client");
        wait_until(
            what,
            Duration::from_secs(30),
            Duration::from_millis(250),
            || {
                let cloud = cloud.clone();
                async move {
                    match cloud.get_instance(id).await {
                        Err(e) if e.is_not_found() => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                }
            },
        )
        .await
        .expect("instance deleted");
    }

    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        let machines = self.machines();
        wait_until(
            &format!("machine {name} gone"),
            timeout,
            Duration::from_millis(250),
            || {
                let machines = machines.clone();
                async move {
                    match machines.get_opt(name).await {
                        Ok(None) => Ok(()),
                        Ok(Some(m)) => Err(format!(
                            "still there: phase {:?}, last operation {:?}",
                            m.phase().as_str(),
                            m.status.last_operation.description
                        )),
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
        )
        .await
        .expect("machine deleted")
    }
}

pub struct RunningController {
    pub snapshot: mcm_machine_controller::runtime::Snapshot,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningController {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningController {
    fn drop(&mut self) {
        self.task.abort();
    }
}
