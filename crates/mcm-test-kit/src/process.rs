//! Processes started by tests: our controllers, the simulated cloud, MCM, the plane.
//!
//! Each process runs in its own process group (so a stop reaches anything it forks),
//! writes stdout and stderr into one log file next to the plane's other files, and is
//! stopped when its [`ManagedProcess`] is dropped — SIGTERM to the group, SIGKILL after a
//! grace period — including during a panic's unwinding. Unless detached, it is also tied
//! to the test binary's life (see `spawner`).

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::error::{Error, Result};
use crate::spawner;

/// How long a stopped process gets between SIGTERM and SIGKILL unless the spec says
/// otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// What to run and how; build with [`ProcessSpec::new`] and the chained setters.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    log_dir: PathBuf,
    grace_period: Duration,
    detached: bool,
}

impl ProcessSpec {
    /// Runs `program` (a path, or a name looked up in `PATH`); the log goes to
    /// `<log_dir>/<name>.log`. `name` must be usable as a file name.
    pub fn new(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        log_dir: impl Into<PathBuf>,
    ) -> Self {
        ProcessSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            log_dir: log_dir.into(),
            grace_period: DEFAULT_GRACE_PERIOD,
            detached: false,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the rest of the environment is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the process in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Time between SIGTERM and SIGKILL when stopping.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// Does not tie the process to this process's life: used by `cargo xtask cluster up`,
    /// whose processes must keep running after xtask exits. Such a process is still
    /// stopped on drop until [`ManagedProcess::detach`] is called.
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// The arguments, for logs and error messages.
    pub fn arguments(&self) -> &[OsString] {
        &self.args
    }
}

/// A running (or finished) child process owned by a test.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    pid: u32,
    program: PathBuf,
    log_path: PathBuf,
    grace_period: Duration,
    child: Mutex<Option<Child>>,
    exit: Mutex<Option<ExitStatus>>,
    detached: bool,
}

/// What remains of a [`ManagedProcess`] after [`ManagedProcess::detach`]: enough to find
/// and stop it later by PID.
#[derive(Debug, Clone)]
pub struct DetachedProcess {
    /// The name given in the spec.
    pub name: String,
    /// Process ID, also its process-group ID.
    pub pid: u32,
    /// The program's canonical path (what `/proc/<pid>/exe` points to).
    pub program: PathBuf,
    /// Its log file.
    pub log_path: PathBuf,
}

impl ManagedProcess {
    /// Starts the process described by `spec`.
    pub fn spawn(spec: ProcessSpec) -> Result<ManagedProcess> {
        let program = resolve_program(&spec.program)?;
        std::fs::create_dir_all(&spec.log_dir).map_err(|e| {
            Error::io(
                format!("creating log directory {}", spec.log_dir.display()),
                e,
            )
        })?;
        let (log_path, log) = open_log(&spec.log_dir, &spec.name, &program, &spec.args)?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io(format!("duplicating log handle {}", log_path.display()), e))?;

        let wrapper = if spec.detached {
            None
        } else {
            spawner::parent_death_wrapper()
        };
        let mut command = match wrapper {
            Some(setpriv) => {
                let mut command = Command::new(setpriv);
                command.args(["--pdeathsig", "KILL", "--"]).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        if let Some(dir) = &spec.current_dir {
            command.current_dir(dir);
        }
        let child = if spec.detached {
            command.spawn()
        } else {
            spawner::spawn_on_spawner_thread(command)
        }
        .map_err(|e| Error::io(format!("starting {} ({})", spec.name, program.display()), e))?;

        Ok(ManagedProcess {
            name: spec.name,
            pid: child.id(),
            program,
            log_path,
            grace_period: spec.grace_period,
            child: Mutex::new(Some(child)),
            exit: Mutex::new(None),
            detached: false,
        })
    }

    /// The name given in the spec.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process ID (also the process-group ID).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The program that runs (canonical path).
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The file receiving stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far (lossy UTF-8; empty if unreadable).
    pub fn read_logs(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.read_logs(), lines)
    }

