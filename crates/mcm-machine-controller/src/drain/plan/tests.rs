//! Table tests of the drain's pure rules; each row is named after the rule it checks.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    AttachedVolume, EmptyDirVolumeSource, Node, NodeSpec, NodeStatus,
    PersistentVolumeClaimVolumeSource, Pod, PodSpec, PodStatus, Volume,
};
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, LabelSelector, LabelSelectorRequirement,
    ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::*;

fn pod(name: &str, node: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("ns".to_owned()),
            uid: Some(format!("uid-{name}")),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_owned()),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn owned_by(mut pod: Pod, kind: &str, controller: bool) -> Pod {
    pod.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: kind.to_owned(),
        name: "owner".to_owned(),
        uid: "owner-uid".to_owned(),
        controller: Some(controller),
        ..OwnerReference::default()
    }]);
    pod
}

fn with_volume(mut pod: Pod, volume: Volume) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes.get_or_insert_with(Vec::new).push(volume);
    }
    pod
}

fn claim(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_owned(),
            read_only: None,
        }),
        ..Volume::default()
    }
}

fn empty_dir() -> Volume {
    Volume {
        name: "scratch".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn with_priority(mut pod: Pod, priority: Option<i32>) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.priority = priority;
    }
    pod
}

fn with_grace(mut pod: Pod, seconds: Option<i64>) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.termination_grace_period_seconds = seconds;
    }
    pod
}

fn with_labels(mut pod: Pod, labels: &[(&str, &str)]) -> Pod {
    pod.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    pod
}

#[test]
fn exclusion_follows_mcm_filters() {
    let mut mirror = pod("mirror", "n1");
    mirror.metadata.annotations = Some(BTreeMap::from([(
        MIRROR_POD_ANNOTATION.to_owned(),
        "hash".to_owned(),
    )]));
    let mut finished = owned_by(pod("finished", "n1"), "Job", true);
    finished.status = Some(PodStatus {
        phase: Some("Succeeded".to_owned()),
        ..PodStatus::default()
    });
    let rows: Vec<(&str, Pod, &str, Option<Exclusion>)> = vec![
        (
            "replicated pod is drained",
            owned_by(pod("rs", "n1"), "ReplicaSet", true),
            "n1",
            None,
        ),
        (
            "pod without controller is drained",
            pod("bare", "n1"),
            "n1",
            None,
        ),
        (
            "pod with emptyDir is drained",
            with_volume(pod("local", "n1"), empty_dir()),
            "n1",
            None,
        ),
        ("finished pod is drained", finished, "n1", None),
        (
            "mirror pod is left alone",
            mirror,
            "n1",
            Some(Exclusion::Mirror),
        ),
        (
            "DaemonSet-controlled pod is left alone",
            owned_by(pod("ds", "n1"), "DaemonSet", true),
            "n1",
            Some(Exclusion::DaemonSet),
        ),
        (
            "DaemonSet owner that is not the controller does not count",
            owned_by(pod("ds-ref", "n1"), "DaemonSet", false),
            "n1",
            None,
        ),
        (
            "pod of another node is not ours",
            pod("other", "n2"),
            "n1",
            Some(Exclusion::OtherNode),
        ),
        (
            "unscheduled pod is not ours",
            pod("pending", ""),
            "n1",
            Some(Exclusion::OtherNode),
        ),
        (
            "empty node name drains nothing",
            pod("pending", ""),
            "",
            Some(Exclusion::OtherNode),
        ),
    ];
    for (rule, pod, node, expected) in rows {
        assert_eq!(exclusion(&pod, node), expected, "{rule}");
    }
}

#[test]
fn candidates_counts_what_it_skips() {
    let mut mirror = pod("mirror", "n1");
    mirror.metadata.annotations = Some(BTreeMap::from([(
        MIRROR_POD_ANNOTATION.to_owned(),
        String::new(),
    )]));
    let picked = candidates(
        vec![
            pod("a", "n1"),
            owned_by(pod("ds", "n1"), "DaemonSet", true),
            mirror,
            pod("b", "n2"),
            pod("c", "n1"),
        ],
        "n1",
    );
    let names: Vec<&str> = picked.pods.iter().map(name_of).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!((picked.mirror, picked.daemon_set), (1, 1));
}

#[test]
fn pods_split_by_pvc_keeping_order() {
    let pods = vec![
        with_volume(pod("pvc-1", "n"), claim("data", "c1")),
        with_volume(pod("plain", "n"), empty_dir()),
        with_volume(
            with_volume(pod("pvc-2", "n"), empty_dir()),
            claim("d", "c2"),
        ),
        pod("bare", "n"),
    ];
    let (with, without) = split_by_pvc(pods);
    assert_eq!(
        with.iter().map(name_of).collect::<Vec<_>>(),
        ["pvc-1", "pvc-2"]
    );
    assert_eq!(
        without.iter().map(name_of).collect::<Vec<_>>(),
        ["plain", "bare"]
    );
    assert_eq!(claim_names(&with[1]), ["c2"]);
}

