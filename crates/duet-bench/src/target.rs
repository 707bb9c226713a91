//! A server under test: Duet (this build or the previous one, on SQLite or on a fresh
//! PostgreSQL database) or the reference relay, started as a child process on a free
//! loopback port and stopped (and its database dropped) when the scenario is done.
//!
//! Accounts are seeded through Duet's own store code with one argon2 hash computed
//! once, because an HTTP signup costs one argon2 hash of server CPU (tens of
//! milliseconds) and thousands of them would dominate the suite's time. Everything
//! after the account row goes through the real protocol: the profile, the search
//! and the sockets. The access tokens are minted with the known signing secret by
//! Duet's own `Keys`; the storm scenario logs in over HTTP instead.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use duet::auth::Keys;
use duet::clock::{Clock, SystemClock};
use duet::config::StorageSettings;
use duet::store::{NewUser, Store};
use sqlx::Connection;
use tokio::process::{Child, Command};

use crate::{PASSWORD, SECRET};

/// What to start.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A Duet binary; `postgres` is a server URL on which a fresh database is made.
    Duet { bin: PathBuf, postgres: Option<String> },
    /// The reference relay binary.
    Relay { bin: PathBuf },
}

/// One server to measure, with the name it has in results ("duet", "prev", "refrelay").
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub kind: Kind,
    /// Chat frames per second per connection the server allows (Duet's `--msg-rate`).
    pub msg_rate: u32,
}

impl Spec {
    pub fn is_relay(&self) -> bool {
        matches!(self.kind, Kind::Relay { .. })
    }

    pub fn storage(&self) -> &'static str {
        match &self.kind {
            Kind::Duet { postgres: Some(_), .. } => "postgres",
            Kind::Duet { .. } => "sqlite",
            Kind::Relay { .. } => "none",
        }
    }
}

/// A user the generator acts as.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub token: String,
}

/// A running server.
pub struct Server {
    pub spec: Spec,
    pub base: String,
    pub ws_base: String,
    pub pid: u32,
    child: Child,
    _data: tempfile::TempDir,
    database: Option<PgDatabase>,
    seeded: i64,
}

impl Server {
    pub async fn start(spec: &Spec) -> anyhow::Result<Server> {
        let port = free_port()?;
        let data = tempfile::tempdir()?;
        let mut database = None;
        let mut cmd = match &spec.kind {
            Kind::Duet { bin, postgres } => {
                let mut cmd = Command::new(bin);
                cmd.arg("serve")
                    .arg(format!("--bind=127.0.0.1:{port}"))
                    .arg(format!("--data-dir={}", data.path().display()))
                    .arg(format!("--jwt-secret={SECRET}"))
                    // Generous limits: the generator is one client address.
                    .args(["--rate-signup=100000/min", "--rate-login=100000/min"])
                    .args(["--rate-search=100000/min", "--rate-default=1000000/min"])
                    .arg(format!("--msg-rate={}", spec.msg_rate))
                    .arg(format!("--msg-burst={}", spec.msg_rate))
                    .arg("--log=warn");
                if let Some(server_url) = postgres {
                    let db = PgDatabase::create(server_url).await?;
                    cmd.arg(format!("--database-url={}", db.url));
                    database = Some(db);
                }
                cmd
            }
            Kind::Relay { bin } => {
                let mut cmd = Command::new(bin);
                cmd.arg(format!("--bind=127.0.0.1:{port}")).arg(format!("--jwt-secret={SECRET}"));
                cmd
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit()).kill_on_drop(true);
        let child = cmd.spawn().with_context(|| format!("cannot start {:?}", spec.kind))?;
        let pid = child.id().context("the server exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let server = Server {
            spec: spec.clone(),
            ws_base: format!("ws://127.0.0.1:{port}"),
            base,
            pid,
            child,
            _data: data,
            database,
            seeded: 0,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/health", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("{} did not answer /health within 60 s", self.spec.name)
    }

    /// `n` more accounts with access tokens. Duet: rows written through its store,
    /// all with the hash of [`PASSWORD`]; the relay has no accounts (any user id with
    /// a valid token exists), so only tokens are minted.
    pub async fn seed_users(&mut self, n: usize, hash: &str) -> anyhow::Result<Vec<User>> {
        let keys = Keys::new(SECRET.as_bytes(), "duet", Duration::from_secs(6 * 3600));
        let now = SystemClock.now();
        let mut users = Vec::with_capacity(n);
        match &self.spec.kind {
            Kind::Relay { .. } => {
                for _ in 0..n {
                    self.seeded += 1;
                    let id = self.seeded;
                    users.push(User {
                        id,
                        username: format!("u{id}"),
                        token: keys.issue(duet::ids::UserId(id), 0, now),
                    });
                }
            }
            Kind::Duet { .. } => {
                let store = self.store().await?;
                for _ in 0..n {
                    self.seeded += 1;
                    let username = format!("bench{}", self.seeded);
                    let row = store
                        .create_user(NewUser {
                            username: &username,
                            email: None,
                            password_hash: hash,
                            role: "user",
                            now,
                        })
                        .await
                        .map_err(|e| anyhow::anyhow!("seeding {username}: {e}"))?;
                    let token = keys.issue(row.user_id(), row.token_version, now);
                    users.push(User { id: row.id, username, token });
                }
                store.close().await;
            }
        }
        Ok(users)
    }

    /// The server's own database, opened beside it (after its start, so it has run its
    /// own migrations first).
    async fn store(&self) -> anyhow::Result<Store> {
        let settings = StorageSettings {
            data_dir: self._data.path().to_path_buf(),
            database_url: self.database.as_ref().map(|d| d.url.parse().expect("infallible")),
            database_max_connections: 4,
        };
        Store::connect(&settings).await
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s) and drops its database.
    pub async fn stop(mut self) {
        // SAFETY: kill with a pid of our own child has no memory effects.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        if let Some(db) = self.database.take() {
            db.drop_database().await;
        }
    }
}

/// The argon2 hash of [`PASSWORD`], computed once per run with Duet's own hasher.
pub async fn password_hash() -> anyhow::Result<String> {
    Ok(duet::auth::password::hash(PASSWORD.to_owned()).await?)
}

fn free_port() -> anyhow::Result<u16> {
    // The listener is dropped before the server binds; a race with another process
    // taking the port in between is possible but harmless (the start then fails).
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A database of its own on the PostgreSQL server, dropped after the run.
struct PgDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(server_url: &str) -> anyhow::Result<PgDatabase> {
        let name = format!("duet_bench_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .with_context(|| "cannot reach PostgreSQL for the persistence scenario")?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
        conn.close().await.ok();
        let (prefix, rest) = server_url.rsplit_once('/').context("a database URL has a path")?;
        let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
        Ok(PgDatabase { server_url: server_url.to_owned(), url: format!("{prefix}/{name}{query}"), name })
    }

    async fn drop_database(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.server_url).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}