    /// True while the process has not exited.
    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// How the process ended, once it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = lock(&self.child);
        self.reap(&mut child)
    }

    /// Waits until the log contains `pattern` (a plain substring). Fails early if the
    /// process exits first, quoting the log's tail.
    pub async fn wait_for_log(&self, pattern: &str, timeout: Duration) -> Result<()> {
        let what = format!(
            "{:?} in the log of {} ({})",
            pattern,
            self.name,
            self.log_path.display()
        );
        crate::wait::poll_until(what, timeout, Duration::from_millis(100), || async {
            if self.read_logs().contains(pattern) {
                crate::wait::Attempt::Done(())
            } else if let Some(status) = self.exit_status() {
                crate::wait::Attempt::Fatal(self.exited_error(status))
            } else {
                crate::wait::Attempt::NotYet("not found yet".to_string())
            }
        })
        .await
    }

    /// Waits until something accepts TCP connections on `127.0.0.1:port`, failing early
    /// if this process exits.
    pub async fn wait_listening(&self, port: u16, timeout: Duration) -> Result<()> {
        let what = format!("{} to listen on 127.0.0.1:{port}", self.name);
        crate::wait::poll_until(what, timeout, Duration::from_millis(100), || async move {
            if let Some(status) = self.exit_status() {
                return crate::wait::Attempt::Fatal(self.exited_error(status));
            }
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(_) => crate::wait::Attempt::Done(()),
                Err(error) => crate::wait::Attempt::NotYet(error.to_string()),
            }
        })
        .await
    }

    /// Stops the process: SIGTERM to its group, SIGKILL after the grace period.
    /// Returns how it ended (`None` if it could not be determined).
    pub async fn stop(&self) -> Option<ExitStatus> {
        if let Some(status) = self.exit_status() {
            signal_group(self.pid, Signal::KILL);
            return Some(status);
        }
        signal_group(self.pid, Signal::TERM);
        let deadline = Instant::now() + self.grace_period;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                signal_group(self.pid, Signal::KILL);
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill_and_reap()
    }

    /// Like [`ManagedProcess::stop`], blocking the calling thread; used by `Drop`.
    pub fn stop_blocking(&self) -> Option<ExitStatus> {
        if let Some(status) = self.exit_status() {
            signal_group(self.pid, Signal::KILL);
            return Some(status);
        }
        signal_group(self.pid, Signal::TERM);
        let deadline = Instant::now() + self.grace_period;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                signal_group(self.pid, Signal::KILL);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_and_reap()
    }

    /// Leaves the process running after this handle is gone, returning what is needed to
    /// stop it later. Its zombie, once it exits, is reaped by init.
    pub fn detach(mut self) -> DetachedProcess {
        self.detached = true;
        DetachedProcess {
            name: self.name.clone(),
            pid: self.pid,
            program: self.program.clone(),
            log_path: self.log_path.clone(),
        }
    }

    /// The error to report when the process ended while something waited for it.
    pub(crate) fn exited_error(&self, status: ExitStatus) -> Error {
        Error::ExitedEarly {
            component: self.name.clone(),
            status: status.to_string(),
            log: self.log_path.clone(),
            tail: self.log_tail(30),
        }
    }

    fn kill_and_reap(&self) -> Option<ExitStatus> {
        signal_group(self.pid, Signal::KILL);
        let mut child = lock(&self.child);
        if let Some(status) = *lock(&self.exit) {
            return Some(status);
        }
        let status = child.as_mut().and_then(|c| c.wait().ok());
        if let Some(status) = status {
            *lock(&self.exit) = Some(status);
            *child = None;
        }
        status
    }

    /// Records the exit status if the child has ended (reaping it).
    fn reap(&self, child: &mut MutexGuard<'_, Option<Child>>) -> Option<ExitStatus> {
        let mut exit = lock(&self.exit);
        if exit.is_some() {
            return *exit;
        }
        let status = child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            *exit = status;
            **child = None;
        }
        status
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if !self.detached {
            self.stop_blocking();
        }
    }
}

