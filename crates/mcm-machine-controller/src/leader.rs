//! Leader election on the `coordination.k8s.io/v1` Lease `machine-controller` in
//! `--namespace`, so that of several replicas exactly one runs the controllers.
//!
//! The algorithm and the Lease record are client-go's `leaderelection` with a
//! `LeaseLock`, which MCM uses:
//!
//! - every `--leader-elect-retry-period` (jittered up to ×2.2 while campaigning, as
//!   client-go) a replica reads the Lease; it may take it when it has no holder or when
//!   the record has not changed for the record's `leaseDurationSeconds`, measured on the
//!   replica's own monotonic clock from when it *observed* the change (so clock skew
//!   between hosts does not matter);
//! - writes carry the read `resourceVersion`, so of two replicas racing for a free Lease
//!   exactly one wins (the other gets 409 Conflict);
//! - the leader renews every retry period; if it cannot renew for
//!   `--leader-elect-renew-deadline` it has lost leadership. MCM then exits fatally; here
//!   [`run_as_leader`] drops the work and returns [`LeaderError::LeadershipLost`], which
//!   `main` turns into a non-zero exit. Unlike client-go, seeing another valid holder
//!   ends leadership at once instead of after the renew deadline;
//! - on graceful shutdown the leader first lets its work finish (still renewing), then
//!   releases the Lease (holder cleared, `leaseDurationSeconds: 1`, as client-go's
//!   `ReleaseOnCancel`), so a standby takes over within about one retry period instead of
//!   a full lease duration;
//! - "became leader" / "stopped leading" Events (core/v1, reason `LeaderElection`,
//!   source `machine-controller`) are recorded on the Lease, as MCM's recorder does.
//!
//! Why not the `kube-lease-manager` crate: it renews only once per `duration − grace`,
//! a standby sleeps until the observed expiry (so a released Lease is taken over only
//! after up to a full lease duration), and a leader that cannot reach the API server
//! keeps believing it leads — there is no renew deadline. MCM's flags describe
//! client-go's timing, which this module follows.
//!
//! `leaseDurationSeconds` is an integer in the Lease: `--leader-elect-lease-duration` is
//! written rounded **up** to whole seconds (at least 1), so other replicas never consider
//! a Lease expired earlier than its holder does. (client-go truncates.) All other
//! timing uses the flags' exact durations.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use mcm_api::well_known::process::{COMPONENT, LEASE_NAME};
use rand::Rng;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::options::Options;

/// client-go's jitter factor for the campaign loop.
const JITTER_FACTOR: f64 = 1.2;

/// Timing and identity of one contender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSettings {
    /// Namespace of the Lease (`--namespace`).
    pub namespace: String,
    /// Name of the Lease; MCM's is fixed to `machine-controller`.
    pub lease_name: String,
    /// This contender's `holderIdentity`; must differ between replicas.
    pub identity: String,
    /// `--leader-elect-lease-duration`.
    pub lease_duration: Duration,
    /// `--leader-elect-renew-deadline`.
    pub renew_deadline: Duration,
    /// `--leader-elect-retry-period`.
    pub retry_period: Duration,
}

/// Why leader election could not run, or ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// A `--leader-elect-*` flag is not usable.
    #[error("invalid leader-election flags: {0}")]
    InvalidFlags(String),
    /// No host name to build the identity from.
    #[error(
        "cannot determine this host's name for the leader-election identity ({0}); set the \
         identity explicitly (LeaderSettings::identity)"
    )]
    Identity(String),
    /// Leadership was lost while the work ran; the work was stopped. The process should
    /// exit non-zero, as MCM does (`leaderelection lost`), and be restarted.
    #[error("leader election lost: {identity} no longer holds Lease {namespace}/{lease}: {reason}")]
    LeadershipLost {
        /// Our identity.
        identity: String,
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        lease: String,
        /// What happened.
        reason: String,
    },
}

