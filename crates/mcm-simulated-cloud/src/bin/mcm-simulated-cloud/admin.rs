//! `faults`, `node` and `delete`: admin calls against a running cloud.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mcm_simulated_cloud::{
    CloudClient, ConditionOverride, FaultConfig, NodeHealth, ReadyMode, TaintSpec, duration_text,
};

use crate::Connection;

#[derive(Debug, Args)]
pub struct FaultsArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: FaultsAction,
}

#[derive(Debug, Subcommand)]
enum FaultsAction {
    /// Print the current fault configuration.
    Get,
    /// Replace it: a JSON document or a file holding one.
    Set {
        /// JSON or path.
        config: String,
    },
    /// Remove all faults.
    Clear,
}

pub async fn faults(args: FaultsArgs) -> Result<()> {
    let client = args.connection.client()?;
    match args.action {
        FaultsAction::Get => {
            let config = client.get_faults().await?;
            println!("{}", serde_json::to_string_pretty(&config)?);
        }
        FaultsAction::Set { config } => {
            let text = if config.trim_start().starts_with('{') {
                config
            } else {
                std::fs::read_to_string(&config)
                    .with_context(|| format!("reading the fault file {config}"))?
            };
            let parsed = FaultConfig::from_json(&text)?;
            let applied = client.set_faults(&parsed).await?;
            println!("{}", serde_json::to_string_pretty(&applied)?);
        }
        FaultsAction::Clear => {
            client.clear_faults().await?;
            println!("faults cleared");
        }
    }
    Ok(())
}

fn duration(text: &str) -> Result<Duration, String> {
    duration_text::parse(text)
}

fn ready_mode(text: &str) -> Result<ReadyMode, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Ok(ReadyMode::True),
        "false" => Ok(ReadyMode::False),
        "unknown" => Ok(ReadyMode::Unknown),
        _ => Err(format!("{text:?} is not True, False or Unknown")),
    }
}

fn condition(text: &str) -> Result<ConditionOverride, String> {
    let (type_, status) = text.split_once('=').ok_or_else(|| {
        format!("{text:?}: write a condition as Type=Status, e.g. DiskPressure=True")
    })?;
    Ok(ConditionOverride {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: None,
        message: None,
    })
}

fn taint(text: &str) -> Result<TaintSpec, String> {
    let (kv, effect) = text.rsplit_once(':').ok_or_else(|| {
        format!("{text:?}: write a taint as key[=value]:Effect, e.g. example.com/x=y:NoSchedule")
    })?;
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (kv, None),
    };
    Ok(TaintSpec {
        key: key.to_owned(),
        value,
        effect: effect.to_owned(),
    })
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(flatten)]
    connection: Connection,
    /// Instance ID or name.
    #[arg(long)]
    instance: String,
    /// Only print the current knobs and registration state.
    #[arg(long)]
    show: bool,
    /// Register the Node again (after someone deleted it), like a kubelet restart.
    #[arg(long, conflicts_with = "show")]
    reregister: bool,
    /// Ready condition status: True, False or Unknown.
    #[arg(long, value_parser = ready_mode)]
    ready: Option<ReadyMode>,
    /// Alternate Ready True/False with this period.
    #[arg(long, value_parser = duration)]
    flap: Option<Duration>,
    /// Extra condition Type=Status (repeatable), e.g. DiskPressure=True.
    #[arg(long = "condition", value_parser = condition)]
    conditions: Vec<ConditionOverride>,
    /// Taint key[=value]:Effect kept on the Node (repeatable).
    #[arg(long = "taint", value_parser = taint)]
    taints: Vec<TaintSpec>,
    /// Delay the Node's registration after the instance runs.
    #[arg(long, value_parser = duration)]
    registration_delay: Option<Duration>,
    /// Stop refreshing heartbeats (a hung kubelet).
    #[arg(long)]
    no_heartbeats: bool,
}

async fn resolve_instance(client: &CloudClient, wanted: &str) -> Result<String> {
    let all = client.admin_instances().await?;
    let found: Vec<_> = all
        .iter()
        .filter(|i| i.instance.id == wanted || i.instance.name == wanted)
        .collect();
    match found.as_slice() {
        [one] => Ok(one.instance.id.clone()),
        [] => bail!("no instance with ID or name {wanted:?}; `status` lists them"),
        _ => bail!("several instances match {wanted:?}; pass the ID"),
    }
}

pub async fn node(args: NodeArgs) -> Result<()> {
    let client = args.connection.client()?;
    let id = resolve_instance(&client, &args.instance).await?;
    let state = if args.show {
        client.get_node_health(&id).await?
    } else if args.reregister {
        client.reregister_node(&id).await?
    } else {
        // The flags describe the whole desired health; unspecified knobs return to normal.
        let health = NodeHealth {
            ready: args.ready.unwrap_or_default(),
            flap_period: args.flap,
            conditions: args.conditions,
            taints: args.taints,
            registration_delay: args.registration_delay,
            heartbeats: !args.no_heartbeats,
        };
        client.set_node_health(&id, &health).await?
    };
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(())
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    connection: Connection,
    /// Instance ID.
    #[arg(long)]
    instance: String,
}

pub async fn delete(args: DeleteArgs) -> Result<()> {
    let client = args.connection.client()?;
    let gone = client.delete_instance(&args.instance).await?;
    println!("deleted instance {} ({})", gone.id, gone.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_knob_flags() {
        assert_eq!(ready_mode("false").unwrap(), ReadyMode::False);
        assert!(ready_mode("maybe").is_err());
        let c = condition("DiskPressure=True").unwrap();
        assert_eq!(
            (c.type_.as_str(), c.status.as_str()),
            ("DiskPressure", "True")
        );
        let t = taint("example.com/x=y:NoSchedule").unwrap();
        assert_eq!(t.key, "example.com/x");
        assert_eq!(t.value.as_deref(), Some("y"));
        assert_eq!(t.effect, "NoSchedule");
        assert!(taint("nokey").is_err());
    }
}
