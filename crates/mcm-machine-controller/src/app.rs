//! The process a provider's `main` runs (contract 01 §7): flags → logging → clients →
//! HTTP endpoints → leader election → controller, until SIGTERM.
//!
//! ```no_run
//! # use mcm_api::driver::*;
//! # struct MyDriver;
//! # impl mcm_api::Driver for MyDriver {
//! #   async fn create_machine(&self, _: CreateMachineRequest) -> DriverResult<CreateMachineResponse> { unimplemented!() }
//! #   async fn delete_machine(&self, _: DeleteMachineRequest) -> DriverResult<DeleteMachineResponse> { unimplemented!() }
//! # }
//! use clap::Parser;
//! use mcm_machine_controller::options::{Options, normalize_flag_names};
//!
//! #[derive(Parser)]
//! #[command(name = "machine-controller", version)]
//! struct Cli {
//!     #[command(flatten)]
//!     options: Options,
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse_from(normalize_flag_names(std::env::args_os()));
//!     mcm_machine_controller::app::main(cli.options, "MyCloud", MyDriver).await
//! }
//! ```

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use futures::FutureExt;
use mcm_api::Driver;
use tokio::sync::watch;

use crate::http::{Health, HttpError, HttpServer};
use crate::leader::{LeaderError, LeaderSettings, run_as_leader};
use crate::metrics::{self, Metrics};
use crate::options::{Options, OptionsError};
use crate::runtime::clients::ClientError;
use crate::runtime::observer::MetricsObserver;
use crate::runtime::{Clusters, Controller, StartError, connect};
use crate::telemetry::{LogFormat, TelemetryError, init_logging};

/// Why the machine controller stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Logging could not be set up.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// A flag is invalid.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A cluster client could not be built.
    #[error(transparent)]
    Clients(#[from] ClientError),
    /// The HTTP endpoints could not be served.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// Leader election failed or leadership was lost.
    #[error(transparent)]
    Leader(#[from] LeaderError),
    /// The controller could not start.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}

/// Runs the machine controller until SIGTERM/SIGINT.
pub async fn run<D: Driver>(options: Options, provider: &str, driver: D) -> Result<(), AppError> {
    run_until(options, provider, driver, shutdown_signal()).await
}

/// Runs the controllers (caches, then workers) until `stop` fires; marks the process
/// ready once the caches are synced.
async fn run_controllers<D: Driver>(
    options: &Options,
    clusters: Clusters,
    driver: D,
    provider: &str,
    metrics: Arc<Metrics>,
    health: Health,
    stop: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let observer = Arc::new(MetricsObserver::new(metrics.clone(), provider));
    let controller = Controller::start(
        options.controller_config(),
        clusters,
        Arc::new(driver),
        observer,
    )
    .await?;
    metrics.set_snapshot(Arc::new(controller.snapshot()));
    health.set_ready(true);
    let workers = usize::try_from(options.concurrent_syncs.max(1)).unwrap_or(1);
    controller.run(workers, stop).await;
    metrics.clear_snapshot();
    Ok(())
}

/// Runs the machine controller until `shutdown` completes.
pub async fn run_until<D: Driver>(
    options: Options,
    provider: &str,
    driver: D,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    init_logging(options.v, LogFormat::Text)?;
    options.log_flags();
    options.validate()?;
    tracing::info!(provider, version = env!("CARGO_PKG_VERSION"), namespace = %options.namespace, "starting machine controller");

    // Shutdown fans out to the HTTP server, leader election and the controllers.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let metrics = metrics::global();
    let health = Health::new();
    let server = match options.http_address() {
        Some(addr) => Some(HttpServer::bind(addr).await?),
        None => None,
    };
    let http = server.map(|server| {
        let metrics = metrics.clone();
        let health = health.clone();
        let stop = stopped();
        tokio::spawn(async move { server.serve(metrics, health, stop).await })
    });

    let burst = u32::try_from(options.kube_api_burst.max(0)).unwrap_or(u32::MAX);
    let clusters = connect(
        &options.control_kubeconfig,
        &options.target_kubeconfig,
        options.kube_api_qps,
        burst,
    )
    .await?;

    let work = async {
        if options.leader_elect {
            // A standby replica is ready (it serves, it just does not act).
            health.set_ready(true);
            let settings = LeaderSettings::from_options(&options)?;
            let control = clusters.control.clone();
            let outcome = run_as_leader(
                control,
                settings,
                |mut stopping| {
                    let health = health.clone();
                    let metrics = metrics.clone();
                    let options = &options;
                    let clusters = clusters.clone();
                    async move {
                        health.set_ready(false);
                        run_controllers(
                            options,
                            clusters,
                            driver,
                            provider,
                            metrics,
                            health,
                            async move {
                                stopping.requested().await;
                            },
                        )
                        .await
                    }
                },
                stopped(),
            )
            .await?;
            outcome.transpose()?;
            Ok::<(), AppError>(())
        } else {
            run_controllers(
                &options,
                clusters.clone(),
                driver,
                provider,
                metrics.clone(),
                health.clone(),
                stopped(),
            )
            .await?;
            Ok(())
        }
    };
    let shutdown = shutdown.fuse();
    tokio::pin!(shutdown);
    tokio::pin!(work);
    let result = tokio::select! {
        result = &mut work => result,
        () = &mut shutdown => {
            let _ = stop_tx.send(true);
            work.await
        }
    };
    let _ = stop_tx.send(true);
    if result.is_err() {
        health.set_healthy(false);
    }
    if let Some(http) = http {
        match http.await {
            Ok(Err(error)) => tracing::warn!(%error, "HTTP server ended with an error"),
            Err(error) => tracing::warn!(%error, "HTTP server task failed"),
            Ok(Ok(())) => {}
        }
    }
    tracing::info!("machine controller stopped");
    result
}

/// [`run`] for a provider's `main`: prints the error and maps it to an exit code.
pub async fn main<D: Driver>(options: Options, provider: &str, driver: D) -> ExitCode {
    match run(options, provider, driver).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "machine controller failed");
            eprintln!("machine-controller: {error}");
            ExitCode::FAILURE
        }
    }
}
