//! One pass per queue: read the cache, run the flow or the decision, write, and say
//! when to come back. The machine and termination passes run the [`crate::flow`]
//! code with [`PassEffects`]; the class, secret, node and safety passes run theirs
//! with [`SharedEffects`].

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use mcm_api::Driver;
use mcm_api::v1alpha1::Machine;

use super::effects::{PassEffects, is_not_found};
use super::queue_effects::SharedEffects;
use super::state::Shared;
use crate::flow::{self, PassContext};
use crate::retry::Retry;

fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// A `machine` queue pass.
pub async fn machine_pass<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let (namespace, name) = split_key(&key);
    let machine = shared.caches.machines.get(namespace, name);
    let ctx = PassContext {
        config: &shared.config,
        now: now(),
        frozen: shared.is_frozen(),
        creation_in_progress: false,
    };
    let mut effects = PassEffects::new(shared, &key, &shared.queues.machine, machine.clone());
    let retry = flow::reconcile_machine(&mut effects, &ctx, machine.map(|m| (*m).clone())).await;
    if effects.creation_started() {
        shared.set_creating(&key, false);
    }
    retry
}

/// A `machinetermination` queue pass.
pub async fn termination_pass<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let (namespace, name) = split_key(&key);
    let machine = shared.caches.machines.get(namespace, name);
    let ctx = PassContext {
        config: &shared.config,
        now: now(),
        frozen: shared.is_frozen(),
        creation_in_progress: shared.is_creating(&key),
    };
    let mut effects = PassEffects::new(shared, &key, &shared.queues.termination, machine.clone());
    flow::reconcile_termination(&mut effects, &ctx, machine.map(|m| (*m).clone())).await
}

/// A `machineclass` queue pass (§6.1, F1–F4, F9).
pub async fn class_pass<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    let (_, name) = split_key(&key);
    flow::finalizers::reconcile_class(&mut SharedEffects::new(shared), name).await
}

/// The secret queue's periodic requeue.
pub const SECRET_RESYNC: Duration = Duration::from_secs(10 * 60);

/// A `secret` queue pass (§6.2, F5–F8). Returns the retry; a found Secret always
/// comes back after 10 minutes (the caller adds that).
pub async fn secret_pass<D: Driver>(shared: &Shared<D>, key: String) -> (Retry, bool) {
    let namespace = shared.config.namespace.clone();
    let pass =
        flow::finalizers::reconcile_secret(&mut SharedEffects::new(shared), &namespace, &key).await;
    (pass.retry, pass.resync)
}

/// A `node` queue pass (§4.7, N1, N2, N9).
pub async fn node_pass_run<D: Driver>(shared: &Shared<D>, key: String) -> Retry {
    if shared.clusters.target.is_none() {
        return Retry::Never;
    }
    flow::nodes::reconcile_node(&mut SharedEffects::new(shared), &key).await
}

/// A `machinesafetyorphanvms` pass (§7.1, S1–S8, S16–S18): returns the extra retry
/// if a class or node step failed (the periodic requeue is added by the caller).
pub async fn orphan_pass<D: Driver>(shared: &Shared<D>) -> Option<Retry> {
    let namespace = shared.config.namespace.clone();
    let timeout =
        SignedDuration::try_from(shared.config.creation_timeout).unwrap_or(SignedDuration::MAX);
    flow::safety::orphan_sweep(&mut SharedEffects::new(shared), &namespace, timeout, now()).await
}

/// Whether both clusters answer: a GET of a non-existent Machine and Node succeeds or
/// says not-found. Each GET is bounded by the status-check timeout (at least 1 s):
/// MCM sets no timeout, so a hung (not refusing) API server would block its check
/// forever and never freeze the controller.
async fn reachable<D: Driver>(shared: &Shared<D>) -> bool {
    let limit = shared
        .config
        .safety_apiserver_statuscheck_timeout
        .max(Duration::from_secs(1));
    let answered =
        |result: Result<Result<(), kube::Error>, tokio::time::error::Elapsed>| match result {
            Ok(Ok(())) => true,
            Ok(Err(error)) => is_not_found(&error),
            Err(_) => false,
        };
    let machines: Api<Machine> =
        Api::namespaced(shared.clusters.control.clone(), &shared.config.namespace);
    let control = async {
        answered(
            tokio::time::timeout(limit, async {
                machines.get("dummy_name").await.map(|_| ())
            })
            .await,
        )
    };
    let target = async {
        match &shared.clusters.target {
            None => true,
            Some(target) => {
                let nodes = Api::<Node>::all(target.clone());
                answered(
                    tokio::time::timeout(limit, async {
                        nodes.get("dummy_name").await.map(|_| ())
                    })
                    .await,
                )
            }
        }
    };
    // Both probes at once: a hung server costs one timeout, not two.
    let (control_ok, target_ok) = futures::join!(control, target);
    control_ok && target_ok
}

/// A `machinesafetyapiserver` pass (§7.2, S9–S15): returns the next check's delay,
/// or the retry when an unfreeze failed (MCM then relies on the rate-limited retry).
pub async fn apiserver_pass<D: Driver>(shared: &Shared<D>) -> Result<Duration, Retry> {
    // The probe's start is the moment the servers were (un)reachable: a hung server
    // makes the probe itself last the status-check timeout, which must not delay the
    // freeze by that much again.
    let probed_at = now();
    let probe_started = std::time::Instant::now();
    let up = reachable(shared).await;
    tracing::debug!(reachable = up, took = ?probe_started.elapsed(), "API-server reachability check");
    let timeout = SignedDuration::try_from(shared.config.safety_apiserver_statuscheck_timeout)
        .unwrap_or(SignedDuration::MAX);
    let next =
        flow::safety::api_server_check(&mut SharedEffects::new(shared), up, timeout, probed_at)
            .await?;
    Ok(next.delay(&shared.config))
}
