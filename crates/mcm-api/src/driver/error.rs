//! The error a driver method returns, and how the controller reads its code.
//!
//! In Go a driver returns `(response, error)`, and both can be set at once: an
//! `Uninitialized` error from `GetMachineStatus` must come with the provider ID and
//! node name, and `CreateMachine` may return a `LastKnownState` together with an
//! error. [`DriverError`] therefore carries an optional response.
//!
//! The error itself is normally a [`Status`] (typed code). A driver may also return
//! any other error; the controller then decodes its *text* the way Go's
//! `status.FromError` does, which yields either a code (the text embeds a status
//! error, e.g. after wrapping) or "undecodable" — a distinct case with its own,
//! slower retries.

use std::error::Error as StdError;
use std::fmt;

use crate::codes::Code;
use crate::status::{Decoded, Status, decode_error_text};

/// The result of a driver call.
pub type DriverResult<R> = Result<R, DriverError<R>>;

/// A failed driver call: the error, plus a response when the method contract asks
/// for one alongside the error.
pub struct DriverError<R> {
    error: Box<dyn StdError + Send + Sync + 'static>,
    response: Option<R>,
}

impl<R> DriverError<R> {
    /// An error with a machine code (the normal case).
    pub fn from_status(status: Status) -> DriverError<R> {
        DriverError {
            error: Box::new(status),
            response: None,
        }
    }

    /// An error without a typed machine code. Its text is decoded like Go decodes
    /// errors: undecodable text takes the controller's "undecodable" paths.
    pub fn other(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> DriverError<R> {
        DriverError {
            error: error.into(),
            response: None,
        }
    }

    /// Attaches a response to travel with the error (e.g. provider ID and node name
    /// with `Uninitialized`, or `lastKnownState` with a create error).
    pub fn with_response(mut self, response: R) -> DriverError<R> {
        self.response = Some(response);
        self
    }

    /// The response that travels with the error, if any.
    pub fn response(&self) -> Option<&R> {
        self.response.as_ref()
    }

    /// Takes the response out.
    pub fn into_response(self) -> Option<R> {
        self.response
    }

    /// The typed status, when the driver returned one.
    pub fn status(&self) -> Option<&Status> {
        self.error.downcast_ref::<Status>()
    }

    /// The code as the controller sees it: the typed code of a [`Status`], else the
    /// Go-compatible decoding of the error text.
    pub fn decode(&self) -> Decoded {
        match self.status() {
            Some(status) => Decoded {
                code: status.code(),
                message: status.message().to_owned(),
                decodable: true,
            },
            None => decode_error_text(&self.error.to_string()),
        }
    }

    /// Shorthand for `self.decode().code`.
    pub fn code(&self) -> Code {
        self.decode().code
    }

    /// The error text (for a [`Status`], Go's `machine codes error: …` form); this is
    /// what descriptions embed.
    pub fn text(&self) -> String {
        self.error.to_string()
    }

    /// Changes the response type (e.g. when a helper builds errors generically).
    pub fn map_response<T>(self, f: impl FnOnce(R) -> T) -> DriverError<T> {
        DriverError {
            error: self.error,
            response: self.response.map(f),
        }
    }
}

impl<R> From<Status> for DriverError<R> {
    fn from(status: Status) -> Self {
        DriverError::from_status(status)
    }
}

impl<R> fmt::Debug for DriverError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The response may hold provider state; print only whether there is one.
        f.debug_struct("DriverError")
            .field("error", &self.error.to_string())
            .field("has_response", &self.response.is_some())
            .finish()
    }
}

impl<R> fmt::Display for DriverError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<R> StdError for DriverError<R> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.error.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_status_keeps_its_code_even_with_odd_brackets() {
        // Go would find three bracket groups in this text and call it undecodable;
        // a typed status is never re-parsed (see docs/contract-deviations.md).
        let error: DriverError<()> = Status::not_found("vm [a] [b]").into();
        let decoded = error.decode();
        assert_eq!(decoded.code, Code::NotFound);
        assert!(decoded.decodable);
        assert_eq!(
            error.text(),
            "machine codes error: code = [NotFound] message = [vm [a] [b]]"
        );
    }

    #[test]
    fn other_errors_are_decoded_from_their_text() {
        let wrapped = format!("cloud call failed: {}", Status::unavailable("503"));
        let error: DriverError<()> = DriverError::other(wrapped);
        assert_eq!(error.code(), Code::Unavailable);
        let plain: DriverError<()> = DriverError::other("connection refused");
        let decoded = plain.decode();
        assert!(!decoded.decodable);
        assert_eq!(decoded.code, Code::Unknown);
        assert_eq!(decoded.message, "connection refused");
    }

    #[test]
    fn a_response_can_travel_with_the_error() {
        let error = DriverError::from_status(Status::uninitialized("not yet")).with_response(7);
        assert_eq!(error.response(), Some(&7));
        assert_eq!(error.code(), Code::Uninitialized);
        let mapped = error.map_response(|n| n * 2);
        assert_eq!(mapped.into_response(), Some(14));
    }
}
