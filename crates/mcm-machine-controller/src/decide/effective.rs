//! Effective per-machine settings: the Machine's inline configuration when set, the
//! controller flag otherwise (MCM's `getEffective*`).

use k8s_openapi::jiff::SignedDuration;
use mcm_api::GoDuration;
use mcm_api::v1alpha1::Machine;
use mcm_api::well_known::machine_annotations;

use crate::config::ControllerConfig;

fn from_std(duration: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

fn from_go(duration: GoDuration) -> SignedDuration {
    SignedDuration::from_nanos(duration.as_nanos())
}

/// The creation timeout: the `effective-creation-timeout` annotation (if it parses;
/// a bad value is ignored with a warning, as in MCM), then `spec.creationTimeout`,
/// then `--machine-creation-timeout`.
pub fn creation_timeout(machine: &Machine, config: &ControllerConfig) -> SignedDuration {
    if let Some(text) = machine.annotation(machine_annotations::EFFECTIVE_CREATION_TIMEOUT) {
        match GoDuration::parse(text) {
            Ok(value) => return from_go(value),
            Err(error) => tracing::warn!(
                machine = machine.name(),
                %error,
                "ignoring annotation {}",
                machine_annotations::EFFECTIVE_CREATION_TIMEOUT
            ),
        }
    }
    machine
        .spec
        .configuration
        .creation_timeout
        .map_or_else(|| from_std(config.creation_timeout), from_go)
}

/// `spec.healthTimeout` or `--machine-health-timeout`.
pub fn health_timeout(machine: &Machine, config: &ControllerConfig) -> SignedDuration {
    machine
        .spec
        .configuration
        .health_timeout
        .map_or_else(|| from_std(config.health_timeout), from_go)
}

/// `spec.drainTimeout` or `--machine-drain-timeout`.
pub fn drain_timeout(machine: &Machine, config: &ControllerConfig) -> SignedDuration {
    machine
        .spec
        .configuration
        .drain_timeout
        .map_or_else(|| from_std(config.drain_timeout), from_go)
}

/// `spec.inPlaceUpdateTimeout` or `--machine-inplace-update-timeout`.
pub fn inplace_update_timeout(machine: &Machine, config: &ControllerConfig) -> SignedDuration {
    machine
        .spec
        .configuration
        .in_place_update_timeout
        .map_or_else(|| from_std(config.inplace_update_timeout), from_go)
}

/// `spec.maxEvictRetries` or `--machine-max-evict-retries`, capped at
/// drain timeout / 20 s as MCM does.
pub fn max_evict_retries(machine: &Machine, config: &ControllerConfig) -> i32 {
    let configured = machine
        .spec
        .configuration
        .max_evict_retries
        .unwrap_or(config.max_evict_retries);
    let by_timeout = drain_timeout(machine, config).as_secs() / 20;
    let by_timeout = i32::try_from(by_timeout.max(0)).unwrap_or(i32::MAX);
    configured.min(by_timeout)
}

/// `spec.nodeConditions` or `--node-conditions`, split on commas (exact, untrimmed).
pub fn node_conditions(machine: &Machine, config: &ControllerConfig) -> Vec<String> {
    machine
        .spec
        .configuration
        .node_conditions
        .as_deref()
        .unwrap_or(&config.node_conditions)
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// Whether `spec.disableHealthTimeout` is true.
pub fn health_timeout_disabled(machine: &Machine) -> bool {
    machine.spec.configuration.disable_health_timeout == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_beats_spec_beats_flag() {
        let config = ControllerConfig::default();
        let mut machine = Machine::default();
        assert_eq!(
            creation_timeout(&machine, &config),
            SignedDuration::from_mins(20)
        );
        machine.spec.configuration.creation_timeout = Some(GoDuration::from_mins(5));
        assert_eq!(
            creation_timeout(&machine, &config),
            SignedDuration::from_mins(5)
        );
        machine.annotations_mut().insert(
            machine_annotations::EFFECTIVE_CREATION_TIMEOUT.to_owned(),
            "7m".to_owned(),
        );
        assert_eq!(
            creation_timeout(&machine, &config),
            SignedDuration::from_mins(7)
        );
        machine.annotations_mut().insert(
            machine_annotations::EFFECTIVE_CREATION_TIMEOUT.to_owned(),
            "7 minutes".to_owned(),
        );
        assert_eq!(
            creation_timeout(&machine, &config),
            SignedDuration::from_mins(5)
        );
    }

    #[test]
    fn evict_retries_are_capped_by_the_drain_timeout() {
        let config = ControllerConfig::default();
        let mut machine = Machine::default();
        assert_eq!(max_evict_retries(&machine, &config), 360);
        machine.spec.configuration.drain_timeout = Some(GoDuration::from_mins(5));
        assert_eq!(max_evict_retries(&machine, &config), 15);
        machine.spec.configuration.max_evict_retries = Some(3);
        assert_eq!(max_evict_retries(&machine, &config), 3);
    }

    #[test]
    fn node_conditions_are_split_exactly() {
        let config = ControllerConfig::default();
        let mut machine = Machine::default();
        assert_eq!(node_conditions(&machine, &config).len(), 4);
        machine.spec.configuration.node_conditions = Some("A, B".to_owned());
        assert_eq!(node_conditions(&machine, &config), ["A", " B"]);
    }
}
