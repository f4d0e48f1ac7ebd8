//! Informer caches: a watch of one resource kept in memory, and a callback for every
//! change with the old and the new object.
//!
//! kube-runtime's reflector keeps a store but does not hand out the previous
//! version of an object; MCM's event handlers need it (generation changes, a
//! description that *newly* contains `OutOfRange`, taints that appeared). So this
//! module owns the store and diffs each event against it, including full relists.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// A cache key: namespace (empty for cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of an object.
    pub fn of<K: Resource>(object: &K) -> ObjectKey {
        ObjectKey {
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
        }
    }

    /// `namespace/name`, or `name` when cluster-scoped (client-go's key format).
    pub fn to_queue_key(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// One change seen by an informer.
#[derive(Debug, Clone)]
pub enum Change<K> {
    /// A new object.
    Added(Arc<K>),
    /// A changed (or resynced) object.
    Updated {
        /// The previous version.
        old: Arc<K>,
        /// The current version.
        new: Arc<K>,
    },
    /// A deleted object (the last version seen).
    Deleted(Arc<K>),
}

/// The in-memory copy of one resource, readable from any thread.
#[derive(Debug)]
pub struct Cache<K> {
    objects: Arc<RwLock<HashMap<ObjectKey, Arc<K>>>>,
    synced: watch::Receiver<bool>,
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache {
            objects: self.objects.clone(),
            synced: self.synced.clone(),
        }
    }
}

impl<K> Cache<K> {
    /// A cache that is never filled (for a cluster that is not configured).
    pub fn empty() -> Cache<K> {
        let (_, synced) = watch::channel(true);
        Cache {
            objects: Arc::default(),
            synced,
        }
    }

    /// The object with this namespace and name.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let key = ObjectKey {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.read().get(&key).cloned()
    }

    /// All objects.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().values().cloned().collect()
    }

    /// All objects matching `predicate`.
    pub fn filter(&self, predicate: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        self.read()
            .values()
            .filter(|object| predicate(object))
            .cloned()
            .collect()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Whether the first full list has been loaded.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the first full list has been loaded.
    pub async fn wait_synced(&self) {
        let mut synced = self.synced.clone();
        // An error means the informer task ended; nothing to wait for then.
        let _ = synced.wait_for(|done| *done).await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ObjectKey, Arc<K>>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map
        // itself is still consistent (every write is a single insert/remove/swap).
        self.objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writing half of a [`Cache`], consumed by [`spawn_informer`].
#[derive(Debug)]
pub struct CacheWriter<K> {
    objects: Arc<RwLock<HashMap<ObjectKey, Arc<K>>>>,
    synced: watch::Sender<bool>,
}

/// A new, empty cache and the writer that fills it. Split so that event handlers
/// can capture state holding the cache before the informer starts.
pub fn new_cache<K>() -> (Cache<K>, CacheWriter<K>) {
    let objects: Arc<RwLock<HashMap<ObjectKey, Arc<K>>>> = Arc::default();
    let (synced_tx, synced) = watch::channel(false);
    (
        Cache {
            objects: objects.clone(),
            synced,
        },
        CacheWriter {
            objects,
            synced: synced_tx,
        },
    )
}

/// Watches `api` into the cache of `writer`; `on_change` runs for every change,
/// after the cache reflects it. Runs until the returned task is aborted.
pub fn spawn_informer<K, F>(
    name: &'static str,
    writer: CacheWriter<K>,
    api: Api<K>,
    config: watcher::Config,
    on_change: F,
) -> tokio::task::JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(Change<K>) + Send + Sync + 'static,
{
    let CacheWriter {
        objects,
        synced: synced_tx,
    } = writer;
    tokio::spawn(async move {
        let mut stream = watcher(api, config).default_backoff().boxed();
        let mut relist: Option<HashMap<ObjectKey, Arc<K>>> = None;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!(informer = name, %error, "watch failed; retrying with back-off");
                    continue;
                }
            };
            let changes = {
                let mut map = objects
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                apply(&mut map, &mut relist, event)
            };
            if relist.is_none() && !*synced_tx.borrow() {
                let _ = synced_tx.send(true);
            }
            for change in changes {
                on_change(change);
            }
        }
    })
}

