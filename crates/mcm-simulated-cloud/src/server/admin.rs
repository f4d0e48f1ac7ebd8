//! Handlers of the admin API: fault configuration, instance overview with node state, node
//! health knobs, Node re-registration.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::App;
use super::error::{ApiError, parse_json};
use crate::faults::FaultConfig;
use crate::node_health::{AdminInstance, NodeAgentState, NodeHealth};

pub async fn get_faults(State(app): State<App>) -> Json<FaultConfig> {
    Json(app.faults.config())
}

pub async fn put_faults(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("(body)", "the fault configuration must be UTF-8 JSON"))?;
    let config = FaultConfig::from_json(text).map_err(|e| ApiError::invalid(e.field, e.message))?;
    app.faults
        .set(config.clone())
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    tracing::info!(config = %serde_json::to_string(&config).unwrap_or_default(), "fault configuration replaced");
    Ok(Json(config).into_response())
}

pub async fn clear_faults(State(app): State<App>) -> Result<StatusCode, ApiError> {
    app.faults
        .set(FaultConfig::default())
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    tracing::info!("fault configuration cleared");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn instances(State(app): State<App>) -> Json<Vec<AdminInstance>> {
    Json(app.store.admin_view().await)
}

pub async fn get_node(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<NodeAgentState>, ApiError> {
    Ok(Json(app.store.node_state(&id).await?))
}

pub async fn put_node(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<NodeAgentState>, ApiError> {
    let health: NodeHealth = parse_json(&body, "node health")?;
    health
        .validate()
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let state = app
        .store
        .set_node_health(&id, health, Timestamp::now())
        .await?;
    tracing::info!(instance = %id, health = %serde_json::to_string(&state.health).unwrap_or_default(), "node health knobs set");
    Ok(Json(state))
}

pub async fn reregister(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<NodeAgentState>, ApiError> {
    let state = app.store.request_reregister(&id).await?;
    tracing::info!(instance = %id, "node re-registration requested");
    Ok(Json(state))
}
