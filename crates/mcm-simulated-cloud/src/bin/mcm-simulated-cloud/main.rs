//! `mcm-simulated-cloud`: run the simulated cloud (`serve`) and talk to a running one (`status`,
//! `faults`, `node`, `delete`). Wiring only; the behaviour lives in the library.

mod admin;
mod serve;
mod status;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use mcm_simulated_cloud::CloudClient;

#[derive(Debug, Parser)]
#[command(
    name = "mcm-simulated-cloud",
    version,
    about = "A local cloud for machine-controller-manager providers: instance API, node agent, fault injection"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the cloud (API server, boot lifecycle, node agent with --target-kubeconfig).
    Serve(serve::ServeArgs),
    /// Print the instances of a running cloud as a table.
    Status(status::StatusArgs),
    /// Show, replace or clear the fault configuration of a running cloud.
    Faults(admin::FaultsArgs),
    /// Show or set the node health knobs of one instance.
    Node(admin::NodeArgs),
    /// Delete an instance behind MCM's back (a VM that vanished).
    Delete(admin::DeleteArgs),
}

/// How to reach a running cloud. Global, so the flags may follow a nested subcommand
/// (`faults set … --endpoint …`).
#[derive(Debug, Args)]
struct Connection {
    /// Endpoint printed by `serve`, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "SIMCLOUD_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// Token (the admin token for admin commands when the cloud has a separate one).
    #[arg(long, env = "SIMCLOUD_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// File holding the token.
    #[arg(long, env = "SIMCLOUD_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
}

impl Connection {
    fn client(&self) -> Result<CloudClient> {
        let endpoint = self
            .endpoint
            .as_deref()
            .context("pass --endpoint (or set SIMCLOUD_ENDPOINT), e.g. http://127.0.0.1:8080 as printed by serve")?;
        let token = read_token(self.token.as_deref(), self.token_file.as_deref(), "--token")?
            .context("pass --token or --token-file (or set SIMCLOUD_TOKEN)")?;
        CloudClient::new(endpoint, token).context("--endpoint")
    }
}

/// A token from a flag or a file; whitespace around it (a trailing newline) is dropped.
fn read_token(
    inline: Option<&str>,
    file: Option<&std::path::Path>,
    flag: &str,
) -> Result<Option<String>> {
    let token = match (inline, file) {
        (Some(t), None) => t.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?
            .trim()
            .to_owned(),
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => bail!("pass either {flag} or {flag}-file, not both"),
    };
    if token.is_empty() {
        bail!("the token given with {flag}/{flag}-file is empty");
    }
    Ok(Some(token))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Status(args) => status::run(args).await,
            Command::Faults(args) => admin::faults(args).await,
            Command::Node(args) => admin::node(args).await,
            Command::Delete(args) => admin::delete(args).await,
        }
    })
}
