//! Checks a create request before anything is stored, so a driver author learns which field is
//! wrong and how to fix it from the 400 response instead of from a Node that never appears.

use crate::api::{CreateInstance, MachineType};

/// Longest accepted user data (bytes); generous for cloud-init, small enough to keep state files sane.
pub const MAX_USER_DATA_BYTES: usize = 256 * 1024;
/// Most tags per instance.
pub const MAX_TAGS: usize = 64;

/// A rejected field: its JSON name and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// JSON name of the field, e.g. `machineType` or `tags["a b"]`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Where a zone is allowed: anywhere that looks like a zone name, or in a fixed list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ZonePolicy {
    /// Any DNS label (lower-case letters, digits, '-').
    #[default]
    AnyDnsLabel,
    /// Only these zones.
    Only(Vec<String>),
}

/// Validates a create request against the machine-type catalogue and zone policy.
pub fn validate_create(
    req: &CreateInstance,
    machine_types: &[MachineType],
    zones: &ZonePolicy,
) -> Result<(), Invalid> {
    if !is_dns_subdomain(&req.name) {
        return Err(invalid(
            "name",
            format!(
                "instance name {:?} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit); it becomes the Node name",
                req.name
            ),
        ));
    }
    if req.image.trim().is_empty() || req.image.len() > 256 {
        return Err(invalid(
            "image",
            "image must be a non-empty string of at most 256 characters (set providerSpec image in the MachineClass)",
        ));
    }
    if !machine_types.iter().any(|m| m.name == req.machine_type) {
        let known: Vec<&str> = machine_types.iter().map(|m| m.name.as_str()).collect();
        return Err(invalid(
            "machineType",
            format!(
                "unknown machine type {:?}; this cloud offers: {}",
                req.machine_type,
                known.join(", ")
            ),
        ));
    }
    match zones {
        ZonePolicy::AnyDnsLabel if !is_dns_label(&req.zone) => {
            return Err(invalid(
                "zone",
                format!(
                    "zone {:?} is not a DNS label (lower-case letters, digits and '-', at most 63 characters), e.g. zone-a",
                    req.zone
                ),
            ));
        }
        ZonePolicy::Only(list) if !list.contains(&req.zone) => {
            return Err(invalid(
                "zone",
                format!(
                    "unknown zone {:?}; this cloud offers: {}",
                    req.zone,
                    list.join(", ")
                ),
            ));
        }
        _ => {}
    }
    if req.tags.len() > MAX_TAGS {
        return Err(invalid(
            "tags",
            format!(
                "{} tags given, at most {MAX_TAGS} are allowed",
                req.tags.len()
            ),
        ));
    }
    for (key, value) in &req.tags {
        if key.is_empty() || key.len() > 128 || key.contains('=') {
            return Err(invalid(
                format!("tags[{key:?}]"),
                "tag keys must be 1-128 characters without '='",
            ));
        }
        if value.len() > 256 {
            return Err(invalid(
                format!("tags[{key:?}]"),
                "tag values must be at most 256 characters",
            ));
        }
    }
    if req.user_data.len() > MAX_USER_DATA_BYTES {
        return Err(invalid(
            "userData",
            format!(
                "user data is {} bytes, at most {MAX_USER_DATA_BYTES} are allowed",
                req.user_data.len()
            ),
        ));
    }
    if let Some(key) = &req.idempotency_key
        && (key.is_empty() || key.len() > 256)
    {
        return Err(invalid(
            "idempotencyKey",
            "idempotency key must be 1-256 characters (use the Machine's UID) or be left out",
        ));
    }
    Ok(())
}

/// A DNS-1123 label: what Kubernetes requires of many names, and what a zone looks like.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: what a Node name must be.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::default_machine_types;

    fn ok_request() -> CreateInstance {
        CreateInstance {
            name: "shoot-worker-abc12".into(),
            image: "gardenlinux-1592".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let types = default_machine_types();
        type Mutation = Box<dyn Fn(&mut CreateInstance)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("name", Box::new(|r| r.name = "Upper_Case".into())),
            ("name", Box::new(|r| r.name = String::new())),
            ("image", Box::new(|r| r.image = " ".into())),
            ("machineType", Box::new(|r| r.machine_type = "huge".into())),
            ("zone", Box::new(|r| r.zone = "Zone A".into())),
            (
                "tags[\"a=b\"]",
                Box::new(|r| {
                    r.tags.insert("a=b".into(), "1".into());
                }),
            ),
            (
                "userData",
                Box::new(|r| r.user_data = "x".repeat(MAX_USER_DATA_BYTES + 1)),
            ),
            (
                "idempotencyKey",
                Box::new(|r| r.idempotency_key = Some(String::new())),
            ),
        ];
        for (field, mutate) in cases {
            let mut req = ok_request();
            mutate(&mut req);
            let err = validate_create(&req, &types, &ZonePolicy::AnyDnsLabel).unwrap_err();
            assert_eq!(err.field, field, "{}", err.message);
        }
        validate_create(&ok_request(), &types, &ZonePolicy::AnyDnsLabel).unwrap();
    }

    #[test]
    fn zone_list_is_enforced_and_listed() {
        let types = default_machine_types();
        let zones = ZonePolicy::Only(vec!["zone-b".into(), "zone-c".into()]);
        let err = validate_create(&ok_request(), &types, &zones).unwrap_err();
        assert_eq!(err.field, "zone");
        assert!(err.message.contains("zone-b, zone-c"), "{}", err.message);
    }

    #[test]
    fn unknown_machine_type_lists_the_catalogue() {
        let mut req = ok_request();
        req.machine_type = "x".into();
        let err =
            validate_create(&req, &default_machine_types(), &ZonePolicy::AnyDnsLabel).unwrap_err();
        assert!(err.message.contains("m1.small"), "{}", err.message);
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_subdomain("a.b-c.d1"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(!is_dns_subdomain("-a"));
        assert!(is_dns_label("zone-a"));
        assert!(!is_dns_label("zone.a"));
    }
}
