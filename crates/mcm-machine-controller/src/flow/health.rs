//! The health and node-side steps of a machine pass (contract 02 §4.3–4.6).

use k8s_openapi::api::core::v1::Node;
use mcm_api::v1alpha1::{Machine, MachineClass};

use super::effects::{Effects, Observation, PassContext};
use crate::decide::health::{HealthDecision, HealthEvent, can_mark_failed, decide_health};
use crate::decide::lookup::{Lookup, retry_after_write_error};
use crate::decide::node_sync::{plan_node_template, with_machine_name_label};
use crate::decide::status::elapsed;
use crate::retry::Retry;

/// How a step ended.
#[derive(Debug)]
pub enum StepResult {
    /// The pass ends here.
    End(Retry),
    /// The pass goes on with this (possibly updated) Machine.
    Continue(Box<Machine>),
}

fn target_node<E: Effects>(effects: &E, ctx: &PassContext<'_>, machine: &Machine) -> Lookup<Node> {
    if !ctx.config.has_target() {
        // No target cluster means no Node, whatever the label says (quirk 16).
        return Lookup::NotFound;
    }
    match machine.node_name() {
        Some(name) if !name.is_empty() => effects.node(name),
        _ => Lookup::NotFound,
    }
}

/// §4.3–4.5: health of a machine with a node label and a phase.
pub async fn health_step<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
) -> StepResult {
    let node = target_node(effects, ctx, machine);
    match decide_health(machine, node.as_ref(), ctx.config, ctx.now) {
        HealthDecision::End(retry) => StepResult::End(retry),
        HealthDecision::Continue { recheck } => {
            if recheck {
                effects.requeue_also(Retry::OneMinute);
            }
            StepResult::Continue(Box::new(machine.clone()))
        }
        HealthDecision::Write { status, event } => {
            let mut updated = machine.clone();
            updated.status = status;
            match effects.update_machine_status(&updated).await {
                Ok(_) => {
                    match event {
                        HealthEvent::Joined => {
                            if let Err(error) = effects.delete_bootstrap_token(machine.name()).await
                            {
                                tracing::warn!(machine = machine.name(), %error, "deleting the bootstrap token failed");
                            }
                            let seconds =
                                elapsed(machine.metadata.creation_timestamp.as_ref(), ctx.now);
                            effects.observe(Observation::Joined(seconds.as_secs_f64()));
                        }
                        HealthEvent::FailedToJoin => effects.observe(Observation::FailedToJoin),
                        HealthEvent::None => {}
                    }
                    StepResult::End(Retry::Short)
                }
                Err(error) => StepResult::End(retry_after_write_error(&error)),
            }
        }
        HealthDecision::MarkFailed { status, group } => {
            if !effects.acquire_group_permit(&group).await {
                return StepResult::End(Retry::Short);
            }
            let result = if can_mark_failed(&effects.machines_in_group(&group)) {
                let mut updated = machine.clone();
                updated.status = status;
                match effects.update_machine_status(&updated).await {
                    Ok(stored) => {
                        effects.await_failed_mark(machine.name()).await;
                        StepResult::Continue(Box::new(stored))
                    }
                    // H28: this path ends with Short even on a conflict.
                    Err(_) => StepResult::End(Retry::Short),
                }
            } else {
                StepResult::End(Retry::Short)
            };
            effects.release_group_permit(&group);
            result
        }
    }
}

/// §4.6: the machine-name label and the node template / virtual capacity. Returns
/// the retry when the step ends the pass.
pub async fn node_sync_step<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    class: &MachineClass,
) -> Option<Retry> {
    let Lookup::Found(mut node) = target_node(effects, ctx, machine) else {
        return None;
    };
    if let Some(labelled) = with_machine_name_label(&node, machine) {
        match effects.update_node(&labelled).await {
            Ok(stored) => node = stored,
            Err(error) => return Some(retry_after_write_error(&error)),
        }
    }
    let plan = match plan_node_template(&node, machine, class) {
        Ok(plan) => plan,
        Err(error) => {
            tracing::warn!(machine = machine.name(), %error, "node template sync skipped");
            return Some(Retry::Short);
        }
    };
    if plan.is_empty() {
        return None;
    }
    if plan.changes_capacity() {
        match effects
            .update_node_status(&plan.apply_capacity(&node))
            .await
        {
            Ok(stored) => node = stored,
            Err(_) => return Some(Retry::Short),
        }
    }
    if plan.changes_metadata()
        && let Err(error) = effects.update_node(&plan.apply_metadata(&node)).await
    {
        return Some(retry_after_write_error(&error));
    }
    Some(Retry::Short)
}
