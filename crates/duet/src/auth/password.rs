//! Password hashing with argon2id. Hashing costs tens of milliseconds of CPU and
//! 19 MiB of memory, so it runs on tokio's blocking pool through one gate per process
//! with a permit per core ([`CpuGate`]): 64 logins at once hash two (on two cores) at
//! a time instead of holding 64 × 19 MiB, and a login that waits longer than
//! [`MAX_WAIT`] for its turn is refused as busy (503, `Retry-After`). The memory is
//! given back after each hash, see `main.rs` (`M_MMAP_THRESHOLD`).

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::cpu::{CpuError, CpuGate};

/// Longest a hash waits for a free core before the request is refused as busy.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

static HASHING: LazyLock<CpuGate> = LazyLock::new(|| CpuGate::per_core("password checks", MAX_WAIT));

/// Hashes `password` as a PHC string (argon2id, default parameters).
pub async fn hash(password: String) -> Result<String, CpuError> {
    HASHING
        .run(move || {
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
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, CpuError> {
    HASHING
        .run(move || {
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
