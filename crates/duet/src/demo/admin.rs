//! The demo's administrator and the bots' password, kept in the demo folder so that a
//! second run on the same folder logs in to the accounts the first one made.
//!
//! The administrator is made the way `duet admin create` makes one
//! ([`duet::accounts::create_admin`]): it is a person's account, not a bot, and the
//! public API has no route that makes administrators.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use duet::clock::{Clock, SystemClock};
use duet::store::Store;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};

/// The file, in the demo folder, readable by its owner only.
const FILE: &str = "demo-credentials.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credentials {
    pub admin_username: String,
    pub admin_password: String,
    /// The one password of every bot account.
    pub bot_password: String,
    #[serde(skip)]
    pub file: PathBuf,
}

/// The stored credentials when the file is there and its administrator exists in the
/// database; otherwise new ones, with a new administrator, written to the file.
pub async fn ensure(store: &Store, folder: &Path) -> anyhow::Result<Credentials> {
    let file = folder.join(FILE);
    if let Some(mut known) = read(&file) {
        known.file = file.clone();
        if store.user_by_username(&known.admin_username).await.ok().flatten().is_some() {
            return Ok(known);
        }
    }
    let bot_password = read(&file).map(|c| c.bot_password).unwrap_or_else(|| random(20));
    let admin_password = random(20);
    let mut admin_username = "demo_admin".to_owned();
    let mut attempt = 0;
    loop {
        let now = SystemClock.now();
        match duet::accounts::create_admin(store, &admin_username, admin_password.clone(), now).await {
            Ok(_) => break,
            // The name is taken by an account whose password this folder does not hold.
            Err(e) if attempt < 5 => {
                tracing::info!(error = %e, "demo administrator {admin_username} not made; trying another name");
                attempt += 1;
                admin_username = format!("demo_admin_{}", random(4).to_lowercase());
            }
            Err(e) => anyhow::bail!("cannot create the demo administrator: {e}"),
        }
    }
    let credentials = Credentials { admin_username, admin_password, bot_password, file: file.clone() };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    serde_json::to_writer_pretty(&mut out, &credentials)?;
    out.write_all(b"\n")?;
    Ok(credentials)
}

fn read(file: &Path) -> Option<Credentials> {
    let text = std::fs::read_to_string(file).ok()?;
    serde_json::from_str(&text).ok()
}

fn random(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}
