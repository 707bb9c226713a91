//! `/auth`: signup, login, refresh, logout.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{AppJson, AuthUser, ClientAddr};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::accounts::{LoginRequest, LogoutRequest, RefreshRequest, SignupRequest, TokenResponse};

pub fn routes(state: &AppState) -> Routes {
    OpenApiRouter::new()
        .merge(limited(state, LimitClass::Signup, OpenApiRouter::new().routes(routes!(signup))))
        .merge(limited(state, LimitClass::Login, OpenApiRouter::new().routes(routes!(login))))
        .merge(limited(
            state,
            LimitClass::Default,
            OpenApiRouter::new().routes(routes!(refresh)).routes(routes!(logout)),
        ))
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = TokenResponse),
        (status = 400, description = "Invalid fields (`validation_error`) or body (`bad_request`)", body = ErrorBody),
        (status = 409, description = "`username_taken` or `email_taken`", body = ErrorBody),
        (status = 503, description = "Every core is busy with password checks; see Retry-After", body = ErrorBody),
    ))]
async fn signup(
    State(state): State<AppState>,
    AppJson(req): AppJson<SignupRequest>,
) -> Result<(StatusCode, AppJson<TokenResponse>), ApiError> {
    Ok((StatusCode::CREATED, AppJson(state.accounts.signup(req).await?)))
}

/// Sign in with username and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: unknown user or wrong password (one message for both)", body = ErrorBody),
        (status = 403, description = "`banned`, shown only after a correct password", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address, or too many failed logins for this account from this address", body = ErrorBody),
        (status = 503, description = "Every core is busy with password checks; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    Ok(AppJson(state.accounts.login(req, addr).await?))
}

/// Exchange a refresh token for a new pair. The old refresh token is revoked;
/// presenting it again revokes every token of its login.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = TokenResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused`", body = ErrorBody),
        (status = 403, description = "`banned`", body = ErrorBody),
    ))]
async fn refresh(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    Ok(AppJson(state.accounts.refresh(req).await?))
}

/// Sign out: revokes this login's refresh tokens (all of them when none is given)
/// and every access token issued until now.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>, description = "Optional; without it every refresh token of the account is revoked"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "A body that is not the JSON above", body = ErrorBody),
    ))]
async fn logout(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional, so it is parsed here rather than by the JSON extractor.
    let req: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {e}")))?
    };
    state.accounts.logout(&user, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
