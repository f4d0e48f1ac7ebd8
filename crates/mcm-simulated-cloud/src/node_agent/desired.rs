//! What the Nodes of this cloud should look like, and which calls bring the cluster there.
//! Pure: instance records, the Nodes seen in the cluster and `now` in; a list of actions out. The
//! I/O shell in `node_agent` executes them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::json;

use crate::api::{InstanceStatus, MachineType};
use crate::node_health::{ReadyMode, TaintSpec};
use crate::store::InstanceRecord;

/// Label on every Node this cloud registers; its value is the cloud ID from the state file, so
/// clouds sharing a cluster only ever touch their own Nodes.
pub const CLOUD_ID_LABEL: &str = "simulated-cloud.mcm-rs.io/cloud-id";
/// Annotation naming the instance a Node belongs to (Node names can be reused by a later
/// instance of the same name).
pub const INSTANCE_ID_ANNOTATION: &str = "simulated-cloud.mcm-rs.io/instance-id";
/// Annotation listing the knob taints the agent applied (`key:effect`, JSON array), so it can
/// remove exactly those when a knob drops them and leave other controllers' taints alone.
pub const MANAGED_TAINTS_ANNOTATION: &str = "simulated-cloud.mcm-rs.io/managed-taints";
/// Taint the node lifecycle controller sets while Ready is False (admission adds it on create).
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// Taint the node lifecycle controller sets while Ready is Unknown.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// Agent settings that shape Nodes.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Value of [`CLOUD_ID_LABEL`].
    pub cloud_id: String,
    /// How often Ready's heartbeat is refreshed.
    pub heartbeat_interval: Duration,
    /// Capacity per machine type.
    pub machine_types: Vec<MachineType>,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet_version: String,
}

/// A call to make against the target cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeAction {
    /// Create the Node, then write its status.
    Register {
        /// Instance the Node belongs to.
        instance_id: String,
        /// The object to create (with status, written again through the status subresource).
        node: Box<Node>,
    },
    /// Record that an existing Node of ours belongs to this instance (after a crash between
    /// creating the Node and saving that fact).
    Adopt {
        /// The instance.
        instance_id: String,
    },
    /// Strategic-merge patch of `status` (conditions merge by type).
    PatchStatus {
        /// Node name.
        node_name: String,
        /// `{"status": {...}}`.
        patch: serde_json::Value,
    },
    /// Merge patch of labels, annotations and taints, guarded by resourceVersion.
    PatchMetadata {
        /// Node name.
        node_name: String,
        /// `{"metadata": {...}, "spec": {...}}`.
        patch: serde_json::Value,
    },
    /// Delete a Node whose instance is gone.
    Delete {
        /// Node name.
        node_name: String,
        /// UID precondition, so a same-named newer Node is never hit.
        uid: Option<String>,
    },
}

impl NodeAction {
    /// Short name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeAction::Register { .. } => "register",
            NodeAction::Adopt { .. } => "adopt",
            NodeAction::PatchStatus { .. } => "heartbeat",
            NodeAction::PatchMetadata { .. } => "update",
            NodeAction::Delete { .. } => "delete",
        }
    }
}

