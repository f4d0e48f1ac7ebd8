//! Types and contracts of Gardener's machine-controller-manager (MCM) for Rust
//! machine providers.
//!
//! This crate is deliberately light (serde + k8s-openapi, no client, no runtime), so
//! a provider's unit tests of its driver compile quickly. It holds:
//!
//! - [`v1alpha1`]: `Machine`, `MachineClass`, `MachineSet`, `MachineDeployment` with
//!   MCM's exact JSON names, usable with kube-rs (`Api<Machine>`);
//! - [`well_known`]: every label, annotation, finalizer, taint, condition and
//!   description marker the controllers exchange;
//! - [`driver`]: the `Driver` trait a provider implements, with its request and
//!   response types (MCM's `pkg/util/provider/driver`);
//! - [`codes`] and [`status`]: machine error codes and the status error, including
//!   Go's text form and its parser (MCM's `machinecodes`);
//! - [`duration`]: Go duration syntax, used by flags, specs and descriptions.

pub mod codes;
pub mod driver;
pub mod duration;
mod serde_util;
pub mod status;
pub mod v1alpha1;
pub mod well_known;

pub use codes::Code;
pub use driver::Driver;
pub use duration::GoDuration;
pub use status::Status;
