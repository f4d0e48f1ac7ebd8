//! The cloud's state (instances, idempotency keys, IP counter, node-agent knobs) and the rules of
//! changing it. Every change is applied to a copy, written to disk, and only then made visible,
//! so a failed write leaves the previous state in memory and on disk and the caller gets an error.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use crate::api::{CreateInstance, Instance, InstanceFilter, InstanceStatus};
use crate::node_health::{AdminInstance, NodeAgentState, NodeHealth};
use crate::persist::{self, PersistError, StateLock};
use crate::provider_id::encode_provider_id;

const FORMAT_VERSION: u32 = 1;

/// User data: kept, never shown.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserData(String);

impl fmt::Debug for UserData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

/// Everything the cloud keeps about one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    /// The public view.
    pub instance: Instance,
    /// Stored (file mode 0600), never returned or logged.
    pub user_data: UserData,
    /// When the instance turns running.
    pub boot_due: Timestamp,
    /// The key it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Node-agent knobs and progress.
    pub node: NodeAgentState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyEntry {
    instance_id: String,
    fingerprint: String,
}

/// The persisted document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateDoc {
    format_version: u32,
    cloud_id: String,
    next_ip_index: u64,
    instances: BTreeMap<String, InstanceRecord>,
    idempotency_keys: BTreeMap<String, IdempotencyEntry>,
}

/// Why a state change was refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No live instance with this ID.
    #[error("instance {id} not found (it was never created or has been deleted)")]
    NotFound {
        /// The ID asked for.
        id: String,
    },
    /// The change conflicts with existing state.
    #[error("{message}")]
    Conflict {
        /// What conflicts and how to resolve it.
        message: String,
    },
    /// A zone quota is used up.
    #[error(
        "quota exceeded in zone {zone}: {quota} instances allowed, {used} running or pending; delete instances or raise zoneQuotas"
    )]
    QuotaExceeded {
        /// The zone.
        zone: String,
        /// The quota.
        quota: u32,
        /// Live instances in the zone.
        used: u32,
    },
    /// The state could not be saved or loaded.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// The state file exists but cannot be understood.
    #[error(
        "state file {path} is not a simulated-cloud state ({message}); restore it from a backup or move it away to start empty"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
    /// A background write task failed to run.
    #[error("saving the state failed: {0}")]
    Task(String),
}

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A JSON file, written crash-safely on every change.
    File(PathBuf),
    /// Memory only: for unit tests of drivers that do not care about restarts.
    InMemory,
}

/// What creating an instance needs besides the request.
#[derive(Debug, Clone)]
pub struct CreateContext {
    /// Accept time.
    pub now: Timestamp,
    /// How long until it runs.
    pub boot_delay: Duration,
    /// The zone's quota, if any.
    pub zone_quota: Option<u32>,
    /// Initial node-agent knobs.
    pub node_health: NodeHealth,
}

/// The outcome of a create.
#[derive(Debug, Clone)]
pub struct Created {
    /// The instance (new, or the one a retried key refers to).
    pub instance: Instance,
    /// False when an idempotency key matched an existing instance.
    pub newly_created: bool,
}

/// The state with its file, lock and change signal.
#[derive(Debug)]
pub struct Store {
    doc: Mutex<StateDoc>,
    path: Option<PathBuf>,
    _lock: Option<StateLock>,
    changes: watch::Sender<u64>,
}

impl Store {
    /// Opens (or creates) the state.
    pub async fn open(location: &StateLocation) -> Result<Arc<Self>, StoreError> {
        let (doc, path, lock) = match location {
            StateLocation::InMemory => (new_doc(), None, None),
            StateLocation::File(path) => {
                let path = path.clone();
                let p = path.clone();
                let (lock, bytes) = tokio::task::spawn_blocking(move || {
                    let lock = persist::lock_state(&p)?;
                    let bytes = persist::read_state(&p)?;
                    Ok::<_, PersistError>((lock, bytes))
                })
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
                let doc = match bytes {
                    Some(bytes) => parse_doc(&path, &bytes)?,
                    None => {
                        let doc = new_doc();
                        write_doc(&path, &doc).await?;
                        doc
                    }
                };
                (doc, Some(path), Some(lock))
            }
        };
        Ok(Arc::new(Self {
            doc: Mutex::new(doc),
            path,
            _lock: lock,
            changes: watch::channel(0).0,
        }))
    }

    /// Identifies this cloud's state; the node agent labels its Nodes with it so several clouds
    /// can share one cluster without touching each other's Nodes.
    pub async fn cloud_id(&self) -> String {
        self.doc.lock().await.cloud_id.clone()
    }