#[test]
fn pvc_pods_go_highest_priority_first() {
    let mut pods = vec![
        with_priority(pod("low", "n"), Some(-5)),
        with_priority(pod("none", "n"), None),
        with_priority(pod("high", "n"), Some(1000)),
        with_priority(pod("zero", "n"), Some(0)),
        with_priority(pod("mid", "n"), Some(10)),
    ];
    order_by_priority(&mut pods);
    let names: Vec<&str> = pods.iter().map(name_of).collect();
    // Absent priority counts as 0; equal priorities keep their listed order.
    assert_eq!(names, ["high", "mid", "none", "zero", "low"]);
}

#[test]
fn wait_limits_follow_mcm() {
    let timeout = Duration::from_secs(7200);
    let buffer = Duration::from_secs(30);
    let rows = [
        ("grace below timeout: grace + 30 s", Some(10), timeout, 40),
        (
            "grace above timeout is capped",
            Some(600),
            Duration::from_secs(60),
            90,
        ),
        ("no grace period: buffer only", None, timeout, 30),
        ("negative grace counts as zero", Some(-3), timeout, 30),
    ];
    for (rule, grace, drain_timeout, expected) in rows {
        let pod = with_grace(pod("p", "n"), grace);
        assert_eq!(
            termination_wait_limit(&pod, drain_timeout, buffer),
            Duration::from_secs(expected),
            "{rule}"
        );
    }
    let pod = with_grace(pod("p", "n"), Some(45));
    assert_eq!(
        detach_wait_limit(&pod, Duration::from_secs(120)),
        Duration::from_secs(165),
        "detach limit is grace + PV detach timeout"
    );
}

#[test]
fn drain_timeout_of_policy() {
    let policy = |timeout| DrainPolicy {
        force: false,
        timeout,
        max_evict_retries: 3,
    };
    assert_eq!(
        drain_timeout(&policy(SignedDuration::from_mins(2))),
        Duration::from_secs(120)
    );
    assert_eq!(
        drain_timeout(&policy(SignedDuration::from_secs(-5))),
        Duration::ZERO
    );
}

#[test]
fn evict_until_retries_are_used_up_then_delete() {
    let rows = [
        ("first attempt evicts", true, 0, 3, true),
        ("last retry still evicts", true, 2, 3, true),
        ("after max retries: delete", true, 3, 3, false),
        ("force label: one eviction", true, 0, 1, true),
        ("force label: then delete", true, 1, 1, false),
        ("zero retries: delete at once", true, 0, 0, false),
        ("negative retries: delete at once", true, 0, -1, false),
        ("no eviction API: delete", false, 0, 3, false),
    ];
    for (rule, attempt_evict, attempt, max, expected) in rows {
        assert_eq!(
            evicts_on_attempt(attempt_evict, attempt, max),
            expected,
            "{rule}"
        );
    }
}

#[test]
fn eviction_support_needs_policy_group_and_subresource() {
    let groups = |names: &[&str]| APIGroupList {
        groups: names
            .iter()
            .map(|name| APIGroup {
                name: (*name).to_owned(),
                ..APIGroup::default()
            })
            .collect(),
    };
    let core = |resources: &[(&str, &str)]| APIResourceList {
        group_version: "v1".to_owned(),
        resources: resources
            .iter()
            .map(|(name, kind)| APIResource {
                name: (*name).to_owned(),
                kind: (*kind).to_owned(),
                ..APIResource::default()
            })
            .collect(),
    };
    let full = core(&[("pods", "Pod"), ("pods/eviction", "Eviction")]);
    let rows = [
        (
            "policy group and pods/eviction",
            groups(&["apps", "policy"]),
            full.clone(),
            true,
        ),
        ("no policy group", groups(&["apps"]), full, false),
        (
            "no eviction subresource",
            groups(&["policy"]),
            core(&[("pods", "Pod")]),
            false,
        ),
        (
            "subresource of another kind",
            groups(&["policy"]),
            core(&[("pods/eviction", "Pod")]),
            false,
        ),
    ];
    for (rule, groups, core, expected) in rows {
        assert_eq!(eviction_supported(&groups, &core), expected, "{rule}");
    }
}