/// The labels a kubelet (plus cloud provider) would put on this instance's Node.
pub fn node_labels(record: &InstanceRecord, cloud_id: &str) -> BTreeMap<String, String> {
    let i = &record.instance;
    [
        ("kubernetes.io/hostname", i.hostname.as_str()),
        ("topology.kubernetes.io/zone", i.zone.as_str()),
        ("node.kubernetes.io/instance-type", i.machine_type.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        (CLOUD_ID_LABEL, cloud_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    existing: &[NodeCondition],
    now: Timestamp,
    keep_heartbeat: bool,
) -> NodeCondition {
    let prev = existing.iter().find(|c| c.type_ == type_);
    let transition = match prev {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => None,
    }
    .unwrap_or(Time(now));
    let heartbeat = match prev {
        Some(p) if keep_heartbeat => p.last_heartbeat_time.clone(),
        _ => None,
    }
    .unwrap_or(Time(now));
    NodeCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_heartbeat_time: Some(heartbeat),
        last_transition_time: Some(transition),
    }
}

/// The conditions the Node should carry at `now`, given its current ones (for transition times).
pub fn desired_conditions(
    record: &InstanceRecord,
    existing: &[NodeCondition],
    now: Timestamp,
) -> Vec<NodeCondition> {
    let health = &record.node.health;
    let ready = health.ready_at(record.node.health_since, now);
    // Unknown means "nobody posts status": keep the last heartbeat, as the lifecycle controller does.
    let frozen = ready == ReadyMode::Unknown;
    let (ready_reason, ready_message) = match ready {
        ReadyMode::True => ("KubeletReady", "kubelet is posting ready status"),
        ReadyMode::False => (
            "KubeletNotReady",
            "simulated cloud: node health knob reports NotReady",
        ),
        ReadyMode::Unknown => ("NodeStatusUnknown", "Kubelet stopped posting node status."),
    };
    let mut conditions = vec![
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            existing,
            now,
            frozen,
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            existing,
            now,
            frozen,
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            existing,
            now,
            frozen,
        ),
        condition(
            "Ready",
            ready.as_str(),
            ready_reason,
            ready_message,
            existing,
            now,
            frozen,
        ),
    ];
    for o in &health.conditions {
        let c = condition(
            &o.type_,
            &o.status,
            o.reason.as_deref().unwrap_or("SimulatedCloud"),
            o.message
                .as_deref()
                .unwrap_or("set by the simulated cloud's node health knob"),
            existing,
            now,
            frozen,
        );
        match conditions.iter_mut().find(|x| x.type_ == o.type_) {
            Some(slot) => *slot = c,
            None => conditions.push(c),
        }
    }
    conditions
}

fn quantity(s: String) -> Quantity {
    Quantity(s)
}

/// The full status a kubelet would post at registration.
pub fn node_status(
    record: &InstanceRecord,
    settings: &AgentSettings,
    conditions: Vec<NodeCondition>,
) -> NodeStatus {
    let i = &record.instance;
    let mt = settings
        .machine_types
        .iter()
        .find(|m| m.name == i.machine_type);
    let (cpu, mem_mib, pods) = mt.map_or((2, 4096, 110), |m| (m.cpu, m.memory_mib, m.pods));
    let capacity: BTreeMap<String, Quantity> = [
        ("cpu", cpu.to_string()),
        ("memory", format!("{mem_mib}Mi")),
        ("pods", pods.to_string()),
        ("ephemeral-storage", "100Gi".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), quantity(v)))
    .collect();
    let allocatable: BTreeMap<String, Quantity> = [
        ("cpu", format!("{}m", u64::from(cpu) * 1000 - 100)),
        ("memory", format!("{}Mi", mem_mib.saturating_sub(256))),
        ("pods", pods.to_string()),
        ("ephemeral-storage", "90Gi".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), quantity(v)))
    .collect();
    let hex = i.id.trim_start_matches("i-");
    let machine_id = format!("{hex:0>32}");
    NodeStatus {
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".to_owned(),
                address: i.private_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".to_owned(),
                address: i.hostname.clone(),
            },
        ]),
        capacity: Some(capacity),
        allocatable: Some(allocatable),
        conditions: Some(conditions),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".to_owned(),
            boot_id: machine_id.clone(),
            container_runtime_version: "simcloud://1.0.0".to_owned(),
            kernel_version: "6.6.0-simcloud".to_owned(),
            kube_proxy_version: settings.kubelet_version.clone(),
            kubelet_version: settings.kubelet_version.clone(),
            machine_id: machine_id.clone(),
            operating_system: "linux".to_owned(),
            os_image: format!("Simulated Linux ({})", i.image),
            system_uuid: machine_id,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Node object to create for an instance.
