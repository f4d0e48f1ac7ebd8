//! Boots instances: pending → running once their boot delay has passed, and keeps the instance
//! gauges current. Sleeps until the next boot is due or the state changes.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::Store;

const IDLE_WAIT: Duration = Duration::from_secs(60);
const RETRY_WAIT: Duration = Duration::from_secs(1);

/// Runs until `shutdown` turns true.
pub async fn run(store: Arc<Store>, metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) {
    let mut changes = store.subscribe();
    while !*shutdown.borrow() {
        let now = Timestamp::now();
        let wait = match store.boot_due_instances(now).await {
            Ok(Some(next)) => {
                let ms = next.duration_since(now).as_millis().max(5);
                Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
            }
            Ok(None) => IDLE_WAIT,
            Err(e) => {
                tracing::warn!(error = %e, "booting instances failed; retrying in 1s");
                RETRY_WAIT
            }
        };
        let (pending, running) = store.counts().await;
        metrics.set_instance_counts(pending as i64, running as i64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = changes.changed() => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    }
}
