//! Authentication's pure parts: password hashing ([`password`], argon2id), access
//! tokens ([`jwt`], short-lived HS256 JWTs carrying the user's token version, so
//! bumping the version on logout or ban revokes them at once), the signing secret,
//! sign-up rules, refresh-token material (opaque, stored only as a hash), and
//! [`AuthError`], why a presented token does not authenticate.
//!
//! The use cases (sign-up, login, refresh rotation with reuse detection, logout,
//! account deletion, checking a token) are `accounts::Accounts`.

pub mod jwt;
pub mod password;
mod secret;
pub mod turn;
pub mod validate;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
pub use crate::types::Role;

pub use jwt::{Keys, TokenError};
pub use secret::load_signing_secret;
pub use turn::{turn_credentials, TurnCredentials};
pub use validate::plausible_email;

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

/// A new refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Refresh tokens are stored as their SHA-256: a database leak does not leak sessions.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
