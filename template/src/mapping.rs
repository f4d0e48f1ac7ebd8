//! How VMs and Machines find each other: by name and by tags.
//!
//! MCM needs a unique way from a Machine to its VM and back (the seed guide's first
//! warning). The driver uses three handles:
//!
//! * the VM name is the Machine name, which is also the hostname and so the Node name;
//! * the tag [`MACHINE_NAME_TAG`] holds the Machine name, so a lookup does not depend on
//!   the cloud keeping names unique, and the tag [`MACHINE_CLASS_TAG`] the class name;
//! * the class's mandatory tags `kubernetes.io/cluster/<cluster>` and
//!   `kubernetes.io/role/<role>` mark every VM of the cluster, so `ListMachines` also finds
//!   VMs whose Machine is gone (orphans), which the controller then deletes.
//!
//! A Machine's VM is looked up by the cluster and role tags *and* the machine-name tag, so
//! two clusters with equally named Machines in one cloud account never see each other's
//! VMs.

use std::collections::BTreeMap;

use crate::cloud::Vm;
use crate::provider_spec::ProviderSpec;

/// Prefix of the mandatory cluster tag (`kubernetes.io/cluster/<cluster>`).
pub const CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";
/// Prefix of the mandatory role tag (`kubernetes.io/role/<role>`).
pub const ROLE_TAG_PREFIX: &str = "kubernetes.io/role/";
/// Tag holding the name of the Machine a VM belongs to.
pub const MACHINE_NAME_TAG: &str = "mcm.gardener.cloud/machine-name";
/// Tag holding the name of the MachineClass a VM was created from.
pub const MACHINE_CLASS_TAG: &str = "mcm.gardener.cloud/machine-class";
/// Tags the driver sets itself; a MachineClass must not set them.
pub const RESERVED_TAGS: [&str; 2] = [MACHINE_NAME_TAG, MACHINE_CLASS_TAG];

/// The tags a new VM gets: the class's tags plus the machine and class names.
pub fn vm_tags(
    spec: &ProviderSpec,
    machine_name: &str,
    class_name: &str,
) -> BTreeMap<String, String> {
    let mut tags = spec.tags.clone();
    tags.insert(MACHINE_NAME_TAG.to_owned(), machine_name.to_owned());
    tags.insert(MACHINE_CLASS_TAG.to_owned(), class_name.to_owned());
    tags
}

/// The cluster and role tags of a class: every VM of the cluster's worker role has them.
pub fn cluster_filter(spec: &ProviderSpec) -> BTreeMap<String, String> {
    spec.tags
        .iter()
        .filter(|(key, _)| key.starts_with(CLUSTER_TAG_PREFIX) || key.starts_with(ROLE_TAG_PREFIX))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The tags that find one Machine's VM: the cluster filter plus the machine name.
pub fn machine_filter(spec: &ProviderSpec, machine_name: &str) -> BTreeMap<String, String> {
    let mut tags = cluster_filter(spec);
    tags.insert(MACHINE_NAME_TAG.to_owned(), machine_name.to_owned());
    tags
}

/// The Machine a VM belongs to: its machine-name tag, else its name (VMs created by hand
/// or by an older driver version).
pub fn machine_name_of(vm: &Vm) -> &str {
    vm.tags
        .get(MACHINE_NAME_TAG)
        .map(String::as_str)
        .unwrap_or(&vm.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::VmState;

    fn spec() -> ProviderSpec {
        ProviderSpec {
            tags: [
                ("kubernetes.io/cluster/c1", "1"),
                ("kubernetes.io/role/node", "1"),
                ("team", "blue"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ..ProviderSpec::default()
        }
    }

    #[test]
    fn new_vms_carry_class_tags_plus_machine_and_class_names() {
        let tags = vm_tags(&spec(), "m-1", "class-a");
        assert_eq!(tags["team"], "blue");
        assert_eq!(tags[MACHINE_NAME_TAG], "m-1");
        assert_eq!(tags[MACHINE_CLASS_TAG], "class-a");
        assert_eq!(tags.len(), 5);
    }

    #[test]
    fn filters_use_only_cluster_role_and_machine_tags() {
        let cluster = cluster_filter(&spec());
        assert_eq!(
            cluster.keys().collect::<Vec<_>>(),
            ["kubernetes.io/cluster/c1", "kubernetes.io/role/node"]
        );
        let machine = machine_filter(&spec(), "m-1");
        assert_eq!(machine.len(), 3);
        assert_eq!(machine[MACHINE_NAME_TAG], "m-1");
    }

    #[test]
    fn machine_name_comes_from_the_tag_then_the_vm_name() {
        let mut vm = Vm {
            id: "i-1".into(),
            name: "vm-name".into(),
            zone: "zone-a".into(),
            hostname: "vm-name".into(),
            tags: BTreeMap::new(),
            state: VmState::Running,
        };
        assert_eq!(machine_name_of(&vm), "vm-name");
        vm.tags.insert(MACHINE_NAME_TAG.into(), "m-1".into());
        assert_eq!(machine_name_of(&vm), "m-1");
    }
}
