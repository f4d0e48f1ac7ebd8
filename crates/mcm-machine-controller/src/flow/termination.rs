//! One pass of the `machinetermination` queue (contract 02 §5, rows D1–D50): one
//! step of the deletion state machine per pass, chosen from the phase and the marker
//! in `status.lastOperation.description`.

use mcm_api::driver::{DeleteMachineRequest, GetMachineStatusRequest};
use mcm_api::v1alpha1::{Machine, MachineState};
use mcm_api::well_known::finalizers;

use super::creation::write_if_changed;
use super::effects::{Effects, Observation, PassContext};
use super::machine::{ValidClass, validate_class};
use crate::decide::deletion::{
    DeletionEntry, DeletionStep, NO_TARGET_SKIP, after_delete_vm, after_get_vm_status, dispatch,
    drain_policy, drain_texts, marks_node_terminating, node_texts, step_status, step_status_typed,
    terminating_status, volume_texts, with_node_label, with_terminating_condition,
    without_machine_finalizer,
};
use crate::decide::lookup::{Lookup, WriteError, retry_after_write_error};
use crate::decide::outcome::CallOutcome;
use crate::decide::status::elapsed;
use crate::retry::Retry;

/// Runs one termination pass and returns when the key should come back.
pub async fn reconcile_termination<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: Option<Machine>,
) -> Retry {
    let Some(machine) = machine else {
        return Retry::Never;
    };
    // D3, D45: the class must be valid; a Machine whose class is gone cannot finish.
    let valid = match validate_class(effects, &machine) {
        Ok(valid) => valid,
        Err(problem) => {
            tracing::info!(machine = machine.name(), %problem, "deletion waits for the MachineClass");
            return problem.retry();
        }
    };
    match dispatch(&machine, ctx.creation_in_progress) {
        DeletionEntry::Wait(retry) => retry,
        DeletionEntry::Run(step) => run_step(effects, ctx, &machine, &valid, step).await,
    }
}

async fn run_step<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    valid: &ValidClass,
    step: DeletionStep,
) -> Retry {
    match step {
        DeletionStep::SetTerminating => set_terminating(effects, ctx, machine).await,
        DeletionStep::FindNodeName => find_node_name(effects, ctx, machine, valid).await,
        DeletionStep::Drain => drain(effects, ctx, machine).await,
        DeletionStep::DeleteVolumeAttachments => volume_attachments(effects, ctx, machine).await,
        DeletionStep::DeleteVm => delete_vm(effects, ctx, machine, valid).await,
        DeletionStep::DeleteNode => delete_node(effects, ctx, machine).await,
        DeletionStep::RemoveFinalizer => remove_finalizer(effects, machine).await,
    }
}

/// Step A (D4, D5, D50): unconditional write.
async fn set_terminating<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
) -> Retry {
    let mut updated = machine.clone();
    updated.status = terminating_status(machine, ctx.now);
    match effects.update_machine_status(&updated).await {
        Ok(_) => Retry::Short,
        Err(error) => retry_after_write_error(&error),
    }
}

async fn write_step<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    description: String,
    state: MachineState,
    retry: Retry,
) -> Retry {
    let status = step_status(machine, description, state, ctx.now);
    write_if_changed(effects, ctx, machine, status, retry).await
}