#[test]
fn pod_is_gone_when_missing_or_replaced() {
    let original = pod("p", "n");
    let mut replaced = pod("p", "n");
    replaced.metadata.uid = Some("new-uid".to_owned());
    let mut terminating = pod("p", "n");
    terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    assert!(is_gone(&original, None), "not found");
    assert!(is_gone(&original, Some(&replaced)), "same name, new UID");
    assert!(!is_gone(&original, Some(&original)), "still there");
    assert!(
        !is_gone(&original, Some(&terminating)),
        "terminating is not gone"
    );
}

fn pdb(name: &str, namespace: &str, selector: Option<LabelSelector>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            selector,
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}

fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        match_expressions: None,
    }
}

fn expression(key: &str, operator: &str, values: Option<&[&str]>) -> LabelSelector {
    LabelSelector {
        match_labels: None,
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: values.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
        }]),
    }
}

#[test]
fn pdb_selection_matches_the_go_lister() {
    let web = with_labels(pod("web-0", "n"), &[("app", "web"), ("tier", "front")]);
    let rows = [
        (
            "matchLabels equal",
            pdb("a", "ns", Some(labels(&[("app", "web")]))),
            true,
        ),
        (
            "matchLabels differ",
            pdb("a", "ns", Some(labels(&[("app", "db")]))),
            false,
        ),
        (
            "empty selector matches all",
            pdb("a", "ns", Some(LabelSelector::default())),
            true,
        ),
        ("absent selector matches none", pdb("a", "ns", None), false),
        (
            "other namespace",
            pdb("a", "other", Some(labels(&[("app", "web")]))),
            false,
        ),
        (
            "In",
            pdb(
                "a",
                "ns",
                Some(expression("app", "In", Some(&["web", "x"]))),
            ),
            true,
        ),
        (
            "NotIn",
            pdb("a", "ns", Some(expression("app", "NotIn", Some(&["web"])))),
            false,
        ),
        (
            "Exists",
            pdb("a", "ns", Some(expression("tier", "Exists", None))),
            true,
        ),
        (
            "DoesNotExist",
            pdb("a", "ns", Some(expression("tier", "DoesNotExist", None))),
            false,
        ),
        (
            "invalid: NotIn without values matches none",
            pdb("a", "ns", Some(expression("zone", "NotIn", Some(&[])))),
            false,
        ),
        (
            "invalid: Exists with values matches none",
            pdb(
                "a",
                "ns",
                Some(expression("tier", "Exists", Some(&["front"]))),
            ),
            false,
        ),
        (
            "invalid: unknown operator matches none",
            pdb("a", "ns", Some(expression("app", "Gt", Some(&["1"])))),
            false,
        ),
    ];
    for (rule, budget, expected) in rows {
        assert_eq!(pdb_selects(&budget, &web), expected, "{rule}");
    }
    let budgets = [
        pdb("a-other", "ns", Some(labels(&[("app", "db")]))),
        pdb("b-web", "ns", Some(labels(&[("app", "web")]))),
        pdb("c-all", "ns", Some(LabelSelector::default())),
    ];
    assert_eq!(
        pdb_for_pod(&budgets, &web).map(pdb_key).as_deref(),
        Some("ns/b-web"),
        "first selecting PDB"
    );
    assert_eq!(pdb_for_pod(&budgets[..1], &web), None, "none selects");
}

fn pdb_status(
    observed: i64,
    expected: i32,
    healthy: i32,
    disrupted: usize,
    allowed: i32,
) -> PodDisruptionBudget {
    let mut budget = pdb("budget", "ns", Some(LabelSelector::default()));
    budget.status = Some(PodDisruptionBudgetStatus {
        observed_generation: Some(observed),
        expected_pods: expected,
        current_healthy: healthy,
        desired_healthy: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (disrupted > 0).then(|| {
            (0..disrupted)
                .map(|i| (format!("pod-{i}"), Time(Timestamp::UNIX_EPOCH)))
                .collect()
        }),
        conditions: None,
    });
    budget
}

#[test]
fn misconfigured_pdb_predicate() {
    let rows = [
        (
            "all healthy, zero allowed: misconfigured",
            pdb_status(1, 2, 2, 0, 0),
            true,
        ),
        (
            "more healthy than expected (scale-down)",
            pdb_status(1, 2, 3, 0, 0),
            true,
        ),
        (
            "status of an older generation",
            pdb_status(0, 2, 2, 0, 0),
            false,
        ),
        ("no pods expected", pdb_status(1, 0, 0, 0, 0), false),
        (
            "not all healthy: a real disruption",
            pdb_status(1, 2, 1, 0, 0),
            false,
        ),
        (
            "pods being disrupted: status may be stale",
            pdb_status(1, 2, 2, 1, 0),
            false,
        ),
        ("disruptions allowed", pdb_status(1, 2, 2, 0, 1), false),
        ("no status", pdb("budget", "ns", None), false),
    ];
    for (rule, budget, expected) in rows {
        assert_eq!(is_misconfigured_pdb(&budget), expected, "{rule}");
    }
}

