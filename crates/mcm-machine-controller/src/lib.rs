//! The machine controller of Gardener's machine-controller-manager, in Rust.
//!
//! - [`decide`]: the controller's decisions as pure functions (contract 02);
//! - [`flow`]: the reconcile passes, sequencing decisions and effects;
//! - [`config`] and [`retry`]: settings and requeue periods.

pub mod config;
pub mod decide;
pub mod flow;
pub mod retry;

pub use config::{ControllerConfig, TargetMode};
pub use retry::Retry;
