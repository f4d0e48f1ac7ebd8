//! `serve`: flags → `CloudConfig`, start, announce the address, stop on SIGTERM/SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use mcm_simulated_cloud::{
    CloudConfig, FaultConfig, SimulatedCloud, StateLocation, TargetCluster, ZonePolicy,
    duration_text,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn duration(text: &str) -> Result<Duration, String> {
    duration_text::parse(text)
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (the chosen one is printed).
    #[arg(long, env = "SIMCLOUD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// State file (created if missing; written crash-safely on every change).
    #[arg(long, env = "SIMCLOUD_STATE", required_unless_present = "in_memory")]
    state: Option<PathBuf>,
    /// Keep state in memory only (lost on exit).
    #[arg(long, conflicts_with = "state")]
    in_memory: bool,
    /// Token clients must present (the provider Secret's token).
    #[arg(
        long,
        env = "SIMCLOUD_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// File holding the token.
    #[arg(long, env = "SIMCLOUD_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Separate token for /admin (default: the token).
    #[arg(
        long,
        env = "SIMCLOUD_ADMIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "admin_token_file"
    )]
    admin_token: Option<String>,
    /// File holding the admin token.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Kubeconfig of the cluster where the node agent registers Nodes; without it no Nodes.
    #[arg(long, env = "SIMCLOUD_TARGET_KUBECONFIG")]
    target_kubeconfig: Option<PathBuf>,
    /// How long an instance stays pending before it runs.
    #[arg(long, default_value = "2s", value_parser = duration)]
    boot_delay: Duration,
    /// Seed of fault decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fault configuration: a JSON document or a file holding one.
    #[arg(long)]
    faults: Option<String>,
    /// Allowed zones, comma-separated (default: any DNS label).
    #[arg(long, value_delimiter = ',')]
    zones: Vec<String>,
    /// How often Nodes' Ready heartbeat is refreshed.
    #[arg(long, default_value = "10s", value_parser = duration)]
    heartbeat_interval: Duration,
    /// Node health knobs every new instance starts with: a JSON document or a file holding one,
    /// e.g. '{"conditions":[{"type":"DiskPressure","status":"True"}]}'.
    #[arg(long)]
    default_node_health: Option<String>,
    /// Wait this long after an instance runs before registering its Node (overrides the
    /// registrationDelay of --default-node-health).
    #[arg(long, value_parser = duration)]
    registration_delay: Option<Duration>,
    /// Force-delete terminating pods on this cloud's Nodes (there is no kubelet), so drains finish.
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    kubelet_emulation: bool,
    /// Write the endpoint URL to this file once listening (for parent processes).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Log format on stderr (level via RUST_LOG, default info).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_faults(arg: &str) -> Result<FaultConfig> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg)
            .with_context(|| format!("--faults: reading the fault file {arg}"))?
    };
    FaultConfig::from_json(&text).context("--faults")
}

fn json_or_file<T: serde::de::DeserializeOwned>(arg: &str, flag: &str) -> Result<T> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("{flag}: reading {arg}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{flag}: not valid JSON for this flag"))
}

fn write_ready_file(path: &Path, url: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{url}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("--ready-file: writing {}", path.display()))
}

async fn shutdown_signal() -> Result<&'static str> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").context("waiting for SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

pub async fn run(args: ServeArgs) -> Result<()> {
    init_logs(args.log_format);
    let token = crate::read_token(args.token.as_deref(), args.token_file.as_deref(), "--token")?
        .context(
            "pass --token or --token-file (or set SIMCLOUD_TOKEN): clients authenticate with it",
        )?;
    let admin_token = crate::read_token(
        args.admin_token.as_deref(),
        args.admin_token_file.as_deref(),
        "--admin-token",
    )?;
    let state = match (&args.state, args.in_memory) {
        (Some(path), false) => StateLocation::File(path.clone()),
        (None, true) => StateLocation::InMemory,
        _ => bail!("pass either --state FILE or --in-memory"),
    };
    let mut config = CloudConfig::new(token, state);
    config.listen = args.listen;
    config.admin_token = admin_token;
    config.boot_delay = args.boot_delay;
    config.seed = args.seed;
    if let Some(faults) = &args.faults {
        config.faults = load_faults(faults)?;
    }
    if !args.zones.is_empty() {
        config.zones = ZonePolicy::Only(args.zones.clone());
    }
    config.heartbeat_interval = args.heartbeat_interval;
    if let Some(health) = &args.default_node_health {
        config.node_health = json_or_file(health, "--default-node-health")?;
    }
    if let Some(delay) = args.registration_delay {
        config.node_health.registration_delay = (!delay.is_zero()).then_some(delay);
    }
    config.kubelet_emulation = args.kubelet_emulation;
    config.target = args
        .target_kubeconfig
        .clone()
        .map(TargetCluster::Kubeconfig);

    let cloud = SimulatedCloud::start(config)
        .await
        .context("starting the simulated cloud")?;
    // The ready file first, then the first stdout line: a parent that saw either can use both.
    if let Some(path) = &args.ready_file {
        write_ready_file(path, cloud.url())?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", cloud.url()).context("writing to stdout")?;
        out.flush().context("flushing stdout")?;
    }
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down");
    cloud
        .shutdown()
        .await
        .context("stopping the simulated cloud")?;
    Ok(())
}
