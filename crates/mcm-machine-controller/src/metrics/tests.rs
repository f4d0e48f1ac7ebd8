//! The exposition compared line by line with MCM's names, labels and values.

use super::*;
use serde_json::json;

fn machine(value: serde_json::Value) -> Machine {
    serde_json::from_value(value).unwrap()
}

fn class(value: serde_json::Value) -> MachineClass {
    serde_json::from_value(value).unwrap()
}

/// A Machine of MachineDeployment `md` in zone `eu-1a`.
fn deployment_machine() -> Machine {
    machine(json!({
        "metadata": {"name": "m1", "namespace": "ns", "labels": {"name": "md"}},
        "spec": {
            "class": {"kind": "MachineClass", "name": "c1"},
            "nodeTemplate": {"metadata": {"labels": {"topology.kubernetes.io/zone": "eu-1a"}}}
        }
    }))
}

fn class_with_template() -> MachineClass {
    class(json!({
        "metadata": {"name": "c1", "namespace": "ns"},
        "providerSpec": {},
        "nodeTemplate": {
            "capacity": {"cpu": "2", "gpu": "0", "memory": "8Gi"},
            "instanceType": "m5.large", "region": "eu-1", "zone": "eu-1a"
        }
    }))
}

fn class_without_template() -> MachineClass {
    class(json!({"metadata": {"name": "c1", "namespace": "ns"}, "providerSpec": {}}))
}

/// The sample lines (not comments) of `text` whose name is `family` or starts with `family{`.
fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in:\n{text}"
    );
}

