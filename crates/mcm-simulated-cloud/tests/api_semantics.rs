//! The instance API as a driver sees it: idempotent create, delete of a missing instance, list by
//! tags, validation, name conflicts, the boot lifecycle, and user data that never comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use mcm_simulated_cloud::{
    CloudConfig, CloudError, CreateInstance, InstanceFilter, InstanceStatus, ProviderId,
    SimulatedCloud,
};

const TOKEN: &str = "test-token-1";

fn request(name: &str) -> CreateInstance {
    CreateInstance {
        name: name.into(),
        image: "gardenlinux-1592".into(),
        machine_type: "m1.small".into(),
        zone: "zone-a".into(),
        tags: BTreeMap::new(),
        user_data: format!("#cloud-config\nbootstrap-token: secret-for-{name}\n"),
        idempotency_key: None,
    }
}

fn tagged(name: &str, tags: &[(&str, &str)]) -> CreateInstance {
    let mut r = request(name);
    r.tags = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    r
}

async fn start(boot_delay: Duration) -> mcm_simulated_cloud::RunningCloud {
    let mut config = CloudConfig::in_memory(TOKEN);
    config.boot_delay = boot_delay;
    SimulatedCloud::start(config).await.unwrap()
}

#[tokio::test]
async fn retried_create_with_the_same_key_returns_the_same_instance() {
    let cloud = start(Duration::ZERO).await;
    let client = cloud.client().unwrap();
    let mut req = request("worker-a");
    req.idempotency_key = Some("machine-uid-1234".into());

    let first = client.create_instance(&req).await.unwrap();
    let second = client.create_instance(&req).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.private_ip, second.private_ip);
    assert_eq!(
        client
            .list_instances(&InstanceFilter::all())
            .await
            .unwrap()
            .len(),
        1
    );

    // The same key for a different request is a conflict, not a second instance.
    let mut other = request("worker-b");
    other.idempotency_key = req.idempotency_key.clone();
    let err = client.create_instance(&other).await.unwrap_err();
    assert!(matches!(err, CloudError::Conflict { .. }), "{err}");

    // Without a key, a second create of the same name is a conflict too (names are Node names).
    let mut no_key = request("worker-a");
    no_key.idempotency_key = None;
    let err = client.create_instance(&no_key).await.unwrap_err();
    assert!(matches!(err, CloudError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains(&first.id), "{err}");
    cloud.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_retries_with_one_key_make_one_instance() {
    let cloud = start(Duration::ZERO).await;
    let client = cloud.client().unwrap();
    let mut req = request("worker-c");
    req.idempotency_key = Some("uid-concurrent".into());
    let calls = (0..8).map(|_| {
        let client = client.clone();
        let req = req.clone();
        tokio::spawn(async move { client.create_instance(&req).await.unwrap().id })
    });
    let ids: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(
        client
            .list_instances(&InstanceFilter::all())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn delete_of_a_missing_instance_is_not_found() {
    let cloud = start(Duration::ZERO).await;
    let client = cloud.client().unwrap();
    let err = client
        .delete_instance("i-0000000000000000")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!err.is_retryable());

    let vm = client.create_instance(&request("worker-d")).await.unwrap();
    let deleted = client.delete_instance(&vm.id).await.unwrap();
    assert_eq!(deleted.id, vm.id);
    // Gone at once: get and a second delete are 404, list no longer shows it.
    assert!(
        client
            .get_instance(&vm.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        client
            .delete_instance(&vm.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        client
            .list_instances(&InstanceFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
    // A key whose instance was deleted cannot silently create another one.
    let mut keyed = request("worker-e");
    keyed.idempotency_key = Some("uid-e".into());
    let e = client.create_instance(&keyed).await.unwrap();
    client.delete_instance(&e.id).await.unwrap();
    let err = client.create_instance(&keyed).await.unwrap_err();
    assert!(matches!(err, CloudError::Conflict { .. }), "{err}");
}

#[tokio::test]
async fn list_filters_by_all_given_tags_name_and_zone() {
    let cloud = start(Duration::ZERO).await;
    let client = cloud.client().unwrap();
    let cluster = "kubernetes.io/cluster/shoot--dev--a";
    let a = client
        .create_instance(&tagged("a", &[(cluster, "1"), ("role", "worker")]))
        .await
        .unwrap();
    let b = client
        .create_instance(&tagged("b", &[(cluster, "1"), ("role", "infra")]))
        .await
        .unwrap();
    let mut c_req = tagged(
        "c",
        &[("kubernetes.io/cluster/other", "1"), ("role", "worker")],
    );
    c_req.zone = "zone-b".into();
    let c = client.create_instance(&c_req).await.unwrap();

    let ids = |list: Vec<mcm_simulated_cloud::Instance>| -> Vec<String> {
        list.into_iter().map(|i| i.id).collect()
    };
    let by_cluster = client
        .list_instances(&InstanceFilter::all().tag(cluster, "1"))
        .await
        .unwrap();
    assert_eq!(ids(by_cluster), [a.id.clone(), b.id.clone()]);
    let workers_of_cluster = client
        .list_instances(
            &InstanceFilter::all()
                .tag(cluster, "1")
                .tag("role", "worker"),
        )
        .await
        .unwrap();
    assert_eq!(ids(workers_of_cluster), std::slice::from_ref(&a.id));
    let all_workers = client
        .list_instances(&InstanceFilter::all().tag("role", "worker"))
        .await
        .unwrap();
    assert_eq!(ids(all_workers), [a.id.clone(), c.id.clone()]);
    let wrong_value = client
        .list_instances(&InstanceFilter::all().tag(cluster, "0"))
        .await
        .unwrap();
    assert!(wrong_value.is_empty());
    let zone_b = client
        .list_instances(&InstanceFilter::all().zone("zone-b"))
        .await
        .unwrap();
    assert_eq!(ids(zone_b), std::slice::from_ref(&c.id));
    let named = client
        .list_instances(&InstanceFilter::all().name("b"))
        .await
        .unwrap();
    assert_eq!(ids(named), [b.id]);
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let cloud = start(Duration::ZERO).await;
    let client = cloud.client().unwrap();
    let mut bad = request("worker-f");
    bad.machine_type = "m9.gigantic".into();
    match client.create_instance(&bad).await.unwrap_err() {
        CloudError::InvalidRequest { field, message } => {
            assert_eq!(field, "machineType");
            assert!(message.contains("m1.small"), "{message}");
        }
        other => panic!("{other}"),
    }
    let mut bad = request("Worker_F");
    bad.name = "Worker_F".into();
    match client.create_instance(&bad).await.unwrap_err() {
        CloudError::InvalidRequest { field, .. } => assert_eq!(field, "name"),
        other => panic!("{other}"),
    }
    let types = client.machine_types().await.unwrap();
    assert!(types.iter().any(|t| t.name == "m1.small" && t.cpu == 2));
}

#[tokio::test]
async fn instance_boots_after_the_delay_with_provider_id_and_ip() {
    let cloud = start(Duration::from_millis(400)).await;
    let client = cloud.client().unwrap();
    let a = client.create_instance(&request("boot-a")).await.unwrap();
    let b = client.create_instance(&request("boot-b")).await.unwrap();
    assert_eq!(a.status, InstanceStatus::Pending);
    assert!(a.id.starts_with("i-") && a.id.len() == 18, "{}", a.id);
    assert_eq!(a.hostname, "boot-a");
    let pid = ProviderId::parse(&a.provider_id).unwrap();
    assert_eq!(
        (pid.zone.as_str(), pid.instance_id.as_str()),
        ("zone-a", a.id.as_str())
    );
    // Addresses come from 10.0.0.0/8 in creation order.
    assert_eq!(a.private_ip.to_string(), "10.0.0.2");
    assert_eq!(b.private_ip.to_string(), "10.0.0.3");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = client.get_instance(&a.id).await.unwrap();
        if now.status == InstanceStatus::Running {
            let running_at = now.running_at.unwrap();
            let boot = running_at.duration_since(now.created_at);
            assert!(boot >= jiff::SignedDuration::from_millis(400), "{boot:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance still pending after 5s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Raw HTTP, to see exactly what goes over the wire.
fn raw_get(addr: std::net::SocketAddr, path: &str, token: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn user_data_is_never_returned_only_its_hash_and_length() {
    let cloud = start(Duration::ZERO).await;
    let client = cloud.client().unwrap();
    let req = request("secretive");
    let vm = client.create_instance(&req).await.unwrap();
    assert_eq!(vm.user_data_bytes, req.user_data.len());
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(req.user_data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(vm.user_data_sha256, expected);

    let addr = cloud.addr();
    let id = vm.id.clone();
    let bodies = tokio::task::spawn_blocking(move || {
        [
            raw_get(addr, &format!("/v1/instances/{id}"), TOKEN),
            raw_get(addr, "/v1/instances", TOKEN),
            raw_get(addr, "/admin/v1/instances", TOKEN),
        ]
    })
    .await
    .unwrap();
    for body in bodies {
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(!body.contains("secret-for-secretive"), "{body}");
        assert!(!body.contains("userData\""), "{body}");
    }
}
