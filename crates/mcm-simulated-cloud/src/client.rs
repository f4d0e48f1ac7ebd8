//! The typed async client of the simulated cloud: what a generated provider's driver calls.
//!
//! Errors are a [`CloudError`] per failure class, so a driver can map them to MCM machine codes
//! (see the table on [`CloudError`]). Plain HTTP/1.1 over hyper: the cloud listens on loopback,
//! no TLS needed. Neither the token nor user data ever appears in an error or `Debug` output.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    CreateInstance, ErrorBody, ErrorCode, Instance, InstanceFilter, InstanceList, MachineType,
    paths,
};
use crate::faults::FaultConfig;
use crate::node_health::{AdminInstance, NodeAgentState, NodeHealth};

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed call. Suggested mapping to MCM machine codes:
///
/// | variant | machine code | retry |
/// |---|---|---|
/// | `Unauthorized` | `Unauthenticated` | no (fix the Secret) |
/// | `NotFound` | `NotFound` | no |
/// | `QuotaExceeded` | `ResourceExhausted` | not at once (MCM backs off) |
/// | `InvalidRequest` | `InvalidArgument` | no (fix the MachineClass) |
/// | `Conflict` | `AlreadyExists` | no |
/// | `Throttled`, `Unavailable`, `Transport` | `Unavailable` | yes |
/// | `Timeout` | `DeadlineExceeded` | yes |
/// | `UnexpectedResponse` | `Internal` | yes |
/// | `InvalidEndpoint` | `InvalidArgument` | no (fix the Secret's endpoint) |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// 401: the token is wrong or missing.
    #[error("simulated cloud at {endpoint} rejected the credentials: {message}")]
    Unauthorized {
        /// The cloud's endpoint.
        endpoint: String,
        /// The server's explanation (never contains the token).
        message: String,
    },
    /// 404: no such instance.
    #[error("{message}")]
    NotFound {
        /// The server's explanation.
        message: String,
    },
    /// 403 QuotaExceeded: a zone quota is used up.
    #[error("{message}")]
    QuotaExceeded {
        /// The server's explanation.
        message: String,
    },
    /// 400: a request field is invalid.
    #[error("invalid request field {field}: {message}")]
    InvalidRequest {
        /// JSON name of the field.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// 409: name taken, or idempotency key reused differently.
    #[error("{message}")]
    Conflict {
        /// The server's explanation.
        message: String,
    },
    /// 429: throttled.
    #[error("{message}")]
    Throttled {
        /// The server's explanation.
        message: String,
    },
    /// 5xx: the cloud could not serve the call now.
    #[error("simulated cloud unavailable (HTTP {status}): {message}")]
    Unavailable {
        /// HTTP status (500, 503, 504).
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// No answer within the client's timeout.
    #[error("{operation} got no answer from the simulated cloud at {endpoint} within {after:?}")]
    Timeout {
        /// The call, e.g. `create instance`.
        operation: String,
        /// The cloud's endpoint.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
    /// Could not connect or the connection broke.
    #[error("cannot reach the simulated cloud at {endpoint}: {message}")]
    Transport {
        /// The cloud's endpoint.
        endpoint: String,
        /// The I/O error chain.
        message: String,
    },
    /// An answer this client does not understand.
    #[error("unexpected answer from the simulated cloud at {endpoint} (HTTP {status}): {message}")]
    UnexpectedResponse {
        /// The cloud's endpoint.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
    /// The endpoint is not an `http://host:port` URL.
    #[error("invalid simulated cloud endpoint {endpoint:?}: {message}")]
    InvalidEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl CloudError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CloudError::Throttled { .. }
                | CloudError::Unavailable { .. }
                | CloudError::Timeout { .. }
                | CloudError::Transport { .. }
                | CloudError::UnexpectedResponse { .. }
        )
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CloudError::NotFound { .. })
    }
}

