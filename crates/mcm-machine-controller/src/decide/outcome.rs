//! A driver call's result as the decisions see it: success, or a failure with its
//! code (typed or decoded from text), the error text for descriptions, and the
//! response that may travel with the error.

use mcm_api::Code;
use mcm_api::driver::DriverResult;

/// The decoded result of one driver call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome<R> {
    /// The call succeeded.
    Ok(R),
    /// The call failed.
    Failed(CallFailure<R>),
}

/// A failed driver call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure<R> {
    /// The machine code (`Unknown` when undecodable).
    pub code: Code,
    /// Whether the error carried a machine code (typed, or text Go can decode).
    pub decodable: bool,
    /// The full error text, embedded in descriptions.
    pub text: String,
    /// A response returned together with the error.
    pub response: Option<R>,
}

impl<R> CallOutcome<R> {
    /// Decodes a driver result.
    pub fn from_result(result: DriverResult<R>) -> CallOutcome<R> {
        match result {
            Ok(response) => CallOutcome::Ok(response),
            Err(error) => {
                let decoded = error.decode();
                let text = error.text();
                CallOutcome::Failed(CallFailure {
                    code: decoded.code,
                    decodable: decoded.decodable,
                    text,
                    response: error.into_response(),
                })
            }
        }
    }
}

impl<R> From<DriverResult<R>> for CallOutcome<R> {
    fn from(result: DriverResult<R>) -> Self {
        CallOutcome::from_result(result)
    }
}
