//! `status`: the instances of a running cloud as a table (or JSON).

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use jiff::Timestamp;
use mcm_simulated_cloud::{
    AdminInstance, CloudError, InstanceFilter, InstanceStatus, NodeAgentState, NodeHealth,
    ReadyMode,
};

use crate::Connection;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    connection: Connection,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    output: Output,
}

fn age(since: Timestamp, now: Timestamp) -> String {
    let secs = now.duration_since(since).as_secs().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn node_column(i: &AdminInstance, now: Timestamp) -> String {
    if i.instance.status == InstanceStatus::Pending {
        return "-".to_owned();
    }
    if i.node.registered_at.is_none() {
        return "registering".to_owned();
    }
    let h = &i.node.health;
    let mut text = match h.ready_at(i.node.health_since, now) {
        ReadyMode::True => "Ready".to_owned(),
        ReadyMode::False => "NotReady".to_owned(),
        ReadyMode::Unknown => "Unknown".to_owned(),
    };
    if h.flap_period.is_some() {
        text.push_str(",flapping");
    }
    for c in &h.conditions {
        text.push_str(&format!(",{}={}", c.type_, c.status));
    }
    if !h.heartbeats {
        text.push_str(",no-heartbeats");
    }
    text
}

/// Renders rows as left-aligned columns.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub async fn run(args: StatusArgs) -> Result<()> {
    let client = args.connection.client()?;
    // The admin view adds node state; with a separate admin token the cloud token can still
    // list the instances, just without it.
    let (instances, node_state_known) = match client.admin_instances().await {
        Ok(all) => (all, true),
        Err(CloudError::Unauthorized { .. }) => {
            let plain = client
                .list_instances(&InstanceFilter::all())
                .await
                .context("reading the instances")?;
            let rows = plain
                .into_iter()
                .map(|instance| AdminInstance {
                    node: NodeAgentState {
                        health: NodeHealth::default(),
                        health_since: instance.created_at,
                        registered_at: None,
                        reregister_requested: false,
                    },
                    instance,
                })
                .collect();
            (rows, false)
        }
        Err(e) => return Err(e).context("reading the instances"),
    };
    match args.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&instances)?);
        }
        Output::Table => {
            let now = Timestamp::now();
            let mut rows = vec![
                ["ID", "NAME", "ZONE", "TYPE", "STATUS", "IP", "NODE", "AGE"]
                    .map(String::from)
                    .to_vec(),
            ];
            for i in &instances {
                rows.push(vec![
                    i.instance.id.clone(),
                    i.instance.name.clone(),
                    i.instance.zone.clone(),
                    i.instance.machine_type.clone(),
                    i.instance.status.to_string(),
                    i.instance.private_ip.to_string(),
                    if node_state_known {
                        node_column(i, now)
                    } else {
                        "?".to_owned()
                    },
                    age(i.instance.created_at, now),
                ]);
            }
            print!("{}", table(&rows));
            println!("{} instance(s) at {}", instances.len(), client.endpoint());
            if !node_state_known {
                println!("(NODE needs the admin token: pass it with --token to see node state)");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["ID".to_string(), "NAME".to_string()],
            vec!["i-1".to_string(), "a".to_string()],
            vec!["i-12345".to_string(), "bb".to_string()],
        ];
        assert_eq!(table(&rows), "ID       NAME\ni-1      a\ni-12345  bb\n");
    }

    #[test]
    fn ages_pick_a_readable_unit() {
        let t: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let plus = |s| t + jiff::SignedDuration::from_secs(s);
        assert_eq!(age(t, plus(5)), "5s");
        assert_eq!(age(t, plus(600)), "10m");
        assert_eq!(age(t, plus(3 * 3600)), "3h");
        assert_eq!(age(t, plus(3 * 86_400)), "3d");
    }
}