pub fn new_node(record: &InstanceRecord, settings: &AgentSettings, now: Timestamp) -> Node {
    let i = &record.instance;
    let ready = record.node.health.ready_at(record.node.health_since, now);
    let taints = apply_taints(&[], &BTreeSet::new(), &record.node.health.taints, ready);
    Node {
        metadata: ObjectMeta {
            name: Some(i.name.clone()),
            labels: Some(node_labels(record, &settings.cloud_id)),
            annotations: Some(
                [
                    (INSTANCE_ID_ANNOTATION.to_owned(), i.id.clone()),
                    (
                        MANAGED_TAINTS_ANNOTATION.to_owned(),
                        managed_taints_value(&record.node.health.taints),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            provider_id: Some(i.provider_id.clone()),
            taints: (!taints.is_empty()).then_some(taints),
            ..Default::default()
        }),
        status: Some(node_status(
            record,
            settings,
            desired_conditions(record, &[], now),
        )),
    }
}

fn taint_id(key: &str, effect: &str) -> String {
    format!("{key}:{effect}")
}

fn managed_taints_value(knob: &[TaintSpec]) -> String {
    let ids: BTreeSet<String> = knob.iter().map(|t| taint_id(&t.key, &t.effect)).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
}

fn managed_taints(node: &Node) -> BTreeSet<String> {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MANAGED_TAINTS_ANNOTATION))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

/// The taints a Node should have: other controllers' taints kept, knob taints present, knob
/// taints dropped from the knob removed, and the lifecycle taints matching the Ready status.
pub fn apply_taints(
    existing: &[Taint],
    previously_managed: &BTreeSet<String>,
    knob: &[TaintSpec],
    ready: ReadyMode,
) -> Vec<Taint> {
    let wanted: BTreeSet<String> = knob.iter().map(|t| taint_id(&t.key, &t.effect)).collect();
    let lifecycle = match ready {
        ReadyMode::True => None,
        ReadyMode::False => Some(NOT_READY_TAINT),
        ReadyMode::Unknown => Some(UNREACHABLE_TAINT),
    };
    let mut out: Vec<Taint> = existing
        .iter()
        .filter(|t| {
            let id = taint_id(&t.key, &t.effect);
            let dropped_knob = previously_managed.contains(&id) && !wanted.contains(&id);
            let stale_lifecycle = (t.key == NOT_READY_TAINT || t.key == UNREACHABLE_TAINT)
                && Some(t.key.as_str()) != lifecycle;
            !dropped_knob && !stale_lifecycle
        })
        .cloned()
        .collect();
    for spec in knob {
        match out
            .iter_mut()
            .find(|t| t.key == spec.key && t.effect == spec.effect)
        {
            Some(t) => t.value = spec.value.clone(),
            None => out.push(Taint {
                key: spec.key.clone(),
                value: spec.value.clone(),
                effect: spec.effect.clone(),
                time_added: None,
            }),
        }
    }
    if let Some(key) = lifecycle
        && !out.iter().any(|t| t.key == key && t.effect == "NoSchedule")
    {
        out.push(Taint {
            key: key.to_owned(),
            value: None,
            effect: "NoSchedule".to_owned(),
            time_added: None,
        });
    }
    out
}

fn instance_of(node: &Node) -> Option<&str> {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INSTANCE_ID_ANNOTATION))
        .map(String::as_str)
}

fn registration_due(record: &InstanceRecord, now: Timestamp) -> bool {
    let Some(running_at) = record.instance.running_at else {
        return false;
    };
    let delay = record.node.health.registration_delay.unwrap_or_default();
    let delay = jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::MAX);
    running_at.checked_add(delay).is_ok_and(|due| due <= now)
}

/// Compares conditions by what MCM reads (type and status).
fn same_conditions(a: &[NodeCondition], b: &[NodeCondition]) -> bool {
    let key = |c: &[NodeCondition]| -> BTreeSet<(String, String)> {
        c.iter()
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect()
    };
    let wanted = key(b);
    let have = key(a);
    wanted.is_subset(&have)
}

