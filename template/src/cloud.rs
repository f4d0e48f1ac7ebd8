//! The cloud-client interface (SPI): the few calls the driver makes to a cloud.
//!
//! The driver never talks to a cloud SDK directly. It asks a [`CloudConnector`] for a
//! client built from the MachineClass secret, and uses that client's [`CloudApi`]. Two
//! reasons: the same driver logic runs against the simulated cloud (unit tests, the
//! conformance suite, `make e2e`, CI without a cloud account) and against the real cloud;
//! and every cloud failure is turned into one [`CloudError`] kind here, so the mapping to
//! machine codes lives in one table ([`crate::errors`]).
//!
//! To add the real cloud: write a connector that reads your credentials from the secret,
//! and a client that implements [`CloudApi`] with your SDK, then pass that connector to
//! the driver in `main.rs`. Keep [`crate::simulated`] for the tests.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use mcm_api::driver::SecretData;

use crate::provider_spec::{NetworkSpec, RootDisk};

/// What the driver asks the cloud to create.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct VmSpec {
    /// VM name; also the hostname and the Node name (so a DNS-1123 subdomain).
    pub name: String,
    /// Image to boot.
    pub image: String,
    /// Machine type (size).
    pub machine_type: String,
    /// Zone.
    pub zone: String,
    /// Tags, including those the driver uses to find the VM again ([`crate::mapping`]).
    pub tags: BTreeMap<String, String>,
    /// Network placement, if the class sets one.
    pub network: Option<NetworkSpec>,
    /// Root disk, if the class sets one.
    pub root_disk: Option<RootDisk>,
    /// Cloud-init user data with the bootstrap token: secret, never logged.
    pub user_data: String,
    /// A key that makes a retried create return the first VM instead of making a second
    /// one (the Machine's UID).
    pub idempotency_key: String,
}

impl fmt::Debug for VmSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VmSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("machine_type", &self.machine_type)
            .field("zone", &self.zone)
            .field("tags", &self.tags)
            .field("network", &self.network)
            .field("root_disk", &self.root_disk)
            .field(
                "user_data",
                &format_args!("<{} bytes redacted>", self.user_data.len()),
            )
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

/// Lifecycle state of a VM as the driver cares about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    /// Accepted, still booting.
    Pending,
    /// Booted.
    Running,
}

/// A VM as the cloud reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vm {
    /// The cloud's ID of the VM.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its zone (part of the provider ID).
    pub zone: String,
    /// Its hostname: the name its Node registers with.
    pub hostname: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its state.
    pub state: VmState,
}

/// Where a VM is: what a provider ID decodes to ([`crate::provider_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmRef {
    /// Zone.
    pub zone: String,
    /// The cloud's ID of the VM.
    pub id: String,
}

/// A failed cloud call, by kind. Messages must never contain credentials or user data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// The VM (or another resource) does not exist.
    #[error("not found: {message}")]
    NotFound {
        /// The cloud's explanation.
        message: String,
    },
    /// A quota or the capacity of a zone is used up.
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// The cloud's explanation.
        message: String,
    },
    /// The cloud rejected a field of the request.
    #[error("invalid request field {field}: {message}")]
    InvalidRequest {
        /// The cloud's name of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The credentials are missing or wrong.
    #[error("authentication failed: {message}")]
    Unauthenticated {
        /// The cloud's explanation.
        message: String,
    },
    /// The credentials lack a permission.
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// The cloud's explanation.
        message: String,
    },
    /// The request conflicts with an existing resource (e.g. the name is taken).
    #[error("conflict: {message}")]
    Conflict {
        /// The cloud's explanation.
        message: String,
    },
    /// Too many requests; retry later.
    #[error("throttled: {message}")]
    Throttled {
        /// The cloud's explanation.
        message: String,
    },
    /// The cloud cannot serve the call right now (5xx, connection refused, outage).
    #[error("cloud unavailable: {message}")]
    Unavailable {
        /// The cloud's explanation.
        message: String,
    },
    /// No answer in time.
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
    },
    /// An answer the client does not understand, or a broken invariant.
    #[error("internal error: {message}")]
    Internal {
        /// What was wrong.
        message: String,
    },
}

/// The calls the driver makes. Every call is made with the credentials the client was
/// built with.
pub trait CloudApi: Send + Sync {
    /// Creates a VM. A retry with the same [`VmSpec::idempotency_key`] must return the VM
    /// of the first call.
    fn create_vm(&self, spec: &VmSpec) -> impl Future<Output = Result<Vm, CloudError>> + Send;

    /// Lists the VMs carrying every one of `tags` (oldest first).
    fn list_vms(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Vec<Vm>, CloudError>> + Send;

    /// Deletes a VM; `NotFound` when it does not exist.
    fn delete_vm(&self, vm: &VmRef) -> impl Future<Output = Result<(), CloudError>> + Send;
}

/// Why no client could be built from the secret. The message names secret *keys*, never
/// values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret.{key}: {message}")]
pub struct ConnectError {
    /// The secret key at fault.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Builds cloud clients from a MachineClass's secret data.
pub trait CloudConnector: Send + Sync + 'static {
    /// The client type.
    type Client: CloudApi;

    /// The secret keys that hold credentials (checked before every call, reported by
    /// field path when missing).
    fn credential_keys(&self) -> &'static [&'static str];

    /// A client using the credentials in `secret`.
    fn connect(&self, secret: &SecretData) -> Result<Self::Client, ConnectError>;
}
