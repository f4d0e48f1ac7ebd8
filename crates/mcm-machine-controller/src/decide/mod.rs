//! The machine controller's decisions as pure functions: given a Machine, its Node,
//! its class and the result of the last driver call (and `now`), what to write and
//! when to come back. No I/O and no clock in here; the [`crate::flow`] passes call
//! these between their effects, and the decision-table tests check them row by row.

pub mod class;
pub mod creation;
pub mod deletion;
pub mod effective;
pub mod finalizers;
pub mod health;
pub mod lookup;
pub mod node_events;
pub mod node_sync;
pub mod outcome;
pub mod safety;
pub mod similar;
pub mod status;
pub mod user_data;
