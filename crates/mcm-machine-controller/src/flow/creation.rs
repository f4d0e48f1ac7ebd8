//! The creation flow (contract 02 §3, rows C1–C28): prepare the secret, ask
//! GetMachineStatus, create or adopt, store providerID and node label, initialize,
//! then write Pending (or Available).

use k8s_openapi::api::core::v1::NodeAddress;
use k8s_openapi::jiff::SignedDuration;
use mcm_api::Code;
use mcm_api::driver::{
    CreateMachineRequest, DeleteMachineRequest, GetMachineStatusRequest, InitializeMachineRequest,
    SecretData,
};
use mcm_api::v1alpha1::{Machine, MachineStatus};
use mcm_api::well_known::user_data;

use super::effects::{Effects, Observation, PassContext};
use super::machine::ValidClass;
use crate::decide::creation::{
    create_error_status, creation_complete_status, initialize_error_status, merged_addresses,
    needs_metadata_update, stale_node_status, with_creation_metadata,
};
use crate::decide::effective;
use crate::decide::lookup::{Lookup, retry_after_write_error};
use crate::decide::outcome::CallOutcome;
use crate::decide::similar::is_similar;
use crate::decide::status::elapsed;
use crate::decide::user_data::substitute_user_data;
use crate::retry::Retry;

/// What GetMachineStatus or CreateMachine found out about the VM.
struct Discovered {
    node_name: String,
    provider_id: String,
    addresses: Vec<NodeAddress>,
    uninitialized: bool,
}

/// Writes `status` unless it is similar to the stored one (§0.3); returns `retry` on
/// success or suppression, the write's retry on failure.
pub(crate) async fn write_if_changed<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    status: MachineStatus,
    retry: Retry,
) -> Retry {
    if is_similar(&machine.status, &status, ctx.now) {
        return retry;
    }
    let mut updated = machine.clone();
    updated.status = status;
    match effects.update_machine_status(&updated).await {
        Ok(_) => retry,
        Err(error) => retry_after_write_error(&error),
    }
}

fn seconds_since_creation(machine: &Machine, ctx: &PassContext<'_>) -> f64 {
    elapsed(machine.metadata.creation_timestamp.as_ref(), ctx.now).as_secs_f64()
}

/// §3.1: the secret for this pass, with bootstrap token and machine name filled in.
async fn prepare_secret<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    secret: &SecretData,
) -> Result<SecretData, Retry> {
    if !secret.contains_key(user_data::KEY) {
        tracing::warn!(
            machine = machine.name(),
            "the MachineClass's secret has no {:?} key; add the user data to the Secret referenced by secretRef",
            user_data::KEY
        );
        return Err(Retry::Short);
    }
    let token = if ctx.config.has_target() {
        let timeout = effective::creation_timeout(machine, ctx.config);
        let expiration = ctx
            .now
            .checked_add(timeout.max(SignedDuration::ZERO))
            .unwrap_or(ctx.now);
        match effects
            .ensure_bootstrap_token(machine.name(), expiration)
            .await
        {
            Ok(token) => Some(token),
            Err(error) => {
                tracing::warn!(machine = machine.name(), %error, "bootstrap token not available");
                return Err(Retry::Short);
            }
        }
    } else {
        None
    };
    let (prepared, report) = substitute_user_data(secret, token.as_deref(), machine.name());
    if token.is_some() && !report.token_placeholder_found {
        tracing::warn!(
            machine = machine.name(),
            "userData has no <<BOOTSTRAP_TOKEN>> placeholder"
        );
    }
    Ok(prepared)
}

/// Runs the creation flow; the result is the pass's retry.
pub async fn creation_flow<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    valid: &ValidClass,
) -> Retry {
    let has_target = ctx.config.has_target();
    let secret = match prepare_secret(effects, ctx, machine, &valid.secret).await {
        Ok(secret) => secret,
        Err(retry) => return retry,
    };

    // §3.2 GetMachineStatus first.
    let status = CallOutcome::from_result(
        effects
            .get_machine_status(GetMachineStatusRequest {
                machine: machine.clone(),
                machine_class: valid.class.clone(),
                secret: secret.clone(),
            })
            .await,
    );
    let discovered = match status {
        CallOutcome::Ok(response) => Discovered {
            node_name: response.node_name,
            provider_id: response.provider_id,
            addresses: response.addresses,
            uninitialized: false,
        },
        CallOutcome::Failed(failure) if !failure.decodable => {
            tracing::warn!(machine = machine.name(), error = %failure.text, "GetMachineStatus failed with an undecodable error");
            return Retry::Medium;
        }
        CallOutcome::Failed(failure)
            if matches!(failure.code, Code::NotFound | Code::Unimplemented)
                && machine.spec.provider_id.is_empty() =>
        {
            match create(effects, ctx, machine, valid, &secret).await {
                Ok(discovered) => discovered,
                Err(retry) => return retry,
            }
        }
        CallOutcome::Failed(failure)
            if matches!(failure.code, Code::NotFound | Code::Unimplemented) =>
        {
            Discovered {
                node_name: machine.node_name().unwrap_or_default().to_owned(),
                provider_id: machine.spec.provider_id.clone(),
                addresses: Vec::new(),
                uninitialized: false,
            }
        }
        CallOutcome::Failed(failure) if failure.code == Code::Uninitialized => {
            let response = failure.response.unwrap_or_default();
            Discovered {
                node_name: response.node_name,
                provider_id: response.provider_id,
                addresses: response.addresses,
                uninitialized: true,
            }
        }
        CallOutcome::Failed(failure) => {
            let (status, retry) = create_error_status(machine, &failure, None, ctx.config, ctx.now);
            return write_if_changed(effects, ctx, machine, status, retry).await;
        }
    };

    // §3.4 step 1 (C13, C20, C28).
    if (has_target && discovered.node_name.is_empty()) || discovered.provider_id.is_empty() {
        tracing::warn!(
            machine = machine.name(),
            provider_id = %discovered.provider_id,
            node_name = %discovered.node_name,
            "the driver returned an empty provider ID or node name; both must be set"
        );
        return Retry::Medium;
    }

    // §3.4 step 2: the metadata write.
    let mut current = machine.clone();
    let mut metadata_touched = false;
    if needs_metadata_update(machine, has_target) {
        metadata_touched = true;
        let updated = with_creation_metadata(
            machine,
            &discovered.node_name,
            &discovered.provider_id,
            has_target,
        );
        match effects.update_machine(&updated).await {
            Ok(stored) => current = stored,
            Err(error) => {
                tracing::warn!(machine = machine.name(), %error, "storing providerID and node label failed");
            }
        }
    }

    // §3.6 InitializeMachine.
    if discovered.uninitialized {
        return initialize(effects, ctx, &current, valid, &secret, &discovered).await;
    }
    if metadata_touched {
        return Retry::Short;
    }

    // §3.7.
    match creation_complete_status(
        &current,
        has_target,
        &discovered.addresses,
        &discovered.node_name,
        ctx.now,
    ) {
        Some(status) => {
            let mut updated = current.clone();
            updated.status = status;
            if let Err(error) = effects.update_machine_status(&updated).await {
                tracing::warn!(machine = machine.name(), %error, "writing the Pending phase failed");
            }
            Retry::Short
        }
        None => Retry::Long,
    }
}

