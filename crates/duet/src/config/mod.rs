//! Every setting of the server, read once at start and checked before anything runs.
//!
//! Settings come, highest precedence first, from command-line flags, `DUET_*`
//! environment variables, an optional TOML file (`--config`) and SPEC defaults. The
//! typed tree below is the single source: its doc comments are the `--help` text and
//! the README's configuration table is checked against it by a test. `main` calls
//! [`parse_cli`]; the rest of the server only ever sees a validated [`Settings`].

mod cli;
mod file;
mod table;
pub mod units;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

pub use cli::{parse_cli, AdminCommand, Cli, Command, DemoArgs, ServeArgs};
pub use table::markdown_table;
use units::{parse_duration, parse_size};
pub use units::{Rate, Secret};

/// The whole configuration of one server process.
#[derive(Clone, Debug, Args)]
pub struct Settings {
    #[command(flatten, next_help_heading = "Server")]
    pub server: ServerSettings,
    #[command(flatten, next_help_heading = "Storage")]
    pub storage: StorageSettings,
    #[command(flatten, next_help_heading = "Accounts and tokens")]
    pub auth: AuthSettings,
    #[command(flatten, next_help_heading = "Profiles")]
    pub profile: ProfileSettings,
    #[command(flatten, next_help_heading = "HTTP rate limits (per client address and per user)")]
    pub rate_limits: RateLimitSettings,
    #[command(flatten, next_help_heading = "Matching")]
    pub matching: MatchingSettings,
    #[command(flatten, next_help_heading = "Rooms")]
    pub room: RoomSettings,
    #[command(flatten, next_help_heading = "Real-time")]
    pub realtime: RealtimeSettings,
    #[command(flatten, next_help_heading = "Voice calls")]
    pub calls: CallSettings,
    #[command(flatten, next_help_heading = "Moderation")]
    pub moderation: ModerationSettings,
}

#[derive(Clone, Debug, Args)]
pub struct ServerSettings {
    /// Address and port to listen on.
    #[arg(long, env = "DUET_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Origins (comma-separated, e.g. https://duet.example) allowed to call the API
    /// cross-origin and to open WebSockets; empty means the server's own origin only.
    #[arg(long, env = "DUET_ALLOWED_ORIGINS", value_delimiter = ',', default_value = "")]
    pub allowed_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (only behind proxies that append
    /// to it): the address `--proxy-count` places from the right, the first hop no
    /// trusted proxy wrote.
    #[arg(long, env = "DUET_TRUST_FORWARDED_FOR", default_value_t = false, action = ArgAction::Set)]
    pub trust_forwarded_for: bool,
    /// How many proxies in front of the server append to `X-Forwarded-For` (with
    /// `--trust-forwarded-for`); a header with fewer addresses than this is ignored.
    #[arg(long, env = "DUET_PROXY_COUNT", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub proxy_count: u8,
    /// Largest accepted request body outside avatar uploads.
    #[arg(long, env = "DUET_MAX_BODY_BYTES", default_value = "64KiB", value_parser = parse_size)]
    pub max_body_bytes: u64,
    /// How long shutdown waits for connections and writes to finish.
    #[arg(long, env = "DUET_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Log line format.
    #[arg(long, env = "DUET_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info` or `duet=debug,tower_http=info`.
    #[arg(long, env = "DUET_LOG", default_value = "info")]
    pub log: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Args)]
pub struct StorageSettings {
    /// Folder for the embedded SQLite database (used when no database URL is set).
    #[arg(long, env = "DUET_DATA_DIR", default_value = "duet-data")]
    pub data_dir: PathBuf,
    /// Database to use: `sqlite://path` or `postgres://user@host/db`; unset means an
    /// SQLite file `duet.db` inside the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Most database connections the pool opens.
    #[arg(long, env = "DUET_DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
    /// How long PostgreSQL may take to answer the readiness check and the outage
    /// watchdog before it counts as unavailable (API calls then answer 503
    /// `database_unavailable` at once); SQLite, a local file, is not timed.
    #[arg(long, env = "DUET_DATABASE_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub database_timeout: Duration,
}

