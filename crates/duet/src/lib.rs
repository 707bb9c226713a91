//! Duet: an anonymous, matched one-to-one chat server.
//!
//! Module map:
//! - [`config`]: every setting (flags, `DUET_*` variables, TOML file), validated once.
//! - [`app`]: startup ([`app::App::build`]), the shared [`app::AppState`], shutdown order.
//! - [`store`]: the database (SQLite or PostgreSQL), migrations and all SQL.
//! - [`auth`]: accounts, passwords, access and refresh tokens.
//! - [`profile`]: vocabulary, profile validation and views, avatars.
//! - [`matching`]: the pure matcher core (indexed tickets, bounded window), ticket
//!   bitsets and icebreakers.
//! - [`room`]: the room state machine (like rounds, keep, timers, ends) and the
//!   deadline queue, both pure; the owner task per room, which pushes its room's
//!   traffic through an outbox, and the batched message writer.
//! - [`moderation`]: bans, reports with evidence, automatic bans.
//! - [`http`]: routers, extractors, middleware, the one error type, API docs.
//! - [`realtime`]: WebSocket endpoints, the broker seam, the rooms' fan-out and the
//!   bridge from matching and account events to status sockets.
//! - [`web`]: the web client (HTML, CSS, JavaScript modules) embedded in the binary,
//!   served at `/` and `/app/`.
//! - [`events`]: the internal channel of room and matching events.
//! - [`tasks`]: bookkeeping of the background loops for `/admin/status`.
//! - [`clock`], [`shutdown`], [`telemetry`], [`metrics`], [`ids`]: time, stopping,
//!   logs, numbers, identifier types.
//!
//! Still to come: a broker for several instances, behind `realtime::Broker`.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod events;
pub mod http;
pub mod ids;
pub mod matching;
pub mod metrics;
pub mod moderation;
pub mod profile;
pub mod realtime;
pub mod room;
pub mod shutdown;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod validation;
pub mod web;