/// Client of one simulated cloud endpoint with one token.
#[derive(Clone)]
pub struct CloudClient {
    endpoint: String,
    token: String,
    timeout: Duration,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudClient")
            .field("endpoint", &self.endpoint)
            .field("token", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl CloudClient {
    /// A client for `endpoint` (`http://host:port`, as printed by `serve`) with `token`.
    pub fn new(endpoint: &str, token: impl Into<String>) -> Result<Self, CloudError> {
        let trimmed = endpoint.trim().trim_end_matches('/');
        let invalid = |message: &str| CloudError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            message: message.to_owned(),
        };
        let rest = trimmed.strip_prefix("http://").ok_or_else(|| {
            invalid("expected http://<host>:<port> (the simulated cloud serves plain HTTP, e.g. http://127.0.0.1:8080)")
        })?;
        if rest.is_empty() || rest.contains('/') {
            return Err(invalid(
                "expected http://<host>:<port> without a path, e.g. http://127.0.0.1:8080",
            ));
        }
        trimmed
            .parse::<http::Uri>()
            .map_err(|e| invalid(&e.to_string()))?;
        let token = token.into();
        if token.trim().is_empty() {
            return Err(CloudError::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                message: "the token is empty; pass the token the simulated cloud was started with"
                    .to_owned(),
            });
        }
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        Ok(Self {
            endpoint: trimmed.to_owned(),
            token: token.trim().to_owned(),
            timeout: DEFAULT_TIMEOUT,
            http,
        })
    }

    /// Changes the per-request timeout (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        operation: &str,
        method: Method,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<T, CloudError> {
        let (status, bytes) = self.send(operation, method, path_and_query, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| CloudError::UnexpectedResponse {
            endpoint: self.endpoint.clone(),
            status: status.as_u16(),
            message: format!("{operation}: the body is not the expected JSON: {e}"),
        })
    }

