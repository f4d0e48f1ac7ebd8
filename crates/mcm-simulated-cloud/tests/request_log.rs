//! The request log names requests (method, path, status, instance) but never the token, a wrong
//! token or user data. Its own test binary: a scoped tracing subscriber is not reliable while
//! other tests in the same process register callsites concurrently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use mcm_simulated_cloud::{CloudClient, CloudConfig, CreateInstance, SimulatedCloud};

const TOKEN: &str = "right-token-7f3a";
const WRONG: &str = "wrong-token-c0de";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn request_log_holds_requests_but_no_token_or_user_data() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cloud = SimulatedCloud::start(CloudConfig::in_memory(TOKEN))
        .await
        .unwrap();
    let client = cloud.client().unwrap();
    let user_data = "#cloud-config\ntoken: bootstrap-secret-4242\n";
    let vm = client
        .create_instance(&CreateInstance {
            name: "logged".into(),
            image: "i".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            user_data: user_data.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = CloudClient::new(cloud.url(), WRONG)
        .unwrap()
        .get_instance(&vm.id)
        .await;
    cloud.shutdown().await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("POST") && log.contains("/v1/instances"),
        "{log}"
    );
    assert!(log.contains("status=401"), "{log}");
    assert!(log.contains(&vm.id), "{log}");
    for secret in [TOKEN, WRONG, "bootstrap-secret-4242"] {
        assert!(!log.contains(secret), "log leaks {secret}:\n{log}");
    }
}
