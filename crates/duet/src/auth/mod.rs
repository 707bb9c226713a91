//! Accounts and sessions: signup, login, refresh-token rotation with reuse detection,
//! logout, and checking the access token of every authenticated request or socket.
//!
//! Passwords are argon2id ([`password`]); access tokens are short-lived HS256 JWTs
//! ([`jwt`]) carrying the user's token version, so bumping the version (logout, ban)
//! revokes them at once; refresh tokens are opaque, stored hashed, rotated on use
//! ([`crate::store`] keeps the families). HTTP handlers and the CLI call in here.

pub mod jwt;
pub mod password;
mod secret;
pub mod validate;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::clock::Timestamp;
use crate::http::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::profile::OwnProfile;
use crate::store::{NewUser, RefreshRecord, RevokeReason, Rotation, UserRow};

pub use jwt::{Keys, TokenError};
pub use secret::load_signing_secret;
pub use validate::plausible_email;

/// What an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn from_stored(text: &str) -> Role {
        if text == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// 3–32 of `A-Z a-z 0-9 _ . -`, unique ignoring case.
    #[schema(example = "linh_92")]
    pub username: String,
    /// 8–128 characters.
    #[schema(example = "correct horse battery")]
    pub password: String,
    #[schema(example = "linh@example.com")]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The session's refresh token: its family is revoked. Without it every refresh
    /// token of the account is revoked.
    pub refresh_token: Option<String>,
}

/// A fresh token pair and the account it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: OwnProfile,
}

/// Why a presented access token does not authenticate. The HTTP edge maps it to 401,
/// 403 `banned` or 500; the socket edge to 4001, 4002 or 1011.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, wrongly signed, expired, or for a deleted account.
    #[error("missing, invalid or expired access token")]
    Invalid,
    /// Valid signature but issued before a logout or ban.
    #[error("access token has been revoked")]
    Revoked,
    /// The account is banned until the given time.
    #[error("account banned until {}", .0.to_datetime().to_rfc3339())]
    Banned(Timestamp),
    /// The store did not answer.
    #[error("database: {0}")]
    Store(#[from] sqlx::Error),
}

/// Checks an access token and loads its user. The ban check comes before the version
/// check so a banned user learns about the ban rather than seeing a revoked token.
pub async fn authenticate(state: &AppState, token: &str) -> Result<UserRow, AuthError> {
    let now = state.clock.now();
    let (id, ver) = state.keys.verify(token, now).map_err(|_| AuthError::Invalid)?;
    let user = state.store.user(id).await?.ok_or(AuthError::Invalid)?;
    if let Some(until) = user.ban_in_force(now) {
        return Err(AuthError::Banned(until));
    }
    if user.token_version != ver {
        return Err(AuthError::Revoked);
    }
    Ok(user)
}

pub async fn signup(state: &AppState, req: SignupRequest) -> Result<TokenResponse, ApiError> {
    let email = req.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    validate::signup(&req.username, &req.password, email)?;
    let hash = password::hash(req.password).await?;
    let now = state.clock.now();
    let user = state
        .store
        .create_user(NewUser {
            username: &req.username,
            email,
            password_hash: &hash,
            role: Role::User.as_str(),
            now,
        })
        .await?;
    state.metrics.auth_events.with_label_values(&["signup"]).inc();
    tracing::info!(user_id = user.id, "account created");
    start_session(state, &user, now).await
}

pub async fn login(state: &AppState, req: LoginRequest) -> Result<TokenResponse, ApiError> {
    let user = state.store.user_by_username(req.username.trim()).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(req.password, stored).await? {
        state.metrics.auth_events.with_label_values(&["login_failed"]).inc();
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "incorrect username or password"));
    }
    let user = user.expect("verify is false without a stored hash");
    let now = state.clock.now();
    // Only now, after a correct password, may the ban be revealed.
    if let Some(until) = user.ban_in_force(now) {
        return Err(ApiError::banned(until));
    }
    state.metrics.auth_events.with_label_values(&["login"]).inc();
    start_session(state, &user, now).await
}

