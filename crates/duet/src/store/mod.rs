//! All database access: the connection pool, migrations and every SQL statement.
//!
//! One code path serves SQLite (the embedded default) and PostgreSQL through sqlx's
//! `Any` driver with runtime queries: statements use `$1` placeholders and portable
//! SQL, times are integer milliseconds and lists are comma-separated text, so both
//! backends read the same rows. Each backend has its own migration folder because
//! their DDL differs. Domain modules call the typed functions here; no SQL lives
//! elsewhere.

mod audit;
mod avatars;
mod calls;
mod messages;
mod reports;
mod rooms;
mod secrets;
mod tickets;
mod tokens;
mod users;

use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{watch, Notify};

use crate::config::{DatabaseKind, StorageSettings};

pub use audit::{AuditRow, NewAudit};
pub use avatars::{AvatarImages, AvatarVariant};
pub use calls::CallRow;
pub use messages::{Appended, MessageRow, NewMessage};
pub use reports::{NewReport, ReportFilter, ReportRow};
pub use rooms::{NewRoom, RoomFilter, RoomRow, RoomStateFields};
pub use tickets::TicketRow;
pub use tokens::{RefreshRecord, RevokeReason, Rotation};
pub use users::{AdminUserUpdate, NewUser, ProfileFields, UserFilter, UserRow, UserStatusFilter};

/// Errors of the store that callers handle by meaning rather than as failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken; which one.
    #[error("{} is already taken", .0.what())]
    Conflict(Constraint),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// For domain errors with a `Store(StoreError)` variant: a failed query
/// (`sqlx::Error`) converts with `?`, as `StoreError::Db`. One line per error type
/// instead of the same `From` impl in each module.
macro_rules! db_error_into {
    ($($error:ident),+ $(,)?) => {
        $(impl From<sqlx::Error> for $error {
            fn from(e: sqlx::Error) -> Self {
                $error::Store($crate::store::StoreError::Db(e))
            }
        })+
    };
}
pub(crate) use db_error_into;

/// The unique keys a write can run into, one variant each, so that every caller (and
/// the HTTP edge) knows exactly which was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// `users.username_key`.
    Username,
    /// `users.email`.
    Email,
    /// `search_tickets.user_id`: the user already has a ticket.
    Ticket,
    /// `reports (reporter_id, room_id)`.
    Report,
    /// `messages (room_id, user_id, client_id)`.
    MessageClientId,
    /// `messages (room_id, seq)`.
    MessageSeq,
}

impl Constraint {
    /// What is taken, in words.
    pub fn what(self) -> &'static str {
        match self {
            Constraint::Username => "username",
            Constraint::Email => "email",
            Constraint::Ticket => "a search ticket",
            Constraint::Report => "a report of this room",
            Constraint::MessageClientId => "a message's client_id",
            Constraint::MessageSeq => "a message's seq",
        }
    }

    /// Text that names this key in SQLite's and PostgreSQL's violation reports (the
    /// column list, or the generated constraint name).
    fn marker(self) -> &'static str {
        match self {
            Constraint::Username => "username",
            Constraint::Email => "email",
            Constraint::Ticket => "search_tickets",
            Constraint::Report => "reports",
            Constraint::MessageClientId => "client_id",
            Constraint::MessageSeq => "seq",
        }
    }
}

/// The pool plus what kind of database is behind it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    kind: DatabaseKind,
    /// Signalled after a commit that erased content (a room's messages, an account,
    /// report evidence, the old signing secret), so the SQLite write-ahead log, which still holds the erased rows' pages, is
    /// truncated soon after (see [`Store::truncate_wal`]).
    erased: Arc<Notify>,
    health: Arc<Health>,
}

/// Whether the database answers, as the outage watchdog last found it (PostgreSQL;
/// SQLite, a local file, is always taken as reachable), and the bound on its answers.
#[derive(Debug)]
struct Health {
    reachable: watch::Sender<bool>,
    timeout: Duration,
}

/// How often the outage watchdog pings PostgreSQL.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// How long a caller waits for SQLite's one connection: queueing behind the writer
/// under load, not an outage.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a caller waits for a PostgreSQL connection from the pool (a turn, or a
/// connect). An outage is answered sooner: the watchdog sees it within
/// `--database-timeout` and the HTTP edge then stops waiting (see
/// [`Store::unreachable`]).
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static DRIVERS: Once = Once::new();

