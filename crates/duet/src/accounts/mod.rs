//! Accounts and sessions, the use cases: sign-up, login, refresh-token rotation with
//! reuse detection, logout, account deletion, creating an administrator, and checking
//! the access token of every authenticated request or socket. Built once with its
//! dependencies ([`AccountDeps`]); the HTTP handlers, the sockets and the CLI call it.
//!
//! Passwords, tokens and their rules are [`crate::auth`]'s; the refresh families are
//! kept by [`crate::store`]. Profiles, avatars and status are [`Profiles`].

mod failures;
mod profiles;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{hash_refresh_token, new_refresh_token, password, validate, AuthError, Keys};
use crate::clock::{SharedClock, Timestamp};
use crate::events::{Event, Events};
use crate::ids::UserId;
use crate::matching::{Matchmaker, SearchError};
use crate::metrics::Metrics;
use crate::profile::OwnProfile;
use crate::room::{RoomError, Rooms};
use crate::store::{NewUser, RefreshRecord, RevokeReason, Rotation, Store, StoreError, UserRow};
use crate::types::{EndReason, Role};
use crate::validation::FieldErrors;

pub use profiles::{ProfileDeps, ProfileError, Profiles};

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

impl SignupRequest {
    /// Checks the body against the sign-up rules ([`validate::signup`]) and returns the
    /// email to store: trimmed, and None when blank.
    pub fn checked_email(&self) -> Result<Option<&str>, FieldErrors> {
        let email = self.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        validate::signup(&self.username, &self.password, email)?;
        Ok(email)
    }
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The account's password, to confirm.
    pub password: String,
}

/// Why an account call did not succeed. The HTTP edge gives each its status and code.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// Unknown user or wrong password: one answer for both.
    #[error("incorrect username or password")]
    InvalidCredentials,
    /// This account's failed logins are spent and this address failed for it; retry
    /// after the duration.
    #[error("too many failed logins for this account from this address; try again later")]
    TooManyFailures(Duration),
    #[error("refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    /// A rotated-away refresh token came back; its family is now revoked.
    #[error("refresh token was already used; sign in again")]
    RefreshTokenReused,
    #[error("account banned until {}", .0.to_datetime().to_rfc3339())]
    Banned(Timestamp),
    /// Withdrawing the search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Ending the room failed.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// Includes a taken username or email ([`StoreError::Conflict`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(#[from] crate::cpu::CpuError),
}

crate::store::db_error_into!(AccountError);

/// What accounts need, handed in at start-up.
pub struct AccountDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub keys: Keys,
    /// How long a refresh token lives (`--refresh-ttl`).
    pub refresh_ttl: Duration,
    /// Youngest age that may search, for the profile's `missing` list.
    pub min_age: u32,
    /// Logout and deletion withdraw the search; deletion ends the room.
    pub matchmaker: Matchmaker,
    pub rooms: Rooms,
    /// `TokensRevoked` goes out here; the sockets close on it.
    pub events: Events,
    pub metrics: Metrics,
}

/// The account use cases; a cheap handle: the dependencies, and the failed logins
/// per account.
#[derive(Clone)]
pub struct Accounts(Arc<AccountDeps>, Arc<failures::LoginFailures>);

impl Accounts {
    pub fn new(deps: AccountDeps) -> Accounts {
        Accounts(Arc::new(deps), Arc::default())
    }

    /// Checks an access token and loads its user. The ban check comes before the
    /// version check so a banned user learns about the ban rather than seeing a revoked
    /// token.
    pub async fn authenticate(&self, token: &str) -> Result<UserRow, AuthError> {
        Ok(self.authenticate_until(token).await?.0)
    }

    /// As [`Accounts::authenticate`], with the token's expiry (a socket closes then).
    pub async fn authenticate_until(&self, token: &str) -> Result<(UserRow, Timestamp), AuthError> {
        let now = self.0.clock.now();
        let (id, ver, expires) = self.0.keys.verify_until(token, now).map_err(|_| AuthError::Invalid)?;
        let user = self.0.store.user(id).await?.ok_or(AuthError::Invalid)?;
        if let Some(until) = user.ban_in_force(now) {
            return Err(AuthError::Banned(until));
        }
        if user.token_version != ver {
            return Err(AuthError::Revoked);
        }
        Ok((user, expires))
    }

