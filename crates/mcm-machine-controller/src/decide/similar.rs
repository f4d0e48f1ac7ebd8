//! MCM's "similar status" rule: a status write is skipped when the new
//! `lastOperation`/`currentStatus` differ from the stored ones only by timestamps
//! and a description that is more than 75 % similar (cloud errors that repeat with
//! new request IDs), unless the stored operation is more than 30 minutes old.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::v1alpha1::MachineStatus;

/// How old the stored last operation may be before a write is forced anyway.
pub const TOLERATED_AGE: SignedDuration = SignedDuration::from_mins(30);

/// Levenshtein distance over bytes (as MCM computes it).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut column: Vec<usize> = (0..=a.len()).collect();
    for (x, &bx) in b.iter().enumerate() {
        column[0] = x + 1;
        let mut last_diagonal = x;
        for (y, &ay) in a.iter().enumerate() {
            let old = column[y + 1];
            let cost = usize::from(ay != bx);
            column[y + 1] = (column[y + 1] + 1)
                .min(column[y] + 1)
                .min(last_diagonal + cost);
            last_diagonal = old;
        }
    }
    column[a.len()]
}

/// `1 − distance / mean length`; NaN for two empty strings, as in Go (so two empty
/// descriptions are compared, and are equal).
pub fn similarity_ratio(a: &str, b: &str) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let mean = (a.len() + b.len()) as f64 / 2.0;
    #[allow(clippy::cast_precision_loss)]
    let changes = levenshtein(a, b) as f64;
    1.0 - changes / mean
}

/// Whether writing `new` over `old` can be skipped.
pub fn is_similar(old: &MachineStatus, new: &MachineStatus, now: Timestamp) -> bool {
    let fresh = |status: &MachineStatus| {
        status
            .last_operation
            .last_update_time
            .as_ref()
            .is_some_and(|time| now.duration_since(time.0) <= TOLERATED_AGE)
    };
    if !fresh(old) || !fresh(new) {
        return false;
    }
    let (a, b) = (&old.last_operation, &new.last_operation);
    let descriptions_match =
        similarity_ratio(&a.description, &b.description) > 0.75 || a.description == b.description;
    let (c, d) = (&old.current_status, &new.current_status);
    descriptions_match
        && a.error_code == b.error_code
        && a.state == b.state
        && a.type_ == b.type_
        && c.phase == d.phase
        && c.timeout_active == d.timeout_active
        && c.preserve_expiry_time == d.preserve_expiry_time
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use mcm_api::v1alpha1::{MachineOperationType, MachinePhase, MachineState};

    fn status(description: &str, updated: Timestamp) -> MachineStatus {
        let mut status = MachineStatus::default();
        status.last_operation.description = description.to_owned();
        status.last_operation.state = MachineState::Failed;
        status.last_operation.type_ = MachineOperationType::Create;
        status.last_operation.last_update_time = Some(Time(updated));
        status.current_status.phase = MachinePhase::CrashLoopBackOff;
        status
    }

    #[test]
    fn levenshtein_matches_known_values() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn repeated_errors_with_new_request_ids_are_similar() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let old = status(
            "Cloud provider message - quota exceeded (request id 1a2b3c)",
            now,
        );
        let new = status(
            "Cloud provider message - quota exceeded (request id 9f8e7d)",
            now,
        );
        assert!(is_similar(&old, &new, now));
    }

    #[test]
    fn a_phase_change_is_never_similar() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let old = status("same", now);
        let mut new = status("same", now);
        new.current_status.phase = MachinePhase::Failed;
        assert!(!is_similar(&old, &new, now));
    }

    #[test]
    fn an_old_stored_operation_forces_the_write() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let old = status("same", now - SignedDuration::from_mins(31));
        let new = status("same", now);
        assert!(!is_similar(&old, &new, now));
        let recent = status("same", now - SignedDuration::from_mins(29));
        assert!(is_similar(&recent, &new, now));
    }

    #[test]
    fn a_never_written_status_is_not_similar() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        assert!(!is_similar(
            &MachineStatus::default(),
            &status("x", now),
            now
        ));
    }

    #[test]
    fn different_descriptions_are_not_similar() {
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let old = status("Initiate node drain", now);
        let new = status("Initiate VM deletion", now);
        assert!(!is_similar(&old, &new, now));
    }
}
