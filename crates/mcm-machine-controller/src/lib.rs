//! The machine controller of Gardener's machine-controller-manager, in Rust.
//!
//! A provider's `main` parses [`options::Options`] (MCM's flags), builds its
//! [`mcm_api::Driver`] and calls [`runtime::run`]. Inside:
//!
//! - [`decide`]: the controller's decisions as pure functions (contract 02);
//! - [`flow`]: the reconcile passes, sequencing decisions and effects;
//! - [`runtime`]: caches, work queues and controllers over kube-rs — the effects;
//! - [`drain`]: evicting a Node's pods before its VM goes;
//! - [`options`], [`telemetry`], [`metrics`], [`http`], [`leader`]: the process around it;
//! - [`config`] and [`retry`]: settings and requeue periods.

pub mod app;
pub mod config;
pub mod decide;
pub mod drain;
pub mod flow;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod options;
pub mod retry;
pub mod runtime;
pub mod telemetry;

pub use config::{ControllerConfig, TargetMode};
pub use retry::Retry;
