//! The process a provider's `main` runs: flags → logging → clients → HTTP endpoints →
//! leader election → controller (contract 01 §7).
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

use mcm_api::Driver;

use crate::options::{Options, OptionsError};
use crate::runtime::clients::ClientError;
use crate::runtime::{Controller, NoMetrics, RuntimeObserver, StartError, connect};

/// Why the machine controller stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A flag is invalid.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A cluster client could not be built.
    #[error(transparent)]
    Clients(#[from] ClientError),
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

/// Runs the machine controller until `shutdown` completes.
pub async fn run_until<D: Driver>(
    options: Options,
    provider: &str,
    driver: D,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    options.validate()?;
    tracing::info!(
        provider,
        version = env!("CARGO_PKG_VERSION"),
        "starting machine controller"
    );
    let config = options.controller_config();
    let burst = u32::try_from(options.kube_api_burst.max(0)).unwrap_or(u32::MAX);
    let clusters = connect(
        &options.control_kubeconfig,
        &options.target_kubeconfig,
        options.kube_api_qps,
        burst,
    )
    .await?;
    let observer: Arc<dyn RuntimeObserver> = Arc::new(NoMetrics);
    let controller = Controller::start(config, clusters, Arc::new(driver), observer).await?;
    let workers = usize::try_from(options.concurrent_syncs.max(1)).unwrap_or(1);
    controller.run(workers, shutdown).await;
    Ok(())
}

/// [`run`] for a provider's `main`: logs the error and maps it to an exit code.
pub async fn main<D: Driver>(options: Options, provider: &str, driver: D) -> ExitCode {
    match run(options, provider, driver).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("machine-controller: {error}");
            tracing::error!(%error, "machine controller failed");
            ExitCode::FAILURE
        }
    }
}
