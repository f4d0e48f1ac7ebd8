//! The default machine-type catalogue. Machine types decide a Node's capacity, so schedulers and
//! autoscaler-style tests see believable numbers; the names are what a MachineClass refers to.

use crate::api::MachineType;

/// `m1.small` (2 CPU, 4 GiB), `m1.medium` (4 CPU, 8 GiB), `m1.large` (8 CPU, 16 GiB),
/// `m1.xlarge` (16 CPU, 64 GiB); 110 pods each, like a kubelet's default.
pub fn default_machine_types() -> Vec<MachineType> {
    [
        ("m1.small", 2, 4),
        ("m1.medium", 4, 8),
        ("m1.large", 8, 16),
        ("m1.xlarge", 16, 64),
    ]
    .into_iter()
    .map(|(name, cpu, gib)| MachineType {
        name: name.to_owned(),
        cpu,
        memory_mib: gib * 1024,
        pods: 110,
    })
    .collect()
}
