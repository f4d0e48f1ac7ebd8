//! Health of a Machine from its Node (contract 02 §4.2–4.5, rows H1–H29): copy the
//! Node's conditions, move between Pending/Running/Unknown/Failed, apply the creation,
//! in-place and health timeouts, and count replacements for the rate limit.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::v1alpha1::{Machine, MachineOperationType, MachinePhase, MachineState, MachineStatus};
use mcm_api::well_known::{conditions, machine_labels, node_annotations, node_labels, taints};

use super::effective;
use super::lookup::Lookup;
use super::status::{current_status, current_status_keep_pet, elapsed, go_text, last_operation};
use crate::config::ControllerConfig;
use crate::retry::Retry;

/// §4.2: healthy ⇔ some conditions, no `Ready` that is not `True`, and none of the
/// configured bad conditions in a status other than `False`.
pub fn is_healthy(node_conditions: &[NodeCondition], bad_condition_types: &[String]) -> bool {
    if node_conditions.is_empty() {
        return false;
    }
    node_conditions.iter().all(|condition| {
        let ready_ok = condition.type_ != conditions::READY || condition.status == conditions::TRUE;
        let listed_ok = !bad_condition_types.contains(&condition.type_)
            || condition.status == conditions::FALSE;
        ready_ok && listed_ok
    })
}

/// Whether the Node's conditions differ from the Machine's copy: a type added or
/// removed, a status changed, or (for `InPlaceUpdate`) a reason changed.
pub fn conditions_changed(node: &[NodeCondition], machine: &[NodeCondition]) -> bool {
    let index = |list: &[NodeCondition]| -> BTreeMap<String, (String, Option<String>)> {
        list.iter()
            .map(|c| (c.type_.clone(), (c.status.clone(), c.reason.clone())))
            .collect()
    };
    let (new, old) = (index(node), index(machine));
    if new.len() != old.len() {
        return true;
    }
    new.iter()
        .any(|(type_, (status, reason))| match old.get(type_) {
            None => true,
            Some((old_status, old_reason)) => {
                old_status != status
                    || (type_ == conditions::IN_PLACE_UPDATE && old_reason != reason)
            }
        })
}

/// Whether the Node has `node.gardener.cloud/critical-components-not-ready:NoSchedule`.
pub fn has_critical_components_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .is_some_and(|all| {
            all.iter().any(|taint| {
                taint.key == taints::CRITICAL_COMPONENTS_NOT_READY
                    && taint.effect == taints::EFFECT_NO_SCHEDULE
            })
        })
}

/// A short rendition of conditions for descriptions (MCM prints Go's struct dump).
pub fn conditions_dump(list: &[NodeCondition]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|c| {
            format!(
                "{{Type:{} Status:{} Reason:{} Message:{}}}",
                c.type_,
                c.status,
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    format!("[{}]", items.join(" "))
}

fn node_label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

fn node_annotation<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Time on a timeout's clock. A missing start time is Go's zero time, so the
/// timeout has passed (a machine without `currentStatus.lastUpdateTime` must not sit
/// in `Unknown` forever).
fn timer(since: Option<&Time>, now: Timestamp) -> SignedDuration {
    since.map_or(SignedDuration::MAX, |time| now.duration_since(time.0))
}

/// What happens alongside a health status write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEvent {
    /// Nothing else.
    None,
    /// A creating machine joined: delete its bootstrap token, record the join time.
    Joined,
    /// A Pending machine hit the creation timeout: count a failed join.
    FailedToJoin,
}

/// The result of the health step of a machine pass.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthDecision {
    /// End the pass (H22: node cache error).
    End(Retry),
    /// Write the whole status (unconditional); `Short` on success, `Conflict` on 409.
    Write {
        /// The new status (conditions, last operation, current status).
        status: MachineStatus,
        /// What else to do.
        event: HealthEvent,
    },
    /// The health timeout expired: mark `Failed` through the per-group rate limit.
    MarkFailed {
        /// The `Failed` status to write.
        status: MachineStatus,
        /// The rate-limit group (the Machine's `name` label, empty if absent).
        group: String,
    },
    /// Nothing written; the pass continues. `recheck`: requeue in 1 min too.
    Continue {
        /// A timeout is running: look again in a minute.
        recheck: bool,
    },
}

