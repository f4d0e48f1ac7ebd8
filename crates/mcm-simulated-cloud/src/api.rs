//! The JSON shapes of the instance API, shared by the server and the typed client so the two
//! cannot drift apart.
//!
//! Field names are camelCase on the wire. The user data of an instance goes in with
//! [`CreateInstance`] and never comes back out: [`Instance`] only carries its SHA-256 and length,
//! because user data holds bootstrap tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Paths of the instance API, relative to the endpoint.
pub mod paths {
    /// `POST` creates, `GET` lists (query `tag=<key>=<value>`, `name=`, `zone=`).
    pub const INSTANCES: &str = "/v1/instances";
    /// `GET` the machine-type catalogue.
    pub const MACHINE_TYPES: &str = "/v1/machine-types";
    /// `GET`/`PUT`/`DELETE` the fault configuration.
    pub const ADMIN_FAULTS: &str = "/admin/v1/faults";
    /// `GET` every instance with its node-agent state.
    pub const ADMIN_INSTANCES: &str = "/admin/v1/instances";
    /// Prometheus/OpenMetrics text, no auth.
    pub const METRICS: &str = "/metrics";
    /// Liveness, no auth.
    pub const HEALTHZ: &str = "/healthz";
}

/// The operations of the instance API; fault injection and metrics are keyed by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// `POST /v1/instances`
    Create,
    /// `GET /v1/instances/{id}`
    Get,
    /// `GET /v1/instances`
    List,
    /// `DELETE /v1/instances/{id}`
    Delete,
}

impl Operation {
    /// All operations, in a fixed order.
    pub const ALL: [Operation; 4] = [
        Operation::Create,
        Operation::Get,
        Operation::List,
        Operation::Delete,
    ];

    /// The lower-case name used in metrics labels and the fault configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Get => "get",
            Operation::List => "list",
            Operation::Delete => "delete",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle state of an instance. Deleted instances are gone: get returns 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InstanceStatus {
    /// Created, still "booting" (the boot delay has not passed yet).
    Pending,
    /// Booted; with a target cluster its node agent registers (or has registered) a Node.
    Running,
}

impl InstanceStatus {
    /// Lower-case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Pending => "pending",
            InstanceStatus::Running => "running",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of `POST /v1/instances`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInstance {
    /// Instance name; also the hostname and the Node name, so a DNS-1123 subdomain.
    pub name: String,
    /// Image to boot (any non-empty string; the simulated cloud does not interpret it).
    pub image: String,
    /// One of the cloud's machine types (see `GET /v1/machine-types`), e.g. `m1.small`.
    pub machine_type: String,
    /// Zone, e.g. `zone-a`; part of the provider ID.
    pub zone: String,
    /// Free-form tags; list filters on them.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Cloud-init style user data. Stored, never returned, never logged.
    #[serde(default)]
    pub user_data: String,
    /// A retried create with the same key returns the instance of the first call instead of
    /// creating a second one. Use something unique per Machine, e.g. its UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl fmt::Debug for CreateInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateInstance")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("machine_type", &self.machine_type)
            .field("zone", &self.zone)
            .field("tags", &self.tags)
            .field(
                "user_data",
                &format_args!("<{} bytes redacted>", self.user_data.len()),
            )
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

/// An instance as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// `i-` followed by 16 hex digits.
    pub id: String,
    /// As created.
    pub name: String,
    /// As created.
    pub image: String,
    /// As created.
    pub machine_type: String,
    /// As created.
    pub zone: String,
    /// As created.
    pub tags: BTreeMap<String, String>,
    /// Pending until the boot delay has passed, then running.
    pub status: InstanceStatus,
    /// Allocated from 10.0.0.0/8 in creation order; never reused.
    pub private_ip: Ipv4Addr,
    /// Equal to the name; the Node registered for this instance has this name.
    pub hostname: String,
    /// `simcloud://<zone>/<id>`, also written to the Node's `spec.providerID`.
    pub provider_id: String,
    /// When the create call was accepted.
    pub created_at: Timestamp,
    /// When the instance became running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_at: Option<Timestamp>,
    /// Hex SHA-256 of the user data, so tests can check what arrived without reading it.
    pub user_data_sha256: String,
    /// Length of the user data in bytes.
    pub user_data_bytes: usize,
}

/// A machine type of the catalogue: decides the Node's capacity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineType {
    /// Name used in [`CreateInstance::machine_type`].
    pub name: String,
    /// Whole CPUs (Node capacity `cpu`).
    pub cpu: u32,
    /// Memory in MiB (Node capacity `memory`).
    pub memory_mib: u64,
    /// Max pods (Node capacity `pods`).
    pub pods: u32,
}

/// Machine-readable error codes of the API; the typed client maps each to a `CloudError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// 401: missing or wrong bearer token.
    Unauthorized,
    /// 404: no such instance (or route).
    NotFound,
    /// 403: a zone quota is used up; MCM maps this to `ResourceExhausted`.
    QuotaExceeded,
    /// 400: a field of the request is invalid; `field` names it.
    InvalidRequest,
    /// 409: name already used by another live instance, or an idempotency key reused with a
    /// different request or for a deleted instance.
    Conflict,
    /// 429: too many requests (injected); retryable.
    Throttled,
    /// 503: the API is unavailable (injected error or outage window); retryable.
    Unavailable,
    /// 500: internal error (injected, or the state could not be saved); retryable.
    Internal,
    /// 504: the request timed out (injected); retryable.
    Timeout,
}