#[test]
fn cloud_api_families_have_mcm_names_and_labels() {
    let m = Metrics::new();
    m.record_cloud_api_request("aws", "ec2");
    m.record_cloud_api_request("aws", "ec2");
    m.record_cloud_api_request_failed("aws", "ec2");
    m.observe_cloud_api_request_duration("aws", "ec2", 0.2);
    m.observe_driver_request("aws", "CreateMachine", 3.0);
    m.record_driver_request_failed("aws", "DeleteMachine", Code::NotFound);
    m.record_driver_request_failed("aws", "DeleteMachine", Code::Uninitialized);
    let text = m.encode();

    has_line(&text, "# TYPE mcm_cloud_api_requests_total counter");
    has_line(
        &text,
        "# HELP mcm_cloud_api_requests_total Number of Cloud Service API requests, partitioned by provider, and service.",
    );
    has_line(
        &text,
        r#"mcm_cloud_api_requests_total{provider="aws",service="ec2"} 2"#,
    );
    has_line(
        &text,
        r#"mcm_cloud_api_requests_failed_total{provider="aws",service="ec2"} 1"#,
    );
    has_line(
        &text,
        "# TYPE mcm_cloud_api_api_request_duration_seconds histogram",
    );
    has_line(
        &text,
        r#"mcm_cloud_api_api_request_duration_seconds_count{provider="aws",service="ec2"} 1"#,
    );
    has_line(
        &text,
        r#"mcm_cloud_api_driver_request_duration_seconds_sum{provider="aws",operation="CreateMachine"} 3.0"#,
    );
    has_line(
        &text,
        r#"mcm_cloud_api_driver_requests_failed_total{provider="aws",operation="DeleteMachine",error_code="5"} 1"#,
    );
    has_line(
        &text,
        r#"mcm_cloud_api_driver_requests_failed_total{provider="aws",operation="DeleteMachine",error_code="17"} 1"#,
    );

    // Go's DefBuckets plus +Inf.
    let bounds: Vec<&str> = samples(&text, "mcm_cloud_api_api_request_duration_seconds_bucket")
        .iter()
        .map(|line| {
            line.split("le=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    let expected: Vec<String> = DEFAULT_BUCKETS
        .iter()
        .map(|b| b.to_string())
        .chain(["+Inf".to_owned()])
        .collect();
    assert_eq!(
        bounds
            .iter()
            .map(|b| b.parse::<f64>().unwrap().to_string())
            .collect::<Vec<_>>()[..11],
        expected[..11]
    );
    assert_eq!(bounds.last(), Some(&"+Inf"));
    assert_eq!(bounds.len(), 12);
}

#[test]
fn scrape_failures_carry_the_binary_label() {
    let m = Metrics::new();
    assert!(
        samples(&m.encode(), "mcm_misc_scrape_failure_total").is_empty(),
        "no series before the first failure"
    );
    m.record_scrape_failure("Machine-count");
    let text = m.encode();
    has_line(&text, "# TYPE mcm_misc_scrape_failure_total counter");
    has_line(
        &text,
        r#"mcm_misc_scrape_failure_total{binary="machine-controller-manager-provider",kind="Machine-count"} 1"#,
    );
}

#[test]
fn failed_join_is_exposed_under_mcms_exact_name() {
    let m = Metrics::new();
    let machine = deployment_machine();
    m.record_failed_join(&machine, Some(&class_with_template()));
    m.record_failed_join(&machine, Some(&class_with_template()));
    let text = m.encode();
    has_line(&text, "# TYPE mcm_machine_num_failed_join untyped");
    has_line(
        &text,
        "# HELP mcm_machine_num_failed_join Number of Machines of a MachineDeployment that failed to join the cluster.",
    );
    has_line(
        &text,
        r#"mcm_machine_num_failed_join{namespace="ns",machine_deployment="md",instance_type="m5.large",zone="eu-1a"} 2"#,
    );
    assert!(
        !text.contains("mcm_machine_num_failed_join_total"),
        "{text}"
    );
}

#[test]
fn duration_labels_follow_mcm_and_never_panic() {
    let with = class_with_template();
    let without = class_without_template();
    let no_name = machine(json!({"metadata": {"name": "m2", "namespace": "ns"}}));
    let no_zone =
        machine(json!({"metadata": {"name": "m3", "namespace": "ns", "labels": {"name": "md2"}}}));
    type Case<'a> = (
        &'a str,
        DurationKind,
        &'a Machine,
        Option<&'a MachineClass>,
        f64,
        Option<&'a str>,
    );
    let m1 = deployment_machine();
    let cases: &[Case] = &[
        (
            "create with nodeTemplate",
            DurationKind::Create,
            &m1,
            Some(&with),
            61.4,
            Some(
                r#"mcm_machine_create_duration_seconds{namespace="ns",machine_deployment="md",instance_type="m5.large",zone="eu-1a"} 61.0"#,
            ),
        ),
        (
            "initialize rounds half up",
            DurationKind::Initialize,
            &m1,
            Some(&with),
            2.5,
            Some(
                r#"mcm_machine_initialize_duration_seconds{namespace="ns",machine_deployment="md",instance_type="m5.large",zone="eu-1a"} 3.0"#,
            ),
        ),
        (
            "join, class without nodeTemplate: empty placement",
            DurationKind::Join,
            &m1,
            Some(&without),
            300.0,
            Some(
                r#"mcm_machine_join_duration_seconds{namespace="ns",machine_deployment="md",instance_type="",zone=""} 300.0"#,
            ),
        ),
        (
            "delete, class unknown: empty placement",
            DurationKind::Delete,
            &m1,
            None,
            10.0,
            Some(
                r#"mcm_machine_delete_duration_seconds{namespace="ns",machine_deployment="md",instance_type="",zone=""} 10.0"#,
            ),
        ),
        (
            "drain has two labels",
            DurationKind::Drain,
            &m1,
            Some(&with),
            42.0,
            Some(
                r#"mcm_machine_drain_duration_seconds{namespace="ns",machine_deployment="md"} 42.0"#,
            ),
        ),
        (
            "no zone label: empty zone",
            DurationKind::Create,
            &no_zone,
            Some(&with),
            5.0,
            Some(
                r#"mcm_machine_create_duration_seconds{namespace="ns",machine_deployment="md2",instance_type="m5.large",zone=""} 5.0"#,
            ),
        ),
        (
            "no name label: skipped",
            DurationKind::Create,
            &no_name,
            Some(&with),
            5.0,
            None,
        ),
        (
            "zero: skipped",
            DurationKind::Delete,
            &m1,
            Some(&with),
            0.0,
            None,
        ),
    ];
    for (case, kind, machine, class, seconds, expected) in cases {
        let m = Metrics::new();
        m.observe_machine_duration(*kind, machine, *class, *seconds);
        let text = m.encode();
        let family = match kind {
            DurationKind::Create => "mcm_machine_create_duration_seconds",
            DurationKind::Initialize => "mcm_machine_initialize_duration_seconds",
            DurationKind::Join => "mcm_machine_join_duration_seconds",
            DurationKind::Drain => "mcm_machine_drain_duration_seconds",
            DurationKind::Delete => "mcm_machine_delete_duration_seconds",
        };
        let found = samples(&text, family);
        match expected {
            Some(line) => assert_eq!(found, [*line], "{case}"),
            None => assert!(found.is_empty(), "{case}: {found:?}"),
        }
    }
    let m = Metrics::new();
    m.record_failed_join(&no_name, Some(&with));
    assert!(samples(&m.encode(), "mcm_machine_num_failed_join").is_empty());
}

#[test]
fn duration_gauges_keep_the_latest_value() {
    let m = Metrics::new();
    let machine = deployment_machine();
    m.observe_machine_duration(
        DurationKind::Create,
        &machine,
        Some(&class_with_template()),
        30.0,
    );
    m.observe_machine_duration(
        DurationKind::Create,
        &machine,
        Some(&class_with_template()),
        90.0,
    );
    let text = m.encode();
    let found = samples(&text, "mcm_machine_create_duration_seconds");
    assert_eq!(found.len(), 1);
    assert!(found[0].ends_with(" 90.0"), "{found:?}");
}

#[test]
fn phase_values_match_mcm() {
    let table = [
        (MachinePhase::Terminating, -4),
        (MachinePhase::Failed, -3),
        (MachinePhase::CrashLoopBackOff, -2),
        (MachinePhase::Unknown, -1),
        (MachinePhase::Pending, 0),
        (MachinePhase::Running, 1),
        (MachinePhase::Unset, 0),
        (MachinePhase::Available, 0),
        (MachinePhase::InPlaceUpdating, 0),
        (MachinePhase::InPlaceUpdateSuccessful, 0),
        (MachinePhase::InPlaceUpdateFailed, 0),
    ];
    for (phase, value) in table {
        assert_eq!(phase_value(&phase), value, "{phase:?}");
    }
}

struct Fixed {
    machines: Vec<Arc<Machine>>,
    frozen: bool,
}

impl MachineSnapshot for Fixed {
    fn machines(&self) -> Vec<Arc<Machine>> {
        self.machines.clone()
    }
    fn frozen(&self) -> bool {
        self.frozen
    }
}

#[test]
fn scrape_time_families_come_from_the_snapshot() {
    let m = Metrics::new();
    let before = m.encode();
    assert!(
        !before.contains("mcm_machine_items_total"),
        "nothing before the caches sync:\n{before}"
    );

    let running = machine(json!({
        "metadata": {
            "name": "a", "namespace": "ns", "creationTimestamp": "2024-01-02T03:04:05Z",
            "labels": {"node": "node-a", "name": "md"}
        },
        "spec": {"class": {"apiGroup": "machine.sapcloud.io", "kind": "MachineClass", "name": "c1"},
                 "providerID": "sim:///a"},
        "status": {
            "currentStatus": {"phase": "Running"},
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "False"},
                {"type": "KernelDeadlock", "status": "Unknown"}
            ]
        }
    }));
    let failed = machine(json!({
        "metadata": {"name": "b", "namespace": "ns", "creationTimestamp": "2024-01-02T03:04:06Z"},
        "spec": {"class": {"kind": "MachineClass", "name": "c1"}},
        "status": {"currentStatus": {"phase": "Failed"}}
    }));
    let fresh = machine(json!({"metadata": {"name": "c", "namespace": "ns"}}));
    m.set_snapshot(Arc::new(Fixed {
        machines: vec![Arc::new(running), Arc::new(failed), Arc::new(fresh)],
        frozen: true,
    }));
    let text = m.encode();
    has_line(&text, "# TYPE mcm_machine_items_total gauge");
    has_line(&text, "mcm_machine_items_total 3");
    has_line(&text, "mcm_machine_controller_frozen 1");
    has_line(
        &text,
        r#"mcm_machine_current_status_phase{name="a",namespace="ns"} 1"#,
    );
    has_line(
        &text,
        r#"mcm_machine_current_status_phase{name="b",namespace="ns"} -3"#,
    );
    has_line(
        &text,
        r#"mcm_machine_current_status_phase{name="c",namespace="ns"} 0"#,
    );
    has_line(
        &text,
        r#"mcm_machine_info{name="a",namespace="ns",createdAt="1704164645",spec_provider_id="sim:///a",spec_class_api_group="machine.sapcloud.io",spec_class_kind="MachineClass",spec_class_name="c1",node_name="node-a"} 1"#,
    );
    has_line(
        &text,
        r#"mcm_machine_info{name="b",namespace="ns",createdAt="1704164646",spec_provider_id="",spec_class_api_group="",spec_class_kind="MachineClass",spec_class_name="c1",node_name=""} 1"#,
    );
    has_line(
        &text,
        r#"mcm_machine_status_condition{name="a",namespace="ns",condition="Ready"} 1"#,
    );
    has_line(
        &text,
        r#"mcm_machine_status_condition{name="a",namespace="ns",condition="DiskPressure"} 0"#,
    );
    has_line(
        &text,
        r#"mcm_machine_status_condition{name="a",namespace="ns",condition="KernelDeadlock"} 2"#,
    );
    assert_eq!(samples(&text, "mcm_machine_status_condition").len(), 3);
    has_line(
        &text,
        "# HELP mcm_machine_current_status_phase Current status phase of the Machines currently managed by the mcm.",
    );

    // Deleted machines disappear with the next scrape; frozen follows the snapshot.
    m.set_snapshot(Arc::new(Fixed {
        machines: Vec::new(),
        frozen: false,
    }));
    let text = m.encode();
    has_line(&text, "mcm_machine_items_total 0");
    has_line(&text, "mcm_machine_controller_frozen 0");
    assert!(samples(&text, "mcm_machine_info").is_empty(), "{text}");

    m.clear_snapshot();
    assert!(!m.encode().contains("mcm_machine_items_total"));
}

