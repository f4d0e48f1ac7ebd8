//! A small but complete driver for the simulated cloud, used to test the runtime.
//! (Generated providers carry their own, fuller driver; this one exists so the
//! runtime's tests do not depend on the template.)

use std::collections::BTreeMap;

use mcm_api::driver::{
    CreateMachineRequest, CreateMachineResponse, DeleteMachineRequest, DeleteMachineResponse,
    DriverResult, GetMachineStatusRequest, GetMachineStatusResponse, ListMachinesRequest,
    ListMachinesResponse, SecretData,
};
use mcm_api::{Driver, Status};
use mcm_simulated_cloud::api::{CreateInstance, InstanceFilter};
use mcm_simulated_cloud::{CloudClient, CloudError, decode_provider_id, secret_keys};
use serde::Deserialize;

/// Tag with the MachineClass name (to list a class's VMs).
pub const CLASS_TAG: &str = "mcm.test/class";
/// Tag with the Machine name (to map VMs to machines).
pub const MACHINE_TAG: &str = "mcm.test/machine";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    image: String,
    machine_type: String,
    zone: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// The test driver.
#[derive(Debug, Default, Clone)]
pub struct SimDriver;

fn client(secret: &SecretData) -> Result<CloudClient, Status> {
    let endpoint = secret
        .get_str(secret_keys::ENDPOINT)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let token = secret
        .get_str(secret_keys::TOKEN)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    CloudClient::new(endpoint, token).map_err(|e| Status::invalid_argument(e.to_string()))
}

fn spec(value: &serde_json::Value) -> Result<Spec, Status> {
    let spec: Spec = serde_json::from_value(value.clone())
        .map_err(|e| Status::invalid_argument(format!("providerSpec: {e}")))?;
    for (field, text) in [
        ("image", &spec.image),
        ("machineType", &spec.machine_type),
        ("zone", &spec.zone),
    ] {
        if text.is_empty() {
            return Err(Status::invalid_argument(format!(
                "providerSpec.{field}: must not be empty"
            )));
        }
    }
    Ok(spec)
}

fn code(error: CloudError) -> Status {
    let text = error.to_string();
    match error {
        CloudError::NotFound { .. } => Status::not_found(text),
        CloudError::QuotaExceeded { .. } => Status::resource_exhausted(text),
        CloudError::InvalidRequest { .. } | CloudError::InvalidEndpoint { .. } => {
            Status::invalid_argument(text)
        }
        CloudError::Unauthorized { .. } => Status::unauthenticated(text),
        CloudError::Conflict { .. } => Status::already_exists(text),
        CloudError::Timeout { .. } => Status::deadline_exceeded(text),
        CloudError::Throttled { .. }
        | CloudError::Unavailable { .. }
        | CloudError::Transport { .. } => Status::unavailable(text),
        _ => Status::internal(text),
    }
}

async fn find(
    client: &CloudClient,
    class: &str,
    machine: &str,
) -> Result<Vec<mcm_simulated_cloud::api::Instance>, Status> {
    client
        .list_instances(
            &InstanceFilter::all()
                .tag(CLASS_TAG, class)
                .tag(MACHINE_TAG, machine),
        )
        .await
        .map_err(code)
}

impl Driver for SimDriver {
    async fn create_machine(
        &self,
        request: CreateMachineRequest,
    ) -> DriverResult<CreateMachineResponse> {
        let spec = spec(&request.machine_class.provider_spec)?;
        let client = client(&request.secret)?;
        let mut tags = spec.tags;
        tags.insert(
            CLASS_TAG.to_owned(),
            request.machine_class.name().to_owned(),
        );
        tags.insert(MACHINE_TAG.to_owned(), request.machine.name().to_owned());
        let instance = client
            .create_instance(&CreateInstance {
                name: request.machine.name().to_owned(),
                image: spec.image,
                machine_type: spec.machine_type,
                zone: spec.zone,
                tags,
                user_data: request
                    .secret
                    .get_str("userData")
                    .unwrap_or_default()
                    .to_owned(),
                idempotency_key: request
                    .machine
                    .metadata
                    .uid
                    .clone()
                    .or_else(|| Some(request.machine.name().to_owned())),
            })
            .await
            .map_err(code)?;
        Ok(CreateMachineResponse {
            provider_id: instance.provider_id,
            node_name: instance.hostname,
            ..CreateMachineResponse::default()
        })
    }

    async fn delete_machine(
        &self,
        request: DeleteMachineRequest,
    ) -> DriverResult<DeleteMachineResponse> {
        let client = client(&request.secret)?;
        let ids: Vec<String> = if request.machine.spec.provider_id.is_empty() {
            find(
                &client,
                request.machine_class.name(),
                request.machine.name(),
            )
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect()
        } else {
            let id = decode_provider_id(&request.machine.spec.provider_id)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            vec![id.instance_id]
        };
        if ids.is_empty() {
            return Err(
                Status::not_found(format!("no VM for machine {}", request.machine.name())).into(),
            );
        }
        for id in ids {
            client.delete_instance(&id).await.map_err(code)?;
        }
        Ok(DeleteMachineResponse::default())
    }

    async fn get_machine_status(
        &self,
        request: GetMachineStatusRequest,
    ) -> DriverResult<GetMachineStatusResponse> {
        let client = client(&request.secret)?;
        let found = find(
            &client,
            request.machine_class.name(),
            request.machine.name(),
        )
        .await?;
        match found.as_slice() {
            [] => Err(
                Status::not_found(format!("no VM for machine {}", request.machine.name())).into(),
            ),
            [one] => Ok(GetMachineStatusResponse {
                provider_id: one.provider_id.clone(),
                node_name: one.hostname.clone(),
                addresses: vec![],
            }),
            many => Err(Status::out_of_range(format!(
                "{} VMs for machine {}",
                many.len(),
                request.machine.name()
            ))
            .into()),
        }
    }

    async fn list_machines(
        &self,
        request: ListMachinesRequest,
    ) -> DriverResult<ListMachinesResponse> {
        let client = client(&request.secret)?;
        let instances = client
            .list_instances(&InstanceFilter::all().tag(CLASS_TAG, request.machine_class.name()))
            .await
            .map_err(code)?;
        Ok(ListMachinesResponse {
            machine_list: instances
                .into_iter()
                .map(|i| {
                    (
                        i.provider_id,
                        i.tags.get(MACHINE_TAG).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        })
    }
}
