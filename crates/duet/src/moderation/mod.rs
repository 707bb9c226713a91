//! Moderation: bans, and reports with evidence and automatic bans (`reports.rs`).
//! Every action (a ban, an unban, a report resolved, a room ended by an administrator,
//! an account edited) is recorded in the audit list with who took it.
//!
//! A ban is one transaction in the store (ban fields set, token version moved, refresh
//! tokens revoked), so every token of the user stops working the moment it commits;
//! then the user's search is withdrawn, a `Banned` event goes out (the real-time layer
//! closes their sockets with 4002 on it) and their room ends with `banned`.

mod reports;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{SharedClock, Timestamp};
use crate::config::ModerationSettings;
use crate::events::{Event, Events};
use crate::ids::{RoomId, UserId};
use crate::matching::{Matchmaker, SearchError};
use crate::room::{Notice, RoomError, Rooms};
use crate::store::{NewAudit, Store, StoreError, UserRow};
use crate::types::EndReason;

pub use reports::{ReportError, ReportReason, Resolution, MAX_DETAILS_CHARS};

/// Longest ban in days an administrator can set in one step (longer is permanent).
pub const MAX_BAN_DAYS: u32 = 3650;

/// Where a permanent ban is stored: the last millisecond of the year 9999, later than
/// any real ban (at most [`MAX_BAN_DAYS`]), so every check of "a ban in force" holds
/// it with no special case. The API shows it as `ban_permanent`, never as this date.
pub const PERMANENT_BAN_UNTIL: Timestamp = Timestamp::from_millis(253_402_300_799_999);

/// Whether a ban lasting until `until` is permanent.
pub fn is_permanent(until: Timestamp) -> bool {
    until >= PERMANENT_BAN_UNTIL
}

/// How long a ban lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BanLength {
    Days(u32),
    Permanent,
}

impl BanLength {
    fn until(self, now: Timestamp) -> Timestamp {
        match self {
            BanLength::Days(days) => now.plus(Duration::from_secs(u64::from(days) * 86_400)),
            BanLength::Permanent => PERMANENT_BAN_UNTIL,
        }
    }

    fn describe(self) -> String {
        match self {
            BanLength::Days(1) => "1 day".to_owned(),
            BanLength::Days(days) => format!("{days} days"),
            BanLength::Permanent => "permanent".to_owned(),
        }
    }
}

/// What an audit record names besides its action.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject {
    pub user: Option<UserId>,
    pub report_id: Option<i64>,
    pub room: Option<RoomId>,
}

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

    /// Bans `user` for `length`: tokens revoked, search withdrawn, room ended, announced,
    /// recorded as `by`'s action (None: the automatic ban), about `report_id` if given.
    pub async fn ban(
        &self,
        user: UserId,
        length: BanLength,
        reason: &str,
        by: Option<UserId>,
        report_id: Option<i64>,
    ) -> Result<UserRow, BanError> {
        let deps = &self.0;
        let now = deps.clock.now();
        let until = length.until(now);
        let row = deps.store.ban_user(user, until, reason, now).await?.ok_or(BanError::UnknownUser)?;
        tracing::info!(user_id = user.0, until = %until.to_datetime(), "user banned");
        // Tokens are revoked already; the ban also ends the user's search and room.
        deps.matchmaker.cancel(user).await?;
        deps.events.publish(Event::Banned { user, until, room_id: row.current_room_id });
        if let Some(room_id) = row.current_room_id {
            // Through the room's owner, so the ban reaches the room's sockets before its end.
            deps.rooms
                .end_after(room_id, EndReason::Banned, None, Some(Notice::Banned { user, until }))
                .await?;
        }
        // Recorded once the ban has had all its effects, so a failed record cannot
        // leave the search or the room standing.
        let action = if by.is_some() { "ban" } else { "autoban" };
        let details = format!("{}: {reason}", length.describe());
        self.record(
            by,
            action,
            Subject { user: Some(user), report_id, room: row.current_room_id },
            Some(&details),
        )
        .await?;
        deps.store.user(user).await?.ok_or(BanError::UnknownUser)
    }

    /// Lifts `user`'s ban, recorded as `by`'s action.
    pub async fn unban(&self, user: UserId, by: UserId) -> Result<UserRow, BanError> {
        let row = self.0.store.unban_user(user, self.0.clock.now()).await?.ok_or(BanError::UnknownUser)?;
        tracing::info!(user_id = user.0, "user unbanned");
        self.record(Some(by), "unban", Subject { user: Some(user), ..Subject::default() }, None).await?;
        Ok(row)
    }

    /// Ends `room` as administrator `by` (reason `admin`); false when it had ended
    /// already (then nothing is recorded).
    pub async fn end_room(&self, room: RoomId, by: UserId) -> Result<bool, RoomError> {
        let ended = self.0.rooms.end(room, EndReason::Admin).await?;
        if ended {
            self.record(Some(by), "room_ended", Subject { room: Some(room), ..Subject::default() }, None)
                .await
                .map_err(|e| RoomError::Store(e.into()))?;
        }
        Ok(ended)
    }

    /// Records a moderation action in the audit list.
    pub async fn record(
        &self,
        by: Option<UserId>,
        action: &str,
        subject: Subject,
        details: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        self.0
            .store
            .record_action(&NewAudit {
                admin: by,
                action,
                user: subject.user,
                report_id: subject.report_id,
                room: subject.room,
                details,
                now: self.0.clock.now(),
            })
            .await
    }
}