impl LeaderSettings {
    /// Settings from the `--leader-elect-*` flags and `--namespace`, with
    /// [`default_identity`]. Fails, naming the flag, for a lock kind other than `leases`
    /// and for timings client-go rejects.
    pub fn from_options(options: &Options) -> Result<LeaderSettings, LeaderError> {
        let problems = options.leader_election_problems();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(LeaderError::InvalidFlags(text.join("; ")));
        }
        Ok(LeaderSettings {
            namespace: options.namespace.clone(),
            lease_name: LEASE_NAME.to_owned(),
            identity: default_identity()?,
            lease_duration: options.leader_elect_lease_duration.to_std_saturating(),
            renew_deadline: options.leader_elect_renew_deadline.to_std_saturating(),
            retry_period: options.leader_elect_retry_period.to_std_saturating(),
        })
    }

    /// The same settings with another identity (tests run several replicas on one host).
    pub fn with_identity(mut self, identity: impl Into<String>) -> LeaderSettings {
        self.identity = identity.into();
        self
    }

    /// The `leaseDurationSeconds` written to the Lease: the lease duration rounded up to
    /// whole seconds, at least 1.
    pub fn lease_duration_seconds(&self) -> i32 {
        let nanos = self.lease_duration.as_nanos();
        let secs = nanos.div_ceil(1_000_000_000).max(1);
        i32::try_from(secs).unwrap_or(i32::MAX)
    }

    fn check(&self) -> Result<(), LeaderError> {
        let invalid = |m: String| Err(LeaderError::InvalidFlags(m));
        if self.identity.is_empty() {
            return invalid("the identity is empty".to_owned());
        }
        if self.namespace.is_empty() {
            return invalid("--namespace is empty; the Lease needs a namespace".to_owned());
        }
        if self.retry_period.is_zero() {
            return invalid("--leader-elect-retry-period must be greater than zero".to_owned());
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid(format!(
                "--leader-elect-lease-duration ({:?}) must be greater than \
                 --leader-elect-renew-deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return invalid(format!(
                "--leader-elect-renew-deadline ({:?}) must be greater than 1.2 × \
                 --leader-elect-retry-period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        Ok(())
    }
}

/// This host's name followed by `_` and 8 random letters/digits.
///
/// MCM uses the bare host name. The suffix is added because two processes on one host
/// — pods with `hostNetwork: true` on the same Node share the Node's host name, as do
/// local runs and tests — would otherwise share an identity, and each would take the
/// other's Lease for its own: both would lead. (kube-controller-manager adds a suffix for
/// the same reason.) The cost: a restarted process does not recognise its predecessor's
/// Lease and waits for it to expire if the predecessor did not release it.
pub fn default_identity() -> Result<String, LeaderError> {
    let host = host_name()?;
    let suffix: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(8)
        .map(char::from)
        .collect();
    Ok(format!("{host}_{suffix}"))
}

/// The host name as Go's `os.Hostname` finds it on Linux, with fallbacks.
fn host_name() -> Result<String, LeaderError> {
    for path in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            let name = text.trim();
            if !name.is_empty() {
                return Ok(name.to_owned());
            }
        }
    }
    match std::env::var("HOSTNAME") {
        Ok(name) if !name.trim().is_empty() => Ok(name.trim().to_owned()),
        _ => Err(LeaderError::Identity(
            "/proc/sys/kernel/hostname and /etc/hostname are unreadable and HOSTNAME is unset"
                .to_owned(),
        )),
    }
}

