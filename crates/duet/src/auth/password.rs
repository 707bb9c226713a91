//! Password hashing with argon2id. Hashing costs tens of milliseconds of CPU, so it
//! runs on tokio's blocking pool, inside the caller's span, never on an async worker.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tracing::Instrument;

/// Hashes `password` as a PHC string (argon2id, default parameters).
pub async fn hash(password: String) -> Result<String, tokio::task::JoinError> {
    blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 with default parameters accepts any password")
            .to_string()
    })
    .await
}

/// Checks `password` against `stored`; with no stored hash (unknown user) it checks
/// against a dummy so both cases cost the same and timing does not reveal users.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, tokio::task::JoinError> {
    blocking(move || {
        let found = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = PasswordHash::new(&stored)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && found
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a real password", &salt)
            .expect("argon2 hashes a constant")
            .to_string()
    })
}

async fn blocking<T, F>(work: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work)).instrument(tracing::Span::current()).await
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = super::hash("correct horse".into()).await.unwrap();
        let b = super::hash("correct horse".into()).await.unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(super::verify("correct horse".into(), Some(a.clone())).await.unwrap());
        assert!(!super::verify("wrong horse".into(), Some(a)).await.unwrap());
        assert!(!super::verify("not a real password".into(), None).await.unwrap());
    }
}
