//! Cloud errors → machine codes: the one table that decides how the machine controller
//! reacts to a failed cloud call.
//!
//! The controller retries by code (contract: short retry for transient codes, long retry
//! for `ResourceExhausted`, `InvalidArgument` waits for the MachineClass to change, a
//! `NotFound` on delete counts as done). So the code must say what the failure *means*:
//!
//! | cloud error | machine code | controller reaction |
//! |---|---|---|
//! | `NotFound` | `NotFound` | create: make the VM; delete: done |
//! | `QuotaExceeded` | `ResourceExhausted` | back off (`--resource-exhausted-retry`) |
//! | `InvalidRequest` | `InvalidArgument` | wait for a fixed MachineClass |
//! | `Unauthenticated` | `Unauthenticated` | wait for fixed credentials |
//! | `PermissionDenied` | `PermissionDenied` | wait for fixed permissions |
//! | `Conflict` | `AlreadyExists` | medium retry |
//! | `Throttled`, `Unavailable` | `Unavailable` | short retry |
//! | `Timeout` | `DeadlineExceeded` | short retry |
//! | `Internal` | `Internal` | medium retry |
//!
//! Messages say which call failed for which machine, plus the cloud's text, which never
//! contains credentials or user data.

use mcm_api::{Code, Status};

use crate::cloud::CloudError;

/// The machine code for a cloud error.
pub fn code_for(error: &CloudError) -> Code {
    match error {
        CloudError::NotFound { .. } => Code::NotFound,
        CloudError::QuotaExceeded { .. } => Code::ResourceExhausted,
        CloudError::InvalidRequest { .. } => Code::InvalidArgument,
        CloudError::Unauthenticated { .. } => Code::Unauthenticated,
        CloudError::PermissionDenied { .. } => Code::PermissionDenied,
        CloudError::Conflict { .. } => Code::AlreadyExists,
        CloudError::Throttled { .. } | CloudError::Unavailable { .. } => Code::Unavailable,
        CloudError::Timeout { .. } => Code::DeadlineExceeded,
        CloudError::Internal { .. } => Code::Internal,
    }
}

/// The status error for a failed cloud call: `what` says which call for which object,
/// e.g. `creating VM for machine m-1`.
pub fn status_for(what: &str, error: &CloudError) -> Status {
    Status::new(code_for(error), format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> String {
        "m".to_owned()
    }

    #[test]
    fn every_cloud_error_has_its_code() {
        let table = [
            (CloudError::NotFound { message: msg() }, Code::NotFound),
            (
                CloudError::QuotaExceeded { message: msg() },
                Code::ResourceExhausted,
            ),
            (
                CloudError::InvalidRequest {
                    field: "zone".into(),
                    message: msg(),
                },
                Code::InvalidArgument,
            ),
            (
                CloudError::Unauthenticated { message: msg() },
                Code::Unauthenticated,
            ),
            (
                CloudError::PermissionDenied { message: msg() },
                Code::PermissionDenied,
            ),
            (CloudError::Conflict { message: msg() }, Code::AlreadyExists),
            (CloudError::Throttled { message: msg() }, Code::Unavailable),
            (
                CloudError::Unavailable { message: msg() },
                Code::Unavailable,
            ),
            (
                CloudError::Timeout { message: msg() },
                Code::DeadlineExceeded,
            ),
            (CloudError::Internal { message: msg() }, Code::Internal),
        ];
        for (error, code) in table {
            assert_eq!(code_for(&error), code, "{error:?}");
        }
    }

    #[test]
    fn the_status_text_says_what_failed_in_go_form() {
        let status = status_for(
            "creating VM for machine m-1",
            &CloudError::QuotaExceeded {
                message: "zone-a allows 3 instances".into(),
            },
        );
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.to_string(),
            "machine codes error: code = [ResourceExhausted] message = [creating VM for machine \
             m-1: quota exceeded: zone-a allows 3 instances]"
        );
    }
}
