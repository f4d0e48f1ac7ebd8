//! `cargo xtask bench rename`: generates a provider-like tree (default 10,000 files of
//! mixed sizes, about 10 % of them naming the provider, some binary, a gitignored build
//! directory), renames it once with the `mcm-rename` library and prints files scanned,
//! files changed, bytes and time per phase. Target: prepare + apply (with verification)
//! under one second for 10,000 files.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use mcm_rename::{NewNames, RenamePlan};

/// The goal for prepare + apply on the default tree.
const TARGET: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct RenameBench {
    /// Number of files in the generated tree.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Percentage of text files that mention the provider.
    #[arg(long, default_value_t = 10)]
    percent_named: u64,
    /// Seed of the generator (the same seed gives the same tree).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory in which to create the temporary tree (default: the system temp dir).
    /// The filesystem matters: creating files is the slowest part of applying.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

pub fn run(args: &RenameBench) -> anyhow::Result<()> {
    ensure!(
        args.files >= 10,
        "--files must be at least 10 (got {})",
        args.files
    );
    ensure!(
        args.percent_named <= 100,
        "--percent-named must be 0..=100 (got {})",
        args.percent_named
    );
    println!("build profile: {}", super::build_profile());
    let mut builder = tempfile::Builder::new();
    builder.prefix("mcm-rename-bench-");
    let dir = match &args.dir {
        Some(parent) => builder.tempdir_in(parent),
        None => builder.tempdir(),
    }
    .context("creating a temporary directory for the synthetic tree")?;
    let started = Instant::now();
    let generated = generate(dir.path(), args)?;
    println!(
        "generated {} files ({} bytes, {} naming the provider, {} binary) in {:.2?} under {}",
        generated.files,
        generated.bytes,
        generated.named,
        generated.binary,
        started.elapsed(),
        dir.path().display()
    );

    let new = NewNames::new("acme-cloud-co", "HetznerCloud", None).context("benchmark names")?;
    let cpu_started = cpu_time();
    let started = Instant::now();
    let plan = RenamePlan::prepare(dir.path(), &new).context("planning the rename")?;
    let prepare = started.elapsed();
    let prepare_cpu = cpu_time()
        .zip(cpu_started)
        .map(|(end, start)| end.saturating_sub(start));
    let summary = plan.summary();
    let bytes_written: usize = plan.edits().iter().map(|e| e.new_content().len()).sum();
    let started = Instant::now();
    let apply_cpu_started = cpu_time();
    let report = plan.apply().context("applying the rename")?;
    let apply = started.elapsed();
    let total = prepare + apply;
    let apply_cpu = cpu_time()
        .zip(apply_cpu_started)
        .map(|(end, start)| end.saturating_sub(start));
    let shown =
        |cpu: Option<Duration>| cpu.map_or_else(|| "n/a".to_owned(), |d| format!("{d:.2?}"));

    let occurrences: usize = report.occurrences.values().sum();
    println!("files scanned:      {}", summary.files_scanned);
    println!("bytes scanned:      {}", summary.bytes_scanned);
    println!("files changed:      {}", report.files_changed.len());
    println!("bytes written:      {bytes_written}");
    println!("paths renamed:      {}", report.renamed.len());
    println!("occurrences:        {occurrences}");
    println!("skipped (binary):   {}", report.skipped.binary.len());
    println!(
        "prepare:            {prepare:.3?} wall, {} CPU",
        shown(prepare_cpu)
    );
    println!(
        "apply + verify:     {apply:.3?} wall, {} CPU",
        shown(apply_cpu)
    );
    println!("total:              {total:.3?} wall");
    println!("load average:       {}", load_average());
    ensure!(
        report.unexpected_leftovers().next().is_none(),
        "the rename left old names in text: {:?}",
        report.unexpected_leftovers().take(5).collect::<Vec<_>>()
    );
    let verdict = if total < TARGET { "met" } else { "NOT met" };
    println!("target < {TARGET:?} for prepare + apply: {verdict}");
    Ok(())
}

/// User + system CPU time of this process so far (Linux: /proc/self/stat, 10 ms steps),
/// printed beside wall time because a machine shared with builds inflates wall time.
fn cpu_time() -> Option<Duration> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_owned())
}

/// What the generator wrote.
#[derive(Debug, Default)]
struct Generated {
    files: usize,
    bytes: u64,
    named: usize,
    binary: usize,
}

/// A small deterministic generator (SplitMix64): the benchmark needs repeatable trees, not
/// statistical quality.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items[index]
    }
}

const WORDS: &[&str] = &[
    "machine",
    "node",
    "drain",
    "status",
    "reconcile",
    "request",
    "response",
    "error",
    "retry",
    "volume",
    "network",
    "subnet",
    "zone",
    "region",
    "image",
    "flavor",
    "secret",
    "class",
    "laws",
    "draws",
    "provisioning",
    "let",
    "fn",
    "pub",
    "return",
    "if",
    "else",
    "match",
    "{",
    "}",
    "(",
    ")",
    ";",
    "=",
    "->",
    "::",
    "//",
    "0",
    "42",
    "\"text\"",
    "Ok(())",
    "self",
];