    pub async fn signup(&self, req: SignupRequest) -> Result<TokenResponse, AccountError> {
        let email = req.checked_email()?.map(str::to_owned);
        let email = email.as_deref();
        let hash = password::hash(req.password).await?;
        let now = self.0.clock.now();
        let user = self
            .0
            .store
            .create_user(NewUser {
                username: &req.username,
                email,
                password_hash: &hash,
                role: Role::User.as_str(),
                now,
            })
            .await?;
        self.count("signup");
        tracing::info!(user_id = user.id, "account created");
        self.start_session(&user, now).await
    }

    /// Signs in from `addr` (the client's address). Failed logins are limited per
    /// account as well (see `failures`): `TooManyFailures` before the password is
    /// checked, for an address that failed for this account once its budget is spent.
    pub async fn login(
        &self,
        req: LoginRequest,
        addr: Option<IpAddr>,
    ) -> Result<TokenResponse, AccountError> {
        let now = self.0.clock.now();
        if req.username.trim().chars().count() > validate::USERNAME_MAX_CHARS {
            // No account has such a name; nothing to remember about it either.
            self.count("login_failed");
            return Err(AccountError::InvalidCredentials);
        }
        let attempt = self.1.begin(&req.username, addr, now).map_err(AccountError::TooManyFailures)?;
        let user = self.0.store.user_by_username(req.username.trim()).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        if !password::verify(req.password, stored).await? {
            self.count("login_failed");
            return Err(AccountError::InvalidCredentials);
        }
        self.1.succeeded(&req.username, attempt);
        let user = user.expect("verify is false without a stored hash");
        // Only now, after a correct password, may the ban be revealed.
        if let Some(until) = user.ban_in_force(now) {
            return Err(AccountError::Banned(until));
        }
        self.count("login");
        self.start_session(&user, now).await
    }

    /// Forgets failed logins that no longer count (housekeeping).
    pub fn forget_old_failures(&self) {
        self.1.forget_old(self.0.clock.now());
    }

    /// Rotates a refresh token. A token presented a second time revokes its family; a
    /// family revoked by a ban answers `Banned` while the ban lasts.
    pub async fn refresh(&self, req: RefreshRequest) -> Result<TokenResponse, AccountError> {
        let now = self.0.clock.now();
        let refresh_token = new_refresh_token();
        let rotation = self
            .0
            .store
            .rotate_refresh_token(
                &hash_refresh_token(&req.refresh_token),
                &hash_refresh_token(&refresh_token),
                now,
                now.plus(self.0.refresh_ttl),
            )
            .await?;
        let user_id = match rotation {
            Rotation::Rotated { user_id, .. } => user_id,
            Rotation::Reused { user_id } => {
                self.count("refresh_reuse");
                tracing::warn!(
                    user_id = user_id.0,
                    "refresh token reused; its family and the user's access tokens are revoked"
                );
                // The sockets opened with those access tokens close too.
                self.0.events.publish(Event::TokensRevoked { user: user_id });
                return Err(AccountError::RefreshTokenReused);
            }
            Rotation::Revoked { user_id, reason: RevokeReason::Ban } => {
                let user = self.0.store.user(user_id).await?.ok_or(AccountError::InvalidRefreshToken)?;
                return Err(user
                    .ban_in_force(now)
                    .map_or(AccountError::InvalidRefreshToken, AccountError::Banned));
            }
            Rotation::Revoked { .. } | Rotation::Expired | Rotation::Unknown => {
                return Err(AccountError::InvalidRefreshToken)
            }
        };
        let user = self.0.store.user(user_id).await?.ok_or(AccountError::InvalidRefreshToken)?;
        if let Some(until) = user.ban_in_force(now) {
            return Err(AccountError::Banned(until));
        }
        self.count("refresh");
        Ok(self.token_response(&user, refresh_token, now))
    }

    /// Revokes the session's refresh family (or all of them) and every access token
    /// issued until now, and withdraws any search. A room is not ended.
    pub async fn logout(&self, user: &UserRow, req: LogoutRequest) -> Result<(), AccountError> {
        let family = match req.refresh_token.as_deref() {
            Some(token) => {
                self.0.store.refresh_token_family(&hash_refresh_token(token), user.user_id()).await?
            }
            None => None,
        };
        self.0.store.logout(user.user_id(), family.as_deref(), self.0.clock.now()).await?;
        self.0.matchmaker.cancel(user.user_id()).await?;
        self.0.events.publish(Event::TokensRevoked { user: user.user_id() });
        self.count("logout");
        Ok(())
    }

