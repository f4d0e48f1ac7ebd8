//! What the drain tests need around the real API server: a client that hands 429s
//! back, objects bound to a fake Node, a stand-in kubelet that finishes terminating
//! pods, a stand-in attach/detach controller, and a driver that answers
//! `GetVolumeIDs` from the PV's CSI handle.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    AttachedVolume, CSIPersistentVolumeSource, Container, Node, NodeSpec, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PersistentVolumeSpec, Pod, PodSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::{
    VolumeAttachment, VolumeAttachmentSource, VolumeAttachmentSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::SignedDuration;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use mcm_api::Status;
use mcm_api::driver::{
    CreateMachineRequest, CreateMachineResponse, DeleteMachineRequest, DeleteMachineResponse,
    Driver, DriverResult, GetVolumeIdsRequest, GetVolumeIdsResponse,
};
use mcm_machine_controller::decide::deletion::DrainPolicy;
use mcm_machine_controller::drain::{DrainTimings, Drainer};
use mcm_test_kit::ControlPlane;
use serde_json::json;
use tokio::task::JoinHandle;

/// Label that makes the stand-in kubelet leave a terminating pod alone.
pub const STUCK_LABEL: &str = "drain.test/stuck";

/// Short pauses so a test takes seconds, not minutes.
pub fn quick_timings() -> DrainTimings {
    DrainTimings {
        eviction_retry_interval: Duration::from_secs(1),
        poll_interval: Duration::from_millis(200),
        termination_buffer: Duration::from_secs(3),
        lookup_retry_interval: Duration::from_millis(200),
        lookup_tries: 3,
    }
}

pub fn policy(force: bool, timeout_secs: i64, max_evict_retries: i32) -> DrainPolicy {
    DrainPolicy {
        force,
        timeout: SignedDuration::from_secs(timeout_secs),
        max_evict_retries,
    }
}

/// A test's own namespace, node name and client.
pub struct Setup {
    pub client: Client,
    pub namespace: String,
    pub node: String,
}

/// A namespace on the shared plane and a client without kube's automatic retry of
/// HTTP 429: the drain must see a PDB's refusal itself (as client-go does).
pub async fn setup(prefix: &str) -> Setup {
    let plane = ControlPlane::shared().await.unwrap();
    let namespace = plane.create_namespace(prefix).await.unwrap();
    let kubeconfig = Kubeconfig::read_from(plane.kubeconfig_path()).unwrap();
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    config.default_retry = false;
    let client = Client::try_from(config).unwrap();
    let node = format!("{namespace}-node");
    Setup {
        client,
        namespace,
        node,
    }
}

pub fn drainer<'a, D: Driver>(setup: &Setup, driver: &'a D) -> Drainer<'a, D> {
    Drainer {
        client: setup.client.clone(),
        driver,
        pv_detach_timeout: Duration::from_secs(20),
        pv_reattach_timeout: Duration::from_secs(2),
    }
}

/// Creates the Node, with these names in `status.volumesAttached`.
pub async fn create_node(setup: &Setup, attached: &[String]) {
    let nodes: Api<Node> = Api::all(setup.client.clone());
    let node = Node {
        metadata: ObjectMeta {
            name: Some(setup.node.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec::default()),
        status: None,
    };
    nodes.create(&PostParams::default(), &node).await.unwrap();
    if !attached.is_empty() {
        set_attached(&setup.client, &setup.node, attached).await;
    }
}

pub async fn set_attached(client: &Client, node: &str, attached: &[String]) {
    let nodes: Api<Node> = Api::all(client.clone());
    let volumes: Vec<AttachedVolume> = attached
        .iter()
        .map(|name| AttachedVolume {
            name: name.clone(),
            device_path: String::new(),
        })
        .collect();
    nodes
        .patch_status(
            node,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "volumesAttached": volumes } })),
        )
        .await
        .unwrap();
}

/// A pod bound to `node` with one container and the given grace period.
pub fn pod(name: &str, node: &str, grace_secs: i64) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_owned()),
            termination_grace_period_seconds: Some(grace_secs),
            containers: vec![Container {
                name: "app".to_owned(),
                image: Some("registry.invalid/app:1".to_owned()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

pub fn labelled(mut pod: Pod, key: &str, value: &str) -> Pod {
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
    pod
}

pub fn annotated(mut pod: Pod, key: &str, value: &str) -> Pod {
    pod.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
    pod
}

pub fn controlled_by(mut pod: Pod, api_version: &str, kind: &str) -> Pod {
    pod.metadata.owner_references = Some(vec![OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: "owner".to_owned(),
        uid: "3f6c1a52-0000-4000-8000-000000000001".to_owned(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    pod
}

pub fn with_claims(mut pod: Pod, claims: &[&str]) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        let volumes = spec.volumes.get_or_insert_with(Vec::new);
        for (i, claim) in claims.iter().enumerate() {
            volumes.push(Volume {
                name: format!("data-{i}"),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: (*claim).to_owned(),
                    read_only: None,
                }),
                ..Volume::default()
            });
        }
    }
    pod
}

pub fn with_priority_class(mut pod: Pod, class: &str) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.priority_class_name = Some(class.to_owned());
    }
    pod
}

