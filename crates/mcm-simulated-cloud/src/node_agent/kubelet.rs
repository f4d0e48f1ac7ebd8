//! Kubelet emulation, the part drains need: a pod bound to a Node is only removed from the API
//! once its kubelet confirms it stopped (a delete with grace period 0). Without a kubelet, every
//! evicted pod would hang in Terminating and MCM's drain would time out. So for pods on this
//! cloud's Nodes that have a deletionTimestamp, the agent sends that final delete.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::reflector::{self, Store as NodeCache};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use crate::metrics::Metrics;

const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Watches bound pods and force-deletes terminating ones bound to a Node in `nodes`. Scans the
/// pod cache on every pod event and every half second, so a pod that started terminating before
/// its Node reached the Node cache is still finished.
pub async fn finalize_terminating_pods(
    client: Client,
    nodes: NodeCache<Node>,
    metrics: Arc<Metrics>,
) {
    let all_pods: Api<Pod> = Api::all(client.clone());
    // Only bound pods can be ours; the field selector keeps the watch small.
    let config = watcher::Config::default().fields("spec.nodeName!=");
    let (pods, writer) = reflector::store::<Pod>();
    let mut events = watcher(all_pods, config)
        .default_backoff()
        .reflect(writer)
        .boxed();
    // Pods already sent the final delete (a pod with other finalizers stays around); retried
    // after a while, not on every scan.
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "kubelet emulation: watching pods failed; retrying");
                    continue;
                }
                None => return,
            },
            _ = tick.tick() => {}
        }
        let our_nodes: BTreeSet<String> = nodes
            .state()
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let current = pods.state();
        sent.retain(|uid, at| {
            at.elapsed() < RETRY_AFTER
                && current
                    .iter()
                    .any(|p| p.metadata.uid.as_deref() == Some(uid.as_str()))
        });
        for pod in current {
            if pod.metadata.deletion_timestamp.is_none() {
                continue;
            }
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            if sent.contains_key(&uid) {
                continue;
            }
            let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()) else {
                continue;
            };
            if our_nodes.contains(node_name) {
                finalize(&client, &pod, node_name, &metrics).await;
                sent.insert(uid, Instant::now());
            }
        }
    }
}

async fn finalize(client: &Client, pod: &Pod, node_name: &str, metrics: &Metrics) {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            metrics.agent_action("finalize_pod", true);
            tracing::info!(pod = %format!("{namespace}/{name}"), node = %node_name, "kubelet emulation: pod stopped");
        }
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => {}
        Err(e) => {
            metrics.agent_action("finalize_pod", false);
            tracing::warn!(pod = %format!("{namespace}/{name}"), error = %e, "kubelet emulation: finalizing pod failed");
        }
    }
}
