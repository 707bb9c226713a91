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
//!   deadline queue; both pure.
//! - [`moderation`]: bans (and, with rooms, reports).
//! - [`http`]: routers, extractors, middleware, the one error type, API docs.
//! - [`events`]: the internal channel of room and matching events.
//! - [`tasks`]: bookkeeping of the background loops for `/admin/status`.
//! - [`clock`], [`shutdown`], [`telemetry`], [`metrics`], [`ids`]: time, stopping,
//!   logs, numbers, identifier types.
//!
//! Still to come: the matching and room services around the pure cores (tickets and
//! rooms written atomically through `store`, the lifecycle task driving the deadline
//! queue, the internal event channel), and `realtime` (socket loops, one owner task
//! per room, the broker seam for several instances). They plug in through
//! [`app::AppState`] and [`http::router`]; user status already derives from the
//! `current_room_id` column rooms will set.

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
pub mod room;
pub mod shutdown;
pub mod store;
pub mod tasks;
pub mod telemetry;
