//! The simulated cloud as a backend of the [`crate::cloud`] interface: the default until
//! the real cloud is wired in, and the backend of the tests afterwards.
//!
//! The secret names the cloud with two keys next to `userData`: `simcloudEndpoint` (the URL
//! that `make sim-cloud` prints) and `simcloudToken`.

use std::collections::BTreeMap;

use mcm_api::driver::SecretData;
use mcm_simulated_cloud::api::{CreateInstance, Instance, InstanceFilter, InstanceStatus};
use mcm_simulated_cloud::{CloudClient, secret_keys};

use crate::cloud::{
    CloudApi, CloudConnector, CloudError, ConnectError, Vm, VmRef, VmSpec, VmState,
};

/// Builds [`SimulatedCloud`] clients from `simcloudEndpoint` and `simcloudToken`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedCloudConnector;

impl CloudConnector for SimulatedCloudConnector {
    type Client = SimulatedCloud;

    fn credential_keys(&self) -> &'static [&'static str] {
        &[secret_keys::ENDPOINT, secret_keys::TOKEN]
    }

    fn connect(&self, secret: &SecretData) -> Result<SimulatedCloud, ConnectError> {
        let read = |key: &str| {
            secret.get_str(key).map_err(|error| ConnectError {
                key: key.to_owned(),
                message: error.to_string(),
            })
        };
        let endpoint = read(secret_keys::ENDPOINT)?;
        let token = read(secret_keys::TOKEN)?;
        let client = CloudClient::new(endpoint.trim(), token.trim()).map_err(|_| ConnectError {
            key: secret_keys::ENDPOINT.to_owned(),
            message: "is not a simulated cloud endpoint: use http://<host>:<port>, as printed \
                      by `make sim-cloud`"
                .to_owned(),
        })?;
        Ok(SimulatedCloud { client })
    }
}

/// A client of one simulated cloud.
#[derive(Debug, Clone)]
pub struct SimulatedCloud {
    client: CloudClient,
}

impl SimulatedCloud {
    /// Wraps a client (tests build one from a running cloud).
    pub fn new(client: CloudClient) -> SimulatedCloud {
        SimulatedCloud { client }
    }
}

impl CloudApi for SimulatedCloud {
    async fn create_vm(&self, spec: &VmSpec) -> Result<Vm, CloudError> {
        // The simulated cloud has one flat network and no disks: `network` and `rootDisk`
        // are validated but not sent. A real cloud passes them on.
        let request = CreateInstance {
            name: spec.name.clone(),
            image: spec.image.clone(),
            machine_type: spec.machine_type.clone(),
            zone: spec.zone.clone(),
            tags: spec.tags.clone(),
            user_data: spec.user_data.clone(),
            idempotency_key: Some(spec.idempotency_key.clone()).filter(|key| !key.is_empty()),
        };
        let instance = self
            .client
            .create_instance(&request)
            .await
            .map_err(convert)?;
        Ok(vm(instance))
    }

    async fn list_vms(&self, tags: &BTreeMap<String, String>) -> Result<Vec<Vm>, CloudError> {
        let instances = self
            .client
            .list_instances(&InstanceFilter::with_tags(tags.clone()))
            .await
            .map_err(convert)?;
        Ok(instances.into_iter().map(vm).collect())
    }

    async fn delete_vm(&self, target: &VmRef) -> Result<(), CloudError> {
        self.client
            .delete_instance(&target.id)
            .await
            .map(|_| ())
            .map_err(convert)
    }
}

fn vm(instance: Instance) -> Vm {
    Vm {
        id: instance.id,
        name: instance.name,
        zone: instance.zone,
        hostname: instance.hostname,
        tags: instance.tags,
        state: match instance.status {
            InstanceStatus::Pending => VmState::Pending,
            InstanceStatus::Running => VmState::Running,
        },
    }
}

