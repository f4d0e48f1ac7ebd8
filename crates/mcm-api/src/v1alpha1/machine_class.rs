//! `MachineClass`: the provider-specific template of a VM, plus references to the
//! Secrets with credentials and user data. It has no `spec`/`status`: all fields are
//! top level.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::SecretReference;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::serde_util::{is_empty, machine_resource, null_as_default};

/// A `machine.sapcloud.io/v1alpha1` MachineClass.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineClass {
    /// Standard object metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    /// Scale-from-zero / virtual-capacity data.
    #[serde(default)]
    pub node_template: Option<NodeTemplate>,
    /// Separate credentials secret; its keys win over `secretRef`'s.
    #[serde(default)]
    pub credentials_secret_ref: Option<SecretReference>,
    /// Provider-specific VM template, passed verbatim to the driver.
    #[serde(default)]
    pub provider_spec: serde_json::Value,
    /// Provider identifier; not read by the controller.
    #[serde(default, deserialize_with = "null_as_default")]
    pub provider: String,
    /// Secret with `userData` and/or credentials.
    #[serde(default)]
    pub secret_ref: Option<SecretReference>,
}

machine_resource!(MachineClass, "machineclasses", "MachineClassList");

impl Serialize for MachineClass {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            #[serde(skip_serializing_if = "Option::is_none")]
            node_template: &'a Option<NodeTemplate>,
            #[serde(skip_serializing_if = "Option::is_none")]
            credentials_secret_ref: &'a Option<SecretReference>,
            provider_spec: &'a serde_json::Value,
            #[serde(skip_serializing_if = "String::is_empty")]
            provider: &'a String,
            #[serde(skip_serializing_if = "Option::is_none")]
            secret_ref: &'a Option<SecretReference>,
        }
        Wire {
            api_version: super::API_VERSION,
            kind: "MachineClass",
            metadata: &self.metadata,
            node_template: &self.node_template,
            credentials_secret_ref: &self.credentials_secret_ref,
            provider_spec: &self.provider_spec,
            provider: &self.provider,
            secret_ref: &self.secret_ref,
        }
        .serialize(serializer)
    }
}

impl MachineClass {
    /// The object name (empty if unset).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// Whether `metadata.finalizers` contains `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.metadata
            .finalizers
            .as_ref()
            .is_some_and(|all| all.iter().any(|f| f == finalizer))
    }
}

/// `MachineClass.nodeTemplate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeTemplate {
    /// Node resources; the controller requires `cpu`, `gpu` and `memory`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub capacity: BTreeMap<String, Quantity>,
    /// Extended resources written into `Node.status.capacity`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub virtual_capacity: BTreeMap<String, Quantity>,
    /// Instance type; must be non-empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub instance_type: String,
    /// Region; must be non-empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub region: String,
    /// Zone; must be non-empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub zone: String,
    /// CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}