    /// The state file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A receiver that changes whenever the state does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Applies `change` to a copy, saves it, then publishes it.
    async fn mutate<T>(
        &self,
        change: impl FnOnce(&mut StateDoc) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut doc = self.doc.lock().await;
        let mut next = doc.clone();
        let out = change(&mut next)?;
        if next != *doc {
            if let Some(path) = &self.path {
                write_doc(path, &next).await?;
            }
            *doc = next;
            self.changes.send_modify(|g| *g += 1);
        }
        Ok(out)
    }

    /// Creates an instance, or returns the one an idempotency key already made.
    pub async fn create(
        &self,
        req: &CreateInstance,
        ctx: CreateContext,
    ) -> Result<Created, StoreError> {
        let fingerprint = fingerprint(req);
        let instance_id = new_instance_id();
        self.mutate(move |doc| {
            if let Some(key) = &req.idempotency_key
                && let Some(entry) = doc.idempotency_keys.get(key)
            {
                if entry.fingerprint != fingerprint {
                    return Err(StoreError::Conflict {
                        message: format!(
                            "idempotency key {key:?} was already used for a different request (instance {}); use a new key for a different instance",
                            entry.instance_id
                        ),
                    });
                }
                return match doc.instances.get(&entry.instance_id) {
                    Some(existing) => Ok(Created {
                        instance: existing.instance.clone(),
                        newly_created: false,
                    }),
                    None => Err(StoreError::Conflict {
                        message: format!(
                            "idempotency key {key:?} created instance {}, which has since been deleted; use a new key to create another instance",
                            entry.instance_id
                        ),
                    }),
                };
            }
            if let Some(other) = doc.instances.values().find(|r| r.instance.name == req.name) {
                return Err(StoreError::Conflict {
                    message: format!(
                        "instance name {:?} is already used by instance {} (names are Node names and must be unique); delete it first or pick another name",
                        req.name, other.instance.id
                    ),
                });
            }
            if let Some(quota) = ctx.zone_quota {
                let used = doc
                    .instances
                    .values()
                    .filter(|r| r.instance.zone == req.zone)
                    .count() as u32;
                if used >= quota {
                    return Err(StoreError::QuotaExceeded {
                        zone: req.zone.clone(),
                        quota,
                        used,
                    });
                }
            }
            let mut id = instance_id;
            while doc.instances.contains_key(&id) {
                id = new_instance_id();
            }
            let private_ip = ip_for_index(doc.next_ip_index);
            doc.next_ip_index += 1;
            let boot_delay = SignedDuration::try_from(ctx.boot_delay).unwrap_or(SignedDuration::MAX);
            let boot_due = ctx.now.checked_add(boot_delay).unwrap_or(Timestamp::MAX);
            let running = boot_due <= ctx.now;
            let instance = Instance {
                id: id.clone(),
                name: req.name.clone(),
                image: req.image.clone(),
                machine_type: req.machine_type.clone(),
                zone: req.zone.clone(),
                tags: req.tags.clone(),
                status: if running {
                    InstanceStatus::Running
                } else {
                    InstanceStatus::Pending
                },
                private_ip,
                hostname: req.name.clone(),
                provider_id: encode_provider_id(&req.zone, &id),
                created_at: ctx.now,
                running_at: running.then_some(ctx.now),
                user_data_sha256: hex_sha256(req.user_data.as_bytes()),
                user_data_bytes: req.user_data.len(),
            };
            doc.instances.insert(
                id.clone(),
                InstanceRecord {
                    instance: instance.clone(),
                    user_data: UserData(req.user_data.clone()),
                    boot_due,
                    idempotency_key: req.idempotency_key.clone(),
                    node: NodeAgentState {
                        health: ctx.node_health,
                        health_since: ctx.now,
                        registered_at: None,
                        reregister_requested: false,
                    },
                },
            );
            if let Some(key) = &req.idempotency_key {
                doc.idempotency_keys.insert(
                    key.clone(),
                    IdempotencyEntry {
                        instance_id: id,
                        fingerprint,
                    },
                );
            }
            Ok(Created {
                instance,
                newly_created: true,
            })
        })
        .await
    }

