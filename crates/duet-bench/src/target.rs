//! A server under test: Duet (this build or the previous one, on SQLite or on a fresh
//! PostgreSQL database) or the reference relay, started as a child process on a free
//! loopback port and stopped (and its database dropped) when the scenario is done.
//!
//! Accounts are made before the server starts by the server binary's own
//! `duet admin seed` (one argon2 hash for all of them, because an HTTP sign-up costs
//! one hash of server CPU, tens of milliseconds, and thousands would dominate the
//! suite's time), which also writes an access token for each. Everything after the
//! account row goes through the real protocol: the profile, the search and the
//! sockets; the storm scenario logs in over HTTP. The relay has no accounts: its
//! tokens are minted with the known signing secret by Duet's `Keys`, which the relay
//! checks the same way.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use duet::auth::Keys;
use duet::clock::{Clock, SystemClock};
use serde::Deserialize;
use sqlx::Connection;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::{PASSWORD, SECRET};

/// What to start.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A Duet binary; `postgres` is a server URL on which a fresh database is made.
    /// `seeder` is the binary whose `admin seed` makes its accounts: `bin` itself, or
    /// this build's when `bin` predates the command (a previous build).
    Duet { bin: PathBuf, seeder: PathBuf, postgres: Option<String> },
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

/// A user the generator acts as (as `duet admin seed` writes it).
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    #[serde(rename = "access_token")]
    pub token: String,
}

/// A running server.
pub struct Server {
    pub spec: Spec,
    pub base: String,
    pub ws_base: String,
    pub pid: u32,
    child: Child,
    /// How it was started, to start it again ([`Server::restart`]).
    program: PathBuf,
    args: Vec<String>,
    _data: tempfile::TempDir,
    database: Option<PgDatabase>,
    /// Accounts made before the start, not yet handed out.
    users: std::vec::IntoIter<User>,
}

impl Server {
    /// Starts the server with `users` accounts made beforehand (see [`Server::users`]).
    pub async fn start(spec: &Spec, users: usize) -> anyhow::Result<Server> {
        Server::start_with(spec, users, &[]).await
    }

    /// As [`Server::start`], with `extra` Duet flags (`--name=value`); one naming a flag
    /// the generator sets replaces it.
    pub async fn start_with(spec: &Spec, users: usize, extra: &[String]) -> anyhow::Result<Server> {
        let port = free_port()?;
        let data = tempfile::tempdir()?;
        let mut database = None;
        let seeded;
        let (program, args) = match &spec.kind {
            Kind::Duet { bin, seeder, postgres } => {
                if let Some(server_url) = postgres {
                    database = Some(PgDatabase::create(server_url).await?);
                }
                let storage = storage_args(data.path(), database.as_ref());
                seeded = seed(seeder, &storage, data.path(), users).await?;
                let mut args = vec!["serve".to_owned(), format!("--bind=127.0.0.1:{port}")];
                args.extend(storage);
                args.extend([
                    // Generous limits: the generator is one client address.
                    "--rate-signup=100000/min".to_owned(),
                    "--rate-login=100000/min".to_owned(),
                    "--rate-search=100000/min".to_owned(),
                    "--rate-default=1000000/min".to_owned(),
                    format!("--msg-rate={}", spec.msg_rate),
                    format!("--msg-burst={}", spec.msg_rate),
                    // The seeded tokens last the run; a server refuses tokens that
                    // claim a longer life than its own access TTL.
                    "--access-ttl=6h".to_owned(),
                    "--log=warn".to_owned(),
                ]);
                let name = |flag: &str| flag.split('=').next().unwrap_or(flag).to_owned();
                args.retain(|a| !extra.iter().any(|e| name(e) == name(a)));
                args.extend(extra.iter().cloned());
                (bin.clone(), args)
            }
            Kind::Relay { bin } => {
                seeded = relay_users(users);
                (bin.clone(), vec![format!("--bind=127.0.0.1:{port}"), format!("--jwt-secret={SECRET}")])
            }
        };
        let child = spawn(&program, &args, &spec.kind)?;
        let pid = child.id().context("the server exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let server = Server {
            spec: spec.clone(),
            ws_base: format!("ws://127.0.0.1:{port}"),
            base,
            pid,
            child,
            program,
            args,
            _data: data,
            database,
            users: seeded.into_iter(),
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

    /// `n` of the accounts made at the start, each handed out once.
    pub fn users(&mut self, n: usize) -> anyhow::Result<Vec<User>> {
        let users: Vec<User> = self.users.by_ref().take(n).collect();
        anyhow::ensure!(users.len() == n, "{}: {n} users asked for, {} left", self.spec.name, users.len());
        Ok(users)
    }

    /// Stops the server as an operator restarting it would (SIGTERM: its sockets close
    /// with 1001), starts it again on the same port, data and database, and waits
    /// until it answers. The accounts and their tokens stay valid.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.terminate().await;
        self.child = spawn(&self.program, &self.args, &self.spec.kind)?;
        self.pid = self.child.id().context("the server exited at once")?;
        self.wait_ready().await
    }

    /// SIGTERM, then SIGKILL after 10 s.
    async fn terminate(&mut self) {
        // SAFETY: kill with a pid of our own child has no memory effects.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and drops its database.
    pub async fn stop(mut self) {
        self.terminate().await;
        if let Some(db) = self.database.take() {
            db.drop_database().await;
        }
    }
}

fn spawn(program: &Path, args: &[String], kind: &Kind) -> anyhow::Result<Child> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {kind:?}"))
}

/// The flags that put a Duet process on the run's database: its own data folder, or
/// a PostgreSQL database of its own; and the known signing secret.
fn storage_args(data: &Path, database: Option<&PgDatabase>) -> Vec<String> {
    let mut args = vec![format!("--data-dir={}", data.display()), format!("--jwt-secret={SECRET}")];
    if let Some(db) = database {
        args.push(format!("--database-url={}", db.url));
    }
    args
}

/// Makes `n` accounts named `bench1`… with [`PASSWORD`] through `duet admin seed`,
/// with access tokens valid for the whole run, before the server starts.
async fn seed(seeder: &Path, storage: &[String], data: &Path, n: usize) -> anyhow::Result<Vec<User>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let tokens = data.join("seeded.jsonl");
    let mut child = Command::new(seeder)
        .args(["admin", "seed", "--prefix", "bench", "--access-ttl=6h"])
        .arg(format!("--users={n}"))
        .arg("--emit-tokens")
        .arg(&tokens)
        .args(storage)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", seeder.display()))?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(format!("{PASSWORD}\n").as_bytes()).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    anyhow::ensure!(
        out.status.success(),
        "{} admin seed failed: {}",
        seeder.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = std::fs::read_to_string(&tokens)?;
    text.lines().map(|line| Ok(serde_json::from_str(line)?)).collect()
}

/// The relay's users: any id with a valid token exists, so only tokens are minted.
fn relay_users(n: usize) -> Vec<User> {
    let keys = Keys::new(SECRET.as_bytes(), "duet", Duration::from_secs(6 * 3600));
    let now = SystemClock.now();
    (1..=n as i64)
        .map(|id| User { id, username: format!("u{id}"), token: keys.issue(duet::ids::UserId(id), 0, now) })
        .collect()
}

/// Whether `bin` has `duet admin seed` (builds before it did not).
pub fn can_seed(bin: &Path) -> bool {
    std::process::Command::new(bin)
        .args(["admin", "seed", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
