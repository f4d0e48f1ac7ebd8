//! `cargo xtask test`: everything CI checks, in one command, with a summary at the
//! end — formatting, clippy, the workspace's unit and integration tests (which start
//! the real control plane), the template smoke test and the e2e suite.
//!
//! Steps run in order and do not stop at the first failure (one run shows every
//! problem); the command fails if any step failed.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

/// The steps, in order.
const STEPS: &[&str] = &["fmt", "clippy", "tests", "smoke", "e2e"];

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Skip these steps (comma-separated: fmt, clippy, tests, smoke, e2e).
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Run only these steps.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

struct Outcome {
    step: &'static str,
    passed: bool,
    took: Duration,
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.args(args);
    command
}

fn command_for(step: &str) -> Command {
    match step {
        "fmt" => cargo(&["fmt", "--all", "--", "--check"]),
        "clippy" => cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        "tests" => cargo(&["test", "--workspace"]),
        other => cargo(&["run", "--package", "xtask", "--quiet", "--", other]),
    }
}

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    for name in args.skip.iter().chain(&args.only) {
        if !STEPS.contains(&name.as_str()) {
            bail!("unknown step {name:?}; the steps are {}", STEPS.join(", "));
        }
    }
    let selected: Vec<&'static str> = STEPS
        .iter()
        .copied()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s))
        .filter(|s| !args.skip.iter().any(|k| k == s))
        .collect();
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for step in selected {
        eprintln!("\n=== xtask test: {step} ===");
        let began = Instant::now();
        let passed = match command_for(step).status() {
            Ok(status) => status.success(),
            Err(error) => {
                eprintln!("cannot run step {step}: {error}");
                false
            }
        };
        outcomes.push(Outcome {
            step,
            passed,
            took: began.elapsed(),
        });
    }
    println!("\n{:<8} {:<6} {:>9}", "step", "result", "time");
    for outcome in &outcomes {
        println!(
            "{:<8} {:<6} {:>8.1}s",
            outcome.step,
            if outcome.passed { "ok" } else { "FAILED" },
            outcome.took.as_secs_f64()
        );
    }
    println!("total {:.1}s", started.elapsed().as_secs_f64());
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.step)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("failed steps: {}", failed.join(", "))
    }
}