#[derive(Clone, Debug, Args)]
pub struct AuthSettings {
    /// HS256 signing secret for access tokens (at least 32 bytes), the same on every
    /// instance; required with PostgreSQL. Unset on SQLite means one is generated on
    /// first start and kept in the file `jwt-secret` (0600) in the data folder.
    #[arg(long, env = "DUET_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// `iss` claim written into and required from every access token.
    #[arg(long, env = "DUET_JWT_ISSUER", default_value = "duet")]
    pub jwt_issuer: String,
    /// Lifetime of an access token.
    #[arg(long, env = "DUET_ACCESS_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_ttl: Duration,
    /// Lifetime of a refresh token (each refresh rotates it).
    #[arg(long, env = "DUET_REFRESH_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_ttl: Duration,
}

#[derive(Clone, Debug, Args)]
pub struct ProfileSettings {
    /// Youngest age, in years on the server's date, that may search.
    #[arg(long, env = "DUET_MIN_AGE", default_value_t = 18)]
    pub min_age: u32,
    /// Largest avatar upload.
    #[arg(long, env = "DUET_MAX_AVATAR_BYTES", default_value = "5MiB", value_parser = parse_size)]
    pub max_avatar_bytes: u64,
}

#[derive(Clone, Debug, Args)]
pub struct RateLimitSettings {
    /// Login attempts.
    #[arg(long, env = "DUET_RATE_LOGIN", default_value = "5/min")]
    pub rate_login: Rate,
    /// Sign-ups per device (the `X-Duet-Device` id a client sends; per address for a
    /// client that names none).
    #[arg(long, env = "DUET_RATE_SIGNUP", default_value = "5/h")]
    pub rate_signup: Rate,
    /// Sign-ups per client address, whatever the devices (a café or a carrier's shared
    /// address holds many people; this bounds one who invents device ids).
    #[arg(long, env = "DUET_RATE_SIGNUP_ADDRESS", default_value = "60/h")]
    pub rate_signup_address: Rate,
    /// Search requests.
    #[arg(long, env = "DUET_RATE_SEARCH", default_value = "10/min")]
    pub rate_search: Rate,
    /// Avatar uploads.
    #[arg(long, env = "DUET_RATE_AVATAR", default_value = "10/min")]
    pub rate_avatar: Rate,
    /// Every other API call.
    #[arg(long, env = "DUET_RATE_DEFAULT", default_value = "600/min")]
    pub rate_default: Rate,
}

#[derive(Clone, Debug, Args)]
pub struct MatchingSettings {
    /// A search ticket expires after this long.
    #[arg(long, env = "DUET_SEARCH_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub search_timeout: Duration,
    /// Two users are not matched again within this time.
    #[arg(long, env = "DUET_REMATCH_COOLDOWN", default_value = "1h", value_parser = parse_duration)]
    pub rematch_cooldown: Duration,
    /// After this wait a ticket no longer needs a shared need (the random fallback).
    #[arg(long, env = "DUET_FALLBACK_AFTER", default_value = "30s", value_parser = parse_duration)]
    pub fallback_after: Duration,
}

