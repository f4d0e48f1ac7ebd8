//! Fault injection: the configuration (JSON, set at start or through the admin endpoint), the
//! pure decision "what happens to the n-th call of this operation", and the runtime holder that
//! numbers the calls.
//!
//! Decisions are a hash of (seed, operation, call number), not draws from a shared random
//! stream, so "30 % of 100 creates fail" yields the same failing calls on every run, however the
//! other operations interleave.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::{ErrorCode, Operation};
use crate::duration_text;

/// What an injected failure looks like to the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// 503, retryable.
    #[default]
    Unavailable,
    /// 500, retryable.
    Internal,
    /// 429, retryable.
    Throttled,
    /// 403 `QuotaExceeded` (MCM: `ResourceExhausted`).
    QuotaExceeded,
    /// 404 `NotFound`.
    NotFound,
    /// The server holds the request for `timeoutHang`, then answers 504; a client with a shorter
    /// timeout sees its own timeout.
    Timeout,
}

impl FaultKind {
    /// The error code a failure of this kind answers with.
    pub fn error_code(self) -> ErrorCode {
        match self {
            FaultKind::Unavailable => ErrorCode::Unavailable,
            FaultKind::Internal => ErrorCode::Internal,
            FaultKind::Throttled => ErrorCode::Throttled,
            FaultKind::QuotaExceeded => ErrorCode::QuotaExceeded,
            FaultKind::NotFound => ErrorCode::NotFound,
            FaultKind::Timeout => ErrorCode::Timeout,
        }
    }

    /// Lower-camel name, as in the JSON and the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Unavailable => "unavailable",
            FaultKind::Internal => "internal",
            FaultKind::Throttled => "throttled",
            FaultKind::QuotaExceeded => "quotaExceeded",
            FaultKind::NotFound => "notFound",
            FaultKind::Timeout => "timeout",
        }
    }
}

/// Faults of one operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationFaults {
    /// Fraction of calls (0.0–1.0) that fail with `errorKind`, chosen by the seed.
    #[serde(default)]
    pub error_rate: f64,
    /// How those calls fail.
    #[serde(default)]
    pub error_kind: FaultKind,
    /// The first N calls after the configuration was applied fail, whatever the rate.
    #[serde(default)]
    pub fail_first: u64,
    /// Added to every call of the operation.
    #[serde(default, with = "duration_text")]
    pub latency: Duration,
    /// Up to this much more, chosen by the seed.
    #[serde(default, with = "duration_text")]
    pub latency_jitter: Duration,
}

/// A window during which the API answers 503 to the listed operations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outage {
    /// Starts this long after the configuration is applied.
    #[serde(default, with = "duration_text")]
    pub starts_after: Duration,
    /// Lasts this long.
    #[serde(with = "duration_text")]
    pub duration: Duration,
    /// Affected operations; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
}

fn default_timeout_hang() -> Duration {
    Duration::from_secs(30)
}

/// The whole fault configuration. `{}` means no faults.
///
/// ```json
/// {"seed": 7,
///  "operations": {"create": {"errorRate": 0.3, "errorKind": "unavailable", "latency": "200ms"}},
///  "outages": [{"startsAfter": "10s", "duration": "30s"}],
///  "zoneQuotas": {"zone-a": 3}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the decisions; defaults to the cloud's `--seed` (itself 0 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Per-operation faults.
    #[serde(default)]
    pub operations: BTreeMap<Operation, OperationFaults>,
    /// API outage windows.
    #[serde(default)]
    pub outages: Vec<Outage>,
    /// Most live instances per zone; a create beyond it fails with `QuotaExceeded`. The key `*`
    /// applies to zones not listed.
    #[serde(default)]
    pub zone_quotas: BTreeMap<String, u32>,
    /// How long a `timeout` fault holds the request before answering 504.
    #[serde(default = "default_timeout_hang", with = "duration_text")]
    pub timeout_hang: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: None,
            operations: BTreeMap::new(),
            outages: Vec::new(),
            zone_quotas: BTreeMap::new(),
            timeout_hang: default_timeout_hang(),
        }
    }
}

