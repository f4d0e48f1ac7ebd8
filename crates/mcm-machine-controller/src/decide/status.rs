//! Builders for the status the controller writes: `LO(…)` and `CS(…)` of the
//! contract, and the textual pieces MCM puts into descriptions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::GoDuration;
use mcm_api::v1alpha1::{
    CurrentStatus, LastOperation, MachineOperationType, MachinePhase, MachineState,
};

/// `LO(description, state, type)`: a complete new last operation, `errorCode` empty.
pub fn last_operation(
    description: impl Into<String>,
    state: MachineState,
    type_: MachineOperationType,
    now: Timestamp,
) -> LastOperation {
    LastOperation {
        description: description.into(),
        error_code: String::new(),
        last_update_time: Some(Time(now)),
        state,
        type_,
    }
}

/// `LO(description, state, type, code)`.
pub fn last_operation_with_code(
    description: impl Into<String>,
    state: MachineState,
    type_: MachineOperationType,
    error_code: &str,
    now: Timestamp,
) -> LastOperation {
    LastOperation {
        error_code: error_code.to_owned(),
        ..last_operation(description, state, type_, now)
    }
}

/// `CS(phase)`: a complete new current status (`timeoutActive` false, PET dropped).
pub fn current_status(phase: MachinePhase, now: Timestamp) -> CurrentStatus {
    CurrentStatus {
        phase,
        timeout_active: false,
        last_update_time: Some(Time(now)),
        preserve_expiry_time: None,
    }
}

/// `CS(phase, keepPET)`: as [`current_status`] but keeping the preserve expiry time.
pub fn current_status_keep_pet(
    phase: MachinePhase,
    previous: &CurrentStatus,
    now: Timestamp,
) -> CurrentStatus {
    CurrentStatus {
        preserve_expiry_time: previous.preserve_expiry_time.clone(),
        ..current_status(phase, now)
    }
}

/// A signed duration in Go's text form (`20m0s`, `1m30s`).
pub fn go_text(duration: SignedDuration) -> String {
    let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
    GoDuration::from_nanos(nanos).to_string()
}

/// `now − since`, for "joined the cluster in <d>" texts. MCM prints the full
/// (sub-second) duration; our timestamps have second precision on the object.
pub fn elapsed(since: Option<&Time>, now: Timestamp) -> SignedDuration {
    since.map_or(SignedDuration::ZERO, |time| now.duration_since(time.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_text(SignedDuration::from_mins(20)), "20m0s");
        assert_eq!(go_text(SignedDuration::from_secs(90)), "1m30s");
    }

    #[test]
    fn keep_pet_keeps_only_the_expiry() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let previous = CurrentStatus {
            phase: MachinePhase::Running,
            timeout_active: true,
            last_update_time: None,
            preserve_expiry_time: Some(Time(now)),
        };
        let next = current_status_keep_pet(MachinePhase::Unknown, &previous, now);
        assert_eq!(next.preserve_expiry_time, previous.preserve_expiry_time);
        assert!(!next.timeout_active);
        assert_eq!(next.phase, MachinePhase::Unknown);
        assert!(
            current_status(MachinePhase::Failed, now)
                .preserve_expiry_time
                .is_none()
        );
    }
}
