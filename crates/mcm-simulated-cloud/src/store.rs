//! The cloud's state (instances, idempotency keys, IP counter, node-agent knobs) and the rules of
//! changing it. Every change is applied to a copy, journaled to disk (see `persist`), and only
//! then made visible, so a failed write leaves the previous state in memory and on disk and the
//! caller gets an error. Journal entries carry absolute values (whole records, removals, the
//! counter), so replaying them on a snapshot that already contains them changes nothing; that
//! makes "snapshot written, journal not yet emptied" crashes harmless.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use crate::api::{CreateInstance, Instance, InstanceFilter, InstanceStatus};
use crate::node_health::{AdminInstance, NodeAgentState, NodeHealth};
use crate::persist::{self, Journal, PersistError, StateLock};
use crate::provider_id::encode_provider_id;

const FORMAT_VERSION: u32 = 1;

/// User data: kept, never shown. Shared, because records are copied on every change.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserData(Arc<str>);

impl Serialize for UserData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(UserData(Arc::from(String::deserialize(d)?)))
    }
}

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

/// One change, as a journal line. Values are absolute (whole records, removals, the counter), so
/// applying an entry twice is the same as applying it once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JournalEntry {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    upsert: Vec<InstanceRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    remove: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    keys: BTreeMap<String, IdempotencyEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_ip_index: Option<u64>,
}

impl JournalEntry {
    fn is_empty(&self) -> bool {
        self.upsert.is_empty()
            && self.remove.is_empty()
            && self.keys.is_empty()
            && self.next_ip_index.is_none()
    }

    fn apply(self, doc: &mut StateDoc) {
        for record in self.upsert {
            doc.instances.insert(record.instance.id.clone(), record);
        }
        for id in self.remove {
            doc.instances.remove(&id);
        }
        doc.idempotency_keys.extend(self.keys);
        if let Some(n) = self.next_ip_index {
            doc.next_ip_index = n;
        }
    }
}

/// Journal size after which the next change also writes a snapshot and empties the journal
/// (when the journal has outgrown the snapshot too).
const COMPACT_AT_BYTES: u64 = 4 * 1024 * 1024;

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
    /// The cloud is shutting down.
    #[error("the simulated cloud is stopping and accepts no changes; retry once it is back")]
    Closed,
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

/// The state with its files, lock and change signal.
#[derive(Debug)]
pub struct Store {
    doc: Mutex<StateDoc>,
    disk: Option<Disk>,
    changes: watch::Sender<u64>,
    /// Set by [`Store::close`]; read and written under the `doc` lock.
    closed: AtomicBool,
}

/// The on-disk side of a file-backed store.
#[derive(Debug)]
struct Disk {
    path: PathBuf,
    journal: Arc<std::sync::Mutex<Journal>>,
    snapshot_bytes: AtomicU64,
    lock: std::sync::Mutex<Option<StateLock>>,
}

fn blocking_err(e: tokio::task::JoinError) -> StoreError {
    StoreError::Task(e.to_string())
}

impl Store {
    /// Opens (or creates) the state: snapshot plus journal replay, then a fresh snapshot and an
    /// empty journal.
    pub async fn open(location: &StateLocation) -> Result<Arc<Self>, StoreError> {
        let (doc, disk) = match location {
            StateLocation::InMemory => (new_doc(), None),
            StateLocation::File(path) => {
                let path = path.clone();
                let (doc, disk) = tokio::task::spawn_blocking(move || recover(&path))
                    .await
                    .map_err(blocking_err)??;
                (doc, Some(disk))
            }
        };
        Ok(Arc::new(Self {
            doc: Mutex::new(doc),
            disk,
            changes: watch::channel(0).0,
            closed: AtomicBool::new(false),
        }))
    }

    /// Refuses further changes and releases the state lock, so another cloud can open the state
    /// right away, even while a straggling request still holds this store.
    pub async fn close(&self) {
        let _doc = self.doc.lock().await;
        self.closed.store(true, Ordering::SeqCst);
        if let Some(disk) = &self.disk {
            disk.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }

    /// Identifies this cloud's state; the node agent labels its Nodes with it so several clouds
    /// can share one cluster without touching each other's Nodes.
    pub async fn cloud_id(&self) -> String {
        self.doc.lock().await.cloud_id.clone()
    }

    /// The state file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.path.as_path())
    }

