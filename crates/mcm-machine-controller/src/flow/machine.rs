//! One pass of the `machine` queue (contract 02 §2): finalizer, routing, freeze,
//! validation, health and node-side sync, then the creation flow.

use mcm_api::driver::SecretData;
use mcm_api::v1alpha1::{Machine, MachineClass, MachinePhase};
use mcm_api::well_known::{finalizers, machine_annotations};

use super::creation::creation_flow;
use super::effects::{Effects, PassContext};
use super::health::{health_step, node_sync_step};
use crate::decide::class::{ClassProblem, check_class, check_class_reference, merge_secret_data};
use crate::retry::Retry;

/// A class that passed validation, with its merged secret data.
#[derive(Debug, Clone)]
pub struct ValidClass {
    /// The MachineClass.
    pub class: MachineClass,
    /// Merged data of `secretRef` and `credentialsSecretRef`.
    pub secret: SecretData,
}

/// §2 step 6 (also used by the termination queue): look the class up, merge its
/// secrets, check its finalizer and nodeTemplate. A missing finalizer also enqueues
/// the class (G7).
pub fn validate_class<E: Effects>(
    effects: &mut E,
    machine: &Machine,
) -> Result<ValidClass, ClassProblem> {
    let name = machine.spec.class.name.clone();
    let result = (|| {
        let class = check_class(effects.machine_class(&name), &name)?;
        let secret = merge_secret_data(
            class.secret_ref.as_ref().map(|r| effects.secret(r)),
            class
                .credentials_secret_ref
                .as_ref()
                .map(|r| effects.secret(r)),
        )?;
        Ok(ValidClass { class, secret })
    })();
    if let Err(ClassProblem::ClassFinalizerMissing(_)) = &result {
        effects.enqueue_machine_class(&name);
    }
    result
}

/// Runs one machine pass and returns when the key should come back.
pub async fn reconcile_machine<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: Option<Machine>,
) -> Retry {
    // G1.
    let Some(machine) = machine else {
        return Retry::Never;
    };
    // G2: the finalizer first, even while frozen.
    if !machine.has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER) {
        let mut updated = machine.clone();
        updated
            .metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(finalizers::MACHINE_CONTROLLER_MANAGER.to_owned());
        if let Err(error) = effects.update_machine(&updated).await {
            tracing::warn!(machine = machine.name(), %error, "adding the machine finalizer failed");
        }
        return Retry::RateLimited;
    }
    // G3.
    if machine.is_deleting() && !ctx.creation_in_progress {
        effects.enqueue_termination(&machine);
        return Retry::Never;
    }
    // G4.
    if ctx.frozen && !machine.is_deleting() {
        return Retry::Long;
    }
    if machine.annotation(machine_annotations::PRESERVE).is_some() {
        tracing::warn!(
            machine = machine.name(),
            "annotation {} is not supported by this machine controller and is ignored (see docs/contract-deviations.md)",
            machine_annotations::PRESERVE
        );
    }
    // G5–G11.
    if let Err(problem) = check_class_reference(&machine) {
        tracing::info!(machine = machine.name(), %problem, "machine not reconciled");
        return problem.retry();
    }
    let valid = match validate_class(effects, &machine) {
        Ok(valid) => valid,
        Err(problem) => {
            tracing::info!(machine = machine.name(), %problem, "machine not reconciled");
            return problem.retry();
        }
    };
    // §2 step 7: health and node-side sync for machines with a node and a phase.
    let has_node_label = machine.node_name().is_some_and(|n| !n.is_empty());
    let mut machine = machine;
    if has_node_label && !machine.phase().is_unset() {
        match health_step(effects, ctx, &machine).await {
            super::health::StepResult::End(retry) => return retry,
            super::health::StepResult::Continue(updated) => machine = *updated,
        }
        if let Some(retry) = node_sync_step(effects, ctx, &machine, &valid.class).await {
            return retry;
        }
    }
    // §2 step 9.
    if machine.spec.provider_id.is_empty()
        || matches!(
            machine.phase(),
            MachinePhase::Unset | MachinePhase::CrashLoopBackOff
        )
    {
        effects.creation_started();
        return creation_flow(effects, ctx, &machine, &valid).await;
    }
    Retry::Long
}
