//! Machine error codes: the vocabulary a driver uses to tell the machine controller
//! *how* a call failed, so the controller can pick a retry period and a phase.
//!
//! The numbers are gRPC's status codes plus one MCM-specific code (`Uninitialized`).
//! The names are part of the wire contract: they appear in
//! `status.lastOperation.errorCode`, inside `status.lastOperation.description`, and in
//! the text form of every status error, and other tools (the MCM binary, Gardener)
//! read them back. Keep them byte-exact.

use std::fmt;

/// A machine error code (MCM `codes.Code`).
///
/// `Code` is a closed set of 18 values. Go's `Code` is an open `uint32` that prints
/// unknown values as `Code(<n>)`; [`Code::from_u32`] and [`Code::name_of`] keep that
/// behaviour for numbers that come from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Code {
    /// Not an error; returned on success. Note that a status *error* built with `OK`
    /// is still an error (MCM's `status.Error(codes.OK, …)` is non-nil).
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Canceled = 1,
    /// Unknown error, or an error text that could not be decoded.
    Unknown = 2,
    /// The client specified an invalid argument (machine name, providerSpec, …).
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// The VM (or another requested entity) was not found.
    NotFound = 5,
    /// A VM with the requested identity exists with incompatible parameters.
    AlreadyExists = 6,
    /// The caller does not have permission to execute the operation.
    PermissionDenied = 7,
    /// Quota or capacity exhausted; retried after `--resource-exhausted-retry`.
    ResourceExhausted = 8,
    /// The VM is in a state in which the operation cannot run.
    FailedPrecondition = 9,
    /// The operation was aborted, typically due to a concurrency issue.
    Aborted = 10,
    /// Out of range; from `GetMachineStatus` it means *several VMs match the machine*,
    /// which makes the controller run the orphan-VM collector.
    OutOfRange = 11,
    /// The provider does not implement this (optional) method.
    Unimplemented = 12,
    /// An internal invariant is broken.
    Internal = 13,
    /// The service is unavailable for now; a retry is likely to succeed.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid credentials.
    Unauthenticated = 16,
    /// The VM was created but its initialization has not been done or failed
    /// (MCM-specific; drives `InitializeMachine`).
    Uninitialized = 17,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 18] = [
        Code::Ok,
        Code::Canceled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
        Code::Uninitialized,
    ];

    /// The numeric value (as used in the `error_code` label of provider metrics).
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The code with this number, if it is one of the 18.
    pub fn from_u32(value: u32) -> Option<Code> {
        Code::ALL.get(usize::try_from(value).ok()?).copied()
    }

    /// The CamelCase name, exactly as MCM prints it (`ResourceExhausted`, `OK`, …).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Canceled => "Canceled",
            Code::Unknown => "Unknown",
            Code::InvalidArgument => "InvalidArgument",
            Code::DeadlineExceeded => "DeadlineExceeded",
            Code::NotFound => "NotFound",
            Code::AlreadyExists => "AlreadyExists",
            Code::PermissionDenied => "PermissionDenied",
            Code::ResourceExhausted => "ResourceExhausted",
            Code::FailedPrecondition => "FailedPrecondition",
            Code::Aborted => "Aborted",
            Code::OutOfRange => "OutOfRange",
            Code::Unimplemented => "Unimplemented",
            Code::Internal => "Internal",
            Code::Unavailable => "Unavailable",
            Code::DataLoss => "DataLoss",
            Code::Unauthenticated => "Unauthenticated",
            Code::Uninitialized => "Uninitialized",
        }
    }

    /// Go's `Code.String()` for any number: the name, or `Code(<n>)` for a number
    /// outside the 18 known codes.
    pub fn name_of(value: u32) -> String {
        match Code::from_u32(value) {
            Some(code) => code.name().to_owned(),
            None => format!("Code({value})"),
        }
    }

    /// Go's `StringToCode`: the exact (case-sensitive, untrimmed) name back to its
    /// code; anything unrecognised is [`Code::Unknown`].
    pub fn from_name(name: &str) -> Code {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.name() == name)
            .unwrap_or(Code::Unknown)
    }

    /// The four codes the controller treats as transient on create and delete
    /// (short retry, `lastKnownState` kept).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Code::Unknown | Code::DeadlineExceeded | Code::Aborted | Code::Unavailable
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_match_mcm() {
        let expected = [
            (0, "OK"),
            (1, "Canceled"),
            (2, "Unknown"),
            (3, "InvalidArgument"),
            (4, "DeadlineExceeded"),
            (5, "NotFound"),
            (6, "AlreadyExists"),
            (7, "PermissionDenied"),
            (8, "ResourceExhausted"),
            (9, "FailedPrecondition"),
            (10, "Aborted"),
            (11, "OutOfRange"),
            (12, "Unimplemented"),
            (13, "Internal"),
            (14, "Unavailable"),
            (15, "DataLoss"),
            (16, "Unauthenticated"),
            (17, "Uninitialized"),
        ];
        assert_eq!(Code::ALL.len(), expected.len());
        for (number, name) in expected {
            let code = Code::from_u32(number).unwrap();
            assert_eq!(code.as_u32(), number);
            assert_eq!(code.name(), name);
            assert_eq!(Code::from_name(name), code);
            assert_eq!(code.to_string(), name);
        }
    }

    #[test]
    fn unknown_numbers_print_like_go() {
        assert_eq!(Code::from_u32(18), None);
        assert_eq!(Code::name_of(18), "Code(18)");
        assert_eq!(Code::name_of(u32::MAX), "Code(4294967295)");
        assert_eq!(Code::name_of(8), "ResourceExhausted");
    }

    #[test]
    fn string_to_code_is_exact() {
        assert_eq!(Code::from_name("notfound"), Code::Unknown);
        assert_eq!(Code::from_name(" NotFound"), Code::Unknown);
        assert_eq!(Code::from_name("Not Found"), Code::Unknown);
        assert_eq!(Code::from_name(""), Code::Unknown);
        assert_eq!(Code::from_name("OK"), Code::Ok);
        assert_eq!(Code::from_name("Ok"), Code::Unknown);
    }

    #[test]
    fn transient_codes_are_the_four() {
        let transient: Vec<_> = Code::ALL.into_iter().filter(|c| c.is_transient()).collect();
        assert_eq!(
            transient,
            [
                Code::Unknown,
                Code::DeadlineExceeded,
                Code::Aborted,
                Code::Unavailable
            ]
        );
    }
}
