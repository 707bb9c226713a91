//! Duet: an anonymous, matched one-to-one chat server.
//!
//! Module map, lowest layer first (a module imports only from layers below it; the
//! `layers` integration test checks it). Modules named without a link are internal:
//! the library's public surface is what the binary, the tests and the load generator
//! use.
//! - `types`, [`ids`], [`clock`], [`config`], [`shutdown`], `metrics`,
//!   `validation`, `cpu`: shared value types, identifiers, time, settings, stopping,
//!   numbers, field errors, bounded CPU-heavy work; then [`events`] (the internal channel of room and matching
//!   events), `tasks` (bookkeeping of the background loops), [`telemetry`] (logs).
//! - [`store`]: the database (SQLite or PostgreSQL), migrations and all SQL.
//! - [`auth`]: passwords, access tokens, the signing secret, sign-up rules.
//! - `profile`: vocabulary, profile validation and views, avatar processing.
//! - [`room`]: the room state machine (like rounds, keep, timers, ends) and the
//!   deadline queue, both pure; the owner task per room, which pushes its room's
//!   traffic through an outbox, and the batched message writer.
//! - [`matching`]: the pure matcher core (indexed tickets, bounded window), ticket
//!   bitsets and icebreakers, and the `Matchmaker` service.
//! - [`accounts`]: the account and profile use cases ([`accounts::Accounts`],
//!   [`accounts::Profiles`]).
//! - `moderation`: bans, reports with evidence, automatic bans.
//! - [`realtime`]: the socket tasks, the broker seam, the rooms' fan-out and the
//!   bridge from matching and account events to status sockets.
//! - [`http`]: `AppState`, routers, extractors, middleware, the one error type, API
//!   docs, the socket upgrades and the embedded web client.
//! - [`app`]: startup ([`app::App::build`]), shutdown order.
//!
//! Still to come: a broker for several instances, behind `realtime::Broker`.

pub mod accounts;
pub mod activity;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub(crate) mod cpu;
pub mod events;
pub mod http;
pub mod ids;
pub mod matching;
pub(crate) mod metrics;
pub(crate) mod moderation;
pub(crate) mod profile;
pub mod realtime;
pub mod room;
pub mod shutdown;
pub mod store;
pub(crate) mod tasks;
pub mod telemetry;
pub(crate) mod types;
pub(crate) mod validation;

/// The pure input paths that `fuzz/` (cargo-fuzz) drives, re-exported from modules that
/// are otherwise internal: profile validation and avatar decoding. Not an API for
/// anything else; the frame parser, tokens and the sign-up body are public already.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::profile::avatar::{process as process_avatar, AvatarError, MAX_SIDE as AVATAR_MAX_SIDE};
    pub use crate::profile::validate::{
        age_on, profile_update, ProfileUpdate, MAX_INTERESTS, NICKNAME_MAX_CHARS,
    };
    pub use crate::profile::vocabulary::{ANY, GENDERS, INTERESTS, NEEDS};
    pub use crate::store::ProfileFields;
    pub use crate::validation::{FieldError, FieldErrors};
}