#[test]
fn shared_volumes_are_not_tracked() {
    let mut by_pod = BTreeMap::from([
        (
            "ns/a".to_owned(),
            vec!["pv-a".to_owned(), "pv-shared".to_owned()],
        ),
        (
            "ns/b".to_owned(),
            vec!["pv-shared".to_owned(), "pv-b".to_owned()],
        ),
        ("ns/c".to_owned(), vec!["pv-c".to_owned()]),
    ]);
    exclude_shared_volumes(&mut by_pod);
    assert_eq!(by_pod["ns/a"], ["pv-a"]);
    assert_eq!(by_pod["ns/b"], ["pv-b"]);
    assert_eq!(by_pod["ns/c"], ["pv-c"]);

    let mut untouched = BTreeMap::from([("ns/a".to_owned(), vec!["pv-a".to_owned()])]);
    exclude_shared_volumes(&mut untouched);
    assert_eq!(
        untouched["ns/a"],
        ["pv-a"],
        "nothing shared: nothing removed"
    );
}

fn node_with(attached: &[&str]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some("n".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            volumes_attached: Some(
                attached
                    .iter()
                    .map(|name| AttachedVolume {
                        name: (*name).to_owned(),
                        device_path: String::new(),
                    })
                    .collect(),
            ),
            ..NodeStatus::default()
        }),
    }
}

fn tracked(pairs: &[(&str, &str)]) -> Vec<TrackedVolume> {
    pairs
        .iter()
        .map(|(pv, id)| TrackedVolume {
            persistent_volume: (*pv).to_owned(),
            volume_id: (*id).to_owned(),
        })
        .collect()
}

#[test]
fn volume_ids_are_searched_in_attached_names() {
    let volumes = tracked(&[("pv-1", "vol-111"), ("pv-2", "vol-222")]);
    let rows: Vec<(&str, Node, Vec<&str>)> = vec![
        (
            "CSI unique name contains the ID",
            node_with(&["kubernetes.io/csi/disk.example.com^vol-111"]),
            vec!["vol-111"],
        ),
        (
            "both attached",
            node_with(&["x^vol-222", "x^vol-111"]),
            vec!["vol-111", "vol-222"],
        ),
        ("other volumes only", node_with(&["x^vol-333"]), vec![]),
        ("nothing attached", node_with(&[]), vec![]),
    ];
    for (rule, node, expected) in rows {
        assert_eq!(still_attached(&volumes, &node), expected, "{rule}");
    }
    let no_status = Node::default();
    assert!(
        still_attached(&volumes, &no_status).is_empty(),
        "node without status"
    );

    let pattern = tracked(&[("pv", "vol-1.1")]);
    assert_eq!(
        still_attached(&pattern, &node_with(&["x^vol-1x1"])),
        ["vol-1.1"],
        "IDs are regular expressions, as in Go"
    );
    let invalid = tracked(&[("pv", "vol-(")]);
    assert!(
        still_attached(&invalid, &node_with(&["x^vol-("])).is_empty(),
        "an invalid expression never matches"
    );
}

#[test]
fn reattachment_needs_an_attached_volume_on_another_node() {
    let volumes = tracked(&[("pv-1", "vol-1"), ("pv-2", "vol-2")]);
    let attachment = |pv: &str, node: &str, attached: bool| Attachment {
        persistent_volume: Some(pv.to_owned()),
        node: node.to_owned(),
        attached,
    };
    let rows = [
        ("no attachments yet", vec![], vec!["pv-1", "pv-2"]),
        (
            "one moved, one still on the drained node",
            vec![
                attachment("pv-1", "other", true),
                attachment("pv-2", "drained", true),
            ],
            vec!["pv-2"],
        ),
        (
            "attachment on another node not attached yet",
            vec![
                attachment("pv-1", "other", false),
                attachment("pv-2", "other", true),
            ],
            vec!["pv-1"],
        ),
        (
            "both moved",
            vec![attachment("pv-1", "a", true), attachment("pv-2", "b", true)],
            vec![],
        ),
        (
            "inline volumes are ignored",
            vec![Attachment {
                persistent_volume: None,
                node: "other".to_owned(),
                attached: true,
            }],
            vec!["pv-1", "pv-2"],
        ),
    ];
    for (rule, attachments, expected) in rows {
        assert_eq!(
            awaiting_reattachment(&volumes, "drained", &attachments),
            expected,
            "{rule}"
        );
    }
}
