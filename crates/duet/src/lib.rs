//! Duet: an anonymous, matched one-to-one chat server.
//!
//! Module map:
//! - [`config`]: every setting (flags, `DUET_*` variables, TOML file), validated once.
//! - [`app`]: startup ([`app::App::build`]), the shared [`app::AppState`], shutdown order.
//! - [`store`]: the database (SQLite or PostgreSQL), migrations and all SQL.
//! - [`auth`]: accounts, passwords, access and refresh tokens.
//! - [`profile`]: vocabulary, profile validation and views, avatars.
//! - [`moderation`]: bans (and, with rooms, reports).
//! - [`http`]: routers, extractors, middleware, the one error type, API docs.
//! - [`clock`], [`shutdown`], [`telemetry`], [`metrics`]: time, stopping, logs, numbers.
//!
//! Still to come, each as its own module beside these: `matching` (a pure matcher core
//! with a thin service that writes tickets and rooms through `store`), `room` (the
//! room state machine and its deadline queue), and `realtime` (socket loops, one owner
//! task per room, the broker seam for several instances). They plug in through
//! [`app::AppState`] and [`http::router`]; user status already derives from the
//! `current_room_id` column rooms will set.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod moderation;
pub mod profile;
pub mod shutdown;
pub mod store;
pub mod telemetry;
