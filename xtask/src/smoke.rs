//! `cargo xtask smoke`: renders the provider template in several variants, outside any
//! Cargo workspace, and proves each result is a working repository: it builds, its tests
//! pass, clippy and rustfmt are clean, nothing of the template is left unrendered, scripts
//! kept their executable bit and every YAML parses. One variant is then renamed with its
//! own `make rename-project` and must still build and pass its tests, and (unless
//! `--no-run`) one variant runs end to end (`make e2e`: its machine becomes Running on a real control
//! plane). A summary table with timings closes the run.
//!
//! The variants build against this checkout (`runtime_path`), share one target directory
//! (dependencies are compiled once), and start from this repository's `Cargo.lock`, so they
//! build with exactly the dependency versions this workspace is tested with.

mod checks;
mod report;
mod steps;

pub use steps::cargo_generate_version;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use mcm_rename::ProjectNames;

use report::{Outcome, Row};
use steps::Runner;

/// The variants run by default: an uppercase abbreviation, a hyphenated name, a plain word.
const DEFAULT_VARIANTS: [&str; 3] = ["AWS/gardener", "my-cloud/some-org", "Hetzner/acme"];

/// The names the renamed variant gets: one word → several words exercises every form.
const RENAME_TO: (&str, &str) = ("renamed-org", "NewCloudCo");

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// Variants as PROVIDER/PROJECT (repeatable) [default: AWS/gardener, my-cloud/some-org,
    /// Hetzner/acme].
    #[arg(long = "variant", value_name = "PROVIDER/PROJECT")]
    variants: Vec<String>,
    /// Where to generate [default: a new directory under the system temp dir, removed
    /// afterwards unless --keep]. Must not be inside a Cargo workspace.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Target directory shared by all variants [default: $MCM_SMOKE_TARGET_DIR, else
    /// <repo>/target/smoke].
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Keep the generated repositories.
    #[arg(long)]
    keep: bool,
    /// Skip renaming a variant with its own `make rename-project`.
    #[arg(long)]
    no_rename: bool,
    /// Skip running the first variant end to end (`make e2e`: control plane + simulated
    /// cloud + `make start`, kubernetes/machine.yaml → Running → deleted).
    #[arg(long)]
    no_run: bool,
}

/// One variant: the names it is generated with.
#[derive(Debug, Clone)]
struct Variant {
    provider: String,
    project: String,
}

impl Variant {
    fn parse(text: &str) -> anyhow::Result<Variant> {
        let (provider, project) = text.split_once('/').with_context(|| {
            format!("variant {text:?}: write PROVIDER/PROJECT, e.g. AWS/gardener")
        })?;
        mcm_rename::NewNames::new(project, provider, None)
            .with_context(|| format!("variant {text:?}"))?;
        Ok(Variant {
            provider: provider.to_owned(),
            project: project.to_owned(),
        })
    }

    fn names(&self) -> ProjectNames {
        let mut names = ProjectNames {
            project: self.project.clone(),
            provider: self.provider.clone(),
            image_repository: String::new(),
        };
        names.image_repository =
            mcm_rename::default_image_repository(&self.project, &names.kebab());
        names
    }

    fn label(&self) -> String {
        format!("{}/{}", self.provider, self.project)
    }
}

