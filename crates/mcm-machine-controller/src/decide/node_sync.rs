//! The node-side sync of a machine pass (contract 02 §4.6, rows H30–H33): the
//! machine-name label, the Machine's node template (labels, annotations, taints) and
//! the class's virtual capacity, computed from one desired state so that both writes
//! agree (MCM can lose taint changes here, quirk 12; we do not).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use mcm_api::v1alpha1::{Machine, MachineClass, NodeTemplateSpec};
use mcm_api::well_known::{node_annotations, node_labels};

/// The Node with `node.gardener.cloud/machine-name` set to the machine, if it differs.
pub fn with_machine_name_label(node: &Node, machine: &Machine) -> Option<Node> {
    let current = node
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(node_labels::MACHINE_NAME));
    if current.map(String::as_str) == Some(machine.name()) {
        return None;
    }
    let mut updated = node.clone();
    updated
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(
            node_labels::MACHINE_NAME.to_owned(),
            machine.name().to_owned(),
        );
    Some(updated)
}

/// A last-applied annotation on the Node is not valid JSON (H33).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node annotation {annotation} is not valid JSON: {reason}")]
pub struct BadLastApplied {
    /// Which annotation.
    pub annotation: &'static str,
    /// The parse error.
    pub reason: String,
}

/// The changes the node-side sync wants to make.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeTemplatePlan {
    labels: BTreeMap<String, Option<String>>,
    annotations: BTreeMap<String, Option<String>>,
    taints: Option<Vec<Taint>>,
    capacity: Option<BTreeMap<String, Quantity>>,
}

impl NodeTemplatePlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
            && self.annotations.is_empty()
            && self.taints.is_none()
            && self.capacity.is_none()
    }

    /// Whether `status.capacity` changes (a node status write comes first).
    pub fn changes_capacity(&self) -> bool {
        self.capacity.is_some()
    }

    /// Whether labels, annotations or taints change (a node write).
    pub fn changes_metadata(&self) -> bool {
        !self.labels.is_empty() || !self.annotations.is_empty() || self.taints.is_some()
    }

    /// The Node with the new `status.capacity`.
    pub fn apply_capacity(&self, node: &Node) -> Node {
        let mut updated = node.clone();
        if let Some(capacity) = &self.capacity {
            updated.status.get_or_insert_with(Default::default).capacity = Some(capacity.clone());
        }
        updated
    }

    /// The Node with the new labels, annotations and taints.
    pub fn apply_metadata(&self, node: &Node) -> Node {
        let mut updated = node.clone();
        apply_map(&mut updated.metadata.labels, &self.labels);
        apply_map(&mut updated.metadata.annotations, &self.annotations);
        if let Some(taints) = &self.taints {
            let spec = updated.spec.get_or_insert_with(Default::default);
            spec.taints = if taints.is_empty() {
                None
            } else {
                Some(taints.clone())
            };
        }
        updated
    }
}

fn apply_map(
    target: &mut Option<BTreeMap<String, String>>,
    changes: &BTreeMap<String, Option<String>>,
) {
    if changes.is_empty() {
        return;
    }
    let map = target.get_or_insert_with(BTreeMap::new);
    for (key, value) in changes {
        match value {
            Some(value) => {
                map.insert(key.clone(), value.clone());
            }
            None => {
                map.remove(key);
            }
        }
    }
}

