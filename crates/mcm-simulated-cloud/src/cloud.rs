//! Starting and stopping a whole simulated cloud in-process: state, API server, boot lifecycle
//! and (with a target cluster) the node agent. The binary's `serve` and tests use the same path.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::MachineType;
use crate::catalog::default_machine_types;
use crate::client::{CloudClient, CloudError};
use crate::faults::{FaultConfig, FaultConfigError, FaultInjector};
use crate::metrics::Metrics;
use crate::node_agent::{self, AgentOptions, AgentSettings, TargetCluster};
use crate::node_health::{AdminInstance, NodeHealth};
use crate::server::{self, App, ServerSettings};
use crate::store::{StateLocation, Store};
use crate::validate::ZonePolicy;
use crate::{Error, lifecycle};

/// How long [`RunningCloud::shutdown`] waits for background tasks before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything a cloud is started with. Build with [`CloudConfig::new`] and adjust the fields.
#[derive(Clone)]
pub struct CloudConfig {
    /// Address to listen on; port 0 picks a free port (see [`RunningCloud::url`]).
    pub listen: SocketAddr,
    /// Where the state lives.
    pub state: StateLocation,
    /// The token clients must present (what the provider Secret carries).
    pub token: String,
    /// A separate token for `/admin`; `None` means the cloud token works there too.
    pub admin_token: Option<String>,
    /// How long an instance stays pending.
    pub boot_delay: Duration,
    /// Default seed of fault decisions (a fault configuration may set its own).
    pub seed: u64,
    /// Faults from the start.
    pub faults: FaultConfig,
    /// Where the node agent registers Nodes; `None` runs no agent.
    pub target: Option<TargetCluster>,
    /// How often Ready heartbeats are refreshed (a kubelet's default is 10 s).
    pub heartbeat_interval: Duration,
    /// Node-health knobs every new instance starts with (e.g. a registration delay).
    pub node_health: NodeHealth,
    /// Force-delete terminating pods bound to this cloud's Nodes, so drains finish.
    pub kubelet_emulation: bool,
    /// Machine-type catalogue.
    pub machine_types: Vec<MachineType>,
    /// Allowed zones.
    pub zones: ZonePolicy,
    /// Reported as the Nodes' kubelet version.
    pub kubelet_version: String,
    /// How often the node agent checks its Nodes without a state change.
    pub agent_tick: Duration,
}

impl fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudConfig")
            .field("listen", &self.listen)
            .field("state", &self.state)
            .field("token", &"<redacted>")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("boot_delay", &self.boot_delay)
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("target", &self.target)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("node_health", &self.node_health)
            .field("kubelet_emulation", &self.kubelet_emulation)
            .field("machine_types", &self.machine_types)
            .field("zones", &self.zones)
            .field("kubelet_version", &self.kubelet_version)
            .field("agent_tick", &self.agent_tick)
            .finish()
    }
}

impl CloudConfig {
    /// Defaults: loopback with a free port, 2 s boot delay, seed 0, no faults, no target cluster,
    /// 10 s heartbeats, kubelet emulation on, the default catalogue, any zone.
    pub fn new(token: impl Into<String>, state: StateLocation) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state,
            token: token.into(),
            admin_token: None,
            boot_delay: Duration::from_secs(2),
            seed: 0,
            faults: FaultConfig::default(),
            target: None,
            heartbeat_interval: Duration::from_secs(10),
            node_health: NodeHealth::default(),
            kubelet_emulation: true,
            machine_types: default_machine_types(),
            zones: ZonePolicy::AnyDnsLabel,
            kubelet_version: "v1.33.0".to_owned(),
            agent_tick: Duration::from_secs(1),
        }
    }

    /// [`CloudConfig::new`] with memory-only state.
    pub fn in_memory(token: impl Into<String>) -> Self {
        Self::new(token, StateLocation::InMemory)
    }

    /// Registers Nodes in this cluster.
    pub fn with_target(mut self, target: TargetCluster) -> Self {
        self.target = Some(target);
        self
    }

    fn validate(&self) -> Result<(), Error> {
        let config_err = |field: &str, message: &str| Error::Config {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        if self.token.trim().is_empty() || self.token.chars().any(char::is_whitespace) {
            return Err(config_err(
                "token",
                "the token must be non-empty and contain no whitespace (pass --token or --token-file)",
            ));
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|t| t.trim().is_empty() || t.chars().any(char::is_whitespace))
        {
            return Err(config_err(
                "admin_token",
                "the admin token must be non-empty and contain no whitespace, or be left unset",
            ));
        }
        if self.machine_types.is_empty() {
            return Err(config_err(
                "machine_types",
                "the catalogue is empty; leave the default or list at least one machine type",
            ));
        }
        if self.heartbeat_interval < Duration::from_millis(100) {
            return Err(config_err(
                "heartbeat_interval",
                "use at least 100ms (a kubelet uses 10s)",
            ));
        }
        if self.agent_tick < Duration::from_millis(50) {
            return Err(config_err("agent_tick", "use at least 50ms"));
        }
        self.node_health.validate().map_err(|e| Error::Config {
            field: format!("node_health.{}", e.field),
            message: e.message,
        })?;
        self.faults.validate()?;
        Ok(())
    }
}