#[test]
fn work_queue_metrics() {
    let m = Metrics::new();
    m.queue_added("machine");
    m.queue_added("machine");
    m.queue_depth("machine", 7);
    m.queue_latency("machine", 0.000_5);
    m.work_duration("machine", 2.0);
    m.unfinished_work("machine", 1.5);
    m.longest_running_processor("machine", 0.25);
    m.retry("machine");
    let handle = m.work_queue("secret");
    handle.added();
    handle.set_depth(1);
    handle.retried();
    handle.observe_work_duration(0.1);
    let text = m.encode();
    for line in [
        r#"mcm_workqueue_adds_total{name="machine"} 2"#,
        r#"mcm_workqueue_depth{name="machine"} 7"#,
        r#"mcm_workqueue_retries_total{name="machine"} 1"#,
        r#"mcm_workqueue_unfinished_work_seconds{name="machine"} 1.5"#,
        r#"mcm_workqueue_longest_running_processor_seconds{name="machine"} 0.25"#,
        r#"mcm_workqueue_queue_duration_seconds_count{name="machine"} 1"#,
        r#"mcm_workqueue_work_duration_seconds_sum{name="machine"} 2.0"#,
        r#"mcm_workqueue_adds_total{name="secret"} 1"#,
        r#"mcm_workqueue_depth{name="secret"} 1"#,
        r#"mcm_workqueue_retries_total{name="secret"} 1"#,
        r#"mcm_workqueue_work_duration_seconds_count{name="secret"} 1"#,
        "# TYPE mcm_workqueue_adds_total counter",
        "# TYPE mcm_workqueue_depth gauge",
    ] {
        has_line(&text, line);
    }
    // Buckets: 1e-8 × 10^k, k = 0..9, then +Inf.
    let bounds: Vec<f64> = samples(&text, "mcm_workqueue_work_duration_seconds_bucket")
        .iter()
        .filter(|l| l.contains(r#"name="machine""#))
        .filter_map(|line| line.split("le=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    assert_eq!(bounds.len(), 11, "{bounds:?}");
    for (k, bound) in bounds.iter().take(10).enumerate() {
        let expected = 1e-8 * 10f64.powi(k as i32);
        assert!(
            (bound / expected - 1.0).abs() < 1e-9,
            "bucket {k}: {bound} vs {expected}"
        );
    }
    assert!(bounds[10].is_infinite());
    // The queue latency of 0.5 ms lands in the 1 ms bucket, not the 0.1 ms one.
    has_line(
        &text,
        r#"mcm_workqueue_queue_duration_seconds_bucket{name="machine",le="0.0001"} 0"#,
    );
    has_line(
        &text,
        r#"mcm_workqueue_queue_duration_seconds_bucket{name="machine",le="0.001"} 1"#,
    );
}

#[test]
fn providers_can_register_their_own_families() {
    let m = Metrics::new();
    let gauge: Gauge = Gauge::default();
    m.with_registry(|r| r.register("my_provider_quota", "Quota left", gauge.clone()));
    gauge.set(4);
    has_line(&m.encode(), "my_provider_quota 4");
}

#[test]
fn global_is_one_instance() {
    let a = global();
    let b = global();
    assert!(Arc::ptr_eq(&a, &b));
    a.record_cloud_api_request("p-global-test", "s");
    assert!(b.encode().contains(r#"provider="p-global-test""#));
}