    async fn send<B: Serialize>(
        &self,
        operation: &str,
        method: Method,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, Bytes), CloudError> {
        let payload =
            match body {
                Some(b) => Bytes::from(serde_json::to_vec(b).map_err(|e| {
                    CloudError::UnexpectedResponse {
                        endpoint: self.endpoint.clone(),
                        status: 0,
                        message: format!("{operation}: encoding the request failed: {e}"),
                    }
                })?),
                None => Bytes::new(),
            };
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.endpoint))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(payload))
            .map_err(|e| CloudError::InvalidEndpoint {
                endpoint: self.endpoint.clone(),
                message: format!("{operation}: cannot build the request: {e}"),
            })?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| CloudError::Transport {
                    endpoint: self.endpoint.clone(),
                    message: error_chain(&e),
                })?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CloudError::Transport {
                    endpoint: self.endpoint.clone(),
                    message: error_chain(&e),
                })?
                .to_bytes();
            Ok::<_, CloudError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| CloudError::Timeout {
                operation: operation.to_owned(),
                endpoint: self.endpoint.clone(),
                after: self.timeout,
            })??;
        if status.is_success() {
            return Ok((status, bytes));
        }
        Err(self.error_from(operation, status, &bytes))
    }

    fn error_from(&self, operation: &str, status: StatusCode, bytes: &[u8]) -> CloudError {
        let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes) else {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
            return if status.is_server_error() {
                CloudError::Unavailable {
                    status: status.as_u16(),
                    message: format!("{operation}: {text}"),
                }
            } else {
                CloudError::UnexpectedResponse {
                    endpoint: self.endpoint.clone(),
                    status: status.as_u16(),
                    message: format!("{operation}: {text}"),
                }
            };
        };
        let e = body.error;
        let message = e.message;
        match e.code {
            ErrorCode::Unauthorized => CloudError::Unauthorized {
                endpoint: self.endpoint.clone(),
                message,
            },
            ErrorCode::NotFound => CloudError::NotFound { message },
            ErrorCode::QuotaExceeded => CloudError::QuotaExceeded { message },
            ErrorCode::InvalidRequest => CloudError::InvalidRequest {
                field: e.field.unwrap_or_else(|| "(unknown)".to_owned()),
                message,
            },
            ErrorCode::Conflict => CloudError::Conflict { message },
            ErrorCode::Throttled => CloudError::Throttled { message },
            ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::Timeout => {
                CloudError::Unavailable {
                    status: status.as_u16(),
                    message,
                }
            }
        }
    }

    /// Creates an instance. With an idempotency key, a retry of the same request returns the
    /// instance the first call created.
    pub async fn create_instance(&self, req: &CreateInstance) -> Result<Instance, CloudError> {
        self.call("create instance", Method::POST, paths::INSTANCES, Some(req))
            .await
    }

    /// Reads one instance; `NotFound` once it is deleted.
    pub async fn get_instance(&self, id: &str) -> Result<Instance, CloudError> {
        let path = format!("{}/{}", paths::INSTANCES, encode_component(id));
        self.call::<(), _>("get instance", Method::GET, &path, None)
            .await
    }

    /// Lists instances matching the filter (all given tags, name, zone).
    pub async fn list_instances(
        &self,
        filter: &InstanceFilter,
    ) -> Result<Vec<Instance>, CloudError> {
        let query: Vec<String> = filter
            .to_query_pairs()
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        let path = if query.is_empty() {
            paths::INSTANCES.to_owned()
        } else {
            format!("{}?{}", paths::INSTANCES, query.join("&"))
        };
        let list: InstanceList = self
            .call::<(), _>("list instances", Method::GET, &path, None)
            .await?;
        Ok(list.instances)
    }

    /// Deletes an instance and returns it; `NotFound` if it does not exist (any more).
    pub async fn delete_instance(&self, id: &str) -> Result<Instance, CloudError> {
        let path = format!("{}/{}", paths::INSTANCES, encode_component(id));
        self.call::<(), _>("delete instance", Method::DELETE, &path, None)
            .await
    }

    /// The machine-type catalogue.
    pub async fn machine_types(&self) -> Result<Vec<MachineType>, CloudError> {
        self.call::<(), _>(
            "list machine types",
            Method::GET,
            paths::MACHINE_TYPES,
            None,
        )
        .await
    }

    /// Admin: the current fault configuration.
    pub async fn get_faults(&self) -> Result<FaultConfig, CloudError> {
        self.call::<(), _>("get faults", Method::GET, paths::ADMIN_FAULTS, None)
            .await
    }

    /// Admin: replaces the fault configuration (call numbering and outage clocks restart).
    pub async fn set_faults(&self, config: &FaultConfig) -> Result<FaultConfig, CloudError> {
        self.call("set faults", Method::PUT, paths::ADMIN_FAULTS, Some(config))
            .await
    }

    /// Admin: removes all faults.
    pub async fn clear_faults(&self) -> Result<(), CloudError> {
        self.send::<()>("clear faults", Method::DELETE, paths::ADMIN_FAULTS, None)
            .await
            .map(|_| ())
    }

    /// Admin: every instance with its node-agent state.
    pub async fn admin_instances(&self) -> Result<Vec<AdminInstance>, CloudError> {
        self.call::<(), _>(
            "list instances (admin)",
            Method::GET,
            paths::ADMIN_INSTANCES,
            None,
        )
        .await
    }

    /// Admin: the node-agent state of one instance.
    pub async fn get_node_health(&self, id: &str) -> Result<NodeAgentState, CloudError> {
        let path = format!("{}/{}/node", paths::ADMIN_INSTANCES, encode_component(id));
        self.call::<(), _>("get node health", Method::GET, &path, None)
            .await
    }

    /// Admin: sets the node health knobs of one instance.
    pub async fn set_node_health(
        &self,
        id: &str,
        health: &NodeHealth,
    ) -> Result<NodeAgentState, CloudError> {
        let path = format!("{}/{}/node", paths::ADMIN_INSTANCES, encode_component(id));
        self.call("set node health", Method::PUT, &path, Some(health))
            .await
    }

    /// Admin: registers the instance's Node again (after someone deleted it), like a kubelet
    /// restart would.
    pub async fn reregister_node(&self, id: &str) -> Result<NodeAgentState, CloudError> {
        let path = format!(
            "{}/{}/node/reregister",
            paths::ADMIN_INSTANCES,
            encode_component(id)
        );
        self.call::<(), _>("re-register node", Method::POST, &path, None)
            .await
    }

    /// The `/metrics` text.
    pub async fn metrics_text(&self) -> Result<String, CloudError> {
        let (_, bytes) = self
            .send::<()>("read metrics", Method::GET, paths::METRICS, None)
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_must_be_plain_http_host_port() {
        assert!(CloudClient::new("http://127.0.0.1:8080/", "t").is_ok());
        for bad in ["https://x:1", "127.0.0.1:80", "http://", "http://h:1/v1"] {
            let err = CloudClient::new(bad, "t").unwrap_err();
            assert!(
                matches!(err, CloudError::InvalidEndpoint { .. }),
                "{bad}: {err}"
            );
        }
        let err = CloudClient::new("http://h:1", " ").unwrap_err();
        assert!(err.to_string().contains("token is empty"), "{err}");
    }

    #[test]
    fn debug_hides_token() {
        let c = CloudClient::new("http://127.0.0.1:1", "s3cr3t-token").unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("a b/c=d"), "a%20b%2Fc%3Dd");
        assert_eq!(encode_component("i-0a.b_c~"), "i-0a.b_c~");
    }
}
