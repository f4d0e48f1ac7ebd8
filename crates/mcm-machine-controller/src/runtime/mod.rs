//! The machine controller at run time: informer caches of both clusters, the seven
//! work queues of MCM, and the passes that drain them (contract 01 §7, 02 §1).
//!
//! [`Controller::start`] checks the clusters and fills the caches; [`Controller::run`]
//! runs `--concurrent-syncs` workers per queue until shutdown. `crate::app` wraps
//! this with flags, metrics, health endpoints and leader election.

pub mod cache;
pub mod clients;
pub mod effects;
pub mod events;
pub mod observer;
pub mod passes;
pub mod queue;
pub mod queue_effects;
pub mod state;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::Api;
use kube::runtime::watcher;
use mcm_api::Driver;
use mcm_api::v1alpha1::{Machine, MachineClass};

use cache::{Cache, new_cache, spawn_informer};
pub use clients::{Clusters, connect};
use queue::{Reconcile, run_workers};
use state::{Caches, Queues, Shared};
pub use state::{NoMetrics, RuntimeObserver};

use crate::config::ControllerConfig;
use crate::retry::Retry;

/// Why the controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The control cluster's `/healthz` did not answer 200 within 10 s.
    #[error(
        "the control cluster's API server is not healthy (GET /healthz for 10s): {0}; check --control-kubeconfig"
    )]
    ControlUnhealthy(String),
    /// The Machine CRD is not served.
    #[error(
        "the control cluster does not serve machine.sapcloud.io/v1alpha1 machines ({0}); apply MCM's CRDs (kubernetes/crds) first"
    )]
    CrdsMissing(String),
    /// The target cluster's `/version` failed.
    #[error(
        "the target cluster's API server did not answer GET /version: {0}; check --target-kubeconfig"
    )]
    TargetUnreachable(String),
}

/// A started machine controller: caches filled, workers not yet running.
pub struct Controller<D> {
    shared: Arc<Shared<D>>,
    informers: Vec<tokio::task::JoinHandle<()>>,
}

impl<D> std::fmt::Debug for Controller<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<D> Drop for Controller<D> {
    fn drop(&mut self) {
        for informer in &self.informers {
            informer.abort();
        }
    }
}