/// The actions that bring the cluster's Nodes (only those labelled with our cloud ID) in line
/// with the instances.
pub fn plan(
    records: &[InstanceRecord],
    nodes: &[Node],
    now: Timestamp,
    settings: &AgentSettings,
) -> Vec<NodeAction> {
    let mut actions = Vec::new();
    let by_name: BTreeMap<&str, &Node> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref().map(|name| (name, n)))
        .collect();
    let live: BTreeSet<&str> = records.iter().map(|r| r.instance.id.as_str()).collect();

    for record in records {
        let i = &record.instance;
        if i.status != InstanceStatus::Running {
            continue;
        }
        match by_name.get(i.name.as_str()) {
            None => {
                let first_time = record.node.registered_at.is_none();
                if (first_time || record.node.reregister_requested) && registration_due(record, now)
                {
                    actions.push(NodeAction::Register {
                        instance_id: i.id.clone(),
                        node: Box::new(new_node(record, settings, now)),
                    });
                }
            }
            Some(node) if instance_of(node) == Some(i.id.as_str()) => {
                if node.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if record.node.registered_at.is_none() || record.node.reregister_requested {
                    actions.push(NodeAction::Adopt {
                        instance_id: i.id.clone(),
                    });
                }
                plan_existing(record, node, now, settings, &mut actions);
            }
            // A Node of that name belonging to an older instance (still being deleted) or to
            // someone else: wait, never overwrite.
            Some(_) => {}
        }
    }

    for node in nodes {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        if node.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let owner_alive = instance_of(node).is_some_and(|id| live.contains(id));
        if !owner_alive {
            actions.push(NodeAction::Delete {
                node_name: name,
                uid: node.metadata.uid.clone(),
            });
        }
    }
    actions
}

