//! The MachineClass and Secret finalizer controllers (contract 02 §6, rows F1–F9).

use std::borrow::Borrow;

use mcm_api::v1alpha1::{ClassSpec, Machine, MachineClass};
use mcm_api::well_known::finalizers;

use crate::retry::Retry;

/// What the class controller does with the class finalizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassFinalizerAction {
    /// Add the finalizer (if missing) and enqueue these referencing machines (F1).
    Ensure {
        /// Keys of non-deleting machines to enqueue.
        enqueue: Vec<String>,
    },
    /// Remove the finalizer if present (F2, F4).
    Remove,
    /// The class is being deleted but machines still use it: the pass fails (F3).
    Blocked,
}

/// Whether a Machine references the class (`spec.class.kind == MachineClass` and
/// the same name).
pub fn references_class(machine: &Machine, class_name: &str) -> bool {
    machine.spec.class.kind == ClassSpec::MACHINE_CLASS_KIND
        && machine.spec.class.name == class_name
}

/// §6.1: the finalizer decision for a class, given all machines of the namespace.
pub fn class_finalizer_action(
    class: &MachineClass,
    machines: &[impl Borrow<Machine>],
) -> ClassFinalizerAction {
    let referencing: Vec<&Machine> = machines
        .iter()
        .map(Borrow::borrow)
        .filter(|m| references_class(m, class.name()))
        .collect();
    let deleting = class.metadata.deletion_timestamp.is_some();
    match (deleting, referencing.is_empty()) {
        (_, true) => ClassFinalizerAction::Remove,
        (true, false) => ClassFinalizerAction::Blocked,
        (false, false) => ClassFinalizerAction::Ensure {
            enqueue: referencing
                .iter()
                .filter(|m| !m.is_deleting())
                .map(|m| format!("{}/{}", m.namespace(), m.name()))
                .collect(),
        },
    }
}

/// The requeue after a class pass: `Short` if it failed, else `Long`.
pub fn class_pass_retry(failed: bool) -> Retry {
    if failed { Retry::Short } else { Retry::Long }
}

/// §6.2: whether any class references the Secret by name via `secretRef` or
/// `credentialsSecretRef` (namespaces are not compared, as in MCM).
pub fn secret_is_referenced(secret_name: &str, classes: &[impl Borrow<MachineClass>]) -> bool {
    classes.iter().map(Borrow::borrow).any(|class| {
        [&class.secret_ref, &class.credentials_secret_ref]
            .into_iter()
            .flatten()
            .any(|reference| reference.name.as_deref() == Some(secret_name))
    })
}

/// A finalizer list with `finalizer` added (if missing) or removed; `None` when no
/// change is needed.
pub fn toggle_finalizer(
    current: Option<&Vec<String>>,
    finalizer: &str,
    present: bool,
) -> Option<Vec<String>> {
    let list = current.cloned().unwrap_or_default();
    let has = list.iter().any(|f| f == finalizer);
    match (present, has) {
        (true, false) => {
            let mut list = list;
            list.push(finalizer.to_owned());
            Some(list)
        }
        (false, true) => Some(list.into_iter().filter(|f| f != finalizer).collect()),
        _ => None,
    }
}

/// The class finalizer string.
pub const CLASS_FINALIZER: &str = finalizers::MACHINE_CONTROLLER_MANAGER;
/// The secret finalizer string.
pub const SECRET_FINALIZER: &str = finalizers::SECRET;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::SecretReference;
    use std::sync::Arc;

    fn machine(name: &str, class: &str, kind: &str) -> Arc<Machine> {
        let mut m = Machine::default();
        m.metadata.name = Some(name.into());
        m.metadata.namespace = Some("ns".into());
        m.spec.class = ClassSpec {
            api_group: String::new(),
            kind: kind.into(),
            name: class.into(),
        };
        Arc::new(m)
    }

    fn class(name: &str) -> MachineClass {
        let mut c = MachineClass::default();
        c.metadata.name = Some(name.into());
        c
    }

    #[test]
    fn only_machine_class_kind_references_count() {
        let machines = vec![
            machine("a", "c1", "MachineClass"),
            machine("b", "c1", "AWSMachineClass"),
        ];
        assert_eq!(
            class_finalizer_action(&class("c1"), &machines),
            ClassFinalizerAction::Ensure {
                enqueue: vec!["ns/a".into()]
            }
        );
        assert_eq!(
            class_finalizer_action(&class("c2"), &machines),
            ClassFinalizerAction::Remove
        );
    }

    #[test]
    fn secrets_match_by_name_only() {
        let mut c = class("c1");
        c.credentials_secret_ref = Some(SecretReference {
            name: Some("creds".into()),
            namespace: Some("elsewhere".into()),
        });
        assert!(secret_is_referenced("creds", &[Arc::new(c.clone())]));
        assert!(!secret_is_referenced("other", &[Arc::new(c)]));
    }

    #[test]
    fn finalizer_toggling_is_idempotent() {
        let list = vec!["x".to_owned()];
        assert_eq!(
            toggle_finalizer(Some(&list), "f", true),
            Some(vec!["x".into(), "f".into()])
        );
        assert_eq!(toggle_finalizer(Some(&list), "x", true), None);
        assert_eq!(toggle_finalizer(Some(&list), "x", false), Some(vec![]));
        assert_eq!(toggle_finalizer(None, "f", false), None);
    }
}