    /// A receiver that changes whenever the state does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Runs `change` against the current state; the change it returns is journaled, then
    /// applied and published. No entry (or an empty one) means nothing changed.
    async fn mutate<T>(
        &self,
        change: impl FnOnce(&StateDoc) -> Result<(T, JournalEntry), StoreError>,
    ) -> Result<T, StoreError> {
        let mut doc = self.doc.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let (out, entry) = change(&doc)?;
        if entry.is_empty() {
            return Ok(out);
        }
        let compact = match &self.disk {
            Some(disk) => disk.append(&entry).await?,
            None => false,
        };
        entry.apply(&mut doc);
        self.changes.send_modify(|g| *g += 1);
        if compact && let Some(disk) = &self.disk {
            // The change is already durable; a failed compaction only costs journal space.
            if let Err(e) = disk.compact(&doc).await {
                tracing::warn!(error = %e, "compacting the state journal failed; will retry on a later change");
            }
        }
        Ok(out)
    }

    /// Creates an instance, or returns the one an idempotency key already made.
    pub async fn create(
        &self,
        req: &CreateInstance,
        ctx: CreateContext,
    ) -> Result<Created, StoreError> {
        let user_data_sha256 = hex_sha256(req.user_data.as_bytes());
        let fingerprint = fingerprint(req, &user_data_sha256);
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
                    Some(existing) => Ok((
                        Created {
                            instance: existing.instance.clone(),
                            newly_created: false,
                        },
                        JournalEntry::default(),
                    )),
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
                user_data_sha256,
                user_data_bytes: req.user_data.len(),
            };
            let record = InstanceRecord {
                instance: instance.clone(),
                user_data: UserData(Arc::from(req.user_data.as_str())),
                boot_due,
                idempotency_key: req.idempotency_key.clone(),
                node: NodeAgentState {
                    health: ctx.node_health,
                    health_since: ctx.now,
                    registered_at: None,
                    reregister_requested: false,
                },
            };
            let mut entry = JournalEntry {
                upsert: vec![record],
                next_ip_index: Some(doc.next_ip_index + 1),
                ..JournalEntry::default()
            };
            if let Some(key) = &req.idempotency_key {
                entry.keys.insert(
                    key.clone(),
                    IdempotencyEntry {
                        instance_id: id,
                        fingerprint,
                    },
                );
            }
            Ok((
                Created {
                    instance,
                    newly_created: true,
                },
                entry,
            ))
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
            .filter(|r| filter.matches(&r.instance))
            .map(|r| r.instance.clone())
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        out
    }

    /// Every record (for the node agent).
    pub async fn records(&self) -> Vec<InstanceRecord> {
        self.doc.lock().await.instances.values().cloned().collect()
    }

    /// Live instances as (pending, running).
    pub async fn counts(&self) -> (usize, usize) {
        let doc = self.doc.lock().await;
        let pending = doc
            .instances
            .values()
            .filter(|r| r.instance.status == InstanceStatus::Pending)
            .count();
        (pending, doc.instances.len() - pending)
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
            let record = doc
                .instances
                .get(id)
                .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
            Ok((
                record.instance.clone(),
                JournalEntry {
                    remove: vec![id.to_owned()],
                    ..JournalEntry::default()
                },
            ))
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
            let mut entry = JournalEntry::default();
            for record in doc.instances.values() {
                if record.instance.status != InstanceStatus::Pending {
                    continue;
                }
                if record.boot_due <= now {
                    let mut booted = record.clone();
                    booted.instance.status = InstanceStatus::Running;
                    booted.instance.running_at = Some(record.boot_due);
                    entry.upsert.push(booted);
                } else {
                    next = Some(next.map_or(record.boot_due, |n| n.min(record.boot_due)));
                }
            }
            Ok((next, entry))
        })
        .await
    }

    /// Changes one record's node-agent state.
    async fn update_node(
        &self,
        id: &str,
        change: impl FnOnce(&mut NodeAgentState),
    ) -> Result<NodeAgentState, StoreError> {
        self.mutate(|doc| {
            let mut record = doc
                .instances
                .get(id)
                .cloned()
                .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
            change(&mut record.node);
            let state = record.node.clone();
            let unchanged = doc.instances.get(id) == Some(&record);
            let entry = if unchanged {
                JournalEntry::default()
            } else {
                JournalEntry {
                    upsert: vec![record],
                    ..JournalEntry::default()
                }
            };
            Ok((state, entry))
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
        self.update_node(id, |node| {
            node.health = health;
            node.health_since = now;
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
        self.update_node(id, |node| node.reregister_requested = true)
            .await
    }

    /// Records that the agent registered the Node of `id`. A missing instance (deleted meanwhile)
    /// is not an error: the agent deletes the Node on its next pass.
    pub async fn mark_registered(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        match self
            .update_node(id, |node| {
                node.registered_at = Some(at);
                node.reregister_requested = false;
            })
            .await
        {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
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

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Task(format!("encoding the state: {e}")))
}

/// Locks the state, loads snapshot and journal, and leaves a fresh snapshot with an empty
/// journal behind.
fn recover(path: &Path) -> Result<(StateDoc, Disk), StoreError> {
    let lock = persist::lock_state(path)?;
    let mut doc = match persist::read_state(path)? {
        Some(bytes) => parse_doc(path, &bytes)?,
        None => new_doc(),
    };
    let journal_path = persist::journal_path(path);
    for (n, line) in persist::read_journal(&journal_path)?
        .into_iter()
        .enumerate()
    {
        let entry: JournalEntry =
            serde_json::from_slice(&line).map_err(|e| StoreError::Corrupt {
                path: journal_path.clone(),
                message: format!("line {}: {e}", n + 1),
            })?;
        entry.apply(&mut doc);
    }
    let snapshot = encode(&doc)?;
    persist::write_state(path, &snapshot)?;
    let mut journal = Journal::open(&journal_path)?;
    journal.reset()?;
    Ok((
        doc,
        Disk {
            path: path.to_owned(),
            journal: Arc::new(std::sync::Mutex::new(journal)),
            snapshot_bytes: AtomicU64::new(snapshot.len() as u64),
            lock: std::sync::Mutex::new(Some(lock)),
        },
    ))
}

impl Disk {
    /// Makes a change durable; says whether the journal has grown enough to compact.
    async fn append(&self, entry: &JournalEntry) -> Result<bool, StoreError> {
        let line = encode(entry)?;
        let journal = self.journal.clone();
        let snapshot_bytes = self.snapshot_bytes.load(Ordering::Relaxed);
        let compact = tokio::task::spawn_blocking(move || {
            let mut journal = journal.lock().unwrap_or_else(|e| e.into_inner());
            journal.append(&line)?;
            Ok::<_, PersistError>(
                journal.len() > COMPACT_AT_BYTES && journal.len() > snapshot_bytes,
            )
        })
        .await
        .map_err(blocking_err)??;
        Ok(compact)
    }

    async fn compact(&self, doc: &StateDoc) -> Result<(), StoreError> {
        let snapshot = encode(doc)?;
        let size = snapshot.len() as u64;
        let path = self.path.clone();
        let journal = self.journal.clone();
        tokio::task::spawn_blocking(move || {
            persist::write_state(&path, &snapshot)?;
            journal.lock().unwrap_or_else(|e| e.into_inner()).reset()
        })
        .await
        .map_err(blocking_err)??;
        self.snapshot_bytes.store(size, Ordering::Relaxed);
        Ok(())
    }
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
fn fingerprint(req: &CreateInstance, user_data_sha256: &str) -> String {
    let canonical = serde_json::json!({
        "name": req.name,
        "image": req.image,
        "machineType": req.machine_type,
        "zone": req.zone,
        "tags": req.tags,
        "userData": user_data_sha256,
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

    async fn file_store(dir: &Path) -> Arc<Store> {
        Store::open(&StateLocation::File(dir.join("state.json")))
            .await
            .unwrap()
    }

    async fn ids(store: &Store) -> Vec<String> {
        let mut ids: Vec<String> = store
            .list(&InstanceFilter::all())
            .await
            .into_iter()
            .map(|i| i.id)
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn replaying_a_journal_already_in_the_snapshot_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = persist::journal_path(&dir.path().join("state.json"));
        let store = file_store(dir.path()).await;
        let a = store
            .create(&req("a", Some("ka")), ctx(0, None))
            .await
            .unwrap();
        let b = store
            .create(&req("b", Some("kb")), ctx(0, None))
            .await
            .unwrap();
        store.delete(&a.instance.id).await.unwrap();
        drop(store);
        let stale_journal = std::fs::read(&journal).unwrap();
        assert_eq!(stale_journal.iter().filter(|b| **b == b'\n').count(), 3);

        // Open folds the journal into the snapshot; then pretend the truncation never happened.
        drop(file_store(dir.path()).await);
        std::fs::write(&journal, &stale_journal).unwrap();
        let store = file_store(dir.path()).await;
        assert_eq!(ids(&store).await, vec![b.instance.id.clone()]);
        let c = store.create(&req("c", None), ctx(0, None)).await.unwrap();
        assert_eq!(c.instance.private_ip, ip_for_index(2));
        // Keys survive too: "ka" belongs to a deleted instance.
        let err = store
            .create(&req("a", Some("ka")), ctx(0, None))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("deleted"), "{err}");
    }

    #[tokio::test]
    async fn torn_journal_tail_is_dropped_and_a_corrupt_line_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let journal = persist::journal_path(&dir.path().join("state.json"));
        let store = file_store(dir.path()).await;
        let a = store.create(&req("a", None), ctx(0, None)).await.unwrap();
        drop(store);
        let mut bytes = std::fs::read(&journal).unwrap();
        bytes.extend_from_slice(br#"{"upsert":[{"instance""#);
        std::fs::write(&journal, &bytes).unwrap();
        let store = file_store(dir.path()).await;
        assert_eq!(ids(&store).await, vec![a.instance.id.clone()]);
        store.create(&req("b", None), ctx(0, None)).await.unwrap();
        drop(store);

        let mut bytes = std::fs::read(&journal).unwrap();
        bytes.splice(0..0, b"not json\n".iter().copied());
        std::fs::write(&journal, &bytes).unwrap();
        let err = Store::open(&StateLocation::File(dir.path().join("state.json")))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("state.json.journal"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[tokio::test]
    async fn a_big_journal_is_folded_into_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let journal = persist::journal_path(&dir.path().join("state.json"));
        let store = file_store(dir.path()).await;
        let big = "x".repeat(200 * 1024);
        let mut created = Vec::new();
        for i in 0..30 {
            let mut r = req(&format!("vm-{i}"), None);
            r.user_data = big.clone();
            created.push(store.create(&r, ctx(0, None)).await.unwrap().instance.id);
        }
        // 30 × 200 KB went through the journal, but it was compacted on the way.
        let journal_len = std::fs::metadata(&journal).unwrap().len();
        assert!(
            journal_len < COMPACT_AT_BYTES,
            "journal is {journal_len} bytes"
        );
        drop(store);
        let store = file_store(dir.path()).await;
        created.sort();
        assert_eq!(ids(&store).await, created);
    }

    #[tokio::test]
    async fn closed_store_refuses_changes_and_frees_the_state_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let first = file_store(dir.path()).await;
        first.create(&req("a", None), ctx(0, None)).await.unwrap();
        first.close().await;
        // `first` is still alive (a straggling request could hold it), yet the state is free.
        let second = file_store(dir.path()).await;
        assert_eq!(second.list(&InstanceFilter::all()).await.len(), 1);
        let err = first
            .create(&req("b", None), ctx(0, None))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Closed), "{err}");
        assert_eq!(second.list(&InstanceFilter::all()).await.len(), 1);
    }
}
