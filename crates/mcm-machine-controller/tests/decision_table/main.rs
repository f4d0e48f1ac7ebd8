//! Contract 02 §10 as a table: one named case per decision-table row, each named
//! after the row id (`c11b_…` is row C11b). A case states the world before the pass
//! (Machine, Node, class, scripted driver and API answers) and checks what the pass
//! did (driver calls, writes, requeue).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support code

mod queue_support;
mod support;

/// Declares decision-table rows: `name: world, pass(machine) => |ran| { checks }`.
macro_rules! rows {
    ($( $(#[$meta:meta])* $name:ident : $world:expr , $pass:ident ( $($arg:expr)? ) => |$ran:ident| $check:block )*) => {
        $(
            $(#[$meta])*
            #[test]
            fn $name() {
                let $ran = $world.$pass($($arg)?);
                $check
            }
        )*
    };
}

mod creation;
mod deletion;
mod finalizers;
mod gating;
mod health;
mod safety;