/// A fault configuration that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault configuration: field {field}: {message}")]
pub struct FaultConfigError {
    /// JSON path of the field, e.g. `operations.create.errorRate`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FaultConfig {
    /// Parses JSON; the error names the field when serde can.
    pub fn from_json(text: &str) -> Result<Self, FaultConfigError> {
        let config: FaultConfig = serde_json::from_str(text).map_err(|e| FaultConfigError {
            field: "(document)".to_owned(),
            message: format!(
                "{e}; expected e.g. {{\"operations\":{{\"create\":{{\"errorRate\":0.3}}}}}}"
            ),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges that serde cannot.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        for (op, faults) in &self.operations {
            if !(0.0..=1.0).contains(&faults.error_rate) {
                return Err(FaultConfigError {
                    field: format!("operations.{op}.errorRate"),
                    message: format!(
                        "{} is not a fraction; use a number from 0.0 (never) to 1.0 (always)",
                        faults.error_rate
                    ),
                });
            }
        }
        for (i, outage) in self.outages.iter().enumerate() {
            if outage.duration.is_zero() {
                return Err(FaultConfigError {
                    field: format!("outages[{i}].duration"),
                    message: "an outage must last longer than 0s, e.g. \"30s\"".to_owned(),
                });
            }
        }
        if self.timeout_hang > Duration::from_secs(600) {
            return Err(FaultConfigError {
                field: "timeoutHang".to_owned(),
                message: "at most 10m; a client times out long before that".to_owned(),
            });
        }
        Ok(())
    }

    /// The quota of a zone, if any.
    pub fn zone_quota(&self, zone: &str) -> Option<u32> {
        self.zone_quotas
            .get(zone)
            .or_else(|| self.zone_quotas.get("*"))
            .copied()
    }
}

/// Why a call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// Inside an outage window.
    Outage,
    /// Within `failFirst`.
    FailFirst,
    /// Drawn by `errorRate`.
    ErrorRate,
}

/// What happens to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultDecision {
    /// Wait this long before answering.
    pub delay: Duration,
    /// `Some` if the call fails.
    pub failure: Option<(FaultKind, FailureCause)>,
}

/// Decides the fate of call number `call_index` (0-based since the configuration was applied)
/// of `op`, `since_applied` after the configuration was applied. Pure: same inputs, same answer.
pub fn decide(
    config: &FaultConfig,
    seed: u64,
    op: Operation,
    call_index: u64,
    since_applied: Duration,
) -> FaultDecision {
    let in_outage = config.outages.iter().any(|o| {
        (o.operations.is_empty() || o.operations.contains(&op))
            && since_applied >= o.starts_after
            && since_applied < o.starts_after.saturating_add(o.duration)
    });
    if in_outage {
        return FaultDecision {
            delay: Duration::ZERO,
            failure: Some((FaultKind::Unavailable, FailureCause::Outage)),
        };
    }
    let Some(faults) = config.operations.get(&op) else {
        return FaultDecision {
            delay: Duration::ZERO,
            failure: None,
        };
    };
    let jitter = faults
        .latency_jitter
        .mul_f64(unit_interval(seed, op, call_index, 1));
    let delay = faults.latency.saturating_add(jitter);
    let failure = if call_index < faults.fail_first {
        Some((faults.error_kind, FailureCause::FailFirst))
    } else if unit_interval(seed, op, call_index, 0) < faults.error_rate {
        Some((faults.error_kind, FailureCause::ErrorRate))
    } else {
        None
    };
    FaultDecision { delay, failure }
}

