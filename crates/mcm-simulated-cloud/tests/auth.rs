//! Token auth: a wrong or missing token is a 401 with a message that says what to do and never
//! echoes a token; the admin API can have its own token; nothing secret reaches the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use mcm_simulated_cloud::{
    CloudClient, CloudConfig, CloudError, CreateInstance, FaultConfig, InstanceFilter,
    SimulatedCloud,
};

const TOKEN: &str = "right-token-7f3a";
const WRONG: &str = "wrong-token-c0de";
const ADMIN: &str = "admin-token-99b1";

#[tokio::test]
async fn wrong_token_is_401_with_a_clear_message_that_echoes_no_token() {
    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    let bad = CloudClient::new(cloud.url(), WRONG).unwrap();
    let err = bad
        .list_instances(&InstanceFilter::all())
        .await
        .unwrap_err();
    let CloudError::Unauthorized { message, .. } = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert!(message.contains("not valid"), "{message}");
    assert!(message.contains("--token"), "{message}");
    let text = err.to_string();
    assert!(!text.contains(WRONG) && !text.contains(TOKEN), "{text}");
    assert!(!err.is_retryable());
    // Every operation is guarded, including create.
    let err = bad
        .create_instance(&CreateInstance {
            name: "x".into(),
            image: "i".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::Unauthorized { .. }), "{err}");
    assert!(bad.get_instance("i-1").await.is_err());
    // The right token works.
    cloud
        .client()
        .unwrap()
        .list_instances(&InstanceFilter::all())
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_header_says_how_to_authenticate() {
    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    let addr = cloud.addr();
    let response = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /v1/instances HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(
        response.contains("Authorization: Bearer <token>"),
        "{response}"
    );
    assert!(response.contains("\"code\":\"Unauthorized\""), "{response}");
}

#[tokio::test]
async fn separate_admin_token_guards_the_admin_api_only() {
    let mut config = CloudConfig::in_memory(TOKEN);
    config.admin_token = Some(ADMIN.into());
    let cloud = SimulatedCloud::start(config).await.unwrap();
    let user = cloud.client().unwrap();
    let admin = cloud.admin_client().unwrap();

    let err = user.get_faults().await.unwrap_err();
    assert!(matches!(err, CloudError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("admin token"), "{err}");
    admin.set_faults(&FaultConfig::default()).await.unwrap();
    // The admin token is not a cloud token.
    let err = admin
        .list_instances(&InstanceFilter::all())
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::Unauthorized { .. }), "{err}");
    // Metrics need no token.
    let text = CloudClient::new(cloud.url(), "anything")
        .unwrap()
        .metrics_text()
        .await
        .unwrap();
    assert!(text.contains("simcloud_requests_total"), "{text}");
    assert!(text.contains("code=\"401\""), "{text}");
}
