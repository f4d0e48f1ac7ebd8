//! The provider ID that links a Machine, its Node and its simulated instance.
//!
//! MCM stores the driver's provider ID in `Machine.spec.providerID` and expects the Node that
//! the instance registers to carry the same string in `Node.spec.providerID`. Both the node agent
//! (which writes the Node) and a generated provider's driver (which returns the ID from
//! `CreateMachine` and parses it in `DeleteMachine`/`GetMachineStatus`) must agree on one format,
//! so it lives here: `simcloud://<zone>/<instance-id>`.

use std::fmt;
use std::str::FromStr;

/// The URI scheme of every provider ID this cloud hands out.
pub const PROVIDER_ID_SCHEME: &str = "simcloud";

/// A parsed provider ID: the zone and the instance ID, both needed to address an instance the way
/// a real cloud's zonal API would.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId {
    /// The zone the instance runs in, e.g. `zone-a`.
    pub zone: String,
    /// The instance ID, e.g. `i-0123456789abcdef`.
    pub instance_id: String,
}

/// Why a string is not a provider ID of this cloud.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderIdError {
    /// The scheme is missing or names another cloud.
    #[error(
        "provider ID {value:?} does not start with \"simcloud://\"; expected simcloud://<zone>/<instance-id> (was the machine created by another provider?)"
    )]
    WrongScheme {
        /// The string that was parsed.
        value: String,
    },
    /// The part after the scheme is not `<zone>/<instance-id>`.
    #[error(
        "provider ID {value:?} is malformed: expected simcloud://<zone>/<instance-id> with a non-empty zone and instance ID and no further '/'"
    )]
    Malformed {
        /// The string that was parsed.
        value: String,
    },
}

impl ProviderId {
    /// Builds the provider ID of an instance.
    pub fn new(zone: impl Into<String>, instance_id: impl Into<String>) -> Self {
        Self {
            zone: zone.into(),
            instance_id: instance_id.into(),
        }
    }

    /// Parses `simcloud://<zone>/<instance-id>`.
    pub fn parse(value: &str) -> Result<Self, ProviderIdError> {
        let rest = value
            .strip_prefix(PROVIDER_ID_SCHEME)
            .and_then(|r| r.strip_prefix("://"))
            .ok_or_else(|| ProviderIdError::WrongScheme {
                value: value.to_owned(),
            })?;
        let malformed = || ProviderIdError::Malformed {
            value: value.to_owned(),
        };
        let (zone, instance_id) = rest.split_once('/').ok_or_else(malformed)?;
        if zone.is_empty() || instance_id.is_empty() || instance_id.contains('/') {
            return Err(malformed());
        }
        Ok(Self::new(zone, instance_id))
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PROVIDER_ID_SCHEME}://{}/{}",
            self.zone, self.instance_id
        )
    }
}

impl FromStr for ProviderId {
    type Err = ProviderIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Encodes the provider ID of an instance (`simcloud://<zone>/<instance-id>`).
pub fn encode_provider_id(zone: &str, instance_id: &str) -> String {
    ProviderId::new(zone, instance_id).to_string()
}

/// Decodes a provider ID into `(zone, instance-id)`.
pub fn decode_provider_id(value: &str) -> Result<ProviderId, ProviderIdError> {
    ProviderId::parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_zone_and_instance() {
        let id = ProviderId::new("zone-a", "i-0011223344556677");
        let text = id.to_string();
        assert_eq!(text, "simcloud://zone-a/i-0011223344556677");
        assert_eq!(ProviderId::parse(&text).unwrap(), id);
        assert_eq!(text.parse::<ProviderId>().unwrap(), id);
        assert_eq!(encode_provider_id("zone-a", "i-0011223344556677"), text);
        assert_eq!(decode_provider_id(&text).unwrap(), id);
    }

    #[test]
    fn rejects_other_schemes_and_shapes() {
        for (input, wrong_scheme) in [
            ("aws:///eu-west-1a/i-1", true),
            ("i-1", true),
            ("simcloud:/zone-a/i-1", true),
            ("simcloud://zone-a", false),
            ("simcloud:///i-1", false),
            ("simcloud://zone-a/", false),
            ("simcloud://zone-a/i-1/x", false),
        ] {
            let err = ProviderId::parse(input).unwrap_err();
            assert_eq!(
                matches!(err, ProviderIdError::WrongScheme { .. }),
                wrong_scheme,
                "{input}: {err}"
            );
            assert!(err.to_string().contains(input), "{err}");
        }
    }
}