/// A number in [0, 1) determined by its inputs (SplitMix64 finaliser over a mix of them).
fn unit_interval(seed: u64, op: Operation, call_index: u64, stream: u64) -> f64 {
    let op_code = match op {
        Operation::Create => 1u64,
        Operation::Get => 2,
        Operation::List => 3,
        Operation::Delete => 4,
    };
    let mixed = splitmix(
        splitmix(seed)
            ^ splitmix(op_code.wrapping_mul(0x100).wrapping_add(stream))
            ^ splitmix(call_index.wrapping_add(0x5EED)),
    );
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The live fault configuration with its call counters; shared by all request handlers.
#[derive(Debug)]
pub struct FaultInjector {
    default_seed: u64,
    active: Mutex<Active>,
}

#[derive(Debug)]
struct Active {
    config: FaultConfig,
    applied_at: Instant,
    calls: [AtomicU64; 4],
}

impl Active {
    fn new(config: FaultConfig) -> Self {
        Self {
            config,
            applied_at: Instant::now(),
            calls: Default::default(),
        }
    }
}

fn op_slot(op: Operation) -> usize {
    match op {
        Operation::Create => 0,
        Operation::Get => 1,
        Operation::List => 2,
        Operation::Delete => 3,
    }
}

impl FaultInjector {
    /// Starts with `config` (validated by the caller) and the cloud's default seed.
    pub fn new(config: FaultConfig, default_seed: u64) -> Self {
        Self {
            default_seed,
            active: Mutex::new(Active::new(config)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the configuration; call numbering and outage windows restart from now.
    pub fn set(&self, config: FaultConfig) -> Result<(), FaultConfigError> {
        config.validate()?;
        *self.lock() = Active::new(config);
        Ok(())
    }

    /// The current configuration.
    pub fn config(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// Numbers this call of `op` and decides its fate.
    pub fn decide(&self, op: Operation) -> FaultDecision {
        let (config, since, index) = {
            let active = self.lock();
            let index = active.calls[op_slot(op)].fetch_add(1, Ordering::SeqCst);
            (active.config.clone(), active.applied_at.elapsed(), index)
        };
        decide(
            &config,
            config.seed.unwrap_or(self.default_seed),
            op,
            index,
            since,
        )
    }

    /// The quota of a zone, if any.
    pub fn zone_quota(&self, zone: &str) -> Option<u32> {
        self.lock().config.zone_quota(zone)
    }

    /// How long a timeout fault holds a request.
    pub fn timeout_hang(&self) -> Duration {
        self.lock().config.timeout_hang
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> FaultConfig {
        FaultConfig::from_json(json).unwrap()
    }

    fn failures(cfg: &FaultConfig, seed: u64, op: Operation, calls: u64) -> Vec<u64> {
        (0..calls)
            .filter(|i| decide(cfg, seed, op, *i, Duration::ZERO).failure.is_some())
            .collect()
    }

    #[test]
    fn same_seed_same_failures_other_seed_other_failures() {
        let cfg = config(r#"{"operations":{"create":{"errorRate":0.3}}}"#);
        let a = failures(&cfg, 7, Operation::Create, 1000);
        assert_eq!(a, failures(&cfg, 7, Operation::Create, 1000));
        assert_ne!(a, failures(&cfg, 8, Operation::Create, 1000));
        // The rate is honoured within sampling noise (±5 % of 1000 calls).
        assert!((250..=350).contains(&a.len()), "{}", a.len());
        // Operations without faults never fail.
        assert!(failures(&cfg, 7, Operation::Get, 1000).is_empty());
    }

    #[test]
    fn fail_first_fails_exactly_the_first_calls() {
        let cfg = config(r#"{"operations":{"delete":{"failFirst":3,"errorKind":"notFound"}}}"#);
        assert_eq!(failures(&cfg, 0, Operation::Delete, 50), vec![0, 1, 2]);
        assert_eq!(
            decide(&cfg, 0, Operation::Delete, 0, Duration::ZERO).failure,
            Some((FaultKind::NotFound, FailureCause::FailFirst))
        );
    }

    #[test]
    fn outage_window_covers_only_its_time_and_operations() {
        let cfg = config(
            r#"{"outages":[{"startsAfter":"10s","duration":"5s","operations":["create"]}]}"#,
        );
        let at = |op, secs| decide(&cfg, 0, op, 0, Duration::from_secs(secs)).failure;
        assert_eq!(at(Operation::Create, 9), None);
        assert_eq!(
            at(Operation::Create, 10),
            Some((FaultKind::Unavailable, FailureCause::Outage))
        );
        assert!(at(Operation::Create, 14).is_some());
        assert_eq!(at(Operation::Create, 15), None);
        assert_eq!(at(Operation::List, 12), None);
    }

    #[test]
    fn latency_and_jitter_stay_in_range_and_repeat() {
        let cfg = config(r#"{"operations":{"get":{"latency":"100ms","latencyJitter":"50ms"}}}"#);
        for i in 0..200 {
            let d = decide(&cfg, 3, Operation::Get, i, Duration::ZERO).delay;
            assert!(d >= Duration::from_millis(100) && d < Duration::from_millis(150));
            assert_eq!(d, decide(&cfg, 3, Operation::Get, i, Duration::ZERO).delay);
        }
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let err =
            FaultConfig::from_json(r#"{"operations":{"list":{"errorRate":1.5}}}"#).unwrap_err();
        assert_eq!(err.field, "operations.list.errorRate");
        let err = FaultConfig::from_json(r#"{"outages":[{"duration":"0s"}]}"#).unwrap_err();
        assert_eq!(err.field, "outages[0].duration");
        let err = FaultConfig::from_json(r#"{"operations":{"reboot":{}}}"#).unwrap_err();
        assert!(err.message.contains("reboot"), "{}", err.message);
        let err =
            FaultConfig::from_json(r#"{"operations":{"get":{"latency":"soon"}}}"#).unwrap_err();
        assert!(err.message.contains("soon"), "{}", err.message);
    }

    #[test]
    fn zone_quota_falls_back_to_star() {
        let cfg = config(r#"{"zoneQuotas":{"zone-a":1,"*":5}}"#);
        assert_eq!(cfg.zone_quota("zone-a"), Some(1));
        assert_eq!(cfg.zone_quota("zone-b"), Some(5));
        assert_eq!(FaultConfig::default().zone_quota("zone-b"), None);
    }

    #[test]
    fn injector_numbers_calls_and_restarts_on_set() {
        let injector =
            FaultInjector::new(config(r#"{"operations":{"create":{"failFirst":2}}}"#), 0);
        let fails: Vec<bool> = (0..4)
            .map(|_| injector.decide(Operation::Create).failure.is_some())
            .collect();
        assert_eq!(fails, [true, true, false, false]);
        injector
            .set(config(r#"{"operations":{"create":{"failFirst":1}}}"#))
            .unwrap();
        assert!(injector.decide(Operation::Create).failure.is_some());
        assert!(injector.decide(Operation::Create).failure.is_none());
    }
}