/// Sorts the simulated cloud's errors into the interface's kinds. The endpoint comes from
/// the secret, so it is left out of every message (the cloud's own messages never contain
/// the token or user data).
fn convert(error: mcm_simulated_cloud::CloudError) -> CloudError {
    use mcm_simulated_cloud::CloudError as Sim;
    match error {
        Sim::NotFound { message } => CloudError::NotFound { message },
        Sim::QuotaExceeded { message } => CloudError::QuotaExceeded { message },
        Sim::InvalidRequest { field, message } => CloudError::InvalidRequest { field, message },
        Sim::Unauthorized { message, .. } => CloudError::Unauthenticated {
            message: format!("the simulated cloud rejected simcloudToken: {message}"),
        },
        Sim::Conflict { message } => CloudError::Conflict { message },
        Sim::Throttled { message } => CloudError::Throttled { message },
        Sim::Unavailable {
            status: 500,
            message,
        } => CloudError::Internal {
            message: format!("HTTP 500: {message}"),
        },
        Sim::UnexpectedResponse {
            status, message, ..
        } => CloudError::Internal {
            message: format!("unexpected answer (HTTP {status}): {message}"),
        },
        Sim::Unavailable { status, message } => CloudError::Unavailable {
            message: format!("HTTP {status}: {message}"),
        },
        Sim::Transport { message, .. } => CloudError::Unavailable {
            message: format!("cannot reach the simulated cloud: {message}"),
        },
        Sim::Timeout {
            operation, after, ..
        } => CloudError::Timeout {
            message: format!("{operation} got no answer within {after:?}"),
        },
        Sim::InvalidEndpoint { message, .. } => CloudError::InvalidRequest {
            field: secret_keys::ENDPOINT.to_owned(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connecting_needs_endpoint_and_token_and_names_the_key() {
        let connector = SimulatedCloudConnector;
        let mut secret = SecretData::new();
        let error = connector.connect(&secret).unwrap_err();
        assert_eq!(error.key, "simcloudEndpoint");
        secret.insert("simcloudEndpoint", "ftp://nowhere");
        secret.insert("simcloudToken", "t0ken-canary");
        let error = connector.connect(&secret).unwrap_err();
        assert_eq!(error.key, "simcloudEndpoint");
        assert!(
            error.to_string().starts_with("secret.simcloudEndpoint: "),
            "{error}"
        );
        assert!(!error.to_string().contains("t0ken-canary"));
        secret.insert("simcloudEndpoint", "http://127.0.0.1:1");
        assert!(connector.connect(&secret).is_ok());
    }

    #[test]
    fn simulated_errors_map_to_interface_kinds() {
        use mcm_simulated_cloud::CloudError as Sim;
        let m = || "m".to_owned();
        let cases = [
            (Sim::NotFound { message: m() }, "NotFound"),
            (Sim::QuotaExceeded { message: m() }, "QuotaExceeded"),
            (
                Sim::InvalidRequest {
                    field: "zone".into(),
                    message: m(),
                },
                "InvalidRequest",
            ),
            (
                Sim::Unauthorized {
                    endpoint: m(),
                    message: m(),
                },
                "Unauthenticated",
            ),
            (Sim::Conflict { message: m() }, "Conflict"),
            (Sim::Throttled { message: m() }, "Throttled"),
            (
                Sim::Unavailable {
                    status: 503,
                    message: m(),
                },
                "Unavailable",
            ),
            (
                Sim::Unavailable {
                    status: 500,
                    message: m(),
                },
                "Internal",
            ),
            (
                Sim::Transport {
                    endpoint: m(),
                    message: m(),
                },
                "Unavailable",
            ),
            (
                Sim::Timeout {
                    operation: m(),
                    endpoint: m(),
                    after: std::time::Duration::from_secs(1),
                },
                "Timeout",
            ),
            (
                Sim::UnexpectedResponse {
                    endpoint: m(),
                    status: 418,
                    message: m(),
                },
                "Internal",
            ),
        ];
        for (error, kind) in cases {
            let converted = format!("{:?}", convert(error));
            assert!(converted.starts_with(kind), "{converted} should be {kind}");
        }
    }
}
