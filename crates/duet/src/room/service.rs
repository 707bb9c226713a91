//! Finding a participant's room. Every change to a room goes through its owner
//! ([`super::Rooms`]).

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::ids::UserId;
use crate::store::RoomRow;

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