    /// Erases the account after checking its password: search withdrawn, room ended
    /// (`account_deleted`), then profile, avatar, tokens and messages deleted. Reports
    /// by or about the user keep the bare id for moderators.
    pub async fn delete_account(
        &self,
        user: &UserRow,
        req: DeleteAccountRequest,
    ) -> Result<(), AccountError> {
        if !password::verify(req.password, Some(user.password_hash.clone())).await? {
            return Err(FieldErrors::one("password", "is incorrect").into());
        }
        self.0.matchmaker.cancel(user.user_id()).await?;
        // Re-read after the search is gone: a match made meanwhile has a room to end too.
        let current = self.0.store.user(user.user_id()).await?.and_then(|u| u.current_room_id);
        if let Some(room_id) = current {
            self.0.rooms.end(room_id, EndReason::AccountDeleted).await?;
        }
        self.0.store.delete_user(user.user_id()).await?;
        self.0.events.publish(Event::TokensRevoked { user: user.user_id() });
        self.count("account_deleted");
        tracing::info!(user_id = user.id, "account deleted");
        Ok(())
    }

    /// A new login: a new refresh family and its first token.
    async fn start_session(&self, user: &UserRow, now: Timestamp) -> Result<TokenResponse, AccountError> {
        let refresh_token = new_refresh_token();
        let family = uuid::Uuid::new_v4().to_string();
        self.0
            .store
            .insert_refresh_token(&RefreshRecord {
                user_id: user.user_id(),
                family: &family,
                token_hash: &hash_refresh_token(&refresh_token),
                issued_at: now,
                expires_at: now.plus(self.0.refresh_ttl),
            })
            .await?;
        Ok(self.token_response(user, refresh_token, now))
    }

    fn token_response(&self, user: &UserRow, refresh_token: String, now: Timestamp) -> TokenResponse {
        TokenResponse {
            access_token: self.0.keys.issue(user.user_id(), user.token_version, now),
            refresh_token,
            token_type: "bearer",
            expires_in: self.0.keys.ttl().as_secs(),
            user: OwnProfile::from_row(user, self.0.min_age, now),
        }
    }

    fn count(&self, event: &str) {
        self.0.metrics.auth_events.with_label_values(&[event]).inc();
    }
}

/// An account made by [`seed_users`], with an access token.
#[derive(Debug, Serialize)]
pub struct SeededUser {
    pub id: i64,
    pub username: String,
    pub access_token: String,
}

/// Creates `count` ordinary accounts named `{prefix}1` … `{prefix}{count}`, all with
/// `password` (hashed once: that is the point, a sign-up costs one argon2 hash), each
/// pushed onto `seeded` with an access token as it is made (from the command line,
/// before the server runs). Stops at the first name that is taken, leaving in `seeded`
/// the accounts made before it; a prefix or password that is invalid creates none.
pub async fn seed_users(
    store: &Store,
    keys: &Keys,
    prefix: &str,
    count: u32,
    password: String,
    now: Timestamp,
    seeded: &mut Vec<SeededUser>,
) -> Result<(), AccountError> {
    // The shortest and the longest name: the others differ only in their digits.
    validate::signup(&format!("{prefix}1"), &password, None)?;
    validate::signup(&format!("{prefix}{count}"), &password, None)?;
    let hash = password::hash(password).await?;
    for i in 1..=count {
        let username = format!("{prefix}{i}");
        let user = store
            .create_user(NewUser {
                username: &username,
                email: None,
                password_hash: &hash,
                role: Role::User.as_str(),
                now,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    AccountError::from(FieldErrors::one("username", format!("{username} is already taken")))
                }
                other => other.into(),
            })?;
        let access_token = keys.issue(user.user_id(), user.token_version, now);
        seeded.push(SeededUser { id: user.id, username, access_token });
    }
    Ok(())
}

/// Creates an administrator account (from the command line, before the server runs).
pub async fn create_admin(
    store: &Store,
    username: &str,
    password: String,
    now: Timestamp,
) -> Result<UserId, AccountError> {
    validate::signup(username, &password, None)?;
    let hash = password::hash(password).await?;
    let user = store
        .create_user(NewUser { username, email: None, password_hash: &hash, role: Role::Admin.as_str(), now })
        .await?;
    Ok(user.user_id())
}
