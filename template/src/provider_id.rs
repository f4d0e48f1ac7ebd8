//! Provider IDs: the string that links a Machine (`spec.providerID`), its Node
//! (`spec.providerID`, written by the kubelet's cloud provider) and its VM.
//!
//! The format is the cloud's, because the Node side is written by the cloud's kubelet
//! integration, not by this driver: both must agree byte for byte. The simulated cloud's
//! node agent writes `simcloud://<zone>/<vm-id>`; a real cloud uses its own form (the
//! kubelet's cloud providers write `<scheme>:///<zone>/<instance-id>`). When the real cloud replaces the simulated one, change
//! these two functions to its format.

use crate::cloud::VmRef;

/// A provider ID that this cloud did not issue, or that is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.providerID {value:?}: {reason}")]
pub struct ProviderIdError {
    /// The provider ID.
    pub value: String,
    /// Why it cannot be decoded (and what it should look like).
    pub reason: String,
}

/// The provider ID of a VM.
pub fn encode(vm: &VmRef) -> String {
    mcm_simulated_cloud::encode_provider_id(&vm.zone, &vm.id)
}

/// The VM a provider ID names.
pub fn decode(provider_id: &str) -> Result<VmRef, ProviderIdError> {
    mcm_simulated_cloud::decode_provider_id(provider_id)
        .map(|id| VmRef {
            zone: id.zone,
            id: id.instance_id,
        })
        .map_err(|error| ProviderIdError {
            value: provider_id.to_owned(),
            reason: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let vm = VmRef {
            zone: "zone-a".into(),
            id: "i-0123456789abcdef".into(),
        };
        let text = encode(&vm);
        assert_eq!(text, "simcloud://zone-a/i-0123456789abcdef");
        assert_eq!(decode(&text).unwrap(), vm);
    }

    #[test]
    fn foreign_and_malformed_ids_are_rejected_with_the_value() {
        for bad in [
            "othercloud:///zone-a/i-1",
            "simcloud://zone-a",
            "simcloud:///i-1",
            "",
        ] {
            let error = decode(bad).unwrap_err();
            assert_eq!(error.value, bad);
            assert!(error.to_string().contains("spec.providerID"), "{error}");
        }
    }
}