#[derive(Clone, Debug, Args)]
pub struct RoomSettings {
    /// A like round opens this long after the room starts or the previous round.
    #[arg(long, env = "DUET_LIKE_AFTER", default_value = "300s", value_parser = parse_duration)]
    pub like_after: Duration,
    /// Time to answer a like round.
    #[arg(long, env = "DUET_LIKE_ANSWER_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub like_answer_window: Duration,
    /// A room that is not kept ends after this long without a message.
    #[arg(long, env = "DUET_INACTIVITY_TIMEOUT", default_value = "15m", value_parser = parse_duration)]
    pub inactivity_timeout: Duration,
    /// Every room ends this long after it started.
    #[arg(long, env = "DUET_ROOM_MAX_AGE", default_value = "24h", value_parser = parse_duration)]
    pub room_max_age: Duration,
    /// A room with no chat socket open for this long ends as abandoned.
    #[arg(long, env = "DUET_ABANDON_GRACE", default_value = "10m", value_parser = parse_duration)]
    pub abandon_grace: Duration,
    /// Keep a room's messages after it ends instead of erasing them.
    #[arg(long, env = "DUET_KEEP_MESSAGES_AFTER_END", default_value_t = false, action = ArgAction::Set)]
    pub keep_messages_after_end: bool,
    /// A participant may report the partner until this long after the room ended.
    #[arg(long, env = "DUET_REPORT_WINDOW", default_value = "24h", value_parser = parse_duration)]
    pub report_window: Duration,
}

#[derive(Clone, Debug, Args)]
pub struct RealtimeSettings {
    /// Largest WebSocket frame; larger ones close the socket with 1009.
    #[arg(long, env = "DUET_MAX_FRAME_BYTES", default_value = "16KiB", value_parser = parse_size)]
    pub max_frame_bytes: u64,
    /// Longest chat message, in characters after trimming.
    #[arg(long, env = "DUET_MAX_MESSAGE_CHARS", default_value_t = 1000)]
    pub max_message_chars: u32,
    /// Chat frames per second allowed on one connection.
    #[arg(long, env = "DUET_MSG_RATE", default_value_t = 5)]
    pub msg_rate: u32,
    /// Chat frames a connection may send at once before the steady rate applies.
    #[arg(long, env = "DUET_MSG_BURST", default_value_t = 20)]
    pub msg_burst: u32,
    /// Invalid frames within a minute that close the socket with 4008.
    #[arg(long, env = "DUET_MAX_INVALID_FRAMES", default_value_t = 20)]
    pub max_invalid_frames: u32,
    /// The server pings every socket this often; a client that sends nothing (no
    /// frame, no pong) for two intervals is closed with 1001 and shown away.
    #[arg(long, env = "DUET_PING_INTERVAL", default_value = "8s", value_parser = parse_duration)]
    pub ping_interval: Duration,
    /// A socket whose writes make no progress for this long (the client stopped
    /// reading) is closed with 1001 and shown away.
    #[arg(long, env = "DUET_SOCKET_WRITE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub socket_write_timeout: Duration,
}

#[derive(Clone, Debug, Args)]
pub struct CallSettings {
    /// A call not answered within this long ends as missed.
    #[arg(long, env = "DUET_CALL_RING_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub call_ring_timeout: Duration,
    /// A call ends as disconnected when a participant's chat socket stays closed this
    /// long (the audio goes peer to peer, so a short reconnect does not end it).
    #[arg(long, env = "DUET_CALL_RECONNECT_GRACE", default_value = "15s", value_parser = parse_duration)]
    pub call_reconnect_grace: Duration,
    /// STUN and TURN servers (comma-separated `stun:`, `turn:` or `turns:` URLs) that
    /// clients use to connect calls; none by default, so only peers that reach each
    /// other directly (on one network) connect.
    #[arg(long, env = "DUET_ICE_SERVERS", value_delimiter = ',', default_value = "")]
    pub ice_servers: Vec<String>,
    /// Shared secret of the TURN servers (coturn's `static-auth-secret`): clients get
    /// short-lived credentials derived from it, never the secret. Required with TURN URLs.
    #[arg(long, env = "DUET_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<Secret>,
    /// How long TURN credentials handed to a client stay valid.
    #[arg(long, env = "DUET_TURN_CREDENTIAL_TTL", default_value = "1h", value_parser = parse_duration)]
    pub turn_credential_ttl: Duration,
}

