//! The HTTP side: routes, shared handler state, the request log and metrics middleware.
//!
//! Routes: `/v1/...` (instance API, cloud token), `/admin/v1/...` (faults and node knobs, admin
//! token), `/metrics` and `/healthz` (no token; they hold no secrets).

mod admin;
mod auth;
mod error;
mod instances;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tokio::sync::watch;

use crate::api::{ErrorCode, MachineType, Operation};
use crate::faults::{FailureCause, FaultInjector, FaultKind};
use crate::metrics::{FaultLabels, Metrics, OperationLabels, RequestLabels};
use crate::node_health::NodeHealth;
use crate::store::Store;
use crate::validate::ZonePolicy;
use error::ApiError;

/// Fixed settings of the API.
#[derive(Debug)]
pub struct ServerSettings {
    pub token: String,
    pub admin_token: Option<String>,
    pub machine_types: Vec<MachineType>,
    pub zones: ZonePolicy,
    pub boot_delay: Duration,
    pub node_health: NodeHealth,
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct App {
    pub store: Arc<Store>,
    pub faults: Arc<FaultInjector>,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<ServerSettings>,
    pub shutdown: watch::Receiver<bool>,
}

/// Builds the router.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .route(
            crate::api::paths::INSTANCES,
            post(instances::create).get(instances::list),
        )
        .route(
            "/v1/instances/{id}",
            get(instances::get_one).delete(instances::delete_one),
        )
        .route(
            crate::api::paths::MACHINE_TYPES,
            get(instances::machine_types),
        )
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            auth::require_token,
        ));
    let admin = Router::new()
        .route(
            crate::api::paths::ADMIN_FAULTS,
            get(admin::get_faults)
                .put(admin::put_faults)
                .delete(admin::clear_faults),
        )
        .route(crate::api::paths::ADMIN_INSTANCES, get(admin::instances))
        .route(
            "/admin/v1/instances/{id}/node",
            get(admin::get_node).put(admin::put_node),
        )
        .route(
            "/admin/v1/instances/{id}/node/reregister",
            put(admin::reregister).post(admin::reregister),
        )
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            auth::require_admin_token,
        ));
    Router::new()
        .merge(api)
        .merge(admin)
        .route(crate::api::paths::METRICS, get(metrics))
        .route(crate::api::paths::HEALTHZ, get(|| async { "ok" }))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no route {method} {}; the instance API lives under /v1/instances (see docs/simulated-cloud.md)",
            uri.path()
        ),
    )
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    Some(match (method, path) {
        (&Method::POST, "/v1/instances") => "create",
        (&Method::GET, "/v1/instances") => "list",
        (&Method::GET, "/v1/instances/{id}") => "get",
        (&Method::DELETE, "/v1/instances/{id}") => "delete",
        (_, p) if p.starts_with("/admin/") => "admin",
        (_, "/metrics" | "/healthz") => return None,
        _ => "other",
    })
}

/// Request log and metrics. Logs method, path, status and duration; never headers or bodies
/// (they carry the token and user data).
async fn observe(State(app): State<App>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status();
    match operation_of(&method, &matched) {
        Some(op) => {
            app.metrics
                .requests
                .get_or_create(&RequestLabels {
                    operation: op.to_owned(),
                    code: status.as_u16().to_string(),
                })
                .inc();
            app.metrics
                .request_duration
                .get_or_create(&OperationLabels {
                    operation: op.to_owned(),
                })
                .observe(elapsed.as_secs_f64());
            let ms = elapsed.as_secs_f64() * 1000.0;
            if status.is_server_error() {
                tracing::warn!(%method, %path, status = status.as_u16(), ms, op, "request");
            } else {
                tracing::info!(%method, %path, status = status.as_u16(), ms, op, "request");
            }
        }
        None => tracing::debug!(%method, %path, status = status.as_u16(), "request"),
    }
    response
}

/// Sleeps unless shutdown starts first.
async fn sleep_or_shutdown(app: &App, d: Duration) {
    let mut shutdown = app.shutdown.clone();
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
}

/// Applies the fault configuration to one call: latency, then maybe an injected error.
async fn inject(app: &App, op: Operation) -> Result<(), ApiError> {
    let decision = app.faults.decide(op);
    if !decision.delay.is_zero() {
        sleep_or_shutdown(app, decision.delay).await;
    }
    let Some((kind, cause)) = decision.failure else {
        return Ok(());
    };
    let label = if cause == FailureCause::Outage {
        "outage"
    } else {
        kind.as_str()
    };
    app.metrics
        .injected_faults
        .get_or_create(&FaultLabels {
            operation: op.as_str().to_owned(),
            kind: label.to_owned(),
        })
        .inc();
    if kind == FaultKind::Timeout {
        sleep_or_shutdown(app, app.faults.timeout_hang()).await;
    }
    let why = match cause {
        FailureCause::Outage => {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "the simulated cloud API is in an outage window (injected fault); {op} is unavailable, retry later"
                ),
            ));
        }
        FailureCause::FailFirst => "failFirst",
        FailureCause::ErrorRate => "errorRate",
    };
    let message = match kind {
        FaultKind::Unavailable => format!("{op} is temporarily unavailable; retry later"),
        FaultKind::Internal => format!("{op} failed with an internal error; retry later"),
        FaultKind::Throttled => format!("{op} was throttled; retry later"),
        FaultKind::QuotaExceeded => format!("{op} failed: quota exceeded"),
        FaultKind::NotFound => format!("{op} failed: instance not found"),
        FaultKind::Timeout => format!("{op} timed out"),
    };
    Err(ApiError::new(
        kind.error_code(),
        format!("{message} (injected fault, {why})"),
    ))
}

/// Status code for a handler that either created something new or found it.
fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}