    /// One instance.
    pub async fn get(&self, id: &str) -> Result<Instance, StoreError> {
        self.doc
            .lock()
            .await
            .instances
            .get(id)
            .map(|r| r.instance.clone())
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })
    }

    /// Matching instances, oldest first.
    pub async fn list(&self, filter: &InstanceFilter) -> Vec<Instance> {
        let doc = self.doc.lock().await;
        let mut out: Vec<Instance> = doc
            .instances
            .values()
            .map(|r| r.instance.clone())
            .filter(|i| filter.matches(i))
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        out
    }

    /// Every record (for the lifecycle task and the node agent).
    pub async fn records(&self) -> Vec<InstanceRecord> {
        self.doc.lock().await.instances.values().cloned().collect()
    }

    /// Every instance with its node-agent state.
    pub async fn admin_view(&self) -> Vec<AdminInstance> {
        let mut out: Vec<AdminInstance> = self
            .records()
            .await
            .into_iter()
            .map(|r| AdminInstance {
                instance: r.instance,
                node: r.node,
            })
            .collect();
        out.sort_by(|a, b| {
            (a.instance.created_at, &a.instance.id).cmp(&(b.instance.created_at, &b.instance.id))
        });
        out
    }

    /// Deletes an instance; it is gone from get and list at once.
    pub async fn delete(&self, id: &str) -> Result<Instance, StoreError> {
        self.mutate(|doc| {
            doc.instances
                .remove(id)
                .map(|r| r.instance)
                .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })
        })
        .await
    }

    /// Turns every pending instance whose boot delay has passed into running; returns the earliest
    /// boot time still ahead, if any.
    pub async fn boot_due_instances(
        &self,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.mutate(|doc| {
            let mut next = None::<Timestamp>;
            for record in doc.instances.values_mut() {
                if record.instance.status != InstanceStatus::Pending {
                    continue;
                }
                if record.boot_due <= now {
                    record.instance.status = InstanceStatus::Running;
                    record.instance.running_at = Some(record.boot_due);
                } else {
                    next = Some(next.map_or(record.boot_due, |n| n.min(record.boot_due)));
                }
            }
            Ok(next)
        })
        .await
    }

    /// Sets the node-agent knobs of an instance (the flap clock restarts).
    pub async fn set_node_health(
        &self,
        id: &str,
        health: NodeHealth,
        now: Timestamp,
    ) -> Result<NodeAgentState, StoreError> {
        self.mutate(|doc| {
            let record = doc
                .instances
                .get_mut(id)
                .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
            record.node.health = health;
            record.node.health_since = now;
            Ok(record.node.clone())
        })
        .await
    }

    /// The node-agent state of an instance.
    pub async fn node_state(&self, id: &str) -> Result<NodeAgentState, StoreError> {
        self.doc
            .lock()
            .await
            .instances
            .get(id)
            .map(|r| r.node.clone())
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })
    }

    /// Asks the agent to register the Node again (a kubelet restart).
    pub async fn request_reregister(&self, id: &str) -> Result<NodeAgentState, StoreError> {
        self.mutate(|doc| {
            let record = doc
                .instances
                .get_mut(id)
                .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
            record.node.reregister_requested = true;
            Ok(record.node.clone())
        })
        .await
    }

    /// Records that the agent registered the Node of `id`. A missing instance (deleted meanwhile)
    /// is not an error: the agent deletes the Node on its next pass.
    pub async fn mark_registered(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        self.mutate(|doc| {
            if let Some(record) = doc.instances.get_mut(id) {
                record.node.registered_at = Some(at);
                record.node.reregister_requested = false;
            }
            Ok(())
        })
        .await
    }
}

fn new_doc() -> StateDoc {
    StateDoc {
        format_version: FORMAT_VERSION,
        cloud_id: format!("{:016x}", rand::random::<u64>()),
        next_ip_index: 0,
        instances: BTreeMap::new(),
        idempotency_keys: BTreeMap::new(),
    }
}

fn parse_doc(path: &Path, bytes: &[u8]) -> Result<StateDoc, StoreError> {
    let doc: StateDoc = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if doc.format_version != FORMAT_VERSION {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            message: format!(
                "format version {} is not supported, this build reads version {FORMAT_VERSION}",
                doc.format_version
            ),
        });
    }
    Ok(doc)
}

async fn write_doc(path: &Path, doc: &StateDoc) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(doc).map_err(|e| StoreError::Task(e.to_string()))?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || persist::write_state(&path, &bytes))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
    Ok(())
}

/// `i-` and 16 hex digits, like the instance IDs of well-known clouds.
fn new_instance_id() -> String {
    format!("i-{:016x}", rand::random::<u64>())
}

