//! Validation of a MachineClass's `providerSpec` and secret, by field path.
//!
//! The driver validates before every cloud call, so a broken MachineClass fails fast with
//! `InvalidArgument` and a message that names each field and what to do
//! (`providerSpec.machineType: required; secret.userData: required`), instead of failing
//! later inside the cloud with a less helpful error. All problems are reported at once.
//!
//! Mandatory tags: every VM must carry `kubernetes.io/cluster/<cluster>` and
//! `kubernetes.io/role/<role>`. `ListMachines` finds a cluster's VMs by them; a VM without
//! them would be invisible to the orphan collector and leak.

use std::fmt;

use mcm_api::driver::SecretData;
use mcm_api::v1alpha1::MachineClass;

use crate::mapping::{CLUSTER_TAG_PREFIX, RESERVED_TAGS, ROLE_TAG_PREFIX};
use crate::provider_spec::{self, FIELD_ROOT, ProviderSpec, RootDisk};

/// The secret key MCM fills with the machine's cloud-init user data.
pub const USER_DATA_KEY: &str = "userData";

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field path, e.g. `providerSpec.machineType` or `secret.userData`.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The field is missing or empty.
    Required,
    /// The field has a value that cannot work; the text says why and what to use.
    Invalid(String),
}

impl FieldError {
    fn required(path: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            problem: Problem::Required,
        }
    }

    fn invalid(path: impl Into<String>, why: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            problem: Problem::Invalid(why.into()),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Required => write!(f, "{}: required", self.path),
            Problem::Invalid(why) => write!(f, "{}: {why}", self.path),
        }
    }
}

/// All problems found, in field order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing is wrong.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The paths of the fields at fault.
    pub fn paths(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.path.as_str()).collect()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// Parses and validates a MachineClass: its `provider` (empty or this provider's name) and
/// its `providerSpec`.
pub fn validate_machine_class(
    class: &MachineClass,
    provider_name: &str,
) -> Result<ProviderSpec, FieldErrors> {
    let mut errors = Vec::new();
    if !class.provider.is_empty() && class.provider != provider_name {
        errors.push(FieldError::invalid(
            "provider",
            format!(
                "is {:?}, but this machine controller manages {provider_name:?} classes; set \
                 provider: {provider_name} or leave it empty",
                class.provider
            ),
        ));
    }
    match provider_spec::parse(&class.provider_spec) {
        Ok(spec) => {
            errors.extend(validate_provider_spec(&spec).0);
            FieldErrors(errors).into_result().map(|()| spec)
        }
        Err(parse) => {
            errors.push(FieldError::invalid(parse.path, parse.message));
            Err(FieldErrors(errors))
        }
    }
}

/// Checks the semantic rules of a parsed spec.
pub fn validate_provider_spec(spec: &ProviderSpec) -> FieldErrors {
    let mut errors = Vec::new();
    let field = |name: &str| format!("{FIELD_ROOT}.{name}");
    if spec.image.trim().is_empty() {
        errors.push(FieldError::required(field("image")));
    }
    if spec.machine_type.trim().is_empty() {
        errors.push(FieldError::required(field("machineType")));
    }
    if spec.zone.is_empty() {
        errors.push(FieldError::required(field("zone")));
    } else if !is_dns_label(&spec.zone) {
        errors.push(FieldError::invalid(
            field("zone"),
            format!(
                "{:?} is not a zone name: use lowercase letters, digits and '-' (e.g. zone-a)",
                spec.zone
            ),
        ));
    }
    validate_tags(spec, &mut errors);
    if let Some(network) = &spec.network {
        if network.subnet.trim().is_empty() {
            errors.push(FieldError::required(field("network.subnet")));
        }
        for (index, group) in network.security_groups.iter().enumerate() {
            if group.trim().is_empty() {
                errors.push(FieldError::invalid(
                    field(&format!("network.securityGroups[{index}]")),
                    "must not be empty: name a security group or remove the entry",
                ));
            }
        }
    }
    if let Some(disk) = &spec.root_disk {
        if !(1..=16_384).contains(&disk.size_gib) {
            errors.push(FieldError::invalid(
                field("rootDisk.sizeGiB"),
                format!("{} is out of range: use 1 to 16384 (GiB)", disk.size_gib),
            ));
        }
        if !disk.volume_type.is_empty()
            && !RootDisk::VOLUME_TYPES.contains(&disk.volume_type.as_str())
        {
            errors.push(FieldError::invalid(
                field("rootDisk.volumeType"),
                format!(
                    "{:?} is not offered: use one of {}",
                    disk.volume_type,
                    RootDisk::VOLUME_TYPES.join(", ")
                ),
            ));
        }
    }
    FieldErrors(errors)
}