/// Handed to the work: tells it that the process is shutting down. The work should then
/// stop acting and return; the Lease is released only after it returned.
#[derive(Debug, Clone)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Completes once shutdown was requested.
    pub async fn requested(&mut self) {
        // An error means the sender is gone, i.e. run_as_leader itself ended.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether shutdown was requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

/// Campaigns for the Lease; once acquired, runs `work` while renewing it.
///
/// - `shutdown` completing before leadership: returns `Ok(None)`; `work` never ran.
/// - `work` returning (by itself, or after `shutdown` completed and the [`Stopping`] it
///   was handed fired): the Lease is released and `Ok(Some(output))` returned.
/// - leadership lost (no renewal within the renew deadline, or another holder seen):
///   `work` is dropped at once (cancelled) and [`LeaderError::LeadershipLost`] returned.
///
/// Errors talking to the API server while campaigning are logged and retried.
pub async fn run_as_leader<F, Fut, T>(
    client: Client,
    settings: LeaderSettings,
    work: F,
    shutdown: impl Future<Output = ()>,
) -> Result<Option<T>, LeaderError>
where
    F: FnOnce(Stopping) -> Fut,
    Fut: Future<Output = T>,
{
    settings.check()?;
    let mut elector = Elector::new(client, settings);
    tokio::pin!(shutdown);

    tracing::info!(
        identity = %elector.settings.identity,
        lease = %elector.lease_path(),
        "campaigning for leadership"
    );
    loop {
        let acquired = tokio::select! {
            () = &mut shutdown => return Ok(None),
            result = elector.try_acquire_or_renew() => result,
        };
        match acquired {
            Ok(Attempt::Held) => break,
            Ok(Attempt::HeldByOther(holder)) => {
                tracing::debug!(%holder, lease = %elector.lease_path(), "lease held by another replica");
            }
            Ok(Attempt::Conflict) => {
                tracing::debug!(lease = %elector.lease_path(), "lost a race for the lease");
            }
            Err(err) => {
                tracing::warn!(lease = %elector.lease_path(), error = %err, "cannot read or write the lease; retrying");
            }
        }
        let pause = jittered(elector.settings.retry_period);
        tokio::select! {
            () = &mut shutdown => return Ok(None),
            () = tokio::time::sleep(pause) => {}
        }
    }

    tracing::info!(identity = %elector.settings.identity, lease = %elector.lease_path(), "became leader");
    elector.record_event("became leader");

    let (stop_tx, stop_rx) = watch::channel(false);
    let outcome = {
        let work = work(Stopping(stop_rx));
        tokio::pin!(work);
        let renewing = elector.keep_renewing();
        tokio::pin!(renewing);
        let mut stopping = false;
        loop {
            tokio::select! {
                output = &mut work => break Ok(output),
                lost = &mut renewing => break Err(lost),
                () = &mut shutdown, if !stopping => {
                    stopping = true;
                    tracing::info!("shutdown requested; waiting for the controllers to stop before releasing the lease");
                    let _ = stop_tx.send(true);
                }
            }
        }
    };

    match outcome {
        Ok(output) => {
            elector.release().await;
            Ok(Some(output))
        }
        Err(lost) => {
            tracing::error!(error = %lost, "leader election lost");
            elector.record_event("stopped leading");
            Err(lost)
        }
    }
}

/// Random wait in `[period, period × 2.2)`, client-go's `JitterUntil` with factor 1.2.
fn jittered(period: Duration) -> Duration {
    let factor: f64 = rand::rng().random_range(0.0..JITTER_FACTOR);
    period.mul_f64(1.0 + factor)
}

/// What one acquire-or-renew attempt found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease (acquired or renewed).
    Held,
    /// Another identity holds a valid Lease.
    HeldByOther(String),
    /// Someone wrote the Lease between our read and write.
    Conflict,
}

struct Elector {
    api: Api<Lease>,
    client: Client,
    settings: LeaderSettings,
    /// The record last read or written, and when (our clock) it was first seen.
    observed: Option<(LeaseSpec, Instant)>,
    /// The Lease object, for Event references.
    lease_ref: Option<ObjectReference>,
}

impl Elector {
    fn new(client: Client, settings: LeaderSettings) -> Elector {
        Elector {
            api: Api::namespaced(client.clone(), &settings.namespace),
            client,
            settings,
            observed: None,
            lease_ref: None,
        }
    }

    fn lease_path(&self) -> String {
        format!("{}/{}", self.settings.namespace, self.settings.lease_name)
    }

