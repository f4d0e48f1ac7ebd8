//! The MachineClass `providerSpec`: the VM template of one worker pool.
//!
//! MCM passes `providerSpec` to the driver verbatim as JSON. This type gives it a shape,
//! and [`parse`] reports JSON that does not fit by field path
//! (`providerSpec.rootDisk.sizeGiB: invalid type: string "ten", expected u32`), so an
//! operator sees which line of the MachineClass to fix. Unknown fields are rejected: a typo
//! (`machinetype`) would otherwise be silently ignored and the VM created without it.
//!
//! Semantic rules (required fields, allowed values, mandatory tags) are in
//! [`crate::validation`]; every field here has a default so that all such problems are
//! reported together instead of one `missing field` at a time.
//!
//! ```yaml
//! providerSpec:
//!   image: gardenlinux-1592.4
//!   machineType: m1.small
//!   zone: zone-a
//!   tags:
//!     kubernetes.io/cluster/shoot--dev--demo: "1"
//!     kubernetes.io/role/node: "1"
//!   network:
//!     subnet: subnet-workers
//!     securityGroups: [sg-nodes]
//!     assignPublicIp: false
//!   rootDisk:
//!     sizeGiB: 50
//!     volumeType: ssd
//!     encrypted: true
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of every field path reported for the spec.
pub const FIELD_ROOT: &str = "providerSpec";

/// The VM template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSpec {
    /// Image to boot (an image ID or name of the cloud).
    #[serde(default)]
    pub image: String,
    /// Machine type, e.g. `m1.small`.
    #[serde(default)]
    pub machine_type: String,
    /// Zone, e.g. `zone-a`.
    #[serde(default)]
    pub zone: String,
    /// Tags put on the VM. Must include `kubernetes.io/cluster/<cluster>` and
    /// `kubernetes.io/role/<role>`: the driver finds a cluster's VMs by them (orphans too).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Network placement; the cloud's default network when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    /// Root disk; the image's default disk when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_disk: Option<RootDisk>,
}

/// `providerSpec.network`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSpec {
    /// Subnet the VM's interface is placed in.
    #[serde(default)]
    pub subnet: String,
    /// Security groups (firewall rule sets) of the interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Whether the VM gets a public IP address.
    #[serde(default)]
    pub assign_public_ip: bool,
}

/// `providerSpec.rootDisk`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RootDisk {
    /// Size in GiB.
    #[serde(rename = "sizeGiB", default)]
    pub size_gib: u32,
    /// Volume type: one of [`RootDisk::VOLUME_TYPES`]; empty means `standard`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub volume_type: String,
    /// Whether the disk is encrypted at rest.
    #[serde(default)]
    pub encrypted: bool,
}

impl RootDisk {
    /// The volume types the cloud offers.
    pub const VOLUME_TYPES: [&'static str; 2] = ["standard", "ssd"];
}

/// `providerSpec` is not a JSON object of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParseError {
    /// Field path, e.g. `providerSpec.rootDisk.sizeGiB`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Parses a MachineClass's `providerSpec`, reporting the field path of a mismatch.
pub fn parse(value: &serde_json::Value) -> Result<ProviderSpec, ParseError> {
    if value.is_null() {
        return Err(ParseError {
            path: FIELD_ROOT.to_owned(),
            message: "required: the MachineClass has no providerSpec".to_owned(),
        });
    }
    if !value.is_object() {
        // serde would accept a list as the fields in declaration order; nobody means that.
        return Err(ParseError {
            path: FIELD_ROOT.to_owned(),
            message: "must be a map of fields (image, machineType, zone, …)".to_owned(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.path().to_string();
        let path = if inner == "." || inner.is_empty() {
            FIELD_ROOT.to_owned()
        } else {
            format!("{FIELD_ROOT}.{inner}")
        };
        ParseError {
            path,
            message: error.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_example() {
        let spec = parse(&json!({
            "image": "gardenlinux-1592.4",
            "machineType": "m1.small",
            "zone": "zone-a",
            "tags": {"kubernetes.io/cluster/shoot--dev--demo": "1", "kubernetes.io/role/node": "1"},
            "network": {"subnet": "subnet-workers", "securityGroups": ["sg-nodes"], "assignPublicIp": false},
            "rootDisk": {"sizeGiB": 50, "volumeType": "ssd", "encrypted": true}
        }))
        .unwrap();
        assert_eq!(spec.machine_type, "m1.small");
        assert_eq!(spec.root_disk.as_ref().unwrap().size_gib, 50);
        assert_eq!(spec.network.as_ref().unwrap().security_groups, ["sg-nodes"]);
        // And it round-trips with the same JSON names.
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["rootDisk"]["sizeGiB"], 50);
        assert_eq!(back["machineType"], "m1.small");
    }

    #[test]
    fn a_wrong_type_is_reported_with_its_field_path() {
        let error = parse(&json!({"rootDisk": {"sizeGiB": "ten"}})).unwrap_err();
        assert_eq!(error.path, "providerSpec.rootDisk.sizeGiB");
        assert!(error.message.contains("invalid type"), "{error}");
    }

    #[test]
    fn an_unknown_field_is_rejected_naming_the_known_ones() {
        let error = parse(&json!({"machinetype": "m1.small"})).unwrap_err();
        assert_eq!(error.path, "providerSpec.machinetype");
        assert!(error.message.contains("machineType"), "{error}");
    }

    #[test]
    fn a_missing_or_non_object_spec_is_reported_at_the_root() {
        assert_eq!(
            parse(&serde_json::Value::Null).unwrap_err().path,
            "providerSpec"
        );
        let error = parse(&json!(["image"])).unwrap_err();
        assert_eq!(error.path, "providerSpec");
    }
}