/// Entry point: `SimulatedCloud::start(config)`.
#[derive(Debug)]
pub struct SimulatedCloud;

impl SimulatedCloud {
    /// Opens the state, binds the listener, starts the API, the boot lifecycle and (with a
    /// target) the node agent. Returns once the API accepts connections.
    pub async fn start(config: CloudConfig) -> Result<RunningCloud, Error> {
        config.validate()?;
        let store = Store::open(&config.state).await?;
        let cloud_id = store.cloud_id().await;
        let metrics = Arc::new(Metrics::new());
        let faults = Arc::new(FaultInjector::new(config.faults.clone(), config.seed));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);

        let agent_client = match &config.target {
            Some(target) => Some(target.client().await?),
            None => None,
        };

        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;

        let app = App {
            store: store.clone(),
            faults: faults.clone(),
            metrics: metrics.clone(),
            settings: Arc::new(ServerSettings {
                token: config.token.clone(),
                admin_token: config.admin_token.clone(),
                machine_types: config.machine_types.clone(),
                zones: config.zones.clone(),
                boot_delay: config.boot_delay,
                node_health: config.node_health.clone(),
            }),
            shutdown: shutdown_rx.clone(),
        };
        let router = server::router(app);
        let mut server_shutdown = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = server_shutdown.wait_for(|s| *s).await;
                })
                .await
        });

        let mut tasks = vec![tokio::spawn(lifecycle::run(
            store.clone(),
            metrics.clone(),
            shutdown_rx.clone(),
        ))];
        if let Some(client) = agent_client {
            tasks.push(tokio::spawn(node_agent::run(
                client,
                store.clone(),
                metrics.clone(),
                AgentOptions {
                    settings: AgentSettings {
                        cloud_id: cloud_id.clone(),
                        heartbeat_interval: config.heartbeat_interval,
                        machine_types: config.machine_types.clone(),
                        kubelet_version: config.kubelet_version.clone(),
                    },
                    kubelet_emulation: config.kubelet_emulation,
                    tick: config.agent_tick,
                },
                shutdown_rx.clone(),
            )));
        }
        tracing::info!(
            %addr,
            cloud_id = %cloud_id,
            state = %store.path().map_or("<memory>".to_owned(), |p| p.display().to_string()),
            node_agent = config.target.is_some(),
            "simulated cloud started"
        );
        Ok(RunningCloud {
            addr,
            url: format!("http://{addr}"),
            cloud_id,
            token: config.token,
            admin_token: config.admin_token,
            store,
            faults,
            shutdown: shutdown_tx,
            server: Some(server),
            tasks,
        })
    }
}

/// A started cloud. Dropping it stops it (without waiting); [`RunningCloud::shutdown`] stops it
/// and waits until the state file is released.
pub struct RunningCloud {
    addr: SocketAddr,
    url: String,
    cloud_id: String,
    token: String,
    admin_token: Option<String>,
    store: Arc<Store>,
    faults: Arc<FaultInjector>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for RunningCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningCloud")
            .field("url", &self.url)
            .field("cloud_id", &self.cloud_id)
            .finish_non_exhaustive()
    }
}

impl RunningCloud {
    /// `http://127.0.0.1:<port>`: the endpoint for clients and the provider Secret.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ID labelling this cloud's Nodes (`simulated-cloud.mcm-rs.io/cloud-id`).
    pub fn cloud_id(&self) -> &str {
        &self.cloud_id
    }

    /// A client with the cloud token.
    pub fn client(&self) -> Result<CloudClient, CloudError> {
        CloudClient::new(&self.url, self.token.clone())
    }

    /// A client with the admin token.
    pub fn admin_client(&self) -> Result<CloudClient, CloudError> {
        CloudClient::new(
            &self.url,
            self.admin_token
                .clone()
                .unwrap_or_else(|| self.token.clone()),
        )
    }

    /// Replaces the fault configuration in-process (same effect as `PUT /admin/v1/faults`).
    pub fn set_faults(&self, config: FaultConfig) -> Result<(), FaultConfigError> {
        self.faults.set(config)
    }

    /// Every instance with its node-agent state, read in-process.
    pub async fn instances(&self) -> Vec<AdminInstance> {
        self.store.admin_view().await
    }

    /// Stops accepting requests, lets running ones finish, stops the agent, and waits for all
    /// of it, so the state file can be reopened right after.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let _ = self.shutdown.send(true);
        let result = match self.server.take() {
            Some(server) => match server.await {
                Ok(r) => r.map_err(Error::Serve),
                Err(e) => Err(Error::Serve(std::io::Error::other(e.to_string()))),
            },
            None => Ok(()),
        };
        // The agent may sit in a call to an unresponsive API server; do not wait for ever.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for mut task in self.tasks.drain(..) {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(
                    "a background task did not stop within {SHUTDOWN_GRACE:?}; aborting it"
                );
                task.abort();
                let _ = task.await;
            }
        }
        self.store.close().await;
        tracing::info!(url = %self.url, "simulated cloud stopped");
        result
    }
}

impl Drop for RunningCloud {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
