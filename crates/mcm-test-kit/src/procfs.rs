//! Identifying a process by more than its PID.
//!
//! PIDs are reused. Before the harness stops a process it did not just spawn (a plane
//! left by `cargo xtask cluster up`) or deletes the directory of a plane whose owner is
//! gone, it compares the executable and the kernel's start time with what it recorded.

use std::path::PathBuf;

/// The process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`),
/// or `None` if there is no such process.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past its end.
    let after_name = stat.rsplit_once(')')?.1;
    // Fields from 3 (state) on; the start time is field 22.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// True if the process exists and has not exited (zombies count as exited).
pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false)
}

/// The executable a process runs (the target of `/proc/<pid>/exe`, without the
/// ` (deleted)` suffix the kernel adds after the file was replaced).
pub fn executable(pid: u32) -> Option<PathBuf> {
    let target = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let text = target.to_string_lossy();
    Some(match text.strip_suffix(" (deleted)") {
        Some(stripped) => PathBuf::from(stripped),
        None => target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_process_and_not_a_missing_one() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(start_time(me).is_some());
        assert_eq!(executable(me).unwrap(), std::env::current_exe().unwrap());
        // PIDs above the kernel's maximum (4194304) never exist.
        assert!(!is_alive(4_194_305));
        assert_eq!(start_time(4_194_305), None);
    }
}
