//! Running the steps of a smoke run: child processes with their output in a log file per
//! step, a progress line every half minute while one runs, and the outcome with its time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Variant;
use super::report::Outcome;

/// How often a running step reports that it is still running.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// Runs steps with a shared target directory and a log directory.
#[derive(Debug)]
pub struct Runner {
    target_dir: PathBuf,
    log_dir: PathBuf,
    started: Instant,
    cargo: std::ffi::OsString,
    /// Numbers the log files in run order (a repository runs `build` twice when renamed).
    counter: std::sync::atomic::AtomicUsize,
}

impl Runner {
    pub fn new(target_dir: &Path, log_dir: &Path, started: Instant) -> anyhow::Result<Runner> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        std::fs::create_dir_all(target_dir)
            .with_context(|| format!("creating {}", target_dir.display()))?;
        Ok(Runner {
            target_dir: target_dir.to_owned(),
            log_dir: log_dir.to_owned(),
            started,
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            counter: std::sync::atomic::AtomicUsize::new(1),
        })
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// A progress line, prefixed with the time since the run started.
    pub fn say(&self, text: &str) {
        println!(
            "[smoke {:>6.0}s] {text}",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// `cargo <args>` in `dir`.
    pub fn cargo(&self, step: &str, dir: &Path, args: &[&str]) -> Outcome {
        let cargo = self.cargo.clone();
        self.run_command(
            step,
            dir,
            Command::new(cargo).args(args),
            &format!("cargo {}", args.join(" ")),
        )
    }

    /// `program <args>` in `dir`.
    pub fn run(&self, step: &str, dir: &Path, program: &str, args: &[&str]) -> Outcome {
        self.run_command(
            step,
            dir,
            Command::new(program).args(args),
            &format!("{program} {}", args.join(" ")),
        )
    }

    fn run_command(&self, step: &str, dir: &Path, command: &mut Command, shown: &str) -> Outcome {
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let number = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log_path = self.log_dir.join(format!("{number:02}-{name}-{step}.log"));
        self.say(&format!("{name}: {shown}"));
        let started = Instant::now();
        let outcome = self.spawn_and_wait(dir, command, &log_path);
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => {
                self.say(&format!("{name}: {step} ok ({seconds:.1}s)"));
                Outcome::passed(seconds)
            }
            Err(error) => {
                self.say(&format!("{name}: {step} FAILED ({seconds:.1}s): {error:#}"));
                println!("---- last lines of {} ----", log_path.display());
                println!("{}", tail(&log_path, 60));
                Outcome::failed(seconds, &format!("{error:#}"))
            }
        }
    }

    fn spawn_and_wait(
        &self,
        dir: &Path,
        command: &mut Command,
        log_path: &Path,
    ) -> anyhow::Result<()> {
        let log =
            File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone()?;
        command
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            // This workspace's .cargo/config.toml sets it for its libraries; generated
            // providers choose the version by feature, as their users' shells do.
            .env_remove("K8S_OPENAPI_ENABLED_VERSION")
            .env("CARGO_TERM_COLOR", "never")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let mut child = command.spawn().context("starting the command")?;
        let started = Instant::now();
        let mut next_report = PROGRESS_EVERY;
        loop {
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                bail!("exited with {status} (log {})", log_path.display());
            }
            if started.elapsed() >= next_report {
                self.say(&format!(
                    "  … still running ({:.0}s): {}",
                    started.elapsed().as_secs_f64(),
                    last_line(log_path)
                ));
                next_report += PROGRESS_EVERY;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The last `lines` lines of a log.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn last_line(path: &Path) -> String {
    let line = tail(path, 1);
    line.chars().take(100).collect()
}

/// `cargo generate --version`, required to be 0.23.x (the template's
/// `cargo_generate_version`; 0.24 needs a newer rustc than 1.95).
pub fn cargo_generate_version() -> anyhow::Result<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["generate", "--version"])
        .output()
        .context("running `cargo generate --version`")?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let version = text.rsplit(' ').next().unwrap_or_default();
    if !output.status.success() || !version.starts_with("0.23.") {
        bail!(
            "cargo-generate 0.23.x is needed (found: {}): install it with \
             `cargo install cargo-generate --version 0.23.14 --locked`",
            if text.is_empty() {
                "none".to_owned()
            } else {
                text
            }
        );
    }
    Ok(format!("cargo-generate {version}"))
}

/// A copy of what cargo-generate reads from this repository when it is given the
/// repository root: the root `cargo-generate.toml` (with `sub_templates`) and `template/`.
///
/// cargo-generate copies the *whole* directory given to `--path` before it picks the
/// sub-template, `target/` included (gigabytes in CI); this copy lets smoke exercise the
/// `--path <root> template` form without that.
pub fn template_source(repo: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::copy(
        repo.join("cargo-generate.toml"),
        dir.join("cargo-generate.toml"),
    )
    .context("copying cargo-generate.toml")?;
    copy_tree(&repo.join("template"), &dir.join("template"))?;
    Ok(dir.to_owned())
}

/// Copies a directory tree; `fs::copy` keeps each file's permission bits.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Renders the template for `variant` into `parent/<crate_name>`: through a root
/// `cargo-generate.toml`'s `sub_templates` (`--path <source> template`, see
/// [`template_source`]) when `source` is given, else directly (`--path <repo>/template`).
pub fn generate(
    runner: &Runner,
    repo: &Path,
    parent: &Path,
    variant: &Variant,
    crate_name: &str,
    source: Option<&Path>,
) -> Outcome {
    if let Err(error) = std::fs::create_dir_all(parent) {
        return Outcome::failed(0.0, &format!("creating {}: {error}", parent.display()));
    }
    let repo_text = repo.to_string_lossy().into_owned();
    let template_path = repo.join("template").to_string_lossy().into_owned();
    let mut args: Vec<String> = vec!["generate".into(), "--path".into()];
    match source {
        Some(source) => args.extend([source.to_string_lossy().into_owned(), "template".into()]),
        None => args.push(template_path),
    }
    args.extend([
        "--name".into(),
        crate_name.into(),
        "--destination".into(),
        parent.to_string_lossy().into_owned(),
        "--silent".into(),
        "-d".into(),
        format!("provider={}", variant.provider),
        "-d".into(),
        format!("project={}", variant.project),
        "-d".into(),
        format!("runtime_path={repo_text}"),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cargo = runner.cargo.clone();
    let mut command = Command::new(cargo);
    command
        .args(&args)
        .env("CARGO_NAME", "smoke")
        .env("CARGO_EMAIL", "smoke@example.invalid");
    runner.run_command(
        "generate",
        parent,
        &mut command,
        &format!("cargo {}", args.join(" ")),
    )
}

/// `git add -A && git commit` with a fixed identity.
pub fn commit_all(runner: &Runner, root: &Path, message: &str) -> Outcome {
    let identity = [
        "-c",
        "user.name=smoke",
        "-c",
        "user.email=smoke@example.invalid",
    ];
    let add = runner.run(
        "git-add",
        root,
        "git",
        &[
            identity[0],
            identity[1],
            identity[2],
            identity[3],
            "add",
            "-A",
        ],
    );
    if !add.ok {
        return add;
    }
    runner.run(
        "git-commit",
        root,
        "git",
        &[
            identity[0],
            identity[1],
            identity[2],
            identity[3],
            "commit",
            "-q",
            "-m",
            message,
        ],
    )
}
