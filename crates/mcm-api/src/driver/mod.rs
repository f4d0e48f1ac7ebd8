//! The driver contract: what a provider implements so the machine controller can
//! manage its VMs (MCM's `pkg/util/provider/driver`).
//!
//! A provider writes one type that implements [`Driver`]; the runtime crate calls it.
//! `create_machine` and `delete_machine` are required; the other methods have
//! default bodies returning [`Code::Unimplemented`](crate::Code::Unimplemented), which
//! the controller handles as MCM does (skip initialization, no orphan collection, no
//! volume tracking during drains). See `docs/driver-contract.md` for the rules each
//! method must follow (idempotency, codes, what to return with errors).
//!
//! Methods return `impl Future + Send`, so implementations can simply be written as
//! `async fn`.

mod error;
mod messages;
mod secret;

use std::future::Future;

pub use error::{DriverError, DriverResult};
pub use messages::{
    CreateMachineRequest, CreateMachineResponse, DeleteMachineRequest, DeleteMachineResponse,
    GenerateMachineClassForMigrationRequest, GenerateMachineClassForMigrationResponse,
    GetMachineStatusRequest, GetMachineStatusResponse, GetVolumeIdsRequest, GetVolumeIdsResponse,
    InitializeMachineRequest, InitializeMachineResponse, ListMachinesRequest, ListMachinesResponse,
};
pub use secret::{SecretData, SecretDataError};

use crate::status::Status;

/// The `Unimplemented` error an optional method returns by default.
pub fn unimplemented<R>(method: &str) -> DriverError<R> {
    Status::unimplemented(format!("{method} is not implemented by this provider")).into()
}

/// A machine provider's driver.
///
/// Every method must be idempotent: the controller retries after crashes, conflicts
/// and timeouts, and may call `create_machine` again for a machine whose VM already
/// exists (it always asks `get_machine_status` first, but the VM may be created
/// between the two calls by an earlier, timed-out request).
pub trait Driver: Send + Sync + 'static {
    /// Creates the VM for `request.machine` (required).
    ///
    /// Return the VM's provider ID and the Node name it will register with. Map
    /// cloud failures to codes: quota → `ResourceExhausted` (long retry), transient →
    /// `Unavailable`/`DeadlineExceeded`/`Aborted`/`Unknown` (short retry), bad
    /// providerSpec → `InvalidArgument`, anything else → a fitting code (medium retry).
    fn create_machine(
        &self,
        request: CreateMachineRequest,
    ) -> impl Future<Output = DriverResult<CreateMachineResponse>> + Send;

    /// Finishes setting up a created VM (optional; default `Unimplemented`, which the
    /// controller treats as success).
    fn initialize_machine(
        &self,
        request: InitializeMachineRequest,
    ) -> impl Future<Output = DriverResult<InitializeMachineResponse>> + Send {
        let _ = request;
        async { Err(unimplemented("InitializeMachine")) }
    }

    /// Deletes the VM (required). A VM that does not exist is `NotFound` (or OK):
    /// both count as success.
    fn delete_machine(
        &self,
        request: DeleteMachineRequest,
    ) -> impl Future<Output = DriverResult<DeleteMachineResponse>> + Send;

    /// Reports whether the VM of a machine exists (optional; default
    /// `Unimplemented`). `NotFound` when there is none; `OutOfRange` when several VMs
    /// match; `Uninitialized` *with a response* when the VM exists but
    /// `initialize_machine` still has to run.
    fn get_machine_status(
        &self,
        request: GetMachineStatusRequest,
    ) -> impl Future<Output = DriverResult<GetMachineStatusResponse>> + Send {
        let _ = request;
        async { Err(unimplemented("GetMachineStatus")) }
    }

    /// Lists every VM of a MachineClass, orphans included (optional; default
    /// `Unimplemented`). Needed for the orphan-VM collector.
    fn list_machines(
        &self,
        request: ListMachinesRequest,
    ) -> impl Future<Output = DriverResult<ListMachinesResponse>> + Send {
        let _ = request;
        async { Err(unimplemented("ListMachines")) }
    }

    /// Maps PersistentVolume specs to provider volume IDs (optional; default
    /// `Unimplemented`). Lets the drain wait for this provider's volumes to detach.
    fn get_volume_ids(
        &self,
        request: GetVolumeIdsRequest,
    ) -> impl Future<Output = DriverResult<GetVolumeIdsResponse>> + Send {
        let _ = request;
        async { Err(unimplemented("GetVolumeIDs")) }
    }

    /// Legacy migration of `<Provider>MachineClass` objects to `MachineClass`.
    ///
    /// MCM removed this method from the driver interface in v0.49 and never calls
    /// it; it is kept here only because Gardener's guide still lists it. Providers
    /// should leave the default, which returns `Unimplemented` as the guide requires.
    #[deprecated(note = "removed from MCM in v0.49; the controller never calls it")]
    fn generate_machine_class_for_migration(
        &self,
        request: GenerateMachineClassForMigrationRequest,
    ) -> impl Future<Output = DriverResult<GenerateMachineClassForMigrationResponse>> + Send {
        let _ = request;
        async { Err(unimplemented("GenerateMachineClassForMigration")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;

    struct Minimal;

    impl Driver for Minimal {
        async fn create_machine(
            &self,
            request: CreateMachineRequest,
        ) -> DriverResult<CreateMachineResponse> {
            Ok(CreateMachineResponse {
                provider_id: format!("test:///{}", request.machine.name()),
                node_name: request.machine.name().to_owned(),
                ..CreateMachineResponse::default()
            })
        }

        async fn delete_machine(
            &self,
            _request: DeleteMachineRequest,
        ) -> DriverResult<DeleteMachineResponse> {
            Err(Status::not_found("no such VM").into())
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        // The futures here never wait on I/O, so polling with a no-op waker suffices.
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }

    #[test]
    fn optional_methods_default_to_unimplemented() {
        let driver = Minimal;
        let status = block_on(driver.get_machine_status(GetMachineStatusRequest::default()));
        assert_eq!(status.unwrap_err().code(), Code::Unimplemented);
        let init = block_on(driver.initialize_machine(InitializeMachineRequest::default()));
        assert_eq!(init.unwrap_err().code(), Code::Unimplemented);
        let list = block_on(driver.list_machines(ListMachinesRequest::default()));
        assert_eq!(list.unwrap_err().code(), Code::Unimplemented);
        let volumes = block_on(driver.get_volume_ids(GetVolumeIdsRequest::default()));
        assert_eq!(volumes.unwrap_err().code(), Code::Unimplemented);
        #[allow(deprecated)]
        let migrate = block_on(driver.generate_machine_class_for_migration(
            GenerateMachineClassForMigrationRequest::default(),
        ));
        let error = migrate.unwrap_err();
        assert_eq!(error.code(), Code::Unimplemented);
        assert!(error.text().contains("GenerateMachineClassForMigration"));
    }

    #[test]
    fn required_methods_are_the_providers() {
        let driver = Minimal;
        let mut machine = crate::v1alpha1::Machine::default();
        machine.metadata.name = Some("m1".into());
        let created = block_on(driver.create_machine(CreateMachineRequest {
            machine,
            ..CreateMachineRequest::default()
        }))
        .unwrap();
        assert_eq!(created.provider_id, "test:///m1");
        let deleted = block_on(driver.delete_machine(DeleteMachineRequest::default()));
        assert_eq!(deleted.unwrap_err().code(), Code::NotFound);
    }
}