pub async fn create_pod(setup: &Setup, pod: Pod) -> Pod {
    pods(setup)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

pub fn pods(setup: &Setup) -> Api<Pod> {
    Api::namespaced(setup.client.clone(), &setup.namespace)
}

/// Marks a pod Running and Ready (what the kubelet would report), so the eviction
/// API applies PodDisruptionBudgets to it (pending pods bypass them).
pub async fn set_running(setup: &Setup, name: &str) {
    pods(setup)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "phase": "Running",
                "conditions": [{ "type": "Ready", "status": "True" }],
            }})),
        )
        .await
        .unwrap();
}

pub async fn set_phase(setup: &Setup, name: &str, phase: &str) {
    pods(setup)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "phase": phase } })),
        )
        .await
        .unwrap();
}

pub async fn current(setup: &Setup, name: &str) -> Option<Pod> {
    pods(setup).get_opt(name).await.unwrap()
}

/// A PV with a CSI handle and a PVC in the test namespace bound to it.
pub async fn create_bound_claim(setup: &Setup, claim: &str, pv: &str, handle: &str) {
    let storage = BTreeMap::from([("storage".to_owned(), Quantity("1Gi".to_owned()))]);
    let volume = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(pv.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            capacity: Some(storage.clone()),
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            csi: Some(CSIPersistentVolumeSource {
                driver: "disk.drain.test".to_owned(),
                volume_handle: handle.to_owned(),
                ..CSIPersistentVolumeSource::default()
            }),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    };
    Api::<PersistentVolume>::all(setup.client.clone())
        .create(&PostParams::default(), &volume)
        .await
        .unwrap();
    let pvc = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(storage),
                limits: None,
            }),
            volume_name: Some(pv.to_owned()),
            storage_class_name: Some(String::new()),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    };
    Api::<PersistentVolumeClaim>::namespaced(setup.client.clone(), &setup.namespace)
        .create(&PostParams::default(), &pvc)
        .await
        .unwrap();
}

/// The name a CSI volume has in `node.status.volumesAttached`.
pub fn attached_name(handle: &str) -> String {
    format!("kubernetes.io/csi/disk.drain.test^{handle}")
}

/// What the stand-ins saw, in order (`terminating:<pod>`, `detached:<handle>`, …).
#[derive(Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<String>>>);

impl EventLog {
    pub fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }

    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits up to 5 s for an event the stand-ins may see after the drain returned.
    pub async fn wait_for(&self, event: &str) {
        for _ in 0..50 {
            if self.events().iter().any(|e| e == event) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Position of an event; panics with the whole log if it is missing.
    pub fn position(&self, event: &str) -> usize {
        let events = self.events();
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("{event} missing from {events:?}"))
    }
}