    fn record_for_us(&self, previous: Option<&LeaseSpec>, now: MicroTime) -> LeaseSpec {
        let ours = previous.filter(|spec| {
            spec.holder_identity.as_deref() == Some(self.settings.identity.as_str())
        });
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(self.settings.lease_duration_seconds()),
            acquire_time: match ours {
                Some(spec) => spec.acquire_time.clone().or(Some(now.clone())),
                None => Some(now.clone()),
            },
            renew_time: Some(now),
            lease_transitions: match (ours, previous) {
                (Some(spec), _) => spec.lease_transitions,
                (None, Some(spec)) => Some(spec.lease_transitions.unwrap_or(0).saturating_add(1)),
                (None, None) => Some(0),
            },
            ..previous.cloned().unwrap_or_default()
        }
    }

    fn remember(&mut self, lease: &Lease, spec: LeaseSpec, at: Instant) {
        self.lease_ref = Some(ObjectReference {
            api_version: Some("coordination.k8s.io/v1".to_owned()),
            kind: Some("Lease".to_owned()),
            name: lease.metadata.name.clone(),
            namespace: lease.metadata.namespace.clone(),
            uid: lease.metadata.uid.clone(),
            resource_version: lease.metadata.resource_version.clone(),
            ..ObjectReference::default()
        });
        self.observed = Some((spec, at));
    }

    /// client-go's `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.settings.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.lease_name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record_for_us(None, now)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    let spec = created.spec.clone().unwrap_or_default();
                    self.remember(&created, spec, Instant::now());
                    Ok(Attempt::Held)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Conflict),
                Err(err) => Err(err),
            };
        };

        let current = lease.spec.clone().unwrap_or_default();
        let observed_at = match &self.observed {
            Some((spec, at)) if *spec == current => *at,
            _ => Instant::now(),
        };
        self.remember(&lease, current.clone(), observed_at);

        let holder = current.holder_identity.clone().unwrap_or_default();
        if !holder.is_empty() && holder != self.settings.identity {
            let valid_for = Duration::from_secs(
                u64::try_from(current.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
            );
            if observed_at + valid_for > Instant::now() {
                return Ok(Attempt::HeldByOther(holder));
            }
        }

        let spec = self.record_for_us(Some(&current), now);
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.settings.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                let spec = written.spec.clone().unwrap_or_default();
                self.remember(&written, spec, Instant::now());
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Conflict),
            Err(err) => Err(err),
        }
    }

    /// Renews every retry period; returns only when leadership is lost.
    async fn keep_renewing(&mut self) -> LeaderError {
        loop {
            tokio::time::sleep(self.settings.retry_period).await;
            let deadline = Instant::now() + self.settings.renew_deadline;
            let mut last_problem = String::from("no renewal attempt finished");
            loop {
                match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                    Ok(Ok(Attempt::Held)) => break,
                    Ok(Ok(Attempt::HeldByOther(holder))) => {
                        return self.lost(format!("the Lease is now held by {holder:?}"));
                    }
                    Ok(Ok(Attempt::Conflict)) => {
                        last_problem =
                            "the Lease was changed concurrently (409 Conflict)".to_owned();
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, lease = %self.lease_path(), "failed to renew the lease");
                        last_problem = err.to_string();
                    }
                    Err(_) => {
                        return self.lost(format!(
                            "not renewed within --leader-elect-renew-deadline={:?} (last problem: {last_problem})",
                            self.settings.renew_deadline
                        ));
                    }
                }
                let next = Instant::now() + self.settings.retry_period;
                if next >= deadline {
                    tokio::time::sleep_until(deadline).await;
                    return self.lost(format!(
                        "not renewed within --leader-elect-renew-deadline={:?} (last problem: {last_problem})",
                        self.settings.renew_deadline
                    ));
                }
                tokio::time::sleep_until(next).await;
            }
        }
    }

    fn lost(&self, reason: String) -> LeaderError {
        LeaderError::LeadershipLost {
            identity: self.settings.identity.clone(),
            namespace: self.settings.namespace.clone(),
            lease: self.settings.lease_name.clone(),
            reason,
        }
    }

    /// Clears the holder if it is still us (client-go's `release`), bounded by the renew
    /// deadline; failures are logged, as the Lease then simply expires.
    async fn release(&mut self) {
        let attempt = async {
            let Some(mut lease) = self.api.get_opt(&self.settings.lease_name).await? else {
                return Ok(false);
            };
            let current = lease.spec.clone().unwrap_or_default();
            if current.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
                return Ok(false);
            }
            let now = MicroTime(Timestamp::now());
            lease.spec = Some(LeaseSpec {
                holder_identity: Some(String::new()),
                lease_duration_seconds: Some(1),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: current.lease_transitions,
                ..current
            });
            self.api
                .replace(&self.settings.lease_name, &PostParams::default(), &lease)
                .await
                .map(|_| true)
        };
        match tokio::time::timeout(self.settings.renew_deadline, attempt).await {
            Ok(Ok(true)) => tracing::info!(lease = %self.lease_path(), "released the lease"),
            Ok(Ok(false)) => {
                tracing::info!(lease = %self.lease_path(), "lease no longer ours; nothing to release")
            }
            Ok(Err(err)) => {
                tracing::warn!(lease = %self.lease_path(), error = %err, "failed to release the lease; it expires by itself")
            }
            Err(_) => {
                tracing::warn!(lease = %self.lease_path(), "releasing the lease timed out; it expires by itself")
            }
        }
    }

    /// Records a core/v1 Event on the Lease in the background (best effort).
    fn record_event(&self, what: &str) {
        let Some(reference) = self.lease_ref.clone() else {
            return;
        };
        let now = Timestamp::now();
        let message = format!("{} {what}", self.settings.identity);
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    self.settings.lease_name,
                    now.as_nanosecond()
                )),
                namespace: Some(self.settings.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: reference,
            reason: Some("LeaderElection".to_owned()),
            message: Some(message),
            type_: Some("Normal".to_owned()),
            source: Some(EventSource {
                component: Some(COMPONENT.to_owned()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(COMPONENT.to_owned()),
            reporting_instance: Some(self.settings.identity.clone()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        tokio::spawn(async move {
            let params = PostParams::default();
            let publish = api.create(&params, &event);
            match tokio::time::timeout(Duration::from_secs(10), publish).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::debug!(error = %err, "could not record leader-election event")
                }
                Err(_) => tracing::debug!("recording the leader-election event timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcm_api::GoDuration;

    fn settings() -> LeaderSettings {
        LeaderSettings {
            namespace: "ns".into(),
            lease_name: LEASE_NAME.into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    #[test]
    fn from_options_uses_the_flags() {
        let options = Options {
            namespace: "shoot--x".into(),
            leader_elect_lease_duration: GoDuration::from_secs(20),
            leader_elect_renew_deadline: GoDuration::from_secs(12),
            leader_elect_retry_period: GoDuration::from_secs(3),
            ..Options::default()
        };
        let s = LeaderSettings::from_options(&options).unwrap();
        assert_eq!(s.namespace, "shoot--x");
        assert_eq!(s.lease_name, "machine-controller");
        assert_eq!(
            (s.lease_duration, s.renew_deadline, s.retry_period),
            (
                Duration::from_secs(20),
                Duration::from_secs(12),
                Duration::from_secs(3)
            )
        );
        let host = host_name().unwrap();
        let (prefix, suffix) = s.identity.rsplit_once('_').unwrap();
        assert_eq!(prefix, host);
        assert_eq!(suffix.len(), 8);
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
        let other = LeaderSettings::from_options(&options).unwrap();
        assert_ne!(
            s.identity, other.identity,
            "two processes on one host differ"
        );
        assert_eq!(other.with_identity("b").identity, "b");
    }

    #[test]
    fn only_leases_are_supported() {
        for lock in [
            "endpoints",
            "configmaps",
            "endpointsleases",
            "configmapsleases",
            "coordinatedLeases",
        ] {
            let options = Options {
                leader_elect_resource_lock: lock.into(),
                ..Options::default()
            };
            let err = LeaderSettings::from_options(&options)
                .unwrap_err()
                .to_string();
            assert!(err.contains("--leader-elect-resource-lock"), "{err}");
            assert!(err.contains("--leader-elect-resource-lock=leases"), "{err}");
        }
    }

    #[test]
    fn lease_duration_is_written_rounded_up() {
        let table = [
            (Duration::from_secs(15), 15),
            (Duration::from_millis(1500), 2),
            (Duration::from_millis(100), 1),
            (Duration::from_millis(15_001), 16),
        ];
        for (duration, seconds) in table {
            let s = LeaderSettings {
                lease_duration: duration,
                ..settings()
            };
            assert_eq!(s.lease_duration_seconds(), seconds, "{duration:?}");
        }
    }

    #[test]
    fn timings_client_go_rejects_are_rejected() {
        type Edit = fn(&mut LeaderSettings);
        let cases: &[(Edit, &str)] = &[
            (
                |s| s.lease_duration = Duration::from_secs(10),
                "--leader-elect-lease-duration",
            ),
            (
                |s| s.retry_period = Duration::from_secs(9),
                "--leader-elect-renew-deadline",
            ),
            (
                |s| s.retry_period = Duration::ZERO,
                "--leader-elect-retry-period",
            ),
            (|s| s.identity.clear(), "identity"),
        ];
        for (edit, needle) in cases {
            let mut s = settings();
            edit(&mut s);
            let err = s.check().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        settings().check().unwrap();
    }

    #[test]
    fn jitter_stays_within_client_go_bounds() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(2));
            assert!(
                d >= Duration::from_secs(2) && d < Duration::from_millis(4400),
                "{d:?}"
            );
        }
    }
}
