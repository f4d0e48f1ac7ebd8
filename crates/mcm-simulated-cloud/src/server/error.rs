//! The one error type of the HTTP handlers, rendered as `{"error": {...}}` with the status that
//! belongs to its code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, ErrorCode, ErrorDetail};
use crate::store::StoreError;
use crate::validate::Invalid;

/// An API error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidRequest,
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(i: Invalid) -> Self {
        Self::invalid(i.field, i.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::Conflict { .. } => ErrorCode::Conflict,
            StoreError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            StoreError::Closed => ErrorCode::Unavailable,
            StoreError::Persist(_) | StoreError::Corrupt { .. } | StoreError::Task(_) => {
                tracing::error!(error = %e, "state change failed");
                ErrorCode::Internal
            }
        };
        Self::new(code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                retryable: self.code.is_retryable(),
                message: self.message,
                field: self.field,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// Parses a JSON body into `T`; a parse failure is a 400 naming what was expected. serde's
/// messages quote offending values only for fields of the wrong type, never the user data
/// (which is a string where a string is expected).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "(body)",
            format!("the body is not a valid {what}: {e}; see docs/simulated-cloud.md for the JSON shape"),
        )
    })
}
