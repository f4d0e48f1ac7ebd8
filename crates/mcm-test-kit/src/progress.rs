//! Progress lines on the terminal.
//!
//! Tool builds take minutes and plane start-up takes seconds; a developer running
//! `cargo test` should see why. The test harness captures `eprintln!`, so these lines
//! are written to the stderr handle directly, which it does not capture.

use std::io::Write;

/// Writes one `[mcm-test-kit] …` line to stderr, ignoring write errors (progress is
/// best effort).
pub(crate) fn say(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "[mcm-test-kit] {message}");
}