fn validate_tags(spec: &ProviderSpec, errors: &mut Vec<FieldError>) {
    for (prefix, example) in [
        (
            CLUSTER_TAG_PREFIX,
            "kubernetes.io/cluster/shoot--dev--demo: \"1\"",
        ),
        (ROLE_TAG_PREFIX, "kubernetes.io/role/node: \"1\""),
    ] {
        let present = spec
            .tags
            .keys()
            .any(|key| key.len() > prefix.len() && key.starts_with(prefix));
        if !present {
            errors.push(FieldError::invalid(
                format!("{FIELD_ROOT}.tags"),
                format!(
                    "a tag {prefix}<name> is required so the cluster's VMs (orphans included) \
                     can be found; add e.g. {example}"
                ),
            ));
        }
    }
    for key in spec.tags.keys() {
        if RESERVED_TAGS.contains(&key.as_str()) {
            errors.push(FieldError::invalid(
                format!("{FIELD_ROOT}.tags[{key:?}]"),
                "is set by the driver itself (it maps VMs to Machines); remove it",
            ));
        }
    }
}

/// Checks the merged secret data: the credential keys always, `userData` when a VM is to
/// be created. Messages name keys only, never values.
pub fn validate_secret(
    secret: &SecretData,
    credential_keys: &[&str],
    needs_user_data: bool,
) -> FieldErrors {
    let mut errors = Vec::new();
    let mut keys: Vec<&str> = credential_keys.to_vec();
    if needs_user_data {
        keys.push(USER_DATA_KEY);
    }
    for key in keys {
        let path = format!("secret.{key}");
        match secret.get(key) {
            None => errors.push(FieldError::required(path)),
            Some(value) if value.iter().all(u8::is_ascii_whitespace) => {
                errors.push(FieldError::invalid(path, "is empty: set a value"));
            }
            Some(value) if std::str::from_utf8(value).is_err() => {
                errors.push(FieldError::invalid(path, "is not UTF-8 text"));
            }
            Some(_) => {}
        }
    }
    FieldErrors(errors)
}

fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_spec() -> serde_json::Value {
        json!({
            "image": "gardenlinux-1592.4",
            "machineType": "m1.small",
            "zone": "zone-a",
            "tags": {"kubernetes.io/cluster/shoot--dev--demo": "1", "kubernetes.io/role/node": "1"}
        })
    }

    fn class(spec: serde_json::Value) -> MachineClass {
        MachineClass {
            provider_spec: spec,
            ..MachineClass::default()
        }
    }

    fn errors_for(spec: serde_json::Value) -> Vec<String> {
        match validate_machine_class(&class(spec), "Test") {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_valid_spec_passes() {
        let spec = validate_machine_class(&class(valid_spec()), "Test").unwrap();
        assert_eq!(spec.zone, "zone-a");
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut cases: Vec<(&str, serde_json::Value, &str)> = Vec::new();
        let mut without = |field: &str, expected: &'static str, name: &'static str| {
            let mut spec = valid_spec();
            spec.as_object_mut().unwrap().remove(field);
            cases.push((name, spec, expected));
        };
        without("image", "providerSpec.image: required", "image missing");
        without(
            "machineType",
            "providerSpec.machineType: required",
            "type missing",
        );
        without("zone", "providerSpec.zone: required", "zone missing");
        let mut with = |name: &'static str, patch: serde_json::Value, expected: &'static str| {
            let mut spec = valid_spec();
            for (key, value) in patch.as_object().unwrap() {
                spec[key] = value.clone();
            }
            cases.push((name, spec, expected));
        };
        with(
            "bad zone",
            json!({"zone": "Zone A"}),
            "providerSpec.zone: \"Zone A\" is not a zone name",
        );
        with(
            "no cluster tag",
            json!({"tags": {"kubernetes.io/role/node": "1"}}),
            "providerSpec.tags: a tag kubernetes.io/cluster/<name> is required",
        );
        with(
            "no role tag",
            json!({"tags": {"kubernetes.io/cluster/c1": "1"}}),
            "providerSpec.tags: a tag kubernetes.io/role/<name> is required",
        );
        with(
            "reserved tag",
            json!({"tags": {"kubernetes.io/cluster/c1": "1", "kubernetes.io/role/node": "1",
                            "mcm.gardener.cloud/machine-name": "x"}}),
            "providerSpec.tags[\"mcm.gardener.cloud/machine-name\"]: is set by the driver",
        );
        with(
            "subnet missing",
            json!({"network": {"securityGroups": ["a"]}}),
            "providerSpec.network.subnet: required",
        );
        with(
            "empty security group",
            json!({"network": {"subnet": "s", "securityGroups": ["a", " "]}}),
            "providerSpec.network.securityGroups[1]: must not be empty",
        );
        with(
            "disk too big",
            json!({"rootDisk": {"sizeGiB": 20000}}),
            "providerSpec.rootDisk.sizeGiB: 20000 is out of range",
        );
        with(
            "disk zero",
            json!({"rootDisk": {"volumeType": "ssd"}}),
            "providerSpec.rootDisk.sizeGiB: 0 is out of range",
        );
        with(
            "volume type",
            json!({"rootDisk": {"sizeGiB": 10, "volumeType": "gold"}}),
            "providerSpec.rootDisk.volumeType: \"gold\" is not offered: use one of standard, ssd",
        );
        with(
            "wrong type",
            json!({"rootDisk": {"sizeGiB": "ten"}}),
            "providerSpec.rootDisk.sizeGiB: invalid type",
        );
        with(
            "typo",
            json!({"imageId": "x"}),
            "providerSpec.imageId: unknown field",
        );
        for (name, spec, expected) in cases {
            let errors = errors_for(spec);
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{name}: expected an error starting with {expected:?}, got {errors:?}"
            );
        }
    }

    #[test]
    fn all_problems_are_reported_together() {
        let errors = validate_machine_class(&class(json!({})), "Test").unwrap_err();
        assert_eq!(
            errors.paths(),
            [
                "providerSpec.image",
                "providerSpec.machineType",
                "providerSpec.zone",
                "providerSpec.tags",
                "providerSpec.tags"
            ]
        );
        assert!(errors.to_string().starts_with(
            "providerSpec.image: required; providerSpec.machineType: required; providerSpec.zone: required"
        ));
    }

    #[test]
    fn a_class_of_another_provider_is_rejected() {
        let mut other = class(valid_spec());
        other.provider = "SomeoneElse".into();
        let errors = validate_machine_class(&other, "Test").unwrap_err();
        assert_eq!(errors.paths(), ["provider"]);
        other.provider = "Test".into();
        assert!(validate_machine_class(&other, "Test").is_ok());
    }

    #[test]
    fn secret_keys_are_checked_without_echoing_values() {
        let mut secret = SecretData::new();
        secret.insert("token", "   ");
        secret.insert("binary", vec![0xff, 0xfe]);
        let errors = validate_secret(&secret, &["endpoint", "token", "binary"], true);
        let text = errors.to_string();
        assert_eq!(
            text,
            "secret.endpoint: required; secret.token: is empty: set a value; \
             secret.binary: is not UTF-8 text; secret.userData: required"
        );
        secret.insert("endpoint", "http://cloud");
        secret.insert("token", "s3cr3t-value");
        secret.insert("binary", "text");
        assert!(validate_secret(&secret, &["endpoint", "token", "binary"], false).is_empty());
        let errors = validate_secret(&secret, &["endpoint", "token"], true);
        assert_eq!(errors.paths(), ["secret.userData"]);
        assert!(!errors.to_string().contains("s3cr3t-value"));
    }
}