fn watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl futures::Stream<Item = watcher::Result<Event<K>>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher::watcher(api, config)
}

/// Applies one watcher event to the map; returns the changes it made. A relist
/// (`Init` … `InitDone`) is buffered and then diffed against the map as a whole, so
/// objects deleted while the watch was down are reported as deleted.
fn apply<K: Resource>(
    map: &mut HashMap<ObjectKey, Arc<K>>,
    relist: &mut Option<HashMap<ObjectKey, Arc<K>>>,
    event: Event<K>,
) -> Vec<Change<K>> {
    match event {
        Event::Init => {
            *relist = Some(HashMap::new());
            Vec::new()
        }
        Event::InitApply(object) => {
            let object = Arc::new(object);
            relist
                .get_or_insert_with(HashMap::new)
                .insert(ObjectKey::of(object.as_ref()), object);
            Vec::new()
        }
        Event::InitDone => {
            let fresh = relist.take().unwrap_or_default();
            let mut changes = Vec::new();
            for (key, old) in map.iter() {
                if !fresh.contains_key(key) {
                    changes.push(Change::Deleted(old.clone()));
                }
            }
            for (key, new) in &fresh {
                match map.get(key) {
                    Some(old) => changes.push(Change::Updated {
                        old: old.clone(),
                        new: new.clone(),
                    }),
                    None => changes.push(Change::Added(new.clone())),
                }
            }
            *map = fresh;
            changes
        }
        Event::Apply(object) => {
            let object = Arc::new(object);
            let key = ObjectKey::of(object.as_ref());
            match map.insert(key, object.clone()) {
                Some(old) => vec![Change::Updated { old, new: object }],
                None => vec![Change::Added(object)],
            }
        }
        Event::Delete(object) => {
            let key = ObjectKey::of(&object);
            let old = map.remove(&key).unwrap_or_else(|| Arc::new(object));
            vec![Change::Deleted(old)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn cm(name: &str, version: &str) -> ConfigMap {
        let mut object = ConfigMap::default();
        object.metadata.name = Some(name.into());
        object.metadata.namespace = Some("ns".into());
        object.metadata.resource_version = Some(version.into());
        object
    }

    fn kinds(changes: &[Change<ConfigMap>]) -> Vec<String> {
        let mut out: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Change::Added(o) => format!("+{}", o.name_any()),
                Change::Updated { old, new } => format!(
                    "~{}:{}>{}",
                    new.name_any(),
                    old.resource_version().unwrap_or_default(),
                    new.resource_version().unwrap_or_default()
                ),
                Change::Deleted(o) => format!("-{}", o.name_any()),
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn relists_report_additions_updates_and_deletions() {
        let mut map = HashMap::new();
        let mut relist = None;
        assert!(apply(&mut map, &mut relist, Event::Init).is_empty());
        apply(&mut map, &mut relist, Event::InitApply(cm("a", "1")));
        apply(&mut map, &mut relist, Event::InitApply(cm("b", "1")));
        assert_eq!(
            kinds(&apply(&mut map, &mut relist, Event::InitDone)),
            ["+a", "+b"]
        );
        assert_eq!(
            kinds(&apply(&mut map, &mut relist, Event::Apply(cm("a", "2")))),
            ["~a:1>2"]
        );
        // The watch breaks; b was deleted meanwhile and c created.
        apply(&mut map, &mut relist, Event::Init);
        apply(&mut map, &mut relist, Event::InitApply(cm("a", "3")));
        apply(&mut map, &mut relist, Event::InitApply(cm("c", "1")));
        assert_eq!(
            kinds(&apply(&mut map, &mut relist, Event::InitDone)),
            ["+c", "-b", "~a:2>3"]
        );
        assert_eq!(
            kinds(&apply(&mut map, &mut relist, Event::Delete(cm("c", "2")))),
            ["-c"]
        );
        assert_eq!(map.len(), 1);
    }
}