/// §3.3 CreateMachine and the stale-node check; `Err` ends the pass.
async fn create<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    valid: &ValidClass,
    secret: &SecretData,
) -> Result<Discovered, Retry> {
    let outcome = CallOutcome::from_result(
        effects
            .create_machine(CreateMachineRequest {
                machine: machine.clone(),
                machine_class: valid.class.clone(),
                secret: secret.clone(),
            })
            .await,
    );
    let response = match outcome {
        CallOutcome::Ok(response) => response,
        CallOutcome::Failed(failure) => {
            let state = failure
                .response
                .as_ref()
                .map(|r| r.last_known_state.as_str());
            let (status, retry) =
                create_error_status(machine, &failure, state, ctx.config, ctx.now);
            return Err(write_if_changed(effects, ctx, machine, status, retry).await);
        }
    };
    effects.observe(Observation::Created(seconds_since_creation(machine, ctx)));
    if ctx.config.has_target()
        && response.node_name != machine.name()
        && matches!(effects.node(&response.node_name), Lookup::Found(_))
    {
        // C12: the Node name is taken by an old Node; give the VM back.
        let mut stub = Machine {
            metadata: machine.metadata.clone(),
            ..Machine::default()
        };
        stub.spec.provider_id = response.provider_id.clone();
        let deleted = effects
            .delete_machine(DeleteMachineRequest {
                machine: stub,
                machine_class: valid.class.clone(),
                secret: secret.clone(),
            })
            .await;
        if let Err(error) = deleted {
            tracing::warn!(machine = machine.name(), %error, "deleting the VM that uses an old node name failed");
        }
        let status = stale_node_status(machine, ctx.now);
        return Err(write_if_changed(effects, ctx, machine, status, Retry::Short).await);
    }
    Ok(Discovered {
        node_name: response.node_name,
        provider_id: response.provider_id,
        addresses: response.addresses,
        uninitialized: true,
    })
}

/// §3.6 InitializeMachine and what follows it.
async fn initialize<E: Effects>(
    effects: &mut E,
    ctx: &PassContext<'_>,
    machine: &Machine,
    valid: &ValidClass,
    secret: &SecretData,
    discovered: &Discovered,
) -> Retry {
    let outcome = CallOutcome::from_result(
        effects
            .initialize_machine(InitializeMachineRequest {
                machine: machine.clone(),
                machine_class: valid.class.clone(),
                secret: secret.clone(),
            })
            .await,
    );
    let addresses = match outcome {
        CallOutcome::Ok(response) => response.addresses,
        CallOutcome::Failed(failure)
            if failure.decodable && failure.code == Code::Unimplemented =>
        {
            Vec::new()
        }
        CallOutcome::Failed(failure) if !failure.decodable => {
            tracing::warn!(machine = machine.name(), error = %failure.text, "InitializeMachine failed with an undecodable error");
            return Retry::Long;
        }
        CallOutcome::Failed(failure) => {
            let status = initialize_error_status(machine, &failure, ctx.config, ctx.now);
            return write_if_changed(effects, ctx, machine, status, Retry::Short).await;
        }
    };
    effects.observe(Observation::Initialized(seconds_since_creation(
        machine, ctx,
    )));
    if !ctx.config.has_target() {
        let all: Vec<NodeAddress> = discovered
            .addresses
            .iter()
            .chain(&addresses)
            .cloned()
            .collect();
        let mut updated = machine.clone();
        updated.status.addresses =
            merged_addresses(&machine.status.addresses, &all, &discovered.node_name);
        if let Err(error) = effects.update_machine_status(&updated).await {
            tracing::warn!(machine = machine.name(), %error, "writing addresses failed");
            return Retry::Short;
        }
    }
    Retry::Short
}
