//! Fault injection through the running service: seeded error rates fail the same calls on every
//! run (and exactly the calls the pure decision function predicts), each fault kind reaches the
//! client as the right `CloudError`, and latency, timeouts, outages and zone quotas behave.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use mcm_simulated_cloud::faults::decide;
use mcm_simulated_cloud::{
    CloudConfig, CloudError, CreateInstance, FaultConfig, InstanceFilter, Operation, SimulatedCloud,
};

const TOKEN: &str = "fault-token";

fn request(name: &str, zone: &str) -> CreateInstance {
    CreateInstance {
        name: name.into(),
        image: "img".into(),
        machine_type: "m1.small".into(),
        zone: zone.into(),
        ..Default::default()
    }
}

/// Runs `n` sequential creates against a fresh cloud with `faults`; returns which calls failed.
async fn failing_creates(faults: &FaultConfig, seed: u64, n: usize) -> (Vec<usize>, String) {
    let mut config = CloudConfig::in_memory(TOKEN);
    config.seed = seed;
    config.faults = faults.clone();
    config.boot_delay = Duration::ZERO;
    let cloud = SimulatedCloud::start(config).await.unwrap();
    let client = cloud.client().unwrap();
    let mut failed = Vec::new();
    for i in 0..n {
        match client
            .create_instance(&request(&format!("vm-{i}"), "zone-a"))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                assert!(
                    matches!(e, CloudError::Unavailable { status: 503, .. }),
                    "{e}"
                );
                assert!(e.is_retryable());
                assert!(e.to_string().contains("injected"), "{e}");
                failed.push(i);
            }
        }
    }
    let metrics = client.metrics_text().await.unwrap();
    cloud.shutdown().await.unwrap();
    (failed, metrics)
}