async fn preflight(clusters: &Clusters) -> Result<(), StartError> {
    let mut last = String::new();
    let mut healthy = false;
    for _ in 0..10 {
        let request = http::Request::get("/healthz").body(Vec::new());
        match request {
            Ok(request) => match clusters.control.request_text(request).await {
                Ok(_) => {
                    healthy = true;
                    break;
                }
                Err(error) => last = error.to_string(),
            },
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !healthy {
        return Err(StartError::ControlUnhealthy(last));
    }
    let resources = clusters
        .control
        .list_api_group_resources(mcm_api::v1alpha1::API_VERSION)
        .await
        .map_err(|e| StartError::CrdsMissing(e.to_string()))?;
    if !resources.resources.iter().any(|r| r.name == "machines") {
        return Err(StartError::CrdsMissing("no `machines` resource".to_owned()));
    }
    if let Some(target) = &clusters.target {
        let version = target
            .apiserver_version()
            .await
            .map_err(|e| StartError::TargetUnreachable(e.to_string()))?;
        tracing::info!(target_version = %version.git_version, "target cluster reachable");
    }
    Ok(())
}

impl<D: Driver> Controller<D> {
    /// Checks both clusters, starts the informers and waits until their caches are
    /// filled (contract 01 §7 step 7–8).
    pub async fn start(
        config: ControllerConfig,
        clusters: Clusters,
        driver: Arc<D>,
        observer: Arc<dyn RuntimeObserver>,
    ) -> Result<Controller<D>, StartError> {
        preflight(&clusters).await?;
        let namespace = config.namespace.clone();
        let (machines, machines_writer) = new_cache::<Machine>();
        let (classes, classes_writer) = new_cache::<MachineClass>();
        let (secrets, secrets_writer) = new_cache::<Secret>();
        let (nodes, nodes_writer) = if clusters.target.is_some() {
            let (cache, writer) = new_cache::<Node>();
            (cache, Some(writer))
        } else {
            (Cache::empty(), None)
        };
        let caches = Caches {
            machines,
            classes,
            secrets,
            nodes,
        };
        let queues = Queues::new(observer.clone());
        let control = clusters.control.clone();
        let target = clusters.target.clone();
        let shared = Arc::new(Shared::new(
            Arc::new(config),
            clusters,
            driver,
            caches,
            queues,
            observer,
        ));

        let mut informers = Vec::new();
        let s = shared.clone();
        informers.push(spawn_informer(
            "machines",
            machines_writer,
            Api::namespaced(control.clone(), &namespace),
            watcher::Config::default(),
            move |change| events::on_machine(&s, change),
        ));
        let s = shared.clone();
        informers.push(spawn_informer(
            "machineclasses",
            classes_writer,
            Api::namespaced(control.clone(), &namespace),
            watcher::Config::default(),
            move |change| events::on_class(&s, change),
        ));
        let s = shared.clone();
        informers.push(spawn_informer(
            "secrets",
            secrets_writer,
            Api::namespaced(control, &namespace),
            watcher::Config::default(),
            move |change| events::on_secret(&s, change),
        ));
        if let (Some(target), Some(writer)) = (target, nodes_writer) {
            let s = shared.clone();
            informers.push(spawn_informer(
                "nodes",
                writer,
                Api::all(target),
                watcher::Config::default(),
                move |change| events::on_node(&s, change),
            ));
        }
        let caches = &shared.caches;
        caches.machines.wait_synced().await;
        caches.classes.wait_synced().await;
        caches.secrets.wait_synced().await;
        caches.nodes.wait_synced().await;
        tracing::info!(
            machines = caches.machines.len(),
            classes = caches.classes.len(),
            nodes = caches.nodes.len(),
            "caches synced"
        );
        Ok(Controller { shared, informers })
    }

    /// The Machines in the cache (for the metrics collector).
    pub fn machines(&self) -> Vec<Arc<Machine>> {
        self.shared.caches.machines.list()
    }

    /// Whether the API-server safety check froze the controller.
    pub fn frozen(&self) -> bool {
        self.shared.is_frozen()
    }

    /// A cheap handle for reading machines and the freeze flag from elsewhere.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            machines: self.shared.caches.machines.clone(),
            shared_frozen: {
                let shared = self.shared.clone();
                Arc::new(move || shared.is_frozen())
            },
        }
    }

    /// Runs `workers` workers per queue until `shutdown` completes, then stops the
    /// queues and waits for the passes in flight.
    pub async fn run(self, workers: usize, shutdown: impl Future<Output = ()>) {
        let shared = self.shared.clone();
        let config = shared.config.clone();
        let has_target = shared.clusters.target.is_some();
        let mut runners = Vec::new();
        let mut spawn = |queue: queue::WorkQueue, reconcile: Reconcile, count: usize| {
            let config = config.clone();
            runners.push(tokio::spawn(run_workers(queue, count, config, reconcile)));
        };

        let s = shared.clone();
        spawn(
            shared.queues.machine.clone(),
            Arc::new(move |key| {
                let s = s.clone();
                Box::pin(async move { passes::machine_pass(&s, key).await })
            }),
            workers,
        );
        let s = shared.clone();
        spawn(
            shared.queues.termination.clone(),
            Arc::new(move |key| {
                let s = s.clone();
                Box::pin(async move { passes::termination_pass(&s, key).await })
            }),
            workers,
        );
        let s = shared.clone();
        spawn(
            shared.queues.class.clone(),
            Arc::new(move |key| {
                let s = s.clone();
                Box::pin(async move { passes::class_pass(&s, key).await })
            }),
            workers,
        );
        let s = shared.clone();
        spawn(
            shared.queues.secret.clone(),
            Arc::new(move |key| {
                let s = s.clone();
                Box::pin(async move {
                    let (retry, found) = passes::secret_pass(&s, key.clone()).await;
                    if found {
                        s.queues.secret.add_after(&key, passes::SECRET_RESYNC);
                    }
                    retry
                })
            }),
            workers,
        );
        let s = shared.clone();
        spawn(
            shared.queues.orphans.clone(),
            Arc::new(move |key| {
                let s = s.clone();
                Box::pin(async move {
                    let extra = passes::orphan_pass(&s).await;
                    s.queues
                        .orphans
                        .add_after(&key, s.config.safety_orphan_vms_period);
                    extra.unwrap_or(Retry::Never)
                })
            }),
            1,
        );
        if has_target {
            let s = shared.clone();
            spawn(
                shared.queues.node.clone(),
                Arc::new(move |key| {
                    let s = s.clone();
                    Box::pin(async move { passes::node_pass_run(&s, key).await })
                }),
                workers,
            );
            let s = shared.clone();
            spawn(
                shared.queues.apiserver.clone(),
                Arc::new(move |key| {
                    let s = s.clone();
                    Box::pin(async move {
                        match passes::apiserver_pass(&s).await {
                            Ok(next) => {
                                s.queues.apiserver.add_after(&key, next);
                                Retry::Never
                            }
                            Err(retry) => retry,
                        }
                    })
                }),
                1,
            );
            shared.queues.apiserver.add("");
        }
        shared.queues.orphans.add("");
        let sampler_queues = shared.queues.clone();
        let sampler = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                for queue in sampler_queues.all() {
                    queue.sample_unfinished();
                }
            }
        });

        shutdown.await;
        sampler.abort();
        tracing::info!("shutting down: finishing the passes in flight");
        for queue in shared.queues.all() {
            queue.shut_down();
        }
        for runner in runners {
            let _ = runner.await;
        }
    }
}

/// Read access to the controller's machines and freeze flag.
#[derive(Clone)]
pub struct Snapshot {
    machines: Cache<Machine>,
    shared_frozen: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

impl Snapshot {
    /// The Machines in the cache.
    pub fn machines(&self) -> Vec<Arc<Machine>> {
        self.machines.list()
    }

    /// Whether the controller is frozen.
    pub fn frozen(&self) -> bool {
        (self.shared_frozen)()
    }
}
