//! Handlers of the instance API: create, get, list, delete, machine types.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::error::{ApiError, parse_json};
use super::{App, created_or_ok, inject};
use crate::api::{CreateInstance, InstanceFilter, InstanceList, MachineType, Operation};
use crate::store::CreateContext;
use crate::validate::validate_create;

pub async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    inject(&app, Operation::Create).await?;
    let req: CreateInstance = parse_json(&body, "create request")?;
    validate_create(&req, &app.settings.machine_types, &app.settings.zones)?;
    let ctx = CreateContext {
        now: Timestamp::now(),
        boot_delay: app.settings.boot_delay,
        zone_quota: app.faults.zone_quota(&req.zone),
        node_health: app.settings.node_health.clone(),
    };
    let created = app.store.create(&req, ctx).await?;
    let i = &created.instance;
    if created.newly_created {
        tracing::info!(instance = %i.id, name = %i.name, zone = %i.zone, machine_type = %i.machine_type, ip = %i.private_ip, "instance created");
    } else {
        tracing::info!(instance = %i.id, name = %i.name, "create retried with the same idempotency key; returning the existing instance");
    }
    Ok((created_or_ok(created.newly_created), Json(created.instance)).into_response())
}

pub async fn get_one(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    inject(&app, Operation::Get).await?;
    Ok(Json(app.store.get(&id).await?).into_response())
}

pub async fn list(
    State(app): State<App>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    inject(&app, Operation::List).await?;
    let Query(pairs) = query.map_err(|e| {
        ApiError::invalid(
            "(query)",
            format!(
                "the query string cannot be read ({e}); use tag=<key>=<value>, name= and zone="
            ),
        )
    })?;
    let filter = InstanceFilter::from_query_pairs(&pairs)
        .map_err(|(field, message)| ApiError::invalid(field, message))?;
    let instances = app.store.list(&filter).await;
    Ok(Json(InstanceList { instances }).into_response())
}

pub async fn delete_one(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    inject(&app, Operation::Delete).await?;
    let gone = app.store.delete(&id).await?;
    tracing::info!(instance = %gone.id, name = %gone.name, "instance deleted");
    Ok(Json(gone).into_response())
}

pub async fn machine_types(State(app): State<App>) -> Json<Vec<MachineType>> {
    Json(app.settings.machine_types.clone())
}
