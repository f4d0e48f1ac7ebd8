//! The node agent: plays the kubelets of all running instances against the target cluster.
//! It registers a Node per running instance, keeps its conditions fresh, applies the health
//! knobs, deletes Nodes of deleted instances, and (kubelet emulation) finishes the deletion of
//! pods on its Nodes so drains complete.
//!
//! Each pass reads the instance records and a watch-fed cache of this cloud's Nodes, asks
//! [`desired::plan`] what to do, and executes those calls. Passes run every second and whenever
//! the state changes.

pub mod desired;
mod kubelet;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{self, Store as NodeCache};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::Store;
pub use desired::{
    AgentSettings, CLOUD_ID_LABEL, INSTANCE_ID_ANNOTATION, MANAGED_TAINTS_ANNOTATION, NodeAction,
};

/// How the agent reaches the target cluster.
#[derive(Clone)]
pub enum TargetCluster {
    /// A kubeconfig file (its current context).
    Kubeconfig(PathBuf),
    /// A ready client (tests pass the harness's client).
    Client(Client),
}

impl std::fmt::Debug for TargetCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetCluster::Kubeconfig(p) => f.debug_tuple("Kubeconfig").field(p).finish(),
            TargetCluster::Client(_) => f.write_str("Client(..)"),
        }
    }
}

/// Failure to reach the target cluster at start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The kubeconfig could not be read or used.
    #[error(
        "target kubeconfig {path}: {message}; pass a readable kubeconfig of the target cluster (--target-kubeconfig)"
    )]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl TargetCluster {
    /// Builds a client.
    pub async fn client(&self) -> Result<Client, AgentError> {
        match self {
            TargetCluster::Client(c) => Ok(c.clone()),
            TargetCluster::Kubeconfig(path) => {
                let err = |message: String| AgentError::Kubeconfig {
                    path: path.clone(),
                    message,
                };
                let kubeconfig =
                    kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
                let config = kube::Config::from_custom_kubeconfig(
                    kubeconfig,
                    &kube::config::KubeConfigOptions::default(),
                )
                .await
                .map_err(|e| err(e.to_string()))?;
                Client::try_from(config).map_err(|e| err(e.to_string()))
            }
        }
    }
}

/// Agent settings beyond Node shape.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Node shape and heartbeat.
    pub settings: AgentSettings,
    /// Force-delete terminating pods bound to our Nodes (there is no kubelet to do it).
    pub kubelet_emulation: bool,
    /// How often a pass runs without a state change.
    pub tick: Duration,
}

/// Runs until `shutdown` turns true.
pub async fn run(
    client: Client,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    options: AgentOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let selector = format!("{CLOUD_ID_LABEL}={}", options.settings.cloud_id);
    let (cache, writer) = reflector::store::<Node>();
    let node_watch = watcher(nodes.clone(), watcher::Config::default().labels(&selector))
        .default_backoff()
        .reflect(writer)
        .for_each(|event| async move {
            if let Err(e) = event {
                tracing::warn!(error = %e, "node agent: watching Nodes failed; retrying");
            }
        });
    let node_watch = tokio::spawn(node_watch);
    let pods = options.kubelet_emulation.then(|| {
        tokio::spawn(kubelet::finalize_terminating_pods(
            client.clone(),
            cache.clone(),
            metrics.clone(),
        ))
    });

    tokio::select! {
        ready = cache.wait_until_ready() => {
            if ready.is_err() {
                tracing::error!("node agent: Node cache closed before its first list");
            }
        }
        _ = shutdown.wait_for(|s| *s) => {}
    }
    tracing::info!(cloud_id = %options.settings.cloud_id, "node agent: watching this cloud's Nodes");

    let mut changes = store.subscribe();
    while !*shutdown.borrow() {
        pass(&nodes, &cache, &store, &metrics, &options.settings).await;
        tokio::select! {
            _ = tokio::time::sleep(options.tick) => {}
            _ = changes.changed() => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    }
    node_watch.abort();
    if let Some(p) = pods {
        p.abort();
    }
}

async fn pass(
    nodes: &Api<Node>,
    cache: &NodeCache<Node>,
    store: &Store,
    metrics: &Metrics,
    settings: &AgentSettings,
) {
    let records = store.records().await;
    let seen: Vec<Node> = cache.state().iter().map(|n| (**n).clone()).collect();
    let actions = desired::plan(&records, &seen, Timestamp::now(), settings);
    futures::stream::iter(actions)
        .for_each_concurrent(8, |action| async move {
            let kind = action.kind();
            let result = execute(nodes, store, action).await;
            metrics.agent_action(kind, result.is_ok());
            if let Err(message) = result {
                tracing::warn!(action = kind, "node agent: {message}");
            }
        })
        .await;
}

fn is_status(e: &kube::Error, check: impl Fn(&kube::core::Status) -> bool) -> bool {
    matches!(e, kube::Error::Api(s) if check(s))
}

async fn execute(nodes: &Api<Node>, store: &Store, action: NodeAction) -> Result<(), String> {
    match action {
        NodeAction::Register { instance_id, node } => {
            let name = node.metadata.name.clone().unwrap_or_default();
            match nodes.create(&PostParams::default(), &node).await {
                Ok(_) => {}
                // A Node we created an instant ago and the cache has not seen yet; the next pass
                // adopts it or waits for a foreign one to go.
                Err(e) if is_status(&e, |s| s.is_already_exists()) => return Ok(()),
                Err(e) => {
                    return Err(format!(
                        "registering Node {name} of instance {instance_id}: {e}"
                    ));
                }
            }
            // The create may drop status; post it like a kubelet's first status update.
            let status = serde_json::json!({ "status": node.status });
            nodes
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .map_err(|e| format!("posting the first status of Node {name}: {e}"))?;
            store
                .mark_registered(&instance_id, Timestamp::now())
                .await
                .map_err(|e| format!("recording the registration of Node {name}: {e}"))?;
            tracing::info!(node = %name, instance = %instance_id, "node agent: registered Node");
            Ok(())
        }
        NodeAction::Adopt { instance_id } => store
            .mark_registered(&instance_id, Timestamp::now())
            .await
            .map_err(|e| format!("recording the Node of instance {instance_id}: {e}")),
        NodeAction::PatchStatus { node_name, patch } => nodes
            .patch_status(
                &node_name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
            .map(|_| ())
            .or_else(|e| {
                if is_status(&e, |s| s.is_not_found()) {
                    Ok(())
                } else {
                    Err(format!("updating the status of Node {node_name}: {e}"))
                }
            }),
        NodeAction::PatchMetadata { node_name, patch } => nodes
            .patch(&node_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .or_else(|e| {
                // 409: someone else changed the Node; the next pass recomputes from the new one.
                if is_status(&e, |s| s.is_not_found() || s.is_conflict()) {
                    Ok(())
                } else {
                    Err(format!("updating labels/taints of Node {node_name}: {e}"))
                }
            }),
        NodeAction::Delete { node_name, uid } => {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match nodes.delete(&node_name, &params).await {
                Ok(_) => {
                    tracing::info!(node = %node_name, "node agent: deleted Node of a deleted instance");
                    Ok(())
                }
                Err(e) if is_status(&e, |s| s.is_not_found() || s.is_conflict()) => Ok(()),
                Err(e) => Err(format!("deleting Node {node_name}: {e}")),
            }
        }
    }
}