impl CallSettings {
    /// The configured ICE server URLs (empty entries left out).
    pub fn ice_urls(&self) -> impl Iterator<Item = &str> {
        self.ice_servers.iter().map(|u| u.trim()).filter(|u| !u.is_empty())
    }

    /// Whether calls go through TURN: TURN URLs with their secret.
    pub fn has_turn(&self) -> bool {
        self.turn_secret.is_some() && self.ice_urls().any(is_turn_url)
    }
}

/// A `turn:` or `turns:` URL (a relay that needs credentials), not a `stun:` one.
pub fn is_turn_url(url: &str) -> bool {
    url.starts_with("turn:") || url.starts_with("turns:")
}

#[derive(Clone, Debug, Args)]
pub struct ModerationSettings {
    /// Messages copied into a report as evidence.
    #[arg(long, env = "DUET_REPORT_EVIDENCE_MESSAGES", default_value_t = 50)]
    pub report_evidence_messages: u32,
    /// Distinct reporters within the window that ban a user automatically.
    #[arg(long, env = "DUET_AUTOBAN_REPORTERS", default_value_t = 5)]
    pub autoban_reporters: u32,
    /// Window in which reports count towards an automatic ban.
    #[arg(long, env = "DUET_AUTOBAN_WINDOW", default_value = "30d", value_parser = parse_duration)]
    pub autoban_window: Duration,
    /// Length of an automatic ban, in days.
    #[arg(long, env = "DUET_AUTOBAN_DAYS", default_value_t = 1)]
    pub autoban_days: u32,
    /// How long a report's evidence (its copy of messages) is kept: from the report,
    /// or from its resolution if that comes later; then it is erased.
    #[arg(long, env = "DUET_EVIDENCE_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub evidence_retention: Duration,
}

/// A setting whose value parsed but cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting --{setting}: {reason}")]
pub struct InvalidSetting {
    pub setting: &'static str,
    pub reason: String,
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> InvalidSetting {
    InvalidSetting { setting, reason: reason.into() }
}

/// The database a [`StorageSettings`] points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl StorageSettings {
    /// The URL to connect to, after applying the data-dir default.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("duet.db").display()),
        }
    }

    /// The SQLite database file, when the database is an SQLite file (not in memory).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.effective_database_url();
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The folder of the server's own files: the SQLite database's folder, or the data
    /// dir when the database is elsewhere.
    pub fn data_folder(&self) -> PathBuf {
        match self.sqlite_path().as_deref().and_then(|p| p.parent()) {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            Some(_) => PathBuf::from("."),
            None => self.data_dir.clone(),
        }
    }

    pub fn database_kind(&self) -> Result<DatabaseKind, InvalidSetting> {
        let url = self.effective_database_url();
        if url.starts_with("sqlite:") {
            Ok(DatabaseKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseKind::Postgres)
        } else {
            Err(invalid("database-url", "must start with sqlite: or postgres://"))
        }
    }
}