/// Keys to remove (managed before, no longer desired) and to set (desired, missing
/// or different). Keys never managed are left alone.
fn diff_map(
    current: Option<&BTreeMap<String, String>>,
    last_applied: Option<&BTreeMap<String, String>>,
    desired: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, Option<String>> {
    let empty = BTreeMap::new();
    let current = current.unwrap_or(&empty);
    let last_applied = last_applied.unwrap_or(&empty);
    let desired = desired.unwrap_or(&empty);
    let mut changes = BTreeMap::new();
    for key in last_applied.keys() {
        if !desired.contains_key(key) && current.contains_key(key) {
            changes.insert(key.clone(), None);
        }
    }
    for (key, value) in desired {
        if current.get(key) != Some(value) {
            changes.insert(key.clone(), Some(value.clone()));
        }
    }
    changes
}

fn taint_key(taint: &Taint) -> (&str, &str) {
    (&taint.key, &taint.effect)
}

fn diff_taints(current: &[Taint], last_applied: &[Taint], desired: &[Taint]) -> Option<Vec<Taint>> {
    let mut result: Vec<Taint> = current
        .iter()
        .filter(|taint| {
            let managed_before = last_applied
                .iter()
                .any(|t| taint_key(t) == taint_key(taint));
            let desired_now = desired.iter().any(|t| taint_key(t) == taint_key(taint));
            !managed_before || desired_now
        })
        .cloned()
        .collect();
    for want in desired {
        match result.iter_mut().find(|t| taint_key(t) == taint_key(want)) {
            Some(existing) => {
                if existing.value != want.value || existing.time_added != want.time_added {
                    *existing = want.clone();
                }
            }
            None => result.push(want.clone()),
        }
    }
    (result != current).then_some(result)
}

fn parse_annotation<T: serde::de::DeserializeOwned + Default>(
    node: &Node,
    annotation: &'static str,
) -> Result<T, BadLastApplied> {
    match node
        .metadata
        .annotations
        .as_ref()
        .and_then(|all| all.get(annotation))
    {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|error| BadLastApplied {
            annotation,
            reason: error.to_string(),
        }),
    }
}