pub fn run(args: SmokeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let repo = crate::stack::repo_root()?;
    let specs: Vec<String> = if args.variants.is_empty() {
        DEFAULT_VARIANTS.iter().map(|v| (*v).to_owned()).collect()
    } else {
        args.variants.clone()
    };
    let variants = specs
        .iter()
        .map(|s| Variant::parse(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let version = steps::cargo_generate_version()?;
    let work = WorkDir::new(args.dir.as_deref(), args.keep)?;
    checks::outside_any_workspace(work.path())?;
    let target_dir = args
        .target_dir
        .clone()
        .or_else(|| {
            std::env::var_os("MCM_SMOKE_TARGET_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| repo.join("target/smoke"));
    println!("smoke: {} variant(s) with {version}", variants.len());
    println!("smoke: generating into {}", work.path().display());
    println!("smoke: shared target dir {}", target_dir.display());
    let runner = Runner::new(&target_dir, &work.path().join("logs"), started)?;
    let source = steps::template_source(&repo, &work.path().join("template-source"))?;

    let mut rows = Vec::new();
    let mut generated = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        let mut row = Row::new(variant.label());
        // The first variant goes through the root cargo-generate.toml's sub_templates.
        let via = (index == 0).then_some(source.as_path());
        let root = smoke_variant(&runner, &repo, work.path(), variant, via, &mut row);
        if let Some(root) = root {
            generated.push((variant.clone(), root));
        }
        rows.push(row);
    }
    if !args.no_rename
        && let Some((variant, root)) = generated.first()
    {
        let mut row = Row::new(format!(
            "{} → {}/{}",
            variant.label(),
            RENAME_TO.1,
            RENAME_TO.0
        ));
        rename_variant(&runner, root, variant, &mut row);
        rows.push(row);
    }

    if !args.no_run {
        let what = if args.no_rename { "" } else { ", renamed" };
        let label = match generated.first() {
            Some((variant, _)) => format!("{} (make e2e{what})", variant.label()),
            None => "make e2e".to_owned(),
        };
        let mut row = Row::new(label);
        match generated.first() {
            Some((_, root)) => {
                row.record("e2e", runner.run("e2e", root, "make", &["e2e"]));
            }
            None => row.record("e2e", Outcome::failed(0.0, "no variant was generated")),
        }
        rows.push(row);
    }

    println!();
    print!("{}", report::table(&rows));
    println!(
        "total {:.0}s; logs in {}",
        started.elapsed().as_secs_f64(),
        runner.log_dir().display()
    );
    if rows.iter().any(Row::failed) {
        let kept = work.path().to_owned();
        work.keep();
        bail!(
            "smoke failed (generated repositories kept in {})",
            kept.display()
        );
    }
    Ok(())
}

/// Generates, checks, builds, tests and lints one variant; returns its root if it was
/// generated.
fn smoke_variant(
    runner: &Runner,
    repo: &Path,
    work: &Path,
    variant: &Variant,
    source: Option<&Path>,
    row: &mut Row,
) -> Option<PathBuf> {
    let names = variant.names();
    let crate_name = names.crate_name();
    let parent = work.join(names.kebab());
    let root = parent.join(&crate_name);
    runner.say(&format!("── {}: generating {crate_name}", variant.label()));
    let generate = steps::generate(runner, repo, &parent, variant, &crate_name, source);
    let generated = generate.ok;
    row.record("generate", generate);
    if !generated {
        return None;
    }
    row.record("checks", checks::rendered_tree(&root, &names));
    let seeded = std::fs::copy(repo.join("Cargo.lock"), root.join("Cargo.lock"));
    if let Err(error) = seeded {
        row.record(
            "build",
            Outcome::failed(0.0, &format!("copying Cargo.lock: {error}")),
        );
        return Some(root);
    }
    let build = runner.cargo("build", &root, &["build", "--workspace", "--all-targets"]);
    let built = build.ok;
    row.record("build", build);
    if !built {
        return Some(root);
    }
    row.record(
        "test",
        runner.cargo("test", &root, &["test", "--workspace"]),
    );
    row.record(
        "clippy",
        runner.cargo(
            "clippy",
            &root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
    row.record(
        "fmt",
        runner.cargo("fmt", &root, &["fmt", "--all", "--", "--check"]),
    );
    Some(root)
}

/// Commits the variant, renames it with its own `make rename-project`, and checks the
/// result: no old name left, and it still builds, passes its tests and lints clean.
fn rename_variant(runner: &Runner, root: &Path, variant: &Variant, row: &mut Row) {
    runner.say(&format!(
        "── rename {} → {}/{}",
        variant.label(),
        RENAME_TO.1,
        RENAME_TO.0
    ));
    let commit = steps::commit_all(runner, root, "generated");
    if !commit.ok {
        row.record("rename", commit);
        return;
    }
    let rename = runner.run(
        "rename",
        root,
        "make",
        &[
            "rename-project",
            &format!("PROJECT_NAME={}", RENAME_TO.0),
            &format!("PROVIDER_NAME={}", RENAME_TO.1),
        ],
    );
    let renamed = rename.ok;
    row.record("rename", rename);
    if !renamed {
        return;
    }
    let new = Variant {
        provider: RENAME_TO.1.to_owned(),
        project: RENAME_TO.0.to_owned(),
    };
    row.record(
        "checks",
        checks::renamed_tree(root, &variant.names(), &new.names()),
    );
    let build = runner.cargo("build", root, &["build", "--workspace", "--all-targets"]);
    let built = build.ok;
    row.record("build", build);
    if built {
        row.record("test", runner.cargo("test", root, &["test", "--workspace"]));
        row.record(
            "clippy",
            runner.cargo(
                "clippy",
                root,
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        );
        row.record(
            "fmt",
            runner.cargo("fmt", root, &["fmt", "--all", "--", "--check"]),
        );
    }
}

/// The directory the variants are generated in: removed at the end unless kept.
struct WorkDir {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    fn new(dir: Option<&Path>, keep: bool) -> anyhow::Result<WorkDir> {
        match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let path = std::fs::canonicalize(dir)?;
                if std::fs::read_dir(&path)?.next().is_some() {
                    bail!(
                        "{} is not empty: give an empty or new directory to --dir",
                        path.display()
                    );
                }
                Ok(WorkDir { path, temp: None })
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("mcm-smoke-")
                    .tempdir()
                    .context("creating a temporary directory")?;
                let path = std::fs::canonicalize(temp.path())?;
                let temp = if keep {
                    let _ = temp.keep();
                    None
                } else {
                    Some(temp)
                };
                Ok(WorkDir { path, temp })
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory for inspection.
    fn keep(mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
    }
}

impl std::fmt::Debug for WorkDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkDir").field("path", &self.path).finish()
    }
}
