//! Moderation: bans, and reports with evidence and automatic bans (`reports.rs`).
//!
//! A ban is one transaction in the store (ban fields set, token version moved, refresh
//! tokens revoked), so every token of the user stops working the moment it commits;
//! then the user's search is withdrawn, a `Banned` event goes out (the real-time layer
//! closes their sockets with 4002 on it) and their room ends with `banned`.

mod reports;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::ModerationSettings;
use crate::events::{Event, Events};
use crate::ids::UserId;
use crate::matching::{Matchmaker, SearchError};
use crate::room::{Notice, RoomError, Rooms};
use crate::store::{Store, StoreError, UserRow};
use crate::types::EndReason;

pub use reports::{ReportError, ReportReason, Resolution, MAX_DETAILS_CHARS};

/// Longest ban an administrator can set in one step.
pub const MAX_BAN_DAYS: u32 = 3650;

/// Why a ban or an unban did not go through.
#[derive(Debug, thiserror::Error)]
pub enum BanError {
    #[error("user not found")]
    UnknownUser,
    /// The ban is stored; withdrawing the search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The ban is stored; ending the room failed.
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store::db_error_into!(BanError);

/// What moderation needs, handed in at start-up.
pub struct ModerationDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub settings: ModerationSettings,
    /// How long after its end a room may still be reported (`--report-window`).
    pub report_window: Duration,
    /// A ban withdraws the search and ends the room.
    pub matchmaker: Matchmaker,
    pub rooms: Rooms,
    /// `Banned` goes out here; the sockets close on it.
    pub events: Events,
}

/// Bans, unbans and reports; a cheap handle.
#[derive(Clone)]
pub struct Moderation(Arc<ModerationDeps>);

impl Moderation {
    pub fn new(deps: ModerationDeps) -> Moderation {
        Moderation(Arc::new(deps))
    }

    pub async fn ban(&self, user: UserId, days: u32, reason: &str) -> Result<UserRow, BanError> {
        self.ban_for(user, Duration::from_secs(u64::from(days) * 86_400), reason).await
    }

    /// Bans `user` for `length`: tokens revoked, search withdrawn, room ended, announced.
    pub async fn ban_for(&self, user: UserId, length: Duration, reason: &str) -> Result<UserRow, BanError> {
        let deps = &self.0;
        let now = deps.clock.now();
        let until = now.plus(length);
        let row = deps.store.ban_user(user, until, reason, now).await?.ok_or(BanError::UnknownUser)?;
        tracing::info!(user_id = user.0, until = %until.to_datetime(), "user banned");
        // Tokens are revoked already; the ban also ends the user's search and room.
        deps.matchmaker.cancel(user).await?;
        deps.events.publish(Event::Banned { user, until, room_id: row.current_room_id });
        if let Some(room_id) = row.current_room_id {
            // Through the room's owner, so the ban reaches the room's sockets before its end.
            deps.rooms.end_after(room_id, EndReason::Banned, Some(Notice::Banned { user, until })).await?;
        }
        deps.store.user(user).await?.ok_or(BanError::UnknownUser)
    }

    pub async fn unban(&self, user: UserId) -> Result<UserRow, BanError> {
        let row = self.0.store.unban_user(user, self.0.clock.now()).await?.ok_or(BanError::UnknownUser)?;
        tracing::info!(user_id = user.0, "user unbanned");
        Ok(row)
    }
}
