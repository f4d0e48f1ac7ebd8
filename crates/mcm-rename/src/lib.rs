//! Renames a machine-controller-manager provider repository: its GitHub project, its
//! provider name in every case form and its image repository, in file contents and in file
//! and directory names.
//!
//! The current names are read from the root `Cargo.toml` (`[package] name` and
//! `[package.metadata.mcm-provider]`), so a repository can be renamed any number of times.
//! Everything is computed before anything is written ([`RenamePlan::prepare`]), applied so
//! that a failure leaves the tree byte-identical ([`RenamePlan::apply`]), and checked
//! afterwards by walking the tree again ([`Report::leftovers`]).
//!
//! ```no_run
//! # fn main() -> Result<(), mcm_rename::Error> {
//! use mcm_rename::{NewNames, RenamePlan};
//! let new = NewNames::new("my-org", "my-cloud", None)?;
//! let plan = RenamePlan::prepare(std::path::Path::new("."), &new)?;
//! println!("{}", plan.summary());
//! let report = plan.apply()?;
//! assert!(report.unexpected_leftovers().next().is_none());
//! # Ok(()) }
//! ```
//!
//! The command-line front end shared by every repository's xtask is [`cli`]. Unix only
//! (file modes and owners are preserved with Unix APIs).

mod apply;
pub mod cli;
mod error;
pub mod git;
mod manifest;
mod mapping;
mod names;
mod plan;
mod report;
mod scan;
mod verify;
mod walk;

pub use apply::{ApplyHook, NoHook, Step};
pub use error::{Error, Result};
pub use manifest::{CurrentNames, MANIFEST, read_current_names};
pub use names::{
    FormKind, NAME_PREFIX, NewNames, ProjectNames, default_image_repository, validate_project,
    validate_provider,
};
pub use plan::{FileEdit, PathRename, RenamePlan, Skipped, Summary};
pub use report::Report;
pub use verify::{Leftover, LeftoverKind, find_leftovers};
pub use walk::STAGING_PREFIX;