/// Spellings of the current provider (SampleProvider, project old-org) as a provider repo
/// uses them.
const NAMED: &[&str] = &[
    "machine-controller-manager-provider-sample-provider",
    "github.com/old-org/machine-controller-manager-provider-sample-provider/pkg/sampleprovider",
    "ghcr.io/old-org/machine-controller-manager-provider-sample-provider:v1.2.3",
    "machine_controller_manager_provider_sample_provider::driver",
    "SampleProviderDriver",
    "newSampleProviderClient()",
    "SAMPLE_PROVIDER_TOKEN",
    "sample_provider::Config",
    "package sampleprovider",
    "app: sample-provider",
];

/// File size in bytes: mostly small, some medium, few large, very few big.
fn file_size(rng: &mut SplitMix) -> u64 {
    match rng.below(1000) {
        0..=649 => 100 + rng.below(1_900),
        650..=929 => 2_000 + rng.below(10_000),
        930..=994 => 12_000 + rng.below(36_000),
        _ => 48_000 + rng.below(208_000),
    }
}

fn text(rng: &mut SplitMix, size: u64, named: bool) -> String {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let mut out = String::with_capacity(size + 64);
    let mut line_len = 0;
    while out.len() < size {
        let word = if named && rng.below(200) == 0 {
            rng.pick(NAMED)
        } else {
            rng.pick(WORDS)
        };
        out.push_str(word);
        line_len += word.len() + 1;
        if line_len > 80 {
            out.push('\n');
            line_len = 0;
        } else {
            out.push(' ');
        }
    }
    if named && !NAMED.iter().any(|n| out.contains(n)) {
        out.push_str(rng.pick(NAMED));
        out.push('\n');
    }
    out
}

fn generate(root: &Path, args: &RenameBench) -> anyhow::Result<Generated> {
    let mut rng = SplitMix(args.seed);
    let mut generated = Generated::default();
    let write = |path: &Path, bytes: &[u8], generated: &mut Generated| -> anyhow::Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        generated.files += 1;
        generated.bytes += bytes.len() as u64;
        Ok(())
    };
    let manifest = "[package]\nname = \"machine-controller-manager-provider-sample-provider\"\n\
                    version = \"0.1.0\"\nedition = \"2024\"\n\n[package.metadata.mcm-provider]\n\
                    project = \"old-org\"\nprovider = \"SampleProvider\"\n\
                    image_repository = \"ghcr.io/old-org/machine-controller-manager-provider-sample-provider\"\n";
    write(
        &root.join("Cargo.toml"),
        manifest.as_bytes(),
        &mut generated,
    )?;
    write(&root.join(".gitignore"), b"/target/\n", &mut generated)?;
    // Build output is ignored by the walk: it is written but never read.
    for i in 0..50 {
        let path = root.join(format!("target/debug/deps/sample_provider-{i}.d"));
        fs::create_dir_all(path.parent().unwrap_or(root))?;
        fs::write(
            &path,
            "machine-controller-manager-provider-sample-provider\n",
        )?;
    }
    generated.named += 1;
    let layouts: &[(&str, &str)] = &[
        ("crates/driver-{d}/src", "rs"),
        ("crates/api-{d}/src", "rs"),
        ("go/pkg/part{d}", "go"),
        ("docs/section-{d}", "md"),
        ("kubernetes/overlay-{d}", "yaml"),
        ("hack/tool-{d}", "sh"),
    ];
    let progress_every = (args.files / 10).max(1);
    for i in 2..args.files {
        let (dir_pattern, ext) = layouts[i % layouts.len()];
        let dir = dir_pattern.replace("{d}", &(i / 60).to_string());
        // About one file in a hundred carries the provider in its own name or directory.
        let path = match rng.below(100) {
            0 if ext == "rs" => format!("{dir}/sample_provider/file{i}.{ext}"),
            1 => format!("{dir}/sample-provider-{i}.{ext}"),
            _ => format!("{dir}/file{i}.{ext}"),
        };
        let path = root.join(path);
        if rng.below(100) < 2 {
            let size = usize::try_from(file_size(&mut rng)).unwrap_or(0);
            let bytes: Vec<u8> = (0..size).map(|_| (rng.next() & 0xff) as u8).collect();
            let mut bytes = bytes;
            bytes.insert(0, 0);
            write(&path.with_extension("bin"), &bytes, &mut generated)?;
            generated.binary += 1;
        } else {
            let named = rng.below(100) < args.percent_named;
            let size = file_size(&mut rng);
            write(
                &path,
                text(&mut rng, size, named).as_bytes(),
                &mut generated,
            )?;
            if named {
                generated.named += 1;
            }
        }
        if i % progress_every == 0 {
            eprintln!("  generating: {i}/{} files", args.files);
        }
    }
    Ok(generated)
}
