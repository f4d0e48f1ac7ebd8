//! Reconcile passes as straight-line code over [`Effects`]: the order of steps and
//! which decision feeds which call. Each pass returns the [`crate::retry::Retry`]
//! for its key. The smaller queues (class, secret, node, safety) have their own
//! small traits in [`finalizers`], [`nodes`] and [`safety`].

pub mod creation;
pub mod effects;
pub mod finalizers;
pub mod health;
pub mod machine;
pub mod nodes;
pub mod safety;
pub mod termination;

pub use effects::{Effects, Observation, PassContext};
pub use machine::{ValidClass, reconcile_machine, validate_class};
pub use termination::reconcile_termination;
