//! The JWT signing secret: the configured one (`--jwt-secret`), or, on SQLite, one
//! generated on first start and kept in its own file, `jwt-secret` (0600), in the data
//! folder. It is never kept in the database: whoever can read the database (a backup,
//! a copy of the file) must not be able to sign tokens. On PostgreSQL, where
//! instances share no file system, every instance is given the same secret by
//! configuration ([`crate::config::Settings::validate`] asks for it).
//!
//! Earlier versions kept the generated secret in the table `server_secrets`. It moves
//! on upgrade: into the file on SQLite (tokens already issued keep working), and on
//! PostgreSQL it is deleted once a configured secret is in use.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;

use crate::config::{DatabaseKind, Settings};
use crate::store::Store;

/// The secret's file name in the data folder.
pub const SECRET_FILE: &str = "jwt-secret";
/// Its name in the `server_secrets` table of earlier versions.
const LEGACY_NAME: &str = "jwt_secret";
/// A secret must be at least this long, as `--jwt-secret` must.
const MIN_LEN: usize = 32;

pub async fn load_signing_secret(settings: &Settings, store: &Store) -> anyhow::Result<Vec<u8>> {
    let legacy = store.stored_secret(LEGACY_NAME).await?;
    if let Some(secret) = &settings.auth.jwt_secret {
        if let Some(old) = legacy {
            store.delete_secret(LEGACY_NAME).await?;
            if old == secret.expose() {
                tracing::info!("deleted the database's copy of the signing secret; --jwt-secret is used");
            } else {
                tracing::warn!(
                    "deleted the signing secret an earlier version kept in the database; it differs \
                     from --jwt-secret, so tokens it signed are no longer accepted"
                );
            }
        }
        return Ok(secret.expose().as_bytes().to_vec());
    }
    if *store.kind() != DatabaseKind::Sqlite {
        anyhow::bail!("PostgreSQL needs --jwt-secret (DUET_JWT_SECRET), the same on every instance");
    }
    let file = settings.storage.data_folder().join(SECRET_FILE);
    let secret = match read_secret_file(&file)? {
        Some(secret) => secret,
        None => {
            let (secret, origin) = match &legacy {
                Some(old) => (old.clone(), "moved the database's signing secret"),
                None => (generate(), "generated a signing secret"),
            };
            write_secret_file(&file, &secret)?;
            tracing::info!(file = %file.display(), "{origin} into its own file");
            secret
        }
    };
    if legacy.is_some() {
        // Only once the file holds it: a crash in between leaves both, never neither.
        store.delete_secret(LEGACY_NAME).await?;
    }
    Ok(secret.into_bytes())
}

fn generate() -> String {
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The secret in `file`, None when there is no such file. A file that others may
/// read is narrowed to 0600, with a warning: the secret may have leaked.
fn read_secret_file(file: &Path) -> anyhow::Result<Option<String>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("cannot read the signing secret {}: {e}", file.display()),
    };
    let mode = std::fs::metadata(file)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            file = %file.display(),
            "the signing secret was readable by other users (mode {:o}); it is now 0600, but \
             replace it if others could read it (delete the file to make a new one; everyone \
             signs in again)",
            mode & 0o777
        );
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    let secret = text.trim().to_owned();
    anyhow::ensure!(
        secret.len() >= MIN_LEN,
        "the signing secret in {} is shorter than {MIN_LEN} bytes; delete the file to make a new one",
        file.display()
    );
    Ok(Some(secret))
}

/// Writes `secret` to `file` as 0600, through a temporary file and a rename, so a
/// crash never leaves a half-written secret.
fn write_secret_file(file: &Path, secret: &str) -> anyhow::Result<()> {
    let temporary = PathBuf::from(format!("{}.tmp", file.display()));
    let written = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        out.write_all(format!("{secret}\n").as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&temporary, file)?;
        // The rename is durable once the folder is: only then may the database's copy go.
        match file.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(folder) => std::fs::File::open(folder)?.sync_all(),
            None => Ok(()),
        }
    })();
    written.map_err(|e| anyhow::anyhow!("cannot write the signing secret {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_secret_reads_back_and_only_its_owner_may_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SECRET_FILE);
        assert_eq!(read_secret_file(&file).unwrap(), None);
        let secret = generate();
        write_secret_file(&file, &secret).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read_secret_file(&file).unwrap(), Some(secret));
    }

    #[test]
    fn a_secret_file_others_can_read_is_narrowed_and_a_short_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SECRET_FILE);
        std::fs::write(&file, format!("{}\n", "s".repeat(40))).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_secret_file(&file).unwrap().unwrap().len(), 40);
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(&file, "short").unwrap();
        assert!(read_secret_file(&file).is_err());
    }
}