/// Sends `signal` to the process group `pgid`; a group that no longer exists is fine.
pub(crate) fn signal_group(pgid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn resolve_program(program: &Path) -> Result<PathBuf> {
    let found = if program.components().count() > 1 || program.is_absolute() {
        spawner::is_executable_file(program).then(|| program.to_path_buf())
    } else {
        spawner::find_in_path(&program.to_string_lossy())
    };
    let found = found.ok_or_else(|| Error::InvalidArgument {
        field: "program",
        message: format!(
            "{} is not an executable file (nor found in PATH); build it first or pass its full path",
            program.display()
        ),
    })?;
    std::fs::canonicalize(&found)
        .map_err(|e| Error::io(format!("resolving program path {}", found.display()), e))
}

/// Creates `<dir>/<name>.log`, or `<name>-1.log`, `<name>-2.log`, … if taken, so two
/// processes with the same name (say, two tests' controllers) never share a log.
fn open_log(dir: &Path, name: &str, program: &Path, args: &[OsString]) -> Result<(PathBuf, File)> {
    let mut attempt = 0u32;
    let (path, mut file) = loop {
        let path = if attempt == 0 {
            dir.join(format!("{name}.log"))
        } else {
            dir.join(format!("{name}-{attempt}.log"))
        };
        match OpenOptions::new().create_new(true).append(true).open(&path) {
            Ok(file) => break (path, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 10_000 => {
                attempt += 1;
            }
            Err(e) => {
                return Err(Error::io(
                    format!("creating log file {}", path.display()),
                    e,
                ));
            }
        }
    };
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    writeln!(
        file,
        "=== mcm-test-kit: starting {} {}",
        program.display(),
        args.join(" ")
    )
    .map_err(|e| Error::io(format!("writing log file {}", path.display()), e))?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, name: &str, script: &str) -> ProcessSpec {
        ProcessSpec::new(name, "sh", dir).arg("-c").arg(script)
    }

    #[tokio::test]
    async fn output_goes_to_the_log_and_wait_for_log_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let process = ManagedProcess::spawn(sh(
            dir.path(),
            "echo",
            "echo hello-out; echo hello-err >&2; sleep 30",
        ))
        .unwrap();
        process
            .wait_for_log("hello-err", Duration::from_secs(5))
            .await
            .unwrap();
        let logs = process.read_logs();
        assert!(logs.contains("hello-out"), "{logs}");
        assert!(process.is_running());
        assert_eq!(process.log_path(), dir.path().join("echo.log"));
    }

    #[tokio::test]
    async fn wait_for_log_fails_fast_when_the_process_exits() {
        let dir = tempfile::tempdir().unwrap();
        let process = ManagedProcess::spawn(sh(dir.path(), "quitter", "echo bye; exit 3")).unwrap();
        let started = Instant::now();
        let err = process
            .wait_for_log("never printed", Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let text = err.to_string();
        assert!(
            text.contains("quitter") && text.contains("bye") && text.contains('3'),
            "{text}"
        );
    }

    #[tokio::test]
    async fn stop_terminates_the_whole_group_and_reports_the_signal() {
        let dir = tempfile::tempdir().unwrap();
        // The shell forks a grandchild; stopping must reach it through the group.
        let process = ManagedProcess::spawn(sh(
            dir.path(),
            "group",
            "sleep 300 & echo grand''child=$!; wait",
        ))
        .unwrap();
        process
            .wait_for_log("grandchild=", Duration::from_secs(5))
            .await
            .unwrap();
        let grandchild: i32 = process
            .read_logs()
            .rsplit("grandchild=")
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let status = process.stop().await.unwrap();
        assert!(!status.success());
        assert!(!process.is_running());
        // The grandchild was re-parented and reaped by init, or is about to be.
        crate::wait::wait_until(
            "grandchild gone",
            Duration::from_secs(5),
            Duration::from_millis(50),
            || async {
                let state =
                    std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
                let state = state
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                if state.is_empty() || state == "Z" {
                    Ok(())
                } else {
                    Err(format!("state {state}"))
                }
            },
        )
        .await
        .unwrap();
    }

    #[test]
    fn drop_kills_a_process_that_ignores_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let process = ManagedProcess::spawn(
            sh(
                dir.path(),
                "stubborn",
                "trap '' TERM; echo ready; while :; do sleep 1; done",
            )
            .grace_period(Duration::from_millis(300)),
        )
        .unwrap();
        let pid = process.pid();
        let started = Instant::now();
        while !process.read_logs().contains("ready") {
            assert!(started.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(process);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still exists"
        );
    }

    #[tokio::test]
    async fn processes_with_the_same_name_get_their_own_logs() {
        let dir = tempfile::tempdir().unwrap();
        let first = ManagedProcess::spawn(sh(dir.path(), "twin", "echo one; sleep 30")).unwrap();
        let second = ManagedProcess::spawn(sh(dir.path(), "twin", "echo two; sleep 30")).unwrap();
        assert_eq!(first.log_path(), dir.path().join("twin.log"));
        assert_eq!(second.log_path(), dir.path().join("twin-1.log"));
        second
            .wait_for_log("two", Duration::from_secs(5))
            .await
            .unwrap();
        first
            .wait_for_log("one", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!first.read_logs().contains("two\n"));
    }

    #[test]
    fn a_missing_program_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ManagedProcess::spawn(ProcessSpec::new("x", "/nonexistent/binary", dir.path()))
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/binary"), "{err}");
    }
}