#[tokio::test]
async fn seeded_error_rate_fails_the_same_calls_every_run() {
    let faults = FaultConfig::from_json(r#"{"operations":{"create":{"errorRate":0.3}}}"#).unwrap();
    let (first, metrics) = failing_creates(&faults, 42, 60).await;
    let (second, _) = failing_creates(&faults, 42, 60).await;
    assert_eq!(first, second);
    // Exactly the calls the pure decision function names.
    let predicted: Vec<usize> = (0..60)
        .filter(|i| {
            decide(&faults, 42, Operation::Create, *i as u64, Duration::ZERO)
                .failure
                .is_some()
        })
        .collect();
    assert_eq!(first, predicted);
    assert!(!first.is_empty() && first.len() < 60, "{first:?}");
    // Metrics count them.
    let line = format!(
        "simcloud_injected_faults_total{{operation=\"create\",kind=\"unavailable\"}} {}",
        first.len()
    );
    assert!(metrics.contains(&line), "missing {line} in\n{metrics}");
    let ok_line = format!(
        "simcloud_requests_total{{operation=\"create\",code=\"201\"}} {}",
        60 - first.len()
    );
    assert!(
        metrics.contains(&ok_line),
        "missing {ok_line} in\n{metrics}"
    );
    // Every call, failed or not, has a latency sample.
    let latency_count = "simcloud_request_duration_seconds_count{operation=\"create\"} 60";
    assert!(
        metrics.contains(latency_count),
        "missing {latency_count} in\n{metrics}"
    );
    // A different seed picks different calls.
    let (other_seed, _) = failing_creates(&faults, 43, 60).await;
    assert_ne!(first, other_seed);
}

#[tokio::test]
async fn fault_kinds_map_to_typed_errors() {
    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    let client = cloud.client().unwrap();
    let admin = cloud.admin_client().unwrap();
    let vm = client
        .create_instance(&request("kinds", "zone-a"))
        .await
        .unwrap();

    admin
        .set_faults(
            &FaultConfig::from_json(
                r#"{"operations":{
                    "create":{"failFirst":1,"errorKind":"quotaExceeded"},
                    "get":{"failFirst":1,"errorKind":"notFound"},
                    "list":{"failFirst":1,"errorKind":"throttled"},
                    "delete":{"failFirst":1,"errorKind":"internal"}}}"#,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let e = client
        .create_instance(&request("kinds-2", "zone-a"))
        .await
        .unwrap_err();
    assert!(matches!(e, CloudError::QuotaExceeded { .. }), "{e}");
    let e = client.get_instance(&vm.id).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = client
        .list_instances(&InstanceFilter::all())
        .await
        .unwrap_err();
    assert!(
        matches!(e, CloudError::Throttled { .. }) && e.is_retryable(),
        "{e}"
    );
    let e = client.delete_instance(&vm.id).await.unwrap_err();
    assert!(
        matches!(e, CloudError::Unavailable { status: 500, .. }),
        "{e}"
    );
    // failFirst: 1 — the second call of each goes through.
    client.get_instance(&vm.id).await.unwrap();
    client.delete_instance(&vm.id).await.unwrap();
    // The configuration reads back as set, and clearing removes it.
    let read = admin.get_faults().await.unwrap();
    assert_eq!(read.operations.len(), 4);
    admin.clear_faults().await.unwrap();
    assert!(admin.get_faults().await.unwrap().operations.is_empty());
}

#[tokio::test]
async fn latency_and_timeouts() {
    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    cloud
        .set_faults(
            FaultConfig::from_json(
                r#"{"operations":{"list":{"latency":"300ms"},
                    "get":{"errorRate":1.0,"errorKind":"timeout"}},
                    "timeoutHang":"5s"}"#,
            )
            .unwrap(),
        )
        .unwrap();
    let client = cloud.client().unwrap();
    let started = Instant::now();
    client.list_instances(&InstanceFilter::all()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    let impatient = client.clone().with_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let e = impatient.get_instance("i-1").await.unwrap_err();
    assert!(
        matches!(e, CloudError::Timeout { .. }) && e.is_retryable(),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // Shutdown does not wait for the hanging request's full 5s.
    let started = Instant::now();
    cloud.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn outage_window_fails_everything_then_ends() {
    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    let client = cloud.client().unwrap();
    cloud
        .admin_client()
        .unwrap()
        .set_faults(
            &FaultConfig::from_json(r#"{"outages":[{"startsAfter":"0s","duration":"700ms"}]}"#)
                .unwrap(),
        )
        .await
        .unwrap();
    let e = client
        .list_instances(&InstanceFilter::all())
        .await
        .unwrap_err();
    assert!(
        matches!(e, CloudError::Unavailable { status: 503, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("outage"), "{e}");
    assert!(
        client
            .create_instance(&request("during", "zone-a"))
            .await
            .is_err()
    );
    // Admin calls are not part of the outage.
    cloud.admin_client().unwrap().get_faults().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    client
        .create_instance(&request("after", "zone-a"))
        .await
        .unwrap();
}

#[tokio::test]
async fn zone_quota_limits_live_instances_per_zone() {
    let mut config = CloudConfig::in_memory(TOKEN);
    config.faults = FaultConfig::from_json(r#"{"zoneQuotas":{"zone-a":2}}"#).unwrap();
    let cloud = SimulatedCloud::start(config).await.unwrap();
    let client = cloud.client().unwrap();
    let a = client
        .create_instance(&request("q1", "zone-a"))
        .await
        .unwrap();
    client
        .create_instance(&request("q2", "zone-a"))
        .await
        .unwrap();
    let e = client
        .create_instance(&request("q3", "zone-a"))
        .await
        .unwrap_err();
    assert!(matches!(e, CloudError::QuotaExceeded { .. }), "{e}");
    assert!(e.to_string().contains("zone-a"), "{e}");
    // Other zones are not limited; freeing a slot lets the create through.
    client
        .create_instance(&request("q4", "zone-b"))
        .await
        .unwrap();
    client.delete_instance(&a.id).await.unwrap();
    client
        .create_instance(&request("q3", "zone-a"))
        .await
        .unwrap();
}

#[tokio::test]
async fn invalid_fault_configuration_is_rejected_with_the_field() {
    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    let addr = cloud.addr();
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let body = r#"{"operations":{"create":{"errorRate":2}}}"#;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "PUT /admin/v1/faults HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("\"field\":\"operations.create.errorRate\""),
        "{response}"
    );
}
