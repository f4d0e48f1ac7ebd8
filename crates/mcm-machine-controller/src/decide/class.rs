//! Validation of a Machine's class reference and of its MachineClass, and the merge
//! of the class's secrets (contract 02 §2 steps 5–6, rows G5–G11, D45).

use mcm_api::driver::SecretData;
use mcm_api::v1alpha1::{Machine, MachineClass, NodeTemplate};
use mcm_api::well_known::finalizers;

use super::lookup::Lookup;
use crate::retry::Retry;

/// Why a pass cannot use the Machine's class; each names the retry MCM uses.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassProblem {
    /// `spec.class.kind` or `spec.class.name` is empty (G5): `Long`.
    InvalidMachineClassReference,
    /// The MachineClass is not in the cache (G6): `Long`.
    ClassNotFound(String),
    /// The MachineClass could not be read (G6): `Long`.
    ClassReadFailed(String),
    /// A referenced Secret could not be read, other than not-found (G11): `Long`.
    SecretReadFailed(String),
    /// The class lacks the MCM finalizer (G7): enqueue the class, `Short`.
    ClassFinalizerMissing(String),
    /// The class's nodeTemplate is incomplete (G8): `Short`.
    InvalidNodeTemplate(String),
}

impl ClassProblem {
    /// The retry MCM uses for this problem.
    pub fn retry(&self) -> Retry {
        match self {
            ClassProblem::InvalidMachineClassReference
            | ClassProblem::ClassNotFound(_)
            | ClassProblem::ClassReadFailed(_)
            | ClassProblem::SecretReadFailed(_) => Retry::Long,
            ClassProblem::ClassFinalizerMissing(_) | ClassProblem::InvalidNodeTemplate(_) => {
                Retry::Short
            }
        }
    }
}

impl std::fmt::Display for ClassProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassProblem::InvalidMachineClassReference => f.write_str(
                "spec.class.kind and spec.class.name must both be set (e.g. kind: MachineClass, name: <class>)",
            ),
            ClassProblem::ClassNotFound(name) => write!(
                f,
                "MachineClass {name:?} not found in the controller's namespace: create it or fix spec.class.name"
            ),
            ClassProblem::ClassReadFailed(error) => write!(f, "reading the MachineClass failed: {error}"),
            ClassProblem::SecretReadFailed(error) => write!(f, "reading a secret of the MachineClass failed: {error}"),
            ClassProblem::ClassFinalizerMissing(name) => write!(
                f,
                "MachineClass {name:?} does not carry the finalizer {} yet; the class controller adds it",
                finalizers::MACHINE_CONTROLLER_MANAGER
            ),
            ClassProblem::InvalidNodeTemplate(reason) => write!(f, "MachineClass nodeTemplate is invalid: {reason}"),
        }
    }
}

/// G5: the Machine must name its class.
pub fn check_class_reference(machine: &Machine) -> Result<(), ClassProblem> {
    if machine.spec.class.kind.is_empty() || machine.spec.class.name.is_empty() {
        Err(ClassProblem::InvalidMachineClassReference)
    } else {
        Ok(())
    }
}

/// Merges the class's secrets: `secretRef` first, `credentialsSecretRef` over it. A
/// missing Secret (or one outside the namespace) is empty data, not an error (G9);
/// any other read error is (G11). `None` = the class has no such reference.
pub fn merge_secret_data(
    secret: Option<Lookup<SecretData>>,
    credentials: Option<Lookup<SecretData>>,
) -> Result<SecretData, ClassProblem> {
    let mut merged = SecretData::new();
    for lookup in [secret, credentials].into_iter().flatten() {
        match lookup {
            Lookup::Found(data) => merged.merge_from(&data),
            Lookup::NotFound => {}
            Lookup::Failed(error) => return Err(ClassProblem::SecretReadFailed(error)),
        }
    }
    Ok(merged)
}

/// G8: a nodeTemplate must have `cpu`, `gpu` and `memory` capacity and non-empty
/// instance type, region and zone.
pub fn check_node_template(template: &NodeTemplate) -> Result<(), ClassProblem> {
    let missing: Vec<&str> = ["cpu", "gpu", "memory"]
        .into_iter()
        .filter(|key| !template.capacity.contains_key(*key))
        .collect();
    let capacity_missing = !missing.is_empty();
    let mut fields = Vec::new();
    if template.instance_type.is_empty() {
        fields.push("nodeTemplate.instanceType");
    }
    if template.region.is_empty() {
        fields.push("nodeTemplate.region");
    }
    if template.zone.is_empty() {
        fields.push("nodeTemplate.zone");
    }
    if !capacity_missing && fields.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if capacity_missing {
        parts.push(format!(
            "nodeTemplate.capacity lacks {}",
            missing.join(", ")
        ));
    }
    if !fields.is_empty() {
        parts.push(format!("{} must not be empty", fields.join(", ")));
    }
    Err(ClassProblem::InvalidNodeTemplate(parts.join("; ")))
}

/// G6–G8 for a class that was looked up: found, carrying the finalizer, with a
/// valid nodeTemplate.
pub fn check_class(class: Lookup<MachineClass>, name: &str) -> Result<MachineClass, ClassProblem> {
    let class = match class {
        Lookup::Found(class) => class,
        Lookup::NotFound => return Err(ClassProblem::ClassNotFound(name.to_owned())),
        Lookup::Failed(error) => return Err(ClassProblem::ClassReadFailed(error)),
    };
    if !class.has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER) {
        return Err(ClassProblem::ClassFinalizerMissing(name.to_owned()));
    }
    if let Some(template) = &class.node_template {
        check_node_template(template)?;
    }
    Ok(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    #[test]
    fn node_template_errors_name_the_fields() {
        let mut template = NodeTemplate::default();
        template.capacity.insert("cpu".into(), Quantity("2".into()));
        template.zone = "z".into();
        let error = check_node_template(&template).unwrap_err().to_string();
        assert!(error.contains("lacks gpu, memory"), "{error}");
        assert!(
            error.contains("nodeTemplate.instanceType, nodeTemplate.region"),
            "{error}"
        );
    }

    #[test]
    fn secrets_merge_with_credentials_winning_and_missing_ones_empty() {
        let secret: SecretData = [("userData", "u"), ("token", "a")].into_iter().collect();
        let credentials: SecretData = [("token", "b")].into_iter().collect();
        let merged = merge_secret_data(
            Some(Lookup::Found(secret)),
            Some(Lookup::Found(credentials)),
        )
        .unwrap();
        assert_eq!(merged.get_str("token").unwrap(), "b");
        let empty = merge_secret_data(Some(Lookup::NotFound), None).unwrap();
        assert!(empty.is_empty());
        let failed = merge_secret_data(None, Some(Lookup::Failed("boom".into())));
        assert_eq!(failed.unwrap_err().retry(), Retry::Long);
    }
}