impl Settings {
    /// Checks what clap's parsers cannot: relations between settings and value ranges.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.storage.database_kind()?;
        if self.storage.database_max_connections == 0 {
            return Err(invalid("database-max-connections", "must be at least 1"));
        }
        if let Some(secret) = &self.auth.jwt_secret {
            if secret.expose().len() < 32 {
                return Err(invalid("jwt-secret", "must be at least 32 bytes long"));
            }
        } else if self.storage.database_kind()? == DatabaseKind::Postgres {
            return Err(invalid(
                "jwt-secret",
                "is required with PostgreSQL: give every instance the same secret of at least 32 \
                 bytes (for example from `openssl rand -base64 48`). A database used by an earlier \
                 version holds the secret it generated; use that one to keep issued tokens valid: \
                 SELECT value FROM server_secrets WHERE name = 'jwt_secret'",
            ));
        }
        if self.auth.jwt_issuer.trim().is_empty() {
            return Err(invalid("jwt-issuer", "must not be empty"));
        }
        if self.auth.refresh_ttl <= self.auth.access_ttl {
            return Err(invalid("refresh-ttl", "must be longer than --access-ttl"));
        }
        if !(13..=120).contains(&self.profile.min_age) {
            return Err(invalid("min-age", "must be between 13 and 120"));
        }
        for origin in self.server.allowed_origins.iter().filter(|o| !o.is_empty()) {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.trim_end_matches('/').contains(|c: char| c.is_whitespace())
                && origin.split("://").nth(1).is_some_and(|h| !h.is_empty() && !h.contains('/'));
            if !ok {
                return Err(invalid(
                    "allowed-origins",
                    format!("`{origin}` is not an origin like https://duet.example"),
                ));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.server.log).is_err() {
            return Err(invalid("log", format!("`{}` is not a log filter", self.server.log)));
        }
        if self.room.like_answer_window >= self.room.like_after {
            return Err(invalid("like-answer-window", "must be shorter than --like-after"));
        }
        if self.realtime.max_message_chars == 0 {
            return Err(invalid("max-message-chars", "must be at least 1"));
        }
        if self.realtime.msg_rate == 0 || self.realtime.msg_burst == 0 {
            return Err(invalid("msg-rate", "--msg-rate and --msg-burst must be at least 1"));
        }
        if self.realtime.max_invalid_frames == 0 {
            return Err(invalid("max-invalid-frames", "must be at least 1"));
        }
        if self.realtime.ping_interval < Duration::from_secs(1) {
            return Err(invalid("ping-interval", "must be at least 1s"));
        }
        if self.realtime.socket_write_timeout < Duration::from_millis(100) {
            return Err(invalid("socket-write-timeout", "must be at least 100ms"));
        }
        self.validate_calls()?;
        if self.moderation.autoban_reporters == 0 {
            return Err(invalid("autoban-reporters", "must be at least 1"));
        }
        if self.moderation.autoban_days == 0 {
            return Err(invalid("autoban-days", "must be at least 1"));
        }
        Ok(())
    }

    fn validate_calls(&self) -> Result<(), InvalidSetting> {
        let calls = &self.calls;
        if calls.call_ring_timeout < Duration::from_secs(1) {
            return Err(invalid("call-ring-timeout", "must be at least 1s"));
        }
        if calls.call_reconnect_grace < Duration::from_secs(1) {
            return Err(invalid("call-reconnect-grace", "must be at least 1s"));
        }
        for url in calls.ice_urls() {
            let scheme_ok = is_turn_url(url) || url.starts_with("stun:") || url.starts_with("stuns:");
            if !scheme_ok
                || url.contains(char::is_whitespace)
                || url.split_once(':').is_some_and(|(_, h)| h.is_empty())
            {
                return Err(invalid("ice-servers", format!("`{url}` is not a stun:, turn: or turns: URL")));
            }
            if is_turn_url(url) && calls.turn_secret.is_none() {
                return Err(invalid("turn-secret", format!("is required with the TURN server `{url}`")));
            }
        }
        if calls.turn_secret.as_ref().is_some_and(|s| s.expose().is_empty()) {
            return Err(invalid("turn-secret", "must not be empty"));
        }
        if calls.turn_credential_ttl < Duration::from_secs(60) {
            return Err(invalid("turn-credential-ttl", "must be at least 60s"));
        }
        Ok(())
    }

    /// How many proxies append to `X-Forwarded-For`, when the server trusts it.
    pub fn forwarded_hops(&self) -> Option<u8> {
        self.server.trust_forwarded_for.then_some(self.server.proxy_count)
    }

    /// Origins allowed besides the server's own; empty when only same-origin is allowed.
    pub fn extra_origins(&self) -> impl Iterator<Item = &str> {
        self.server.allowed_origins.iter().map(|o| o.trim_end_matches('/')).filter(|o| !o.is_empty())
    }
}