impl Store {
    /// Connects (creating the SQLite file and its folder when needed) and migrates.
    pub async fn connect(settings: &StorageSettings) -> anyhow::Result<Store> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let kind = settings.database_kind()?;
        let url = settings.effective_database_url();
        let max = match kind {
            // SQLite has one writer; a single connection turns lock contention into
            // queueing in the pool instead of SQLITE_BUSY errors in the middle of a
            // transaction.
            DatabaseKind::Sqlite => {
                if let Some(path) = settings.sqlite_path() {
                    // The default file's folder is the server's own; a folder named by
                    // a database URL may be shared, and keeps its mode.
                    prepare_sqlite_files(&path, settings.database_url.is_none())?;
                }
                1
            }
            DatabaseKind::Postgres => {
                create_postgres_database(&url).await?;
                settings.database_max_connections
            }
        };
        let is_sqlite = kind == DatabaseKind::Sqlite;
        let acquire_timeout = if is_sqlite { SQLITE_ACQUIRE_TIMEOUT } else { POSTGRES_ACQUIRE_TIMEOUT };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if is_sqlite {
                        // WAL lets readers (backups, the sqlite3 shell) run beside the
                        // server; NORMAL sync is durable at each commit in WAL mode
                        // except on power loss of the last transactions.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        // Deleted rows are overwritten with zeros, in table and index
                        // pages and on the free list, so erased messages and accounts
                        // do not linger in the file's free space.
                        conn.execute("PRAGMA secure_delete = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database ({}): {e}", redact(&url)))?;
        let health =
            Arc::new(Health { reachable: watch::Sender::new(true), timeout: settings.database_timeout });
        let store = Store { pool, kind, erased: Arc::new(Notify::new()), health };
        store.migrate().await?;
        if store.kind == DatabaseKind::Postgres {
            tokio::spawn(watch_postgres(url, store.pool.clone(), store.health.clone()));
        }
        if store.kind == DatabaseKind::Sqlite {
            store.vacuum_once().await?;
        }
        Ok(store)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.kind {
            DatabaseKind::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            DatabaseKind::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&self.pool).await.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))
    }

    /// Rewrites an SQLite database once (`VACUUM`, marked by `user_version` 1): a file
    /// from before `secure_delete` may hold deleted rows in its free space, and the
    /// rewrite copies only live rows. Then the write-ahead log it went through is
    /// truncated.
    async fn vacuum_once(&self) -> anyhow::Result<()> {
        let (version,): (i64,) = sqlx::query_as("PRAGMA user_version").fetch_one(&self.pool).await?;
        if version < 1 {
            sqlx::query("VACUUM").execute(&self.pool).await?;
            sqlx::query("PRAGMA user_version = 1").execute(&self.pool).await?;
            self.truncate_wal().await?;
            tracing::info!("rewrote the database once, so nothing deleted before lingers in it");
        }
        Ok(())
    }

    pub fn kind(&self) -> &DatabaseKind {
        &self.kind
    }

    /// True when the database answers a trivial query: on PostgreSQL within
    /// `--database-timeout` (and false at once while the watchdog finds it
    /// unreachable); on SQLite after waiting for its one connection, since queueing
    /// behind the writer is not an outage.
    pub async fn ping(&self) -> bool {
        let answered = async { sqlx::query("SELECT 1").fetch_one(&self.pool).await.is_ok() };
        match self.kind {
            DatabaseKind::Sqlite => answered.await,
            DatabaseKind::Postgres => {
                self.reachable() && tokio::time::timeout(self.health.timeout, answered).await.unwrap_or(false)
            }
        }
    }

    /// False while the outage watchdog finds the database unreachable (always true on
    /// SQLite).
    pub fn reachable(&self) -> bool {
        *self.health.reachable.borrow()
    }

    /// Resolves when the watchdog finds the database unreachable (at once if it is
    /// now); never on SQLite.
    pub async fn unreachable(&self) {
        let mut reachable = self.health.reachable.subscribe();
        if reachable.wait_for(|up| !*up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Closes the pool; on SQLite the write-ahead log is truncated first, so nothing
    /// erased survives in it after a clean stop.
    pub async fn close(&self) {
        if let Err(e) = self.truncate_wal().await {
            tracing::warn!(error = %e, "truncating the write-ahead log at shutdown failed");
        }
        self.pool.close().await
    }

    /// Notes that a commit erased content; wakes [`Store::erasure_committed`].
    fn erased(&self) {
        self.erased.notify_one();
    }

    /// Waits until a commit has erased content since the last wait returned.
    pub async fn erasure_committed(&self) {
        self.erased.notified().await
    }

    /// On SQLite, copies the write-ahead log into the database file and truncates it to
    /// zero bytes (`wal_checkpoint(TRUNCATE)`), so the page images it holds, those of
    /// erased rows included, are gone from disk. False when a reader outside the
    /// server (a backup, the sqlite3 shell) kept it from completing. PostgreSQL has
    /// nothing to do here: true.
    pub async fn truncate_wal(&self) -> Result<bool, sqlx::Error> {
        if self.kind != DatabaseKind::Sqlite {
            return Ok(true);
        }
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await?;
        Ok(busy == 0)
    }
}

/// The outage watchdog of a PostgreSQL store: a connection of its own, outside the
/// pool, pinged every [`WATCH_EVERY`] with `--database-timeout` as the bound (and
/// opened again with the same bound when it was lost). A ping or a connect that fails
/// or takes longer marks the database unreachable, the next one that answers marks it
/// reachable. Stops when the pool is closed.
async fn watch_postgres(url: String, pool: AnyPool, health: Arc<Health>) {
    let mut conn: Option<AnyConnection> = None;
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        every.tick().await;
        let answered = match conn.as_mut() {
            Some(open) => matches!(tokio::time::timeout(health.timeout, open.ping()).await, Ok(Ok(()))),
            None => match tokio::time::timeout(health.timeout, AnyConnection::connect(&url)).await {
                Ok(Ok(open)) => {
                    conn = Some(open);
                    true
                }
                _ => false,
            },
        };
        if !answered {
            // Lost or stuck: dropped without a goodbye, opened again on the next turn.
            conn = None;
        }
        let changed =
            health.reachable.send_if_modified(|reachable| std::mem::replace(reachable, answered) != answered);
        if changed && answered {
            tracing::info!("the database answers again");
        } else if changed {
            tracing::warn!(timeout = ?health.timeout, "the database does not answer; API calls answer 503 until it does");
        }
    }
}

