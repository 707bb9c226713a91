//! Room operations that touch the store and the event channel: ending a room (every
//! end path goes through [`end_room`]) and what participants read.

use crate::app::AppState;
use crate::events::Event;
use crate::http::error::ApiError;
use crate::ids::UserId;
use crate::store::RoomRow;

use super::EndReason;

/// Ends `room_id` for `reason` as one atomic step (end time and reason, both users
/// idle, messages erased), then announces it. Returns false when the room had already
/// ended: racing ends produce one end and one announcement.
pub async fn end_room(state: &AppState, room_id: i64, reason: EndReason) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let ended = state
        .store
        .end_room(room_id, reason.as_str(), now, state.settings.room.keep_messages_after_end)
        .await?;
    let Some(room) = ended else {
        return Ok(false);
    };
    state.metrics.rooms_active.dec();
    state.metrics.rooms_ended.with_label_values(&[reason.as_str()]).inc();
    tracing::info!(room_id, reason = reason.as_str(), "room ended");
    state.events.publish(Event::RoomEnded { room_id, users: room.participants(), reason });
    Ok(true)
}

/// The room if `user` is one of its participants; otherwise 404 whether or not it
/// exists, so room ids leak nothing.
pub async fn room_of_participant(state: &AppState, room_id: i64, user: UserId) -> Result<RoomRow, ApiError> {
    state
        .store
        .room(room_id)
        .await?
        .filter(|room| room.partner_of(user).is_some())
        .ok_or_else(|| ApiError::not_found("room"))
}
