//! Children that die with the test binary.
//!
//! A shared plane lives in a `static`, and statics are never dropped: when the test
//! binary exits (or panics, or is killed) nothing would stop etcd and kube-apiserver.
//! Linux can do it for us: a parent-death signal (`PR_SET_PDEATHSIG`) is delivered to a
//! child when the *thread* that forked it exits. Setting it needs code between `fork` and
//! `exec`, which in Rust means `unsafe` `pre_exec` — forbidden in this workspace — so the
//! child is started through util-linux's `setpriv --pdeathsig KILL`, which sets the
//! signal and then `exec`s the real program (same PID). All such children are forked by
//! one dedicated thread that lives as long as the process, so the signal fires exactly
//! when the test binary ends, however it ends.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;

struct Request {
    command: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns `command` on the long-lived spawner thread.
pub(crate) fn spawn_on_spawner_thread(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<Request>>> = OnceLock::new();
    let sender = SPAWNER
        .get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Request>();
            thread::Builder::new()
                .name("mcm-test-kit-spawner".into())
                .spawn(move || {
                    // The sender lives in a static, so this loop ends only with the process.
                    for mut request in receiver {
                        let _ = request.reply.send(request.command.spawn());
                    }
                })
                .ok()
                .map(|_| sender)
        })
        .as_ref()
        .ok_or_else(|| io::Error::other("could not start the mcm-test-kit spawner thread"))?;
    let (reply, answer) = mpsc::channel();
    sender
        .send(Request { command, reply })
        .map_err(|_| io::Error::other("the mcm-test-kit spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the mcm-test-kit spawner thread did not answer"))?
}

/// The `setpriv` binary used to set the parent-death signal, if this machine has one.
///
/// Without it children are still stopped on drop, just not when the test binary dies
/// abruptly; a warning says so once.
pub(crate) fn parent_death_wrapper() -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let found = find_in_path("setpriv");
            if found.is_none() {
                crate::progress::say(
                    "warning: `setpriv` (util-linux) not found in PATH; processes started by \
                     mcm-test-kit are stopped when dropped, but may outlive a test binary that \
                     is killed. Install util-linux to fix this.",
                );
            }
            found
        })
        .as_deref()
}

/// Looks a program name up in `PATH` the way a shell would.
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable_file(candidate))
}

/// True for a regular file with an execute bit.
pub(crate) fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