/// §4.6 step 2: what to change on the Node so it carries the Machine's node template
/// and the class's virtual capacity.
pub fn plan_node_template(
    node: &Node,
    machine: &Machine,
    class: &MachineClass,
) -> Result<NodeTemplatePlan, BadLastApplied> {
    let last_applied: NodeTemplateSpec =
        parse_annotation(node, node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS)?;
    let last_capacity: BTreeMap<String, Quantity> =
        parse_annotation(node, node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY)?;
    let desired = &machine.spec.node_template;

    let mut plan = NodeTemplatePlan {
        labels: diff_map(
            node.metadata.labels.as_ref(),
            last_applied.metadata.labels.as_ref(),
            desired.metadata.labels.as_ref(),
        ),
        annotations: diff_map(
            node.metadata.annotations.as_ref(),
            last_applied.metadata.annotations.as_ref(),
            desired.metadata.annotations.as_ref(),
        ),
        taints: diff_taints(
            node.spec
                .as_ref()
                .and_then(|s| s.taints.as_deref())
                .unwrap_or_default(),
            last_applied.spec.taints.as_deref().unwrap_or_default(),
            desired.spec.taints.as_deref().unwrap_or_default(),
        ),
        capacity: None,
    };

    let had_no_annotations = node
        .metadata
        .annotations
        .as_ref()
        .is_none_or(BTreeMap::is_empty);
    if had_no_annotations || plan.changes_metadata() {
        let json = serde_json::to_string(desired).unwrap_or_default();
        let current = node
            .metadata
            .annotations
            .as_ref()
            .and_then(|all| all.get(node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS));
        if current != Some(&json) {
            plan.annotations.insert(
                node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS.to_owned(),
                Some(json),
            );
        }
    }

    let desired_capacity = class
        .node_template
        .as_ref()
        .map(|template| template.virtual_capacity.clone())
        .unwrap_or_default();
    let current_capacity = node
        .status
        .as_ref()
        .and_then(|s| s.capacity.clone())
        .unwrap_or_default();
    let mut new_capacity = current_capacity.clone();
    for key in last_capacity.keys() {
        if !desired_capacity.contains_key(key) {
            new_capacity.remove(key);
        }
    }
    for (key, value) in &desired_capacity {
        new_capacity.insert(key.clone(), value.clone());
    }
    if new_capacity != current_capacity {
        plan.capacity = Some(new_capacity);
    }
    // Keep the capacity bookkeeping annotation in step with the desired map.
    let capacity_annotation = if desired_capacity.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&desired_capacity).unwrap_or_default())
    };
    let current_annotation = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|all| all.get(node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY))
        .cloned();
    if plan.capacity.is_some() && capacity_annotation != current_annotation {
        plan.annotations.insert(
            node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY.to_owned(),
            capacity_annotation,
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;

    fn taint(key: &str, effect: &str, value: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: effect.to_owned(),
            value: Some(value.to_owned()),
            time_added: None,
        }
    }

    fn machine_with_template(labels: &[(&str, &str)], taints: Vec<Taint>) -> Machine {
        let mut machine = Machine::default();
        machine.metadata.name = Some("m1".into());
        machine.spec.node_template.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        machine.spec.node_template.spec = NodeSpec {
            taints: Some(taints),
            ..NodeSpec::default()
        };
        machine
    }

    #[test]
    fn removed_template_entries_leave_the_node_and_unmanaged_ones_stay() {
        let first = machine_with_template(
            &[("a", "1"), ("b", "2")],
            vec![taint("t", "NoSchedule", "x")],
        );
        let mut node = Node::default();
        node.metadata.labels = Some([("kubelet".to_owned(), "own".to_owned())].into());
        let plan = plan_node_template(&node, &first, &MachineClass::default()).unwrap();
        let node = plan.apply_metadata(&node);
        assert_eq!(node.metadata.labels.as_ref().unwrap().len(), 3);
        assert!(
            node.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS)
        );

        let second = machine_with_template(&[("a", "1")], vec![]);
        let plan = plan_node_template(&node, &second, &MachineClass::default()).unwrap();
        let node = plan.apply_metadata(&node);
        let labels = node.metadata.labels.as_ref().unwrap();
        assert!(
            labels.contains_key("kubelet") && labels.contains_key("a") && !labels.contains_key("b")
        );
        assert!(node.spec.as_ref().unwrap().taints.is_none());

        // Converged: nothing more to do.
        let plan = plan_node_template(&node, &second, &MachineClass::default()).unwrap();
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn virtual_capacity_is_added_and_removed_with_its_bookkeeping() {
        let machine = machine_with_template(&[], vec![]);
        let mut class = MachineClass::default();
        let mut template = mcm_api::v1alpha1::NodeTemplate::default();
        template
            .virtual_capacity
            .insert("example.com/dongle".into(), Quantity("2".into()));
        class.node_template = Some(template);
        let node = Node::default();
        let plan = plan_node_template(&node, &machine, &class).unwrap();
        assert!(plan.changes_capacity());
        let node = plan.apply_metadata(&plan.apply_capacity(&node));
        assert_eq!(
            node.status.as_ref().unwrap().capacity.as_ref().unwrap()["example.com/dongle"].0,
            "2"
        );
        assert!(
            node.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY)
        );

        class
            .node_template
            .as_mut()
            .unwrap()
            .virtual_capacity
            .clear();
        let plan = plan_node_template(&node, &machine, &class).unwrap();
        let node = plan.apply_metadata(&plan.apply_capacity(&node));
        assert!(
            node.status
                .as_ref()
                .unwrap()
                .capacity
                .as_ref()
                .unwrap()
                .is_empty()
        );
        assert!(
            !node
                .metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(node_annotations::LAST_APPLIED_VIRTUAL_CAPACITY)
        );
    }

    #[test]
    fn bad_bookkeeping_json_is_reported() {
        let mut node = Node::default();
        node.metadata.annotations = Some(
            [(
                node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS.to_owned(),
                "{".to_owned(),
            )]
            .into(),
        );
        let error =
            plan_node_template(&node, &Machine::default(), &MachineClass::default()).unwrap_err();
        assert_eq!(
            error.annotation,
            node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS
        );
    }

    #[test]
    fn machine_name_label_is_set_once() {
        let mut machine = Machine::default();
        machine.metadata.name = Some("m1".into());
        let node = with_machine_name_label(&Node::default(), &machine).unwrap();
        assert!(with_machine_name_label(&node, &machine).is_none());
    }
}