/// Step B (D6–D13, D38, D40, D41). After writing the `node` label we continue with
/// the stored object, so the description lands in the same pass (see
/// docs/contract-deviations.md; Go gets a 409 here and needs one more pass).
async fn find_node_name<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    valid: &ValidClass,
) -> Retry {
    if !ctx.config.has_target() {
        return write_step(
            effects,
            ctx,
            machine,
            NO_TARGET_SKIP.to_owned(),
            MachineState::Processing,
            Retry::Short,
        )
        .await;
    }
    if machine.node_name().is_some_and(|n| !n.is_empty()) {
        return write_step(
            effects,
            ctx,
            machine,
            mcm_api::well_known::descriptions::INITIATE_DRAIN.to_owned(),
            MachineState::Processing,
            Retry::Short,
        )
        .await;
    }
    let label_from = match effects.node_for_machine(machine.name()) {
        Lookup::Found(node) => Some(node),
        Lookup::NotFound | Lookup::Failed(_) => None,
    };
    let (node_name, outcome) = match label_from {
        Some(node) => (Some(node), None),
        None => {
            let outcome = CallOutcome::from_result(
                effects
                    .get_machine_status(GetMachineStatusRequest {
                        machine: machine.clone(),
                        machine_class: valid.class.clone(),
                        secret: valid.secret.clone(),
                    })
                    .await,
            );
            let node = match &outcome {
                CallOutcome::Ok(response) => Some(response.node_name.clone()),
                CallOutcome::Failed(_) => None,
            };
            (node, Some(outcome))
        }
    };
    let mut current = machine.clone();
    if let Some(node_name) = node_name {
        match effects
            .update_machine(&with_node_label(machine, &node_name))
            .await
        {
            Ok(stored) => current = stored,
            Err(error) => {
                tracing::warn!(machine = machine.name(), %error, "writing the node label failed");
                return Retry::Short;
            }
        }
    }
    let (description, state, retry) = match &outcome {
        Some(outcome) => after_get_vm_status(outcome),
        None => (
            mcm_api::well_known::descriptions::INITIATE_DRAIN.to_owned(),
            MachineState::Processing,
            Retry::Short,
        ),
    };
    write_step(effects, ctx, &current, description, state, retry).await
}

/// Step C (D14–D22, D42–D44).
async fn drain<E: Effects>(effects: &mut E, ctx: &PassContext<'_>, machine: &Machine) -> Retry {
    let node_name = machine.node_name().unwrap_or_default().to_owned();
    if node_name.is_empty() {
        return write_step(
            effects,
            ctx,
            machine,
            drain_texts::skipped(),
            MachineState::Processing,
            Retry::Short,
        )
        .await;
    }
    let policy = drain_policy(machine, ctx.config, ctx.now);
    if let Err(error) = mark_node_terminating(effects, ctx, machine, &node_name).await {
        if !policy.force {
            let text = drain_texts::condition_update_failed(&error);
            return write_step(
                effects,
                ctx,
                machine,
                text,
                MachineState::Failed,
                Retry::Short,
            )
            .await;
        }
        tracing::warn!(machine = machine.name(), %error, "node condition update failed; continuing because the deletion is forced");
    }
    let failed = |error: &str| {
        if policy.force {
            (
                drain_texts::failed_but_forced(error),
                MachineState::Processing,
            )
        } else {
            (drain_texts::failed_will_retry(error), MachineState::Failed)
        }
    };
    if let Err(error) = effects.cordon_node(&node_name).await {
        let (text, state) = failed(&error);
        return write_step(effects, ctx, machine, text, state, Retry::Short).await;
    }
    let started = std::time::Instant::now();
    let (text, state) = match effects.drain_node(&node_name, &policy).await {
        Ok(()) => {
            effects.observe(Observation::Drained(started.elapsed().as_secs_f64()));
            if policy.force {
                (drain_texts::force_succeeded(), MachineState::Processing)
            } else {
                (drain_texts::succeeded(), MachineState::Processing)
            }
        }
        Err(error) => failed(&error),
    };
    write_step(effects, ctx, machine, text, state, Retry::Short).await
}