impl ErrorCode {
    /// The HTTP status the server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::QuotaExceeded => 403,
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Conflict => 409,
            ErrorCode::Throttled => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
            ErrorCode::Timeout => 504,
        }
    }

    /// Whether a client should retry the same request later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Throttled
                | ErrorCode::Unavailable
                | ErrorCode::Internal
                | ErrorCode::Timeout
        )
    }
}

/// The error body: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for machines (`code`, `field`) and for people (`message`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// What happened and how to fix it. Never contains the token or user data.
    pub message: String,
    /// For `InvalidRequest`: the JSON name of the offending field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Whether retrying the same request may succeed.
    pub retryable: bool,
}

/// Filter of `GET /v1/instances`: every given tag must match exactly; name and zone likewise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    /// Tags that must all be present with these values.
    pub tags: BTreeMap<String, String>,
    /// Exact instance name.
    pub name: Option<String>,
    /// Exact zone.
    pub zone: Option<String>,
}

impl InstanceFilter {
    /// Matches every instance.
    pub fn all() -> Self {
        Self::default()
    }

    /// Matches instances that carry all these tags.
    pub fn with_tags(tags: BTreeMap<String, String>) -> Self {
        Self {
            tags,
            ..Self::default()
        }
    }

    /// Adds a required tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Requires this exact name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Requires this exact zone.
    pub fn zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Whether an instance passes the filter.
    pub fn matches(&self, instance: &Instance) -> bool {
        self.name.as_ref().is_none_or(|n| *n == instance.name)
            && self.zone.as_ref().is_none_or(|z| *z == instance.zone)
            && self
                .tags
                .iter()
                .all(|(k, v)| instance.tags.get(k) == Some(v))
    }

    /// Query pairs for the list call: `tag=<key>=<value>` (repeated), `name=`, `zone=`.
    pub fn to_query_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .tags
            .iter()
            .map(|(k, v)| ("tag".to_owned(), format!("{k}={v}")))
            .collect();
        if let Some(name) = &self.name {
            pairs.push(("name".to_owned(), name.clone()));
        }
        if let Some(zone) = &self.zone {
            pairs.push(("zone".to_owned(), zone.clone()));
        }
        pairs
    }

    /// Parses query pairs written by [`InstanceFilter::to_query_pairs`]; the error names the
    /// offending parameter.
    pub fn from_query_pairs(pairs: &[(String, String)]) -> Result<Self, (String, String)> {
        let mut filter = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "tag" => {
                    let Some((k, v)) = value.split_once('=') else {
                        return Err((
                            "tag".to_owned(),
                            format!(
                                "query parameter tag={value:?} must have the form tag=<key>=<value>"
                            ),
                        ));
                    };
                    filter.tags.insert(k.to_owned(), v.to_owned());
                }
                "name" => filter.name = Some(value.clone()),
                "zone" => filter.zone = Some(value.clone()),
                other => {
                    return Err((
                        other.to_owned(),
                        format!(
                            "unknown query parameter {other:?}; supported: tag=<key>=<value>, name=, zone="
                        ),
                    ));
                }
            }
        }
        Ok(filter)
    }
}

/// The list response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceList {
    /// Matching instances, sorted by creation time then ID.
    pub instances: Vec<Instance>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_debug_hides_user_data() {
        let req = CreateInstance {
            name: "n".into(),
            user_data: "#cloud-config token=supersecret".into(),
            ..Default::default()
        };
        let text = format!("{req:?}");
        assert!(!text.contains("supersecret"), "{text}");
        assert!(text.contains("31 bytes redacted"), "{text}");
    }

    #[test]
    fn filter_query_round_trip() {
        let filter = InstanceFilter::all()
            .tag("kubernetes.io/cluster/shoot--a", "1")
            .tag("role", "a=b")
            .name("m-1")
            .zone("zone-a");
        let pairs = filter.to_query_pairs();
        assert_eq!(InstanceFilter::from_query_pairs(&pairs).unwrap(), filter);
    }

    #[test]
    fn filter_query_errors_name_the_parameter() {
        let err =
            InstanceFilter::from_query_pairs(&[("tag".into(), "novalue".into())]).unwrap_err();
        assert_eq!(err.0, "tag");
        let err = InstanceFilter::from_query_pairs(&[("label".into(), "x".into())]).unwrap_err();
        assert_eq!(err.0, "label");
    }

    #[test]
    fn retryable_codes_are_the_transient_ones() {
        let retryable: Vec<_> = [
            ErrorCode::Unauthorized,
            ErrorCode::NotFound,
            ErrorCode::QuotaExceeded,
            ErrorCode::InvalidRequest,
            ErrorCode::Conflict,
            ErrorCode::Throttled,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
            ErrorCode::Timeout,
        ]
        .into_iter()
        .filter(|c| c.is_retryable())
        .collect();
        assert_eq!(
            retryable,
            [
                ErrorCode::Throttled,
                ErrorCode::Unavailable,
                ErrorCode::Internal,
                ErrorCode::Timeout
            ]
        );
    }
}