/// Creates the PostgreSQL database named by `url` when the server has none by that
/// name, as SQLite creates its file: `DATABASE_URL=postgres://…/duet duet serve` works
/// on a server where only the role exists. A role without CREATEDB gets the error.
async fn create_postgres_database(url: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    let exists = sqlx::Postgres::database_exists(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the database server ({}): {e}", redact(url)))?;
    if !exists {
        sqlx::Postgres::create_database(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the database ({}): {e}", redact(url)))?;
        tracing::info!(database = %redact(url), "created the PostgreSQL database");
    }
    Ok(())
}

/// Makes the SQLite database's folder (0700: only the server's user may enter it)
/// when it does not exist, creates the database file 0600 so SQLite's `-wal` and
/// `-shm` files, which take the database file's mode, are 0600 too, and narrows
/// existing files of an earlier version to 0600, and their folder to 0700 when it is
/// the server's own (`own_folder`).
fn prepare_sqlite_files(path: &Path, own_folder: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| anyhow::anyhow!("cannot create the data folder {}: {e}", parent.display()))?;
        let mode = std::fs::metadata(parent)?.permissions().mode();
        if own_folder && mode & 0o077 != 0 {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", parent.display()))?;
            tracing::info!(folder = %parent.display(), "the data folder is now readable by its owner only (0700)");
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create the database file {}: {e}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
                    anyhow::anyhow!("cannot make {} readable by its owner only: {e}", file.display())
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The ids of a stored comma-separated list column (the encoding this module uses for
/// needs, interests and preferred genders).
pub fn list_ids(column: &Option<String>) -> Vec<&str> {
    column.as_deref().map(|l| l.split(',').filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

/// Maps a unique-key violation to [`StoreError::Conflict`] with the first of
/// `candidates` that the database's report names. A violation of a key that is not a
/// candidate stays a database error (a failure, not a meaning).
fn on_unique(err: sqlx::Error, candidates: &[Constraint]) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            if let Some(found) = candidates.iter().find(|c| text.contains(c.marker())) {
                return StoreError::Conflict(*found);
            }
        }
    }
    StoreError::Db(err)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_from_urls() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
