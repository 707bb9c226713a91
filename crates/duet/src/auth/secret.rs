//! The JWT signing secret: the configured one, or one generated on first start and
//! kept in the database so restarts and other instances keep accepting tokens.

use base64::Engine;
use rand::RngCore;

use crate::clock::Timestamp;
use crate::config::Settings;
use crate::store::Store;

pub async fn load_signing_secret(
    settings: &Settings,
    store: &Store,
    now: Timestamp,
) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &settings.auth.jwt_secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let candidate = base64::engine::general_purpose::STANDARD.encode(bytes);
    let stored = store.get_or_create_secret("jwt_secret", &candidate, now).await?;
    if stored == candidate {
        tracing::info!("generated a JWT signing secret and stored it in the database");
    }
    Ok(stored.into_bytes())
}