/// A background task, stopped when dropped.
pub struct Background(JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Plays the kubelet for one node: a pod that got a deletionTimestamp is removed
/// (grace 0) `delay` later, unless it carries [`STUCK_LABEL`].
pub fn kubelet(setup: &Setup, delay: Duration, log: EventLog) -> Background {
    let api: Api<Pod> = Api::all(setup.client.clone());
    let node = setup.node.clone();
    Background(tokio::spawn(async move {
        let mut seen: BTreeMap<String, tokio::time::Instant> = BTreeMap::new();
        let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
        loop {
            if let Ok(list) = api.list(&params).await {
                for pod in list.items {
                    let stuck = pod
                        .metadata
                        .labels
                        .as_ref()
                        .is_some_and(|l| l.contains_key(STUCK_LABEL));
                    if pod.metadata.deletion_timestamp.is_none() || stuck {
                        continue;
                    }
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                    let key = format!("{namespace}/{name}");
                    let first = *seen.entry(key).or_insert_with(|| {
                        log.push(format!("terminating:{name}"));
                        tokio::time::Instant::now()
                    });
                    if first.elapsed() >= delay {
                        let pods: Api<Pod> = Api::namespaced(api.clone().into_client(), &namespace);
                        let _ = pods
                            .delete(
                                &name,
                                &DeleteParams {
                                    grace_period_seconds: Some(0),
                                    ..DeleteParams::default()
                                },
                            )
                            .await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }))
}

/// A volume that moves away when its pod is gone.
pub struct VolumeMove {
    pub pod: String,
    pub handle: String,
    pub pv: String,
    /// Also show it attached to another node (a VolumeAttachment).
    pub reattach: bool,
}

/// Plays the attach/detach controller: `delay` after a pod is gone, its volume leaves
/// `node.status.volumesAttached` and, if asked, a VolumeAttachment shows it attached
/// to node `elsewhere`.
pub fn volume_mover(
    setup: &Setup,
    moves: Vec<VolumeMove>,
    delay: Duration,
    log: EventLog,
) -> Background {
    let client = setup.client.clone();
    let namespace = setup.namespace.clone();
    let node = setup.node.clone();
    Background(tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let nodes: Api<Node> = Api::all(client.clone());
        let attachments: Api<VolumeAttachment> = Api::all(client.clone());
        let mut gone_at: Vec<Option<tokio::time::Instant>> = vec![None; moves.len()];
        let mut done = vec![false; moves.len()];
        while done.iter().any(|d| !d) {
            for (i, volume) in moves.iter().enumerate() {
                if done[i] {
                    continue;
                }
                let Some(since) = gone_at[i] else {
                    if matches!(pods.get_opt(&volume.pod).await, Ok(None)) {
                        gone_at[i] = Some(tokio::time::Instant::now());
                    }
                    continue;
                };
                if since.elapsed() < delay {
                    continue;
                }
                let Ok(Some(current)) = nodes.get_opt(&node).await else {
                    continue;
                };
                let remaining: Vec<String> = current
                    .status
                    .iter()
                    .flat_map(|s| s.volumes_attached.iter().flatten())
                    .map(|v| v.name.clone())
                    .filter(|name| *name != attached_name(&volume.handle))
                    .collect();
                set_attached(&client, &node, &remaining).await;
                log.push(format!("detached:{}", volume.handle));
                if volume.reattach {
                    let name = format!("va-{}", volume.pv);
                    let va = VolumeAttachment {
                        metadata: ObjectMeta {
                            name: Some(name.clone()),
                            ..ObjectMeta::default()
                        },
                        spec: VolumeAttachmentSpec {
                            attacher: "disk.drain.test".to_owned(),
                            node_name: "elsewhere".to_owned(),
                            source: VolumeAttachmentSource {
                                persistent_volume_name: Some(volume.pv.clone()),
                                inline_volume_spec: None,
                            },
                        },
                        status: None,
                    };
                    attachments
                        .create(&PostParams::default(), &va)
                        .await
                        .unwrap();
                    attachments
                        .patch_status(
                            &name,
                            &PatchParams::default(),
                            &Patch::Merge(json!({ "status": { "attached": true } })),
                        )
                        .await
                        .unwrap();
                    log.push(format!("reattached:{}", volume.pv));
                }
                done[i] = true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }))
}

/// A driver that only knows volumes: the ID is the PV's CSI handle; handles starting
/// `foreign-` are not its volumes (empty answer), `broken-` ones make it fail.
#[derive(Clone, Default)]
pub struct VolumeDriver {
    calls: Arc<Mutex<Vec<String>>>,
}

impl VolumeDriver {
    /// The handles it was asked about, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Driver for VolumeDriver {
    async fn create_machine(
        &self,
        _request: CreateMachineRequest,
    ) -> DriverResult<CreateMachineResponse> {
        Err(Status::unimplemented("the drain tests create no machines").into())
    }

    async fn delete_machine(
        &self,
        _request: DeleteMachineRequest,
    ) -> DriverResult<DeleteMachineResponse> {
        Err(Status::unimplemented("the drain tests delete no machines").into())
    }

    async fn get_volume_ids(
        &self,
        request: GetVolumeIdsRequest,
    ) -> DriverResult<GetVolumeIdsResponse> {
        assert_eq!(request.pv_specs.len(), 1, "MCM asks about one PV at a time");
        let handle = request.pv_specs[0]
            .csi
            .as_ref()
            .map(|csi| csi.volume_handle.clone())
            .unwrap_or_default();
        self.calls.lock().unwrap().push(handle.clone());
        if handle.starts_with("broken-") {
            return Err(Status::internal(format!("cannot look up {handle}")).into());
        }
        let volume_ids = if handle.starts_with("foreign-") {
            Vec::new()
        } else {
            vec![handle]
        };
        Ok(GetVolumeIdsResponse { volume_ids })
    }
}
