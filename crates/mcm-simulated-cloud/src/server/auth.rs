//! Bearer-token checks. The instance API takes the cloud token (what a provider Secret carries);
//! the admin API takes the admin token, which is the cloud token unless a separate one is set.
//! Answers never echo the presented token.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use super::error::ApiError;
use crate::api::ErrorCode;

/// Constant-time comparison, so response timing does not reveal a token prefix.
fn same_token(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check(req: &Request, expected: &str, which: &str) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(header) = header else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!(
                "missing credentials: send the header 'Authorization: Bearer <token>' with the {which} of this simulated cloud (the provider Secret's token)"
            ),
        ));
    };
    let Some(token) = header.strip_prefix("Bearer ") else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "the Authorization header must have the form 'Bearer <token>'",
        ));
    };
    if !same_token(token.trim(), expected) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!(
                "the bearer token is not valid for this simulated cloud; use the {which} it was started with (--token/--token-file{}), e.g. from the provider Secret",
                if which == "admin token" {
                    ", or --admin-token when set"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

/// Requires the cloud token.
pub async fn require_token(State(app): State<App>, req: Request, next: Next) -> Response {
    match check(&req, &app.settings.token, "token") {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Requires the admin token.
pub async fn require_admin_token(State(app): State<App>, req: Request, next: Next) -> Response {
    let expected = app
        .settings
        .admin_token
        .as_deref()
        .unwrap_or(&app.settings.token);
    match check(&req, expected, "admin token") {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
    }
}
