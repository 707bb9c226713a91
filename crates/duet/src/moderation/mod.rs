//! Moderation: bans, and reports with evidence and automatic bans ([`reports`]).
//!
//! A ban is one transaction in the store (ban fields set, token version moved, refresh
//! tokens revoked), so every token of the user stops working the moment it commits;
//! then the user's search is withdrawn, a `Banned` event goes out (the real-time layer
//! closes their sockets with 4002 on it) and their room ends with `banned`.

mod reports;

use std::time::Duration;

use crate::app::AppState;
use crate::events::Event;
use crate::http::error::ApiError;
use crate::ids::UserId;
use crate::room::{EndReason, Notice};
use crate::store::UserRow;

pub use reports::{report, ReportReason, MAX_DETAILS_CHARS};

/// Longest ban an administrator can set in one step.
pub const MAX_BAN_DAYS: u32 = 3650;

pub async fn ban_user(state: &AppState, user: UserId, days: u32, reason: &str) -> Result<UserRow, ApiError> {
    ban_for(state, user, Duration::from_secs(u64::from(days) * 86_400), reason).await
}

/// Bans `user` for `length`: tokens revoked, search withdrawn, room ended, announced.
pub async fn ban_for(
    state: &AppState,
    user: UserId,
    length: Duration,
    reason: &str,
) -> Result<UserRow, ApiError> {
    let now = state.clock.now();
    let until = now.plus(length);
    let row =
        state.store.ban_user(user, until, reason, now).await?.ok_or_else(|| ApiError::not_found("user"))?;
    tracing::info!(user_id = user.0, until = %until.to_datetime(), "user banned");
    // Tokens are revoked already; the ban also ends the user's search and room.
    state.matchmaker.cancel(user).await?;
    state.events.publish(Event::Banned { user, until, room_id: row.current_room_id });
    if let Some(room_id) = row.current_room_id {
        // Through the room's owner, so the ban reaches the room's sockets before its end.
        state.rooms.end_after(room_id, EndReason::Banned, Some(Notice::Banned { user, until })).await?;
    }
    let row = state.store.user(user).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(row)
}

pub async fn unban_user(state: &AppState, user: UserId) -> Result<UserRow, ApiError> {
    let row =
        state.store.unban_user(user, state.clock.now()).await?.ok_or_else(|| ApiError::not_found("user"))?;
    tracing::info!(user_id = user.0, "user unbanned");
    Ok(row)
}
