//! The HTTP server on `--address:--port`: what Prometheus scrapes and what the kubelet
//! probes.
//!
//! Endpoints, as MCM serves them (contract 01 §7 step 4) plus `/readyz`:
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | [`Metrics::encode`], Prometheus text format 0.0.4 |
//! | `/healthz` | `200 OK` while healthy, else `500 Unhealthy` |
//! | `/readyz` | `200 OK` once ready, else `503 Not ready` |
//! | `/configz` | `{}` (MCM registers no component config) |
//!
//! **Healthy** means the process works: it starts `true` (MCM marks itself healthy as
//! soon as the server runs, before leader election and cache sync) and the runtime sets
//! it `false` when its controllers stop for good, so the kubelet restarts the pod.
//!
//! **Ready** means this replica does its job: the leader (or the only replica, without
//! leader election) once its caches are synced, and a standby while it campaigns for
//! the Lease — it has nothing to load first, it starts the controllers when it wins.
//! A standby must count as ready, or a rolling update of a two-replica Deployment would
//! wait forever for the new pod. The runtime therefore sets ready `true` when it starts
//! campaigning, `false` when it wins and starts the controllers, and `true` again once
//! their caches are synced. MCM has no `/readyz`; nothing depends on it; it is for
//! operators' probes and for tests.
//!
//! There is no `/debug/pprof` (`--profiling` has no effect: no Go runtime).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::{CONTENT_TYPE, Metrics};

/// The process's health and readiness, shared between the runtime (which sets them) and
/// the HTTP server (which reports them). Clones share the flags.
#[derive(Debug, Clone)]
pub struct Health {
    healthy: Arc<AtomicBool>,
    ready: Arc<AtomicBool>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Healthy (as MCM is once its server runs) and not ready.
    pub fn new() -> Health {
        Health {
            healthy: Arc::new(AtomicBool::new(true)),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sets what `/healthz` reports.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    /// Sets what `/readyz` reports.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// What `/healthz` reports.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// What `/readyz` reports.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Why the HTTP server could not run.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address could not be bound (in use, not local, no permission).
    #[error(
        "cannot listen on {addr} for /metrics and /healthz: {source}; choose a free port with \
         --port (and an address of this host with --address)"
    )]
    Bind {
        /// The address from `--address` and `--port`.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("HTTP server on {addr} failed: {source}")]
    Serve {
        /// The bound address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A bound, not yet serving, HTTP server: binding first lets `main` fail on a taken port
/// before it does anything else, and lets tests bind port 0 and learn the real port.
#[derive(Debug)]
pub struct HttpServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl HttpServer {
    /// Binds `addr` (from `--address` and `--port`).
    pub async fn bind(addr: SocketAddr) -> Result<HttpServer, HttpError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| HttpError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| HttpError::Bind { addr, source })?;
        Ok(HttpServer { listener, addr })
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and
    /// returns.
    pub async fn serve(
        self,
        metrics: Arc<Metrics>,
        health: Health,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HttpError> {
        let addr = self.addr;
        tracing::info!(%addr, "serving /metrics, /healthz, /readyz and /configz");
        axum::serve(self.listener, router(metrics, health))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| HttpError::Serve { addr, source })
    }
}

/// Binds `addr` and serves until `shutdown` completes (see [`HttpServer`] to bind first).
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    HttpServer::bind(addr)
        .await?
        .serve(metrics, health, shutdown)
        .await
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Health,
}

/// The routes, for embedding in another server.
pub fn router(metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/configz", get(configz))
        .with_state(AppState { metrics, health })
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    let body = state.metrics.encode();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.health.is_healthy() {
        (StatusCode::OK, "OK").into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "Unhealthy").into_response()
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.health.is_ready() {
        (StatusCode::OK, "OK").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Not ready").into_response()
    }
}

async fn configz() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A raw HTTP/1.1 GET; returns (status, content type, body).
    async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default();
        (status, content_type, body.to_owned())
    }

    async fn start(
        metrics: Arc<Metrics>,
        health: Health,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), HttpError>>,
    ) {
        let server = HttpServer::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(metrics, health, async {
            let _ = stopped.await;
        }));
        (addr, stop, task)
    }

    #[tokio::test]
    async fn endpoints_answer_as_mcm() {
        let metrics = Arc::new(Metrics::new());
        metrics.record_cloud_api_request("sim", "instances");
        let health = Health::new();
        let (addr, stop, task) = start(Arc::clone(&metrics), health.clone()).await;

        let (status, content_type, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(
            body.contains(r#"mcm_cloud_api_requests_total{provider="sim",service="instances"} 1"#),
            "{body}"
        );

        assert_eq!(
            get(addr, "/healthz").await,
            (200, "text/plain; charset=utf-8".into(), "OK".into())
        );
        health.set_healthy(false);
        let (status, _, body) = get(addr, "/healthz").await;
        assert_eq!((status, body.as_str()), (500, "Unhealthy"));
        health.set_healthy(true);
        assert_eq!(get(addr, "/healthz").await.0, 200);

        let (status, _, body) = get(addr, "/readyz").await;
        assert_eq!((status, body.as_str()), (503, "Not ready"));
        health.set_ready(true);
        let (status, _, body) = get(addr, "/readyz").await;
        assert_eq!((status, body.as_str()), (200, "OK"));

        let (status, content_type, body) = get(addr, "/configz").await;
        assert_eq!(
            (status, content_type.as_str(), body.as_str()),
            (200, "application/json", "{}")
        );

        assert_eq!(get(addr, "/debug/pprof/").await.0, 404);

        // Metrics recorded after start show up on the next scrape.
        metrics.record_cloud_api_request("sim", "instances");
        let (_, _, body) = get(addr, "/metrics").await;
        assert!(body.contains(r#"service="instances"} 2"#), "{body}");

        stop.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("server stops on shutdown")
            .unwrap()
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "port released after shutdown"
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_explained() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let err = serve(addr, Arc::new(Metrics::new()), Health::new(), async {})
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&addr.to_string()), "{message}");
        assert!(message.contains("--port"), "{message}");
        assert!(matches!(err, HttpError::Bind { .. }));
    }
}