fn plan_existing(
    record: &InstanceRecord,
    node: &Node,
    now: Timestamp,
    settings: &AgentSettings,
    actions: &mut Vec<NodeAction>,
) {
    let name = record.instance.name.clone();
    let health = &record.node.health;
    let existing_conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let desired = desired_conditions(record, &existing_conditions, now);
    let ready = health.ready_at(record.node.health_since, now);
    let heartbeat_due = existing_conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .is_none_or(|t| {
            let interval = jiff::SignedDuration::try_from(settings.heartbeat_interval)
                .unwrap_or(jiff::SignedDuration::MAX);
            t.0.checked_add(interval).is_ok_and(|due| due <= now)
        });
    let changed = !same_conditions(&existing_conditions, &desired);
    let needs_status = if ready == ReadyMode::Unknown || !health.heartbeats {
        // Nobody posts status: only an explicit knob change shows up (Unknown), nothing else.
        changed && ready == ReadyMode::Unknown
    } else {
        changed || heartbeat_due
    };
    if needs_status {
        actions.push(NodeAction::PatchStatus {
            node_name: name.clone(),
            patch: json!({ "status": { "conditions": desired } }),
        });
    }

    let wanted_labels = node_labels(record, &settings.cloud_id);
    let have_labels = node.metadata.labels.clone().unwrap_or_default();
    let missing_labels: BTreeMap<&String, &String> = wanted_labels
        .iter()
        .filter(|(k, v)| have_labels.get(*k) != Some(*v))
        .collect();
    let existing_taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let previously = managed_taints(node);
    let taints = apply_taints(&existing_taints, &previously, &health.taints, ready);
    let managed_now = managed_taints_value(&health.taints);
    let taints_changed = taints != existing_taints;
    let managed_changed = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MANAGED_TAINTS_ANNOTATION))
        != Some(&managed_now);
    if !missing_labels.is_empty() || taints_changed || managed_changed {
        let mut patch = json!({
            "metadata": {
                "labels": missing_labels,
                "annotations": { MANAGED_TAINTS_ANNOTATION: managed_now },
            }
        });
        if taints_changed {
            patch["metadata"]["resourceVersion"] = json!(node.metadata.resource_version);
            patch["spec"] = json!({ "taints": taints });
        }
        actions.push(NodeAction::PatchMetadata {
            node_name: name,
            patch,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Instance;
    use crate::catalog::default_machine_types;
    use crate::node_health::{ConditionOverride, NodeAgentState, NodeHealth};
    use jiff::SignedDuration;

    fn settings() -> AgentSettings {
        AgentSettings {
            cloud_id: "c0ffee".into(),
            heartbeat_interval: Duration::from_secs(10),
            machine_types: default_machine_types(),
            kubelet_version: "v1.33.0".into(),
        }
    }

    fn t0() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().unwrap()
    }

    fn record(id: &str, name: &str, running: bool) -> InstanceRecord {
        let instance = Instance {
            id: id.into(),
            name: name.into(),
            image: "img".into(),
            machine_type: "m1.medium".into(),
            zone: "zone-b".into(),
            tags: BTreeMap::new(),
            status: if running {
                InstanceStatus::Running
            } else {
                InstanceStatus::Pending
            },
            private_ip: "10.0.0.7".parse().unwrap(),
            hostname: name.into(),
            provider_id: format!("simcloud://zone-b/{id}"),
            created_at: t0(),
            running_at: running.then(t0),
            user_data_sha256: String::new(),
            user_data_bytes: 0,
        };
        serde_json::from_value(json!({
            "instance": instance,
            "userData": "",
            "bootDue": t0(),
            "node": NodeAgentState {
                health: NodeHealth::default(),
                health_since: t0(),
                registered_at: None,
                reregister_requested: false,
            },
        }))
        .unwrap()
    }

    fn registered_node(rec: &InstanceRecord, at: Timestamp) -> Node {
        let mut node = new_node(rec, &settings(), at);
        node.metadata.uid = Some("uid-1".into());
        node.metadata.resource_version = Some("42".into());
        node
    }

    fn secs(s: i64) -> SignedDuration {
        SignedDuration::from_secs(s)
    }

    #[test]
    fn running_instance_without_node_registers_kubelet_like_node() {
        let rec = record("i-00000000000000a1", "worker-1", true);
        let actions = plan(std::slice::from_ref(&rec), &[], t0(), &settings());
        let [NodeAction::Register { instance_id, node }] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(instance_id, "i-00000000000000a1");
        assert_eq!(node.metadata.name.as_deref(), Some("worker-1"));
        let spec = node.spec.as_ref().unwrap();
        assert_eq!(
            spec.provider_id.as_deref(),
            Some("simcloud://zone-b/i-00000000000000a1")
        );
        assert_eq!(spec.taints, None);
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["topology.kubernetes.io/zone"], "zone-b");
        assert_eq!(labels["node.kubernetes.io/instance-type"], "m1.medium");
        assert_eq!(labels["kubernetes.io/hostname"], "worker-1");
        assert_eq!(labels[CLOUD_ID_LABEL], "c0ffee");
        let status = node.status.as_ref().unwrap();
        let ready = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(status.capacity.as_ref().unwrap()["cpu"].0, "4");
        assert_eq!(status.capacity.as_ref().unwrap()["memory"].0, "8192Mi");
        let addrs = status.addresses.as_ref().unwrap();
        assert_eq!(addrs[0].address, "10.0.0.7");
        assert_eq!(addrs[1].address, "worker-1");
    }

    #[test]
    fn pending_or_delayed_instances_do_not_register_yet() {
        let pending = record("i-1", "a", false);
        let mut delayed = record("i-2", "b", true);
        delayed.node.health.registration_delay = Some(Duration::from_secs(30));
        assert!(
            plan(
                &[pending, delayed.clone()],
                &[],
                t0() + secs(29),
                &settings()
            )
            .is_empty()
        );
        let actions = plan(&[delayed], &[], t0() + secs(30), &settings());
        assert!(matches!(actions.as_slice(), [NodeAction::Register { .. }]));
    }

    #[test]
    fn deleted_node_of_registered_instance_is_not_recreated_unless_asked() {
        let mut rec = record("i-1", "a", true);
        rec.node.registered_at = Some(t0());
        assert!(plan(std::slice::from_ref(&rec), &[], t0(), &settings()).is_empty());
        rec.node.reregister_requested = true;
        assert!(matches!(
            plan(&[rec], &[], t0(), &settings()).as_slice(),
            [NodeAction::Register { .. }]
        ));
    }

    #[test]
    fn heartbeat_only_when_due() {
        let mut rec = record("i-1", "a", true);
        rec.node.registered_at = Some(t0());
        let node = registered_node(&rec, t0());
        let recs = std::slice::from_ref(&rec);
        assert!(
            plan(
                recs,
                std::slice::from_ref(&node),
                t0() + secs(9),
                &settings()
            )
            .is_empty()
        );
        let actions = plan(recs, &[node], t0() + secs(10), &settings());
        let [NodeAction::PatchStatus { patch, .. }] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        let ready = patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        // Heartbeat moves, transition stays.
        assert_eq!(ready["lastHeartbeatTime"], json!(t0() + secs(10)));
        assert_eq!(ready["lastTransitionTime"], json!(t0()));
    }

    #[test]
    fn not_ready_knob_flips_condition_and_taint() {
        let mut rec = record("i-1", "a", true);
        rec.node.registered_at = Some(t0());
        let node = registered_node(&rec, t0());
        rec.node.health.ready = ReadyMode::False;
        rec.node.health_since = t0() + secs(1);
        let actions = plan(&[rec], &[node], t0() + secs(2), &settings());
        assert_eq!(actions.len(), 2, "{actions:?}");
        let NodeAction::PatchStatus { patch, .. } = &actions[0] else {
            panic!("{actions:?}");
        };
        let ready = patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["lastTransitionTime"], json!(t0() + secs(2)));
        let NodeAction::PatchMetadata { patch, .. } = &actions[1] else {
            panic!("{actions:?}");
        };
        assert_eq!(patch["metadata"]["resourceVersion"], "42");
        assert_eq!(patch["spec"]["taints"][0]["key"], NOT_READY_TAINT);
    }

    #[test]
    fn extra_condition_knob_is_added() {
        let mut rec = record("i-1", "a", true);
        rec.node.registered_at = Some(t0());
        let node = registered_node(&rec, t0());
        rec.node.health.conditions = vec![ConditionOverride {
            type_: "DiskPressure".into(),
            status: "True".into(),
            reason: None,
            message: None,
        }];
        let actions = plan(&[rec], &[node], t0() + secs(1), &settings());
        let [NodeAction::PatchStatus { patch, .. }] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        let disk = patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "DiskPressure")
            .unwrap();
        assert_eq!(disk["status"], "True");
    }

    #[test]
    fn taints_of_others_survive_and_dropped_knob_taints_go() {
        let other = Taint {
            key: "deployment.machine.sapcloud.io/prefer-no-schedule".into(),
            value: None,
            effect: "PreferNoSchedule".into(),
            time_added: None,
        };
        let admission = Taint {
            key: NOT_READY_TAINT.into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        };
        let knob_taint = Taint {
            key: "node.gardener.cloud/critical-components-not-ready".into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        };
        let existing = vec![other.clone(), admission, knob_taint];
        let previously: BTreeSet<String> =
            ["node.gardener.cloud/critical-components-not-ready:NoSchedule".to_string()].into();
        let out = apply_taints(&existing, &previously, &[], ReadyMode::True);
        assert_eq!(out, vec![other]);
    }

    #[test]
    fn nodes_of_deleted_instances_are_deleted_once() {
        let rec = record("i-1", "a", true);
        let mut node = registered_node(&rec, t0());
        let actions = plan(&[], std::slice::from_ref(&node), t0(), &settings());
        assert_eq!(
            actions,
            vec![NodeAction::Delete {
                node_name: "a".into(),
                uid: Some("uid-1".into())
            }]
        );
        node.metadata.deletion_timestamp = Some(Time(t0()));
        assert!(plan(&[], &[node], t0(), &settings()).is_empty());
    }

    #[test]
    fn same_named_node_of_older_instance_is_left_alone() {
        let old = record("i-old", "a", true);
        let node = registered_node(&old, t0());
        let new = record("i-new", "a", true);
        let actions = plan(&[new], &[node], t0(), &settings());
        // Only the old instance's Node is deleted; the new one waits for the name to free up.
        assert!(
            matches!(actions.as_slice(), [NodeAction::Delete { node_name, .. }] if node_name == "a"),
            "{actions:?}"
        );
    }

    #[test]
    fn node_seen_but_not_recorded_is_adopted() {
        let rec = record("i-1", "a", true);
        let node = registered_node(&rec, t0());
        let actions = plan(&[rec], &[node], t0(), &settings());
        assert!(
            matches!(actions.as_slice(), [NodeAction::Adopt { .. }]),
            "{actions:?}"
        );
    }

    #[test]
    fn hung_kubelet_posts_nothing() {
        let mut rec = record("i-1", "a", true);
        rec.node.registered_at = Some(t0());
        rec.node.health.heartbeats = false;
        let node = registered_node(&rec, t0());
        assert!(plan(&[rec], &[node], t0() + secs(60), &settings()).is_empty());
    }
}