/// §5.4 step 2: sets the Node's `Terminating` condition. A Node that is not there
/// (in the cache, or any more when writing) is no error; a failed read or write is.
async fn mark_node_terminating<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    node_name: &str,
) -> Result<(), String> {
    if !marks_node_terminating(machine.phase()) {
        return Ok(());
    }
    let node = match effects.node(node_name) {
        Lookup::Found(node) => node,
        Lookup::NotFound => return Ok(()),
        Lookup::Failed(error) => return Err(error),
    };
    let Some(list) = with_terminating_condition(&node, machine.phase(), ctx.now) else {
        return Ok(());
    };
    let mut updated = node;
    updated
        .status
        .get_or_insert_with(Default::default)
        .conditions = Some(list);
    match effects.update_node_status(&updated).await {
        Ok(_) | Err(WriteError::NotFound) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

/// Step D (D23–D26, D46).
async fn volume_attachments<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
) -> Retry {
    let node_name = machine.node_name().unwrap_or_default().to_owned();
    let type_ = machine.status.last_operation.type_.clone();
    let write = |text: String| {
        step_status_typed(
            machine,
            text,
            MachineState::Processing,
            type_.clone(),
            ctx.now,
        )
    };
    let node = match effects.node(&node_name) {
        Lookup::Failed(_) => return Retry::Short,
        Lookup::NotFound => {
            let status = write(volume_texts::node_missing(&node_name));
            return write_if_changed(effects, ctx, machine, status, Retry::Immediate).await;
        }
        Lookup::Found(node) => node,
    };
    let attached = node
        .status
        .as_ref()
        .and_then(|s| s.volumes_attached.as_ref())
        .is_some_and(|list| !list.is_empty());
    if !attached {
        let status = write(volume_texts::already_detached(&node_name));
        return write_if_changed(effects, ctx, machine, status, Retry::Immediate).await;
    }
    let live = match effects.live_volume_attachments(&node_name).await {
        Ok(live) => live,
        Err(error) => {
            tracing::warn!(machine = machine.name(), %error, "listing VolumeAttachments failed");
            return Retry::Short;
        }
    };
    if live.is_empty() {
        let status = write(volume_texts::no_live_attachments(&node_name));
        return write_if_changed(effects, ctx, machine, status, Retry::Short).await;
    }
    for name in live {
        if let Err(error) = effects.delete_volume_attachment(&name).await {
            tracing::warn!(machine = machine.name(), attachment = %name, %error, "deleting a VolumeAttachment failed");
        }
    }
    Retry::Short
}

/// Step E (D27–D31).
async fn delete_vm<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    valid: &ValidClass,
) -> Retry {
    let outcome = CallOutcome::from_result(
        effects
            .delete_machine(DeleteMachineRequest {
                machine: machine.clone(),
                machine_class: valid.class.clone(),
                secret: valid.secret.clone(),
            })
            .await,
    );
    let state = match &outcome {
        CallOutcome::Ok(response) => Some(response.last_known_state.clone()),
        CallOutcome::Failed(failure) => failure
            .response
            .as_ref()
            .map(|r| r.last_known_state.clone()),
    };
    if let CallOutcome::Ok(_) = &outcome {
        let since = elapsed(machine.metadata.deletion_timestamp.as_ref(), ctx.now);
        effects.observe(Observation::Deleted(since.as_secs_f64()));
    }
    let (status, retry) = after_delete_vm(machine, &outcome, state.as_deref(), ctx.now);
    write_if_changed(effects, ctx, machine, status, retry).await
}

/// Step F (D32–D35, D47–D49).
async fn delete_node<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
) -> Retry {
    let node_name = machine.node_name().unwrap_or_default().to_owned();
    let (text, state) = if node_name.is_empty() {
        (
            node_texts::no_label(machine.name()),
            MachineState::Processing,
        )
    } else {
        match effects.node(&node_name) {
            Lookup::Failed(error) => (
                node_texts::read_failed(&node_name, &error),
                MachineState::Failed,
            ),
            Lookup::NotFound => (node_texts::not_found(&node_name), MachineState::Processing),
            Lookup::Found(node) => {
                let has_finalizer = node
                    .metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|list| list.iter().any(|f| f == finalizers::NODE));
                let removed = if has_finalizer {
                    effects.remove_node_finalizer(&node_name).await
                } else {
                    Ok(())
                };
                match removed {
                    Err(error) => (
                        node_texts::finalizer_removal_failed(&node_name, &error),
                        MachineState::Failed,
                    ),
                    Ok(()) => match effects.delete_node(&node_name).await {
                        Ok(()) => (node_texts::deleted(&node_name), MachineState::Processing),
                        Err(WriteError::NotFound) => {
                            (node_texts::not_found(&node_name), MachineState::Processing)
                        }
                        Err(error) => (
                            node_texts::delete_failed(&node_name, &error.to_string()),
                            MachineState::Failed,
                        ),
                    },
                }
            }
        }
    };
    write_step(effects, ctx, machine, text, state, Retry::Short).await
}

/// Step G (D36, D37).
async fn remove_finalizer<E: Effects>(effects: &mut E, machine: &Machine) -> Retry {
    match effects
        .update_machine(&without_machine_finalizer(machine))
        .await
    {
        Ok(_) => Retry::Long,
        Err(error) => {
            tracing::warn!(machine = machine.name(), %error, "removing the machine finalizer failed");
            Retry::Short
        }
    }
}
