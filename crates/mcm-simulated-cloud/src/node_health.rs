//! The node-agent knobs of one instance: how healthy its Node should look. They exist so tests can
//! drive MCM's health handling (NotReady, flapping, DiskPressure, slow registration) without a
//! real kubelet misbehaving on cue.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api::Instance;
use crate::duration_text;

/// The status the agent reports for the Node's `Ready` condition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadyMode {
    /// `Ready=True` (the default).
    #[default]
    True,
    /// `Ready=False`, reason `KubeletNotReady`.
    False,
    /// `Ready=Unknown`, reason `NodeStatusUnknown`, as the node lifecycle controller writes when a
    /// kubelet stops posting status.
    Unknown,
}

impl ReadyMode {
    /// The condition status string.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyMode::True => "True",
            ReadyMode::False => "False",
            ReadyMode::Unknown => "Unknown",
        }
    }
}

/// A condition the agent sets on the Node (added, or replacing the agent's own of that type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionOverride {
    /// Condition type, e.g. `DiskPressure` or `KernelDeadlock`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Defaults to `SimulatedCloud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Defaults to a note that the simulated cloud set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A taint the agent keeps on the Node (e.g. `node.gardener.cloud/critical-components-not-ready`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaintSpec {
    /// Taint key.
    pub key: String,
    /// Taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// The knobs. `{}` is a healthy node that registers as soon as the instance runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeHealth {
    /// Status of the `Ready` condition (when not flapping).
    #[serde(default)]
    pub ready: ReadyMode,
    /// Alternate Ready=True / Ready=False every period, starting with True when the knobs are set.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub flap_period: Option<Duration>,
    /// Extra or replaced conditions, e.g. `{"type":"DiskPressure","status":"True"}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionOverride>,
    /// Taints the agent keeps on the Node (removed again when dropped from this list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<TaintSpec>,
    /// Wait this long after the instance is running before registering the Node.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub registration_delay: Option<Duration>,
    /// When false the agent stops refreshing heartbeats (and conditions), like a hung kubelet.
    #[serde(default = "default_true")]
    pub heartbeats: bool,
}

fn default_true() -> bool {
    true
}

impl Default for NodeHealth {
    fn default() -> Self {
        Self {
            ready: ReadyMode::True,
            flap_period: None,
            conditions: Vec::new(),
            taints: Vec::new(),
            registration_delay: None,
            heartbeats: true,
        }
    }
}

/// A knob value that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid node health: field {field}: {message}")]
pub struct NodeHealthError {
    /// JSON path of the field.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl NodeHealth {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), NodeHealthError> {
        if self
            .flap_period
            .is_some_and(|p| p < Duration::from_millis(100))
        {
            return Err(NodeHealthError {
                field: "flapPeriod".into(),
                message: "use at least 100ms (e.g. \"30s\"), or leave it out to stop flapping"
                    .into(),
            });
        }
        for (i, c) in self.conditions.iter().enumerate() {
            if c.type_.is_empty() {
                return Err(NodeHealthError {
                    field: format!("conditions[{i}].type"),
                    message: "name the condition type, e.g. DiskPressure".into(),
                });
            }
            if !matches!(c.status.as_str(), "True" | "False" | "Unknown") {
                return Err(NodeHealthError {
                    field: format!("conditions[{i}].status"),
                    message: format!("{:?} is not True, False or Unknown", c.status),
                });
            }
        }
        for (i, t) in self.taints.iter().enumerate() {
            if t.key.is_empty() {
                return Err(NodeHealthError {
                    field: format!("taints[{i}].key"),
                    message: "a taint needs a key".into(),
                });
            }
            if !matches!(
                t.effect.as_str(),
                "NoSchedule" | "PreferNoSchedule" | "NoExecute"
            ) {
                return Err(NodeHealthError {
                    field: format!("taints[{i}].effect"),
                    message: format!(
                        "{:?} is not NoSchedule, PreferNoSchedule or NoExecute",
                        t.effect
                    ),
                });
            }
        }
        Ok(())
    }

    /// The Ready status at `now`, given that the knobs were set at `since`.
    pub fn ready_at(&self, since: Timestamp, now: Timestamp) -> ReadyMode {
        let Some(period) = self.flap_period.filter(|p| !p.is_zero()) else {
            return self.ready;
        };
        let elapsed_ms = now.duration_since(since).as_millis().max(0) as u128;
        let phase = elapsed_ms / period.as_millis().max(1);
        if phase.is_multiple_of(2) {
            ReadyMode::True
        } else {
            ReadyMode::False
        }
    }
}

/// What the agent knows and has been told about one instance's Node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAgentState {
    /// The knobs.
    pub health: NodeHealth,
    /// When the knobs were last set (flapping counts from here).
    pub health_since: Timestamp,
    /// When the agent registered the Node; `None` before (or without a target cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<Timestamp>,
    /// Set by the re-register admin call: register again even though the Node was registered once
    /// (a kubelet restart after someone deleted the Node).
    #[serde(default)]
    pub reregister_requested: bool,
}

/// An instance with its node-agent state, as `GET /admin/v1/instances` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminInstance {
    /// The instance.
    #[serde(flatten)]
    pub instance: Instance,
    /// Its node-agent state.
    pub node: NodeAgentState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flapping_alternates_starting_ready() {
        let health = NodeHealth {
            flap_period: Some(Duration::from_secs(10)),
            ready: ReadyMode::False,
            ..NodeHealth::default()
        };
        let since: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| health.ready_at(since, since + jiff::SignedDuration::from_secs(s));
        assert_eq!(at(0), ReadyMode::True);
        assert_eq!(at(9), ReadyMode::True);
        assert_eq!(at(10), ReadyMode::False);
        assert_eq!(at(19), ReadyMode::False);
        assert_eq!(at(20), ReadyMode::True);
        let steady = NodeHealth {
            ready: ReadyMode::Unknown,
            ..NodeHealth::default()
        };
        assert_eq!(steady.ready_at(since, since), ReadyMode::Unknown);
    }

    #[test]
    fn defaults_from_empty_json() {
        let h: NodeHealth = serde_json::from_str("{}").unwrap();
        assert_eq!(h, NodeHealth::default());
        assert!(h.heartbeats);
    }

    #[test]
    fn validation_names_fields() {
        let h: NodeHealth =
            serde_json::from_str(r#"{"conditions":[{"type":"DiskPressure","status":"yes"}]}"#)
                .unwrap();
        assert_eq!(h.validate().unwrap_err().field, "conditions[0].status");
        let h: NodeHealth =
            serde_json::from_str(r#"{"taints":[{"key":"k","effect":"Sometimes"}]}"#).unwrap();
        assert_eq!(h.validate().unwrap_err().field, "taints[0].effect");
        let h: NodeHealth = serde_json::from_str(r#"{"flapPeriod":"1ms"}"#).unwrap();
        assert_eq!(h.validate().unwrap_err().field, "flapPeriod");
    }
}