/// The n-th private address: 10.0.0.2, 10.0.0.3, … 10.0.0.254, 10.0.1.2, … (skipping .0, .1 and
/// .255 of each /24, which networks reserve).
pub fn ip_for_index(index: u64) -> Ipv4Addr {
    let subnet = index / 253;
    let host = (index % 253) as u8 + 2;
    let b = ((subnet >> 8) & 0xff) as u8;
    let c = (subnet & 0xff) as u8;
    Ipv4Addr::new(10, b, c, host)
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Identifies the content of a create request, so a reused key with other content is caught.
fn fingerprint(req: &CreateInstance) -> String {
    let canonical = serde_json::json!({
        "name": req.name,
        "image": req.image,
        "machineType": req.machine_type,
        "zone": req.zone,
        "tags": req.tags,
        "userData": hex_sha256(req.user_data.as_bytes()),
    });
    hex_sha256(canonical.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, key: Option<&str>) -> CreateInstance {
        CreateInstance {
            name: name.into(),
            image: "img".into(),
            machine_type: "m1.small".into(),
            zone: "zone-a".into(),
            tags: [("cluster".to_string(), "c1".to_string())].into(),
            user_data: "secret-bootstrap-token".into(),
            idempotency_key: key.map(Into::into),
        }
    }

    fn ctx(delay_secs: u64, quota: Option<u32>) -> CreateContext {
        CreateContext {
            now: Timestamp::now(),
            boot_delay: Duration::from_secs(delay_secs),
            zone_quota: quota,
            node_health: NodeHealth::default(),
        }
    }

    #[test]
    fn ips_skip_reserved_hosts() {
        assert_eq!(ip_for_index(0), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(ip_for_index(252), Ipv4Addr::new(10, 0, 0, 254));
        assert_eq!(ip_for_index(253), Ipv4Addr::new(10, 0, 1, 2));
        assert_eq!(ip_for_index(253 * 256), Ipv4Addr::new(10, 1, 0, 2));
    }

    #[tokio::test]
    async fn key_reuse_rules() {
        let store = Store::open(&StateLocation::InMemory).await.unwrap();
        let a = store
            .create(&req("a", Some("k1")), ctx(5, None))
            .await
            .unwrap();
        assert!(a.newly_created);
        assert_eq!(a.instance.status, InstanceStatus::Pending);
        let again = store
            .create(&req("a", Some("k1")), ctx(5, None))
            .await
            .unwrap();
        assert!(!again.newly_created);
        assert_eq!(again.instance.id, a.instance.id);
        // Same key, other content.
        let err = store
            .create(&req("b", Some("k1")), ctx(5, None))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        // Same name, no key.
        let err = store
            .create(&req("a", None), ctx(5, None))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&a.instance.id), "{err}");
        // Key of a deleted instance.
        store.delete(&a.instance.id).await.unwrap();
        let err = store
            .create(&req("a", Some("k1")), ctx(5, None))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("deleted"), "{err}");
        assert!(!err.to_string().contains("secret-bootstrap-token"));
    }

    #[tokio::test]
    async fn quota_counts_live_instances_of_the_zone() {
        let store = Store::open(&StateLocation::InMemory).await.unwrap();
        let first = store
            .create(&req("a", None), ctx(0, Some(1)))
            .await
            .unwrap();
        assert_eq!(first.instance.status, InstanceStatus::Running);
        let err = store
            .create(&req("b", None), ctx(0, Some(1)))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::QuotaExceeded {
                    used: 1,
                    quota: 1,
                    ..
                }
            ),
            "{err}"
        );
        store.delete(&first.instance.id).await.unwrap();
        store
            .create(&req("b", None), ctx(0, Some(1)))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn boot_turns_due_instances_running() {
        let store = Store::open(&StateLocation::InMemory).await.unwrap();
        let c = ctx(10, None);
        let now = c.now;
        let a = store.create(&req("a", None), c).await.unwrap().instance;
        let next = store.boot_due_instances(now).await.unwrap();
        assert_eq!(next, Some(now + SignedDuration::from_secs(10)));
        assert_eq!(
            store.get(&a.id).await.unwrap().status,
            InstanceStatus::Pending
        );
        let later = now + SignedDuration::from_secs(11);
        assert_eq!(store.boot_due_instances(later).await.unwrap(), None);
        let a = store.get(&a.id).await.unwrap();
        assert_eq!(a.status, InstanceStatus::Running);
        assert_eq!(a.running_at, Some(now + SignedDuration::from_secs(10)));
    }

    #[tokio::test]
    async fn records_debug_never_shows_user_data() {
        let store = Store::open(&StateLocation::InMemory).await.unwrap();
        store.create(&req("a", None), ctx(0, None)).await.unwrap();
        let text = format!("{:?}", store.records().await);
        assert!(!text.contains("secret-bootstrap-token"), "{text}");
    }
}