pub async fn refresh(state: &AppState, req: RefreshRequest) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now();
    let refresh_token = new_refresh_token();
    let rotation = state
        .store
        .rotate_refresh_token(
            &hash_refresh_token(&req.refresh_token),
            &hash_refresh_token(&refresh_token),
            now,
            now.plus(state.settings.auth.refresh_ttl),
        )
        .await?;
    let invalid =
        || ApiError::new(ErrorCode::InvalidRefreshToken, "refresh token is invalid, expired or revoked");
    let user_id = match rotation {
        Rotation::Rotated { user_id, .. } => user_id,
        Rotation::Reused { user_id } => {
            state.metrics.auth_events.with_label_values(&["refresh_reuse"]).inc();
            tracing::warn!(user_id = user_id.0, "refresh token reused; its family is revoked");
            return Err(ApiError::new(
                ErrorCode::RefreshTokenReused,
                "refresh token was already used; sign in again",
            ));
        }
        Rotation::Revoked { user_id, reason: RevokeReason::Ban } => {
            let user = state.store.user(user_id).await?.ok_or_else(invalid)?;
            return Err(user.ban_in_force(now).map(ApiError::banned).unwrap_or_else(invalid));
        }
        Rotation::Revoked { .. } | Rotation::Expired | Rotation::Unknown => return Err(invalid()),
    };
    let user = state.store.user(user_id).await?.ok_or_else(invalid)?;
    if let Some(until) = user.ban_in_force(now) {
        return Err(ApiError::banned(until));
    }
    state.metrics.auth_events.with_label_values(&["refresh"]).inc();
    Ok(token_response(state, &user, refresh_token, now))
}

/// Revokes the session's refresh family (or all of them) and every access token
/// issued until now, and withdraws any search. A room is not ended.
pub async fn logout(state: &AppState, user: &UserRow, req: LogoutRequest) -> Result<(), ApiError> {
    let family = match req.refresh_token.as_deref() {
        Some(token) => state.store.refresh_token_family(&hash_refresh_token(token), user.user_id()).await?,
        None => None,
    };
    state.store.logout(user.user_id(), family.as_deref(), state.clock.now()).await?;
    state.matchmaker.cancel(user.user_id()).await?;
    state.events.publish(crate::events::Event::TokensRevoked { user: user.user_id() });
    state.metrics.auth_events.with_label_values(&["logout"]).inc();
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The account's password, to confirm.
    pub password: String,
}

/// Erases the account after checking its password: search withdrawn, room ended
/// (`account_deleted`), then profile, avatar, tokens and messages deleted. Reports by
/// or about the user keep the bare id for moderators.
pub async fn delete_account(
    state: &AppState,
    user: &UserRow,
    req: DeleteAccountRequest,
) -> Result<(), ApiError> {
    if !password::verify(req.password, Some(user.password_hash.clone())).await? {
        return Err(ApiError::field("password", "is incorrect"));
    }
    state.matchmaker.cancel(user.user_id()).await?;
    // Re-read after the search is gone: a match made meanwhile has a room to end too.
    let current = state.store.user(user.user_id()).await?.and_then(|u| u.current_room_id);
    if let Some(room_id) = current {
        state.rooms.end(room_id, crate::room::EndReason::AccountDeleted).await?;
    }
    state.store.delete_user(user.user_id()).await?;
    state.events.publish(crate::events::Event::TokensRevoked { user: user.user_id() });
    state.metrics.auth_events.with_label_values(&["account_deleted"]).inc();
    tracing::info!(user_id = user.id, "account deleted");
    Ok(())
}

/// Creates an administrator account (from the command line).
pub async fn create_admin(
    state_store: &crate::store::Store,
    username: &str,
    password: String,
    now: Timestamp,
) -> Result<UserId, ApiError> {
    validate::signup(username, &password, None)?;
    let hash = password::hash(password).await?;
    let user = state_store
        .create_user(NewUser { username, email: None, password_hash: &hash, role: Role::Admin.as_str(), now })
        .await?;
    Ok(user.user_id())
}

/// A new login: a new refresh family and its first token.
async fn start_session(state: &AppState, user: &UserRow, now: Timestamp) -> Result<TokenResponse, ApiError> {
    let refresh_token = new_refresh_token();
    let family = uuid::Uuid::new_v4().to_string();
    state
        .store
        .insert_refresh_token(&RefreshRecord {
            user_id: user.user_id(),
            family: &family,
            token_hash: &hash_refresh_token(&refresh_token),
            issued_at: now,
            expires_at: now.plus(state.settings.auth.refresh_ttl),
        })
        .await?;
    Ok(token_response(state, user, refresh_token, now))
}

fn token_response(state: &AppState, user: &UserRow, refresh_token: String, now: Timestamp) -> TokenResponse {
    TokenResponse {
        access_token: state.keys.issue(user.user_id(), user.token_version, now),
        refresh_token,
        token_type: "bearer",
        expires_in: state.keys.ttl().as_secs(),
        user: OwnProfile::from_row(user, &state.settings, now),
    }
}

/// 256 random bits, URL-safe.
fn new_refresh_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Refresh tokens are stored as their SHA-256: a database leak does not leak sessions.
fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