/// §4.3–4.4: the health step for a Machine with a `node` label and a phase.
pub fn decide_health(
    machine: &Machine,
    node: Lookup<&Node>,
    config: &ControllerConfig,
    now: Timestamp,
) -> HealthDecision {
    let name = machine.name();
    let phase = machine.phase().clone();
    let mut status = machine.status.clone();
    let mut dirty = false;
    let mut event = HealthEvent::None;
    let in_place = matches!(
        phase,
        MachinePhase::InPlaceUpdating | MachinePhase::InPlaceUpdateFailed
    );

    let node = match node {
        Lookup::Failed(_) => return HealthDecision::End(Retry::Short),
        Lookup::NotFound => {
            if !status.conditions.is_empty() && phase == MachinePhase::Running {
                status.last_operation = last_operation(
                    format!(
                        "Node object went missing. Machine {name} is unhealthy - changing MachinePhase to Unknown"
                    ),
                    MachineState::Processing,
                    MachineOperationType::HealthCheck,
                    now,
                );
                status.current_status = current_status_keep_pet(
                    MachinePhase::Unknown,
                    &machine.status.current_status,
                    now,
                );
                dirty = true;
            }
            None
        }
        Lookup::Found(node) => {
            let node_conditions = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            if conditions_changed(&node_conditions, &status.conditions) {
                status.conditions = node_conditions;
                dirty = true;
            }
            if !in_place {
                let bad = effective::node_conditions(machine, config);
                let healthy = is_healthy(&status.conditions, &bad);
                let waiting_for_critical =
                    phase == MachinePhase::Pending && has_critical_components_taint(node);
                if healthy && phase != MachinePhase::Running && !waiting_for_critical {
                    let creating = machine.status.last_operation.type_
                        == MachineOperationType::Create
                        && machine.status.last_operation.state != MachineState::Successful;
                    status.last_operation = if creating {
                        event = HealthEvent::Joined;
                        last_operation(
                            format!(
                                "Machine {name} successfully joined the cluster in {}",
                                go_text(elapsed(machine.metadata.creation_timestamp.as_ref(), now))
                            ),
                            MachineState::Successful,
                            MachineOperationType::Create,
                            now,
                        )
                    } else {
                        last_operation(
                            format!("Machine {name} successfully re-joined the cluster"),
                            MachineState::Successful,
                            MachineOperationType::HealthCheck,
                            now,
                        )
                    };
                    status.current_status = current_status_keep_pet(
                        MachinePhase::Running,
                        &machine.status.current_status,
                        now,
                    );
                    dirty = true;
                } else if !healthy && phase == MachinePhase::Running {
                    status.last_operation = last_operation(
                        format!(
                            "Machine {name} is unhealthy - changing MachinePhase to Unknown. Node conditions: {}",
                            conditions_dump(&status.conditions)
                        ),
                        MachineState::Processing,
                        MachineOperationType::HealthCheck,
                        now,
                    );
                    status.current_status = current_status_keep_pet(
                        MachinePhase::Unknown,
                        &machine.status.current_status,
                        now,
                    );
                    dirty = true;
                }
            }
            Some(node)
        }
    };

    // §8.2 result check for machines in an in-place update (H26, H27).
    if !dirty
        && in_place
        && let Some(node) = node
    {
        match node_label(node, node_labels::UPDATE_RESULT) {
            Some("successful") => {
                status.last_operation = last_operation(
                    format!("Machine {name} successfully updated dependencies"),
                    MachineState::Successful,
                    MachineOperationType::InPlaceUpdate,
                    now,
                );
                status.current_status = current_status(MachinePhase::InPlaceUpdateSuccessful, now);
                dirty = true;
            }
            Some("failed") if phase == MachinePhase::InPlaceUpdating => {
                let reason = node_annotation(node, node_annotations::UPDATE_FAILED_REASON)
                    .unwrap_or_default();
                status.last_operation = last_operation(
                    format!("Machine {name} failed to update dependencies: {reason}"),
                    MachineState::Failed,
                    MachineOperationType::InPlaceUpdate,
                    now,
                );
                status.current_status = current_status(MachinePhase::InPlaceUpdateFailed, now);
                dirty = true;
            }
            _ => {}
        }
    }

    if dirty {
        return HealthDecision::Write { status, event };
    }

    // §4.4 timeouts.
    let since_update = timer(machine.status.current_status.last_update_time.as_ref(), now);
    match phase {
        MachinePhase::Pending => {
            let timeout = effective::creation_timeout(machine, config);
            let age = timer(machine.metadata.creation_timestamp.as_ref(), now);
            if age > timeout {
                status.last_operation = last_operation(
                    format!(
                        "Machine {name} failed to join the cluster in {} minutes.",
                        go_text(timeout)
                    ),
                    MachineState::Failed,
                    machine.status.last_operation.type_.clone(),
                    now,
                );
                status.current_status = current_status_keep_pet(
                    MachinePhase::Failed,
                    &machine.status.current_status,
                    now,
                );
                return HealthDecision::Write {
                    status,
                    event: HealthEvent::FailedToJoin,
                };
            }
            HealthDecision::Continue { recheck: true }
        }
        MachinePhase::InPlaceUpdating => {
            let timeout = effective::inplace_update_timeout(machine, config);
            if since_update > timeout {
                status.last_operation = last_operation(
                    format!(
                        "Machine {name} failed to in-place update in {} minutes.",
                        go_text(timeout)
                    ),
                    MachineState::Failed,
                    MachineOperationType::InPlaceUpdate,
                    now,
                );
                status.current_status = current_status(MachinePhase::InPlaceUpdateFailed, now);
                return HealthDecision::Write {
                    status,
                    event: HealthEvent::None,
                };
            }
            HealthDecision::Continue { recheck: true }
        }
        MachinePhase::Unknown | MachinePhase::InPlaceUpdateFailed => {
            let timeout = effective::health_timeout(machine, config);
            if since_update <= timeout {
                return HealthDecision::Continue { recheck: true };
            }
            if effective::health_timeout_disabled(machine) {
                return HealthDecision::Continue { recheck: false };
            }
            status.last_operation = last_operation(
                format!(
                    "Machine {name} health checks failing since last {} minutes. Updating machine phase to Failed. Node Conditions: {}",
                    go_text(timeout),
                    conditions_dump(&status.conditions)
                ),
                MachineState::Failed,
                machine.status.last_operation.type_.clone(),
                now,
            );
            status.current_status =
                current_status_keep_pet(MachinePhase::Failed, &machine.status.current_status, now);
            HealthDecision::MarkFailed {
                status,
                group: machine
                    .label(machine_labels::NAME)
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
        _ => HealthDecision::Continue { recheck: false },
    }
}

/// §4.5: replacements in progress in a group: every machine neither `Unknown` nor
/// `Running` counts once unless preserved, and `Terminating` ones count once more.
pub fn replacements_in_progress(group: &[Machine]) -> usize {
    group
        .iter()
        .map(|machine| {
            let phase = machine.phase();
            if matches!(phase, MachinePhase::Unknown | MachinePhase::Running) {
                return 0;
            }
            let unpreserved =
                usize::from(machine.status.current_status.preserve_expiry_time.is_none());
            let terminating = usize::from(*phase == MachinePhase::Terminating);
            unpreserved + terminating
        })
        .sum()
}

/// At most one replacement in progress per group (not configurable in MCM).
pub const MAX_REPLACEMENTS: usize = 1;

/// Whether the rate limit allows marking one more machine of the group `Failed`.
pub fn can_mark_failed(group: &[Machine]) -> bool {
    replacements_in_progress(group) < MAX_REPLACEMENTS
}

/// Whether `status` of a machine counts as "the previous Failed mark is visible":
/// the cache shows it `Failed` or `Terminating` (or it is gone).
pub fn failed_mark_visible(machine: Option<&Machine>) -> bool {
    machine.is_none_or(|m| matches!(m.phase(), MachinePhase::Failed | MachinePhase::Terminating))
}
